/**
 * Replace, in the forms Microsoft documents:
 *  - Connect sync: Replace(string, oldValue, newValue), with \n \r \t monikers;
 *  - Entra: Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName,
 *    template), where the arguments given (not left empty) choose what it does.
 * The form is chosen when the expression compiles; a combination Microsoft does not document is an error.
 */
import { ExpressionEvaluationError } from '../../errors.js';
import { compileSafeRegex, MAX_REGEX_INPUT, RegexProblem, type SafeRegex } from '../../regex/safe-regex.js';
import type { CallSite, FunctionSpec } from '../spec.js';
import { type Evaluator, firstText, isNullOrEmpty, mapText, NULL } from '../coerce.js';
import { isPresentArg, literalText, textArg } from './helpers.js';

const SOURCE = 0;
const OLD_VALUE = 1;
const REGEX_PATTERN = 2;
const REGEX_GROUP_NAME = 3;
const REPLACEMENT_VALUE = 4;
const REPLACEMENT_ATTRIBUTE = 5;
const TEMPLATE = 6;

export const replaceFunctions: FunctionSpec[] = [
  {
    name: 'Replace',
    minArgs: 3,
    maxArgs: 7,
    build(site) {
      if (site.args.length === 3 && site.args.every(isPresentArg)) return connectReplace(site);
      return entraReplace(site);
    },
  },
];

/** Connect sync's three-argument form: every occurrence, with \n, \r, \t standing for the control characters. */
function connectReplace(site: CallSite): Evaluator {
  const source = site.args[0]!.evaluate;
  const oldValue = textArg(site, 1);
  const newValue = textArg(site, 2);
  return (ctx) => {
    const from = unescapeMonikers(oldValue(ctx));
    const to = unescapeMonikers(newValue(ctx));
    if (from === '') return mapText(source(ctx), 'Replace', (s) => s);
    return mapText(source(ctx), 'Replace', (s) => s.split(from).join(to));
  };
}

