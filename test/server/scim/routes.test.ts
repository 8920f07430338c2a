/**
 * RFC 7644 over real HTTP: create, read, replace, patch, delete; queries with filters, sorting, paging and
 * projections; ETags; uniqueness; discovery endpoints. One server for the file, each test with its own data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENTERPRISE,
  GROUP_SCHEMA,
  group,
  PATCH_OP,
  patch,
  startTestServer,
  type TestServer,
  USER_SCHEMA,
  user,
} from '../../helpers/scim-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({
    config: `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  scim:
    - path: /scim/v2
      maxResults: 50
      extensions:
        - id: urn:example:params:scim:schemas:extension:acme:2.0:User
          resourceType: User
          attributes:
            - { name: badge, type: integer }
            - { name: tags, multiValued: true }
            - { name: clearance, flatName: acmeClearance }
`,
  });
});
afterAll(async () => {
  await t.close();
});

const q = (filter: string) => encodeURIComponent(filter);

describe('create and read', () => {
  it('gives back everything a client wrote, beyond the flat attributes, after a PUT and a GET', async () => {
    const full = {
      schemas: [USER_SCHEMA, ENTERPRISE, 'urn:example:params:scim:schemas:extension:acme:2.0:User'],
      userName: 'bjensen@example.com',
      externalId: 'bjensen',
      name: {
        formatted: 'Ms. Barbara J Jensen III',
        familyName: 'Jensen',
        givenName: 'Barbara',
        middleName: 'Jane',
        honorificPrefix: 'Ms.',
        honorificSuffix: 'III',
      },
      displayName: 'Babs Jensen',
      nickName: 'Babs',
      profileUrl: 'https://login.example.com/bjensen',
      emails: [
        { value: 'bjensen@example.com', type: 'work', primary: true },
        { value: 'babs@jensen.org', type: 'home' },
      ],
      addresses: [
        {
          type: 'work',
          streetAddress: '100 Universal City Plaza',
          locality: 'Hollywood',
          region: 'CA',
          postalCode: '91608',
          country: 'USA',
          formatted: '100 Universal City Plaza\nHollywood, CA 91608 USA',
          primary: true,
        },
      ],
      phoneNumbers: [
        { value: '555-555-5555', type: 'work' },
        { value: '555-555-4444', type: 'mobile' },
        { value: '555-555-3333', type: 'fax' },
      ],
      ims: [{ value: 'someaimhandle', type: 'aim' }],
      photos: [{ value: 'https://photos.example.com/profilephoto/72930000000Ccne/F', type: 'photo' }],
      userType: 'Employee',
      title: 'Tour Guide',
      preferredLanguage: 'en-US',
      locale: 'en-US',
      timezone: 'America/Los_Angeles',
      active: true,
      password: 't1meMa$heen',
      entitlements: [{ value: 'ent1' }],
      roles: [{ value: 'admin', primary: false }],
      x509Certificates: [{ value: 'MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx' }],
      [ENTERPRISE]: {
        employeeNumber: '701984',
        costCenter: '4130',
        organization: 'Universal Studios',
        division: 'Theme Park',
        department: 'Tour Operations',
      },
      'urn:example:params:scim:schemas:extension:acme:2.0:User': {
        badge: 42,
        tags: ['a', 'b'],
        clearance: 'secret-level',
      },
    };
    const created = await t.request('POST', '/Users', full);
    expect(created.status).toBe(201);
    const { password: _password, ...expected } = full;
    const got = await t.request('GET', `/Users/${created.body.id}`);
    const strip = (r: Record<string, unknown>) => {
      const { id: _i, meta: _m, schemas, ...rest } = r;
      return { ...rest, schemas: [...(schemas as string[])].sort() };
    };
    expect(strip(got.body)).toEqual({ ...expected, schemas: [...full.schemas].sort() });
    expect(got.text).not.toContain('t1meMa$heen');
    const put = await t.request('PUT', `/Users/${created.body.id}`, { ...full, nickName: 'B' });
    expect(put.status).toBe(200);
    expect(strip(put.body)).toEqual({ ...expected, nickName: 'B', schemas: [...full.schemas].sort() });
    // the flat names the rules use, and the password as a scrypt hash (never returned, never in clear)
    const stored = t.directory().get(created.body.id)!.attributes;
    expect(stored).toMatchObject({
      email: ['bjensen@example.com'],
      mobile: ['555-555-4444'],
      phoneNumber: ['555-555-5555'],
      department: ['Tour Operations'],
      givenName: ['Barbara'],
      acmeClearance: ['secret-level'],
      badge: [42],
    });
    expect(String(stored.password?.[0])).toMatch(/^\$scrypt\$/);
  });

  it('refuses a user without userName, and a duplicate userName in any case, with 409 uniqueness', async () => {
    const missing = await t.request('POST', '/Users', { schemas: [USER_SCHEMA], displayName: 'No Name' });
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toMatch(/userName/);
    expect((await t.request('POST', '/Users', user('Dup@Example.com'))).status).toBe(201);
    const dup = await t.request('POST', '/Users', user('dup@example.COM'));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ status: '409', scimType: 'uniqueness' });
  });

  it('refuses wrong types with 400 invalidValue naming the attribute', async () => {
    for (const [body, attr] of [
      [user('t1@example.com', { active: 'maybe' }), 'active'],
      [user('t2@example.com', { name: 'Barbara' }), 'name'],
      [{ schemas: [USER_SCHEMA], userName: { first: 'x' } }, 'userName'],
      [
        user('t3@example.com', {
          'urn:example:params:scim:schemas:extension:acme:2.0:User': { badge: 'forty' },
        }),
        'badge',
      ],
    ] as const) {
      const r = await t.request('POST', '/Users', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.detail).toContain(attr);
    }
  });
});

describe('queries', () => {
  beforeAll(async () => {
    for (let i = 0; i < 12; i++) {
      await t.request(
        'POST',
        '/Users',
        user(`q${String(i).padStart(2, '0')}@query.test`, {
          displayName: `Query ${i % 3}`,
          title: i % 2 === 0 ? 'Even' : 'Odd',
          emails: [{ value: `q${i}@${i < 6 ? 'low' : 'high'}.example.com`, type: 'work' }],
          active: i !== 5,
        }),
      );
    }
  });

  it('evaluates the filter grammar: operators, and/or/not, value filters', async () => {
    const count = async (filter: string) => {
      const r = await t.request('GET', `/Users?filter=${q(filter)}&count=50`);
      expect(r.status, filter).toBe(200);
      return r.body.totalResults as number;
    };
    expect(await count('userName sw "q0" and userName ew "@query.test"')).toBe(10);
    expect(await count('userName co "query" and title eq "even"')).toBe(6);
    expect(await count('userName sw "q" and not (title eq "Even")')).toBe(6);
    expect(await count('userName sw "q" and (displayName eq "Query 0" or displayName eq "Query 1")')).toBe(8);
    expect(await count('emails[type eq "work" and value co "@high."]')).toBe(6);
    expect(await count('emails.value ew "low.example.com"')).toBe(6);
    expect(await count('userName sw "q" and active eq false')).toBe(1);
    expect(await count('userName gt "q10@query.test" and userName sw "q"')).toBe(1);
    expect(await count('userName sw "q" and meta.created pr')).toBe(12);
    expect(await count('USERNAME EQ "Q03@QUERY.TEST"')).toBe(1);
  });

  it('answers scanned queries with the groups of users and the members of groups', async () => {
    const u = await t.request('POST', '/Users', user('scanned@query.test', { title: 'Scanned' }));
    const g = await t.request('POST', '/Groups', group('Scanned group', { members: [{ value: u.body.id }] }));
    const users = await t.request('GET', `/Users?filter=${q('title eq "Scanned"')}`);
    expect(users.body.Resources[0].groups).toEqual([
      expect.objectContaining({ value: g.body.id, display: 'Scanned group' }),
    ]);
    const groups = await t.request('GET', `/Groups?filter=${q('displayName sw "Scanned"')}`);
    expect(groups.body.Resources[0].members).toEqual([expect.objectContaining({ value: u.body.id })]);
    const byMember = await t.request(
      'GET',
      `/Groups?filter=${q(`members.value eq "${u.body.id}"`)}&excludedAttributes=members`,
    );
    expect(byMember.body.Resources.map((r: { id: string }) => r.id)).toEqual([g.body.id]);
    expect(byMember.body.Resources[0].members).toBeUndefined();
  });

  it('answers a bad filter with 400 invalidFilter', async () => {
    for (const filter of [
      'userName eq',
      'userName xx "a"',
      '((userName eq "a")',
      'userName eq "a" and',
      'emails[type eq "work"',
    ]) {
      const r = await t.request('GET', `/Users?filter=${q(filter)}`);
      expect(r.status, filter).toBe(400);
      expect(r.body.scimType).toBe('invalidFilter');
    }
  });

  it('sorts, pages and caps the page at maxResults', async () => {
    const r = await t.request(
      'GET',
      `/Users?filter=${q('userName sw "q"')}&sortBy=userName&sortOrder=descending&startIndex=2&count=3`,
    );
    expect(r.body).toMatchObject({ totalResults: 12, startIndex: 2, itemsPerPage: 3 });
    expect(r.body.Resources.map((u: { userName: string }) => u.userName)).toEqual([
      'q10@query.test',
      'q09@query.test',
      'q08@query.test',
    ]);
    const all = await t.request('GET', '/Users?count=1000');
    expect(all.body.itemsPerPage).toBeLessThanOrEqual(50);
    const zero = await t.request('GET', '/Users?count=0');
    expect(zero.body.Resources).toEqual([]);
    expect(zero.body.totalResults).toBeGreaterThan(12);
    const unpaged = await t.request('GET', '/Users?startIndex=3&count=2');
    const firstFour = await t.request('GET', '/Users?startIndex=1&count=4');
    expect(unpaged.body.Resources.map((u: { id: string }) => u.id)).toEqual(
      firstFour.body.Resources.slice(2).map((u: { id: string }) => u.id),
    );
  });

  it('projects with attributes and excludedAttributes; id and schemas always come back', async () => {
    const r = await t.request(
      'GET',
      `/Users?filter=${q('userName eq "q01@query.test"')}&attributes=userName,emails.value`,
    );
    expect(Object.keys(r.body.Resources[0]).sort()).toEqual(['emails', 'id', 'schemas', 'userName']);
    expect(r.body.Resources[0].emails).toEqual([{ value: 'q1@low.example.com' }]);
    const x = await t.request(
      'GET',
      `/Users?filter=${q('userName eq "q01@query.test"')}&excludedAttributes=emails,title`,
    );
    expect(x.body.Resources[0].emails).toBeUndefined();
    expect(x.body.Resources[0].title).toBeUndefined();
    expect(x.body.Resources[0].userName).toBe('q01@query.test');
  });

  it('searches with POST /.search', async () => {
    const r = await t.request('POST', '/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'title eq "Odd" and userName sw "q"',
      attributes: ['userName'],
      sortBy: 'userName',
      startIndex: 1,
      count: 2,
    });
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(6);
    expect(r.body.Resources.map((u: { userName: string }) => u.userName)).toEqual([
      'q01@query.test',
      'q03@query.test',
    ]);
    const root = await t.request('POST', '/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'displayName eq "Query 2"',
    });
    expect(root.status).toBe(200);
    expect(root.body.totalResults).toBe(4);
  });

  it('refuses bad paging and sort parameters with 400', async () => {
    expect((await t.request('GET', '/Users?startIndex=abc')).status).toBe(400);
    expect((await t.request('GET', '/Users?sortOrder=sideways')).status).toBe(400);
    expect((await t.request('GET', '/Users?sortBy=noSuchAttribute')).status).toBe(400);
  });
});

describe('versions', () => {
  it('answers If-Match mismatches with 412 and If-None-Match matches with 304', async () => {
    const c = await t.request('POST', '/Users', user('etag@example.com'));
    const v1 = c.headers.get('etag')!;
    expect(v1).toMatch(/^W\/"\d+"$/);
    expect((await t.request('GET', `/Users/${c.body.id}`, undefined, { 'if-none-match': v1 })).status).toBe(
      304,
    );
    const p = await t.request(
      'PATCH',
      `/Users/${c.body.id}`,
      patch({ op: 'replace', path: 'title', value: 'New' }),
      { 'if-match': v1 },
    );
    expect(p.status).toBe(200);
    const v2 = p.headers.get('etag')!;
    expect(v2).not.toBe(v1);
    expect(p.body.meta.version).toBe(v2);
    const stale = await t.request(
      'PATCH',
      `/Users/${c.body.id}`,
      patch({ op: 'replace', path: 'title', value: 'Lost' }),
      { 'if-match': v1 },
    );
    expect(stale.status).toBe(412);
    expect(
      (await t.request('PUT', `/Users/${c.body.id}`, user('etag@example.com'), { 'if-match': v1 })).status,
    ).toBe(412);
    expect((await t.request('DELETE', `/Users/${c.body.id}`, undefined, { 'if-match': v1 })).status).toBe(
      412,
    );
    expect((await t.request('GET', `/Users/${c.body.id}`)).body.title).toBe('New');
    expect((await t.request('DELETE', `/Users/${c.body.id}`, undefined, { 'if-match': v2 })).status).toBe(
      204,
    );
  });

  it('keeps the version when a PATCH changes nothing', async () => {
    const c = await t.request('POST', '/Users', user('same@example.com', { title: 'T' }));
    const p = await t.request(
      'PATCH',
      `/Users/${c.body.id}`,
      patch({ op: 'replace', path: 'title', value: 'T' }),
    );
    expect(p.headers.get('etag')).toBe(c.headers.get('etag'));
  });
});

describe('PATCH edge cases', () => {
  it('adds, replaces and removes through value-filtered paths', async () => {
    const c = await t.request(
      'POST',
      '/Users',
      user('paths@example.com', {
        emails: [
          { value: 'w@example.com', type: 'work', primary: true },
          { value: 'h@example.com', type: 'home' },
        ],
      }),
    );
    const id = c.body.id;
    let r = await t.request(
      'PATCH',
      `/Users/${id}`,
      patch(
        { op: 'add', path: 'emails', value: [{ value: 'o@example.com', type: 'other' }] },
        { op: 'replace', path: 'emails[type eq "home"].value', value: 'h2@example.com' },
      ),
    );
    expect(r.body.emails.map((e: { value: string }) => e.value).sort()).toEqual([
      'h2@example.com',
      'o@example.com',
      'w@example.com',
    ]);
    r = await t.request(
      'PATCH',
      `/Users/${id}`,
      patch(
        { op: 'remove', path: 'emails[type eq "other"]' },
        { op: 'remove', path: 'emails[type eq "work"].primary' },
      ),
    );
    expect(r.body.emails).toEqual([
      { value: 'w@example.com', type: 'work' },
      { value: 'h2@example.com', type: 'home' },
    ]);
    r = await t.request('PATCH', `/Users/${id}`, patch({ op: 'remove', path: 'emails[type eq "work"]' }));
    expect(r.body.emails).toEqual([{ value: 'h2@example.com', type: 'home' }]);
    expect(t.directory().get(id)!.attributes.email).toBeUndefined();
  });

  it('answers bad operations with 400 and the right scimType', async () => {
    const c = await t.request('POST', '/Users', user('badpatch@example.com'));
    const id = c.body.id;
    const cases: [unknown, string][] = [
      [patch({ op: 'jump', path: 'title', value: 'x' }), 'invalidSyntax'],
      [patch({ op: 'replace', path: 'emails[type eq', value: 'x' }), 'invalidPath'],
      [patch({ op: 'remove' }), 'noTarget'],
      [patch({ op: 'replace', path: 'id', value: 'other' }), 'mutability'],
      [{ schemas: [PATCH_OP] }, 'invalidSyntax'],
    ];
    for (const [body, scimType] of cases) {
      const r = await t.request('PATCH', `/Users/${id}`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.scimType, JSON.stringify(body)).toBe(scimType);
    }
  });

  it('accepts a manager not provisioned yet, refuses a user as their own manager', async () => {
    const c = await t.request(
      'POST',
      '/Users',
      user('managed@example.com', { [ENTERPRISE]: { manager: { value: 'not-yet-here' } } }),
    );
    expect(c.status).toBe(201);
    expect(c.body[ENTERPRISE].manager.value).toBe('not-yet-here');
    const self = await t.request(
      'PATCH',
      `/Users/${c.body.id}`,
      patch({ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: c.body.id } }),
    );
    expect(self.status).toBe(400);
    expect(self.body.detail).toContain('own manager');
  });

  it('keeps group names unique, as Entra matches groups by displayName', async () => {
    const a = await t.request('POST', '/Groups', group('Unique name'));
    expect(a.status).toBe(201);
    const dup = await t.request('POST', '/Groups', group('Unique name'));
    expect(dup.status).toBe(409);
    expect(dup.body.scimType).toBe('uniqueness');
    const b = await t.request('POST', '/Groups', group('Other name'));
    const rename = await t.request(
      'PATCH',
      `/Groups/${b.body.id}`,
      patch({ op: 'replace', path: 'displayName', value: 'Unique name' }),
    );
    expect(rename.status).toBe(409);
    const same = await t.request('PUT', `/Groups/${a.body.id}`, group('Unique name', { externalId: 'x' }));
    expect(same.status).toBe(200);
  });

  it('renames to a taken userName: 409', async () => {
    await t.request('POST', '/Users', user('taken@example.com'));
    const c = await t.request('POST', '/Users', user('free@example.com'));
    const r = await t.request(
      'PATCH',
      `/Users/${c.body.id}`,
      patch({ op: 'replace', path: 'userName', value: 'TAKEN@example.com' }),
    );
    expect(r.status).toBe(409);
    expect(r.body.scimType).toBe('uniqueness');
  });

  it('replaces group members and removes them all, without touching other attributes', async () => {
    const ids = [];
    for (const n of [1, 2, 3])
      ids.push((await t.request('POST', '/Users', user(`gm${n}@example.com`))).body.id);
    const g = await t.request(
      'POST',
      '/Groups',
      group('Replace me', { externalId: 'g-ext', members: [{ value: ids[0] }] }),
    );
    expect(g.body.members).toEqual([expect.objectContaining({ value: ids[0] })]);
    let r = await t.request(
      'PATCH',
      `/Groups/${g.body.id}`,
      patch({ op: 'replace', path: 'members', value: [{ value: ids[1] }, { value: ids[2] }] }),
    );
    expect(r.status).toBe(204);
    let got = await t.request('GET', `/Groups/${g.body.id}`);
    expect(got.body.members.map((m: { value: string }) => m.value).sort()).toEqual([ids[1], ids[2]].sort());
    expect(got.body.externalId).toBe('g-ext');
    r = await t.request('PATCH', `/Groups/${g.body.id}`, patch({ op: 'remove', path: 'members' }));
    expect(r.status).toBe(204);
    got = await t.request('GET', `/Groups/${g.body.id}`);
    expect(got.body.members).toBeUndefined();
    expect(got.body.displayName).toBe('Replace me');
    const missing = await t.request(
      'PATCH',
      `/Groups/${g.body.id}`,
      patch({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }),
    );
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toContain('no-such-user');
  });
});

describe('discovery', () => {
  it('tells the truth in ServiceProviderConfig', async () => {
    const r = await t.request('GET', '/ServiceProviderConfig');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 1000, maxPayloadSize: 1048576 },
      filter: { supported: true, maxResults: 50 },
      sort: { supported: true },
      etag: { supported: true },
      changePassword: { supported: true },
    });
    expect(r.body.authenticationSchemes[0].type).toBe('oauthbearertoken');
  });

  it('refuses filters on discovery endpoints (403) and answers /Me with 501', async () => {
    expect((await t.request('GET', `/Schemas?filter=${encodeURIComponent('id eq "x"')}`)).status).toBe(403);
    expect((await t.request('GET', `/ResourceTypes?filter=${encodeURIComponent('id eq "x"')}`)).status).toBe(
      403,
    );
    const me = await t.request('GET', '/Me');
    expect(me.status).toBe(501);
    expect(me.body.status).toBe('501');
  });

  it('lists resource types and schemas, custom extension included, and serves each by id', async () => {
    const rt = await t.request('GET', '/ResourceTypes');
    expect(rt.body.Resources.map((r: { id: string }) => r.id)).toEqual(['User', 'Group']);
    expect(rt.body.Resources[0].schemaExtensions).toEqual(
      expect.arrayContaining([
        { schema: ENTERPRISE, required: false },
        { schema: 'urn:example:params:scim:schemas:extension:acme:2.0:User', required: false },
      ]),
    );
    const one = await t.request('GET', '/ResourceTypes/Group');
    expect(one.body.schema).toBe(GROUP_SCHEMA);
    const s = await t.request('GET', `/Schemas/${ENTERPRISE}`);
    expect(s.body.attributes.map((a: { name: string }) => a.name)).toContain('manager');
    const custom = await t.request('GET', '/Schemas/urn:example:params:scim:schemas:extension:acme:2.0:User');
    expect(custom.body.attributes.find((a: { name: string }) => a.name === 'badge').type).toBe('integer');
    expect((await t.request('GET', '/Schemas/urn:nope')).status).toBe(404);
  });
});

describe('or filters of many look-ups (a client matching a batch at once)', () => {
  it('returns exactly the users some branch matches: misses, one user by several branches, any case', async () => {
    const ids: Record<string, string> = {};
    for (const n of [1, 2, 3, 4, 5]) {
      const r = await t.request(
        'POST',
        '/Users',
        user(`or${n}@example.com`, {
          externalId: `or-ext-${n}`,
          emails: [
            { value: `Or.Work${n}@Example.com`, type: 'work' },
            { value: `or.home${n}@example.org`, type: 'home' },
          ],
        }),
      );
      expect(r.status).toBe(201);
      ids[n] = r.body.id as string;
    }
    const filter = [
      'userName eq "OR1@EXAMPLE.COM"', // userName is case-insensitive
      'externalId eq "or-ext-1"', // the same user again
      'externalId eq "OR-EXT-2"', // externalId is case-exact: no match
      'emails[type eq "work"].value eq "or.work3@example.COM"', // emails.value is case-insensitive
      'emails[type eq "work"].value eq "or.home4@example.org"', // a home address is not the work one
      '(userName eq "or5@example.com" and active eq false)', // the and excludes it
      'userName eq "nobody@example.com"',
      'emails[type eq "work"].value eq "nobody@example.com"',
    ].join(' or ');
    const r = await t.request('GET', `/Users?filter=${q(filter)}`);
    expect(r.status).toBe(200);
    expect(r.body.totalResults).toBe(2);
    expect((r.body.Resources as { id: string }[]).map((u) => u.id).sort()).toEqual([ids[1], ids[3]].sort());

    const both = await t.request(
      'GET',
      `/Users?filter=${q('externalId eq "or-ext-2" or userName eq "or5@example.com" or externalId eq "or-ext-9"')}`,
    );
    expect((both.body.Resources as { id: string }[]).map((u) => u.id).sort()).toEqual(
      [ids[2], ids[5]].sort(),
    );
  });

  it('finds groups by displayName in another case, alone and in an or', async () => {
    const sales = await t.request('POST', '/Groups', group('Or Sales'));
    const ops = await t.request('POST', '/Groups', group('Or Ops'));
    const one = await t.request('GET', `/Groups?filter=${q('displayName eq "or sales"')}`);
    expect((one.body.Resources as { id: string }[]).map((g) => g.id)).toEqual([sales.body.id]);
    const r = await t.request(
      'GET',
      `/Groups?filter=${q('displayName eq "OR OPS" or displayName eq "Or Sales" or displayName eq "Or None"')}&excludedAttributes=members`,
    );
    expect((r.body.Resources as { id: string }[]).map((g) => g.id).sort()).toEqual(
      [sales.body.id, ops.body.id].sort(),
    );
  });
});

describe('conformance polish (what strict clients check)', () => {
  const ACME = 'urn:example:params:scim:schemas:extension:acme:2.0:User';

  it('returns group members with value, $ref (absolute), type and display, as /Schemas advertises', async () => {
    const ann = await t.request('POST', '/Users', user('members.ann@example.com', { displayName: 'Ann Member' }));
    const bob = await t.request('POST', '/Users', user('members.bob@example.com'));
    const inner = await t.request('POST', '/Groups', group('Members inner'));
    const outer = await t.request(
      'POST',
      '/Groups',
      group('Members outer', { members: [{ value: ann.body.id }, { value: bob.body.id }, { value: inner.body.id }] }),
    );
    const expected = [
      { value: ann.body.id, $ref: `${t.base}/Users/${ann.body.id}`, type: 'User', display: 'Ann Member' },
      { value: bob.body.id, $ref: `${t.base}/Users/${bob.body.id}`, type: 'User', display: 'members.bob@example.com' },
      { value: inner.body.id, $ref: `${t.base}/Groups/${inner.body.id}`, type: 'Group', display: 'Members inner' },
    ].sort((a, b) => (a.value < b.value ? -1 : 1));
    expect(outer.body.members).toEqual(expected);
    expect((await t.request('GET', `/Groups/${outer.body.id}`)).body.members).toEqual(expected);
    const listed = await t.request('GET', `/Groups?filter=${q('displayName eq "Members outer"')}`);
    expect(listed.body.Resources[0].members).toEqual(expected);
    const byType = await t.request('GET', `/Groups?filter=${q('members.type eq "Group"')}`);
    expect(byType.body.Resources.map((g: { id: string }) => g.id)).toEqual([outer.body.id]);
    // what /Schemas says a member has is what a member has
    const schema = await t.request('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group');
    const advertised = schema.body.attributes
      .find((a: { name: string }) => a.name === 'members')
      .subAttributes.filter((s: { returned: string }) => s.returned === 'default')
      .map((s: { name: string }) => s.name)
      .sort();
    expect(advertised).toEqual(Object.keys(expected[0]!).sort());
  });

  it('returns a manager $ref absolute, as groups.$ref and meta.location are', async () => {
    const boss = await t.request('POST', '/Users', user('ref.boss@example.com'));
    const absolute = `${t.base}/Users/${boss.body.id}`;
    const sent = await t.request(
      'POST',
      '/Users',
      user('ref.report@example.com', { [ENTERPRISE]: { manager: { value: boss.body.id, $ref: absolute } } }),
    );
    expect(sent.body[ENTERPRISE].manager).toEqual({ value: boss.body.id, $ref: absolute });
    const patched = await t.request(
      'PATCH',
      `/Users/${sent.body.id}`,
      patch({ op: 'replace', path: `${ENTERPRISE}:manager`, value: boss.body.id }),
    );
    expect(patched.body[ENTERPRISE].manager.$ref).toBe(absolute);
    expect(patched.body.meta.location).toBe(`${t.base}/Users/${sent.body.id}`);
  });

  it('ignores a schemas key inside an extension object, on POST, PUT and PATCH alike', async () => {
    const created = await t.request(
      'POST',
      '/Users',
      user('ext.schemas@example.com', { schemas: [USER_SCHEMA, ACME], [ACME]: { schemas: [ACME], badge: 3 } }),
    );
    expect(created.status, created.text).toBe(201);
    expect(created.body[ACME]).toEqual({ badge: 3 });
    const id = created.body.id;
    const put = await t.request(
      'PUT',
      `/Users/${id}`,
      user('ext.schemas@example.com', { schemas: [USER_SCHEMA, ACME], [ACME]: { schemas: [ACME], badge: 4 } }),
    );
    expect(put.status, put.text).toBe(200);
    const byPath = await t.request('PATCH', `/Users/${id}`, patch({ op: 'add', path: ACME, value: { schemas: [ACME], badge: 5 } }));
    expect(byPath.status, byPath.text).toBe(200);
    expect(byPath.body[ACME]).toEqual({ badge: 5 });
    const noPath = await t.request(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', value: { [ENTERPRISE]: { schemas: [ENTERPRISE], department: 'Sales' } } }),
    );
    expect(noPath.status, noPath.text).toBe(200);
    expect(noPath.body[ENTERPRISE]).toEqual({ department: 'Sales' });
  });

  it('refuses an unknown key inside an extension object with invalidValue, on POST, PUT and PATCH alike', async () => {
    const ok = await t.request('POST', '/Users', user('ext.unknown@example.com'));
    const id = ok.body.id;
    const attempts: [string, string, unknown][] = [
      ['POST', '/Users', user('ext.unknown2@example.com', { schemas: [USER_SCHEMA, ACME], [ACME]: { badge: 3, shoeSize: 9 } })],
      ['PUT', `/Users/${id}`, user('ext.unknown@example.com', { schemas: [USER_SCHEMA, ENTERPRISE], [ENTERPRISE]: { department: 'x', shoeSize: 9 } })],
      ['PATCH', `/Users/${id}`, patch({ op: 'add', path: ACME, value: { shoeSize: 9 } })],
      ['PATCH', `/Users/${id}`, patch({ op: 'add', value: { [ENTERPRISE]: { shoeSize: 9 } } })],
    ];
    for (const [method, path, body] of attempts) {
      const r = await t.request(method, path, body);
      expect(r.status, `${method} ${r.text}`).toBe(400);
      expect(r.body.scimType, `${method} ${r.text}`).toBe('invalidValue');
      expect(r.body.detail).toMatch(/shoeSize is not an attribute of urn:/);
    }
    expect((await t.request('GET', `/Users/${id}`)).body[ENTERPRISE]).toBeUndefined();
  });
});
