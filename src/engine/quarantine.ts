/**
 * Quarantine: a connector that keeps failing is backed off instead of hammered, while the other connectors'
 * cycles go on (Entra's provisioning service does the same: a failing job is quarantined and retried less
 * and less often, down to once a day).
 *
 * A cycle fails for a connector when its import failed (the system could not be read: connection refused,
 * authentication refused), when its export stopped for the same reasons, or when most of its exports failed (at least FAILURE_SHARE of at least
 * MIN_EXPORTS changes). After STRIKES such cycles in a row the connector is quarantined: its import and export
 * are skipped until `until`. Each further failing cycle doubles the wait, from BASE_MS up to MAX_MS; a cycle
 * that works lifts the quarantine. `idsync approve NAME --quarantine` lifts it at once.
 *
 * The state lives in the store's meta table (one JSON value per connector), so every process sees it.
 */
import type { RunStats, Store } from '../store/types.js';

export interface QuarantineState {
  /** why: the failing phase's detail */
  reason: string;
  /** when the failures began (the first failing cycle of the series) */
  since: string;
  /** skipped until then; null while only strikes are counted */
  until: string | null;
  /** 1 at the first quarantine, +1 for each failing cycle after it */
  level: number;
  /** failing cycles in a row */
  strikes: number;
}

const STRIKES = 2;
const FAILURE_SHARE = 0.8;
const MIN_EXPORTS = 10;
const BASE_MS = 15 * 60_000;
const MAX_MS = 24 * 3_600_000;

const key = (connector: string) => `quarantine:${connector}`;

export async function readQuarantine(store: Store, connector: string): Promise<QuarantineState | null> {
  const raw = await store.getMeta(key(connector));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as QuarantineState;
  } catch {
    return null;
  }
}

/** The quarantine that skips this connector now, if any. */
export async function activeQuarantine(store: Store, connector: string, now: Date): Promise<QuarantineState | null> {
  const q = await readQuarantine(store, connector);
  return q?.until && Date.parse(q.until) > now.getTime() ? q : null;
}

export async function liftQuarantine(store: Store, connector: string): Promise<void> {
  await store.setMeta(key(connector), null);
}

/** Why this cycle counts as failing for the connector, or null when it worked. */
export function cycleFailure(stats: RunStats[], connector: string): string | null {
  const mine = stats.filter((s) => s.connector === connector);
  const imported = mine.find((s) => s.phase === 'import');
  if (imported?.status === 'failed') return `import failed: ${imported.detail ?? 'no detail'}`;
  const exported = mine.find((s) => s.phase === 'export');
  if (exported?.status === 'failed') return `export failed: ${exported.detail ?? 'no detail'}`;
  if (exported) {
    const attempted = exported.added + exported.updated + exported.deleted + exported.errors;
    if (attempted >= MIN_EXPORTS && exported.errors >= attempted * FAILURE_SHARE) {
      return `${exported.errors} of ${attempted} exports failed`;
    }
  }
  return null;
}

/** Records the cycle's outcome; returns the state when the connector is (now) quarantined. */
export async function recordCycle(store: Store, connector: string, failure: string | null, now: Date): Promise<QuarantineState | null> {
  const previous = await readQuarantine(store, connector);
  if (failure === null) {
    if (previous) await liftQuarantine(store, connector);
    return null;
  }
  const strikes = (previous?.strikes ?? 0) + 1;
  const level = strikes >= STRIKES ? strikes - STRIKES + 1 : 0;
  const waitMs = level > 0 ? Math.min(MAX_MS, BASE_MS * 2 ** (level - 1)) : 0;
  const state: QuarantineState = {
    reason: failure,
    since: previous?.since ?? now.toISOString(),
    until: level > 0 ? new Date(now.getTime() + waitMs).toISOString() : null,
    level,
    strikes,
  };
  await store.setMeta(key(connector), JSON.stringify(state));
  return level > 0 ? state : null;
}
