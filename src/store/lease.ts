/**
 * The cycle lease: one process runs cycles on a state at a time. The lease names its holder (pid, host,
 * command, since when) so a second process can say who has it. A holder that died without releasing it
 * (SIGKILL, a crash, a power cut) must not block the state for ever:
 * - on this host, a holder whose process is gone, or whose pid now belongs to another process (it started
 *   at another time), no longer holds it;
 * - on another host (a state folder on a shared volume, a container started again under a new name), the
 *   holder renews the lease every RENEW_MS; one not renewed for STALE_MS no longer holds it.
 * Each store keeps the lease in its own data (SQLite: a row of the state file; a networked store: a row
 * with the same fields), so every process that opens the state sees it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LeaseHolder {
  /** random per holder: only who took the lease renews or releases it */
  owner: string;
  pid: number;
  host: string;
  /** what holds it: "idsync serve", "idsync run" */
  command: string;
  /** when it was taken (ISO time) */
  since: string;
  /** when it was last renewed (ISO time) */
  renewed: string;
  /** the process's start (Linux: clock ticks after boot), so a pid reused after a crash is not the holder */
  processStart: string | null;
}

/** The lease row as both stores keep it (one row, id 1). */
export interface LeaseRow {
  owner: string;
  pid: number;
  host: string;
  command: string;
  since: string;
  renewed: string;
  process_start: string | null;
}

export function leaseHolderOf(row: LeaseRow): LeaseHolder {
  return {
    owner: row.owner,
    pid: row.pid,
    host: row.host,
    command: row.command,
    since: row.since,
    renewed: row.renewed,
    processStart: row.process_start,
  };
}

export const RENEW_MS = 30_000;
export const STALE_MS = 180_000;

/**
 * Leases per unit of work (a store shared by several nodes: PostgreSQL). Each unit has its own lease with its
 * own fencing token, held only while the unit runs, renewed every UNIT_RENEW_MS and lost UNIT_EXPIRY_MS after
 * its last renewal (by the database's clock, so the nodes' clocks do not matter):
 * - `connector:NAME`: the connector's import and its export (they read and write its connector space);
 * - `metaverse`: inbound and outbound sync (they read every connector space and write the metaverse, the
 *   links and the pending exports of every target), exclusive with every connector lease: it is taken, then
 *   waits until no connector lease is live (see UnitLeases.drain), and no connector lease is given while it
 *   is live;
 * - `*`: the whole state (`idsync run --once`, apply, provision, retry), exclusive with every other.
 */
export const UNIT_RENEW_MS = 5_000;
export const UNIT_EXPIRY_MS = 15_000;
export const METAVERSE_UNIT = 'metaverse';
export const WHOLE_STATE = '*';
export const connectorUnit = (connector: string) => `connector:${connector}`;

/** what a node does under a unit lease; when its last finished run started is kept per phase (UnitLeases.units) */
export type UnitPhase = 'import' | 'export' | 'sync';

/** A unit lease this node holds. */
export interface UnitLease {
  unit: string;
  owner: string;
  /** the fencing token: grows each time the unit changes hands */
  token: number;
  /** the previous holder let it expire (it died, was paused or cut off) instead of releasing it */
  interrupted: boolean;
  /** when it was taken, by the database's clock */
  takenAt: Date;
}

/** The unit leases of a store shared by several nodes (store/postgres/leases.ts). */
export interface UnitLeases {
  readonly renewMs: number;
  readonly expiryMs: number;
  /** the database's clock */
  clock(): Promise<Date>;
  /** takes the unit for `holder`, or says which live lease (of another) keeps it from this node */
  take(
    unit: string,
    holder: LeaseHolder,
  ): Promise<{ lease: UnitLease } | { busy: { unit: string; holder: LeaseHolder } }>;
  /** false: the lease expired or another took it; from then on every write under it is refused */
  renew(lease: UnitLease): Promise<boolean>;
  release(lease: UnitLease): Promise<void>;
  /** records that the holder works under the lease for run `runId` (interrupted by whoever takes the lease back) */
  begin(lease: UnitLease, runId: number): Promise<void>;
  /** records that `phase` finished, as of the lease's takenAt (fenced: only while the lease is held) */
  finished(lease: UnitLease, phase: UnitPhase): Promise<void>;
  /** per unit, when the last finished run of each phase started (database clock), and whether another node holds it */
  units(): Promise<Map<string, { done: Partial<Record<UnitPhase, Date>>; live: boolean }>>;
  /**
   * For the holder of the metaverse lease: true once no connector lease is live (ones that expired are
   * taken back, their fencing tokens void); false while one still runs.
   */
  drain(lease: UnitLease): Promise<boolean>;
  /** sends `message` to every node listening (a change notification, a released lease) */
  notify(message: ClusterMessage): Promise<void>;
  /** calls `on` with every message any node sends, until the returned function is called */
  listen(on: (message: ClusterMessage) => void): Promise<() => Promise<void>>;
  /** throws STATE_LEASE_LOST when a lease this node holds may have expired by its own clock (before writing to a target) */
  assertHeld(): void;
}

/** What nodes tell each other (PostgreSQL: NOTIFY). */
export type ClusterMessage =
  /** a connector's watch fired on some node: the holder of its lease (whichever node takes it) imports it */
  | { kind: 'changed'; connector: string; at: string }
  /** a lease was released: nodes waiting for it try again now */
  | { kind: 'released'; unit: string };

export function thisProcess(command: string, now = new Date()): LeaseHolder {
  return {
    owner: randomUUID(),
    pid: process.pid,
    host: hostname(),
    command,
    since: now.toISOString(),
    renewed: now.toISOString(),
    processStart: processStart(process.pid),
  };
}

/** Whether the holder no longer holds the lease: its process is gone, or it stopped renewing it. */
export function holderGone(h: LeaseHolder, now = new Date()): boolean {
  if (h.host === hostname()) {
    if (!alive(h.pid)) return true;
    const started = processStart(h.pid);
    return started !== null && h.processStart !== null && started !== h.processStart;
  }
  return now.getTime() - Date.parse(h.renewed) > STALE_MS;
}

/** "idsync serve (pid 4242 on host app1, since 2026-12-07T15:00:00.000Z)" */
export function describeHolder(h: LeaseHolder): string {
  return `${h.command} (pid ${h.pid} on host ${h.host}, since ${h.since})`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: a process of another user has the pid now; it is alive, and processStart tells whose it is
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat (after the parenthesised command name, which may hold spaces); null elsewhere. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
