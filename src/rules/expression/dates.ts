/**
 * Dates for the expression functions: a lenient reader for the forms Microsoft's examples use, and .NET custom
 * date and time format strings (yyyy-MM-dd, yyyyMMddHHmmss.fZ, M/d/yyyy hh:mm:ss tt, …) both ways.
 *
 * Everything is UTC: a date without an offset is read as UTC, and dates are written as ISO 8601 strings in UTC
 * (the value model's form), where Microsoft writes "M/d/yyyy h:mm:ss tt".
 */

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export const MS_PER_DAY = 86_400_000;
/** Milliseconds between 1601-01-01 (Windows FILETIME epoch) and 1970-01-01. */
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

export function isoString(ms: number): string {
  return new Date(ms).toISOString();
}

// ---- lenient reading ---------------------------------------------------------------------------------------

const ZONE = '(Z|[+-]\\d{1,2}(?::?\\d{2})?)';
const TIME = '(\\d{1,2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d{1,7}))?)?\\s*([AaPp][Mm])?';
const ISO_LIKE = new RegExp(`^(\\d{4})-(\\d{1,2})-(\\d{1,2})(?:(?:T|\\s+)${TIME})?\\s*${ZONE}?$`);
const US_LIKE = new RegExp(`^(\\d{1,2})/(\\d{1,2})/(\\d{4})(?:\\s+${TIME})?\\s*${ZONE}?$`);
const GENERALIZED =
  /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d{1,7}))?(Z|[+-]\d{2}(?:\d{2})?)?$/;

/**
 * Milliseconds since 1970 for the date forms seen in identity data, or undefined:
 * ISO 8601 ("2009-06-15T01:45:30-07:00", "2021-06-30+08:00", "2012-03-16-07:00", "2013-01-10 4:00 PM -8"),
 * US ("12/25/2007", "8/25/2021 5:41:18 PM") and LDAP generalized time ("20150123105347.1Z").
 */
export function readDate(text: string): number | undefined {
  const s = text.trim();
  let m = ISO_LIKE.exec(s);
  if (m) return build(+m[1]!, +m[2]!, +m[3]!, m[4], m[5], m[6], m[7], m[8], m[9]);
  m = US_LIKE.exec(s);
  if (m) return build(+m[3]!, +m[1]!, +m[2]!, m[4], m[5], m[6], m[7], m[8], m[9]);
  m = GENERALIZED.exec(s);
  if (m) return build(+m[1]!, +m[2]!, +m[3]!, m[4], m[5] ?? '00', m[6], m[7], undefined, m[8]);
  return undefined;
}

function build(
  year: number,
  month: number,
  day: number,
  hour?: string,
  minute?: string,
  second?: string,
  fraction?: string,
  ampm?: string,
  zone?: string,
): number | undefined {
  let h = hour === undefined ? 0 : +hour;
  if (ampm) {
    if (h < 1 || h > 12) return undefined;
    h = (h % 12) + (ampm.toUpperCase() === 'PM' ? 12 : 0);
  }
  const fields: DateFields = {
    year,
    month,
    day,
    hour: h,
    minute: minute === undefined ? 0 : +minute,
    second: second === undefined ? 0 : +second,
    ms: fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000),
    offsetMinutes: zone === undefined ? 0 : zoneMinutes(zone),
  };
  return fieldsToMs(fields);
}

function zoneMinutes(zone: string): number | undefined {
  if (zone === 'Z' || zone === 'z') return 0;
  const m = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(zone);
  if (!m) return undefined;
  const minutes = +m[2]! * 60 + (m[3] === undefined ? 0 : +m[3]);
  if (+m[2]! > 14 || (m[3] !== undefined && +m[3] > 59)) return undefined;
  return m[1] === '-' ? -minutes : minutes;
}

interface DateFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  offsetMinutes: number | undefined;
}

