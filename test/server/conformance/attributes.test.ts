/**
 * Conformance, black box: attribute characteristics as RFC 7643 defines them and RFC 7644 applies them —
 * readOnly values ignored on POST and PUT (RFC 7644 §3.5.1), writeOnly password (RFC 7643 §4.1.1), one
 * primary value per multi-valued attribute (RFC 7643 §2.4), projection of the responses to writes
 * (RFC 7644 §3.9), and projection and filtering of multi-valued sub-attributes — against `idsync serve`
 * started by the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliServer,
  GROUP,
  patchBody,
  q,
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
    schemas: [USER],
    userName: unique('u'),
    emails: [
      { value: 'w@example.com', type: 'work', primary: true },
      { value: 'h@example.com', type: 'home' },
    ],
    ...more,
  });
  expect(r.status, r.text).toBe(201);
  return r.body as Resource;
}

const primaries = (u: Resource) =>
  ((u.emails ?? []) as { value: string; primary?: boolean }[])
    .filter((e) => e.primary === true)
    .map((e) => e.value);

describe('RFC 7644 §3.3, §3.5.1: readOnly attributes are ignored on input', () => {
  it('POST with groups (readOnly) creates the user without them', async () => {
    const g = await s.request('POST', '/Groups', { schemas: [GROUP], displayName: unique('g') });
    const u = await newUser({ groups: [{ value: g.body.id }] });
    expect(u.groups ?? []).toEqual([]);
    expect((await s.request('GET', `/Groups/${g.body.id}`)).body.members ?? []).toEqual([]);
  });

  it('PUT with groups and meta changes neither', async () => {
    const u = await newUser();
    const r = await s.request('PUT', `/Users/${u.id}`, {
      schemas: [USER],
      userName: u.userName,
      groups: [{ value: 'made-up' }],
      meta: { created: '2001-01-01T00:00:00Z', resourceType: 'Group' },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.groups ?? []).toEqual([]);
    expect(r.body.meta.created).toBe(u.meta.created);
    expect(r.body.meta.resourceType).toBe('User');
  });
});

describe('RFC 7643 §2.5: null, an empty array and no value are the same', () => {
  it('POST with nulls and empties stores nothing for them, returns no nulls, and pr does not match', async () => {
    const userName = unique('nulls');
    const r = await s.request('POST', '/Users', {
      schemas: [USER],
      userName,
      title: null,
      emails: [],
      nickName: '',
      name: {},
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {},
    });
    expect(r.status, r.text).toBe(201);
    expect(r.text).not.toMatch(/:\s*null\b/);
    for (const a of ['title', 'emails', 'name', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'])
      expect(r.body[a], a).toBeUndefined();
    expect(r.body.schemas).toEqual([USER]);
    const found = await s.request(
      'GET',
      `/Users?filter=${q(`userName eq "${userName}" and (emails pr or title pr or name pr or nickName pr)`)}`,
    );
    expect(found.body.totalResults).toBe(0);
  });

  it('PATCH replace with null removes the attribute', async () => {
    const u = await newUser({ title: 'Guide' });
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: 'title', value: null }),
    );
    expect(r.status, r.text).toBe(200);
    expect((await s.request('GET', `/Users/${u.id}`)).body.title).toBeUndefined();
  });

  it('PUT with emails: [] clears the emails', async () => {
    const u = await newUser();
    const r = await s.request('PUT', `/Users/${u.id}`, { schemas: [USER], userName: u.userName, emails: [] });
    expect(r.status, r.text).toBe(200);
    expect((await s.request('GET', `/Users/${u.id}`)).body.emails).toBeUndefined();
  });
});

describe('RFC 7643 §4.1.1: password is writeOnly, returned never', () => {
  it('PATCH replace password answers 200 without it; no response ever holds it', async () => {
    const u = await newUser({ password: 'first-Secret1' });
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: 'password', value: 'second-Secret2' }),
    );
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toContain('Secret');
    for (const path of [
      `/Users/${u.id}`,
      `/Users/${u.id}?attributes=password`,
      `/Users?filter=${q(`userName eq "${u.userName}"`)}`,
    ]) {
      const read = await s.request('GET', path);
      expect(read.text, path).not.toContain('Secret');
    }
  });

  it('a filter on password is refused or matches nothing — it never reveals the value', async () => {
    const u = await newUser({ password: 'guess-Me-123' });
    const r = await s.request(
      'GET',
      `/Users?filter=${q(`userName eq "${u.userName}" and password eq "guess-Me-123"`)}`,
    );
    if (r.status === 200) expect(r.body.totalResults).toBe(0);
    else expect(r.status).toBe(400);
  });
});

describe('RFC 7643 §2.4: at most one primary value', () => {
  it('POST with two primary emails is refused or keeps one', async () => {
    const r = await s.request('POST', '/Users', {
      schemas: [USER],
      userName: unique('u'),
      emails: [
        { value: 'a@example.com', type: 'work', primary: true },
        { value: 'b@example.com', type: 'home', primary: true },
      ],
    });
    if (r.status === 201) expect(primaries(r.body).length).toBeLessThanOrEqual(1);
    else expect(r.status).toBe(400);
  });

  it('PATCH add of a new primary email clears primary on the old one ("SHALL automatically clear")', async () => {
    const u = await newUser();
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({
        op: 'add',
        path: 'emails',
        value: [{ value: 'o@example.com', type: 'other', primary: true }],
      }),
    );
    expect(r.status, r.text).toBe(200);
    const read = (await s.request('GET', `/Users/${u.id}`)).body;
    expect(primaries(read)).toEqual(['o@example.com']);
  });

  it('PATCH replace emails[type eq "home"].primary true clears it on the work email', async () => {
    const u = await newUser();
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: 'emails[type eq "home"].primary', value: true }),
    );
    expect(r.status, r.text).toBe(200);
    const read = (await s.request('GET', `/Users/${u.id}`)).body;
    expect(primaries(read)).toEqual(['h@example.com']);
  });
});

describe('RFC 7644 §3.9: attributes and excludedAttributes on the responses to writes', () => {
  it('POST ?attributes=userName answers 201 with id and userName only', async () => {
    const r = await s.request('POST', '/Users?attributes=userName', {
      schemas: [USER],
      userName: unique('u'),
      title: 'x',
    });
    expect(r.status).toBe(201);
    expect(r.body.id).toBeTruthy();
    expect(r.body.userName).toBeTruthy();
    expect(r.body.title).toBeUndefined();
    expect(r.headers.get('location')).toMatch(new RegExp(`/Users/${r.body.id}$`));
  });

  it('POST ?excludedAttributes=emails answers without the emails', async () => {
    const r = await s.request('POST', '/Users?excludedAttributes=emails', {
      schemas: [USER],
      userName: unique('u'),
      emails: [{ value: 'x@example.com', type: 'work' }],
    });
    expect(r.status).toBe(201);
    expect(r.body.emails).toBeUndefined();
    expect(r.body.userName).toBeTruthy();
  });

  it('PATCH ?excludedAttributes=emails answers without the emails', async () => {
    const u = await newUser();
    const r = await s.request(
      'PATCH',
      `/Users/${u.id}?excludedAttributes=emails`,
      patchBody({ op: 'replace', path: 'title', value: 't' }),
    );
    expect(r.status).toBe(200);
    expect(r.body.emails).toBeUndefined();
    expect(r.body.title).toBe('t');
  });
});

describe('RFC 7644 §3.10: fully qualified attribute notation', () => {
  const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
  const qualified = async () =>
    newUser({
      schemas: [USER, ENT],
      name: { givenName: 'Grace', familyName: 'Hopper' },
      [ENT]: { department: 'Navy', division: 'R' },
    });

  it.each<[string, (u: Resource) => void]>([
    [`attributes=${USER}:name.givenName`, (u) => expect(u.name).toEqual({ givenName: 'Grace' })],
    [`attributes=${ENT}`, (u) => expect(u[ENT]).toEqual({ department: 'Navy', division: 'R' })],
    [`attributes=${ENT}:department`, (u) => expect(u[ENT]).toEqual({ department: 'Navy' })],
    [`excludedAttributes=${USER}:name`, (u) => expect(u.name).toBeUndefined()],
    [`excludedAttributes=${ENT}:department`, (u) => expect(u[ENT]).toEqual({ division: 'R' })],
  ])('%s', async (query, check) => {
    const u = await qualified();
    const r = await s.request('GET', `/Users/${u.id}?${query}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.id).toBe(u.id);
    check(r.body);
  });

  it('a fully qualified sub-attribute in a filter, a sortBy and a PATCH path', async () => {
    const u = await qualified();
    const f = await s.request(
      'GET',
      `/Users?filter=${q(`${USER}:name.givenName eq "Grace" and ${USER}:userName eq "${u.userName}"`)}&sortBy=${USER}:name.familyName`,
    );
    expect(f.body.totalResults).toBe(1);
    const p = await s.request(
      'PATCH',
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: `${USER}:name.givenName`, value: 'Amazing Grace' }),
    );
    expect(p.status, p.text).toBe(200);
    expect((await s.request('GET', `/Users/${u.id}`)).body.name).toEqual({
      givenName: 'Amazing Grace',
      familyName: 'Hopper',
    });
  });
});

describe('multi-valued sub-attributes', () => {
  it('attributes=emails.value returns only the value of each email', async () => {
    const u = await newUser();
    const r = await s.request('GET', `/Users/${u.id}?attributes=emails.value`);
    expect(r.body.emails.map((e: Record<string, unknown>) => Object.keys(e))).toEqual([['value'], ['value']]);
  });

  it('excludedAttributes=emails.type keeps the emails without their type', async () => {
    const u = await newUser();
    const r = await s.request('GET', `/Users/${u.id}?excludedAttributes=emails.type`);
    expect(r.body.emails).toHaveLength(2);
    for (const e of r.body.emails) expect(e.type).toBeUndefined();
  });

  it('excludedAttributes=meta drops meta; id stays', async () => {
    const u = await newUser();
    const r = await s.request('GET', `/Users/${u.id}?excludedAttributes=meta`);
    expect(r.body.meta).toBeUndefined();
    expect(r.body.id).toBe(u.id);
  });

  it.each([
    ['emails pr', true],
    ['emails[primary eq true].value eq "w@example.com"', true],
    ['emails[type eq "home"].primary eq true', false],
    ['name pr', false],
    ['not (emails.type eq "fax")', true],
  ])('filter %s matches a user with a work and a home email: %s', async (filter, expected) => {
    const u = await newUser();
    const r = await s.request('GET', `/Users?filter=${q(`userName eq "${u.userName}" and (${filter})`)}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.totalResults).toBe(expected ? 1 : 0);
  });

  // RFC 7644 §3.4.2.3
  it('sortBy a multi-valued attribute sorts by its primary value, else its first', async () => {
    const prefix = `msort${Date.now().toString(36)}`;
    const made: [string, Record<string, unknown>[]][] = [
      [
        'a',
        [
          { value: 'z@x.test', type: 'home' },
          { value: 'b@x.test', type: 'work', primary: true },
        ],
      ],
      ['b', [{ value: 'a@x.test', type: 'work' }]],
      [
        'c',
        [
          { value: 'y@x.test', type: 'home' },
          { value: 'c@x.test', type: 'work', primary: true },
        ],
      ],
    ];
    for (const [suffix, emails] of made)
      await s.request('POST', '/Users', { schemas: [USER], userName: `${prefix}-${suffix}`, emails });
    for (const sortBy of ['emails', 'emails.value']) {
      const r = await s.request('GET', `/Users?filter=${q(`userName sw "${prefix}"`)}&sortBy=${sortBy}`);
      expect(r.status, r.text).toBe(200);
      expect(
        r.body.Resources.map((u: { userName: string }) => u.userName.slice(-1)),
        sortBy,
      ).toEqual(['b', 'a', 'c']);
    }
  });

  it('users are found by their groups (groups.value eq, RFC 7643 §4.1.2)', async () => {
    const u = await newUser();
    const g = await s.request('POST', '/Groups', {
      schemas: [GROUP],
      displayName: unique('g'),
      members: [{ value: u.id }],
    });
    const r = await s.request('GET', `/Users?filter=${q(`groups.value eq "${g.body.id}"`)}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.Resources.map((x: { id: string }) => x.id)).toEqual([u.id]);
  });

  it('group members carry type "User" and a $ref to the user when the server gives them', async () => {
    const u = await newUser();
    const g = await s.request('POST', '/Groups', {
      schemas: [GROUP],
      displayName: unique('g'),
      members: [{ value: u.id }],
    });
    const m = g.body.members[0];
    expect(m.value).toBe(u.id);
    if (m.$ref !== undefined) expect(m.$ref).toBe(`${s.base}/Users/${u.id}`);
    if (m.type !== undefined) expect(m.type).toBe('User');
  });
});
