/**
 * Column values to idsync values and back. NULL is no value; timestamps are ISO 8601 in UTC; binary is a
 * Uint8Array; integers beyond 2^53 stay decimal strings rather than lose digits.
 */
import { isReference, type Value } from '../../core/values.js';
import type { ColumnKind, Driver } from './client.js';
import type { ColumnType } from './settings.js';
import { formatIso, formatNaive, parseTimestamp } from './time.js';

export class ValueError extends Error {}

export interface ValueContext {
  driver: Driver;
  naiveZone: string;
}

/** A `types` override from the settings, as a column kind. */
export function kindOfOverride(type: ColumnType): ColumnKind {
  switch (type) {
    case 'date':
      return 'timestamp';
    case 'number':
      return 'decimal';
    default:
      return type;
  }
}

function integerValue(raw: bigint | string | number): number | string {
  if (typeof raw === 'number') return raw;
  const big = typeof raw === 'bigint' ? raw : BigInt(raw);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big)
    : big.toString();
}

/** 15 significant digits survive a trip through a double; more stay text. */
function decimalValue(raw: string): number | string {
  const digits = raw
    .replace(/^[-+]?0*/, '')
    .replace('.', '')
    .replace(/0+$/, '');
  const n = Number(raw);
  return Number.isFinite(n) && digits.length <= 15 ? n : raw;
}

function booleanValue(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number' || typeof raw === 'bigint') return raw !== 0 && raw !== 0n;
  if (raw instanceof Uint8Array) return raw.some((b) => b !== 0);
  const s = String(raw).toLowerCase();
  if (['1', 't', 'true', 'y', 'yes', 'on'].includes(s)) return true;
  if (['0', 'f', 'false', 'n', 'no', 'off', ''].includes(s)) return false;
  throw new ValueError(`not a boolean: ${JSON.stringify(String(raw)).slice(0, 40)}`);
}

function byRuntimeType(raw: unknown): Value {
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return raw;
  if (typeof raw === 'bigint') return integerValue(raw);
  if (raw instanceof Uint8Array) return raw;
  if (raw instanceof Date) return raw.toISOString();
  return JSON.stringify(raw);
}

/** What pg and MariaDB send for a UTC or naive timestamp: rewritten as ISO without a Date (the hot path). */
const UTC_TEXT = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(\+00(?::00)?|Z)?$/;

function timestampValue(raw: unknown, naiveZone: string): Value {
  if (raw instanceof Date) return raw.toISOString();
  if (typeof raw !== 'string') return byRuntimeType(raw);
  // "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, the form MariaDB sends with the session in UTC, checked by position
  if (
    naiveZone === 'UTC' &&
    raw.length === 26 &&
    raw[10] === ' ' &&
    raw[19] === '.' &&
    raw[4] === '-' &&
    raw[13] === ':'
  ) {
    return raw.endsWith('000')
      ? `${raw.slice(0, 10)}T${raw.slice(11, 23)}Z`
      : `${raw.slice(0, 10)}T${raw.slice(11)}Z`;
  }
  const fast = UTC_TEXT.exec(raw);
  if (fast && (fast[4] !== undefined || naiveZone === 'UTC')) {
    const fraction = (fast[3] ?? '').padEnd(6, '0');
    return `${fast[1]}T${fast[2]}.${fraction.endsWith('000') ? fraction.slice(0, 3) : fraction}Z`;
  }
  const instant = parseTimestamp(raw, naiveZone);
  // 'infinity' and other non-dates pass through as the database wrote them
  return instant ? formatIso(instant) : raw;
}

function scalar(raw: unknown, kind: ColumnKind, ctx: ValueContext): Value {
  switch (kind) {
    case 'boolean':
      return booleanValue(raw);
    case 'integer':
      if (
        typeof raw === 'bigint' ||
        typeof raw === 'number' ||
        (typeof raw === 'string' && /^-?\d+$/.test(raw))
      )
        return integerValue(raw);
      return byRuntimeType(raw);
    case 'decimal':
      if (typeof raw === 'string') return decimalValue(raw);
      return byRuntimeType(raw);
    case 'timestamp':
    case 'timestamptz':
      return timestampValue(raw, ctx.naiveZone);
    case 'date':
      if (raw instanceof Date) return raw.toISOString().slice(0, 10);
      return byRuntimeType(raw);
    case 'binary':
      if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
      return byRuntimeType(raw);
    case 'json':
      return typeof raw === 'string' ? raw : JSON.stringify(raw);
    default:
      if (raw instanceof Uint8Array && kind === 'string') return Buffer.from(raw).toString('utf8');
      return byRuntimeType(raw);
  }
}

