/**
 * Conformance, black box: PATCH (RFC 7644 §3.5.2) with the forms RFC 7644 defines and the forms Microsoft
 * Entra's provisioning service and Okta send (capitalised ops, "True"/"False", no-path replace with dotted
 * and URN keys, value-filter paths, member add and remove), against `idsync serve` started by the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliServer,
  ENTERPRISE,
  GROUP,
  PATCH_OP,
  patchBody,
  type Resource,
  startCliServer,
  USER,
  unique,
} from '../../helpers/scim-cli-server.js';

let s: CliServer;
beforeAll(async () => {
  s = await startCliServer();
}, 60_000);
afterAll(async () => {
  await s?.close();
});

async function newUser(more: Record<string, unknown> = {}) {
  const r = await s.request('POST', '/Users', {
    schemas: [USER, ENTERPRISE],
    userName: unique('u'),
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    title: 'Guide',
    active: true,
    emails: [
      { value: 'b@work.example', type: 'work', primary: true },
      { value: 'b@home.example', type: 'home' },
    ],
    ...more,
  });
  expect(r.status, r.text).toBe(201);
  return r.body as Resource;
}

async function newGroup(members: string[] = []) {
  const r = await s.request('POST', '/Groups', {
    schemas: [GROUP],
    displayName: unique('g'),
    members: members.map((value) => ({ value })),
  });
  expect(r.status, r.text).toBe(201);
  return r.body as Resource;
}

async function patchUser(id: string, ...ops: Record<string, unknown>[]) {
  const r = await s.request('PATCH', `/Users/${id}`, patchBody(...ops));
  const read = await s.request('GET', `/Users/${id}`);
  return { r, user: read.body as Resource };
}

const memberIds = async (gid: string) => {
  const r = await s.request('GET', `/Groups/${gid}`);
  return ((r.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
};

const emailsOf = (user: Resource) =>
  ((user.emails ?? []) as { type?: string; value: string }[]).map((e) => `${e.type ?? ''}:${e.value}`).sort();

describe('RFC 7644 §3.5.2: the response', () => {
  it('a user PATCH answers 200 with the whole resource, ETag = meta.version, or 204', async () => {
    const u = await newUser();
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: 'title', value: 'Lead' }),
    );
    expect([200, 204]).toContain(r.status);
    if (r.status === 200) {
      expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(r.body).toMatchObject({ id: u.id, userName: u.userName, title: 'Lead' });
      expect(r.headers.get('etag')).toBe(r.body.meta.version);
      expect(r.body.meta.version).not.toBe(u.meta.version);
    }
  });

  it('attributes on PATCH: 200 with the projected resource (RFC 7644 §3.5.2, §3.9)', async () => {
    const u = await newUser();
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}?attributes=title`,
      patchBody({ op: 'replace', path: 'title', value: 'Lead' }),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: u.id, title: 'Lead' });
    expect(r.body.userName).toBeUndefined();
  });

  it('a group PATCH answers 204, or 200 with the group', async () => {
    const g = await newGroup();
    const r = await s.request(
      'PATCH',
      `/Groups/${g.id}`,
      patchBody({ op: 'replace', path: 'displayName', value: unique('renamed') }),
    );
    expect([200, 204]).toContain(r.status);
    if (r.status === 204) expect(r.text).toBe('');
  });

  it('PATCH of an unknown id is 404', async () => {
    const r = await s.request(
      'PATCH',
      '/Users/0c6f0c5e-unknown',
      patchBody({ op: 'replace', path: 'title', value: 'x' }),
    );
    expect(r.status).toBe(404);
    expect(r.body.status).toBe('404');
  });
});

describe('RFC 7644 §3.5.2.1: add', () => {
  it.each<[string, Record<string, unknown>, (u: Resource) => void]>([
    [
      'a simple attribute',
      { op: 'add', path: 'nickName', value: 'Babs' },
      (u) => expect(u.nickName).toBe('Babs'),
    ],
    [
      'no path: the value object is merged',
      { op: 'add', value: { nickName: 'Babs', title: 'Lead' } },
      (u) => {
        expect(u.nickName).toBe('Babs');
        expect(u.title).toBe('Lead');
        expect(u.name.givenName).toBe('Barbara');
      },
    ],
    [
      'to a multi-valued attribute: the values are added, the others kept',
      { op: 'add', path: 'emails', value: [{ value: 'b@other.example', type: 'other' }] },
      (u) =>
        expect(emailsOf(u)).toEqual(['home:b@home.example', 'other:b@other.example', 'work:b@work.example']),
    ],
    [
      'a sub-attribute of a complex attribute',
      { op: 'add', path: 'name.middleName', value: 'Jane' },
      (u) => expect(u.name).toMatchObject({ givenName: 'Barbara', familyName: 'Jensen', middleName: 'Jane' }),
    ],
    [
      'a complex value: its sub-attributes are merged',
      { op: 'add', path: 'name', value: { honorificPrefix: 'Ms.' } },
      (u) =>
        expect(u.name).toMatchObject({ givenName: 'Barbara', familyName: 'Jensen', honorificPrefix: 'Ms.' }),
    ],
    [
      'an extension attribute by its URN path (Entra)',
      { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Retail' },
      (u) => {
        expect(u[ENTERPRISE]).toMatchObject({ department: 'Retail' });
        expect(u.schemas).toContain(ENTERPRISE);
      },
    ],
    [
      'Entra: Add emails[type eq "other"].value makes the entry',
      { op: 'Add', path: 'emails[type eq "other"].value', value: 'b@other.example' },
      (u) => expect(emailsOf(u)).toContain('other:b@other.example'),
    ],
    [
      'Entra: Add addresses[type eq "work"].postalCode on a user without addresses',
      { op: 'Add', path: 'addresses[type eq "work"].postalCode', value: '98052' },
      (u) => expect(u.addresses).toEqual([expect.objectContaining({ type: 'work', postalCode: '98052' })]),
    ],
  ])('%s', async (_what, op, check) => {
    const u = await newUser();
    const { r, user } = await patchUser(u.id, op);
    expect(r.status, r.text).toBe(200);
    check(user);
    check(r.body);
  });

  it('adding a value already there adds no duplicate', async () => {
    const u = await newUser();
    const { user } = await patchUser(u.id, {
      op: 'add',
      path: 'emails',
      value: [{ value: 'b@home.example', type: 'home' }],
    });
    expect(emailsOf(user)).toEqual(['home:b@home.example', 'work:b@work.example']);
  });
});

describe('RFC 7644 §3.5.2.3: replace', () => {
  it.each<[string, Record<string, unknown>, (u: Resource) => void]>([
    [
      'a simple attribute',
      { op: 'replace', path: 'title', value: 'Lead' },
      (u) => expect(u.title).toBe('Lead'),
    ],
    [
      'a complex attribute: sub-attributes not given are left unchanged',
      { op: 'replace', path: 'name', value: { givenName: 'Babs' } },
      (u) => expect(u.name).toMatchObject({ givenName: 'Babs', familyName: 'Jensen' }),
    ],
    [
      'a multi-valued attribute: all values replaced',
      { op: 'replace', path: 'emails', value: [{ value: 'new@work.example', type: 'work' }] },
      (u) => expect(emailsOf(u)).toEqual(['work:new@work.example']),
    ],
    [
      'a value-filter path: only the matching entry changes (Entra)',
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'new@work.example' },
      (u) => expect(emailsOf(u)).toEqual(['home:b@home.example', 'work:new@work.example']),
    ],
    [
      'a value-filter path with a sub-attribute other than value',
      { op: 'replace', path: 'emails[type eq "home"].primary', value: true },
      (u) => expect(u.emails.find((e: { type: string }) => e.type === 'home').primary).toBe(true),
    ],
    [
      'no path: every key of the value replaces its attribute (Okta deactivation)',
      { op: 'replace', value: { active: false } },
      (u) => expect(u.active).toBe(false),
    ],
    [
      'no path with dotted and URN-qualified keys (Entra with aadOptscim062020)',
      {
        op: 'replace',
        value: {
          displayName: 'Bjfe',
          'name.givenName': 'Kkom',
          'name.familyName': 'Unua',
          [`${ENTERPRISE}:employeeNumber`]: 'Aklq',
        },
      },
      (u) => {
        expect(u.displayName).toBe('Bjfe');
        expect(u.name).toMatchObject({ givenName: 'Kkom', familyName: 'Unua' });
        expect(u[ENTERPRISE]).toMatchObject({ employeeNumber: 'Aklq' });
        expect(u.schemas).toContain(ENTERPRISE);
      },
    ],
    [
      'no path with the extension as a nested object',
      { op: 'replace', value: { [ENTERPRISE]: { costCenter: '4130', organization: 'Universal Studios' } } },
      (u) => expect(u[ENTERPRISE]).toMatchObject({ costCenter: '4130', organization: 'Universal Studios' }),
    ],
    [
      'attribute names in the path in any case',
      { op: 'replace', path: 'NAME.GIVENNAME', value: 'Babs' },
      (u) => expect(u.name.givenName).toBe('Babs'),
    ],
    [
      'the full URN path of a core attribute',
      { op: 'replace', path: `${USER}:title`, value: 'Lead' },
      (u) => expect(u.title).toBe('Lead'),
    ],
  ])('%s', async (_what, op, check) => {
    const u = await newUser();
    const { r, user } = await patchUser(u.id, op);
    expect(r.status, r.text).toBe(200);
    check(user);
  });

  it('Entra: Replace emails[type eq "work"].value on a user with no work email adds it', async () => {
    const u = await newUser({ emails: [{ value: 'b@home.example', type: 'home' }] });
    const { r, user } = await patchUser(u.id, {
      op: 'Replace',
      path: 'emails[type eq "work"].value',
      value: 'b@work.example',
    });
    expect(r.status, r.text).toBe(200);
    expect(emailsOf(user)).toEqual(['home:b@home.example', 'work:b@work.example']);
  });

  it('Entra delta sync: a phone number the user lacks, bundled with a name change, applies both', async () => {
    const u = await newUser();
    const { r, user } = await patchUser(
      u.id,
      { op: 'Replace', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0100' },
      { op: 'Replace', path: 'name.givenName', value: 'Babs' },
    );
    expect(r.status, r.text).toBe(200);
    expect(user.phoneNumbers).toEqual([expect.objectContaining({ type: 'work', value: '+1 555 0100' })]);
    expect(user.name.givenName).toBe('Babs');
  });

  it('Entra: Replace addresses[type eq "work"].formatted on a user with no address adds it', async () => {
    const u = await newUser();
    const { r, user } = await patchUser(u.id, {
      op: 'Replace',
      path: 'addresses[type eq "work"].formatted',
      value: '18/2111',
    });
    expect(r.status, r.text).toBe(200);
    expect(user.addresses).toEqual([expect.objectContaining({ type: 'work', formatted: '18/2111' })]);
  });
});

describe('password changes (changePassword supported)', () => {
  it('Okta password sync: no-path replace {"password": …} answers 200 without the password', async () => {
    const u = await newUser({ password: 'Old-Passw0rd' });
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({ op: 'replace', value: { password: 'New-Passw0rd' } }),
    );
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toContain('Passw0rd');
    expect(r.body.meta.version).not.toBe(u.meta.version);
  });
});

describe('booleans as Entra sends them', () => {
  it.each<[string, unknown, boolean]>([
    ['"False"', 'False', false],
    ['"false"', 'false', false],
    ['"True"', 'True', true],
    ['false', false, false],
  ])('Replace active %s', async (_what, value, expected) => {
    const u = await newUser({ active: !expected });
    const { r, user } = await patchUser(u.id, { op: 'Replace', path: 'active', value });
    expect(r.status, r.text).toBe(200);
    expect(user.active).toBe(expected);
  });

  it('Add active "False" (Entra deprovisioning with op Add)', async () => {
    const u = await newUser();
    const { r, user } = await patchUser(u.id, { op: 'Add', path: 'active', value: 'False' });
    expect(r.status, r.text).toBe(200);
    expect(user.active).toBe(false);
  });

  it('no-path Replace {"active":"False"}', async () => {
    const u = await newUser();
    const { user } = await patchUser(u.id, { op: 'Replace', value: { active: 'False' } });
    expect(user.active).toBe(false);
  });

  it('a deactivated user is still returned by GET and by filters (Entra soft delete)', async () => {
    const u = await newUser();
    await patchUser(u.id, { op: 'Replace', path: 'active', value: 'False' });
    const q = await s.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${u.userName}"`)}`);
    expect(q.body.totalResults).toBe(1);
    expect(q.body.Resources[0].active).toBe(false);
    const { user } = await patchUser(u.id, { op: 'Replace', path: 'active', value: 'True' });
    expect(user.active).toBe(true);
  });

  it('a string that is not a boolean is 400 invalidValue', async () => {
    const u = await newUser();
    const { r, user } = await patchUser(u.id, { op: 'replace', path: 'active', value: 'perhaps' });
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe('invalidValue');
    expect(user.active).toBe(true);
  });
});

describe('RFC 7644 §3.5.2.2: remove', () => {
  it.each<[string, Record<string, unknown>, (u: Resource) => void]>([
    ['a simple attribute', { op: 'remove', path: 'title' }, (u) => expect(u.title).toBeUndefined()],
    [
      'a sub-attribute',
      { op: 'remove', path: 'name.givenName' },
      (u) => {
        expect(u.name.givenName).toBeUndefined();
        expect(u.name.familyName).toBe('Jensen');
      },
    ],
    [
      'a whole multi-valued attribute',
      { op: 'remove', path: 'emails' },
      (u) => expect(u.emails).toBeUndefined(),
    ],
    [
      'the entries a value filter selects',
      { op: 'Remove', path: 'emails[type eq "home"]' },
      (u) => expect(emailsOf(u)).toEqual(['work:b@work.example']),
    ],
    [
      'an extension attribute by URN path',
      { op: 'remove', path: `${ENTERPRISE}:department` },
      (u) => expect(u[ENTERPRISE]?.department).toBeUndefined(),
    ],
  ])('%s', async (_what, op, check) => {
    const u = await newUser({ [ENTERPRISE]: { department: 'Sales', costCenter: '1' } });
    const { r, user } = await patchUser(u.id, op);
    expect(r.status, r.text).toBe(200);
    check(user);
  });

  it('remove without a path is 400 noTarget', async () => {
    const u = await newUser();
    const { r } = await patchUser(u.id, { op: 'remove' });
    expect(r.status).toBe(400);
    expect(r.body.scimType).toBe('noTarget');
  });
});

describe('RFC 7644 §3.5.2: errors and atomicity', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['an unknown op', { op: 'merge', path: 'title', value: 'x' }, ['invalidSyntax', 'invalidValue']],
    [
      'a malformed path',
      { op: 'replace', path: 'emails[type eq "work"', value: 'x' },
      ['invalidPath', 'invalidFilter'],
    ],
    [
      'a path with a bad filter operator',
      { op: 'replace', path: 'emails[type zz "work"].value', value: 'x' },
      ['invalidPath', 'invalidFilter'],
    ],
    ['replace of the readOnly id', { op: 'replace', path: 'id', value: 'other' }, ['mutability']],
    ['add to the readOnly groups', { op: 'add', path: 'groups', value: [{ value: 'x' }] }, ['mutability']],
    [
      'a value of the wrong type',
      { op: 'replace', path: 'name', value: 'Barbara' },
      ['invalidValue', 'invalidSyntax'],
    ],
    ['remove of the required userName', { op: 'remove', path: 'userName' }, ['invalidValue', 'mutability']],
    [
      'replace of the required userName with null',
      { op: 'replace', path: 'userName', value: null },
      ['invalidValue', 'mutability'],
    ],
  ])('%s is 400', async (_what, op, scimTypes) => {
    const u = await newUser();
    const { r, user } = await patchUser(u.id, op);
    expect(r.status, r.text).toBe(400);
    expect(r.body.status).toBe('400');
    expect(scimTypes).toContain(r.body.scimType);
    expect(user.id).toBe(u.id);
  });

  it.each([
    ['no Operations', { schemas: [PATCH_OP] }],
    ['Operations not a list', { schemas: [PATCH_OP], Operations: { op: 'add' } }],
    ['an empty body', ''],
  ])('a PatchOp with %s is 400', async (_what, body) => {
    const u = await newUser();
    const r = await s.request('PATCH', `/Users/${u.id}`, body === '' ? undefined : body);
    expect(r.status, r.text).toBe(400);
  });

  it('is atomic: one failing operation undoes the ones before it ("the original resource MUST be restored")', async () => {
    const u = await newUser();
    const { r, user } = await patchUser(
      u.id,
      { op: 'replace', path: 'title', value: 'Changed' },
      { op: 'replace', path: 'id', value: 'other' },
    );
    expect(r.status).toBe(400);
    expect(user.title).toBe('Guide');
    expect(user.meta.version).toBe(u.meta.version);
  });

  it('is atomic for group members too', async () => {
    const a = await newUser();
    const g = await newGroup();
    const r = await s.request(
      'PATCH',
      `/Groups/${g.id}`,
      patchBody(
        { op: 'add', path: 'members', value: [{ value: a.id }] },
        { op: 'replace', path: 'id', value: 'x' },
      ),
    );
    expect(r.status).toBe(400);
    expect(await memberIds(g.id)).toEqual([]);
  });

  it('a userName taken by another user is 409 uniqueness', async () => {
    const a = await newUser();
    const b = await newUser();
    const { r } = await patchUser(b.id, { op: 'replace', path: 'userName', value: a.userName.toUpperCase() });
    expect(r.status).toBe(409);
    expect(r.body.scimType).toBe('uniqueness');
  });
});

describe('the manager (enterprise extension) as Entra sets it', () => {
  it('Add manager as Microsoft documents it: path "manager", a one-element list with $ref and value', async () => {
    const boss = await newUser();
    const u = await newUser();
    const { r, user } = await patchUser(u.id, {
      op: 'Add',
      path: 'manager',
      value: [{ $ref: `http://localhost/scim/Users/${boss.id}`, value: boss.id }],
    });
    expect(r.status, r.text).toBe(200);
    expect(user[ENTERPRISE].manager.value).toBe(boss.id);
  });

  it.each<[string, unknown]>([
    ['a bare id', 'MANAGER'],
    ['an object with value', { value: 'MANAGER' }],
    ['a one-element list', [{ $ref: null, value: 'MANAGER' }]],
  ])('Replace the manager with %s; Remove clears it', async (_what, shape) => {
    const boss = await newUser();
    const u = await newUser();
    const value = JSON.parse(JSON.stringify(shape).replace('MANAGER', boss.id));
    const { r, user } = await patchUser(u.id, { op: 'Replace', path: `${ENTERPRISE}:manager`, value });
    expect(r.status, r.text).toBe(200);
    expect(user[ENTERPRISE].manager.value).toBe(boss.id);
    const removed = await patchUser(u.id, { op: 'Remove', path: `${ENTERPRISE}:manager` });
    expect(removed.r.status).toBe(200);
    expect(removed.user[ENTERPRISE]?.manager).toBeUndefined();
  });
});

describe('group members', () => {
  it.each<[string, (ids: string[]) => Record<string, unknown>[], number[]]>([
    [
      'Add members (a value list)',
      (ids) => [{ op: 'Add', path: 'members', value: [{ value: ids[2] }] }],
      [0, 1, 2],
    ],
    [
      'Add members twice adds one',
      (ids) => [{ op: 'add', path: 'members', value: [{ value: ids[0] }] }],
      [0, 1],
    ],
    [
      'Remove members with a value list (Entra without aadOptscim062020)',
      (ids) => [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: ids[0] }] }],
      [1],
    ],
    [
      'Remove members[value eq "…"] (Entra with the flag)',
      (ids) => [{ op: 'Remove', path: `members[value eq "${ids[1]}"]` }],
      [0],
    ],
    [
      'Remove members[value eq an absent id] changes nothing',
      (ids) => [{ op: 'remove', path: `members[value eq "${ids[2]}"]` }],
      [0, 1],
    ],
    ['Remove members (all)', () => [{ op: 'remove', path: 'members' }], []],
    ['Replace members', (ids) => [{ op: 'replace', path: 'members', value: [{ value: ids[2] }] }], [2]],
    [
      'several member operations in one request',
      (ids) => [
        { op: 'Add', path: 'members', value: [{ value: ids[2] }] },
        { op: 'Remove', path: 'members', value: [{ value: ids[0] }] },
      ],
      [1, 2],
    ],
    [
      'no-path add with members (Okta-style value object)',
      (ids) => [{ op: 'add', value: { members: [{ value: ids[2] }] } }],
      [0, 1, 2],
    ],
  ])('%s', async (_what, ops, expected) => {
    const users = [await newUser(), await newUser(), await newUser()];
    const ids = users.map((u) => u.id as string);
    const g = await newGroup([ids[0]!, ids[1]!]);
    const r = await s.request('PATCH', `/Groups/${g.id}`, patchBody(...ops(ids)));
    expect([200, 204], r.text).toContain(r.status);
    expect(await memberIds(g.id)).toEqual(expected.map((i) => ids[i]).sort());
  });

  it('Entra: Replace the group externalId (its objectId)', async () => {
    const g = await newGroup();
    const r = await s.request(
      'PATCH',
      `/Groups/${g.id}`,
      patchBody({ op: 'Replace', path: 'externalId', value: 'f3b9a7c2' }),
    );
    expect([200, 204], r.text).toContain(r.status);
    expect((await s.request('GET', `/Groups/${g.id}`)).body.externalId).toBe('f3b9a7c2');
  });

  it('renaming a group to a name another group has is 409 uniqueness', async () => {
    const [a, b] = [await newGroup(), await newGroup()];
    const r = await s.request(
      'PATCH',
      `/Groups/${b.id}`,
      patchBody({ op: 'replace', path: 'displayName', value: a.displayName }),
    );
    expect(r.status, r.text).toBe(409);
    expect(r.body.scimType).toBe('uniqueness');
  });

  it('Okta rename: replace with a value holding the group id and the new displayName', async () => {
    const g = await newGroup();
    const name = unique('renamed');
    const r = await s.request(
      'PATCH',
      `/Groups/${g.id}`,
      patchBody({ op: 'replace', value: { id: g.id, displayName: name } }),
    );
    expect([200, 204], r.text).toContain(r.status);
    expect((await s.request('GET', `/Groups/${g.id}`)).body.displayName).toBe(name);
  });

  it('a member change gives the group a new version and shows in the user`s groups', async () => {
    const u = await newUser();
    const g = await newGroup();
    const r = await s.request(
      'PATCH',
      `/Groups/${g.id}`,
      patchBody({ op: 'add', path: 'members', value: [{ value: u.id }] }),
    );
    expect([200, 204]).toContain(r.status);
    const after = await s.request('GET', `/Groups/${g.id}`);
    expect(after.body.meta.version).not.toBe(g.meta.version);
    if (r.headers.get('etag')) expect(r.headers.get('etag')).toBe(after.body.meta.version);
    const user = await s.request('GET', `/Users/${u.id}`);
    expect(user.body.groups.map((x: { value: string }) => x.value)).toEqual([g.id]);
  });
});
