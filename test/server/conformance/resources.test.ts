/**
 * Conformance, black box: creating, reading, replacing and deleting resources (RFC 7644 §3.3, §3.4.1, §3.5.1,
 * §3.6), the common attributes and meta (RFC 7643 §3.1), versions and ETags (RFC 7644 §3.14), errors
 * (RFC 7644 §3.12) and media types (RFC 7644 §8.1), against `idsync serve` started by the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliServer,
  ENTERPRISE,
  ERROR,
  GROUP,
  type Resource,
  startCliServer,
  USER,
  unique,
} from '../../helpers/scim-cli-server.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let s: CliServer;
beforeAll(async () => {
  s = await startCliServer();
}, 60_000);
afterAll(async () => {
  await s?.close();
});

const newUser = (more: Record<string, unknown> = {}) => ({
  schemas: [USER],
  userName: unique('user'),
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
  active: true,
  ...more,
});
const create = async (body: Record<string, unknown> = newUser(), kind = 'Users') => {
  const r = await s.request('POST', `/${kind}`, body);
  expect(r.status, r.text).toBe(201);
  return r;
};

/** RFC 7644 §3.12: the error body */
function expectError(
  r: { status: number; body: Resource; headers: Headers },
  status: number,
  scimType?: string,
) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(r.body.schemas).toEqual([ERROR]);
  expect(r.body.status).toBe(String(status));
  expect(typeof r.body.detail).toBe('string');
  if (scimType) expect(r.body.scimType).toBe(scimType);
}