function fieldsToMs(f: DateFields): number | undefined {
  if (f.offsetMinutes === undefined) return undefined;
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > daysInMonth(f.year, f.month)) return undefined;
  if (f.hour > 23 || f.minute > 59 || f.second > 59) return undefined;
  const utc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second, f.ms);
  // Date.UTC maps years 0-99 to 1900-1999; identity data has no such dates, and they are refused.
  if (f.year < 100) return undefined;
  return utc - f.offsetMinutes * 60_000;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// ---- arithmetic ------------------------------------------------------------------------------------------

export type Interval = 'yyyy' | 'q' | 'm' | 'y' | 'd' | 'w' | 'ww' | 'h' | 'n' | 's';
export const INTERVALS: readonly Interval[] = ['yyyy', 'q', 'm', 'y', 'd', 'w', 'ww', 'h', 'n', 's'];

/** DateAdd: months and years keep the day, clipped to the end of a shorter month (as .NET's AddMonths). */
export function addInterval(ms: number, interval: Interval, amount: number): number {
  const n = Math.trunc(amount);
  switch (interval) {
    case 'yyyy':
      return addMonths(ms, n * 12);
    case 'q':
      return addMonths(ms, n * 3);
    case 'm':
      return addMonths(ms, n);
    case 'y':
    case 'd':
    case 'w':
      return ms + n * MS_PER_DAY;
    case 'ww':
      return ms + n * 7 * MS_PER_DAY;
    case 'h':
      return ms + n * 3_600_000;
    case 'n':
      return ms + n * 60_000;
    case 's':
      return ms + n * 1000;
  }
}

