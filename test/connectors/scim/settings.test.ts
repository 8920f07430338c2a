/** The scim connector's settings as idsync.yaml gives them: defaults, and errors with file:line:column. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/core/errors.js';
import type { ScimSettings } from '../../../src/connectors/scim/settings.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(connector: string) {
  dir = mkdtempSync(join(tmpdir(), 'idsync-scim-settings-'));
  writeFileSync(join(dir, 'idsync.yaml'), `connectors:\n  cloud:\n${connector}`);
  return loadConfig(join(dir, 'idsync.yaml'), { env: { SCIM_TOKEN: 'from-the-environment' } });
}

/** The message of the ConfigError a connector block gives. */
function configError(connector: string): string {
  let error: unknown;
  try {
    load(connector);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).message;
}

describe('scim settings', () => {
  it('defaults to Entra behaviour and resolves secrets from the environment', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: idsync's secret reference, not a template
    const config = load('    type: scim\n    url: https://app.example.com/scim/v2\n    auth: { type: bearer, token: "${env:SCIM_TOKEN}" }\n');
    const s = config.connectors.get('cloud')!.settings as ScimSettings;
    expect(s.auth).toEqual({ type: 'bearer', token: 'from-the-environment' });
    expect(s.memberBatchSize).toBe(100);
    expect(s.userType.match).toEqual(['userName', 'externalId', 'emails[type eq "work"].value']);
    expect(s.compat).toMatchObject({ patch: 'auto', memberRemoval: 'filter', booleansAsStrings: false });
  });

  it('reports a bad URL and an unknown setting at their line and column', () => {
    const text = configError('    type: scim\n    url: ftp://app.example.com/scim\n    concurency: 3\n');
    expect(text).toMatch(/idsync\.yaml:4:\d+: .*http/);
    expect(text).toMatch(/idsync\.yaml:5:\d+: .*concurency/);
  });

  it('refuses a match or import attribute the connector cannot send, at its line and naming it', () => {
    const text = configError('    type: scim\n    url: https://app.example.com/scim/v2\n    importPaths: [\'emails[type eq "work" and primary eq true].value\']\n    userType:\n      endpoint: /Users\n      schema: urn:ietf:params:scim:schemas:core:2.0:User\n      match: [userName, \'emails[type eq work].value\']\n');
    expect(text).toMatch(/idsync\.yaml:5:\d+: emails\[type eq "work" and primary eq true\]\.value: .*one equality.*"and"/);
    expect(text).toMatch(/idsync\.yaml:9:\d+: emails\[type eq work\]\.value is not a SCIM attribute path/);
  });
});
