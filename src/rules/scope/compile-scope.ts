/**
 * Scoping filters: which objects a rule applies to. Groups of clauses; AND within a group, OR across groups;
 * no group at all puts everything in scope.
 *
 * The operators are the union of Entra app provisioning's (EQUALS, Greater_Than, Includes, REGEX MATCH, &, …)
 * and Connect sync's (EQUAL, STARTSWITH, ISIN, ISBITSET, ISMEMBEROF, …), written in any case with spaces,
 * underscores or nothing between words. Semantics (see docs/expressions.md):
 *  - text comparisons are case-sensitive, as Entra documents for EQUALS, NOT EQUALS, Includes and REGEX MATCH;
 *  - a multi-valued attribute matches when any value matches; a negated operator when no value matches;
 *  - a null or empty attribute makes every value test false, negated ones included (Entra: "scoping filters
 *    return false if the value is null / empty"); IS NULL and IS NOT NULL are the way to test for it;
 *  - numbers compare as numbers when both sides read as numbers, otherwise as text.
 */
import { isReference, type Value } from '../../core/values.js';
import { ScopeFilterError } from '../errors.js';
import { compileSafeRegex, MAX_REGEX_INPUT, RegexProblem } from '../regex/safe-regex.js';
import type { CompiledScope, FlowInput, ScopeClause, ScopeFilter } from '../types.js';

type ClauseTest = (input: FlowInput) => boolean;
type ValueTest = (value: Value) => boolean;
type ClauseValue = ScopeClause['value'];

interface OperatorSpec {
  /** how it is named in errors and docs */
  readonly name: string;
  readonly needsValue: 'none' | 'scalar' | 'list';
  /** tests one attribute value; the clause matches when any value passes (or, negated, when none does) */
  readonly build: (value: ClauseValue, path: (string | number)[]) => ValueTest;
  readonly negated?: boolean;
}

const OPERATORS = new Map<string, OperatorSpec>();

function define(aliases: string[], spec: OperatorSpec): void {
  for (const alias of aliases) OPERATORS.set(operatorKey(alias), spec);
}

/** "is not null", "IS_NOT_NULL", "IsNotNull" → "ISNOTNULL". */
function operatorKey(operator: string): string {
  return operator.toUpperCase().replace(/[\s_-]+/g, '');
}

const equals = (value: ClauseValue): ValueTest => {
  const expected = scalarOf(value);
  return (v) => sameScalar(v, expected);
};
const compare =
  (accept: (c: number) => boolean) =>
  (value: ClauseValue): ValueTest => {
    const expected = scalarOf(value);
    return (v) => {
      const c = order(v, expected);
      return c !== undefined && accept(c);
    };
  };
const textTest =
  (test: (text: string, expected: string) => boolean) =>
  (value: ClauseValue): ValueTest => {
    const expected = String(scalarOf(value));
    return (v) => {
      const text = textOf(v);
      return text !== undefined && test(text, expected);
    };
  };
const regexTest = (value: ClauseValue, path: (string | number)[]): ValueTest => {
  const pattern = String(scalarOf(value));
  let regex: RegExp;
  try {
    regex = compileSafeRegex(pattern).regex;
  } catch (err) {
    if (err instanceof RegexProblem) {
      throw new ScopeFilterError(
        err.kind === 'unsafe' ? 'SCOPE_UNSAFE_REGEX' : 'SCOPE_BAD_REGEX',
        `the regular expression is ${err.kind === 'unsafe' ? 'unsafe' : 'invalid'} at character ${err.index}: ${err.message}`,
        path,
      );
    }
    throw err;
  }
  // Longer values are not tested (no match), which keeps a filter's time bounded on any input.
  return (v) => {
    const text = textOf(v);
    return text !== undefined && text.length <= MAX_REGEX_INPUT && regex.test(text);
  };
};
const inList = (value: ClauseValue): ValueTest => {
  const list = (Array.isArray(value) ? value : [value as string | number]).map((x) => x as string | number);
  return (v) => list.some((expected) => sameScalar(v, expected));
};
const bitsSet = (value: ClauseValue, path: (string | number)[]): ValueTest => {
  const mask = integerOf(value);
  if (mask === undefined || mask < 0n) {
    throw new ScopeFilterError(
      'SCOPE_BAD_VALUE',
      'a bit test needs a non-negative integer mask, such as 2',
      path,
    );
  }
  return (v) => {
    const n = typeof v === 'boolean' ? undefined : integerOf(v as string | number);
    return n !== undefined && (n & mask) === mask;
  };
};
const truth = (expected: boolean) => (): ValueTest => (v) => booleanOf(v) === expected;

