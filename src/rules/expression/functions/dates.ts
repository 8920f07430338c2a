/** Date functions. Dates are ISO 8601 strings in UTC in and out (see ../dates.ts). */
import type { Value } from '../../../core/values.js';
import type { CallSite, FunctionSpec } from '../spec.js';
import { badValue, type EvalContext, mapText, NULL, toNumber, toText } from '../coerce.js';
import {
  addInterval,
  diffInterval,
  fileTimeToMs,
  FormatError,
  formatDate,
  formatReader,
  INTERVALS,
  type Interval,
  isoString,
  msToFileTime,
  readDate,
  tokenizeFormat,
  validateFormat,
} from '../dates.js';
import { isPresentArg, literalText, textArg } from './helpers.js';

/** A value as a date: an ISO (or other documented) date string, or a JavaScript Date's number. */
function dateOf(value: Value, fn: string): number {
  const ms = readDate(toText(value, fn));
  if (ms === undefined) throw badValue(fn, 'the value is not a date this function can read');
  return ms;
}

function firstDate(values: Value[], fn: string): number | undefined {
  const v = values[0];
  return v === undefined ? undefined : dateOf(v, fn);
}

function intervalArg(site: CallSite, index: number): (ctx: EvalContext) => Interval {
  const arg = site.args[index]!;
  const check = (text: string): Interval | undefined => INTERVALS.find((i) => i === text.toLowerCase());
  if (arg.constant) {
    const text = literalText(site, index, 'interval') ?? '';
    const interval = check(text);
    if (!interval)
      site.fail('EXPRESSION_BAD_ARGUMENT', `unknown interval "${text}"`, index, INTERVALS.join(', '));
    return () => interval;
  }
  const read = textArg(site, index);
  return (ctx) => {
    const interval = check(read(ctx));
    if (!interval) throw badValue(site.name, `the interval must be one of ${INTERVALS.join(', ')}`);
    return interval;
  };
}

function formatArg(site: CallSite, index: number, what: string) {
  const text = literalText(site, index, what);
  if (text === undefined || text === '')
    site.fail('EXPRESSION_BAD_ARGUMENT', `${what} is required`, index, 'a .NET date format');
  try {
    const tokens = tokenizeFormat(text);
    validateFormat(tokens);
    return tokens;
  } catch (err) {
    if (err instanceof FormatError)
      site.fail('EXPRESSION_BAD_ARGUMENT', `${what}: ${err.message}`, index, 'a .NET date format');
    throw err;
  }
}

const DATE_TIME_STYLES = [
  'None',
  'AllowLeadingWhite',
  'AllowTrailingWhite',
  'AllowInnerWhite',
  'AllowWhiteSpaces',
  'NoCurrentDateDefault',
  'AdjustToUniversal',
  'AssumeLocal',
  'AssumeUniversal',
  'RoundtripKind',
].map((s) => s.toLowerCase());

export const dateFunctions: FunctionSpec[] = [
  {
    name: 'CDate',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), 'CDate', (s) => isoString(dateOf(s, 'CDate')));
    },
  },
  {
    name: 'Now',
    minArgs: 0,
    maxArgs: 0,
    pure: false,
    build() {
      // The cycle's clock when the engine gives one, so that every object in a cycle sees the same Now().
      return (ctx) => [(ctx.options?.now ?? new Date()).toISOString()];
    },
  },
  {
    name: 'DateAdd',
    minArgs: 3,
    maxArgs: 3,
    build(site) {
      const interval = intervalArg(site, 0);
      const amount = site.args[1]!.evaluate;
      const date = site.args[2]!.evaluate;
      return (ctx) => {
        const ms = firstDate(date(ctx), 'DateAdd');
        if (ms === undefined) return NULL;
        const n = amount(ctx)[0];
        if (n === undefined) throw badValue('DateAdd', 'the number to add is null');
        const result = addInterval(ms, interval(ctx), toNumber(n, 'DateAdd', 'the number to add'));
        if (!Number.isFinite(result) || Number.isNaN(new Date(result).getTime()))
          throw badValue('DateAdd', 'the date is out of range');
        return [isoString(result)];
      };
    },
  },
  {
    name: 'DateDiff',
    minArgs: 3,
    maxArgs: 3,
    build(site) {
      const interval = intervalArg(site, 0);
      const first = site.args[1]!.evaluate;
      const second = site.args[2]!.evaluate;
      return (ctx) => {
        const a = firstDate(first(ctx), 'DateDiff');
        const b = firstDate(second(ctx), 'DateDiff');
        if (a === undefined || b === undefined) return NULL;
        return [diffInterval(interval(ctx), a, b)];
      };
    },
  },
  {
    name: 'DateFromNum',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        source(ctx).map((v) => {
          const ticks = integerTicks(v);
          const ms = fileTimeToMs(ticks);
          if (Number.isNaN(new Date(ms).getTime()))
            throw badValue('DateFromNum', 'the number is out of the date range');
          return isoString(ms);
        });
    },
  },
  {
    name: 'NumFromDate',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      // A number, as Active Directory's Integer8 attributes (accountExpires) take it; exact to the millisecond.
      return (ctx) => source(ctx).map((v) => Number(msToFileTime(dateOf(v, 'NumFromDate'))));
    },
  },
  {
    name: 'FormatDateTime',
    minArgs: 2,
    maxArgs: 4,
    build(site) {
      const source = site.args[0]!.evaluate;
      if (site.args.length === 2) {
        // Connect sync: FormatDateTime(dateTime, format).
        const output = formatArg(site, 1, 'format');
        return (ctx) =>
          mapText(source(ctx), 'FormatDateTime', (s) => formatDate(dateOf(s, 'FormatDateTime'), output));
      }
      // Entra: FormatDateTime(source, [dateTimeStyles,] inputFormat, outputFormat).
      const offset = site.args.length === 4 ? 1 : 0;
      if (offset === 1 && isPresentArg(site.args[1])) {
        const styles = literalText(site, 1, 'dateTimeStyles') ?? '';
        for (const style of styles.split(/[,|]/).map((s) => s.trim().toLowerCase())) {
          if (style !== '' && !DATE_TIME_STYLES.includes(style)) {
            site.fail(
              'EXPRESSION_BAD_ARGUMENT',
              `unknown DateTimeStyles value "${style}"`,
              1,
              'a DateTimeStyles name',
            );
          }
        }
      }
      const read = formatReader(formatArg(site, 1 + offset, 'inputFormat'));
      const output = formatArg(site, 2 + offset, 'outputFormat');
      return (ctx) =>
        mapText(source(ctx), 'FormatDateTime', (s) => {
          const ms = read(s);
          if (ms === undefined) throw badValue('FormatDateTime', 'the value does not match inputFormat');
          return formatDate(ms, output);
        });
    },
  },
];

function integerTicks(v: Value): bigint {
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^\s*-?\d{1,19}\s*$/.test(v)) return BigInt(v.trim());
  throw badValue('DateFromNum', 'the value must be a whole number of 100-nanosecond intervals since 1601');
}
