/**
 * Timestamps between the databases' text forms and idsync's ISO 8601 UTC strings, at microsecond precision
 * (PostgreSQL and MariaDB keep microseconds; a JavaScript Date would drop them, and a watermark must not).
 */

/** A point in time: milliseconds since the epoch plus the microseconds below the millisecond (0..999). */
export interface Instant {
  ms: number;
  us: number;
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/;

/**
 * Parses "2024-01-02 03:04:05.123456+02", "2024-01-02T03:04:05Z" or a naive "2024-01-02 03:04:05" (read in
 * `naiveZone`). Returns undefined for anything else (pg 'infinity', BC dates).
 */
export function parseTimestamp(text: string, naiveZone: string): Instant | undefined {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) return undefined;
  const fraction = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  const wallMs = Date.UTC(
    +m[1]!,
    +m[2]! - 1,
    +m[3]!,
    +(m[4] ?? 0),
    +(m[5] ?? 0),
    +(m[6] ?? 0),
    +fraction.slice(0, 3),
  );
  if (Number.isNaN(wallMs)) return undefined;
  const us = +fraction.slice(3);
  const zone = m[8];
  if (zone === undefined) return { ms: wallMs - naiveOffsetMs(naiveZone, wallMs), us };
  return { ms: wallMs - fixedOffsetMs(zone), us };
}

/** "2024-01-02T03:04:05.123Z", with three more digits only when there are microseconds (Date's own form otherwise). */
export function formatIso(t: Instant): string {
  const base = new Date(t.ms).toISOString();
  return t.us === 0 ? base : `${base.slice(0, -1)}${String(t.us).padStart(3, '0')}Z`;
}

/** "2024-01-02 03:04:05.123456" as the wall clock in `zone`, for columns that store no zone. */
export function formatNaive(t: Instant, zone: string): string {
  const local = new Date(t.ms + zoneOffsetMs(zone, t.ms)).toISOString();
  const seconds = `${local.slice(0, 10)} ${local.slice(11, 19)}`;
  const millis = local.slice(20, 23);
  if (t.us !== 0) return `${seconds}.${millis}${String(t.us).padStart(3, '0')}`;
  return millis === '000' ? seconds : `${seconds}.${millis}`;
}

export function compareInstants(a: Instant, b: Instant): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.us - b.us;
}

function fixedOffsetMs(zone: string): number {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replaceAll(':', '');
  const hours = +digits.slice(0, 2);
  const minutes = +(digits.slice(2, 4) || 0);
  const seconds = +(digits.slice(4, 6) || 0);
  return sign * ((hours * 60 + minutes) * 60 + seconds) * 1000;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The offset of `zone` from UTC at the UTC instant `utcMs` (local = utc + offset). */
export function zoneOffsetMs(zone: string, utcMs: number): number {
  if (zone === 'UTC' || zone === 'Z') return 0;
  if (/^[+-]\d{2}:?\d{2}$/.test(zone)) return fixedOffsetMs(zone);
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, formatter);
  }
  const parts: Record<string, number> = {};
  for (const p of formatter.formatToParts(new Date(utcMs)))
    if (p.type !== 'literal') parts[p.type] = +p.value;
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - (utcMs - (((utcMs % 1000) + 1000) % 1000));
}

/** The offset to subtract from a wall-clock time in `zone` to get UTC (two passes settle DST edges). */
function naiveOffsetMs(zone: string, wallMs: number): number {
  const first = zoneOffsetMs(zone, wallMs);
  return zoneOffsetMs(zone, wallMs - first);
}