define(['EQUALS', 'EQUAL', '=', '=='], { name: 'EQUALS', needsValue: 'scalar', build: equals });
define(['NOT EQUALS', 'NOTEQUAL', 'NOT EQUAL', '!=', '<>'], {
  name: 'NOT EQUALS',
  needsValue: 'scalar',
  build: equals,
  negated: true,
});
define(['GREATER_THAN', 'GREATERTHAN', '>'], {
  name: 'GREATER_THAN',
  needsValue: 'scalar',
  build: compare((c) => c > 0),
});
define(['GREATER_THAN_OR_EQUALS', 'GREATERTHAN_OR_EQUAL', '>='], {
  name: 'GREATER_THAN_OR_EQUALS',
  needsValue: 'scalar',
  build: compare((c) => c >= 0),
});
define(['LESS_THAN', 'LESSTHAN', '<'], {
  name: 'LESS_THAN',
  needsValue: 'scalar',
  build: compare((c) => c < 0),
});
define(['LESS_THAN_OR_EQUALS', 'LESSTHAN_OR_EQUAL', '<='], {
  name: 'LESS_THAN_OR_EQUALS',
  needsValue: 'scalar',
  build: compare((c) => c <= 0),
});
define(['STARTS_WITH', 'STARTSWITH'], {
  name: 'STARTS_WITH',
  needsValue: 'scalar',
  build: textTest((t, e) => t.startsWith(e)),
});
define(['NOT_STARTS_WITH', 'NOTSTARTSWITH'], {
  name: 'NOT STARTS_WITH',
  needsValue: 'scalar',
  build: textTest((t, e) => t.startsWith(e)),
  negated: true,
});
define(['ENDS_WITH', 'ENDSWITH'], {
  name: 'ENDS_WITH',
  needsValue: 'scalar',
  build: textTest((t, e) => t.endsWith(e)),
});
define(['NOT_ENDS_WITH', 'NOTENDSWITH'], {
  name: 'NOT ENDS_WITH',
  needsValue: 'scalar',
  build: textTest((t, e) => t.endsWith(e)),
  negated: true,
});
define(['CONTAINS', 'INCLUDES'], {
  name: 'CONTAINS',
  needsValue: 'scalar',
  build: textTest((t, e) => t.includes(e)),
});
define(['NOT CONTAINS', 'NOTCONTAINS', 'NOT INCLUDES', 'NOTINCLUDES'], {
  name: 'NOT CONTAINS',
  needsValue: 'scalar',
  build: textTest((t, e) => t.includes(e)),
  negated: true,
});
define(['REGEX MATCH', 'REGEXMATCH', 'MATCHES'], {
  name: 'REGEX MATCH',
  needsValue: 'scalar',
  build: regexTest,
});
define(['NOT REGEX MATCH', 'NOTREGEXMATCH'], {
  name: 'NOT REGEX MATCH',
  needsValue: 'scalar',
  build: regexTest,
  negated: true,
});
define(['IS IN', 'ISIN', 'IN'], { name: 'IS IN', needsValue: 'list', build: inList });
define(['IS NOT IN', 'ISNOTIN', 'NOT IN'], {
  name: 'IS NOT IN',
  needsValue: 'list',
  build: inList,
  negated: true,
});
define(['&', 'ISBITSET', 'BIT SET'], { name: '&', needsValue: 'scalar', build: bitsSet });
define(['!&', 'ISNOTBITSET', 'BIT NOT SET'], {
  name: '!&',
  needsValue: 'scalar',
  build: bitsSet,
  negated: true,
});
define(['IS TRUE', 'ISTRUE'], { name: 'IS TRUE', needsValue: 'none', build: truth(true) });
define(['IS FALSE', 'ISFALSE'], { name: 'IS FALSE', needsValue: 'none', build: truth(false) });

