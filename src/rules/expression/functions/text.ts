/** Text functions: each applies to every value of a multi-valued source, and null stays null unless noted. */
import type { FunctionSpec } from '../spec.js';
import type { Value } from '../../../core/values.js';
import type { EvalContext } from '../coerce.js';
import { badValue, mapText, NULL, toText } from '../coerce.js';
import { enumArg, integerArg, literalText, textArg } from './helpers.js';

function caseFunction(name: string, lower: boolean, maxArgs = 2): FunctionSpec {
  return {
    name,
    minArgs: 1,
    maxArgs,
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
  sideFunction('Right', false),
  caseFunction('LCase', true, 1),
  caseFunction('UCase', false, 1),
  trimFunction('LTrim', (s) => s.trimStart()),
  trimFunction('RTrim', (s) => s.trimEnd()),
  padFunction('PadLeft', true),
  padFunction('PadRight', false),
  {
    name: 'Len',
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), 'Len', (s) => s.length);
    },
  },
  {
    name: 'PCase',
    minArgs: 1,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const separators = site.args.length === 2 && !site.args[1]!.omitted ? textArg(site, 1) : undefined;
      return (ctx) => {
        const custom = separators?.(ctx);
        const isSeparator = custom
          ? (c: string) => custom.includes(c)
          : (c: string) => DEFAULT_WORD_SEPARATOR.test(c);
        return mapText(source(ctx), 'PCase', (s) => properCase(s, isSeparator));
      };
    },
  },
  instrFunction('InStr', false),
  instrFunction('InStrRev', true),
  {
    name: 'ReplaceChars',
    minArgs: 2,
    maxArgs: 2,
    build(site) {
      const source = site.args[0]!.evaluate;
      const pattern = site.args[1]!;
      let table: Map<string, string> | undefined;
      if (pattern.constant) {
        try {
          table = parseReplacePattern(literalText(site, 1, 'ReplacePattern') ?? '');
        } catch (err) {
          site.fail(
            'EXPRESSION_BAD_ARGUMENT',
            (err as Error).message,
            1,
            'source:target pairs separated by commas',
          );
        }
      }
      const readPattern = textArg(site, 1);
      return (ctx) => {
        let map = table;
        if (!map) {
          try {
            map = parseReplacePattern(readPattern(ctx));
          } catch (err) {
            throw badValue('ReplaceChars', (err as Error).message);
          }
        }
        const chars = map;
        return mapText(source(ctx), 'ReplaceChars', (s) => Array.from(s, (c) => chars.get(c) ?? c).join(''));
      };
    },
  },
  {
    name: 'Mid',
    minArgs: 2,
    maxArgs: 3,
    build(site) {
      const source = site.args[0]!.evaluate;
      const start = integerArg(site, 1, 'start');
      // Two arguments (Microsoft's Mid(Item(...), 6)): the rest of the string.
      const length = site.args.length === 3 ? integerArg(site, 2, 'length') : () => Number.MAX_SAFE_INTEGER;
      return (ctx) => {
        const values = source(ctx);
        if (values.length === 0) return [''];
        const from = start(ctx);
        const n = length(ctx);
        // Connect sync documents each edge: 0 characters → "", a negative count or a start outside the
        // string → the whole string; a length past the end stops at the end.
        return mapText(values, 'Mid', (s) => {
          if (n === 0) return '';
          if (n < 0 || from <= 0 || from > s.length) return s;
          return s.slice(from - 1, Math.min(s.length, from - 1 + n));
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

function trimFunction(name: string, trim: (s: string) => string): FunctionSpec {
  return {
    name,
    minArgs: 1,
    maxArgs: 1,
    build(site) {
      const source = site.args[0]!.evaluate;
      return (ctx) => mapText(source(ctx), name, trim);
    },
  };
}

/** PadLeft and PadRight: a null string gives "", the pad must be exactly one character (Connect sync's rules). */
function padFunction(name: string, left: boolean): FunctionSpec {
  return {
    name,
    minArgs: 3,
    maxArgs: 3,
    build(site) {
      const source = site.args[0]!.evaluate;
      const length = integerArg(site, 1, 'length');
      const pad = textArg(site, 2);
      return (ctx) => {
        const values = source(ctx);
        if (values.length === 0) return [''];
        const n = length(ctx);
        const c = pad(ctx);
        if ([...c].length !== 1) throw badValue(name, 'padCharacter must be exactly one character');
        if (n > 10_000) throw badValue(name, 'length must be at most 10000');
        return mapText(values, name, (s) => (left ? s.padStart(n, c) : s.padEnd(n, c)));
      };
    },
  };
}

/**
 * InStr and InStrRev: the 1-based position of the text, 0 when absent. `start` is where the search begins
 * (InStrRev searches backwards from it); vbTextCompare ignores case.
 */
function instrFunction(name: string, reverse: boolean): FunctionSpec {
  return {
    name,
    minArgs: 2,
    maxArgs: 4,
    build(site) {
      const haystack = site.args[0]!.evaluate;
      const needle = textArg(site, 1);
      const start = integerArg(site, 2, 'start', reverse ? -1 : 1);
      const ignoreCase =
        enumArg(site, 3, 'compare', ['vbTextCompare', 'vbBinaryCompare']) === 'vbTextCompare';
      return (ctx: EvalContext): Value[] => {
        const values = haystack(ctx);
        if (values.length === 0) return NULL;
        let text = toText(values[0]!, name);
        let find = needle(ctx);
        if (ignoreCase) {
          text = text.toLowerCase();
          find = find.toLowerCase();
        }
        const from = start(ctx);
        if (reverse) {
          const at =
            from < 0 ? text.lastIndexOf(find) : from === 0 ? -1 : text.lastIndexOf(find, from - find.length);
          return [at + 1];
        }
        if (from < 1) throw badValue(name, 'start must be 1 or more');
        return [text.indexOf(find, from - 1) + 1];
      };
    },
  };
}

/**
 * Word separators of .NET's ToTitleCase, which Entra's PCase uses without wordSeparators: white space,
 * control and format characters, punctuation and symbols.
 */
const DEFAULT_WORD_SEPARATOR = /^[\s\p{C}\p{P}\p{S}]$/u;

/**
 * Every character lower case, then the first letter of each word upper case. Microsoft's examples
 * ("PABLO GONSALVES (SECOND)" → "Pablo Gonsalves (Second)") lower-case words written all in capitals,
 * although Connect sync's page says acronyms are left alone: the examples win.
 */
function properCase(s: string, isSeparator: (c: string) => boolean): string {
  let out = '';
  let startOfWord = true;
  for (const c of s) {
    if (isSeparator(c)) {
      out += c;
      startOfWord = true;
    } else {
      out += startOfWord ? c.toUpperCase() : c.toLowerCase();
      startOfWord = false;
    }
  }
  return out;
}

/** ReplaceChars' dictionary: "{source}:{target},…"; white space ignored, a source is one character. */
function parseReplacePattern(pattern: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of pattern.replace(/\s+/g, '').split(',')) {
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    const source = colon < 0 ? entry : entry.slice(0, colon);
    if ([...source].length !== 1) throw new Error(`"${source}" must be exactly one character`);
    map.set(source, colon < 0 ? '' : entry.slice(colon + 1));
  }
  return map;
}

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
const ASCII = /^[\x00-\x7f]*$/;
const SPECIAL_LETTERS = /[æÆøØœŒßłŁı]/g;

/**
 * Microsoft's table lists Latin letters only; marks are removed from Latin base letters only, so that other
 * scripts (Cyrillic й, Devanagari, kana with voicing marks) keep their meaning.
 */
function normalizeDiacritics(s: string): string {
  if (ASCII.test(s)) return s;
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
