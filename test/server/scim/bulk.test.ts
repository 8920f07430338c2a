/**
 * Bulk (RFC 7644 §3.7) over HTTP: bulkId references (a group created with members created in the same
 * request, in any order), a failing operation, failOnErrors, and the limits (maxOperations, maxPayloadSize).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulk } from '../../../src/server/scim/bulk.js';
import type { ScimService } from '../../../src/server/scim/service.js';
import {
  GROUP_SCHEMA,
  startTestServer,
  type TestServer,
  USER_SCHEMA,
  user,
} from '../../helpers/scim-server.js';

const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({
    config: `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  scim:
    - bulk: { maxOperations: 5, maxPayloadSize: 4096 }
`,
  });
});
afterAll(async () => {
  await t.close();
});

describe('Bulk', () => {
  it('resolves bulkId references, in member values and paths, whatever the order', async () => {
    const r = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        // the group comes first and names members created after it
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'g',
          data: {
            schemas: [GROUP_SCHEMA],
            displayName: 'Bulk group',
            members: [{ value: 'bulkId:u1' }, { value: 'bulkId:u2' }],
          },
        },
        { method: 'POST', path: '/Users', bulkId: 'u1', data: user('bulk1@example.com') },
        { method: 'POST', path: '/Users', bulkId: 'u2', data: user('bulk2@example.com') },
        {
          method: 'PATCH',
          path: '/Users/bulkId:u1',
          data: {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', path: 'title', value: 'Patched' }],
          },
        },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
    const byId = Object.fromEntries(
      r.body.Operations.filter((o: { bulkId?: string }) => o.bulkId).map((o: { bulkId: string }) => [
        o.bulkId,
        o,
      ]),
    );
    expect(byId.g.status).toBe('201');
    expect(byId.u1.status).toBe('201');
    const groupId = byId.g.location.split('/').pop();
    const u1 = byId.u1.location.split('/').pop();
    const u2 = byId.u2.location.split('/').pop();
    const g = await t.request('GET', `/Groups/${groupId}`);
    expect(g.body.members.map((m: { value: string }) => m.value).sort()).toEqual([u1, u2].sort());
    expect((await t.request('GET', `/Users/${u1}`)).body.title).toBe('Patched');
    const patchResult = r.body.Operations.find((o: { method: string }) => o.method === 'PATCH');
    expect(patchResult.status).toBe('200');
  });

  it('reports a failing operation with its SCIM error and runs the rest', async () => {
    const r = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: user('dupbulk@example.com') },
        { method: 'POST', path: '/Users', bulkId: 'b', data: user('DUPBULK@example.com') },
        { method: 'DELETE', path: '/Users/no-such-id' },
        { method: 'POST', path: '/Users', bulkId: 'c', data: user('afterfail@example.com') },
      ],
    });
    expect(r.status).toBe(200);
    const [a, b, del, c] = r.body.Operations;
    expect(a.status).toBe('201');
    expect(b).toMatchObject({
      bulkId: 'b',
      status: '409',
      response: { scimType: 'uniqueness', status: '409' },
    });
    expect(del.status).toBe('404');
    expect(c.status).toBe('201');
  });

  it('fails an operation whose path is not valid percent-encoding on its own, reporting every operation', async () => {
    const r = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'first', data: user('pct-first@example.com') },
        { method: 'PATCH', path: '/Users/%', data: { Operations: [{ op: 'replace', path: 'title', value: 'x' }] } },
        { method: 'DELETE', path: '/Users/%ff' },
        { method: 'PUT', path: '/Groups/%E0%A4%A', data: { schemas: [GROUP_SCHEMA], displayName: 'P' } },
        { method: 'POST', path: '/Users', bulkId: 'last', data: user('pct-last@example.com') },
      ],
    });
    expect(r.status, r.text).toBe(200);
    const [first, patched, deleted, put, last] = r.body.Operations;
    expect(r.body.Operations).toHaveLength(5);
    for (const failed of [patched, deleted, put]) {
      expect(failed).toMatchObject({ status: '400', response: { scimType: 'invalidPath', status: '400' } });
      expect(failed.response.detail).toMatch(/percent/);
    }
    // the client learns the ids of what was created around the failures
    for (const made of [first, last]) {
      expect(made.status).toBe('201');
      expect((await t.request('GET', new URL(made.location).pathname.replace(/^\/scim\/v2/, ''))).status).toBe(200);
    }
  });

  it('stops after failOnErrors errors', async () => {
    const r = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      failOnErrors: 1,
      Operations: [
        { method: 'DELETE', path: '/Users/missing-1' },
        { method: 'POST', path: '/Users', bulkId: 'never', data: user('never@example.com') },
      ],
    });
    expect(r.body.Operations).toHaveLength(1);
    expect(
      (await t.request('GET', `/Users?filter=${encodeURIComponent('userName eq "never@example.com"')}`)).body
        .totalResults,
    ).toBe(0);
  });

  it('fails references to a missing or failed bulkId, and circular ones, with 409', async () => {
    const r = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'x',
          data: { schemas: [GROUP_SCHEMA], displayName: 'X', members: [{ value: 'bulkId:y' }] },
        },
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'y',
          data: { schemas: [GROUP_SCHEMA], displayName: 'Y', members: [{ value: 'bulkId:x' }] },
        },
        {
          method: 'POST',
          path: '/Groups',
          bulkId: 'z',
          data: { schemas: [GROUP_SCHEMA], displayName: 'Z', members: [{ value: 'bulkId:nobody' }] },
        },
      ],
    });
    expect(r.body.Operations.map((o: { status: string }) => o.status)).toEqual(['409', '409', '409']);
  });

  it('refuses more than maxOperations and bodies over maxPayloadSize with 413', async () => {
    const ops = Array.from({ length: 6 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `n${i}`,
      data: user(`n${i}@example.com`),
    }));
    const many = await t.request('POST', '/Bulk', { schemas: [BULK], Operations: ops });
    expect(many.status).toBe(413);
    expect(many.body.detail).toMatch(/5 operations/);
    const big = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        {
          method: 'POST',
          path: '/Users',
          bulkId: 'big',
          data: user('big@example.com', { title: 'x'.repeat(5000) }),
        },
      ],
    });
    expect(big.status).toBe(413);
    expect(big.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    // the server is still there
    expect((await t.request('GET', '/ServiceProviderConfig')).status).toBe(200);
  });

  it('refuses malformed bulk requests with 400', async () => {
    expect((await t.request('POST', '/Bulk', { schemas: [BULK] })).status).toBe(400);
    expect(
      (
        await t.request('POST', '/Bulk', {
          schemas: [BULK],
          Operations: [{ method: 'POST', path: '/Users', data: { schemas: [USER_SCHEMA], userName: 'x' } }],
        })
      ).status,
    ).toBe(400);
    const bad = await t.request('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [{ method: 'FETCH', path: '/Users/x' }],
    });
    expect(bad.body.Operations[0].status).toBe('400');
  });
});

describe('runBulk', () => {
  it('turns an unexpected failure of one operation into that operation\'s 500, logged, and runs the rest', async () => {
    // the unit under test is runBulk: a service whose second create fails as a full disk would
    let n = 0;
    const service = {
      async create() {
        n++;
        if (n === 2) throw new Error('SQLITE_FULL: database or disk is full');
        return { id: `id-${n}`, version: 1, resource: {} };
      },
    } as unknown as ScimService;
    const logged: unknown[] = [];
    const response = await runBulk(
      service,
      {
        Operations: ['a', 'b', 'c'].map((bulkId) => ({ method: 'POST', path: '/Users', bulkId, data: user(`${bulkId}@x`) })),
      },
      'https://idsync.example/scim/v2',
      10,
      () => undefined,
      (err) => logged.push(err),
    );
    const ops = response.Operations as { bulkId: string; status: string; location?: string; response?: { detail: string } }[];
    expect(ops.map((o) => [o.bulkId, o.status])).toEqual([
      ['a', '201'],
      ['b', '500'],
      ['c', '201'],
    ]);
    expect(ops[0]!.location).toBe('https://idsync.example/scim/v2/Users/id-1');
    expect(ops[1]!.response!.detail).not.toContain('SQLITE');
    expect(logged).toHaveLength(1);
  });
});
