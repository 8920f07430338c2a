/**
 * What a node of several on one shared state (PostgreSQL) needs beside the engine's phases: when a unit of
 * work is due, how triggers merge, and running a phase under its unit lease (store/lease.ts), renewed while
 * it runs and released after. The engine's serve loop (engine.ts, serveCluster) puts them together.
 *
 * A unit's phase is due for a trigger when its last finished run (on any node) started before the trigger's
 * time, or before what feeds it: inbound and outbound sync after any import, a connector's export after the
 * sync. A phase whose holder died is not finished: due until another node finishes it. Times are the
 * database's clock, the one clock every node reads.
 */
import { IdsyncError } from '../core/errors.js';
import {
  connectorUnit,
  type LeaseHolder,
  METAVERSE_UNIT,
  type UnitLease,
  type UnitLeases,
  type UnitPhase,
} from '../store/lease.js';

/** Why a node runs a pass: its schedule, a change notification, a cycle asked for. */
export interface Trigger {
  /** units whose phase last started before this (database clock) are due */
  at: Date;
  /** the connectors to import (and every target to export); undefined: all */
  connectors?: string[];
  full?: boolean;
}

/** Two triggers waiting together: everything either asks for. */
export function mergeTriggers(a: Trigger | undefined, b: Trigger): Trigger {
  if (!a) return b;
  const connectors =
    a.connectors && b.connectors ? [...new Set([...a.connectors, ...b.connectors])] : undefined;
  return {
    at: a.at > b.at ? a.at : b.at,
    ...(connectors ? { connectors } : {}),
    ...(a.full || b.full ? { full: true } : {}),
  };
}

export type UnitState = Map<string, { done: Partial<Record<UnitPhase, Date>>; live: boolean }>;

const before = (t: Date | undefined, than: Date | undefined) =>
  than !== undefined && (t === undefined || t < than);

function latest(dates: (Date | undefined)[]): Date | undefined {
  let out: Date | undefined;
  for (const d of dates) if (d && (!out || d > out)) out = d;
  return out;
}

/** Whether `phase` of `unit` is due for `trigger`, given every unit's state. */
export function isDue(
  state: UnitState,
  trigger: Trigger,
  unit: string,
  phase: UnitPhase,
  connectors: string[],
): boolean {
  const last = state.get(unit)?.done[phase];
  if (before(last, trigger.at)) return true;
  if (phase === 'sync')
    return before(last, latest(connectors.map((c) => state.get(connectorUnit(c))?.done.import)));
  if (phase === 'export') return before(last, state.get(METAVERSE_UNIT)?.done.sync);
  return false;
}

export type UnderLease<T> = { ran: true; value: T } | { ran: false; why: 'busy' | 'not-due' };

/**
 * Runs `work` under the unit's lease if the phase is due and no other node holds (or blocks) it: takes the
 * lease, checks again that the phase is due (another node may have run it meanwhile), renews the lease every
 * renewMs while it runs, records that it finished and releases it. Recording it is fenced: work done under a
 * lease lost meanwhile throws STATE_LEASE_LOST there even where the phase turned the error into a failed
 * stat, and the phase stays due for the node that took the lease.
 */
export async function underLease<T>(
  units: UnitLeases,
  holder: LeaseHolder,
  unit: string,
  phase: UnitPhase,
  due: (state: UnitState) => boolean,
  work: (lease: UnitLease) => Promise<T>,
  options: { runId: () => Promise<number> },
): Promise<UnderLease<T>> {
  const state = await units.units();
  if (!due(state)) return { ran: false, why: 'not-due' };
  if (state.get(unit)?.live) return { ran: false, why: 'busy' };
  const taken = await units.take(unit, holder);
  if ('busy' in taken) return { ran: false, why: 'busy' };
  const lease = taken.lease;
  const renew = setInterval(() => void units.renew(lease).catch(() => {}), units.renewMs);
  renew.unref();
  try {
    if (!due(await units.units())) return { ran: false, why: 'not-due' };
    await units.begin(lease, await options.runId());
    const value = await work(lease);
    await units.finished(lease, phase);
    return { ran: true, value };
  } finally {
    clearInterval(renew);
    await units.release(lease).catch(() => {});
  }
}

export function stopping(): IdsyncError {
  return new IdsyncError('ENGINE_STOPPING', 'the service is stopping');
}
