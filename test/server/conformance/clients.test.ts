/**
 * Conformance, black box: the request sequences real clients send, replayed against `idsync serve` started
 * by the CLI — Okta's "SCIM 2.0 Spec Test" (the Runscope suite Okta asks integrators to pass), the requests
 * and responses of Microsoft Entra's provisioning documentation (use-scim-to-provision-users-and-groups.md),
 * what Entra's SCIM validator checks after each write, and Bulk (RFC 7644 §3.7).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BULK_REQUEST,
  BULK_RESPONSE,
  type CliServer,
  ENTERPRISE,
  ERROR,
  GROUP,
  LIST,
  patchBody,
  q,
  type Resource,
  startCliServer,
  USER,
} from '../../helpers/scim-cli-server.js';

const MS_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const BULK_MAX = 5;

const CONFIG = `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  scim:
    - { path: /scim/v2, bulk: { maxOperations: ${BULK_MAX} } }
`;

let s: CliServer;
beforeAll(async () => {
  s = await startCliServer(CONFIG);
}, 60_000);
afterAll(async () => {
  await s?.close();
});

const randomEmail = () => `runscope${Math.random().toString(36).slice(2, 10)}@atko.com`;

/** The headers Okta's suite sends on every request. */
const OKTA_HEADERS = {
  'content-type': 'application/scim+json; charset=utf-8',
  accept: 'application/scim+json',
  'accept-charset': 'utf-8',
  'user-agent': 'OKTA SCIM Integration',
};

describe("Okta's SCIM 2.0 Spec Test, in its order", () => {
  const given = 'Runscope';
  const family = `Family${Date.now()}`;
  const userName = randomEmail();
  const body = {
    schemas: [USER],
    userName,
    name: { givenName: given, familyName: family },
    emails: [{ primary: true, value: userName, type: 'work' }],
    displayName: `${given} ${family}`,
    active: true,
  };
  let id: string;

  it('needs a user to exist first: one is created out of band', async () => {
    const r = await s.request(
      'POST',
      '/Users',
      {
        schemas: [USER],
        userName: randomEmail(),
        name: { givenName: 'Seed', familyName: 'User' },
        emails: [{ primary: true, value: 'seed@atko.com', type: 'work' }],
        active: true,
      },
      OKTA_HEADERS,
    );
    expect(r.status).toBe(201);
  });

  it('Required Test: Test Users endpoint (GET /Users?count=1&startIndex=1)', async () => {
    const r = await s.request('GET', '/Users?count=1&startIndex=1', undefined, OKTA_HEADERS);
    expect(r.status).toBe(200);
    expect(r.body.Resources.length).toBeGreaterThan(0);
    expect(r.body.schemas).toContain(LIST);
    for (const k of ['itemsPerPage', 'startIndex', 'totalResults'])
      expect(typeof r.body[k], k).toBe('number');
    const u = r.body.Resources[0];
    expect(u.id).toBeTruthy();
    expect(u.name.familyName).toBeTruthy();
    expect(u.name.givenName).toBeTruthy();
    expect(u.userName).toBeTruthy();
    expect(u.active).toBeTruthy();
    expect(u.emails[0].value).toBeTruthy();
  });

  it('Required Test: Get Users/{{id}}', async () => {
    const list = await s.request('GET', '/Users?count=1&startIndex=1', undefined, OKTA_HEADERS);
    const first = list.body.Resources[0];
    const r = await s.request('GET', `/Users/${first.id}`, undefined, OKTA_HEADERS);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(first.id);
    expect(r.body.name.familyName).toBeTruthy();
    expect(r.body.emails[0].value).toBeTruthy();
  });

  it('Required Test: Test invalid User by username', async () => {
    const r = await s.request(
      'GET',
      `/Users?filter=${q(`userName eq "${randomEmail()}"`)}`,
      undefined,
      OKTA_HEADERS,
    );
    expect(r.status).toBe(200);
    expect(r.body.schemas).toContain(LIST);
    expect(r.body.totalResults).toBe(0);
  });

  it('Required Test: Test invalid User by ID', async () => {
    const r = await s.request('GET', `/Users/${randomUUID()}`, undefined, OKTA_HEADERS);
    expect(r.status).toBe(404);
    expect(r.body.detail).toBeTruthy();
    expect(r.body.schemas).toContain(ERROR);
  });

  it('Required Test: Make sure random user doesn`t exist', async () => {
    const r = await s.request(
      'GET',
      `/Users?filter=${q(`userName eq "${userName}"`)}`,
      undefined,
      OKTA_HEADERS,
    );
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(0);
  });

  it('Required Test: Create Okta user with realistic values', async () => {
    const r = await s.request('POST', '/Users', body, OKTA_HEADERS);
    expect(r.status).toBe(201);
    expect(r.body.active).toBe(true);
    expect(r.body.id).toBeTruthy();
    expect(r.body.name.familyName).toBe(family);
    expect(r.body.name.givenName).toBe(given);
    expect(r.body.schemas).toContain(USER);
    expect(r.body.userName).toBe(userName);
    id = r.body.id;
  });

  it('Required Test: Verify that user was created', async () => {
    const r = await s.request('GET', `/Users/${id}`, undefined, OKTA_HEADERS);
    expect(r.status).toBe(200);
    expect(r.body.userName).toBe(userName);
    expect(r.body.name).toMatchObject({ familyName: family, givenName: given });
  });

  it('Required Test: Expect failure when recreating user with same values', async () => {
    const r = await s.request('POST', '/Users', body, OKTA_HEADERS);
    expect(r.status).toBe(409);
  });

  it('Required Test: Username Case Sensitivity Check (and userName is found in any case)', async () => {
    const r = await s.request(
      'GET',
      `/Users?filter=${q(`userName eq "${userName.toUpperCase()}"`)}`,
      undefined,
      OKTA_HEADERS,
    );
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(1);
    expect(r.body.Resources[0].id).toBe(id);
  });

  it('Optional Test: Verify Groups endpoint', async () => {
    const r = await s.request('GET', '/Groups', undefined, OKTA_HEADERS);
    expect(r.status).toBe(200);
    expect(r.body.schemas).toContain(LIST);
  });

  it('then Okta deactivates with a no-path replace and reads the user back inactive', async () => {
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody({ op: 'replace', value: { active: false } }),
      OKTA_HEADERS,
    );
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    expect((await s.request('GET', `/Users/${id}`)).body.active).toBe(false);
  });

  it('and updates the profile with a PUT of the whole user, id and all', async () => {
    const current = (await s.request('GET', `/Users/${id}`)).body;
    const r = await s.request(
      'PUT',
      `/Users/${id}`,
      { ...current, name: { givenName: given, familyName: 'Changed' }, active: true },
      OKTA_HEADERS,
    );
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ id, userName, active: true, name: { familyName: 'Changed' } });
  });
});

