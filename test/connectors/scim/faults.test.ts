/**
 * Faults over real HTTP: 429 with Retry-After, 500s, answers later than the client's timeout and connections
 * dropped after the server applied the write. Whatever happens, every change ends applied exactly once: no
 * duplicate user, no lost member. Bounded in requests and time.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExportChange, ExportResult } from '../../../src/connectors/contract.js';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import { retryAfterMs } from '../../../src/core/http-retry.js';
import { type Fault, type RequestInfo, TestScimServer } from './server.js';
import { exportAll, scimConnector } from './support.js';

let server: TestScimServer;
let connector: ScimConnector | undefined;

afterEach(async () => {
  await connector?.close();
  connector = undefined;
  await server?.stop();
});

/** Sends changes as the engine would: failed ones again (same id) in later "cycles", until all succeed. */
async function untilDone(c: ScimConnector, changes: ExportChange[], maxRounds = 12): Promise<{ results: Map<string, ExportResult>; rounds: number }> {
  const results = new Map<string, ExportResult>();
  let left = changes;
  let rounds = 0;
  while (left.length > 0 && rounds < maxRounds) {
    rounds++;
    const got = await exportAll(c, left);
    for (const [id, r] of got) results.set(id, r);
    left = left.filter((ch) => !got.get(ch.id)?.ok);
  }
  return { results, rounds };
}

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP-dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });

  it('waits as long as a 429 says before trying again', async () => {
    let throttled = 0;
    server = new TestScimServer({
      fault: (r) => (r.method === 'POST' && throttled++ === 0 ? { kind: 'status', status: 429, retryAfter: '1' } : undefined),
    });
    await server.start();
    connector = scimConnector(server.url, { matchBeforeCreate: false });
    const started = Date.now();
    const results = await exportAll(connector, [{ op: 'create', id: 'a', objectType: 'user', attributes: { userName: ['a@example.com'] } }]);
    expect(results.get('a')!.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.users.size).toBe(1);
  });

  it('leaves a change for a later cycle when Retry-After is longer than maxRetryAfter', async () => {
    server = new TestScimServer({ fault: (r) => (r.method === 'POST' ? { kind: 'status', status: 503, retryAfter: '3600' } : undefined) });
    await server.start();
    connector = scimConnector(server.url, { maxRetryAfter: 5 });
    const started = Date.now();
    const r = (await exportAll(connector, [{ op: 'create', id: 'a', objectType: 'user', attributes: { userName: ['a@example.com'] } }])).get('a')!;
    expect(r.ok === false && r.error).toMatchObject({ retryable: true, remoteCode: 503 });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('exactly once under faults', () => {
  it('creates, updates and membership changes survive 500s, 429s, timeouts and dropped connections', async () => {
    let posts = 0;
    let patches = 0;
    const injected = new Map<string, number>();
    const fault = (r: RequestInfo): Fault | undefined => {
      const f = pick(r);
      if (f) injected.set(f.kind, (injected.get(f.kind) ?? 0) + 1);
      return f;
    };
    const pick = (r: RequestInfo): Fault | undefined => {
      if (r.method === 'POST') {
        posts++;
        if (posts % 5 === 0) return { kind: 'drop-after' };
        if (posts % 7 === 0) return { kind: 'delay', ms: 700 };
        if (posts % 11 === 0) return { kind: 'status', status: 500 };
      }
      if (r.method === 'PATCH') {
        patches++;
        if (patches % 3 === 0) return { kind: 'drop-after' };
        if (patches % 4 === 0) return { kind: 'status', status: 429, retryAfter: '0' };
        if (patches % 5 === 0) return { kind: 'delay', ms: 700 };
      }
      if (r.method === 'GET' && r.count % 13 === 0) return { kind: 'status', status: 502 };
      return undefined;
    };
    server = new TestScimServer({ fault });
    await server.start();
    connector = scimConnector(server.url, { timeout: 0.4, maxAttempts: 3, memberBatchSize: 10 });
    const started = Date.now();

    const creates: ExportChange[] = Array.from({ length: 60 }, (_, i) => ({
      op: 'create',
      id: `u${i}`,
      objectType: 'user',
      attributes: { userName: [`user${i}@example.com`], externalId: [`E${i}`], displayName: [`User ${i}`], active: [true] },
    }));
    const created = await untilDone(connector, creates);
    expect([...created.results.values()].every((r) => r.ok)).toBe(true);
    expect(server.users.size).toBe(60);
    const anchors = creates.map((c) => (created.results.get(c.id) as { anchor: string }).anchor);
    expect(new Set(anchors).size).toBe(60);
    for (const [i, a] of anchors.entries()) expect(server.users.get(a)!.userName).toBe(`user${i}@example.com`);

    const group = await untilDone(connector, [
      { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['Team'], externalId: ['G1'], members: anchors.slice(0, 45).map((ref) => ({ ref })) } },
    ]);
    const gid = (group.results.get('g') as { anchor: string }).anchor;
    expect(server.groups.size).toBe(1);
    expect(server.groups.get(gid)!.members.map((m: { value: string }) => m.value).sort()).toEqual(anchors.slice(0, 45).sort());

    const updates: ExportChange[] = [
      { op: 'update', id: 'g', objectType: 'group', anchor: gid, changes: { members: { add: anchors.slice(45, 60).map((ref) => ({ ref })), remove: anchors.slice(0, 12).map((ref) => ({ ref })) } } },
      ...anchors.slice(0, 20).map((a, i): ExportChange => ({ op: 'update', id: `n${i}`, objectType: 'user', anchor: a, changes: { displayName: { replace: [`Renamed ${i}`] }, active: { replace: [i % 2 === 0] } } })),
    ];
    const updated = await untilDone(connector, updates);
    expect([...updated.results.values()].every((r) => r.ok)).toBe(true);
    expect(server.groups.get(gid)!.members.map((m: { value: string }) => m.value).sort()).toEqual(anchors.slice(12, 60).sort());
    for (let i = 0; i < 20; i++) {
      expect(server.users.get(anchors[i]!)!.displayName).toBe(`Renamed ${i}`);
      expect(server.users.get(anchors[i]!)!.active).toBe(i % 2 === 0);
    }
    expect(server.users.size).toBe(60);
    expect(server.log.length).toBeLessThan(2000);
    // the faults did happen, of every kind
    expect(injected.get('drop-after')).toBeGreaterThan(10);
    expect(injected.get('delay')).toBeGreaterThan(5);
    expect(injected.get('status')).toBeGreaterThan(10);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);

  it('a 409 on create (the object is there already) links it', async () => {
    server = new TestScimServer();
    await server.start();
    connector = scimConnector(server.url, { matchBeforeCreate: false });
    const first = await exportAll(connector, [{ op: 'create', id: 'a', objectType: 'user', attributes: { userName: ['a@example.com'], displayName: ['A'] } }]);
    const again = await exportAll(connector, [{ op: 'create', id: 'b', objectType: 'user', attributes: { userName: ['A@example.com'], displayName: ['A2'] } }]);
    expect((again.get('b') as { anchor: string }).anchor).toBe((first.get('a') as { anchor: string }).anchor);
    expect(server.users.size).toBe(1);
    expect([...server.users.values()][0]!.displayName).toBe('A2');
  });
});

describe('an unreachable target', () => {
  it('fails fast with retryable errors instead of trying every change', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    server = new TestScimServer();
    connector = scimConnector(`http://127.0.0.1:${port}/scim/v2`, { maxAttempts: 2 });
    const changes: ExportChange[] = Array.from({ length: 30 }, (_, i) => ({ op: 'create', id: `u${i}`, objectType: 'user', attributes: { userName: [`u${i}@example.com`] } }));
    const started = Date.now();
    await expect(exportAll(connector, changes)).rejects.toMatchObject({ retryable: true, place: { connector: 'cloud' } });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('Bulk under faults', () => {
  it('a Bulk request whose answer is lost creates nothing twice', async () => {
    let bulks = 0;
    server = new TestScimServer({ bulk: true, fault: (r) => (r.path === '/Bulk' && bulks++ % 2 === 0 ? { kind: 'drop-after' } : undefined) });
    await server.start();
    connector = scimConnector(server.url, { bulkSize: 10 });
    const changes: ExportChange[] = Array.from({ length: 40 }, (_, i) => ({ op: 'create', id: `u${i}`, objectType: 'user', attributes: { userName: [`u${i}@example.com`], externalId: [`X${i}`] } }));
    const { results } = await untilDone(connector, changes);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(server.users.size).toBe(40);
    expect(new Set([...results.values()].map((r) => (r as { anchor: string }).anchor)).size).toBe(40);
    expect(bulks).toBeGreaterThanOrEqual(2);
  });
});

describe('the request-rate limit', () => {
  it('spaces requests to the configured rate', async () => {
    server = new TestScimServer();
    await server.start();
    connector = scimConnector(server.url, { rateLimit: 20, matchBeforeCreate: false, concurrency: 8 });
    await connector.test();
    const changes: ExportChange[] = Array.from({ length: 30 }, (_, i) => ({ op: 'create', id: `u${i}`, objectType: 'user', attributes: { userName: [`u${i}@example.com`] } }));
    const started = Date.now();
    const results = await exportAll(connector, changes);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    // a bucket of 20 (spent partly by discovery), then 20 a second: at least half a second for 30 creates
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });
});

