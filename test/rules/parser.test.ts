import { describe, expect, it } from 'vitest';
import { compileExpression, ExpressionSyntaxError } from '../../src/rules/index.js';
import { input, one, run } from './helpers.js';

function syntaxError(source: string): ExpressionSyntaxError {
  try {
    compileExpression(source);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionSyntaxError);
    return err as ExpressionSyntaxError;
  }
  throw new Error(`expected ${source} not to compile`);
}

describe('expression syntax', () => {
  it('flows an attribute directly, keeping every value and its type', () => {
    expect(run('[givenName]', { givenName: 'John' })).toEqual(['John']);
    expect(run('[proxyAddresses]', { proxyAddresses: ['SMTP:a@x', 'smtp:b@x'] })).toEqual([
      'SMTP:a@x',
      'smtp:b@x',
    ]);
    expect(run('[employeeNumber]', { employeeNumber: 42 })).toEqual([42]);
    expect(run('[missing]')).toEqual([]);
  });

  it('reads attribute names with spaces, dots and hyphens, case-insensitively', () => {
    const attrs = { 'Employee Id': 'E1', 'extension.attr-1': 'x' };
    expect(one('[Employee Id]', attrs)).toBe('E1');
    expect(one('[ employee id ]', attrs)).toBe('E1');
    expect(one('[extension.attr-1]', attrs)).toBe('x');
  });

  it('lists the attributes an expression reads, once each', () => {
    const compiled = compileExpression('Join(" ", [givenName], [sn], [GivenName], IIF([c]="x", [d], "y"))');
    expect(compiled.attributes).toEqual(['givenName', 'sn', 'c', 'd']);
    expect(compiled.source).toBe('Join(" ", [givenName], [sn], [GivenName], IIF([c]="x", [d], "y"))');
  });

  it('reads string literals with \\" and \\\\ escapes and keeps other backslashes', () => {
    expect(one('"Company name: \\"Contoso\\""')).toBe('Company name: "Contoso"');
    expect(one('"a\\\\b"')).toBe('a\\b');
    expect(one('"\\d{10}"')).toBe('\\d{10}');
  });

  it('reads numbers, &H hexadecimal numbers, True and False in any case', () => {
    expect(one('42')).toBe(42);
    expect(one('-1.5')).toBe(-1.5);
    expect(one('&HF7')).toBe(0xf7);
    expect(one('true')).toBe(true);
    expect(one('FALSE')).toBe(false);
  });

  it('matches function names case-insensitively', () => {
    expect(one('toupper("a")')).toBe('A');
    expect(one('TOUPPER("a")')).toBe('A');
  });

  it('supports comparison, concatenation and logical operators', () => {
    expect(one('[country]="USA"', { country: 'USA' })).toBe(true);
    expect(one('[country]<>"USA"', { country: 'USA' })).toBe(false);
    expect(one('[a] & "-" & [b]', { a: 'x', b: 'y' })).toBe('x-y');
    expect(one('[n] > 5 && [n] <= 10', { n: 7 })).toBe(true);
    expect(one('[n] > 5 || [n] < 0', { n: 3 })).toBe(false);
    expect(one('1 + 2 * 3')).toBe(7);
    expect(one('(1 + 2) * 3')).toBe(9);
  });

  it('accepts expressions over several lines', () => {
    expect(one('Switch([Active], ,\n  "1", "yes",\n  "0", "no")', { Active: '1' })).toBe('yes');
  });

  it('reports syntax errors with the offset where they are', () => {
    const cases: [string, number][] = [
      ['Join(" ", [a]', 13],
      ['"unclosed', 0],
      ['[unclosed', 0],
      ['Join(" " [a])', 9],
      ['Left([a], 2))', 12],
      ['', 0],
      ['[]', 0],
      ['1 2', 2],
      ['12abc', 2],
      ['givenName', 0],
      ['"a" "b"', 4],
    ];
    for (const [source, offset] of cases) {
      const err = syntaxError(source);
      expect(err.offset, source).toBe(offset);
      expect(err.expected.length).toBeGreaterThan(0);
    }
  });

  it('points at an unknown function and at the argument count', () => {
    const unknown = syntaxError('Join(" ", Frobnicate([a]))');
    expect(unknown.code).toBe('EXPRESSION_UNKNOWN_FUNCTION');
    expect(unknown.offset).toBe(10);
    const tooMany = syntaxError('Left([a], 1, 2)');
    expect(tooMany.code).toBe('EXPRESSION_ARGUMENT_COUNT');
    expect(tooMany.offset).toBe(13);
    const tooFew = syntaxError('  Mid([a])');
    expect(tooFew.code).toBe('EXPRESSION_ARGUMENT_COUNT');
    expect(tooFew.offset).toBe(2);
    expect(tooFew.message).toContain('Mid takes 2 to 3 arguments');
  });

  it('refuses a source over 10,000 characters', () => {
    const err = syntaxError(`"${'a'.repeat(10_000)}"`);
    expect(err.code).toBe('EXPRESSION_TOO_LONG');
  });

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    const deep = `${'Trim('.repeat(500)}[a]${')'.repeat(500)}`;
    expect(syntaxError(deep).code).toBe('EXPRESSION_SYNTAX');
    const long = Array.from({ length: 3000 }, () => '1').join('+');
    expect(syntaxError(long).code).toBe('EXPRESSION_SYNTAX');
  });

  it('is a typed error with a stable code and a JSON form', () => {
    const err = syntaxError('Join(');
    expect(err.code).toBe('EXPRESSION_SYNTAX');
    expect(err.toJSON()).toMatchObject({ code: 'EXPRESSION_SYNTAX', offset: 5 });
  });

  it('never writes an empty string: "" results are null', () => {
    expect(run('""')).toEqual([]);
    expect(run('[a]', { a: '' })).toEqual([]);
    expect(run('[a]', { a: ['x', '', 'y'] })).toEqual(['x', 'y']);
  });

  it('evaluates the same compiled expression many times against different inputs', () => {
    const compiled = compileExpression('Join(".", ToLower([givenName]), ToLower([sn]))');
    expect(compiled.evaluate(input({ givenName: 'Ann', sn: 'Lee' }))).toEqual(['ann.lee']);
    expect(compiled.evaluate(input({ givenName: 'Bob', sn: 'Ray' }))).toEqual(['bob.ray']);
  });
});