/** A column's value as an attribute's values: [] for NULL, several for a pg array. */
export function decodeColumn(
  raw: unknown,
  kind: ColumnKind,
  ctx: ValueContext,
  elementKind?: ColumnKind,
): Value[] {
  if (raw === null || raw === undefined) return [];
  if (Array.isArray(raw)) {
    return raw.flat(Number.POSITIVE_INFINITY).flatMap((x) => decodeColumn(x, elementKind ?? 'string', ctx));
  }
  return [scalar(raw, kind, ctx)];
}

/** A value as a bound parameter for a column of `kind`. */
export function encodeParam(value: Value, kind: ColumnKind | undefined, ctx: ValueContext): unknown {
  const v: Exclude<Value, { ref: string }> = isReference(value) ? value.ref : value;
  switch (kind) {
    case 'boolean': {
      const b = booleanValue(v);
      return ctx.driver === 'postgres' ? b : b ? 1 : 0;
    }
    case 'timestamp':
    case 'timestamptz': {
      if (typeof v !== 'string') break;
      const instant = parseTimestamp(v, 'UTC');
      if (!instant) throw new ValueError(`not an ISO 8601 timestamp: ${JSON.stringify(v).slice(0, 40)}`);
      // pg timestamptz takes the instant; every other column stores the wall clock of a zone
      if (kind === 'timestamptz' && ctx.driver === 'postgres') return formatIso(instant);
      return formatNaive(instant, kind === 'timestamptz' ? 'UTC' : ctx.naiveZone);
    }
    case 'date':
      if (typeof v === 'string' && v.length > 10) {
        const instant = parseTimestamp(v, 'UTC');
        if (instant) return formatIso(instant).slice(0, 10);
      }
      break;
    case 'json':
      if (typeof v !== 'string') return JSON.stringify(v);
      break;
  }
  if (typeof v === 'boolean' && ctx.driver !== 'postgres') return v ? 1 : 0;
  if (v instanceof Uint8Array)
    return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

// ---- anchors -----------------------------------------------------------------------------------------------

/** One column's share of an anchor: binary as hex, everything else as its idsync value's text. */
function anchorPart(value: Value | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return isReference(value) ? value.ref : String(value);
}

/**
 * The anchor of a row: the column's value for a one-column anchor, a JSON array of the columns' values for a
 * composite one ('["10","E1"]'), so the same row always gets the same string and the string decodes again.
 */
export function encodeAnchor(values: (Value | undefined)[]): string | undefined {
  const parts = values.map(anchorPart);
  if (parts.some((p) => p === undefined)) return undefined;
  return parts.length === 1 ? parts[0] : JSON.stringify(parts);
}

export function decodeAnchor(anchor: string, columns: number): string[] {
  if (columns === 1) return [anchor];
  let parts: unknown;
  try {
    parts = JSON.parse(anchor);
  } catch {
    parts = undefined;
  }
  if (!Array.isArray(parts) || parts.length !== columns || parts.some((p) => typeof p !== 'string')) {
    throw new ValueError(`not an anchor of ${columns} columns: ${anchor.slice(0, 80)}`);
  }
  return parts as string[];
}

/** An anchor part as a parameter for its column: numbers for integer columns (SQLite compares by type). */
export function anchorParam(part: string, kind: ColumnKind | undefined, ctx: ValueContext): unknown {
  if (kind === 'integer' && /^-?\d+$/.test(part)) {
    const n = Number(part);
    return Number.isSafeInteger(n) ? n : part;
  }
  if (kind === 'binary') return Buffer.from(part, 'hex');
  if (kind === 'boolean' || kind === 'timestamp' || kind === 'timestamptz')
    return encodeParam(part, kind, ctx);
  return part;
}
