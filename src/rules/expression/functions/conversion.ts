/** Conversions, tests of a value's kind, bit arithmetic and generated values. */
import { randomInt, randomUUID } from 'node:crypto';
import { isBinary, isReference, type Value } from '../../../core/values.js';
import type { FunctionSpec } from '../spec.js';
import { badValue, mapText, NULL, numberOf, toText, truthOf } from '../coerce.js';
import { readDate } from '../dates.js';
import { enumArg, integerArg } from './helpers.js';

const TRUE: Value[] = [true];
const FALSE: Value[] = [false];
const GUID = /^\{?([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})\}?$/;

function test(name: string, predicate: (values: Value[]) => boolean): FunctionSpec {
  return {
    name,
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => (predicate(source(ctx)) ? TRUE : FALSE);
    },
  };
}

/** Integers for bit arithmetic, 64 bits wide (userAccountControl, groupType, msDS-User-Account-Control-Computed). */
function bits(value: Value | undefined, fn: string, what: string): bigint {
  if (value === undefined) throw badValue(fn, `${what} is null`);
  const n = numberOf(value);
  if (n === undefined || !Number.isInteger(n)) throw badValue(fn, `${what} must be an integer`);
  return BigInt(n);
}

function bitFunction(name: string, combine: (a: bigint, b: bigint) => Value): FunctionSpec {
  return {
    name,
    minArgs: 2,
    maxArgs: 2,
    build(site) {
      const [a, b] = [site.args[0]!.evaluate, site.args[1]!.evaluate];
      return (ctx) => [combine(bits(a(ctx)[0], name, 'value1'), bits(b(ctx)[0], name, 'value2'))];
    },
  };
}

/** .NET's Guid byte order: the first three groups little-endian, the last two as written. */
function guidToBytes(text: string): Uint8Array | undefined {
  const m = GUID.exec(text.trim());
  if (!m) return undefined;
  const hex = m.slice(1).join('');
  const bytes = Buffer.from(hex, 'hex');
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return new Uint8Array(bytes);
}

