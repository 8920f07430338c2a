/**
 * Conformance, black box: a custom schema extension declared in idsync.yaml (RFC 7643 §3.3), as Entra's
 * documentation uses one (`urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag`):
 * discovery shows it, resources carry it under its URN with the URN in `schemas`, and filters, projection,
 * PATCH and PUT address it by its URN — against `idsync serve` started by the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliServer,
  GROUP,
  patchBody,
  q,
  startCliServer,
  USER,
  unique,
} from '../../helpers/scim-cli-server.js';

const CUSTOM = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';
const GROUP_EXT = 'urn:example:params:scim:schemas:extension:acme:2.0:Group';

const CONFIG = `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  scim:
    - path: /scim/v2
      extensions:
        - id: ${CUSTOM}
          resourceType: User
          attributes:
            - { name: tag, type: string }
            - { name: badgeNumber, type: integer, flatName: badge }
            - { name: contractor, type: boolean }
            - { name: skills, type: string, multiValued: true }
        - id: ${GROUP_EXT}
          resourceType: Group
          attributes:
            - { name: costCode, type: string }
`;

let s: CliServer;
beforeAll(async () => {
  s = await startCliServer(CONFIG);
}, 60_000);
afterAll(async () => {
  await s?.close();
});

async function create(more: Record<string, unknown> = {}) {
  const r = await s.request('POST', '/Users', {
    schemas: [USER, CUSTOM],
    userName: unique('u'),
    [CUSTOM]: { tag: '701984', badgeNumber: 42, contractor: false, skills: ['sql', 'ldap'] },
    ...more,
  });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

describe('discovery of a configured extension', () => {
  it('/Schemas/{urn} describes it with its attributes and characteristics', async () => {
    const r = await s.request('GET', `/Schemas/${CUSTOM}`);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(CUSTOM);
    const attrs = new Map(r.body.attributes.map((a: { name: string }) => [a.name, a]));
    expect(attrs.get('tag')).toMatchObject({
      type: 'string',
      multiValued: false,
      mutability: 'readWrite',
      returned: 'default',
    });
    expect(attrs.get('badgeNumber')).toMatchObject({ type: 'integer' });
    expect(attrs.get('skills')).toMatchObject({ type: 'string', multiValued: true });
    // flatName is idsync's own setting, not an RFC 7643 characteristic
    expect(JSON.stringify(r.body)).not.toContain('flatName');
  });

  it('/ResourceTypes lists it among the extensions of its resource type', async () => {
    const user = (await s.request('GET', '/ResourceTypes/User')).body;
    expect(user.schemaExtensions).toEqual(expect.arrayContaining([{ schema: CUSTOM, required: false }]));
    const group = (await s.request('GET', '/ResourceTypes/Group')).body;
    expect(group.schemaExtensions).toEqual(expect.arrayContaining([{ schema: GROUP_EXT, required: false }]));
  });
});

describe('resources with a configured extension', () => {
  it('POST answers with the extension under its URN, typed, and the URN in schemas', async () => {
    const u = await create();
    expect(u.schemas).toEqual(expect.arrayContaining([USER, CUSTOM]));
    // the values of a multi-valued attribute form a set: their order is not kept
    expect({ ...u[CUSTOM], skills: [...u[CUSTOM].skills].sort() }).toEqual({
      tag: '701984',
      badgeNumber: 42,
      contractor: false,
      skills: ['ldap', 'sql'],
    });
    expect((await s.request('GET', `/Users/${u.id}`)).body[CUSTOM]).toEqual(u[CUSTOM]);
  });

  it('a value of the wrong type is 400 invalidValue', async () => {
    const r = await s.request('POST', '/Users', {
      schemas: [USER, CUSTOM],
      userName: unique('u'),
      [CUSTOM]: { badgeNumber: 'forty-two' },
    });
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe('invalidValue');
  });

  it.each([
    [`${CUSTOM}:tag eq "701984"`, true],
    [`${CUSTOM}:TAG eq "701984"`, true],
    [`${CUSTOM}:badgeNumber gt 40`, true],
    [`${CUSTOM}:badgeNumber lt 40`, false],
    [`${CUSTOM}:contractor eq false`, true],
    [`${CUSTOM}:skills eq "ldap"`, true],
    [`${CUSTOM}:tag pr`, true],
  ])('filter %s: %s', async (filter, expected) => {
    const u = await create();
    const r = await s.request('GET', `/Users?filter=${q(`userName eq "${u.userName}" and ${filter}`)}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.totalResults).toBe(expected ? 1 : 0);
  });

  it('attributes=<urn>:tag returns only that attribute of the extension', async () => {
    const u = await create();
    const r = await s.request('GET', `/Users/${u.id}?attributes=${CUSTOM}:tag`);
    expect(r.body[CUSTOM]).toEqual({ tag: '701984' });
    expect(r.body.userName).toBeUndefined();
  });

  it('excludedAttributes=<urn> drops the whole extension', async () => {
    const u = await create();
    const r = await s.request('GET', `/Users/${u.id}?excludedAttributes=${CUSTOM}`);
    expect(r.body[CUSTOM]).toBeUndefined();
    expect(r.body.userName).toBe(u.userName);
  });

  it('sortBy=<urn>:badgeNumber sorts numerically', async () => {
    const prefix = unique('sort');
    for (const badge of [100, 9, 20])
      await create({ userName: `${prefix}-${badge}`, [CUSTOM]: { badgeNumber: badge } });
    const r = await s.request(
      'GET',
      `/Users?filter=${q(`userName sw "${prefix}"`)}&sortBy=${CUSTOM}:badgeNumber`,
    );
    expect(
      r.body.Resources.map((u: { [k: string]: { badgeNumber: number } }) => u[CUSTOM]!.badgeNumber),
    ).toEqual([9, 20, 100]);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown> | undefined]>([
    ['Entra: Add by URN path', { op: 'Add', path: `${CUSTOM}:tag`, value: '800000' }, { tag: '800000' }],
    [
      'replace an integer given as a string',
      { op: 'replace', path: `${CUSTOM}:badgeNumber`, value: '7' },
      { badgeNumber: 7 },
    ],
    [
      'Entra: "True" for a boolean',
      { op: 'Replace', path: `${CUSTOM}:contractor`, value: 'True' },
      { contractor: true },
    ],
    [
      'add to the multi-valued attribute',
      { op: 'add', path: `${CUSTOM}:skills`, value: ['scim'] },
      { skills: ['sql', 'ldap', 'scim'] },
    ],
    [
      'no-path replace with a URN-qualified key',
      { op: 'replace', value: { [`${CUSTOM}:tag`]: 'x1' } },
      { tag: 'x1' },
    ],
    [
      'no-path replace with the extension object',
      { op: 'replace', value: { [CUSTOM]: { tag: 'x2' } } },
      { tag: 'x2' },
    ],
    ['remove one attribute', { op: 'remove', path: `${CUSTOM}:tag` }, { tag: undefined, badgeNumber: 42 }],
  ])('PATCH %s', async (_what, op, expected) => {
    const u = await create();
    const r = await s.request('PATCH', `/Users/${u.id}`, patchBody(op));
    expect(r.status, r.text).toBe(200);
    const read = (await s.request('GET', `/Users/${u.id}`)).body;
    for (const [k, v] of Object.entries(expected ?? {})) {
      const got = read[CUSTOM]?.[k];
      if (Array.isArray(v)) expect([...got].sort(), k).toEqual([...v].sort());
      else expect(got, k).toEqual(v);
    }
  });

  it('PATCH removing every attribute of the extension removes it and its URN from schemas', async () => {
    const u = await create();
    const r = await s.request('PATCH', `/Users/${u.id}`, patchBody({ op: 'remove', path: CUSTOM }));
    expect(r.status, r.text).toBe(200);
    const read = (await s.request('GET', `/Users/${u.id}`)).body;
    expect(read[CUSTOM]).toBeUndefined();
    expect(read.schemas).not.toContain(CUSTOM);
  });

  it('PUT without the extension clears it', async () => {
    const u = await create();
    const r = await s.request('PUT', `/Users/${u.id}`, { schemas: [USER], userName: u.userName });
    expect(r.status, r.text).toBe(200);
    expect(r.body[CUSTOM]).toBeUndefined();
    expect((await s.request('GET', `/Users/${u.id}`)).body[CUSTOM]).toBeUndefined();
  });

  it('a group extension is stored and filtered on', async () => {
    const name = unique('g');
    const g = await s.request('POST', '/Groups', {
      schemas: [GROUP, GROUP_EXT],
      displayName: name,
      [GROUP_EXT]: { costCode: 'A-1' },
    });
    expect(g.status, g.text).toBe(201);
    expect(g.body.schemas).toContain(GROUP_EXT);
    const r = await s.request('GET', `/Groups?filter=${q(`${GROUP_EXT}:costCode eq "A-1"`)}`);
    expect(r.body.Resources.map((x: { displayName: string }) => x.displayName)).toEqual([name]);
  });
});