describe('RFC 7644 §3.3: POST creates', () => {
  it('answers 201 with the resource, a Location equal to meta.location, and an ETag equal to meta.version', async () => {
    const body = newUser();
    const r = await create(body);
    expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(typeof r.body.id).toBe('string');
    expect(r.body.userName).toBe(body.userName);
    expect(r.body.meta.resourceType).toBe('User');
    expect(r.body.meta.location).toBe(`${s.base}/Users/${r.body.id}`);
    expect(r.headers.get('location')).toBe(r.body.meta.location);
    expect(r.body.meta.created).toMatch(ISO_DATE);
    expect(r.body.meta.lastModified).toMatch(ISO_DATE);
    expect(typeof r.body.meta.version).toBe('string');
    expect(r.headers.get('etag')).toBe(r.body.meta.version);
  });

  it('behind a TLS-terminating proxy on the same host, Location and meta.location use the public URL', async () => {
    const r = await s.request('POST', '/Users', newUser(), {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'scim.example.com',
    });
    expect(r.status, r.text).toBe(201);
    const path = new URL(s.base).pathname;
    expect(r.body.meta.location).toBe(`https://scim.example.com${path}/Users/${r.body.id}`);
    expect(r.headers.get('location')).toBe(r.body.meta.location);
  });

  it('the server assigns id: a client-sent id is ignored (readOnly)', async () => {
    const r = await create(newUser({ id: 'client-chosen-id' }));
    expect(r.body.id).not.toBe('client-chosen-id');
  });

  it('the client meta is ignored, the server writes its own', async () => {
    const r = await create(newUser({ meta: { resourceType: 'User', created: '2001-01-01T00:00:00Z' } }));
    expect(r.body.meta.created).not.toBe('2001-01-01T00:00:00Z');
  });

  it('accepts Content-Type application/json as well as application/scim+json', async () => {
    const r = await s.request('POST', '/Users', newUser(), { 'content-type': 'application/json' });
    expect(r.status).toBe(201);
  });

  it('attribute names are case-insensitive (RFC 7643 §2.1)', async () => {
    const userName = unique('case');
    const r = await s.request('POST', '/Users', {
      schemas: [USER],
      USERNAME: userName,
      Name: { GivenName: 'Ann' },
      Active: true,
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.userName).toBe(userName);
    expect(r.body.name?.givenName).toBe('Ann');
    expect(r.body.active).toBe(true);
  });

  it('a duplicate userName is 409 uniqueness, in any case (userName is caseExact false)', async () => {
    const body = newUser();
    await create(body);
    expectError(await s.request('POST', '/Users', body), 409, 'uniqueness');
    expectError(
      await s.request('POST', '/Users', { ...body, userName: (body.userName as string).toUpperCase() }),
      409,
      'uniqueness',
    );
  });

  it('non-ASCII values round-trip; userName uniqueness and eq ignore case beyond ASCII', async () => {
    const userName = `Zoë.Ångström.${unique('x')}@example.com`;
    const r = await create(newUser({ userName, displayName: 'Zoë 😀' }));
    expect(r.body).toMatchObject({ userName, displayName: 'Zoë 😀' });
    const found = await s.request(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${userName.toLowerCase()}"`)}`,
    );
    expect(found.body.totalResults).toBe(1);
    expectError(
      await s.request('POST', '/Users', newUser({ userName: userName.toUpperCase() })),
      409,
      'uniqueness',
    );
  });

  it('a missing required attribute (userName) is 400 invalidValue', async () => {
    expectError(await s.request('POST', '/Users', { schemas: [USER], active: true }), 400, 'invalidValue');
  });

  it.each([
    ['active as a number', { active: 5 }],
    ['emails not a list of objects', { emails: 'a@example.com' }],
    ['name as a string', { name: 'Barbara' }],
  ])('a value of the wrong type (%s) is 400', async (_what, more) => {
    const r = await s.request('POST', '/Users', newUser(more));
    expectError(r, 400);
    expect(['invalidValue', 'invalidSyntax']).toContain(r.body.scimType);
  });

  it('malformed JSON is 400 invalidSyntax', async () => {
    expectError(await s.request('POST', '/Users', '{"userName": '), 400, 'invalidSyntax');
  });

  it('a body that is not an object is 400', async () => {
    expectError(await s.request('POST', '/Users', '[1,2]'), 400);
  });

  it('password is accepted but never returned (returned: never, RFC 7643 §4.1.1)', async () => {
    const r = await create(newUser({ password: 't1meMa$heen' }));
    expect(r.body.password).toBeUndefined();
    expect(r.text).not.toContain('t1meMa$heen');
    const read = await s.request('GET', `/Users/${r.body.id}?attributes=password`);
    expect(read.body.password).toBeUndefined();
  });

  it('schemas lists the enterprise extension URN when extension attributes are present (RFC 7643 §3)', async () => {
    const r = await create(
      newUser({
        schemas: [USER, ENTERPRISE],
        [ENTERPRISE]: { department: 'Tour Operations', employeeNumber: '701984' },
      }),
    );
    expect(r.body.schemas).toEqual(expect.arrayContaining([USER, ENTERPRISE]));
    expect(r.body[ENTERPRISE]).toMatchObject({ department: 'Tour Operations', employeeNumber: '701984' });
  });

  it('schemas does not list the extension when the resource has none of its attributes', async () => {
    const r = await create();
    expect(r.body.schemas).not.toContain(ENTERPRISE);
    expect(r.body[ENTERPRISE]).toBeUndefined();
  });

  it('a POST to a resource id is not a create (405 or 404, never 201)', async () => {
    const u = await create();
    const r = await s.request('POST', `/Users/${u.body.id}`, newUser());
    expect([404, 405]).toContain(r.status);
  });

  it('a group displayName already taken is 409 uniqueness (Entra: groups are matched by displayName)', async () => {
    const displayName = unique('group');
    await create({ schemas: [GROUP], displayName }, 'Groups');
    expectError(await s.request('POST', '/Groups', { schemas: [GROUP], displayName }), 409, 'uniqueness');
  });

  it('a group without displayName is 400', async () => {
    expectError(await s.request('POST', '/Groups', { schemas: [GROUP] }), 400);
  });

  it('creates a group with members and answers 201 with them (RFC 7643 §4.2)', async () => {
    const u = await create();
    const r = await create(
      { schemas: [GROUP], displayName: unique('group'), members: [{ value: u.body.id }] },
      'Groups',
    );
    expect(r.body.meta.resourceType).toBe('Group');
    expect(r.headers.get('location')).toBe(`${s.base}/Groups/${r.body.id}`);
    expect(r.body.members).toEqual([expect.objectContaining({ value: u.body.id })]);
  });
});

describe('RFC 7644 §3.4.1: GET by id', () => {
  it('answers 200 with the resource, meta and ETag', async () => {
    const c = await create();
    const r = await s.request('GET', `/Users/${c.body.id}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(r.body).toMatchObject({
      id: c.body.id,
      userName: c.body.userName,
      schemas: expect.arrayContaining([USER]),
    });
    expect(r.body.meta).toEqual(c.body.meta);
    expect(r.headers.get('etag')).toBe(r.body.meta.version);
  });

  it.each([
    ['an unknown id', '/Users/2819c223-7f76-453a-919d-413861904646'],
    ['a group id under /Users', 'GROUP'],
  ])('%s is 404 with an error body', async (_what, path) => {
    let p = path;
    if (path === 'GROUP')
      p = `/Users/${(await create({ schemas: [GROUP], displayName: unique('g') }, 'Groups')).body.id}`;
    expectError(await s.request('GET', p), 404);
  });

  it('a user created in a group lists it in groups (readOnly, RFC 7643 §4.1.2)', async () => {
    const u = await create();
    const g = await create(
      { schemas: [GROUP], displayName: unique('g'), members: [{ value: u.body.id }] },
      'Groups',
    );
    const r = await s.request('GET', `/Users/${u.body.id}`);
    expect(r.body.groups).toEqual([expect.objectContaining({ value: g.body.id })]);
  });

  it.each([
    ['attributes=userName', 'attributes=userName', ['id', 'userName'], ['name', 'emails', 'active']],
    ['attributes=name.givenName', 'attributes=name.givenName', ['id', 'name'], ['userName', 'emails']],
    [
      'excludedAttributes=emails,name',
      'excludedAttributes=emails,name',
      ['id', 'userName', 'active'],
      ['emails', 'name'],
    ],
    ['excludedAttributes=id keeps id (returned: always)', 'excludedAttributes=id', ['id', 'userName'], []],
    ['attribute names in any case', 'attributes=USERNAME', ['id', 'userName'], ['name']],
  ])('RFC 7644 §3.4.2.5 projection on GET: %s', async (_what, query, present, absent) => {
    const c = await create();
    const r = await s.request('GET', `/Users/${c.body.id}?${query}`);
    expect(r.status).toBe(200);
    for (const a of present) expect(r.body[a], a).toBeDefined();
    for (const a of absent) expect(r.body[a], a).toBeUndefined();
    if (query === 'attributes=name.givenName') expect(r.body.name).toEqual({ givenName: 'Barbara' });
  });
});

describe('RFC 7644 §3.5.1: PUT replaces', () => {
  it('answers 200 with the whole resource; attributes left out are cleared; id and meta.created kept', async () => {
    const c = await create(newUser({ title: 'Tour Guide', nickName: 'Babs' }));
    const put = await s.request('PUT', `/Users/${c.body.id}`, {
      schemas: [USER],
      userName: c.body.userName,
      name: { givenName: 'Barbara', familyName: 'Jensen-Smith' },
      active: true,
      title: 'Tour Lead',
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body.id).toBe(c.body.id);
    expect(put.body.name.familyName).toBe('Jensen-Smith');
    expect(put.body.title).toBe('Tour Lead');
    expect(put.body.nickName).toBeUndefined();
    expect(put.body.emails).toBeUndefined();
    expect(put.body.meta.created).toBe(c.body.meta.created);
    expect(put.body.meta.version).not.toBe(c.body.meta.version);
    expect(put.headers.get('etag')).toBe(put.body.meta.version);
    expect(Date.parse(put.body.meta.lastModified)).toBeGreaterThanOrEqual(
      Date.parse(c.body.meta.lastModified),
    );
    const read = await s.request('GET', `/Users/${c.body.id}`);
    expect(read.body.nickName).toBeUndefined();
    expect(read.body.title).toBe('Tour Lead');
  });

  it('an id in the body other than the resource id does not move the resource (readOnly)', async () => {
    const c = await create();
    const r = await s.request('PUT', `/Users/${c.body.id}`, {
      ...newUser(),
      userName: c.body.userName,
      id: 'other',
    });
    expect([200, 400]).toContain(r.status);
    expect((await s.request('GET', `/Users/${c.body.id}`)).status).toBe(200);
    expect((await s.request('GET', '/Users/other')).status).toBe(404);
  });

  it('a PUT to an unknown id is 404', async () => {
    expectError(await s.request('PUT', '/Users/does-not-exist', newUser()), 404);
  });

  it('a PUT taking another user`s userName is 409 uniqueness', async () => {
    const a = await create();
    const b = await create();
    expectError(
      await s.request('PUT', `/Users/${b.body.id}`, { ...newUser(), userName: a.body.userName }),
      409,
      'uniqueness',
    );
  });

  it('a PUT without the required userName is 400', async () => {
    const c = await create();
    expectError(await s.request('PUT', `/Users/${c.body.id}`, { schemas: [USER], active: true }), 400);
  });

  it('PUT a group replaces its members', async () => {
    const [a, b] = [await create(), await create()];
    const g = await create(
      { schemas: [GROUP], displayName: unique('g'), members: [{ value: a.body.id }] },
      'Groups',
    );
    const r = await s.request('PUT', `/Groups/${g.body.id}`, {
      schemas: [GROUP],
      displayName: g.body.displayName,
      members: [{ value: b.body.id }],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.members.map((m: { value: string }) => m.value)).toEqual([b.body.id]);
  });

  it('attributes on PUT project the response (RFC 7644 §3.9)', async () => {
    const c = await create();
    const r = await s.request('PUT', `/Users/${c.body.id}?attributes=userName`, {
      ...newUser(),
      userName: c.body.userName,
    });
    expect(r.status).toBe(200);
    expect(r.body.userName).toBe(c.body.userName);
    expect(r.body.name).toBeUndefined();
  });
});

describe('RFC 7644 §3.6: DELETE', () => {
  it('answers 204 with no body; then GET, PUT, PATCH and DELETE are 404', async () => {
    const c = await create();
    const del = await s.request('DELETE', `/Users/${c.body.id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expectError(await s.request('GET', `/Users/${c.body.id}`), 404);
    expectError(await s.request('PUT', `/Users/${c.body.id}`, newUser()), 404);
    expectError(
      await s.request('PATCH', `/Users/${c.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
      404,
    );
    expectError(await s.request('DELETE', `/Users/${c.body.id}`), 404);
  });

  it('a deleted user is no longer found by a filter and leaves its groups', async () => {
    const c = await create();
    const g = await create(
      { schemas: [GROUP], displayName: unique('g'), members: [{ value: c.body.id }] },
      'Groups',
    );
    await s.request('DELETE', `/Users/${c.body.id}`);
    const q = await s.request(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${c.body.userName}"`)}`,
    );
    expect(q.body.totalResults).toBe(0);
    const group = await s.request('GET', `/Groups/${g.body.id}`);
    expect(group.body.members ?? []).toEqual([]);
  });

  it('the userName of a deleted user can be used again', async () => {
    const body = newUser();
    const c = await create(body);
    await s.request('DELETE', `/Users/${c.body.id}`);
    await create(body);
  });
});

describe('RFC 7644 §3.14: versions and ETags', () => {
  it('If-None-Match with the current ETag is 304 with no body; with an old one, 200', async () => {
    const c = await create();
    const tag = c.headers.get('etag')!;
    const same = await s.request('GET', `/Users/${c.body.id}`, undefined, { 'if-none-match': tag });
    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    await s.request('PUT', `/Users/${c.body.id}`, { ...newUser(), userName: c.body.userName, title: 'x' });
    const changed = await s.request('GET', `/Users/${c.body.id}`, undefined, { 'if-none-match': tag });
    expect(changed.status).toBe(200);
  });

  it.each(['PUT', 'PATCH', 'DELETE'])(
    '%s with a stale If-Match is 412 and changes nothing',
    async (method) => {
      const c = await create();
      const stale = c.headers.get('etag')!;
      await s.request('PUT', `/Users/${c.body.id}`, { ...newUser(), userName: c.body.userName, title: 'v2' });
      const body =
        method === 'PUT'
          ? { ...newUser(), userName: c.body.userName, title: 'v3' }
          : method === 'PATCH'
            ? {
                schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
                Operations: [{ op: 'replace', path: 'title', value: 'v3' }],
              }
            : undefined;
      const r = await s.request(method, `/Users/${c.body.id}`, body, { 'if-match': stale });
      expectError(r, 412);
      const read = await s.request('GET', `/Users/${c.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body.title).toBe('v2');
    },
  );

  it.each(['PUT', 'PATCH', 'DELETE'])('%s with the current If-Match (or *) succeeds', async (method) => {
    const c = await create();
    for (const tag of [c.headers.get('etag')!, '*']) {
      const current = method === 'DELETE' && tag === '*' ? (await create()).body : c.body;
      const body =
        method === 'PUT'
          ? { ...newUser(), userName: current.userName, title: tag }
          : method === 'PATCH'
            ? {
                schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
                Operations: [{ op: 'replace', path: 'title', value: tag }],
              }
            : undefined;
      const r = await s.request(method, `/Users/${current.id}`, body, {
        'if-match': tag === '*' ? '*' : current.meta.version,
      });
      expect(r.status, `${method} If-Match ${tag}: ${r.text}`).toBe(method === 'DELETE' ? 204 : 200);
    }
  });

  it('every change gives a new version; a list shows the same meta.version as GET', async () => {
    const c = await create();
    const versions = new Set([c.body.meta.version]);
    for (const title of ['a', 'b']) {
      const r = await s.request('PATCH', `/Users/${c.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'title', value: title }],
      });
      versions.add(r.body.meta.version);
    }
    expect(versions.size).toBe(3);
    const get = await s.request('GET', `/Users/${c.body.id}`);
    const list = await s.request('GET', `/Users?filter=${encodeURIComponent(`id eq "${c.body.id}"`)}`);
    expect(list.body.Resources[0].meta.version).toBe(get.body.meta.version);
  });
});

describe('RFC 6750 §2.1 / RFC 7235 §2.1: the Authorization header', () => {
  it.each(['bearer', 'BEARER'])('the auth scheme is case-insensitive (%s)', async (scheme) => {
    const r = await fetch(`${s.base}/Users?count=1`, { headers: { authorization: `${scheme} ${s.token}` } });
    expect(r.status).toBe(200);
  });

  it.each([
    ['no header', undefined],
    ['Basic credentials', 'Basic Zm9vOmJhcg=='],
    ['a wrong token', 'Bearer idsync_not-a-real-token'],
  ])('%s is 401 with WWW-Authenticate: Bearer', async (_what, header) => {
    const r = await fetch(`${s.base}/Users`, { headers: header ? { authorization: header } : {} });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });
});

describe('RFC 7644 §3.12: errors', () => {
  it.each([
    ['an unknown endpoint', 'GET', '/Widgets', 404],
    ['a method the resource does not have', 'DELETE', '/Users', [404, 405]],
    ['no token', 'GET', '/Users', 401],
  ])('%s is an error body with status as a string', async (_what, method, path, status) => {
    const r =
      status === 401
        ? await fetch(`${s.base}${path}`).then(async (res) => ({
            status: res.status,
            headers: res.headers,
            body: JSON.parse(await res.text()),
          }))
        : await s.request(method as string, path as string);
    const expected = Array.isArray(status) ? status : [status];
    expect(expected).toContain(r.status);
    expectError(r, r.status);
  });
});
