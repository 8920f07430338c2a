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
  /** timestamp columns: the database's clock when the last run started (ISO) */
  t?: string;
  /** the anchor of the last row read with value `w`: where a settled window resumes */
  a?: string;
  /** watermark value → fingerprints of rows delivered with it, for the rows the next run reads again */
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
const MAX_SEEN = 20_000;
const MAX_GAPS = 1_000;

export function parseWatermark(text: string | null, connector: string): Watermark {
  if (text === null) {
    throw new ConnectorError(
      'SQL_WATERMARK_REQUIRED',
      'a delta import needs the watermark of a full import',
      { connector },
      false,
      { fullImportRequired: true },
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
      { fullImportRequired: true },
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
  if (kind === 'integer') return 'integer';
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

/** "2024-01-02T03:04:05.123Z" or with three more digits: the form formatIso writes */
function isCanonical(v: string): boolean {
  return (v.length === 24 || v.length === 27) && v[10] === 'T' && v[19] === '.' && v.endsWith('Z');
}

/** A number that orders watermark values like the database does (timestamps in µs, integers as bigint). */
function orderKey(kind: WatermarkKind, value: string): number | bigint | string {
  if (kind === 'integer') return BigInt(value);
  if (kind === 'timestamp') {
    // the canonical form this connector writes: Date.parse reads it natively
    const canonical = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})(\d{3})?Z$/.exec(value);
    if (canonical) return Date.parse(`${canonical[1]}Z`) * 1000 + Number(canonical[2] ?? 0);
    const t = parseTimestamp(value, 'UTC');
    if (t) return t.ms * 1000 + t.us;
  }
  return value;
}

export interface WindowBound {
  value: string;
  /** rows strictly after (value, after) in (watermark, anchor) order, or after value when `after` is absent */
  strict: boolean;
  after?: string;
}

/**
 * The re-read window of one watermark column.
 *
 * Timestamp columns: let t be the database's clock when the previous run started. Rows whose value is below
 * t − overlap were committed before that run read (the assumption: no transaction writes a value older than
 * `overlap` at its commit), so they were read then. The next run therefore reads
 *   - everything at or above t − overlap, skipping the fingerprints of rows already delivered there; or,
 *   - when even the highest value seen is older than that (a quiet table), only rows after (highest, anchor).
 * Integer columns (a change sequence) have no clock: the next run reads from highest − overlap.
 * Fingerprints older than the window are dropped, so a quiet table keeps none.
 */
export class SeenWindow {
  private readonly index = new Map<string, { key: number | bigint | string; prints: Set<string> }>();
  private count = 0;
  /** the unsettled line, cached: it moves only with w and t */
  private line?: { w: string | null; t?: string; value: string | null; key?: number | bigint | string };

  constructor(
    private readonly state: WindowState,
    readonly kind: WatermarkKind,
    readonly overlap: number,
  ) {
    for (const [value, prints] of Object.entries(state.seen)) {
      this.index.set(value, { key: orderKey(kind, value), prints: new Set(prints) });
      this.count += prints.length;
    }
  }

  /** the lowest value whose rows may still change under the next run (and whose fingerprints are kept) */
  private unsettled(): string | null {
    return this.settledLine().value;
  }

  private settledLine(): { value: string | null; key?: number | bigint | string } {
    const { w, t } = this.state;
    if (this.line && this.line.w === w && this.line.t === t) return this.line;
    let value: string | null;
    if (this.kind === 'timestamp' && t !== undefined) value = subtractOverlap('timestamp', t, this.overlap);
    else value = w === null ? null : subtractOverlap(this.kind, w, this.overlap);
    this.line = { w, t, value, key: value === null ? undefined : orderKey(this.kind, value) };
    return this.line;
  }

  /** where the next read starts; null: from the beginning */
  bound(): WindowBound | null {
    const { w, a } = this.state;
    if (w === null) return null;
    const line = this.unsettled()!;
    if (compareWatermarks(this.kind, w, line) < 0) return { value: w, strict: true, after: a };
    return { value: line, strict: false };
  }

  /** a run starts: the database's clock (timestamp columns) */
  start(databaseNow: string): void {
    if (this.kind === 'timestamp') this.state.t = databaseNow;
  }

  /** the value and anchor of a row read (delivered or not): raises the top */
  observe(value: string, anchor: string): void {
    const { w } = this.state;
    const order = w === null ? 1 : compareWatermarks(this.kind, value, w);
    if (order > 0) this.state.w = value;
    // rows are read in (value, anchor) order: the last one at the top is where a settled window resumes
    if (order >= 0) this.state.a = anchor;
  }

  has(value: string, print: string): boolean {
    return this.index.get(value)?.prints.has(print) ?? false;
  }

  add(value: string, print: string): void {
    let entry = this.index.get(value);
    if (!entry) {
      entry = { key: orderKey(this.kind, value), prints: new Set() };
      this.index.set(value, entry);
    }
    if (!entry.prints.has(print)) {
      entry.prints.add(print);
      this.count++;
    }
  }

  /** whether a row with this value would be read again by the next run (worth a fingerprint) */
  inWindow(value: string): boolean {
    const line = this.settledLine();
    if (line.value === null) return true;
    // the hot path of a full import: two canonical ISO strings compare as text, microseconds last
    if (this.kind === 'timestamp' && isCanonical(value) && isCanonical(line.value)) {
      const head = value.slice(0, 23);
      const lineHead = line.value.slice(0, 23);
      if (head !== lineHead) return head > lineHead;
      return (
        (value.length === 27 ? value.slice(23, 26) : '000') >=
        (line.value.length === 27 ? line.value.slice(23, 26) : '000')
      );
    }
    return orderKey(this.kind, value) >= line.key!;
  }

  /** Forgets fingerprints below the window and writes them back (before the watermark is encoded). */
  commit(): void {
    const line = this.unsettled();
    if (line !== null) {
      const lineKey = orderKey(this.kind, line);
      for (const [value, entry] of this.index) {
        if (entry.key < lineKey) {
          this.index.delete(value);
          this.count -= entry.prints.size;
        }
      }
    }
    if (this.count > MAX_SEEN) {
      const oldest = [...this.index.entries()].sort((x, y) =>
        x[1].key < y[1].key ? -1 : x[1].key > y[1].key ? 1 : 0,
      );
      for (const [value, entry] of oldest) {
        if (this.count <= MAX_SEEN) break;
        this.index.delete(value);
        this.count -= entry.prints.size;
      }
    }
    const seen: Record<string, string[]> = {};
    for (const [value, entry] of this.index) seen[value] = [...entry.prints];
    this.state.seen = seen;
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