describe("Microsoft Entra's documented request sequence", () => {
  const userName = `Test_User_${randomUUID()}`;
  const externalId = randomUUID();
  let id: string;
  let gid: string;

  it('Create User (with meta.resourceType and an empty roles list in the request): 201', async () => {
    const r = await s.request('POST', '/Users', {
      schemas: [USER, ENTERPRISE],
      externalId,
      userName,
      active: true,
      emails: [{ primary: true, type: 'work', value: `Test_User_${randomUUID()}@testuser.com` }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ externalId, userName, active: true, meta: { resourceType: 'User' } });
    expect(r.body.meta.created).toBeTruthy();
    expect(r.body.meta.lastModified).toBeTruthy();
    id = r.body.id;
  });

  it('Get User', async () => {
    const r = await s.request('GET', `/Users/${id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, externalId, userName });
  });

  it('Get User by query (userName, externalId, work email)', async () => {
    const user = (await s.request('GET', `/Users/${id}`)).body;
    for (const filter of [
      `userName eq "${userName}"`,
      `externalId eq "${externalId}"`,
      `emails[type eq "work"].value eq "${user.emails[0].value}"`,
    ]) {
      const r = await s.request('GET', `/Users?filter=${q(filter)}`);
      expect(r.status, filter).toBe(200);
      expect(r.body.totalResults, filter).toBe(1);
      expect(r.body.Resources[0].id, filter).toBe(id);
    }
  });

  it('Get User by query with + for spaces, as form-encoded URLs have it', async () => {
    const r = await s.request('GET', `/Users?filter=userName+eq+%22${encodeURIComponent(userName)}%22`);
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(1);
  });

  it('Get User by query - zero results', async () => {
    const r = await s.request('GET', `/Users?filter=${q('userName eq "non-existent user"')}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ schemas: [LIST], totalResults: 0 });
  });

  it('Update User [multi-valued properties]', async () => {
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody(
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ),
    );
    expect(r.status, r.text).toBe(200);
    const u = (await s.request('GET', `/Users/${id}`)).body;
    expect(u.emails.find((e: { type: string }) => e.type === 'work').value).toBe(
      'updatedEmail@microsoft.com',
    );
    expect(u.name.familyName).toBe('updatedFamilyName');
  });

  it('Update User [single-valued properties]', async () => {
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody({ op: 'Replace', path: 'userName', value: `${userName}.renamed` }),
    );
    expect(r.status, r.text).toBe(200);
    expect((await s.request('GET', `/Users/${id}`)).body.userName).toBe(`${userName}.renamed`);
  });

  it('Update User [enterprise attributes and manager]', async () => {
    const boss = await s.request('POST', '/Users', {
      schemas: [USER],
      userName: `Boss_${randomUUID()}`,
      active: true,
    });
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody(
        { op: 'Add', path: `${ENTERPRISE}:employeeNumber`, value: '1234' },
        { op: 'Add', path: `${ENTERPRISE}:manager`, value: boss.body.id },
        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '55555555555' },
      ),
    );
    expect(r.status, r.text).toBe(200);
    const u = (await s.request('GET', `/Users/${id}`)).body;
    expect(u[ENTERPRISE]).toMatchObject({ employeeNumber: '1234', manager: { value: boss.body.id } });
    // "values sent should be stored in the same format they were sent"
    expect(u.phoneNumbers).toEqual([expect.objectContaining({ type: 'mobile', value: '55555555555' })]);
  });

  it('Disable User: Replace active "False"; the user is still returned', async () => {
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody({ op: 'Replace', path: 'active', value: 'False' }),
    );
    expect(r.status, r.text).toBe(200);
    const u = await s.request('GET', `/Users/${id}`);
    expect(u.status).toBe(200);
    expect(u.body.active).toBe(false);
  });

  it('Create Group (with the ADSCIM group schema URI and an empty members list): 201', async () => {
    const r = await s.request('POST', '/Groups', {
      schemas: [GROUP, MS_GROUP],
      externalId: randomUUID(),
      displayName: `displayName_${randomUUID()}`,
      members: [],
      meta: { resourceType: 'Group' },
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.meta.resourceType).toBe('Group');
    gid = r.body.id;
  });

  it('Get Group (excludedAttributes=members) and Get Group by displayName', async () => {
    const g = await s.request('GET', `/Groups/${gid}?excludedAttributes=members`);
    expect(g.status).toBe(200);
    expect(g.body.members).toBeUndefined();
    const r = await s.request(
      'GET',
      `/Groups?excludedAttributes=members&filter=${q(`displayName eq "${g.body.displayName}"`)}`,
    );
    expect(r.body.totalResults).toBe(1);
    expect(r.body.Resources[0].id).toBe(gid);
  });

  it('Update Group [non-member attributes]: 204 (or 200)', async () => {
    const r = await s.request(
      'PATCH',
      `/Groups/${gid}`,
      patchBody({
        op: 'Replace',
        path: 'displayName',
        value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName',
      }),
    );
    expect([200, 204]).toContain(r.status);
    expect((await s.request('GET', `/Groups/${gid}`)).body.displayName).toBe(
      '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName',
    );
  });

  it('Update Group [Add Members] then [Remove Members], each verified the way the validator does', async () => {
    const add = await s.request(
      'PATCH',
      `/Groups/${gid}`,
      patchBody({ op: 'Add', path: 'members', value: [{ $ref: null, value: id }] }),
    );
    expect([200, 204]).toContain(add.status);
    const check = (uid: string) =>
      s.request(
        'GET',
        `/Groups?excludedAttributes=members&filter=${q(`id eq "${gid}" and members.value eq "${uid}"`)}`,
      );
    expect((await check(id)).body.totalResults).toBe(1);
    const remove = await s.request(
      'PATCH',
      `/Groups/${gid}`,
      patchBody({ op: 'Remove', path: 'members', value: [{ $ref: null, value: id }] }),
    );
    expect([200, 204]).toContain(remove.status);
    expect((await check(id)).body.totalResults).toBe(0);
  });

  it('Delete Group and Delete User: 204, then 404', async () => {
    expect((await s.request('DELETE', `/Groups/${gid}`)).status).toBe(204);
    expect((await s.request('GET', `/Groups/${gid}`)).status).toBe(404);
    expect((await s.request('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await s.request('GET', `/Users/${id}`)).status).toBe(404);
  });

  it('with the aadOptscim062020 flag on the Tenant URL, every request still works', async () => {
    const name = `Flagged_${randomUUID()}`;
    const c = await s.request('POST', '/Users?aadOptscim062020', {
      schemas: [USER],
      userName: name,
      active: true,
    });
    expect(c.status, c.text).toBe(201);
    const f = await s.request('GET', `/Users?aadOptscim062020&filter=${q(`userName eq "${name}"`)}`);
    expect(f.body.totalResults).toBe(1);
    const p = await s.request(
      'PATCH',
      `/Users/${c.body.id}?aadOptscim062020`,
      patchBody({ op: 'replace', path: 'active', value: false }),
    );
    expect(p.status).toBe(200);
    expect((await s.request('GET', `/Users/${c.body.id}?aadOptscim062020`)).body.active).toBe(false);
    expect((await s.request('DELETE', `/Users/${c.body.id}?aadOptscim062020`)).status).toBe(204);
  });

  it('a filter value with an escaped quote and a backslash finds the user', async () => {
    const name = `o"brien\\${randomUUID()}@example.com`;
    const c = await s.request('POST', '/Users', { schemas: [USER], userName: name, active: true });
    expect(c.status, c.text).toBe(201);
    const escaped = name.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const r = await s.request('GET', `/Users?filter=${q(`userName eq "${escaped}"`)}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.totalResults).toBe(1);
  });
});

describe("Entra's PATCH forms with and without aadOptscim062020 (the SCIM compatibility article)", () => {
  const newUser = async () => {
    const r = await s.request('POST', '/Users', {
      schemas: [USER, ENTERPRISE],
      userName: `compat_${randomUUID()}`,
      active: true,
      emails: [{ type: 'work', value: 'old@test.microsoft.com', primary: true }],
      name: { givenName: 'Old', familyName: 'Name' },
    });
    expect(r.status, r.text).toBe(201);
    return r.body.id as string;
  };

  it.each<[string, Record<string, unknown>[], Record<string, unknown>]>([
    [
      'disable user, without the flag',
      [{ op: 'Replace', path: 'active', value: 'False' }],
      { active: false },
    ],
    ['disable user, with the flag', [{ op: 'replace', path: 'active', value: false }], { active: false }],
    [
      'add a single-value string, without the flag',
      [{ op: 'Add', path: 'nickName', value: 'Babs' }],
      { nickName: 'Babs' },
    ],
    [
      'add a single-value string, with the flag',
      [{ op: 'add', path: 'nickName', value: 'Babs' }],
      { nickName: 'Babs' },
    ],
    [
      'replace several attributes, without the flag',
      [
        { op: 'Replace', path: 'displayName', value: 'Pvlo' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
        { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
        { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
        { op: 'Replace', path: 'externalId', value: 'Eqpj' },
        { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: 'Eqpj' },
      ],
      {
        displayName: 'Pvlo',
        emails: [expect.objectContaining({ type: 'work', value: 'TestBcwqnm@test.microsoft.com' })],
        name: { givenName: 'Gtfd', familyName: 'Pkqf' },
        externalId: 'Eqpj',
        [ENTERPRISE]: { employeeNumber: 'Eqpj' },
      },
    ],
    [
      'replace several attributes, with the flag',
      [
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
        {
          op: 'replace',
          value: {
            displayName: 'Bjfe',
            'name.givenName': 'Kkom',
            'name.familyName': 'Unua',
            [`${ENTERPRISE}:employeeNumber`]: 'Aklq',
          },
        },
      ],
      {
        displayName: 'Bjfe',
        emails: [expect.objectContaining({ type: 'work', value: 'TestMhvaes@test.microsoft.com' })],
        name: { givenName: 'Kkom', familyName: 'Unua' },
        [ENTERPRISE]: { employeeNumber: 'Aklq' },
      },
    ],
  ])('%s', async (_what, ops, expected) => {
    const id = await newUser();
    const r = await s.request('PATCH', `/Users/${id}`, patchBody(...ops));
    expect(r.status, r.text).toBe(200);
    expect((await s.request('GET', `/Users/${id}`)).body).toMatchObject(expected);
  });

  it.each<[string, (uid: string) => Record<string, unknown>]>([
    ['without the flag', (uid) => ({ op: 'Remove', path: 'members', value: [{ value: uid }] })],
    ['with the flag', (uid) => ({ op: 'remove', path: `members[value eq "${uid}"]` })],
  ])('remove a group member, %s', async (_what, op) => {
    const [a, b] = [await newUser(), await newUser()];
    const g = await s.request('POST', '/Groups', {
      schemas: [GROUP],
      displayName: `compat_${randomUUID()}`,
      members: [{ value: a }, { value: b }],
    });
    const r = await s.request('PATCH', `/Groups/${g.body.id}`, patchBody(op(a)));
    expect([200, 204]).toContain(r.status);
    const members = (await s.request('GET', `/Groups/${g.body.id}`)).body.members.map(
      (m: { value: string }) => m.value,
    );
    expect(members).toEqual([b]);
  });
});

describe('RFC 7644 §3.7: Bulk', () => {
  it('runs operations in order, resolves bulkId references, and answers a BulkResponse', async () => {
    const userName = `bulk_${randomUUID()}`;
    const r = await s.request('POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [
        {
          method: 'POST',
          path: '/Users',
          bulkId: 'qwerty',
          data: { schemas: [USER], userName, active: true },
        },
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'ytrewq',
          data: {
            schemas: [GROUP],
            displayName: `bulkgroup_${randomUUID()}`,
            members: [{ type: 'User', value: 'bulkId:qwerty' }],
          },
        },
      ],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.schemas).toEqual([BULK_RESPONSE]);
    const [user, group] = r.body.Operations;
    expect(user).toMatchObject({ method: 'POST', bulkId: 'qwerty', status: '201' });
    expect(group).toMatchObject({ method: 'POST', bulkId: 'ytrewq', status: '201' });
    expect(user.location).toMatch(new RegExp(`^${s.base}/Users/`));
    const uid = user.location.split('/').pop();
    const g = await s.request('GET', group.location.slice(s.base.length));
    expect(g.body.members.map((m: { value: string }) => m.value)).toEqual([uid]);
  });

  it('a failing operation reports its error in place; the others still run', async () => {
    const taken = `bulk_${randomUUID()}`;
    await s.request('POST', '/Users', { schemas: [USER], userName: taken });
    const r = await s.request('POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: { schemas: [USER], userName: taken } },
        {
          method: 'POST',
          path: '/Users',
          bulkId: 'b',
          data: { schemas: [USER], userName: `bulk_${randomUUID()}` },
        },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.Operations[0]).toMatchObject({ bulkId: 'a', status: '409' });
    expect(r.body.Operations[0].response).toMatchObject({
      schemas: [ERROR],
      status: '409',
      scimType: 'uniqueness',
    });
    expect(r.body.Operations[1]).toMatchObject({ bulkId: 'b', status: '201' });
  });

  it('a failed PUT, PATCH or DELETE still reports its location ("REQUIRED ... except in the event of a POST failure")', async () => {
    const c = await s.request('POST', '/Users', { schemas: [USER], userName: `bulk_${randomUUID()}` });
    const missing = randomUUID();
    const r = await s.request('POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [
        {
          method: 'PATCH',
          path: `/Users/${c.body.id}`,
          version: 'W/"999"',
          data: patchBody({ op: 'replace', path: 'title', value: 'x' }),
        },
        { method: 'DELETE', path: `/Users/${missing}` },
        { method: 'PUT', path: `/Users/${c.body.id}`, data: { schemas: [USER] } },
      ],
    });
    expect(r.status, r.text).toBe(200);
    const [patch, del, put] = r.body.Operations;
    expect(patch).toMatchObject({ status: '412', location: `${s.base}/Users/${c.body.id}` });
    expect(del).toMatchObject({ status: '404', location: `${s.base}/Users/${missing}` });
    expect(put).toMatchObject({ status: '400', location: `${s.base}/Users/${c.body.id}` });
    for (const op of r.body.Operations)
      expect(op.response).toMatchObject({ schemas: [ERROR], status: op.status });
  });

  it('failOnErrors=1 stops after the first error', async () => {
    const taken = `bulk_${randomUUID()}`;
    await s.request('POST', '/Users', { schemas: [USER], userName: taken });
    const after = `bulk_${randomUUID()}`;
    const r = await s.request('POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      failOnErrors: 1,
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: { schemas: [USER], userName: taken } },
        { method: 'POST', path: '/Users', bulkId: 'b', data: { schemas: [USER], userName: after } },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.Operations).toHaveLength(1);
    const q2 = await s.request('GET', `/Users?filter=${q(`userName eq "${after}"`)}`);
    expect(q2.body.totalResults).toBe(0);
  });

  it('PUT, PATCH and DELETE in a bulk request answer 200, 200 and 204', async () => {
    const c = await s.request('POST', '/Users', { schemas: [USER], userName: `bulk_${randomUUID()}` });
    const r = await s.request('POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [
        {
          method: 'PUT',
          path: `/Users/${c.body.id}`,
          data: { schemas: [USER], userName: c.body.userName, title: 'x' },
        },
        {
          method: 'PATCH',
          path: `/Users/${c.body.id}`,
          data: patchBody({ op: 'replace', path: 'title', value: 'y' }),
        },
        { method: 'DELETE', path: `/Users/${c.body.id}` },
      ],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['200', '200', '204']);
    expect((await s.request('GET', `/Users/${c.body.id}`)).status).toBe(404);
  });

  it(`more operations than maxOperations (${BULK_MAX}) is 413 with an error body`, async () => {
    const ops = Array.from({ length: BULK_MAX + 1 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `b${i}`,
      data: { schemas: [USER], userName: `bulk_${randomUUID()}` },
    }));
    const r = await s.request('POST', '/Bulk', { schemas: [BULK_REQUEST], Operations: ops });
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ schemas: [ERROR], status: '413' });
  });

  it('ServiceProviderConfig advertises the configured bulk limit', async () => {
    const r = await s.request('GET', '/ServiceProviderConfig');
    expect(r.body.bulk).toMatchObject({ supported: true, maxOperations: BULK_MAX });
  });
});

describe("Entra's default attribute mappings round-trip (what its SCIM validator compares after each write)", () => {
  const full = () => ({
    schemas: [USER, ENTERPRISE],
    externalId: `mailNickname_${randomUUID().slice(0, 8)}`,
    userName: `upn_${randomUUID()}@contoso.test`,
    active: true,
    displayName: 'Adele Vance',
    title: 'Retail Manager',
    preferredLanguage: 'en-US',
    name: { givenName: 'Adele', familyName: 'Vance', formatted: 'Adele Vance' },
    emails: [
      { type: 'work', value: 'adele@contoso.test', primary: true },
      { type: 'other', value: 'smtp:adele.v@contoso.test' },
    ],
    phoneNumbers: [
      { type: 'work', value: '+1 425 555 0109' },
      { type: 'mobile', value: '55555555555' },
      { type: 'fax', value: '+1 425 555 0110' },
    ],
    addresses: [
      {
        type: 'work',
        streetAddress: '205 108th Ave NE',
        locality: 'Bellevue',
        region: 'WA',
        postalCode: '98004',
        country: 'US',
        formatted: '205 108th Ave NE, Bellevue',
        primary: true,
      },
      { type: 'other', formatted: '18/2111' },
    ],
    [ENTERPRISE]: {
      employeeNumber: '701984',
      department: 'Retail',
      costCenter: 'CC-1',
      organization: 'Contoso',
      division: 'West',
    },
  });

  it('POST then GET gives back every value as it was sent', async () => {
    const body = full();
    const c = await s.request('POST', '/Users', body);
    expect(c.status, c.text).toBe(201);
    const { schemas: _s, ...sent } = body;
    const read = (await s.request('GET', `/Users/${c.body.id}`)).body;
    expect(read).toMatchObject(sent);
    for (const key of ['emails', 'phoneNumbers', 'addresses'] as const)
      expect(read[key], key).toEqual(
        expect.arrayContaining(sent[key].map((e) => expect.objectContaining(e))),
      );
    expect(read.emails).toHaveLength(2);
    expect(read.phoneNumbers).toHaveLength(3);
    expect(read.addresses).toHaveLength(2);
  });

  it('PATCH of every mapped attribute by its Entra path, then GET shows each new value and nothing lost', async () => {
    const c = await s.request('POST', '/Users', full());
    const id = c.body.id;
    const changes: [string, unknown][] = [
      ['displayName', 'Adele V.'],
      ['title', 'Director'],
      ['name.givenName', 'Adela'],
      ['name.familyName', 'Vanse'],
      ['emails[type eq "work"].value', 'adela@contoso.test'],
      ['emails[type eq "other"].value', 'smtp:av@contoso.test'],
      ['phoneNumbers[type eq "work"].value', '+1 425 555 0200'],
      ['phoneNumbers[type eq "mobile"].value', '+1 425 555 0201'],
      ['phoneNumbers[type eq "fax"].value', '+1 425 555 0202'],
      ['addresses[type eq "work"].streetAddress', '1 Microsoft Way'],
      ['addresses[type eq "work"].locality', 'Redmond'],
      ['addresses[type eq "work"].postalCode', '98052'],
      ['addresses[type eq "other"].formatted', '19/3000'],
      [`${ENTERPRISE}:department`, 'Sales'],
      [`${ENTERPRISE}:employeeNumber`, '800000'],
      [`${ENTERPRISE}:costCenter`, 'CC-2'],
      ['externalId', 'newNickname'],
    ];
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody(...changes.map(([path, value]) => ({ op: 'Replace', path, value }))),
    );
    expect(r.status, r.text).toBe(200);
    const u = (await s.request('GET', `/Users/${id}`)).body;
    const typed = (list: { type: string }[], type: string) => list.find((e) => e.type === type) as Resource;
    expect(u).toMatchObject({
      displayName: 'Adele V.',
      title: 'Director',
      externalId: 'newNickname',
      name: { givenName: 'Adela', familyName: 'Vanse', formatted: 'Adele Vance' },
      [ENTERPRISE]: {
        department: 'Sales',
        employeeNumber: '800000',
        costCenter: 'CC-2',
        organization: 'Contoso',
      },
    });
    expect(typed(u.emails, 'work')).toMatchObject({ value: 'adela@contoso.test', primary: true });
    expect(typed(u.emails, 'other').value).toBe('smtp:av@contoso.test');
    expect(typed(u.phoneNumbers, 'work').value).toBe('+1 425 555 0200');
    expect(typed(u.phoneNumbers, 'mobile').value).toBe('+1 425 555 0201');
    expect(typed(u.phoneNumbers, 'fax').value).toBe('+1 425 555 0202');
    expect(typed(u.addresses, 'work')).toMatchObject({
      streetAddress: '1 Microsoft Way',
      locality: 'Redmond',
      postalCode: '98052',
      region: 'WA',
      country: 'US',
    });
    expect(typed(u.addresses, 'other').formatted).toBe('19/3000');
    expect(u.emails).toHaveLength(2);
    expect(u.phoneNumbers).toHaveLength(3);
    expect(u.addresses).toHaveLength(2);
  });

  it('Remove of mapped values by their Entra paths clears exactly those', async () => {
    const c = await s.request('POST', '/Users', full());
    const id = c.body.id;
    const r = await s.request(
      'PATCH',
      `/Users/${id}`,
      patchBody(
        { op: 'Remove', path: 'phoneNumbers[type eq "mobile"].value' },
        { op: 'Remove', path: 'title' },
        { op: 'Remove', path: `${ENTERPRISE}:department` },
        { op: 'Remove', path: 'addresses[type eq "work"].postalCode' },
      ),
    );
    expect(r.status, r.text).toBe(200);
    const u = (await s.request('GET', `/Users/${id}`)).body;
    expect(u.title).toBeUndefined();
    expect(u[ENTERPRISE].department).toBeUndefined();
    expect(u[ENTERPRISE].employeeNumber).toBe('701984');
    expect(u.phoneNumbers.map((p: { type: string }) => p.type).sort()).toEqual(['fax', 'work']);
    const work = u.addresses.find((a: { type: string }) => a.type === 'work');
    expect(work.postalCode).toBeUndefined();
    expect(work.locality).toBe('Bellevue');
  });
});
