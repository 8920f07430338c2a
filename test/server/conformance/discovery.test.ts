/**
 * Conformance, black box: the discovery endpoints of a server started as an administrator starts it.
 * RFC 7644 §4 (ServiceProviderConfig, Schemas, ResourceTypes), RFC 7643 §5 (ServiceProviderConfig
 * attributes), §6 (ResourceType), §7 (Schema definitions and attribute characteristics), and Entra's schema
 * discovery rules (a ListResponse, camel-cased values, no nulls).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliServer,
  ENTERPRISE,
  GROUP,
  LIST,
  startCliServer,
  USER,
} from '../../helpers/scim-cli-server.js';

let s: CliServer;
beforeAll(async () => {
  s = await startCliServer();
}, 60_000);
afterAll(async () => {
  await s?.close();
});

/** every place in a JSON value where it holds null */
function nullPaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => nullPaths(v, `${path}[${i}]`));
  if (typeof value === 'object')
    return Object.entries(value as object).flatMap(([k, v]) => nullPaths(v, `${path}.${k}`));
  return [];
}

interface Attribute {
  name: string;
  type: string;
  multiValued: boolean;
  description?: string;
  required: boolean;
  caseExact?: boolean;
  mutability: string;
  returned: string;
  uniqueness?: string;
  referenceTypes?: string[];
  subAttributes?: Attribute[];
}

