/**
 * Several `idsync serve` nodes on one PostgreSQL state (docs/scale-out.md): real processes in folders of
 * their own, one shared SCIM target. A node killed or paused in the middle of the work has its leases taken
 * by another; the end state is the one an uninterrupted run leaves; a node that wakes up after its lease was
 * taken cannot write under it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sampleGroups } from '../../../src/samples/people.js';
import { SCHEMA_VERSION } from '../../../src/store/sql/version.js';
import { createDatabase, type TestDatabase } from '../../helpers/postgres.js';
import {
  clusterConfig,
  leases,
  type Node,
  startNode,
  startTarget,
  type Target,
  waitFor,
  work,
} from './support.js';

const PEOPLE = Number(process.env.IDSYNC_CLUSTER_PEOPLE ?? 2_000);
const EXTRA_GROUPS = 20;
/** the groups of the feed: one per department, and the extra ones */
const groupsOf = (people: number) => sampleGroups(people, EXTRA_GROUPS, 50).length;

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function setup(label: string): Promise<{ db: TestDatabase; target: Target }> {
  const db = await createDatabase(label);
  const target = await startTarget();
  cleanups.push(
    () => db.drop(),
    () => target.close(),
  );
  return { db, target };
}

function nodes(count: number, config: string, people: number): Node[] {
  const list = Array.from({ length: count }, () => startNode(config, people, EXTRA_GROUPS));
  for (const n of list) cleanups.push(() => n.stop());
  return list;
}

/** Waits until the target has every user and every group, and no export waits and no lease is held. */
async function settled(db: TestDatabase, target: Target, people: number, timeoutMs: number): Promise<void> {
  await waitFor(
    'the cluster to finish',
    async () => {
      const c = target.counts();
      const w = await work(db);
      return c.users === people && c.groups === groupsOf(people) && w.pending === 0 && w.live === 0;
    },
    timeoutMs,
    1000,
  );
}

/** Objects of the target connector's space without an export logged as done (0: the provisioning log is complete). */
async function unlogged(db: TestDatabase): Promise<number> {
  const [row] = await db.exec(
    `SELECT count(*)::int AS n FROM cs WHERE connector = 'cloud' AND present = 1
       AND NOT EXISTS (SELECT 1 FROM log WHERE log.cs_id = cs.id AND log.phase = 'export' AND log.status = 'success')`,
  );
  return Number(row!.n);
}