/** Operators that do not test values one by one. */
type SpecialOperator = 'IS NULL' | 'IS NOT NULL' | 'IS MEMBER OF' | 'IS NOT MEMBER OF';
const SPECIAL = new Map<string, SpecialOperator>([
  ['ISNULL', 'IS NULL'],
  ['ISNOTNULL', 'IS NOT NULL'],
  ['ISMEMBEROF', 'IS MEMBER OF'],
  ['MEMBEROF', 'IS MEMBER OF'],
  ['ISNOTMEMBEROF', 'IS NOT MEMBER OF'],
  ['NOTISMEMBEROF', 'IS NOT MEMBER OF'],
  ['NOTMEMBEROF', 'IS NOT MEMBER OF'],
]);

/** Every operator name accepted, canonical spelling first, for validation messages and docs. */
export function listScopeOperators(): string[] {
  const names = new Set<string>();
  for (const spec of OPERATORS.values()) names.add(spec.name);
  for (const name of SPECIAL.values()) names.add(name);
  return [...names];
}

/**
 * Whether a filter reads more than its object's own attributes: IS MEMBER OF asks the metaverse. One that
 * does not can run wherever the object is read (on an agent, before the object leaves the premises).
 */
export function readsMetaverse(filter: ScopeFilter): boolean {
  return filter.some((group) => Array.isArray(group) && group.some((clause) => {
    const special = typeof clause?.operator === 'string' ? SPECIAL.get(operatorKey(clause.operator)) : undefined;
    return special === 'IS MEMBER OF' || special === 'IS NOT MEMBER OF';
  }));
}

export function compileScope(filter: ScopeFilter): CompiledScope {
  if (!Array.isArray(filter))
    throw new ScopeFilterError('SCOPE_BAD_SHAPE', 'a scoping filter is a list of groups of clauses', []);
  const attributes = new Map<string, string>();
  const groups: ClauseTest[][] = filter.map((group, g) => {
    if (!Array.isArray(group))
      throw new ScopeFilterError('SCOPE_BAD_SHAPE', 'a group is a list of clauses', [g]);
    return group.map((clause, c) => compileClause(clause, [g, c], attributes));
  });
  const attributeList = Object.freeze([...attributes.values()]);
  if (groups.length === 0) return Object.freeze({ attributes: attributeList, matches: () => true });
  return Object.freeze({
    attributes: attributeList,
    matches(input: FlowInput): boolean {
      for (const group of groups) {
        let all = true;
        for (const test of group) {
          if (!test(input)) {
            all = false;
            break;
          }
        }
        if (all) return true;
      }
      return false;
    },
  });
}

