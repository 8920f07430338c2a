import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serviceProviderConfig } from '../../../src/server/scim/discovery.js';

describe('serviceProviderConfig', () => {
  it("carries idsync's version (package.json's) as its meta.version entity tag", () => {
    const version = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;
    const spc = serviceProviderConfig('https://idp.example/scim/v2', { maxResults: 100, bulk: { maxOperations: 10, maxPayloadSize: 1000 }, jwt: false });
    expect(spc.meta).toEqual({ resourceType: 'ServiceProviderConfig', location: 'https://idp.example/scim/v2/ServiceProviderConfig', version: `W/"${version}"` });
  });
});
