/**
 * The entra connector against the Graph emulator (test/connectors/entra/emulator/graph.ts): the shared
 * behaviour suite, then what needs the emulator's knobs and counters — throttling, the per-tenant token
 * bucket, read-after-write delays, synchronization resets, lost create answers, paging, batching.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EntraConnector } from '../../../src/connectors/entra/connector.js';
import { ConnectorError } from '../../../src/core/errors.js';
import type { Attributes } from '../../../src/core/values.js';
import { GraphEmulator } from './emulator/graph.js';
import { behaviourSuite } from './suite.js';
import { anchorOf, emulatorSettings, entraConnector, exportAll, exportOne, importAll, type LogLine, upserts } from './support.js';

describe('behaviour suite against the Graph emulator', () => {
  let emu: GraphEmulator;
  beforeAll(async () => {
    emu = new GraphEmulator({ deltaPageSize: 7, readAfterWriteMs: 300 });
    await emu.start();
  });
  afterAll(async () => {
    await emu.stop();
  });
  behaviourSuite(() => ({ settings: (extra) => emulatorSettings(emu, extra), domain: 'contoso.onmicrosoft.com', patience: 10_000, secret: 'emulator-secret-value' }));
});

let emu: GraphEmulator;
let connector: EntraConnector;
let log: LogLine[];

function user(n: string, extra: Attributes = {}): Attributes {
  return {
    userPrincipalName: [`${n}@contoso.onmicrosoft.com`],
    displayName: [`User ${n}`],
    onPremisesImmutableId: [Buffer.from(`${n}-guid`).toString('base64')],
    usageLocation: ['US'],
    ...extra,
  };
}

describe('against the emulator only', () => {
  beforeEach(async () => {
    emu = new GraphEmulator({ deltaPageSize: 5, extensions: ['extension_0f1e2d3c4b5a69788796a5b4c3d2e1f0_costCenter'] });
    await emu.start();
    log = [];
    connector = entraConnector(emulatorSettings(emu, { consistencyWait: 4, extensionAppId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', extensions: ['costCenter'] }), log);
  });
  afterEach(async () => {
    await connector.close();
    await emu.stop();
  });

  describe('throttling', () => {
    it('honours Retry-After on 429 and 503, and proves it fired', async () => {
      for (let i = 0; i < 5; i++) emu.addUser({ userPrincipalName: `u${i}@contoso.onmicrosoft.com`, displayName: `U${i}` });
      emu.throttleNext(2, { status: 429, retryAfter: 1, paths: /^\/users$/ });
      const started = Date.now();
      const first = await importAll(connector, 'full', null);
      expect(upserts(first.changes)).toHaveLength(5);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900); // two waits of Retry-After: 1
      emu.throttleNext(1, { status: 503, retryAfter: 1, paths: /^\/users$/ });
      await importAll(connector, 'full', null);
      expect(emu.counters.throttled).toBe(3);
      expect(connector.requestStats.throttled).toBe(3);
    });

    it('requests throttled inside a $batch are sent again on their own', async () => {
      const boss = emu.addUser({ userPrincipalName: 'boss@contoso.onmicrosoft.com', displayName: 'Boss' });
      const staff = Array.from({ length: 6 }, (_, i) => emu.addUser({ userPrincipalName: `s${i}@contoso.onmicrosoft.com`, displayName: `S${i}` }));
      const first = await importAll(connector, 'full', null);
      for (const id of staff) emu.patchObject(id, { jobTitle: 'Clerk' });
      // manager reads of changed users go in one $batch; three of them are throttled inside it
      emu.throttleNext(3, { paths: /\/manager$/, retryAfter: 1 });
      const delta = await importAll(connector, 'delta', first.watermark);
      expect(upserts(delta.changes).filter((o) => o.attributes.jobTitle?.[0] === 'Clerk')).toHaveLength(6);
      expect(emu.counters.throttled).toBe(3);
      expect(emu.counters.batches).toBeGreaterThanOrEqual(2);
      expect(boss).toBeTruthy();
    });

    it('a per-tenant token bucket keeps under the limit: no 429 with pacing, 429s without', async () => {
      await emu.stop();
      emu = new GraphEmulator({ rateLimit: 8, retryAfter: 1 });
      await emu.start();
      const paced = entraConnector(emulatorSettings(emu, { rateLimit: 6 }));
      const unpaced = entraConnector(emulatorSettings(emu, { rateLimit: 0, tenantId: emu.options.tenantId }));
      try {
        for (let i = 0; i < 20; i++) await paced.test();
        expect(emu.counters.throttled).toBe(0);
        await new Promise((r) => setTimeout(r, 1500));
        await Promise.all(Array.from({ length: 20 }, () => unpaced.test()));
        expect(emu.counters.throttled).toBeGreaterThan(0);
        expect(unpaced.requestStats.throttled).toBe(emu.counters.throttled);
      } finally {
        await paced.close();
        await unpaced.close();
      }
    });
  });

  describe('eventual consistency', () => {
    it('a create whose answer was lost is found after replication, not created again', async () => {
      await emu.stop();
      emu = new GraphEmulator({ readAfterWriteMs: 1500 });
      await emu.start();
      const c = entraConnector(emulatorSettings(emu, { consistencyWait: 5 }));
      try {
        emu.dropCreateResponses(1);
        const result = await exportOne(c, { op: 'create', id: 'x', objectType: 'user', attributes: user('lost') });
        expect(result.ok).toBe(true);
        expect(emu.users()).toHaveLength(1);
        expect(anchorOf(result)).toBe(emu.users()[0]!.id);
        expect(emu.counters.droppedResponses).toBe(1);
        // the read-after-write delay fired: lookups did not see the new user at first
        expect(emu.counters.hiddenReads).toBeGreaterThan(0);
        expect(c.requestStats.consistencyWaits).toBeGreaterThan(0);
      } finally {
        await c.close();
      }
    });

    it('lookup-before-recreate after a crash waits out replication instead of reporting nothing', async () => {
      await emu.stop();
      emu = new GraphEmulator({ readAfterWriteMs: 1500 });
      await emu.start();
      // created just before the crash: not yet readable
      const id = emu.addUser({ userPrincipalName: 'crash@contoso.onmicrosoft.com', displayName: 'Crash' }, { hidden: true });
      const fresh = entraConnector(emulatorSettings(emu, { consistencyWait: 5 }));
      try {
        const found = await fresh.lookup('user', 'userPrincipalName', ['crash@contoso.onmicrosoft.com']);
        expect(found.map((o) => o.anchor)).toEqual([id]);
        expect(emu.counters.hiddenReads).toBeGreaterThan(0);
      } finally {
        await fresh.close();
      }
    });

    it('references to objects created moments ago are retried until they replicate', async () => {
      await emu.stop();
      emu = new GraphEmulator({ readAfterWriteMs: 1200 });
      await emu.start();
      const c = entraConnector(emulatorSettings(emu, { consistencyWait: 5 }));
      try {
        const boss = anchorOf(await exportOne(c, { op: 'create', id: 'boss', objectType: 'user', attributes: user('boss') }));
        const results = await exportAll(c, [{ op: 'create', id: 'emp', objectType: 'user', attributes: user('emp', { manager: [{ ref: boss }] }) }]);
        const emp = anchorOf(results.get('emp'));
        const g = anchorOf(await exportOne(c, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['New'], members: [{ ref: emp }, { ref: boss }] } }));
        expect(emu.managerOf(emp)).toBe(boss);
        expect(new Set(emu.membersOf(g))).toEqual(new Set([emp, boss]));
        expect(emu.counters.hiddenReads).toBeGreaterThan(0);
        expect(emu.users()).toHaveLength(2);
      } finally {
        await c.close();
      }
    });
  });

  describe('delta', () => {
    it('pages through nextLinks, sends nothing when nothing changed, and reads members@delta changes', async () => {
      const ids = Array.from({ length: 12 }, (_, i) => emu.addUser({ userPrincipalName: `p${i}@contoso.onmicrosoft.com`, displayName: `P${i}` }));
      const g = emu.addGroup({ displayName: 'G', mailNickname: 'g' }, ids.slice(0, 4));
      const full = await importAll(connector, 'full', null, 5);
      expect(emu.log.filter((l) => l.path === '/users').length).toBe(3); // 12 users, 5 a page
      const writes = emu.counters.writes;
      const batchesBefore = emu.counters.batches;
      const quiet = await importAll(connector, 'delta', full.watermark);
      expect(quiet.changes).toEqual([]);
      expect(emu.counters.writes).toBe(writes);
      expect(emu.counters.batches).toBe(batchesBefore);
      emu.patchObject(ids[5]!, { department: 'R&D' });
      const r = await exportOne(connector, { op: 'update', id: 'm', objectType: 'group', anchor: g, changes: { members: { add: [{ ref: ids[6]! }], remove: [{ ref: ids[0]! }] } } });
      expect(r.ok).toBe(true);
      const delta = await importAll(connector, 'delta', quiet.watermark);
      const objects = upserts(delta.changes);
      expect(objects.find((o) => o.anchor === ids[5])?.attributes.department).toEqual(['R&D']);
      expect(new Set(objects.find((o) => o.anchor === g)?.attributes.members?.map((m) => (m as { ref: string }).ref))).toEqual(new Set([ids[1], ids[2], ids[3], ids[6]]));
      expect(connector.deltaMethod(delta.watermark)).toBe('Graph delta query (@odata.deltaLink)');
    });

    it('a synchronization reset (410 Gone) asks the engine for a full import', async () => {
      emu.addUser({ userPrincipalName: 'a@contoso.onmicrosoft.com', displayName: 'A' });
      const full = await importAll(connector, 'full', null);
      emu.resetDeltaTokens();
      const err = await importAll(connector, 'delta', full.watermark).catch((e) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err).toMatchObject({ code: 'ENTRA_DELTA_EXPIRED', fullImportRequired: true });
      expect(emu.counters.deltaGone).toBe(1);
    });

    it('never sends the token to a host other than the configured Graph', async () => {
      const forged = JSON.stringify({ v: 1, user: 'https://attacker.example/v1.0/users/delta?$deltatoken=x', group: 'https://attacker.example/x' });
      const err = await importAll(connector, 'delta', forged).catch((e) => e);
      expect(err).toMatchObject({ code: 'ENTRA_WATERMARK_INVALID', fullImportRequired: true });
    });
  });

  describe('export details', () => {
    it('adds and removes members 20 to a request and removal $refs in JSON batches', async () => {
      const ids = Array.from({ length: 45 }, (_, i) => emu.addUser({ userPrincipalName: `b${i}@contoso.onmicrosoft.com`, displayName: `B${i}` }));
      const g = anchorOf(await exportOne(connector, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['Big'], members: ids.map((ref) => ({ ref })) } }));
      expect(emu.membersOf(g)).toHaveLength(45);
      const binds = emu.log.filter((l) => l.method === 'PATCH' && l.path === `/groups/${g}`);
      expect(binds).toHaveLength(2); // 20 in the POST, 20 + 5 by PATCH
      const batches = emu.counters.batches;
      const r = await exportOne(connector, { op: 'update', id: 'rm', objectType: 'group', anchor: g, changes: { members: { remove: ids.slice(0, 40).map((ref) => ({ ref })) } } });
      expect(r.ok).toBe(true);
      expect(emu.membersOf(g)).toHaveLength(5);
      expect(emu.counters.batches - batches).toBe(2);
    });

    it('a member already present does not fail the add: only the missing ones are sent again', async () => {
      const ids = Array.from({ length: 3 }, (_, i) => emu.addUser({ userPrincipalName: `c${i}@contoso.onmicrosoft.com`, displayName: `C${i}` }));
      const g = emu.addGroup({ displayName: 'C', mailNickname: 'c' }, [ids[0]!]);
      const r = await exportOne(connector, { op: 'update', id: 'add', objectType: 'group', anchor: g, changes: { members: { add: ids.map((ref) => ({ ref })) } } });
      expect(r.ok).toBe(true);
      expect(new Set(emu.membersOf(g))).toEqual(new Set(ids));
    });

    it('updates and deletes of many objects go in $batch requests of at most 20', async () => {
      const ids = Array.from({ length: 30 }, (_, i) => emu.addUser({ userPrincipalName: `d${i}@contoso.onmicrosoft.com`, displayName: `D${i}` }));
      const results = await exportAll(connector, ids.map((anchor, i) => ({ op: 'update' as const, id: `u${i}`, objectType: 'user', anchor, changes: { department: { replace: ['Ops'] } } })));
      expect([...results.values()].every((r) => r.ok)).toBe(true);
      expect(emu.counters.batches).toBe(2);
      expect(emu.counters.batchedRequests).toBe(30);
      expect(emu.users().every((u) => u.department === 'Ops')).toBe(true);
    });

    it('a create sends passwordProfile; an update never does', async () => {
      const id = anchorOf(await exportOne(connector, { op: 'create', id: 'p', objectType: 'user', attributes: user('pw', { password: ['Initial-Pa55word!'] }) }));
      const r = await exportOne(connector, { op: 'update', id: 'p2', objectType: 'user', anchor: id, changes: { password: { replace: ['Other-Pa55word!'] } } });
      expect(r.ok).toBe(true);
      expect(emu.log.filter((l) => l.method === 'PATCH' && l.path === `/users/${id}`)).toHaveLength(0);
      expect(JSON.stringify(log)).not.toContain('Pa55word');
    });

    it('directory extensions and onPremisesExtensionAttributes are written, read and looked up (advanced query)', async () => {
      const ext = 'extension_0f1e2d3c4b5a69788796a5b4c3d2e1f0_costCenter';
      const id = anchorOf(await exportOne(connector, { op: 'create', id: 'e', objectType: 'user', attributes: user('ext', { [ext]: ['CC-7'], 'onPremisesExtensionAttributes.extensionAttribute1': ['blue'] }) }));
      const object = emu.object(id)!;
      expect(object[ext]).toBe('CC-7');
      expect(object.onPremisesExtensionAttributes).toEqual({ extensionAttribute1: 'blue' });
      const [found] = await connector.lookup('user', 'onPremisesExtensionAttributes.extensionAttribute1', ['blue']);
      expect(found?.anchor).toBe(id);
      expect(found?.attributes[ext]).toEqual(['CC-7']);
      const full = upserts((await importAll(connector, 'full', null)).changes);
      expect(full.find((o) => o.anchor === id)?.attributes['onPremisesExtensionAttributes.extensionAttribute1']).toEqual(['blue']);
    });

    it('a uniqueness conflict with someone else\'s user is an object error on the attribute, never a link', async () => {
      emu.addUser({ userPrincipalName: 'taken@contoso.onmicrosoft.com', displayName: 'Someone', onPremisesImmutableId: 'b3RoZXI=' });
      const r = await exportOne(connector, { op: 'create', id: 'c', objectType: 'user', attributes: user('taken') });
      expect(r).toMatchObject({ ok: false, error: { code: 'ENTRA_CONFLICT', attribute: 'userPrincipalName', retryable: false } });
    });
  });

  describe('authentication', () => {
    it('a wrong secret is a connection error that names the AADSTS reason and never the secret', async () => {
      const bad = entraConnector(emulatorSettings(emu, { clientSecret: 'wrong-secret-value-123' }), log);
      try {
        const err = (await bad.test().catch((e) => e)) as ConnectorError;
        expect(err).toMatchObject({ code: 'ENTRA_TOKEN_REFUSED', connection: true });
        expect(err.message).toContain('AADSTS7000215');
        expect(err.message).not.toContain('wrong-secret-value-123');
      } finally {
        await bad.close();
      }
    });

    it('a revoked token is replaced once, transparently', async () => {
      await connector.test();
      emu.revokeTokens();
      await connector.test();
      expect(connector.requestStats.tokenRequests).toBe(2);
      expect(emu.counters.unauthorized).toBe(1);
    });

    it('an expiring token is refreshed before it expires', async () => {
      await emu.stop();
      emu = new GraphEmulator({ tokenLifetime: 2 });
      await emu.start();
      const c = entraConnector(emulatorSettings(emu));
      try {
        await c.test();
        await new Promise((r) => setTimeout(r, 1200));
        await c.test();
        expect(emu.counters.tokenRequests).toBe(2);
        expect(emu.counters.unauthorized).toBe(0);
      } finally {
        await c.close();
      }
    });
  });
});