function bytesToGuid(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  const le = (from: number, to: number) => Buffer.from(b.subarray(from, to)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${b.subarray(8, 10).toString('hex')}-${b.subarray(10, 16).toString('hex')}`;
}

/** S-1-5-21-…: revision, 48-bit big-endian authority, then 32-bit little-endian sub-authorities. */
function sidToString(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8) return undefined;
  const count = bytes[1]!;
  if (bytes.length !== 8 + count * 4) return undefined;
  const b = Buffer.from(bytes);
  const authority = b.readUIntBE(2, 6);
  const parts = [`S-${bytes[0]}`, String(authority)];
  for (let i = 0; i < count; i++) parts.push(String(b.readUInt32LE(8 + i * 4)));
  return parts.join('-');
}

const ENCODINGS = ['Unicode', 'UTF8', 'ASCII'] as const;
const NODE_ENCODING: Record<(typeof ENCODINGS)[number], BufferEncoding> = {
  Unicode: 'utf16le',
  UTF8: 'utf8',
  ASCII: 'latin1',
};

/** The special characters Windows' password complexity rules count. */
const SPECIALS = '~!@#$%^&*_-+=`|\\(){}[]:;"\'<>,.?/';
const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const MAX_RANDOM_LENGTH = 256;

export const conversionFunctions: FunctionSpec[] = [
  {
    name: 'CBool',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => (truthOf(source(ctx), 'CBool') ? TRUE : FALSE);
    },
  },
  {
    name: 'CNum',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        source(ctx).map((v) => {
          const n = numberOf(v);
          if (n === undefined || !Number.isFinite(n)) throw badValue('CNum', 'the value is not a number');
          return n;
        });
    },
  },
  {
    name: 'CRef',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => source(ctx).map((v) => (isReference(v) ? v : { ref: toText(v, 'CRef') }));
    },
  },
  {
    name: 'ConvertToBase64',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      // Text is encoded as UTF-16LE ("Unicode"), as Microsoft documents; binary values as their bytes.
      return (ctx) =>
        source(ctx).map((v) =>
          isBinary(v)
            ? Buffer.from(v).toString('base64')
            : Buffer.from(toText(v, 'ConvertToBase64'), 'utf16le').toString('base64'),
        );
    },
  },
  {
    name: 'ConvertFromBase64',
    minArgs: 1,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const encoding =
        NODE_ENCODING[(enumArg(site, 1, 'Encoding', ENCODINGS) ?? 'Unicode') as (typeof ENCODINGS)[number]];
      return (ctx) =>
        mapText(source(ctx), 'ConvertFromBase64', (s) => {
          const clean = s.trim();
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
            throw badValue('ConvertFromBase64', 'the value is not base64');
          }
          return Buffer.from(clean, 'base64').toString(encoding);
        });
    },
  },
  {
    name: 'ConvertToUTF8Hex',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        mapText(source(ctx), 'ConvertToUTF8Hex', (s) => Buffer.from(s, 'utf8').toString('hex').toUpperCase());
    },
  },
  {
    name: 'ConvertFromUTF8Hex',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        mapText(source(ctx), 'ConvertFromUTF8Hex', (s) => {
          if (!/^([0-9A-Fa-f]{2})*$/.test(s))
            throw badValue('ConvertFromUTF8Hex', 'the value is not hexadecimal');
          return Buffer.from(s, 'hex').toString('utf8');
        });
    },
  },
  {
    name: 'CGuid',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        source(ctx).map((v) => {
          const bytes = guidToBytes(toText(v, 'CGuid'));
          if (!bytes) throw badValue('CGuid', 'the value is not a GUID');
          return bytes;
        });
    },
  },
  {
    name: 'StringFromGuid',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        source(ctx).map((v) => {
          if (!isBinary(v) || v.byteLength !== 16)
            throw badValue('StringFromGuid', 'expected a 16-byte binary GUID');
          return bytesToGuid(v);
        });
    },
  },
  {
    name: 'StringFromSid',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) =>
        source(ctx).map((v) => {
          const text = isBinary(v) ? sidToString(v) : undefined;
          if (text === undefined) throw badValue('StringFromSid', 'expected a binary security identifier');
          return text;
        });
    },
  },
  test('IsString', (values) => values.length > 0 && !isBinary(values[0])),
  test('IsNumeric', (values) =>
    values.length > 0 && !isBinary(values[0]) && numberOf(values[0]!) !== undefined),
  test('IsGuid', (values) => typeof values[0] === 'string' && GUID.test(values[0].trim())),
  test('IsDate', (values) => typeof values[0] === 'string' && readDate(values[0]) !== undefined),
  test('IsEmpty', (values) => values.length > 0 && values.every((v) => v === '')),
  bitFunction('BitAnd', (a, b) => Number(a & b)),
  bitFunction('BitOr', (a, b) => Number(a | b)),
  bitFunction('IsBitSet', (value, flag) => (value & flag) === flag),
  {
    name: 'Guid',
    minArgs: 0,
    maxArgs: 0,
    pure: false,
    build() {
      return () => [randomUUID()];
    },
  },
  {
    name: 'RandomNum',
    minArgs: 2,
    maxArgs: 2,
    pure: false,
    build(site) {
      const start = integerArg(site, 0, 'start');
      const end = integerArg(site, 1, 'end');
      return (ctx) => {
        const low = start(ctx);
        const high = end(ctx);
        if (
          high < low ||
          high - low >= 2 ** 48 ||
          !Number.isSafeInteger(low) ||
          !Number.isSafeInteger(high)
        ) {
          throw badValue('RandomNum', 'needs start <= end, less than 2^48 apart');
        }
        return [randomInt(low, high + 1)];
      };
    },
  },
  {
    name: 'RandomString',
    minArgs: 5,
    maxArgs: 6,
    pure: false,
    build(site) {
      const counts = [
        'Length',
        'MinimumNumbers',
        'MinimumSpecialCharacters',
        'MinimumCapital',
        'MinimumLowerCase',
      ].map((what, i) => integerArg(site, i, what));
      const avoidArg = site.args[5];
      const avoidOf = avoidArg && !avoidArg.omitted ? avoidArg.evaluate : () => NULL;
      return (ctx) => {
        const [length, numbers, specials, capitals, lowers] = counts.map((c) => c(ctx)) as [
          number,
          number,
          number,
          number,
          number,
        ];
        const avoid = avoidOf(ctx)[0];
        const avoidText = avoid === undefined ? '' : toText(avoid, 'RandomString');
        return [randomString(length, numbers, specials, capitals, lowers, avoidText)];
      };
    },
  },
  {
    // Redact hides the value in logs and plans: the value flows unchanged and the compiled expression says
    // `redacts: true` so that the engine prints "[Redact]" instead.
    name: 'Redact',
    minArgs: 1,
    maxArgs: 1,
    pure: false,
    build(site) {
      return site.args[0]!.evaluate;
    },
  },
];

function randomString(
  length: number,
  numbers: number,
  specials: number,
  capitals: number,
  lowers: number,
  avoid: string,
): string {
  const minimums = [numbers, specials, capitals, lowers];
  if (length < 1 || length > MAX_RANDOM_LENGTH)
    throw badValue('RandomString', `Length must be 1 to ${MAX_RANDOM_LENGTH}`);
  if (minimums.some((n) => n < 0)) throw badValue('RandomString', 'minimums cannot be negative');
  if (minimums.reduce((a, b) => a + b, 0) > length)
    throw badValue('RandomString', 'the minimums add up to more than Length');
  const keep = (set: string) => [...set].filter((c) => !avoid.includes(c)).join('');
  const sets = [keep(DIGITS), keep(SPECIALS), keep(UPPER), keep(LOWER)];
  sets.forEach((set, i) => {
    if (set === '' && minimums[i]! > 0)
      throw badValue('RandomString', 'CharactersToAvoid removes every character of a required kind');
  });
  const all = sets.join('');
  if (all === '') throw badValue('RandomString', 'CharactersToAvoid removes every character');
  const chars: string[] = [];
  sets.forEach((set, i) => {
    for (let n = 0; n < minimums[i]!; n++) chars.push(set[randomInt(set.length)]!);
  });
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  // Fisher-Yates with a cryptographic generator, so that the required kinds are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
