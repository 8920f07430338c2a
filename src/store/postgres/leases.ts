/**
 * Unit leases in PostgreSQL (lease.ts, UnitLeases): a row per unit in `leases`, taken under an advisory lock
 * (one taker at a time), with an expiry by the database's clock and a fencing token that grows with every
 * new holder. The store's transactions check, just before COMMIT and under a share lock on the row, that
 * every lease this node holds still names it with its token and has not expired (fence); a node paused past
 * its lease wakes up to STATE_LEASE_LOST and a rollback. Nodes tell each other of changes and released
 * leases by NOTIFY on one channel, heard on one connection of their own (LISTEN).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { StoreError } from '../errors.js';
import {
  type ClusterMessage,
  type LeaseHolder,
  type LeaseRow,
  leaseHolderOf,
  METAVERSE_UNIT,
  UNIT_EXPIRY_MS,
  UNIT_RENEW_MS,
  type UnitLease,
  type UnitLeases,
  type UnitPhase,
  WHOLE_STATE,
} from '../lease.js';
import { LEASE_LOCK } from './schema.js';

interface Row extends Partial<Omit<LeaseRow, 'owner'>> {
  unit: string;
  owner: string | null;
  token: number;
  /** the lease has not expired (by the database's clock) */
  live: boolean;
  done: string;
  run_id: number | null;
}

/** The run of a holder that let its lease expire did not finish: said so (a holder that woke up may still finish it). */
async function interruptRuns(client: pg.PoolClient, rows: Row[]): Promise<void> {
  const runs = rows.flatMap((r) => (r.run_id === null ? [] : [r.run_id]));
  if (runs.length === 0) return;
  await client.query(
    "UPDATE runs SET status = 'interrupted', finished_at = $2 WHERE id = ANY($1) AND status = 'running'",
    [runs, new Date().toISOString()],
  );
}

type TakeResult = { lease: UnitLease } | { busy: { unit: string; holder: LeaseHolder } };

const CHANNEL = 'idsync_cluster';
/** a node stops writing to targets this long before its lease would expire by its own clock */
const MARGIN_MS = 2_000;

export function leaseLost(unit: string): StoreError {
  return new StoreError(
    'STATE_LEASE_LOST',
    `this node lost the lease of ${unit === WHOLE_STATE ? 'the state' : unit} to another (it did not renew it in time: paused, cut off or overloaded): its changes were rolled back and the other holder goes on`,
  );
}

/** Whether a live lease on `other` keeps `unit` from its taker (the rules of lease.ts). */
function blocks(unit: string, other: string): boolean {
  if (unit === other || unit === WHOLE_STATE || other === WHOLE_STATE) return true;
  return other === METAVERSE_UNIT && unit.startsWith('connector:');
}

