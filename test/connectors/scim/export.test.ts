/**
 * Match look-ups and Bulk creates are independent: against a server that advertises Bulk but refuses `or`
 * filters (as scimgateway does), creates are matched by one listing or by single `eq` look-ups, and the ones
 * found absent still go by Bulk, within the advertised maxOperations and maxPayloadSize. Over real HTTP;
 * requests are counted, never timed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import { type ServerOptions, TestScimServer } from './server.js';
import { anchorOf, exportAll, scimConnector } from './support.js';

let server: TestScimServer;
let connector: ScimConnector;

afterEach(async () => {
  await connector?.close();
  await server?.stop();
});

/** a server that advertises Bulk and answers 400 to any filter with `or` */
async function start(options: ServerOptions = {}, settings: Record<string, unknown> = {}): Promise<void> {
  server = new TestScimServer({ bulk: true, ...options, fault: (r) => (r.method === 'GET' && /%20or%20/i.test(r.path) ? { kind: 'status', status: 400, detail: 'or is not supported' } : options.fault?.(r)) });
  await server.start();
  connector = scimConnector(server.url, settings);
}

function attributes(i: number) {
  return { userName: [`user${i}@example.com`], displayName: [`User ${i}`], externalId: [`E${i}`], 'emails[type eq "work"].value': [`user${i}@example.com`] };
}

function creates(from: number, to: number) {
  return Array.from({ length: to - from }, (_, k) => ({ op: 'create' as const, id: `c${from + k}`, objectType: 'user', attributes: attributes(from + k) }));
}

/** Users made on the server directly (by someone else, or by an earlier run whose answer was lost). */
async function seed(from: number, to: number): Promise<Map<number, string>> {
  const ids = new Map<number, string>();
  for (let i = from; i < to; i++) {
    const res = await fetch(`${server.url}/Users`, {
      method: 'POST',
      headers: { 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `user${i}@example.com`, displayName: `User ${i}`, externalId: `E${i}`, emails: [{ type: 'work', value: `user${i}@example.com` }] }),
    });
    ids.set(i, ((await res.json()) as { id: string }).id);
  }
  server.clearLog();
  return ids;
}

function count(method: string, path?: (p: string) => boolean): number {
  return server.log.filter((r) => r.method === method && (!path || path(r.path))).length;
}

function expectEachOnce(n: number): void {
  expect(server.users.size).toBe(n);
  const names = new Set([...server.users.values()].map((u) => u.userName));
  expect(names.size).toBe(n);
}

describe('creates against a server that advertises Bulk and refuses `or`', () => {
  it('500 users: one refused `or`, one listing, Bulk requests of at most bulkSize; pre-existing users linked, not created again', async () => {
    await start();
    const existing = await seed(0, 20);
    const results = await exportAll(connector, creates(0, 500));
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    for (const [i, id] of existing) expect(anchorOf(results.get(`c${i}`))).toBe(id);
    expectEachOnce(500);
    // before: 1,501 GETs and 500 single POSTs
    expect(count('GET', (p) => p.startsWith('/Users'))).toBe(2);
    expect(count('GET', (p) => p.includes('%20or%20'))).toBe(1);
    expect(count('POST', (p) => p === '/Users')).toBe(0);
    expect(count('POST', (p) => p === '/Bulk')).toBe(Math.ceil(480 / 50));
    for (let i = 0; i < 500; i++) expect(server.users.get(anchorOf(results.get(`c${i}`)))!.userName).toBe(`user${i}@example.com`);
  });

  it('remembers the refusal: the next call sends no `or`, and still creates by Bulk', async () => {
    await start();
    await exportAll(connector, creates(0, 10));
    server.clearLog();
    const results = await exportAll(connector, creates(10, 30));
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(count('GET', (p) => p.includes('%20or%20'))).toBe(0);
    expect(count('GET', (p) => p.startsWith('/Users'))).toBe(1);
    expect(count('POST', (p) => p === '/Bulk')).toBe(1);
    expect(count('POST', (p) => p === '/Users')).toBe(0);
    expectEachOnce(30);
  });

  it('a target larger than the look-ups: single eq look-ups instead of the listing, then Bulk', async () => {
    // 100 users in pages of 5 = 20 pages; 4 creates x 3 match attributes = 12 look-ups at most
    await start({ maxResults: 5 });
    const existing = await seed(0, 100);
    const results = await exportAll(connector, [...creates(0, 1), ...creates(100, 103)]);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(anchorOf(results.get('c0'))).toBe(existing.get(0));
    expectEachOnce(103);
    const eqs = count('GET', (p) => p.includes('filter=') && !p.includes('%20or%20'));
    // user0 is found by its first match attribute (1 look-up); each absent user costs one per attribute (3)
    expect(eqs).toBe(1 + 3 * 3);
    // the refused `or`, the first page of the abandoned listing, the look-ups
    expect(count('GET', (p) => p.startsWith('/Users'))).toBe(1 + 1 + eqs);
    expect(count('POST', (p) => p === '/Bulk')).toBe(1);
    expect(count('POST', (p) => p === '/Users')).toBe(0);
  });

  it('respects maxOperations and maxPayloadSize', async () => {
    await start({ bulkMaxOperations: 7, bulkMaxPayloadSize: 1500 }, { bulkSize: 1000 });
    const results = await exportAll(connector, creates(0, 60));
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expectEachOnce(60);
    const bulks = server.log.filter((r) => r.path === '/Bulk');
    expect(bulks.every((b) => b.status === 200)).toBe(true);
    for (const b of bulks) {
      expect(b.body.Operations.length).toBeLessThanOrEqual(7);
      expect(Buffer.byteLength(JSON.stringify(b.body))).toBeLessThanOrEqual(1500);
    }
    // the payload limit, not the 7 operations, splits the requests
    expect(bulks.length).toBeGreaterThan(Math.ceil(60 / 7));
    expect(count('POST', (p) => p === '/Users')).toBe(0);
  });

  it('a Bulk request applied but whose answer is lost: its creates are found by look-up and linked, none made twice', async () => {
    let bulks = 0;
    await start({ fault: (r) => (r.path === '/Bulk' && bulks++ === 0 ? { kind: 'drop-after' } : undefined) }, { bulkSize: 10 });
    const results = await exportAll(connector, creates(0, 30));
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    expectEachOnce(30);
    expect(bulks).toBeGreaterThanOrEqual(3);
    // the 10 of the lost answer went the one-by-one way: looked up (found), never POSTed again
    expect(count('POST', (p) => p === '/Users')).toBe(0);
    for (let i = 0; i < 30; i++) expect(server.users.get(anchorOf(results.get(`c${i}`)))!.userName).toBe(`user${i}@example.com`);
  });

  it('without match-before-create, every create goes by Bulk with no look-up', async () => {
    await start({}, { matchBeforeCreate: false });
    const results = await exportAll(connector, creates(0, 120));
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expectEachOnce(120);
    expect(count('GET', (p) => p.startsWith('/Users'))).toBe(0);
    expect(count('POST', (p) => p === '/Bulk')).toBe(3);
  });
});
