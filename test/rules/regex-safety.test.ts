import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  compileScope,
  ExpressionSyntaxError,
  ScopeFilterError,
} from '../../src/rules/index.js';
import { compileSafeRegex, MAX_REGEX_INPUT, RegexProblem } from '../../src/rules/regex/safe-regex.js';
import { input } from './helpers.js';

function problem(pattern: string): RegexProblem {
  try {
    compileSafeRegex(pattern);
  } catch (err) {
    expect(err).toBeInstanceOf(RegexProblem);
    return err as RegexProblem;
  }
  throw new Error(`expected ${pattern} to be refused`);
}

describe('regular expression safety', () => {
  it('refuses nested quantifiers and ambiguous alternation under a quantifier', () => {
    for (const pattern of [
      '^(a+)+$',
      '(a*)*b',
      '(a|a)*c',
      '(a|ab)*c',
      '(a?){20}a{20}',
      '(\\w+\\s?)+$',
      '(?:x+){2}y',
      '(\\d|1)+',
    ]) {
      expect(problem(pattern).kind, pattern).toBe('unsafe');
    }
  });

  it('refuses unbounded repeats that compete for the same characters', () => {
    expect(problem('.*a.*b').kind).toBe('unsafe');
    expect(problem('\\w+\\w+x').kind).toBe('unsafe');
    expect(problem('^.*a.*b.*c').kind).toBe('unsafe');
    // Two are fine when anchored, or when a character the first cannot take separates them.
    expect(() => compileSafeRegex('^(.*)@(.*)$')).not.toThrow();
    expect(() => compileSafeRegex('^(\\w+)\\.(\\w+)@(\\w+)\\.com$')).not.toThrow();
  });

  it('refuses backreferences and lookaround, which a linear-time engine cannot run', () => {
    expect(problem('(a)\\1').message).toContain('backreferences');
    expect(problem('(?<n>a)\\k<n>').message).toContain('backreferences');
    expect(problem('a(?=b)').message).toContain('lookahead');
    expect(problem('(?<!a)b').message).toContain('lookbehind');
  });

  it('reports syntax errors with the position in the pattern', () => {
    expect(problem('abc(')).toMatchObject({ kind: 'syntax', index: 3 });
    expect(problem('a)b')).toMatchObject({ kind: 'syntax', index: 1 });
    expect(problem('[z-a]').kind).toBe('syntax');
    expect(problem('*a').kind).toBe('syntax');
  });

  it('accepts every pattern Microsoft documents, and a leading (?i)', () => {
    for (const pattern of [
      '\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})',
      '[()\\s-]+',
      '(?<streetNumber>^\\d*)',
      '(?<Suffix>@(.)*)',
      '[a-zA-Z_]*',
      '.*\\@domain.com',
      '(1[0-9][0-9][0-9][0-9][0-9][0-9])',
      '([1-9][0-9])',
    ]) {
      expect(() => compileSafeRegex(pattern), pattern).not.toThrow();
    }
    expect(compileSafeRegex('(?i)^abc$').regex.test('ABC')).toBe(true);
  });

  it('a catastrophic pattern in a flow is refused when it compiles, with the place and a stable code', () => {
    try {
      compileExpression('Replace([a], , "^(a+)+$", , "x", , )');
      throw new Error('compiled');
    } catch (err) {
      expect(err).toBeInstanceOf(ExpressionSyntaxError);
      expect((err as ExpressionSyntaxError).code).toBe('EXPRESSION_UNSAFE_REGEX');
      expect((err as ExpressionSyntaxError).offset).toBe(15);
    }
    expect(() => compileScope([[{ attribute: 'a', operator: 'REGEX MATCH', value: '(x|x)*y' }]])).toThrow(
      ScopeFilterError,
    );
  });

  it('the worst accepted patterns on hostile input finish within a safety bound', () => {
    const hostile = [
      `${'a'.repeat(MAX_REGEX_INPUT - 1)}!`,
      `${' '.repeat(MAX_REGEX_INPUT - 1)}!`,
      'a@'.repeat(MAX_REGEX_INPUT / 2),
    ];
    const flows = [
      'Replace([v], , "^(.*)@(.*)x", , "$2", , )',
      'Replace([v], , "^\\\\w+\\\\w+x", , "", , )',
      'Replace([v], , "a{1,16}a{1,16}a{1,16}x", , "", , )',
      'Replace([v], , "^\\\\s*\\\\w+\\\\s*$", , "", , )',
      'Replace([v], , ".*\\\\@domain.com", , "", , )',
    ].map((source) => compileExpression(source));
    const scope = compileScope([[{ attribute: 'v', operator: 'REGEX MATCH', value: '^(.*)@(.*)x' }]]);
    const started = performance.now();
    for (const value of hostile) {
      for (const flow of flows) flow.evaluate(input({ v: value }));
      scope.matches(input({ v: value }));
    }
    // A safety bound for the whole batch, not a performance claim.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses to run a regular expression on a value longer than the cap', () => {
    const flow = compileExpression('Replace([v], , "a+", , "b", , )');
    expect(() => flow.evaluate(input({ v: 'a'.repeat(MAX_REGEX_INPUT + 1) }))).toThrow(/at most 1000/);
    const scope = compileScope([[{ attribute: 'v', operator: 'REGEX MATCH', value: 'a' }]]);
    expect(scope.matches(input({ v: 'a'.repeat(MAX_REGEX_INPUT + 1) }))).toBe(false);
  });
});
