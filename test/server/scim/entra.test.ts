/**
 * Microsoft Entra's provisioning requests, replayed from its documentation (MicrosoftDocs/entra-docs,
 * use-scim-to-provision-users-and-groups.md "SCIM protocol requests and responses", and
 * application-provisioning-config-problem-scim-compatibility.md for the older and the flagged PATCH forms),
 * against a real server over HTTP. Each step checks what Entra relies on in the response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENTERPRISE,
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

const CREATE_USER = {
  schemas: [USER_SCHEMA, ENTERPRISE],
  externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
  userName: 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee',
  active: true,
  emails: [
    { primary: true, type: 'work', value: 'Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com' },
  ],
  meta: { resourceType: 'User' },
  name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
  roles: [],
};

describe('Entra user operations', () => {
  let id: string;

  it('creates a user: 201 with id, meta and what was sent', async () => {
    const r = await t.request('POST', '/Users', CREATE_USER);
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(r.body.id).toEqual(expect.any(String));
    expect(r.body.userName).toBe(CREATE_USER.userName);
    expect(r.body.externalId).toBe(CREATE_USER.externalId);
    expect(r.body.active).toBe(true);
    expect(r.body.name).toEqual(CREATE_USER.name);
    expect(r.body.emails).toEqual(CREATE_USER.emails);
    expect(r.body.meta).toMatchObject({
      resourceType: 'User',
      created: expect.any(String),
      lastModified: expect.any(String),
    });
    expect(r.headers.get('location')).toBe(r.body.meta.location);
    expect(r.headers.get('etag')).toBe(r.body.meta.version);
    id = r.body.id;
  });

  it('gets the user by id', async () => {
    const r = await t.request('GET', `/Users/${id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id,
      userName: CREATE_USER.userName,
      active: true,
      emails: CREATE_USER.emails,
    });
  });

  it('answers 404 with a SCIM error for an unknown id', async () => {
    const r = await t.request('GET', '/Users/5171a35d82074e068ce2');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
  });

  it('finds the user by a userName query', async () => {
    const r = await t.request(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${CREATE_USER.userName}"`)}`,
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 1,
      startIndex: 1,
    });
    expect(r.body.Resources[0].id).toBe(id);
  });

  it('answers a query with no match, or on a random id, with 200 and an empty list', async () => {
    for (const filter of [
      'userName eq "non-existent user"',
      'id eq "a-random-id-entra-uses-to-test-the-connection"',
      'externalId eq "nobody"',
    ]) {
      const r = await t.request('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(r.status, filter).toBe(200);
      expect(r.body).toMatchObject({ totalResults: 0, Resources: [], startIndex: 1 });
    }
  });

  it('updates multi-valued and single-valued properties with capitalised ops', async () => {
    let r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.emails).toEqual([{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }]);
    expect(r.body.name.familyName).toBe('updatedFamilyName');
    r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.userName).toBe('5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');
    // the directory's flat attributes follow: rules see the new work email and family name
    const stored = t.directory().get(id)!;
    expect(stored.attributes.email).toEqual(['updatedEmail@microsoft.com']);
    expect(stored.attributes.familyName).toEqual(['updatedFamilyName']);
  });

  it('replaces several attributes with a value object and no path (the SCIM-compliant flag)', async () => {
    const r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
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
    });
    expect(r.status).toBe(200);
    expect(r.body.displayName).toBe('Bjfe');
    expect(r.body.name).toMatchObject({ givenName: 'Kkom', familyName: 'Unua' });
    expect(r.body[ENTERPRISE].employeeNumber).toBe('Aklq');
    expect(r.body.emails[0].value).toBe('TestMhvaes@test.microsoft.com');
  });

  it('creates typed entries that a value-filtered replace or add names, as Entra and its validator send', async () => {
    const c = await t.request('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'validator@testuser.com',
    });
    const r = await t.request('PATCH', `/Users/${c.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'oren.collins@white.com' },
        { op: 'add', path: 'emails[type eq "home"].value', value: 'angelita@mante.us' },
        { op: 'replace', path: 'emails[type eq "work"].display', value: '0TXBC2MOGUI0' },
        { op: 'add', path: 'emails[type eq "work"].primary', value: false },
        { op: 'replace', path: 'emails[type eq "home"].primary', value: true },
        { op: 'Replace', path: 'addresses[type eq "work"].formatted', value: '18/2111' },
        { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Retail' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.emails).toEqual([
      { type: 'work', value: 'oren.collins@white.com', display: '0TXBC2MOGUI0', primary: false },
      { type: 'home', value: 'angelita@mante.us', primary: true },
    ]);
    expect(r.body.addresses).toEqual([{ type: 'work', formatted: '18/2111' }]);
    expect(r.body[ENTERPRISE].department).toBe('Retail');
    expect(t.directory().get(c.body.id)!.attributes.email).toEqual(['oren.collins@white.com']);
    const q = await t.request(
      'GET',
      `/Users?filter=${encodeURIComponent('emails[type eq "work"].value eq "oren.collins@white.com"')}`,
    );
    expect(q.body.totalResults).toBe(1);
  });

  it('adds a single-valued string with Add and a path', async () => {
    const r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Add', path: 'nickName', value: 'Babs' }],
    });
    expect(r.status).toBe(200);
    expect(r.body.nickName).toBe('Babs');
  });

  it('sets the manager by its id, as Entra sends it', async () => {
    const boss = await t.request('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'boss@testuser.com' });
    const r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Add', path: `${ENTERPRISE}:manager`, value: boss.body.id }],
    });
    expect(r.status).toBe(200);
    expect(r.body[ENTERPRISE].manager.value).toBe(boss.body.id);
  });

  it('disables the user with "False" (the older form) and still returns it', async () => {
    let r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    r = await t.request('GET', `/Users/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    r = await t.request(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"`)}`,
    );
    expect(r.body.totalResults).toBe(1);
    r = await t.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'active', value: true }],
    });
    expect(r.body.active).toBe(true);
  });

  it('deletes the user: 204, then 404', async () => {
    const r = await t.request('DELETE', `/Users/${id}`);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect((await t.request('GET', `/Users/${id}`)).status).toBe(404);
  });
});

describe('Entra group operations', () => {
  let groupId: string;
  let userIds: string[];

  beforeAll(async () => {
    userIds = [];
    for (const n of [1, 2, 3])
      userIds.push(
        (await t.request('POST', '/Users', { schemas: [USER_SCHEMA], userName: `member${n}@testuser.com` }))
          .body.id,
      );
  });

  it('creates a group with Entra’s extra schema URI', async () => {
    const r = await t.request('POST', '/Groups', {
      schemas: [GROUP_SCHEMA, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'displayName',
      meta: { resourceType: 'Group' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      schemas: [GROUP_SCHEMA],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'displayName',
    });
    expect(r.body.meta.resourceType).toBe('Group');
    groupId = r.body.id;
  });

  it('gets the group without members', async () => {
    const r = await t.request('GET', `/Groups/${groupId}?excludedAttributes=members`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: groupId, displayName: 'displayName' });
    expect(r.body.members).toBeUndefined();
  });

  it('gets the group by displayName', async () => {
    const r = await t.request(
      'GET',
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "displayName"')}`,
    );
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(1);
    expect(r.body.Resources[0].id).toBe(groupId);
    expect(r.body.Resources[0].members).toBeUndefined();
  });

  it('answers a random group id query with an empty list', async () => {
    const r = await t.request(
      'GET',
      `/Groups?filter=${encodeURIComponent('id eq "7a4b1d3c-0000-0000-0000-random"')}&excludedAttributes=members`,
    );
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(0);
  });

  it('updates non-member attributes: 204', async () => {
    const r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [
        {
          op: 'Replace',
          path: 'displayName',
          value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName',
        },
      ],
    });
    expect(r.status).toBe(204);
    expect((await t.request('GET', `/Groups/${groupId}`)).body.displayName).toBe(
      '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName',
    );
  });

  it('adds members, with the null $ref Entra sends', async () => {
    const r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Add', path: 'members', value: userIds.map((value) => ({ $ref: null, value })) }],
    });
    expect(r.status).toBe(204);
    const g = await t.request('GET', `/Groups/${groupId}`);
    expect(g.body.members.map((m: { value: string }) => m.value).sort()).toEqual([...userIds].sort());
  });

  it('checks membership with a members filter', async () => {
    const r = await t.request(
      'GET',
      `/Groups?filter=${encodeURIComponent(`id eq "${groupId}" and members[value eq "${userIds[0]}"]`)}&excludedAttributes=members`,
    );
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(1);
  });

  it('removes a member by a value list (older form) and by a filtered path (compliant form)', async () => {
    let r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: userIds[0] }] }],
    });
    expect(r.status).toBe(204);
    r = await t.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'remove', path: `members[value eq "${userIds[1]}"]` }],
    });
    expect(r.status).toBe(204);
    const g = await t.request('GET', `/Groups/${groupId}`);
    expect(g.body.members).toEqual([expect.objectContaining({ value: userIds[2], type: 'User' })]);
    // the user sees its group
    const u = await t.request('GET', `/Users/${userIds[2]}`);
    expect(u.body.groups).toEqual([
      expect.objectContaining({
        value: groupId,
        display: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName',
      }),
    ]);
  });

  it('deletes the group: 204', async () => {
    expect((await t.request('DELETE', `/Groups/${groupId}`)).status).toBe(204);
    expect((await t.request('GET', `/Groups/${groupId}`)).status).toBe(404);
  });
});

describe('Entra schema discovery', () => {
  it('lists the schemas as a ListResponse with camel-cased characteristics and no nulls', async () => {
    const r = await t.request('GET', '/Schemas');
    expect(r.status).toBe(200);
    expect(r.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    const ids = r.body.Resources.map((s: { id: string }) => s.id);
    expect(ids).toEqual(expect.arrayContaining([USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]));
    const userName = r.body.Resources.find((s: { id: string }) => s.id === USER_SCHEMA).attributes.find(
      (a: { name: string }) => a.name === 'userName',
    );
    expect(userName).toMatchObject({
      type: 'string',
      required: true,
      caseExact: false,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'server',
    });
    expect(r.text).not.toContain('null');
  });
});