function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(d.getUTCDate(), daysInMonth(year, month + 1));
  return Date.UTC(
    year,
    month,
    day,
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/**
 * DateDiff counts the boundaries crossed between the two dates, as VBScript does: DateDiff("yyyy") from
 * 31 Dec to 1 Jan is 1; "ww" counts Sundays. That is what reproduces every figure in Microsoft's table
 * (e.g. -493 weeks from 8/25/2021 5:41:18 PM to 2012-03-16-07:00, where dividing days by 7 gives -492).
 */
export function diffInterval(interval: Interval, from: number, to: number): number {
  const a = new Date(from);
  const b = new Date(to);
  switch (interval) {
    case 'yyyy':
      return b.getUTCFullYear() - a.getUTCFullYear();
    case 'q':
      return (
        b.getUTCFullYear() * 4 +
        Math.floor(b.getUTCMonth() / 3) -
        (a.getUTCFullYear() * 4 + Math.floor(a.getUTCMonth() / 3))
      );
    case 'm':
      return b.getUTCFullYear() * 12 + b.getUTCMonth() - (a.getUTCFullYear() * 12 + a.getUTCMonth());
    case 'y':
    case 'd':
      return dayNumber(to) - dayNumber(from);
    case 'w':
      return Math.trunc((dayNumber(to) - dayNumber(from)) / 7);
    case 'ww':
      // 1970-01-01 was a Thursday: day + 4 counts from a Sunday.
      return Math.floor((dayNumber(to) + 4) / 7) - Math.floor((dayNumber(from) + 4) / 7);
    case 'h':
      return Math.floor(to / 3_600_000) - Math.floor(from / 3_600_000);
    case 'n':
      return Math.floor(to / 60_000) - Math.floor(from / 60_000);
    case 's':
      return Math.floor(to / 1000) - Math.floor(from / 1000);
  }
}

function dayNumber(ms: number): number {
  return Math.floor(ms / MS_PER_DAY);
}

// ---- Active Directory numbers (FILETIME: 100 ns ticks since 1601) -------------------------------------------

export function fileTimeToMs(ticks: bigint): number {
  return Number(ticks / 10_000n - FILETIME_EPOCH_OFFSET_MS);
}

export function msToFileTime(ms: number): bigint {
  return (BigInt(Math.trunc(ms)) + FILETIME_EPOCH_OFFSET_MS) * 10_000n;
}

// ---- .NET custom format strings -----------------------------------------------------------------------------

type Token = { kind: 'literal'; text: string } | { kind: 'field'; spec: string };

/** Split a .NET custom format string into specifiers and literal text. */
export function tokenizeFormat(format: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const literal = (text: string) => {
    const last = tokens[tokens.length - 1];
    if (last?.kind === 'literal') last.text += text;
    else tokens.push({ kind: 'literal', text });
  };
  while (i < format.length) {
    const ch = format[i]!;
    if (ch === '"' || ch === "'") {
      const end = format.indexOf(ch, i + 1);
      if (end < 0) throw new FormatError(`unclosed quote at character ${i}`);
      literal(format.slice(i + 1, end));
      i = end + 1;
    } else if (ch === '\\') {
      if (i + 1 >= format.length) throw new FormatError('the format ends with a lone backslash');
      literal(format[i + 1]!);
      i += 2;
    } else if (ch === '%') {
      i++;
    } else if ('dfFghHKmMstyz'.includes(ch)) {
      let j = i;
      while (format[j] === ch) j++;
      tokens.push({ kind: 'field', spec: format.slice(i, j) });
      i = j;
    } else {
      literal(ch);
      i++;
    }
  }
  return tokens;
}

export class FormatError extends Error {}

/** Check that every specifier is one .NET knows, so that a typo fails when the configuration loads. */
export function validateFormat(tokens: Token[]): void {
  for (const t of tokens) {
    if (t.kind !== 'field') continue;
    const { spec } = t;
    const c = spec[0]!;
    const n = spec.length;
    const ok =
      (c === 'd' && n <= 4) ||
      ((c === 'f' || c === 'F') && n <= 7) ||
      (c === 'g' && n <= 2) ||
      ((c === 'h' || c === 'H' || c === 'm' || c === 's' || c === 't') && n <= 2) ||
      (c === 'K' && n === 1) ||
      (c === 'M' && n <= 4) ||
      (c === 'y' && n <= 5) ||
      (c === 'z' && n <= 3);
    if (!ok) throw new FormatError(`"${spec}" is not a .NET date and time format specifier`);
  }
}

export function formatDate(ms: number, tokens: Token[]): string {
  const d = new Date(ms);
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'literal') {
      out += t.text;
      continue;
    }
    const n = t.spec.length;
    switch (t.spec[0]) {
      case 'y': {
        const y = d.getUTCFullYear();
        out += n === 1 ? String(y % 100) : n === 2 ? pad(y % 100, 2) : pad(y, n);
        break;
      }
      case 'M': {
        const month = d.getUTCMonth();
        out += n <= 2 ? pad(month + 1, n) : n === 3 ? MONTHS[month]!.slice(0, 3) : MONTHS[month]!;
        break;
      }
      case 'd': {
        if (n <= 2) out += pad(d.getUTCDate(), n);
        else out += n === 3 ? DAYS[d.getUTCDay()]!.slice(0, 3) : DAYS[d.getUTCDay()]!;
        break;
      }
      case 'H':
        out += pad(d.getUTCHours(), n);
        break;
      case 'h':
        out += pad(d.getUTCHours() % 12 || 12, n);
        break;
      case 'm':
        out += pad(d.getUTCMinutes(), n);
        break;
      case 's':
        out += pad(d.getUTCSeconds(), n);
        break;
      case 'f':
      case 'F': {
        // Milliseconds are all a JavaScript date holds; finer digits are zero.
        const digits = pad(d.getUTCMilliseconds(), 3).padEnd(7, '0').slice(0, n);
        out += t.spec[0] === 'f' ? digits : digits.replace(/0+$/, '');
        break;
      }
      case 't':
        out += (d.getUTCHours() < 12 ? 'AM' : 'PM').slice(0, n);
        break;
      case 'z':
        out += n === 1 ? '+0' : n === 2 ? '+00' : '+00:00';
        break;
      case 'K':
        out += 'Z';
        break;
      case 'g':
        out += 'A.D.';
        break;
    }
  }
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * A reader for one format: the format becomes an anchored pattern of bounded digit groups and literals
 * (linear to match), and the groups become date fields.
 */
