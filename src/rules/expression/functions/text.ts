/** Text functions: each applies to every value of a multi-valued source, and null stays null unless noted. */
import type { FunctionSpec } from '../compile.js';
import { mapText, NULL } from '../coerce.js';
import { integerArg, literalText, textArg } from './helpers.js';

function caseFunction(name: string, lower: boolean): FunctionSpec {
  return {
    name,
    minArgs: 1,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const culture = literalText(site, 1, 'culture');
      if (culture !== undefined && culture !== '') {
        try {
          Intl.getCanonicalLocales(culture);
        } catch {
          site.fail(
            'EXPRESSION_BAD_ARGUMENT',
            `unknown culture "${culture}"`,
            1,
            'a culture name such as en-US',
          );
        }
        return lower
          ? (ctx) => mapText(source(ctx), name, (s) => s.toLocaleLowerCase(culture))
          : (ctx) => mapText(source(ctx), name, (s) => s.toLocaleUpperCase(culture));
      }
      // No culture: the invariant culture, which is what toLowerCase/toUpperCase implement.
      return lower
        ? (ctx) => mapText(source(ctx), name, (s) => s.toLowerCase())
        : (ctx) => mapText(source(ctx), name, (s) => s.toUpperCase());
    },
  };
}

/** Left and Right: Microsoft documents numChars 0 → "", negative → the whole string, null string → "". */
function sideFunction(name: string, fromLeft: boolean): FunctionSpec {
  return {
    name,
    minArgs: 2,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const count = integerArg(site, 1, 'numChars');
      return (ctx) => {
        const values = source(ctx);
        const n = count(ctx);
        if (values.length === 0) return [''];
        return mapText(values, name, (s) => {
          if (n < 0 || n >= s.length) return s;
          return fromLeft ? s.slice(0, n) : s.slice(s.length - n);
        });
      };
    },
  };
}

export const textFunctions: FunctionSpec[] = [
  {
    name: 'Append',
    minArgs: 2,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const suffix = textArg(site, 1);
      // A null source stays null: Append([userPrincipalName], ".test") must not invent a value ".test".
      return (ctx) => {
        const values = source(ctx);
        if (values.length === 0) return NULL;
        const tail = suffix(ctx);
        return mapText(values, 'Append', (s) => s + tail);
      };
    },
  },
  caseFunction('ToLower', true),
  caseFunction('ToUpper', false),
  {
    name: 'Trim',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), 'Trim', (s) => s.trim());
    },
  },
  sideFunction('Left', true),
  {
    name: 'Mid',
    minArgs: 3,
    maxArgs: 3,
    build(site) {
      const source = site.args[0]!.evaluate;
      const start = integerArg(site, 1, 'start');
      const length = integerArg(site, 2, 'length');
      return (ctx) => {
        const from = start(ctx);
        const n = length(ctx);
        return mapText(source(ctx), 'Mid', (s) => {
          // 1-based start; a start before the string or a length past its end is clipped, not an error.
          if (n <= 0 || from > s.length) return '';
          const begin = Math.max(from, 1) - 1;
          const end = Math.min(s.length, from - 1 + n);
          return end > begin ? s.slice(begin, end) : '';
        });
      };
    },
  },
  {
    name: 'Word',
    minArgs: 3,
    maxArgs: 3,
    build(site) {
      const source = site.args[0]!.evaluate;
      const number = integerArg(site, 1, 'WordNumber');
      const delimiters = textArg(site, 2);
      return (ctx) => {
        const values = source(ctx);
        if (values.length === 0) return [''];
        const n = number(ctx);
        const delims = delimiters(ctx);
        return mapText(values, 'Word', (s) => nthWord(s, n, delims));
      };
    },
  },
  {
    name: 'StripSpaces',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), 'StripSpaces', (s) => s.replaceAll(' ', ''));
    },
  },
  {
    name: 'NormalizeDiacritics',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), 'NormalizeDiacritics', normalizeDiacritics);
    },
  },
  {
    name: 'CStr',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), 'CStr', (s) => s);
    },
  },
];

/** Letters Microsoft's table maps that have no decomposition into a base letter and marks. */
const LETTERS: Record<string, string> = {
  æ: 'ae',
  Æ: 'AE',
  ø: 'oe',
  Ø: 'OE',
  œ: 'oe',
  Œ: 'OE',
  ß: 'ss',
  ł: 'l',
  Ł: 'L',
  ı: 'i',
};
const SPECIAL_LETTERS = /[æÆøØœŒßłŁı]/g;

/**
 * Microsoft's table lists Latin letters only; marks are removed from Latin base letters only, so that other
 * scripts (Cyrillic й, Devanagari, kana with voicing marks) keep their meaning.
 */
function normalizeDiacritics(s: string): string {
  return s
    .normalize('NFD')
    .replace(SPECIAL_LETTERS, (c) => LETTERS[c]!)
    .replace(/([A-Za-z])[\u0300-\u036f]+/g, '$1')
    .normalize('NFC');
}

/** The n-th (1-based) run of characters between delimiters; "" when there is none. */
function nthWord(s: string, n: number, delimiters: string): string {
  if (n < 1) return '';
  let count = 0;
  let i = 0;
  while (i < s.length) {
    while (i < s.length && delimiters.includes(s[i]!)) i++;
    if (i >= s.length) break;
    const start = i;
    while (i < s.length && !delimiters.includes(s[i]!)) i++;
    if (++count === n) return s.slice(start, i);
  }
  return '';
}
