/**
 * The delta watermark: one JSON string for the whole connector. Every position in it is a value read from the
 * database (a column's maximum, a log id, the database's clock), never this machine's clock.
 *
 * - Watermark mode keeps, per object type, the highest watermark column value seen (`w`) and fingerprints of
 *   the rows already delivered inside the overlap window (`seen`), so the re-read window skips them.
 * - Change-log mode keeps the highest log id (`h`) and the ids below it not yet seen (`gaps`): a transaction
 *   that took an id but has not committed yet leaves a gap, which later deltas read again until it fills or
 *   times out (a rolled-back insert never fills).
 */
import { createHash } from 'node:crypto';
import { ConnectorError } from '../../core/errors.js';
import type { ColumnKind } from './client.js';
import { formatIso, parseTimestamp } from './time.js';

export interface WindowState {
  /** the highest value seen, in canonical text (ISO for timestamps, decimal for integers); null: none yet */
  w: string | null;
  /** watermark value → fingerprints of rows delivered with it */
  seen: Record<string, string[]>;
}

export interface TypeState extends WindowState {
  /** the delete log's own window */
  d?: WindowState;
}

export interface LogState {
  h: number;
  /** [from, to, first seen (database clock, ms)] */
  gaps: [number, number, number][];
}

export interface Watermark {
  v: 1;
  types: Record<string, TypeState>;
  log?: LogState;
}

/** Past these sizes the oldest entries go: duplicates are then possible, losses are not. */
const MAX_SEEN = 50_000;
const MAX_GAPS = 1_000;

export function parseWatermark(text: string | null, connector: string): Watermark {
  if (text === null) {
    throw new ConnectorError(
      'SQL_WATERMARK_REQUIRED',
      'a delta import needs the watermark of a full import',
      { connector },
      false,
    );
  }
  let parsed: Watermark;
  try {
    parsed = JSON.parse(text) as Watermark;
  } catch {
    parsed = {} as Watermark;
  }
  if (parsed.v !== 1 || typeof parsed.types !== 'object' || parsed.types === null) {
    throw new ConnectorError(
      'SQL_WATERMARK_INVALID',
      'the watermark was not written by this connector: run a full import',
      { connector },
      false,
    );
  }
  return parsed;
}

export function encodeWatermark(w: Watermark): string {
  return JSON.stringify(w);
}

// ---- watermark column values ---------------------------------------------------------------------------------

export type WatermarkKind = 'timestamp' | 'integer' | 'text';

export function watermarkKind(kind: ColumnKind | undefined): WatermarkKind {
  if (kind === 'timestamp' || kind === 'timestamptz' || kind === 'date') return 'timestamp';
  if (kind === 'integer' || kind === 'decimal') return 'integer';
  return 'text';
}

/** Seconds for timestamps, units for sequences; a text rowversion has no arithmetic and re-reads its last value. */
export function defaultOverlap(kind: WatermarkKind): number {
  return kind === 'timestamp' ? 300 : kind === 'integer' ? 1000 : 0;
}

export function compareWatermarks(kind: WatermarkKind, a: string, b: string): number {
  if (kind === 'integer') {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (kind === 'timestamp') {
    const x = parseTimestamp(a, 'UTC');
    const y = parseTimestamp(b, 'UTC');
    if (x && y) return x.ms !== y.ms ? x.ms - y.ms : x.us - y.us;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export function subtractOverlap(kind: WatermarkKind, value: string, overlap: number): string {
  if (overlap === 0) return value;
  if (kind === 'integer') return (BigInt(value) - BigInt(Math.floor(overlap))).toString();
  if (kind === 'timestamp') {
    const t = parseTimestamp(value, 'UTC');
    if (t) return formatIso({ ms: t.ms - Math.round(overlap * 1000), us: t.us });
  }
  return value;
}

export function fingerprint(objectType: string, anchor: string, value: string): string {
  return createHash('sha1').update(`${objectType}\0${anchor}\0${value}`).digest('base64url').slice(0, 12);
}

export function hasSeen(state: WindowState, value: string, print: string): boolean {
  return state.seen[value]?.includes(print) ?? false;
}

/** Records delivered rows, raises `w` and forgets rows that fell out of the window. */
export function recordSeen(
  state: WindowState,
  kind: WatermarkKind,
  overlap: number,
  delivered: { value: string; print: string }[],
  raise = true,
): void {
  for (const { value, print } of delivered) {
    const list = state.seen[value] ?? [];
    if (!list.includes(print)) list.push(print);
    state.seen[value] = list;
    if (raise && (state.w === null || compareWatermarks(kind, value, state.w) > 0)) state.w = value;
  }
  if (state.w === null) return;
  const low = subtractOverlap(kind, state.w, overlap);
  const values = Object.keys(state.seen).sort((a, b) => compareWatermarks(kind, a, b));
  let total = values.reduce((n, v) => n + state.seen[v]!.length, 0);
  for (const value of values) {
    if (compareWatermarks(kind, value, low) >= 0 && total <= MAX_SEEN) break;
    total -= state.seen[value]!.length;
    delete state.seen[value];
  }
}

// ---- change-log ids ----------------------------------------------------------------------------------------

/** Takes the ids read (ascending) into the state: fills gaps, opens new ones below the ids above `h`. */
export function observeLogIds(state: LogState, ids: number[], nowMs: number): void {
  const below = ids.filter((id) => id <= state.h);
  if (below.length > 0) {
    const gaps: [number, number, number][] = [];
    for (const [from, to, since] of state.gaps) {
      let start = from;
      for (const id of below) {
        if (id < start || id > to) continue;
        if (id > start) gaps.push([start, id - 1, since]);
        start = id + 1;
      }
      if (start <= to) gaps.push([start, to, since]);
    }
    state.gaps = gaps;
  }
  for (const id of ids) {
    if (id <= state.h) continue;
    if (id > state.h + 1) state.gaps.push([state.h + 1, id - 1, nowMs]);
    state.h = id;
  }
  if (state.gaps.length > MAX_GAPS) state.gaps.splice(0, state.gaps.length - MAX_GAPS);
}

/** Gaps older than the timeout are taken for rolled-back inserts. */
export function expireGaps(state: LogState, nowMs: number, timeoutSeconds: number): void {
  state.gaps = state.gaps.filter(([, , since]) => nowMs - since <= timeoutSeconds * 1000);
}