describe('RFC 7644 §4 / RFC 7643 §5: /ServiceProviderConfig', () => {
  it('answers 200 application/scim+json with every REQUIRED attribute', async () => {
    const r = await s.request('GET', '/ServiceProviderConfig');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    const c = r.body;
    expect(c.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    expect(typeof c.documentationUri).toBe('string');
    for (const feature of ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag'])
      expect(typeof c[feature]?.supported, feature).toBe('boolean');
    expect(Number.isInteger(c.bulk.maxOperations)).toBe(true);
    expect(Number.isInteger(c.bulk.maxPayloadSize)).toBe(true);
    expect(Number.isInteger(c.filter.maxResults)).toBe(true);
    expect(Array.isArray(c.authenticationSchemes)).toBe(true);
    expect(c.authenticationSchemes.length).toBeGreaterThan(0);
    for (const scheme of c.authenticationSchemes) {
      expect(typeof scheme.type).toBe('string');
      expect(typeof scheme.name).toBe('string');
      expect(typeof scheme.description).toBe('string');
    }
    expect(c.meta.resourceType).toBe('ServiceProviderConfig');
    expect(c.meta.location).toBe(`${s.base}/ServiceProviderConfig`);
  });

  it('tells the truth: the advertised filter.maxResults caps a larger count', async () => {
    const config = (await s.request('GET', '/ServiceProviderConfig')).body;
    const r = await s.request('GET', `/Users?count=${config.filter.maxResults + 500}`);
    expect(r.status).toBe(200);
    expect(r.body.itemsPerPage).toBeLessThanOrEqual(config.filter.maxResults);
  });
});

describe('RFC 7644 §4 / RFC 7643 §7: /Schemas', () => {
  it('is a ListResponse holding User, EnterpriseUser and Group (Entra: "must return a list response")', async () => {
    const r = await s.request('GET', '/Schemas');
    expect(r.status).toBe(200);
    expect(r.body.schemas).toEqual([LIST]);
    expect(r.body.totalResults).toBe(r.body.Resources.length);
    const ids = r.body.Resources.map((x: { id: string }) => x.id);
    expect(ids).toEqual(expect.arrayContaining([USER, ENTERPRISE, GROUP]));
  });

  it('has no null values anywhere (Entra schema discovery)', async () => {
    const r = await s.request('GET', '/Schemas');
    expect(nullPaths(r.body)).toEqual([]);
  });

  it.each([USER, ENTERPRISE, GROUP])(
    '/Schemas/%s: one schema with id, name, attributes and meta',
    async (urn) => {
      const r = await s.request('GET', `/Schemas/${urn}`);
      expect(r.status).toBe(200);
      expect(r.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:Schema']);
      expect(r.body.id).toBe(urn);
      expect(typeof r.body.name).toBe('string');
      expect(Array.isArray(r.body.attributes)).toBe(true);
      expect(r.body.meta).toEqual({ resourceType: 'Schema', location: `${s.base}/Schemas/${urn}` });
    },
  );

  it('an unknown schema URN is 404 with an error body', async () => {
    const r = await s.request('GET', '/Schemas/urn:example:nothing');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
  });

  it('every attribute has every characteristic of RFC 7643 §7, camel-cased', async () => {
    const r = await s.request('GET', '/Schemas');
    const check = (a: Attribute, where: string) => {
      expect(typeof a.name, where).toBe('string');
      expect(
        ['string', 'boolean', 'decimal', 'integer', 'dateTime', 'reference', 'binary', 'complex'],
        where,
      ).toContain(a.type);
      expect(typeof a.multiValued, where).toBe('boolean');
      expect(typeof a.required, where).toBe('boolean');
      expect(['readOnly', 'readWrite', 'immutable', 'writeOnly'], where).toContain(a.mutability);
      expect(['always', 'never', 'default', 'request'], where).toContain(a.returned);
      if (a.type === 'string' || a.type === 'reference') expect(typeof a.caseExact, where).toBe('boolean');
      if (a.type !== 'complex') expect(['none', 'server', 'global'], where).toContain(a.uniqueness);
      if (a.type === 'reference') expect(Array.isArray(a.referenceTypes), where).toBe(true);
      if (a.type === 'complex') {
        expect(Array.isArray(a.subAttributes), where).toBe(true);
        for (const sub of a.subAttributes!) check(sub, `${where}.${sub.name}`);
      }
    };
    for (const schema of r.body.Resources)
      for (const a of schema.attributes as Attribute[]) check(a, `${schema.id}:${a.name}`);
  });

  const byName = async (urn: string) => {
    const r = await s.request('GET', `/Schemas/${urn}`);
    return new Map((r.body.attributes as Attribute[]).map((a) => [a.name, a]));
  };

  it.each([
    // RFC 7643 §4.1 and §8.7.1: the characteristics clients rely on
    [
      'userName',
      { type: 'string', required: true, caseExact: false, uniqueness: 'server', mutability: 'readWrite' },
    ],
    ['password', { type: 'string', returned: 'never', mutability: 'writeOnly' }],
    ['active', { type: 'boolean', multiValued: false }],
    ['emails', { type: 'complex', multiValued: true }],
    ['groups', { type: 'complex', multiValued: true, mutability: 'readOnly' }],
    ['name', { type: 'complex', multiValued: false }],
  ])('User %s has the characteristics of RFC 7643 §8.7.1', async (name, expected) => {
    expect((await byName(USER)).get(name)).toMatchObject(expected);
  });

  it('the User schema does not list id, externalId or meta among its attributes, or lists them correctly', async () => {
    // RFC 7643 §3.1: the common attributes are not part of a schema's "attributes"; a server that lists
    // them anyway must at least give id the readOnly/always characteristics
    const id = (await byName(USER)).get('id');
    if (id) expect(id).toMatchObject({ mutability: 'readOnly', returned: 'always' });
  });

  it.each([
    ['displayName', { type: 'string', multiValued: false }],
    ['members', { type: 'complex', multiValued: true }],
  ])('Group %s has the characteristics of RFC 7643 §8.7.1', async (name, expected) => {
    expect((await byName(GROUP)).get(name)).toMatchObject(expected);
  });

  it('Enterprise manager is complex with value, $ref, displayName (readOnly)', async () => {
    const manager = (await byName(ENTERPRISE)).get('manager')!;
    expect(manager.type).toBe('complex');
    const subs = new Map(manager.subAttributes!.map((a) => [a.name, a]));
    expect(subs.get('value')).toBeDefined();
    expect(subs.get('$ref')).toMatchObject({ type: 'reference' });
    expect(subs.get('displayName')).toMatchObject({ mutability: 'readOnly' });
  });
});

describe('RFC 7644 §4 / RFC 7643 §6: /ResourceTypes', () => {
  it('is a ListResponse with User and Group, each with its endpoint, schema and extensions', async () => {
    const r = await s.request('GET', '/ResourceTypes');
    expect(r.status).toBe(200);
    expect(r.body.schemas).toEqual([LIST]);
    const byId = new Map(r.body.Resources.map((t: { id: string }) => [t.id, t]));
    expect(byId.get('User')).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      name: 'User',
      endpoint: '/Users',
      schema: USER,
      schemaExtensions: [{ schema: ENTERPRISE, required: false }],
      meta: { resourceType: 'ResourceType', location: `${s.base}/ResourceTypes/User` },
    });
    expect(byId.get('Group')).toMatchObject({ name: 'Group', endpoint: '/Groups', schema: GROUP });
  });

  it.each(['User', 'Group'])('/ResourceTypes/%s answers the one resource type', async (id) => {
    const r = await s.request('GET', `/ResourceTypes/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(id);
  });

  it('every resource type it names has a schema /Schemas serves', async () => {
    const types = (await s.request('GET', '/ResourceTypes')).body.Resources;
    for (const t of types) {
      const urns = [t.schema, ...(t.schemaExtensions ?? []).map((e: { schema: string }) => e.schema)];
      for (const urn of urns) expect((await s.request('GET', `/Schemas/${urn}`)).status, urn).toBe(200);
    }
  });
});

describe('RFC 7644 §4: discovery endpoints ignore query parameters but refuse a filter', () => {
  it.each(['/ServiceProviderConfig', '/Schemas', '/ResourceTypes'])('%s?filter=… is 403', async (path) => {
    const r = await s.request('GET', `${path}?filter=${encodeURIComponent('id eq "x"')}`);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '403' });
  });

  it.each(['/Schemas', '/ResourceTypes'])(
    '%s ignores count, startIndex, sortBy and attributes',
    async (path) => {
      const plain = await s.request('GET', path);
      const r = await s.request('GET', `${path}?count=1&startIndex=2&sortBy=name&attributes=id`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual(plain.body);
    },
  );
});

describe('RFC 7644 §3.11: /Me', () => {
  it('is answered 501 Not Implemented (the server has no notion of the caller as a User)', async () => {
    const r = await s.request('GET', '/Me');
    expect(r.status).toBe(501);
    expect(r.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '501' });
  });
});
