/**
 * Unit leases in PostgreSQL (store/postgres/leases.ts): one holder per unit, the metaverse exclusive with
 * the connectors, expiry by the database's clock, the fence, and what nodes tell each other.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ClusterMessage,
  connectorUnit,
  METAVERSE_UNIT,
  thisProcess,
  type UnitLease,
  WHOLE_STATE,
} from '../../../src/store/lease.js';
import { PostgresStore } from '../../../src/store/postgres/store.js';
import { createDatabase, type TestDatabase } from '../../helpers/postgres.js';

const opened: PostgresStore[] = [];
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
  for (const d of databases) await d.drop();
});

async function nodes(count: number): Promise<{ db: TestDatabase; stores: PostgresStore[] }> {
  const db = await createDatabase('leases');
  databases.push(db);
  const stores = await Promise.all(Array.from({ length: count }, () => PostgresStore.open(db.url)));
  opened.push(...stores);
  return { db, stores };
}

const lease = (r: { lease: UnitLease } | { busy: unknown }): UnitLease => {
  if (!('lease' in r)) throw new Error(`busy: ${JSON.stringify(r.busy)}`);
  return r.lease;
};

/** what a node paused past its lease finds: the database's clock went past the expiry */
const expire = (db: TestDatabase, unit: string) =>
  db.exec("UPDATE leases SET expires = clock_timestamp() - interval '1 second' WHERE unit = $1", [unit]);

describe('unit leases', () => {
  it('give each connector to one node, several connectors to several nodes, and no connector while the metaverse is held', async () => {
    const { stores } = await nodes(3);
    const [a, b, c] = stores.map((s) => s.units);
    const [ha, hb, hc] = [
      thisProcess('idsync serve'),
      thisProcess('idsync serve'),
      thisProcess('idsync serve'),
    ];
    const hr = lease(await a!.take(connectorUnit('hr'), ha));
    expect(await b!.take(connectorUnit('hr'), hb)).toMatchObject({
      busy: { unit: 'connector:hr', holder: { owner: ha.owner } },
    });
    const cloud = lease(await b!.take(connectorUnit('cloud'), hb));
    // the metaverse is taken beside running connectors, and drains them before syncing
    const mv = lease(await c!.take(METAVERSE_UNIT, hc));
    expect(await c!.drain(mv)).toBe(false);
    // while it is held, no connector lease is given
    expect(await a!.take(connectorUnit('groups'), ha)).toMatchObject({ busy: { unit: METAVERSE_UNIT } });
    await a!.release(hr);
    await b!.release(cloud);
    expect(await c!.drain(mv)).toBe(true);
    // the whole state waits for every unit
    expect(await a!.take(WHOLE_STATE, ha)).toMatchObject({ busy: { unit: METAVERSE_UNIT } });
    await c!.release(mv);
    const whole = lease(await a!.take(WHOLE_STATE, ha));
    expect(await b!.take(connectorUnit('cloud'), hb)).toMatchObject({ busy: { unit: WHOLE_STATE } });
    await a!.release(whole);
    expect(lease(await b!.take(connectorUnit('cloud'), hb)).token).toBe(cloud.token + 1);
  });

  it('of a node that stopped renewing pass to another with a new token; the first node then cannot commit or renew', async () => {
    const { db, stores } = await nodes(2);
    const [paused, other] = stores;
    const [hp, ho] = [thisProcess('idsync serve'), thisProcess('idsync serve')];
    const first = lease(await paused!.units.take(connectorUnit('hr'), hp));
    expect(await paused!.units.renew(first)).toBe(true);
    await paused!.transaction(() => paused!.setMeta('written', 'under the lease'));
    await paused!.units.begin(first, 41);
    await db.exec(
      "INSERT INTO runs(id, kind, started_at, status) VALUES (41, 'delta', '2026-01-01T00:00:00Z', 'running')",
    );
    await expire(db, connectorUnit('hr'));
    const second = lease(await other!.units.take(connectorUnit('hr'), ho));
    expect(second.token).toBe(first.token + 1);
    expect(second.interrupted).toBe(true);
    // the run the first holder left is said interrupted
    expect(await db.exec('SELECT status FROM runs WHERE id = 41')).toEqual([{ status: 'interrupted' }]);
    await expect(
      paused!.transaction(() => paused!.setMeta('written', 'after the lease was lost')),
    ).rejects.toMatchObject({ code: 'STATE_LEASE_LOST' });
    await expect(paused!.setMeta('alone', 'after the lease was lost')).rejects.toMatchObject({
      code: 'STATE_LEASE_LOST',
    });
    await expect(paused!.units.finished(first, 'import')).rejects.toMatchObject({ code: 'STATE_LEASE_LOST' });
    expect(await paused!.units.renew(first)).toBe(false);
    expect(await other!.getMeta('written')).toBe('under the lease');
    expect(await other!.getMeta('alone')).toBeNull();
    // the second holder finishes the phase: what is due is seen by every node
    await other!.units.finished(second, 'import');
    expect((await paused!.units.units()).get(connectorUnit('hr'))).toMatchObject({
      live: true,
      done: { import: second.takenAt },
    });
    await other!.units.release(second);
    expect((await paused!.units.units()).get(connectorUnit('hr'))?.live).toBe(false);
  });

  it('an expired lease cannot be renewed back to life, and the metaverse holder frees expired connector leases', async () => {
    const { db, stores } = await nodes(2);
    const [a, b] = stores.map((s) => s.units);
    const [ha, hb] = [thisProcess('idsync serve'), thisProcess('idsync serve')];
    const hr = lease(await a!.take(connectorUnit('hr'), ha));
    const mv = lease(await b!.take(METAVERSE_UNIT, hb));
    expect(await b!.drain(mv)).toBe(false);
    await expire(db, connectorUnit('hr'));
    expect(await a!.renew(hr)).toBe(false);
    expect(await b!.drain(mv)).toBe(true);
    expect(await db.exec("SELECT owner FROM leases WHERE unit = 'connector:hr'")).toEqual([{ owner: null }]);
  });

  it('of two nodes asking at once go to one', async () => {
    const { stores } = await nodes(3);
    const answers = await Promise.all(
      stores.map((s) => s.units.take(METAVERSE_UNIT, thisProcess('idsync serve'))),
    );
    expect(answers.filter((a) => 'lease' in a)).toHaveLength(1);
  });

  it('carry messages between nodes (NOTIFY): a change, and a released lease', async () => {
    const { stores } = await nodes(2);
    const heard: ClusterMessage[] = [];
    const stop = await stores[1]!.units.listen((m) => heard.push(m));
    await stores[0]!.units.notify({ kind: 'changed', connector: 'hr', at: '2026-12-07T20:00:00.000Z' });
    const l = lease(await stores[0]!.units.take(connectorUnit('hr'), thisProcess('idsync serve')));
    await stores[0]!.units.release(l);
    for (let i = 0; i < 50 && heard.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await stop();
    expect(heard).toEqual([
      { kind: 'changed', connector: 'hr', at: '2026-12-07T20:00:00.000Z' },
      { kind: 'released', unit: 'connector:hr' },
    ]);
  });
});