export function formatReader(tokens: Token[]): (text: string) => number | undefined {
  let pattern = '^';
  const fields: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'literal') {
      pattern += escapeRegex(t.text);
      continue;
    }
    const n = t.spec.length;
    const c = t.spec[0]!;
    let group: string;
    switch (c) {
      case 'y':
        group = n <= 2 ? '\\d{1,2}' : `\\d{${n},5}`;
        break;
      case 'M':
        group = n <= 2 ? (n === 1 ? '\\d{1,2}' : '\\d{2}') : n === 3 ? '[A-Za-z]{3}' : '[A-Za-z]{3,9}';
        break;
      case 'd':
        group = n <= 2 ? (n === 1 ? '\\d{1,2}' : '\\d{2}') : '[A-Za-z]{3,9}';
        break;
      case 'H':
      case 'h':
      case 'm':
      case 's':
        group = n === 1 ? '\\d{1,2}' : '\\d{2}';
        break;
      case 'f':
        group = `\\d{${n}}`;
        break;
      case 'F':
        group = `\\d{0,${n}}`;
        break;
      case 't':
        group = n === 1 ? '[AaPp]' : '[AaPp][Mm]';
        break;
      case 'z':
        group = n === 1 ? '[+-]\\d{1,2}' : n === 2 ? '[+-]\\d{2}' : '[+-]\\d{2}:\\d{2}';
        break;
      case 'K':
        group = '(?:Z|[+-]\\d{2}:\\d{2})?';
        break;
      default:
        group = '[^\\s]*?';
    }
    pattern += `(${group})`;
    fields.push(t.spec);
  }
  const regex = new RegExp(`${pattern}$`);
  return (text) => {
    const m = regex.exec(text.trim());
    if (!m) return undefined;
    const f: DateFields = {
      year: 1,
      month: 1,
      day: 1,
      hour: 0,
      minute: 0,
      second: 0,
      ms: 0,
      offsetMinutes: 0,
    };
    let pm: boolean | undefined;
    let hour12: number | undefined;
    for (let i = 0; i < fields.length; i++) {
      const spec = fields[i]!;
      const v = m[i + 1] ?? '';
      switch (spec[0]) {
        case 'y':
          f.year = spec.length <= 2 ? 2000 + +v : +v;
          break;
        case 'M':
          if (spec.length <= 2) f.month = +v;
          else {
            const index = MONTHS.findIndex((name) =>
              spec.length === 3
                ? name.slice(0, 3).toLowerCase() === v.toLowerCase()
                : name.toLowerCase() === v.toLowerCase(),
            );
            if (index < 0) return undefined;
            f.month = index + 1;
          }
          break;
        case 'd':
          if (spec.length <= 2) f.day = +v;
          break;
        case 'H':
          f.hour = +v;
          break;
        case 'h':
          hour12 = +v;
          break;
        case 'm':
          f.minute = +v;
          break;
        case 's':
          f.second = +v;
          break;
        case 'f':
        case 'F':
          f.ms = v === '' ? 0 : Math.floor(Number(`0.${v}`) * 1000);
          break;
        case 't':
          pm = v[0]!.toUpperCase() === 'P';
          break;
        case 'z':
        case 'K':
          f.offsetMinutes = v === '' ? 0 : zoneMinutes(v);
          break;
      }
    }
    if (hour12 !== undefined) {
      if (hour12 < 1 || hour12 > 12) return undefined;
      f.hour = (hour12 % 12) + (pm ? 12 : 0);
    } else if (pm !== undefined && pm && f.hour < 12) {
      f.hour += 12;
    }
    return fieldsToMs(f);
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