export class PgLeases implements UnitLeases {
  readonly renewMs = UNIT_RENEW_MS;
  readonly expiryMs = UNIT_EXPIRY_MS;
  /** the leases this node holds: checked before every commit; `deadline`: performance.now() by which it must be renewed */
  private readonly held = new Map<string, { owner: string; token: number; deadline: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly transaction: <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  holding(): boolean {
    return this.held.size > 0;
  }

  async clock(): Promise<Date> {
    return (await this.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
  }

  async take(
    unit: string,
    holder: LeaseHolder,
    gone?: (current: LeaseHolder) => boolean,
  ): Promise<TakeResult> {
    const asked = performance.now();
    const result = await this.transaction<TakeResult>(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LEASE_LOCK]);
      const rows = (
        await client.query<Row & { now: Date }>(
          'SELECT *, owner IS NOT NULL AND expires > clock_timestamp() AS live, clock_timestamp() AS now FROM leases ORDER BY unit FOR UPDATE',
        )
      ).rows;
      for (const r of rows) {
        if (!r.live || r.owner === holder.owner || !blocks(unit, r.unit)) continue;
        const current = leaseHolderOf(r as unknown as LeaseRow);
        if (!gone?.(current)) return { busy: { unit: r.unit, holder: current } };
      }
      const row = rows.find((r) => r.unit === unit);
      const mine = row?.owner === holder.owner && row.live;
      const token = mine ? row.token : (row?.token ?? 0) + 1;
      const { rows: taken } = await client.query<{ taken: Date }>(
        `INSERT INTO leases(unit, owner, pid, host, command, since, renewed, process_start, token, expires)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp() + $10 * interval '1 millisecond')
         ON CONFLICT(unit) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, command = excluded.command,
           since = excluded.since, renewed = excluded.renewed, process_start = excluded.process_start, token = excluded.token,
           expires = excluded.expires, run_id = ${mine ? 'leases.run_id' : 'NULL'}
         RETURNING clock_timestamp() AS taken`,
        [
          unit,
          holder.owner,
          holder.pid,
          holder.host,
          holder.command,
          holder.since,
          holder.renewed,
          holder.processStart,
          token,
          this.expiryMs,
        ],
      );
      // a holder that let the lease expire (or that `gone` says is gone) did not finish what it was doing
      const interrupted = !mine && row !== undefined && row.owner !== null;
      if (interrupted) await interruptRuns(client, [row]);
      return {
        lease: {
          unit,
          owner: holder.owner,
          token,
          interrupted,
          takenAt: taken[0]!.taken,
        } satisfies UnitLease,
      };
    });
    if ('lease' in result)
      this.held.set(unit, {
        owner: holder.owner,
        token: result.lease.token,
        deadline: asked + this.expiryMs,
      });
    return result;
  }

  async renew(lease: UnitLease): Promise<boolean> {
    const asked = performance.now();
    const { rowCount } = await this.pool.query(
      `UPDATE leases SET expires = clock_timestamp() + $4 * interval '1 millisecond', renewed = $5
       WHERE unit = $1 AND owner = $2 AND token = $3 AND expires > clock_timestamp()`,
      [lease.unit, lease.owner, lease.token, this.expiryMs, new Date().toISOString()],
    );
    const held = this.held.get(lease.unit);
    if ((rowCount ?? 0) > 0) {
      if (held?.token === lease.token) held.deadline = asked + this.expiryMs;
      return true;
    }
    return false;
  }

  async release(lease: UnitLease): Promise<void> {
    const held = this.held.get(lease.unit);
    if (held?.token === lease.token) this.held.delete(lease.unit);
    const { rowCount } = await this.pool.query(
      'UPDATE leases SET owner = NULL, expires = NULL, run_id = NULL WHERE unit = $1 AND owner = $2 AND token = $3',
      [lease.unit, lease.owner, lease.token],
    );
    if ((rowCount ?? 0) > 0) await this.notify({ kind: 'released', unit: lease.unit }).catch(() => {});
  }

  async begin(lease: UnitLease, runId: number): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('UPDATE leases SET run_id = $2 WHERE unit = $1', [lease.unit, runId]);
      await this.fence(client, lease.unit);
    });
  }

  async finished(lease: UnitLease, phase: UnitPhase): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(
        `UPDATE leases SET done = (done::jsonb || jsonb_build_object($2::text, $3::text))::text WHERE unit = $1`,
        [lease.unit, phase, lease.takenAt.toISOString()],
      );
      await this.fence(client, lease.unit);
    });
  }

  async units() {
    const { rows } = await this.pool.query<Row>(
      'SELECT unit, owner, token, done, owner IS NOT NULL AND expires > clock_timestamp() AS live FROM leases',
    );
    const out = new Map<string, { done: Partial<Record<UnitPhase, Date>>; live: boolean }>();
    for (const r of rows) {
      const done = Object.fromEntries(
        Object.entries(JSON.parse(r.done) as Record<string, string>).map(([k, v]) => [k, new Date(v)]),
      );
      const mine = this.held.get(r.unit);
      out.set(r.unit, { done, live: r.live && !(mine && mine.owner === r.owner && mine.token === r.token) });
    }
    return out;
  }

  async drain(lease: UnitLease): Promise<boolean> {
    return this.transaction(async (client) => {
      // FOR UPDATE waits for a commit in flight that passed its fence under a share lock on the row
      const rows = (
        await client.query<Row>(
          "SELECT unit, owner, token, run_id, owner IS NOT NULL AND expires > clock_timestamp() AS live, '{}' AS done FROM leases WHERE unit LIKE 'connector:%' AND owner IS NOT NULL FOR UPDATE",
        )
      ).rows;
      // expired connector leases are freed here: their holders' tokens no longer pass the fence
      const expired = rows.filter((r) => !r.live);
      if (expired.length > 0) {
        await client.query(
          'UPDATE leases SET owner = NULL, expires = NULL, run_id = NULL WHERE unit = ANY($1)',
          [expired.map((r) => r.unit)],
        );
        await interruptRuns(client, expired);
      }
      await this.fence(client, lease.unit);
      return rows.every((r) => !r.live);
    });
  }

  /**
   * The fence: the leases this node holds (or only `unit`) still name it with their tokens and have not
   * expired; share-locked until COMMIT, so no one takes them while a commit that passed is in flight.
   */
  async fence(client: pg.PoolClient, unit?: string): Promise<void> {
    for (const [name, held] of this.held) {
      if (unit !== undefined && name !== unit) continue;
      const still = await client.query(
        'SELECT 1 FROM leases WHERE unit = $1 AND owner = $2 AND token = $3 AND expires > clock_timestamp() FOR SHARE',
        [name, held.owner, held.token],
      );
      if (still.rowCount === 0) throw leaseLost(name);
    }
  }

  assertHeld(): void {
    const now = performance.now();
    for (const [unit, held] of this.held) if (now > held.deadline - MARGIN_MS) throw leaseLost(unit);
  }

  async notify(message: ClusterMessage): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(message)]);
  }

  async listen(on: (message: ClusterMessage) => void): Promise<() => Promise<void>> {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    // one connection of its own (LISTEN holds it); opened again after a database restart
    const connect = async () => {
      const c = new pg.Client({ connectionString: this.url, application_name: 'idsync listen' });
      c.on('error', () => {});
      c.on('end', () => {
        if (!stopped) retry = setTimeout(() => void connect().catch(() => {}), this.renewMs);
      });
      c.on('notification', (n) => {
        if (n.channel !== CHANNEL || !n.payload) return;
        try {
          on(JSON.parse(n.payload) as ClusterMessage);
        } catch {
          // a message this version does not read
        }
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
        client = c;
      } catch (err) {
        await c.end().catch(() => {});
        throw err;
      }
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    };
  }
}
