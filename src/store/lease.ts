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
