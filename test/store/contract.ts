/**
 * One contract every Store passes (style §1): each store's test file runs it with its own harness
 * (test/store/sqlite.test.ts, test/store/postgres/store.test.ts), so a behaviour is written once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Attributes, encodeAttributes } from '../../src/core/values.js';
import { holderGone, thisProcess } from '../../src/store/lease.js';
import type { Store } from '../../src/store/types.js';

export interface StoreHarness {
  /** a store over a new, empty state */
  create(): Promise<Store>;
  /** another store over the same state as the last one created (a second process, or a reopen) */
  reopen(): Promise<Store>;
  /** runs SQL on the state directly (test setup the interface does not offer) */
  exec(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

const write = (connector: string, anchor: string, attributes: Attributes, objectType = 'person') => ({
  connector,
  objectType,
  anchor,
  name: anchor,
  attributes,
  hash: encodeAttributes(attributes),
});

export function storeContract(name: string, harness: () => StoreHarness): void {
  describe(`the ${name} store`, () => {
    let h: StoreHarness;
    const open: Store[] = [];
    const create = async () => {
      h = harness();
      const s = await h.create();
      open.push(s);
      return s;
    };
    const reopen = async () => {
      const s = await h.reopen();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => {});
      await h?.cleanup();
    });

    it('writes connector-space objects a page at a time and finds them by anchor, name, id and link', async () => {
      const store = await create();
      const ids = await store.writeCs([write('hr', 'E1', { mail: ['a@x'] }), write('hr', 'E2', { mail: ['b@x'], manager: [{ ref: 'E1' }] })]);
      expect(ids).toHaveLength(2);
      expect(ids[1]).toBeGreaterThan(ids[0]!);
      const byAnchor = await store.csByAnchors('hr', ['E1', 'E2', 'E3']);
      expect([...byAnchor.keys()].sort()).toEqual(['E1', 'E2']);
      expect(byAnchor.get('E2')!.attributes).toEqual({ mail: ['b@x'], manager: [{ ref: 'E1' }] });
      expect(byAnchor.get('E2')!.present).toBe(true);
      expect((await store.csByNames('hr', ['E1'])).get('E1')!.id).toBe(ids[0]);
      expect((await store.csByIds(ids)).map((o) => o.anchor).sort()).toEqual(['E1', 'E2']);
      // a page of writes: updates of existing objects beside a new one
      const [e1] = await store.csByIds([ids[0]!]);
      const [same, e3] = await store.writeCs([
        { ...write('hr', 'E1', { mail: ['a2@x'] }), id: ids[0]!, previous: e1! },
        write('hr', 'E3', {}),
      ]);
      expect(same).toBe(ids[0]);
      expect((await store.csByIds([ids[0]!]))[0]!.attributes).toEqual({ mail: ['a2@x'] });
      expect(await store.countCs('hr')).toEqual({ present: 3, linked: 0, pendingCreate: 0 });
      expect(await store.hasImported('hr')).toBe(true);
      expect(await store.hasImported('ad')).toBe(false);
      // every write marks for inbound sync, in id order, a page at a time
      expect((await store.dirtyCs(0, 2)).map((o) => o.id)).toEqual([ids[0], ids[1]]);
      expect((await store.dirtyCs(ids[1]!, 10)).map((o) => o.id)).toEqual([e3]);
      await store.clearCsDirty([ids[0]!, ids[1]!, e3!]);
      expect(await store.dirtyCs(0, 10)).toEqual([]);
      await store.markCsDirty([ids[1]!]);
      expect((await store.dirtyCs(0, 10)).map((o) => o.id)).toEqual([ids[1]]);
      // links
      const mv = await store.createMv('person', { mail: ['a@x'] });
      await store.linkCs(ids[0]!, mv);
      expect((await store.csByMv([mv])).map((o) => o.id)).toEqual([ids[0]]);
      expect((await store.csByMv([mv], { attributes: false }))[0]!.attributes).toEqual({ mail: ['a2@x'] });
      expect(await store.linksIn('hr', [mv])).toEqual([{ mvId: mv, present: true, anchor: 'E1', name: 'E1' }]);
      expect(await store.mvIdsByNames('hr', ['E1', 'E2', 'nope'])).toEqual(new Map([['E1', mv], ['E2', null]]));
      expect(await store.countCs('hr')).toEqual({ present: 3, linked: 1, pendingCreate: 0 });
      // a full import that saw only E1: the others are unseen; gone, then deleted
      const unseen = await store.unseenCs('hr', { ids: new Set([ids[0]!]), anchors: new Set(['E3']) });
      expect(unseen.map((o) => o.anchor)).toEqual(['E2']);
      await store.markCsGone([ids[1]!]);
      expect((await store.csByIds([ids[1]!]))[0]!.present).toBe(false);
      await store.deleteCs([ids[1]!]);
      expect(await store.csByIds([ids[1]!])).toEqual([]);
      expect(await store.csReferencing(['E1'])).toEqual(new Map());
    });

    it('keeps placeholders for objects to create and confirms them with what the target accepted', async () => {
      const store = await create();
      const mv = await store.createMv('person', { mail: ['a@x'] });
      const id = await store.createCsPlaceholder('dir', 'user', mv);
      expect(await store.countCs('dir')).toEqual({ present: 0, linked: 0, pendingCreate: 1 });
      expect(await store.hasImported('dir')).toBe(false);
      const attributes = { userName: ['a@x'] };
      await store.confirmCs(id, { anchor: 'u-1', name: 'a@x', attributes, hash: encodeAttributes(attributes), present: true });
      const [cs] = await store.csByIds([id]);
      expect(cs).toMatchObject({ anchor: 'u-1', name: 'a@x', present: true, mvId: mv });
      expect(cs!.attributes).toEqual(attributes);
    });

    it('keeps the metaverse: match index, references, dirty marks, deletion and purge', async () => {
      const store = await create();
      await store.setIndexedAttributes(['employeeId'], []);
      const boss = await store.createMv('person', { employeeId: ['E1'] });
      const report = await store.createMv('person', { employeeId: ['e2'], manager: [{ ref: boss }] });
      expect(await store.mvMatch('person', 'employeeId', 's:e2')).toEqual([report]);
      expect(await store.mvMatch('group', 'employeeId', 's:e2')).toEqual([]);
      expect(await store.mvReferencing(boss)).toEqual([report]);
      expect((await store.mvByIds([boss, report])).get(report)!.attributes).toEqual({ employeeId: ['e2'], manager: [{ ref: boss }] });
      expect(await store.countMv()).toEqual({ person: 2 });
      expect((await store.dirtyMv('', 10)).sort()).toEqual([boss, report].sort());
      await store.clearMvDirty([boss, report]);
      expect(await store.dirtyMv('', 10)).toEqual([]);
      await store.updateMv(report, { employeeId: ['E3'] });
      expect(await store.mvMatch('person', 'employeeId', 's:e2')).toEqual([]);
      expect(await store.mvMatch('person', 'employeeId', 's:e3')).toEqual([report]);
      expect(await store.mvReferencing(boss)).toEqual([]);
      expect(await store.dirtyMv('', 10)).toEqual([report]);
      await store.deleteMv(report);
      expect((await store.mvByIds([report])).get(report)!.deleted).toBe(true);
      expect(await store.mvMatch('person', 'employeeId', 's:e3')).toEqual([]);
      expect(await store.countMv()).toEqual({ person: 1 });
      await store.purgeMv(report);
      expect((await store.mvByIds([report])).size).toBe(0);
      // a search finds text in ids and attributes, ignoring case
      expect((await store.searchMv('E1', '', 10)).map((m) => m.id)).toEqual([boss]);
      await store.writeCs([write('hr', 'Ann.Lee', { title: ['Chief'] })]);
      expect((await store.searchCs('ann.LEE', 0, 10)).map((o) => o.anchor)).toEqual(['Ann.Lee']);
      expect((await store.searchCs('chief', 0, 10)).map((o) => o.anchor)).toEqual(['Ann.Lee']);
    });

    it('orders pending exports, keeps their state and backoff, and counts them', async () => {
      const store = await create();
      const ids = await store.writeCs(['a', 'b', 'c', 'd', 'e'].map((a) => write('t', a, {})));
      const [a, b, c, d, e] = ids as [number, number, number, number, number];
      const base = { connector: 't', createOnly: [], desiredName: null, rule: 'r' };
      await store.setPending({ ...base, csId: e, op: 'delete', desired: {} });
      await store.setPending({ ...base, csId: d, op: 'update', desired: { title: ['x'] } });
      await store.setPending({ ...base, csId: c, op: 'create', desired: { manager: [{ ref: 'm' }] } });
      await store.setPending({ ...base, csId: b, op: 'update', desired: {}, renames: true, desiredName: 'cn=b2' });
      await store.setPending({ ...base, csId: a, op: 'create', desired: { mail: ['a@x'] } });
      const first = await store.pendingPage('t', null, 3);
      expect(first.map((p) => p.csId)).toEqual([a, b, c]);
      const rest = await store.pendingPage('t', { rank: first[2]!.rank, csId: c }, 10);
      expect(rest.map((p) => p.csId)).toEqual([d, e]);
      expect(await store.countPendingOps('t')).toEqual({ create: 2, update: 2, delete: 1 });
      expect((await store.pendingOfRank('t', 1)).map((p) => [p.csId, p.desiredName])).toEqual([[b, 'cn=b2']]);
      await store.setPendingState([a, b], 'in-flight');
      await store.failPending(d, { code: 'X', message: 'no' }, 123_456_789_000_000);
      expect(await store.countPending('t')).toEqual({ pending: 2, 'in-flight': 2, error: 1, held: 0 });
      expect(await store.pendingByCs(d)).toMatchObject({ state: 'error', attempts: 1, lastError: { code: 'X', message: 'no' }, notBefore: 123_456_789_000_000 });
      // the same change again keeps its backoff; a different one does not wait for it
      await store.setPending({ ...base, csId: d, op: 'update', desired: { title: ['x'] } });
      expect(await store.pendingByCs(d)).toMatchObject({ state: 'pending', notBefore: 123_456_789_000_000 });
      await store.setPending({ ...base, csId: d, op: 'update', desired: { title: ['y'] } });
      expect((await store.pendingByCs(d))!.notBefore).toBe(0);
      // an in-flight export stays in flight when its desired state changes
      await store.setPending({ ...base, csId: a, op: 'create', desired: { mail: ['a2@x'] } });
      expect((await store.pendingByCs(a))!.state).toBe('in-flight');
      expect((await store.pending('t', { state: 'in-flight' })).map((p) => p.csId)).toEqual([a, b]);
      expect((await store.pending('t', { op: 'delete' })).map((p) => p.csId)).toEqual([e]);
      await store.setPending({ ...base, csId: c, op: 'update', desired: {}, disable: true });
      expect((await store.pending('t', { disable: true })).map((p) => p.csId)).toEqual([c]);
      await store.clearPending([a, b]);
      await store.clearPending(c);
      expect((await store.pending('t')).map((p) => p.csId)).toEqual([d, e]);
    });

    it('records object errors, the provisioning log, runs, settings and approvals', async () => {
      const store = await create();
      await store.recordError({ connector: 'hr', key: 'E1', phase: 'import', code: 'BAD', message: 'bad row', location: 'hr.csv:2' });
      await store.recordError({ connector: 'hr', key: 'E1', phase: 'import', code: 'BAD', message: 'still bad' });
      expect(await store.errors('hr')).toMatchObject([{ key: 'E1', attempts: 2, message: 'still bad' }]);
      expect(await store.countErrors()).toEqual({ hr: 1 });
      await store.clearError('hr', 'E1', 'export'); // another phase: stays
      expect(await store.countErrors()).toEqual({ hr: 1 });
      await store.clearError('hr', 'E1', 'import');
      expect(await store.errors()).toEqual([]);

      const run = await store.startRun('full');
      const other = await store.startRun('delta');
      await store.finishRun(run, 'ok', []);
      expect((await store.runs(1))[0]).toMatchObject({ id: other, status: 'running' });
      expect((await store.runsByIds([run, other, 999])).map((r) => r.id)).toEqual([other, run]);
      const entry = (object: string, mvId: string | null = null) => ({
        runId: run, connector: 'hr', object, mvId, phase: 'sync' as const, situation: 'no-match', action: 'project',
        status: 'success' as const, steps: [{ step: 'join', detail: 'none' }], changes: [{ attribute: 'mail', old: [], new: ['a@x'] }],
      });
      await store.appendLog([entry('E1', 'm1'), entry('E2'), { ...entry('E3'), name: 'ann.lee', names: { m1: 'E1' } }]);
      const log = await store.log({});
      expect(log.map((e) => e.object)).toEqual(['E1', 'E2', 'E3']);
      expect(log[0]).toMatchObject({ steps: [{ step: 'join', detail: 'none' }], changes: [{ attribute: 'mail', old: [], new: ['a@x'] }], runId: run });
      expect(log[2]).toMatchObject({ name: 'ann.lee', names: { m1: 'E1' } });
      expect((await store.log({ object: 'm1' })).map((e) => e.object)).toEqual(['E1']);
      expect((await store.log({ object: 'x', objects: { csIds: [], mvIds: ['m1'] } })).map((e) => e.object)).toEqual(['E1']);
      expect((await store.log({ limit: 1 })).map((e) => e.object)).toEqual(['E3']);
      expect(await store.loggedNames(['m1'])).toEqual(new Map([['m1', ['E1']]]));
      await store.appendLog(['old-1', 'old-2', 'old-3'].map((o) => entry(o)));
      await h.exec("UPDATE log SET at = '2020-01-01T00:00:00.000Z' WHERE object LIKE 'old-%'");
      expect(await store.pruneLog('2021-01-01T00:00:00.000Z', 2)).toBe(2);
      expect(await store.pruneLog('2021-01-01T00:00:00.000Z', 2)).toBe(1);
      expect(await store.pruneLog('2021-01-01T00:00:00.000Z', 2)).toBe(0);

      expect(await store.getMeta('k')).toBeNull();
      await store.setMeta('k', 'v');
      await store.setMeta('k', 'w');
      expect(await store.getMeta('k')).toBe('w');
      await store.setMeta('k', null);
      expect(await store.getMeta('k')).toBeNull();
      await store.setWatermark('hr', 'w1');
      expect(await store.getWatermark('hr')).toBe('w1');
      await store.setWatermark('hr', null);
      expect(await store.getWatermark('hr')).toBeNull();

      expect(await store.takeApproval('hr')).toBe(false);
      await store.approve('hr');
      await store.approve('hr');
      expect(await store.hasApproval('hr')).toBe(true);
      expect(await store.takeApproval('hr')).toBe(true);
      expect(await store.hasApproval('hr')).toBe(false);
    });

    it('commits a transaction whole or not at all', async () => {
      const store = await create();
      await store.transaction(async () => {
        await store.setMeta('a', '1');
        await store.transaction(() => store.setMeta('b', '2')); // nested: joins the outer one
      });
      await expect(
        store.transaction(async () => {
          await store.setMeta('a', 'changed');
          await store.writeCs([write('hr', 'E1', {})]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.getMeta('a')).toBe('1');
      expect(await store.getMeta('b')).toBe('2');
      expect(await store.csByAnchors('hr', ['E1'])).toEqual(new Map());
    });

    it('defers per-object writes inside a transaction: reads see them, a rollback drops them, the last link wins', async () => {
      const store = await create();
      await store.setIndexedAttributes(['employeeId'], [{ connector: 'dir', attribute: 'userName' }]);
      const [source] = await store.writeCs([write('hr', 'E1', { employeeId: ['E1'] })]);
      const made = await store.transaction(async () => {
        const mv = await store.createMv('person', { employeeId: ['E1'], manager: [{ ref: 'boss' }] });
        await store.linkCs(source!, 'nobody');
        await store.linkCs(source!, mv); // linked twice before anything is sent: the last one holds
        const placeholder = await store.createCsPlaceholder('dir', 'user', mv);
        await store.setPending({ csId: placeholder, connector: 'dir', op: 'create', desired: { userName: ['a@x'] }, createOnly: [], desiredName: null, rule: 'r' });
        // every read in the transaction sees what it wrote
        expect(await store.mvMatch('person', 'employeeId', 's:e1')).toEqual([mv]);
        expect(await store.mvReferencing('boss')).toEqual([mv]);
        expect((await store.csByIds([source!]))[0]!.mvId).toBe(mv);
        expect((await store.pendingByCs(placeholder))?.op).toBe('create');
        const attributes = { userName: ['a@x'] };
        await store.confirmCs(placeholder, { anchor: 'u-1', name: 'a@x', attributes, hash: encodeAttributes(attributes), present: true });
        // the same object confirmed again in the same transaction: its index rows are those of the last state
        const renamed = { userName: ['b@x'] };
        await store.confirmCs(placeholder, { attributes: renamed, hash: encodeAttributes(renamed), present: true });
        // a second pending export of the same object replaces the first, compared with it
        await store.setPending({ csId: placeholder, connector: 'dir', op: 'update', desired: renamed, createOnly: [], desiredName: null, rule: 'r' });
        return { mv, placeholder };
      });
      expect((await store.csByMv([made.mv])).map((o) => o.id).sort()).toEqual([source!, made.placeholder].sort());
      expect(await store.csMatch('dir', 'user', 'userName', 's:a@x')).toEqual([]);
      expect((await store.csMatch('dir', 'user', 'userName', 's:b@x')).map((o) => o.anchor)).toEqual(['u-1']);
      expect((await store.pendingByCs(made.placeholder))?.op).toBe('update');
      // rolled back: nothing deferred reaches the state, and the next transaction starts clean
      await expect(
        store.transaction(async () => {
          await store.createMv('person', { employeeId: ['E9'] });
          await store.linkCs(source!, null);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.mvMatch('person', 'employeeId', 's:e9')).toEqual([]);
      expect((await store.csByIds([source!]))[0]!.mvId).toBe(made.mv);
      expect(await store.countMv()).toEqual({ person: 1 });
      // outside a transaction a write goes out at once
      await store.linkCs(source!, null);
      expect((await store.csByIds([source!]))[0]!.mvId).toBeNull();
    });

    it('looks up a page of join keys at once, every key answered', async () => {
      const store = await create();
      await store.setIndexedAttributes(['employeeId'], [{ connector: 'dir', objectType: 'user', attribute: 'userName' }]);
      const a = await store.createMv('person', { employeeId: ['E1'] });
      const b = await store.createMv('person', { employeeId: ['E1'] });
      const c = await store.createMv('person', { employeeId: ['E2'] });
      const found = await store.mvMatchMany('person', 'employeeId', ['s:e1', 's:e2', 's:e3']);
      expect(new Map([...found].map(([k, ids]) => [k, ids.sort()]))).toEqual(
        new Map([['s:e1', [a, b].sort()], ['s:e2', [c]], ['s:e3', []]]),
      );
      expect(await store.mvMatchMany('group', 'employeeId', ['s:e1'])).toEqual(new Map([['s:e1', []]]));
      const [u1] = await store.writeCs([write('dir', 'u-1', { userName: ['A@x'] }, 'user')]);
      await store.writeCs([write('dir', 'g-1', { userName: ['a@x'] }, 'group')]);
      const users = await store.csMatchMany('dir', 'user', 'userName', ['s:a@x', 's:b@x']);
      expect([...users].map(([k, objects]) => [k, objects.map((o) => o.id)])).toEqual([['s:a@x', [u1]], ['s:b@x', []]]);
      expect(users.get('s:a@x')![0]!.attributes).toEqual({ userName: ['A@x'] });
    });

    it('names renamed objects by their new names in the referrers of the connectors given, all at once', async () => {
      const store = await create();
      await store.setIndexedReferences(['ad', 'feed']);
      const [report] = await store.writeCs([write('ad', 'r', { manager: [{ ref: 'cn=a' }], member: [{ ref: 'cn=b' }, { ref: 'cn=c' }] })]);
      const [other] = await store.writeCs([write('feed', 'f', { manager: [{ ref: 'cn=a' }] })]);
      await store.clearCsDirty([report!, other!]);
      // a and b swap names; c keeps its own
      await store.renameReferences(['ad'], new Map([['cn=a', 'cn=b'], ['cn=b', 'cn=a']]));
      const [r, f] = await store.csByIds([report!, other!]);
      expect(r!.attributes).toEqual({ manager: [{ ref: 'cn=b' }], member: [{ ref: 'cn=a' }, { ref: 'cn=c' }] });
      expect(f!.attributes).toEqual({ manager: [{ ref: 'cn=a' }] }); // another connector's names: not these
      expect((await store.dirtyCs(0, 10)).map((o) => o.id)).toEqual([report]);
      expect(await store.csReferencing(['cn=b'])).toEqual(new Map([['cn=b', [report]]]));
    });

    it('indexes a connector-space attribute only for the object type whose rule matches on it', async () => {
      const store = await create();
      await store.setIndexedAttributes([], [{ connector: 't', objectType: 'user', attribute: 'externalId' }]);
      const attrs = { externalId: ['X1'] };
      const [user, group] = await store.writeCs([write('t', 'u1', attrs, 'user'), write('t', 'g1', attrs, 'group')]);
      expect((await store.csMatch('t', 'user', 'externalId', 's:x1')).map((o) => o.id)).toEqual([user]);
      expect(await store.csMatch('t', 'group', 'externalId', 's:x1')).toEqual([]);
      // an index for every type of the connector covers the group too, once rebuilt
      await store.setIndexedAttributes([], [{ connector: 't', attribute: 'externalId' }]);
      expect((await store.csMatch('t', 'group', 'externalId', 's:x1')).map((o) => o.id)).toEqual([group]);
    });

    it('holds the references of the connectors inbound sync reads, and indexes a connector once it is read', async () => {
      const referrers = async (s: Store, target: string) => ((await s.csReferencing([target])).get(target) ?? []).sort((x, y) => x - y);
      let store = await create();
      await store.setIndexedReferences(['hr']);
      const [report, second, copy] = await store.writeCs([
        write('hr', 'E2', { manager: [{ ref: 'E1' }] }),
        write('hr', 'E3', { manager: [{ ref: 'E1' }], mentor: [{ ref: 'E9' }] }),
        write('target', 'u2', { manager: [{ ref: 'E1' }] }),
      ]);
      expect(await referrers(store, 'E1')).toEqual([report, second]);
      await store.close();
      // a rule now reads the target: its existing objects' references are indexed when the engine says so
      store = await reopen();
      await store.setIndexedReferences(['hr', 'target']);
      expect(await referrers(store, 'E1')).toEqual([report, second, copy]);
      // and no longer read: dropped
      await store.setIndexedReferences(['target']);
      expect(await referrers(store, 'E1')).toEqual([copy]);
      expect(await referrers(store, 'E9')).toEqual([]);
    });

    it('gives the cycle lease to one holder at a time, across connections to one state, until released', async () => {
      const a = await create();
      const b = await reopen();
      const first = thisProcess('idsync serve');
      const second = thisProcess('idsync run --once');
      expect(await a.acquireLease(first, holderGone)).toBeNull();
      expect(await a.acquireLease(first, holderGone)).toBeNull(); // its own: still its own
      expect(await b.acquireLease(second, holderGone)).toMatchObject({ owner: first.owner, command: 'idsync serve', pid: process.pid });
      expect(await b.renewLease(second.owner, new Date().toISOString())).toBe(false);
      expect(await a.renewLease(first.owner, new Date().toISOString())).toBe(true);
      await b.releaseLease(second.owner); // not its lease: nothing happens
      expect(await b.acquireLease(second, holderGone)).not.toBeNull();
      await a.releaseLease(first.owner);
      expect(await b.acquireLease(second, holderGone)).toBeNull();
      // a holder that is gone loses it
      const third = thisProcess('idsync serve');
      expect(await a.acquireLease(third, () => true)).toBeNull();
      expect(await b.renewLease(second.owner, new Date().toISOString())).toBe(false);
    });

    it('takes the lease for exactly one of several asking at once', async () => {
      const stores = [await create(), await reopen(), await reopen()];
      const holders = stores.map(() => thisProcess('idsync serve'));
      const answers = await Promise.all(stores.map((s, i) => s.acquireLease(holders[i]!, holderGone)));
      expect(answers.filter((x) => x === null)).toHaveLength(1);
    });
  });
}