function unescapeMonikers(s: string): string {
  return s.includes('\\')
    ? s.replace(/\\([nrt])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\t'))
    : s;
}

function entraReplace(site: CallSite): Evaluator {
  const has = (i: number) => isPresentArg(site.args[i]);
  const source = site.args[SOURCE]!.evaluate;
  if (has(OLD_VALUE) && has(REGEX_PATTERN)) {
    site.fail(
      'EXPRESSION_BAD_ARGUMENT',
      'give either oldValue or regexPattern, not both',
      REGEX_PATTERN,
      'an empty regexPattern',
    );
  }
  if (has(OLD_VALUE)) {
    const oldValue = textArg(site, OLD_VALUE);
    if (has(TEMPLATE) && !has(REPLACEMENT_VALUE)) {
      // The template with oldValue replaced by the source value: Replace([UserID], "<username>", , , , , "<username>@contoso.com")
      const template = textArg(site, TEMPLATE);
      return (ctx) => {
        const marker = oldValue(ctx);
        const shape = template(ctx);
        return mapText(source(ctx), 'Replace', (s) => (marker === '' ? shape : shape.split(marker).join(s)));
      };
    }
    if (has(REPLACEMENT_VALUE) && !has(TEMPLATE)) {
      const replacement = textArg(site, REPLACEMENT_VALUE);
      return (ctx) => {
        const from = oldValue(ctx);
        const to = replacement(ctx);
        return mapText(source(ctx), 'Replace', (s) => (from === '' ? s : s.split(from).join(to)));
      };
    }
    site.fail(
      'EXPRESSION_BAD_ARGUMENT',
      'with oldValue, give either replacementValue (5th argument) or template (7th argument)',
      OLD_VALUE,
      'replacementValue or template',
    );
  }
  if (has(REGEX_PATTERN)) {
    const pattern = literalText(site, REGEX_PATTERN, 'regexPattern') ?? '';
    const groupName = has(REGEX_GROUP_NAME)
      ? literalText(site, REGEX_GROUP_NAME, 'regexGroupName')
      : undefined;
    // Group positions (the 'd' flag) cost time on every match: only when a group is to be replaced.
    const regex = compileRegex(site, pattern, groupName !== undefined);
    if (groupName !== undefined && !regex.groupNames.includes(groupName)) {
      site.fail(
        'EXPRESSION_BAD_ARGUMENT',
        `the pattern has no group named "${groupName}"`,
        REGEX_GROUP_NAME,
        'a group name from the pattern',
      );
    }
    if (groupName !== undefined && has(REPLACEMENT_ATTRIBUTE) && !has(REPLACEMENT_VALUE)) {
      const fallback = site.args[REPLACEMENT_ATTRIBUTE]!.evaluate;
      return (ctx) => {
        const values = source(ctx);
        if (!isNullOrEmpty(values)) return values;
        const text = firstText(fallback(ctx), 'Replace');
        if (text === undefined) return NULL;
        const match = execOnce(regex, text);
        const group = match?.groups?.[groupName];
        return group === undefined ? NULL : [group];
      };
    }
    if (has(REPLACEMENT_VALUE) && !has(REPLACEMENT_ATTRIBUTE) && !has(TEMPLATE)) {
      const replacement = textArg(site, REPLACEMENT_VALUE);
      if (groupName !== undefined) {
        return (ctx) => {
          const to = replacement(ctx);
          return mapText(source(ctx), 'Replace', (s) => replaceGroup(regex, s, groupName, to));
        };
      }
      return (ctx) => {
        const to = replacement(ctx);
        return mapText(source(ctx), 'Replace', (s) => replaceMatches(regex, s, to));
      };
    }
    site.fail(
      'EXPRESSION_BAD_ARGUMENT',
      'with regexPattern, give replacementValue (5th argument), or regexGroupName with replacementAttributeName (6th argument)',
      REGEX_PATTERN,
      'replacementValue, or regexGroupName and replacementAttributeName',
    );
  }
  site.fail(
    'EXPRESSION_BAD_ARGUMENT',
    'give oldValue (2nd argument) or regexPattern (3rd argument)',
    SOURCE,
    'oldValue or regexPattern',
  );
}

function compileRegex(site: CallSite, pattern: string, indices: boolean): SafeRegex {
  try {
    return compileSafeRegex(pattern, { global: true, indices });
  } catch (err) {
    if (err instanceof RegexProblem) {
      site.fail(
        err.kind === 'unsafe' ? 'EXPRESSION_UNSAFE_REGEX' : 'EXPRESSION_BAD_REGEX',
        `regexPattern at character ${err.index}: ${err.message}`,
        REGEX_PATTERN,
        'a valid, safe regular expression',
      );
    }
    throw err;
  }
}

function checkInput(s: string): void {
  if (s.length > MAX_REGEX_INPUT) {
    throw new ExpressionEvaluationError(
      'EXPRESSION_REGEX_INPUT_TOO_LONG',
      `Replace: the value is ${s.length} characters long; regular expressions run on at most ${MAX_REGEX_INPUT}`,
      'Replace',
    );
  }
}

function execOnce(regex: SafeRegex, s: string): RegExpExecArray | null {
  checkInput(s);
  regex.regex.lastIndex = 0;
  const m = regex.regex.exec(s);
  regex.regex.lastIndex = 0;
  return m;
}

function allMatches(regex: SafeRegex, s: string): RegExpExecArray[] {
  checkInput(s);
  const re = regex.regex;
  const found: RegExpExecArray[] = [];
  re.lastIndex = 0;
  for (;;) {
    const m = re.exec(s);
    if (!m) break;
    found.push(m);
    // An empty match must not loop forever.
    if (m[0].length === 0) re.lastIndex = m.index + (s.codePointAt(m.index)! > 0xffff ? 2 : 1);
  }
  re.lastIndex = 0;
  return found;
}

/** Replace every match, expanding .NET substitutions in the replacement: $1, ${name}, $$, $&, $`, $', $+, $_. */
function replaceMatches(regex: SafeRegex, s: string, replacement: string): string {
  let out = '';
  let last = 0;
  for (const m of allMatches(regex, s)) {
    out += s.slice(last, m.index) + expand(replacement, m, s);
    last = m.index + m[0].length;
  }
  return out + s.slice(last);
}

/** Replace only the text a named group captured, in every match. */
function replaceGroup(regex: SafeRegex, s: string, group: string, replacement: string): string {
  let out = '';
  let last = 0;
  for (const m of allMatches(regex, s)) {
    const span = m.indices?.groups?.[group];
    if (span === undefined) continue;
    const [at, end] = span;
    out += s.slice(last, at) + expand(replacement, m, s);
    last = end;
  }
  return out + s.slice(last);
}

function expand(replacement: string, m: RegExpExecArray, input: string): string {
  if (!replacement.includes('$')) return replacement;
  return replacement.replace(
    /\$(\$|&|`|'|\+|_|\{([A-Za-z_][A-Za-z0-9_]*|\d+)\}|(\d+))/g,
    (whole, token: string, braced?: string, digits?: string) => {
      if (token === '$') return '$';
      if (token === '&') return m[0];
      if (token === '`') return input.slice(0, m.index);
      if (token === "'") return input.slice(m.index + m[0].length);
      if (token === '+') return m.length > 1 ? (m[m.length - 1] ?? '') : '';
      if (token === '_') return input;
      const name = braced ?? digits!;
      if (/^\d+$/.test(name)) {
        const n = Number(name);
        return n < m.length ? (m[n] ?? '') : whole;
      }
      const g = m.groups?.[name];
      return g === undefined ? (m.groups && name in m.groups ? '' : whole) : g;
    },
  );
}