describe('several idsync serve nodes on one PostgreSQL state', () => {
  it(`a node SIGKILLed in the middle of a ${PEOPLE.toLocaleString('en')}-person cycle: another takes its lease within the expiry and finishes; the end state is an uninterrupted run's`, async () => {
    // the reference: one node alone, never interrupted
    const ref = await setup('cluster_ref');
    const [alone] = nodes(1, clusterConfig(ref.db.url, ref.target), PEOPLE);
    await settled(ref.db, ref.target, PEOPLE, 900_000);
    await alone!.stop();

    const { db, target } = await setup('cluster_kill');
    const three = nodes(3, clusterConfig(db.url, target), PEOPLE);
    // the node exporting to the target, once a tenth of the users are there
    const victim = await waitFor(
      'an export in progress',
      async () => {
        const held = (await leases(db)).find((l) => l.unit === 'connector:cloud' && l.live);
        return held && target.counts().users >= PEOPLE / 10 ? held : undefined;
      },
      900_000,
    );
    const node = three.find((n) => n.pid === victim.pid)!;
    expect(node, `the lease names pid ${victim.pid}, one of the nodes`).toBeDefined();
    node.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(target.counts().users).toBeLessThan(PEOPLE);
    const taken = await waitFor(
      'another node to take the lease',
      async () =>
        (await leases(db)).find((l) => l.unit === 'connector:cloud' && l.live && l.pid !== victim.pid),
      120_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(taken.token).toBeGreaterThan(victim.token);
    // the lease expires 15 s after its last renewal (every 5 s); polled every 250 ms, on a shared machine
    expect(takeoverMs, `taken ${takeoverMs} ms after the kill`).toBeLessThan(25_000);
    await settled(db, target, PEOPLE, 900_000);

    // the same as the uninterrupted run: every user once, created once, the provisioning log complete
    expect(target.counts()).toEqual(ref.target.counts());
    expect(target.snapshot()).toEqual(ref.target.snapshot());
    expect(target.created.size).toBe(PEOPLE);
    expect([...target.created.values()].filter((n) => n !== 1)).toEqual([]);
    expect(await unlogged(db)).toBe(0);
    expect(
      await db.exec("SELECT count(*)::int AS n FROM cs WHERE connector = 'cloud' AND present = 1"),
    ).toEqual([{ n: PEOPLE + groupsOf(PEOPLE) }]);
    expect(await db.exec('SELECT count(*)::int AS n FROM mv WHERE deleted = 0')).toEqual([
      { n: PEOPLE + groupsOf(PEOPLE) },
    ]);
    // the killed node's run is marked interrupted, not left running
    expect(await db.exec("SELECT id FROM runs WHERE status = 'running'")).toEqual([]);
    expect(
      (await db.exec("SELECT count(*)::int AS n FROM runs WHERE status = 'interrupted'"))[0]!.n,
    ).toBeGreaterThan(0);
    // the work was spread: phases ran on more than one node
    const worked = three.filter((n) =>
      n.reports().some((r) => r.connectors.some((s) => s.phase === 'import' || s.phase === 'export')),
    );
    expect(worked.length).toBeGreaterThan(1);
  }, 1_800_000);

  it('a lease holder paused (SIGSTOP) past its lease and woken up: another took it, the woken node finds its writes refused, nothing is written twice', async () => {
    const people = Math.min(PEOPLE, 3000);
    const { db, target } = await setup('cluster_stop');
    const three = nodes(3, clusterConfig(db.url, target), people);
    const holder = await waitFor(
      'an export in progress',
      async () => {
        const held = (await leases(db)).find((l) => l.unit === 'connector:cloud' && l.live);
        return held && target.counts().users >= people / 10 ? held : undefined;
      },
      900_000,
    );
    const paused = three.find((n) => n.pid === holder.pid)!;
    paused.child.kill('SIGSTOP');
    const taken = await waitFor(
      'another node to take the lease',
      async () =>
        (await leases(db)).find(
          (l) => l.unit === 'connector:cloud' && l.owner !== null && l.pid !== holder.pid,
        ),
      120_000,
    );
    expect(taken.token).toBeGreaterThan(holder.token);
    paused.child.kill('SIGCONT');
    await settled(db, target, people, 900_000);
    await waitFor(
      'the woken node to report',
      async () => paused.stdout().includes('STATE_LEASE_LOST'),
      60_000,
    );
    // it said what happened, in its cycle report: its pass failed on the lost lease
    const lost = paused
      .reports()
      .flatMap((r) => r.connectors)
      .find((s) => s.detail?.includes('STATE_LEASE_LOST'));
    expect(lost).toMatchObject({ status: 'failed' });
    // it is still alive, and nothing was written twice: every user created once, each exported once
    expect(paused.child.exitCode).toBeNull();
    expect(target.counts().users).toBe(people);
    expect(target.created.size).toBe(people);
    expect([...target.created.values()].filter((n) => n !== 1)).toEqual([]);
    expect(await unlogged(db)).toBe(0);
  }, 1_800_000);

  it('two nodes started at the same second on an empty database: one schema, both serve, the work is done once', async () => {
    const people = 200;
    const { db, target } = await setup('cluster_start');
    const two = nodes(2, clusterConfig(db.url, target), people);
    await settled(db, target, people, 600_000);
    expect(await db.exec("SELECT value FROM meta WHERE key = 'schema'")).toEqual([
      { value: String(SCHEMA_VERSION) },
    ]);
    for (const n of two) {
      expect(n.child.exitCode, n.stderr()).toBeNull();
      expect(n.stderr()).not.toMatch(/error/i);
    }
    expect(target.created.size).toBe(people);
    expect([...target.created.values()].filter((n) => n !== 1)).toEqual([]);
    // each unit's phases ran once: one full import of each feed, one sync, one export
    const reports = two.flatMap((n) => n.reports());
    const ran = (connector: string, phase: string) =>
      reports.flatMap((r) => r.connectors).filter((s) => s.connector === connector && s.phase === phase)
        .length;
    expect([
      ran('hr', 'import'),
      ran('hr-groups', 'import'),
      ran('hr', 'inbound'),
      ran('cloud', 'export'),
    ]).toEqual([1, 1, 1, 1]);
  }, 900_000);
});
