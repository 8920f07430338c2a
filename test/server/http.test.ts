/**
 * The HTTP layer under bad input and load: malformed and oversize bodies, wrong content types, unknown
 * routes, and concurrent writes to one group. The server answers each with a SCIM error and stays up.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { group, patch, send, startTestServer, type TestServer, user } from '../helpers/scim-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({
    config: `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  bodyLimit: 10000
`,
  });
});
afterAll(async () => {
  await t.close();
});

const stillUp = async () => expect((await t.request('GET', '/ServiceProviderConfig')).status).toBe(200);

describe('bad input', () => {
  it('answers malformed JSON with 400 invalidSyntax, without quoting the body', async () => {
    const quoted = await t.request('POST', '/Users', 'password: Hunter2-secret');
    expect(quoted.status).toBe(400);
    expect(quoted.text).not.toContain('Hunter2');
    for (const body of ['{"schemas": [', '{userName: x}', 'null', '[1,2]', '"a string"', '{"a":1}}']) {
      const r = await t.request('POST', '/Users', body);
      expect(r.status, body).toBe(400);
      expect(r.body.schemas, body).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    }
    await stillUp();
  });

  it('answers a body over the limit with 413, by Content-Length and when streamed', async () => {
    const r = await t.request('POST', '/Users', user('big@example.com', { title: 'x'.repeat(20_000) }));
    expect(r.status).toBe(413);
    expect(r.body.detail).toContain('10000');
    // chunked, no Content-Length: the limit applies while reading
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${t.base}/Users`);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${t.token}`,
            'content-type': 'application/scim+json',
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"');
      for (let i = 0; i < 30; i++) req.write('y'.repeat(1000));
      req.end('"}');
    });
    expect(status).toBe(413);
    await stillUp();
  });

  it('accepts application/json and no content type, as clients vary', async () => {
    const asJson = await t.request('POST', '/Users', user('json@example.com'), {
      'content-type': 'application/json',
    });
    expect(asJson.status).toBe(201);
    const plain = await t.request('POST', '/Users', user('plain@example.com'), {
      'content-type': 'text/plain',
    });
    expect(plain.status).toBe(201);
  });

  it('answers wrong shapes everywhere with 4xx, never 500', async () => {
    const c = await t.request('POST', '/Users', user('shapes@example.com'));
    const id = c.body.id;
    const attempts: [string, string, unknown][] = [
      ['POST', '/Users', { schemas: 'not-an-array', userName: 'x' }],
      ['POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], userName: 'x' }],
      [
        'POST',
        '/Users',
        { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'y', emails: 'not-a-list' },
      ],
      [
        'POST',
        '/Users',
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'z',
          emails: [{ value: { nested: true }, type: 'work' }],
        },
      ],
      ['POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'] }],
      [
        'POST',
        '/Groups',
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: 'G',
          members: [{ value: 42 }],
        },
      ],
      ['PUT', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] }],
      ['PATCH', `/Users/${id}`, { Operations: 'replace' }],
      ['PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: [1, 2] })],
      ['PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'name', value: 'flat' })],
      [
        'PATCH',
        `/Users/${id}`,
        patch({
          op: 'add',
          path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager',
          value: { value: ['a', 'b'] },
        }),
      ],
      ['PATCH', '/Users/no-such-user', patch({ op: 'replace', path: 'title', value: 'x' })],
      ['GET', `/Users?filter=${encodeURIComponent('a'.repeat(11_000))}`, undefined],
      [
        'GET',
        `/Users?filter=${encodeURIComponent(`${'('.repeat(200)}userName eq "a"${')'.repeat(200)}`)}`,
        undefined,
      ],
      ['GET', '/Users?count=1&count=2', undefined],
      ['DELETE', '/Groups/no-such-group', undefined],
      ['GET', `/Groups/${id}`, undefined],
    ];
    for (const [method, path, body] of attempts) {
      const r = await t.request(method, path, body);
      expect(
        r.status,
        `${method} ${path.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 80)}`,
      ).toBeGreaterThanOrEqual(400);
      expect(
        r.status,
        `${method} ${path.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 80)} → ${r.text}`,
      ).toBeLessThan(500);
      expect(r.body?.schemas, `${method} ${path.slice(0, 80)}`).toEqual([
        'urn:ietf:params:scim:api:messages:2.0:Error',
      ]);
    }
    await stillUp();
  });

  it('refuses bodies nested deeper than any SCIM resource, and ignores __proto__ keys', async () => {
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const nested = await t.request(
      'POST',
      '/Users',
      `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"deep","x":${deep(1500)}}`,
    );
    expect(nested.status).toBe(400);
    expect(nested.body.detail).toMatch(/deeper than 32/);
    const proto = await t.request(
      'POST',
      '/Users',
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"proto@example.com","__proto__":{"userName":"x","admin":true}}',
    );
    expect(proto.status).toBe(201);
    expect(proto.body.admin).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    await stillUp();
  });

  it('answers unknown routes with a SCIM 404', async () => {
    const r = await t.request('GET', '/Widgets');
    expect(r.status).toBe(404);
    expect(r.body.status).toBe('404');
  });

  it('routes without regard to case and trailing slashes', async () => {
    expect((await t.request('GET', '/users/')).status).toBe(200);
    expect((await t.request('GET', '/serviceproviderconfig')).status).toBe(200);
  });
});

describe('concurrent writes', () => {
  it('loses no member when many PATCHes add members to one group at once', async () => {
    const g = await t.request('POST', '/Groups', group('Busy'));
    const ids: string[] = [];
    for (let i = 0; i < 60; i++)
      ids.push((await t.request('POST', '/Users', user(`c${i}@example.com`))).body.id);
    const results = await Promise.all(
      ids.map((id) =>
        t.request(
          'PATCH',
          `/Groups/${g.body.id}`,
          patch({ op: 'add', path: 'members', value: [{ value: id }] }),
        ),
      ),
    );
    expect(results.every((r) => r.status === 204)).toBe(true);
    const members = t.directory().memberIds(g.body.id);
    expect(members.sort()).toEqual([...ids].sort());
    // and a removal racing additions leaves exactly what the operations say
    await Promise.all([
      ...ids
        .slice(0, 30)
        .map((id) =>
          t.request(
            'PATCH',
            `/Groups/${g.body.id}`,
            patch({ op: 'remove', path: `members[value eq "${id}"]` }),
          ),
        ),
      t.request(
        'PATCH',
        `/Groups/${g.body.id}`,
        patch({ op: 'replace', path: 'displayName', value: 'Busy 2' }),
      ),
    ]);
    expect(t.directory().memberIds(g.body.id).sort()).toEqual(ids.slice(30).sort());
    expect(t.directory().get(g.body.id, { members: false })!.attributes.displayName).toEqual(['Busy 2']);
  });

  it('applies concurrent PUTs without If-Match one after the other, refusing none', async () => {
    const created = await t.request('POST', '/Users', user('put-race@example.com'));
    const id = created.body.id;
    const titles = Array.from({ length: 20 }, (_, i) => `Title ${i}`);
    const results = await Promise.all(
      titles.map((title) => t.request('PUT', `/Users/${id}`, user('put-race@example.com', { title }))),
    );
    expect(results.map((r) => r.status)).toEqual(titles.map(() => 200));
    const after = await t.request('GET', `/Users/${id}`);
    // each PUT changed the title, so each made a version of its own
    expect(after.body.meta.version).toBe(`W/"${Number(/\d+/.exec(created.body.meta.version)![0]) + 20}"`);
    expect(titles).toContain(after.body.title);
    // a precondition still holds: an If-Match naming an old version is refused
    const stale = await t.request('PUT', `/Users/${id}`, user('put-race@example.com'), {
      'if-match': created.body.meta.version,
    });
    expect(stale.status).toBe(412);
  });

  it('creates one user when the same userName is posted many times at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.request('POST', '/Users', user('race@example.com'))),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
  });
});

describe('numbers and paths from fuzzing', () => {
  it('answers a startIndex or count beyond any page with 400 invalidValue on every .search, as GET does', async () => {
    // 2^63 arrives as 9223372036854775808 (no exact double), 1e300 and 1e20 as integers JavaScript can hold
    for (const path of ['/.search', '/Users/.search', '/Groups/.search']) {
      for (const big of ['1e300', '1e20', '9223372036854775808']) {
        for (const name of ['startIndex', 'count']) {
          const r = await t.request(
            'POST',
            path,
            `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"${name}":${big}}`,
          );
          expect(r.status, `${path} ${name} ${big}: ${r.text}`).toBe(400);
          expect(r.body.scimType, `${path} ${name} ${big}`).toBe('invalidValue');
        }
      }
      const get = await t.request('GET', `${path.replace('/.search', '') || '/Users'}?startIndex=1e300`);
      expect(get.status).toBe(400);
      // the largest accepted start is still a page, empty
      const ok = await t.request('POST', path, { startIndex: 999_999_999_999_999, count: 2 });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.Resources).toEqual([]);
    }
    await stillUp();
  });

  it('refuses a filter on discovery endpoints by the path, not by what the query string holds', async () => {
    const filter = encodeURIComponent('userName eq "nobody"');
    const users = await t.request('GET', `/Users?filter=${filter}&x=/Schemas`);
    expect(users.status, users.text).toBe(200);
    const groups = await t.request('GET', `/Groups?filter=${filter}&next=/ResourceTypes/User`);
    expect(groups.status, groups.text).toBe(200);
    for (const path of ['/Schemas', '/ResourceTypes', '/ServiceProviderConfig', '/Schemas/urn:x']) {
      expect((await t.request('GET', `${path}?filter=${filter}`)).status, path).toBe(403);
    }
  });

  it('sends application/scim+json with no parameter (RFC 7644 §8.1), on success and on error', async () => {
    const created = await t.request('POST', '/Users', user('ctype@example.com'));
    const responses = [
      created,
      await t.request('GET', `/Users/${created.body.id}`),
      await t.request('GET', '/Users'),
      await t.request('GET', '/Schemas'),
      await t.request('POST', '/Users', '{bad'),
      await t.request('GET', '/Users/no-such-user'),
      await t.request('GET', '/Widgets'),
      await send(t.base, undefined, 'GET', '/Users'),
    ];
    for (const r of responses) expect(r.headers.get('content-type'), `${r.status} ${r.text}`).toBe('application/scim+json');
  });
});
