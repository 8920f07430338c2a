/**
 * Okta's SCIM 2.0 provisioning requests (its "SCIM 2.0 protocol reference" for app integrations), replayed
 * over HTTP: the user lifecycle (lookup, create with a password, full PUT updates, deactivation by a
 * no-path replace, reactivation, paged import) and group push (create, rename with the id in the value,
 * member add and remove, delete).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../../src/directory/password.js';
import {
  GROUP_SCHEMA,
  PATCH_OP,
  startTestServer,
  type TestServer,
  USER_SCHEMA,
} from '../../helpers/scim-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

const OKTA_USER = {
  schemas: [USER_SCHEMA],
  userName: 'test.user@okta.local',
  name: { givenName: 'Test', familyName: 'User' },
  emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
  displayName: 'Test User',
  locale: 'en-US',
  externalId: '00ujl29u0le5T6Aj10h7',
  groups: [],
  password: '1mz050nq',
  active: true,
};

describe('Okta user lifecycle', () => {
  let id: string;

  it('looks the user up first: 200 with an empty ListResponse', async () => {
    const r = await t.request(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "test.user@okta.local"')}&startIndex=1&count=100`,
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  it('creates the user with a password it never returns', async () => {
    const r = await t.request('POST', '/Users', OKTA_USER);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      userName: OKTA_USER.userName,
      name: OKTA_USER.name,
      emails: OKTA_USER.emails,
      displayName: 'Test User',
      locale: 'en-US',
      externalId: OKTA_USER.externalId,
      active: true,
    });
    expect(r.body.password).toBeUndefined();
    expect(r.text).not.toContain('1mz050nq');
    id = r.body.id;
  });

  it('reads the user back by id', async () => {
    const r = await t.request('GET', `/Users/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(id);
    expect(r.body.password).toBeUndefined();
  });

  it('updates the profile with PUT, keeping the stored password', async () => {
    const { password: _p, ...rest } = OKTA_USER;
    const r = await t.request('PUT', `/Users/${id}`, {
      ...rest,
      id,
      name: { givenName: 'Another', familyName: 'User' },
      meta: { resourceType: 'User' },
    });
    expect(r.status).toBe(200);
    expect(r.body.name).toEqual({ givenName: 'Another', familyName: 'User' });
    // kept, as the scrypt hash the create stored (the directory is the user's home: never the clear value)
    expect(await verifyPassword('1mz050nq', String(t.directory().get(id)!.attributes.password?.[0]))).toBe(true);
  });

  it('changes the password with a no-path replace', async () => {
    const r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { password: 'n3w-Passw0rd' } }],
    });
    expect(r.status).toBe(200);
    expect(r.text).not.toContain('n3w-Passw0rd');
    const stored = String(t.directory().get(id)!.attributes.password?.[0]);
    expect(stored).not.toContain('n3w-Passw0rd');
    expect(await verifyPassword('n3w-Passw0rd', stored)).toBe(true);
  });

  it('deactivates with {"active": false} and no path, and reactivates', async () => {
    let r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    r = await t.request(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "test.user@okta.local"')}&startIndex=1&count=100`,
    );
    expect(r.body.Resources[0].active).toBe(false);
    r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    expect(r.body.active).toBe(true);
  });

  it('imports users page by page with startIndex and count', async () => {
    for (let i = 0; i < 5; i++)
      await t.request('POST', '/Users', {
        ...OKTA_USER,
        userName: `import${i}@okta.local`,
        externalId: `ext${i}`,
      });
    const seen = new Set<string>();
    for (let start = 1; ; start += 2) {
      const r = await t.request('GET', `/Users?startIndex=${start}&count=2`);
      expect(r.body.totalResults).toBe(6);
      for (const u of r.body.Resources) seen.add(u.id);
      if (start + 2 > r.body.totalResults) break;
    }
    expect(seen.size).toBe(6);
  });
});

describe('Okta group push', () => {
  let groupId: string;
  let members: string[];

  beforeAll(async () => {
    members = [];
    for (const n of [1, 2])
      members.push(
        (
          await t.request('POST', '/Users', {
            ...OKTA_USER,
            userName: `gp${n}@okta.local`,
            externalId: `gp${n}`,
          })
        ).body.id,
      );
  });

  it('creates the group with an empty member list', async () => {
    const r = await t.request('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'Test SCIMv2',
      members: [],
    });
    expect(r.status).toBe(201);
    expect(r.body.displayName).toBe('Test SCIMv2');
    groupId = r.body.id;
  });

  it('finds it by displayName', async () => {
    const r = await t.request(
      'GET',
      `/Groups?filter=${encodeURIComponent('displayName eq "Test SCIMv2"')}&startIndex=1&count=100`,
    );
    expect(r.body.totalResults).toBe(1);
    expect(r.body.Resources[0].id).toBe(groupId);
  });

  it('renames it with a replace whose value repeats the id', async () => {
    const r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { id: groupId, displayName: 'Test SCIMv2 renamed' } }],
    });
    expect(r.status).toBeLessThan(300);
    expect((await t.request('GET', `/Groups/${groupId}`)).body.displayName).toBe('Test SCIMv2 renamed');
  });

  it('adds members with their display names, and removes one by a filtered path', async () => {
    let r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [
        {
          op: 'add',
          path: 'members',
          value: members.map((value, i) => ({ value, display: `gp${i + 1}@okta.local` })),
        },
      ],
    });
    expect(r.status).toBeLessThan(300);
    expect(t.directory().memberIds(groupId).sort()).toEqual([...members].sort());
    r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'remove', path: `members[value eq "${members[0]}"]` }],
    });
    expect(r.status).toBeLessThan(300);
    expect(t.directory().memberIds(groupId)).toEqual([members[1]]);
  });

  it('replaces the whole group with PUT, members included', async () => {
    const r = await t.request('PUT', `/Groups/${groupId}`, {
      schemas: [GROUP_SCHEMA],
      id: groupId,
      displayName: 'Test SCIMv2 put',
      members: [{ value: members[0], display: 'gp1@okta.local' }],
    });
    expect(r.status).toBe(200);
    expect(r.body.members).toEqual([expect.objectContaining({ value: members[0], type: 'User' })]);
    expect(r.body.displayName).toBe('Test SCIMv2 put');
  });

  it('deletes the group', async () => {
    expect((await t.request('DELETE', `/Groups/${groupId}`)).status).toBe(204);
    expect((await t.request('GET', `/Groups/${groupId}`)).status).toBe(404);
  });
});