function compileClause(clause: ScopeClause, path: number[], attributes: Map<string, string>): ClauseTest {
  if (typeof clause !== 'object' || clause === null || Array.isArray(clause)) {
    throw new ScopeFilterError(
      'SCOPE_BAD_SHAPE',
      'a clause is an object with attribute, operator and value',
      path,
    );
  }
  if (typeof clause.operator !== 'string' || clause.operator.trim() === '') {
    throw new ScopeFilterError('SCOPE_UNKNOWN_OPERATOR', 'the clause has no operator', [...path, 'operator']);
  }
  const key = operatorKey(clause.operator);
  const special = SPECIAL.get(key);
  const spec = special ? undefined : OPERATORS.get(key);
  if (!special && !spec) {
    throw new ScopeFilterError(
      'SCOPE_UNKNOWN_OPERATOR',
      `unknown operator "${clause.operator.slice(0, 40)}"; known: ${listScopeOperators().join(', ')}`,
      [...path, 'operator'],
    );
  }
  const operatorName = special ?? spec!.name;
  const needsValue =
    special === 'IS NULL' || special === 'IS NOT NULL' ? 'none' : special ? 'scalar' : spec!.needsValue;
  checkValue(clause.value, needsValue, operatorName, [...path, 'value']);

  if (special === 'IS MEMBER OF' || special === 'IS NOT MEMBER OF') {
    const group = String(clause.value);
    // Without membership information nobody is a member: IS MEMBER OF is false, IS NOT MEMBER OF true.
    return special === 'IS MEMBER OF'
      ? (input) => input.isMemberOf?.(group) ?? false
      : (input) => !(input.isMemberOf?.(group) ?? false);
  }

  if (typeof clause.attribute !== 'string' || clause.attribute.trim() === '') {
    throw new ScopeFilterError('SCOPE_MISSING_ATTRIBUTE', 'the clause names no attribute', [
      ...path,
      'attribute',
    ]);
  }
  const attribute = clause.attribute.trim();
  const attributeKey = attribute.toLowerCase();
  if (!attributes.has(attributeKey)) attributes.set(attributeKey, attribute);

  if (special === 'IS NULL') return (input) => !hasValue(input.get(attribute));
  if (special === 'IS NOT NULL') return (input) => hasValue(input.get(attribute));

  const test = spec!.build(clause.value, [...path, 'value']);
  if (spec!.negated) {
    return (input) => {
      const values = input.get(attribute);
      if (!hasValue(values)) return false;
      for (const v of values) if (v !== '' && test(v)) return false;
      return true;
    };
  }
  return (input) => {
    for (const v of input.get(attribute)) if (v !== '' && test(v)) return true;
    return false;
  };
}

function checkValue(
  value: ClauseValue,
  needs: 'none' | 'scalar' | 'list',
  operator: string,
  path: (string | number)[],
): void {
  const given = value !== undefined && value !== null;
  if (needs === 'none') {
    if (given) throw new ScopeFilterError('SCOPE_UNEXPECTED_VALUE', `${operator} takes no value`, path);
    return;
  }
  if (!given) throw new ScopeFilterError('SCOPE_MISSING_VALUE', `${operator} needs a value`, path);
  if (Array.isArray(value)) {
    if (needs !== 'list') {
      throw new ScopeFilterError(
        'SCOPE_BAD_VALUE',
        `${operator} takes one value, not a list (IS IN takes a list)`,
        path,
      );
    }
    if (value.length === 0)
      throw new ScopeFilterError('SCOPE_BAD_VALUE', `${operator} needs at least one value in the list`, path);
    value.forEach((item, i) => {
      if (typeof item !== 'string' && typeof item !== 'number') {
        throw new ScopeFilterError('SCOPE_BAD_VALUE', 'list items must be strings or numbers', [...path, i]);
      }
    });
    return;
  }
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new ScopeFilterError('SCOPE_BAD_VALUE', `${operator} needs a string, a number or a boolean`, path);
  }
}

// ---- reading attribute values ---------------------------------------------------------------------------

function hasValue(values: Value[]): boolean {
  for (const v of values) if (v !== '') return true;
  return false;
}

function scalarOf(value: ClauseValue): string | number | boolean {
  return value as string | number | boolean;
}

function textOf(v: Value): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (isReference(v)) return v.ref;
  return undefined; // binary values have no text to compare
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function numberOf(v: Value | string | number | boolean): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v);
  return undefined;
}

function integerOf(v: ClauseValue | Value): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^[+-]?\d{1,20}$/.test(v.trim())) return BigInt(v.trim());
  return undefined;
}

function booleanOf(v: Value | string | number | boolean): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const lower = v.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  return undefined;
}

function sameScalar(v: Value, expected: string | number | boolean): boolean {
  if (typeof v === 'boolean' || typeof expected === 'boolean') {
    const a = booleanOf(v);
    return a !== undefined && a === booleanOf(expected);
  }
  const x = numberOf(v);
  const y = numberOf(expected);
  if (x !== undefined && y !== undefined) return x === y;
  const text = textOf(v);
  return text !== undefined && text === String(expected);
}

function order(v: Value, expected: string | number | boolean): number | undefined {
  const x = numberOf(v);
  const y = typeof expected === 'boolean' ? undefined : numberOf(expected);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  const text = textOf(v);
  if (text === undefined) return undefined;
  const e = String(expected);
  return text < e ? -1 : text > e ? 1 : 0;
}
