import { describe, expect, it } from 'vitest';
import { compileScope, ScopeFilterError, type ScopeClause, type ScopeFilter } from '../../src/rules/index.js';
import { input } from './helpers.js';
import type { Value } from '../../src/core/values.js';

type Attrs = Record<string, Value | Value[] | null>;

function matches(clause: ScopeClause, attrs: Attrs, groups: string[] = []): boolean {
  return compileScope([[clause]]).matches(input(attrs, groups));
}

function scopeError(filter: unknown): ScopeFilterError {
  try {
    compileScope(filter as ScopeFilter);
  } catch (err) {
    expect(err).toBeInstanceOf(ScopeFilterError);
    return err as ScopeFilterError;
  }
  throw new Error('expected the filter not to compile');
}

describe('scoping filter structure', () => {
  it('puts everything in scope when there is no group', () => {
    expect(compileScope([]).matches(input({}))).toBe(true);
  });

  it("ANDs clauses within a group and ORs groups (Microsoft's example: New York engineers, or Sweden)", () => {
    const filter: ScopeFilter = [
      [
        { attribute: 'state', operator: 'EQUALS', value: 'New York' },
        { attribute: 'department', operator: 'EQUALS', value: 'Engineering' },
        { attribute: 'employeeID', operator: 'Greater_Than_OR_EQUALS', value: 1_000_000 },
        { attribute: 'employeeID', operator: 'LESS_THAN_OR_EQUALS', value: 2_000_000 },
        { attribute: 'jobTitle', operator: 'IS NOT NULL' },
      ],
      [{ attribute: 'country', operator: 'EQUAL', value: 'Sweden' }],
    ];
    const scope = compileScope(filter);
    const engineer = { state: 'New York', department: 'Engineering', employeeID: '1500000', jobTitle: 'Dev' };
    expect(scope.matches(input(engineer))).toBe(true);
    expect(scope.matches(input({ ...engineer, jobTitle: null }))).toBe(false);
    expect(scope.matches(input({ ...engineer, employeeID: '2500000' }))).toBe(false);
    expect(scope.matches(input({ country: 'Sweden' }))).toBe(true);
    expect(scope.attributes).toEqual(['state', 'department', 'employeeID', 'jobTitle', 'country']);
  });

  it('accepts operator names in any case, with spaces, underscores or nothing between words', () => {
    const attrs = { title: 'x' };
    for (const operator of ['is not null', 'IS_NOT_NULL', 'IsNotNull', 'ISNOTNULL', 'Is Not_Null']) {
      expect(matches({ attribute: 'title', operator }, attrs), operator).toBe(true);
    }
    expect(matches({ attribute: 'n', operator: 'Greater_Than', value: 3 }, { n: 4 })).toBe(true);
    expect(matches({ attribute: 'n', operator: 'greaterthan', value: 3 }, { n: 4 })).toBe(true);
  });
});

describe('scoping operators', () => {
  it('EQUALS / NOT EQUALS: case-sensitive text, numbers as numbers, any value of a multi-valued attribute', () => {
    expect(matches({ attribute: 'd', operator: 'EQUALS', value: 'sales' }, { d: 'sales' })).toBe(true);
    expect(matches({ attribute: 'd', operator: 'EQUALS', value: 'sales' }, { d: 'Sales' })).toBe(false);
    expect(matches({ attribute: 'n', operator: 'EQUALS', value: 7 }, { n: '7' })).toBe(true);
    expect(matches({ attribute: 'n', operator: 'EQUALS', value: '7.0' }, { n: 7 })).toBe(true);
    expect(matches({ attribute: 'm', operator: 'EQUALS', value: 'b' }, { m: ['a', 'b'] })).toBe(true);
    expect(matches({ attribute: 'd', operator: 'NOT EQUALS', value: 'sales' }, { d: 'hr' })).toBe(true);
    expect(matches({ attribute: 'm', operator: 'NOT EQUALS', value: 'b' }, { m: ['a', 'b'] })).toBe(false);
    expect(matches({ attribute: 'm', operator: '<>', value: 'c' }, { m: ['a', 'b'] })).toBe(true);
  });

  it('a null or empty attribute fails every value test, negated ones included', () => {
    for (const operator of [
      'EQUALS',
      'NOT EQUALS',
      'CONTAINS',
      'NOT CONTAINS',
      'NOT REGEX MATCH',
      'STARTS_WITH',
      'NOT STARTS WITH',
    ]) {
      expect(matches({ attribute: 'd', operator, value: 'x' }, {}), operator).toBe(false);
      expect(matches({ attribute: 'd', operator, value: 'x' }, { d: '' }), operator).toBe(false);
    }
  });

  it('IS NULL / IS NOT NULL: absent or "" is null', () => {
    expect(matches({ attribute: 'd', operator: 'IS NULL' }, {})).toBe(true);
    expect(matches({ attribute: 'd', operator: 'IS NULL' }, { d: '' })).toBe(true);
    expect(matches({ attribute: 'd', operator: 'IS NULL' }, { d: 'x' })).toBe(false);
    expect(matches({ attribute: 'd', operator: 'IS NOT NULL' }, { d: 'x' })).toBe(true);
    expect(matches({ attribute: 'd', operator: 'IS NOT NULL' }, { d: [] })).toBe(false);
  });

  it('IS TRUE / IS FALSE read booleans and "true"/"false" text', () => {
    expect(matches({ attribute: 'e', operator: 'IS TRUE' }, { e: true })).toBe(true);
    expect(matches({ attribute: 'e', operator: 'IS TRUE' }, { e: 'TRUE' })).toBe(true);
    expect(matches({ attribute: 'e', operator: 'IS FALSE' }, { e: 'false' })).toBe(true);
    expect(matches({ attribute: 'e', operator: 'IS FALSE' }, { e: 'yes' })).toBe(false);
    expect(matches({ attribute: 'e', operator: 'IS FALSE' }, {})).toBe(false);
  });

  it('GREATER_THAN and friends compare numbers as numbers, else as text', () => {
    expect(matches({ attribute: 'n', operator: 'GREATER_THAN', value: 9 }, { n: '10' })).toBe(true);
    expect(matches({ attribute: 'n', operator: 'LESS_THAN', value: '9' }, { n: '10' })).toBe(false);
    expect(matches({ attribute: 'n', operator: 'GREATER_THAN_OR_EQUALS', value: 10 }, { n: 10 })).toBe(true);
    expect(matches({ attribute: 'n', operator: 'LESSTHAN_OR_EQUAL', value: 10 }, { n: 11 })).toBe(false);
    expect(matches({ attribute: 's', operator: 'GREATER_THAN', value: 'b' }, { s: 'c' })).toBe(true);
  });

  it('STARTS_WITH, ENDS_WITH, CONTAINS / Includes and their negations', () => {
    const upn = { upn: 'john@contoso.com' };
    expect(matches({ attribute: 'upn', operator: 'STARTS_WITH', value: 'john' }, upn)).toBe(true);
    expect(matches({ attribute: 'upn', operator: 'NOT STARTS WITH', value: 'john' }, upn)).toBe(false);
    expect(matches({ attribute: 'upn', operator: 'ENDS_WITH', value: '@contoso.com' }, upn)).toBe(true);
    expect(matches({ attribute: 'upn', operator: 'NOTENDSWITH', value: '@fabrikam.com' }, upn)).toBe(true);
    expect(matches({ attribute: 'upn', operator: 'Includes', value: 'contoso' }, upn)).toBe(true);
    expect(matches({ attribute: 'upn', operator: 'CONTAINS', value: 'Contoso' }, upn)).toBe(false);
    expect(matches({ attribute: 'upn', operator: 'NOT CONTAINS', value: 'fabrikam' }, upn)).toBe(true);
  });

  it("REGEX MATCH / NOT REGEX MATCH, with Microsoft's examples", () => {
    expect(
      matches(
        { attribute: 'upn', operator: 'REGEX MATCH', value: '.*\\@domain.com' },
        { upn: 'a@domain.com' },
      ),
    ).toBe(true);
    expect(
      matches(
        { attribute: 'upn', operator: 'NOT REGEX MATCH', value: '.*\\@domain.com' },
        { upn: 'a@domain.com' },
      ),
    ).toBe(false);
    expect(
      matches(
        { attribute: 'upn', operator: 'NOT REGEX MATCH', value: '.*\\@domain.com' },
        { upn: 'a@other.org' },
      ),
    ).toBe(true);
    const worker = {
      attribute: 'workerID',
      operator: 'REGEX MATCH',
      value: '(1[0-9][0-9][0-9][0-9][0-9][0-9])',
    };
    expect(matches(worker, { workerID: '1234567' })).toBe(true);
    expect(matches(worker, { workerID: '2234567' })).toBe(false);
    expect(matches({ attribute: 'n', operator: 'REGEX MATCH', value: '([1-9][0-9])' }, { n: '42' })).toBe(
      true,
    );
  });

  it('IS IN / IS NOT IN take a list (or one value) and match any value', () => {
    expect(matches({ attribute: 'c', operator: 'IS IN', value: ['NL', 'BE'] }, { c: 'BE' })).toBe(true);
    expect(matches({ attribute: 'c', operator: 'IS IN', value: ['NL', 'BE'] }, { c: 'FR' })).toBe(false);
    expect(matches({ attribute: 'c', operator: 'IS NOT IN', value: ['NL', 'BE'] }, { c: 'FR' })).toBe(true);
    expect(matches({ attribute: 'g', operator: 'ISIN', value: 'admins' }, { g: ['users', 'admins'] })).toBe(
      true,
    );
    expect(matches({ attribute: 'n', operator: 'IS IN', value: [1, 2] }, { n: '2' })).toBe(true);
  });

  it('& and !& test bits of an integer attribute (userAccountControl & 2: disabled)', () => {
    const disabled = { userAccountControl: 514 };
    const enabled = { userAccountControl: '512' };
    expect(matches({ attribute: 'userAccountControl', operator: '&', value: 2 }, disabled)).toBe(true);
    expect(matches({ attribute: 'userAccountControl', operator: '&', value: 2 }, enabled)).toBe(false);
    expect(matches({ attribute: 'userAccountControl', operator: '!&', value: 2 }, enabled)).toBe(true);
    expect(matches({ attribute: 'userAccountControl', operator: 'ISNOTBITSET', value: '2' }, disabled)).toBe(
      false,
    );
    expect(matches({ attribute: 'userAccountControl', operator: 'ISBITSET', value: 514 }, disabled)).toBe(
      true,
    );
    expect(
      matches({ attribute: 'userAccountControl', operator: '&', value: 2 }, { userAccountControl: 'abc' }),
    ).toBe(false);
  });

  it('IS MEMBER OF asks the input, and is false when the input cannot tell', () => {
    expect(matches({ attribute: 'memberOf', operator: 'IS MEMBER OF', value: 'staff' }, {}, ['staff'])).toBe(
      true,
    );
    expect(matches({ attribute: 'memberOf', operator: 'IS MEMBER OF', value: 'staff' }, {}, ['other'])).toBe(
      false,
    );
    expect(matches({ attribute: 'memberOf', operator: 'ISNOTMEMBEROF', value: 'staff' }, {}, ['other'])).toBe(
      true,
    );
    const scope = compileScope([[{ attribute: 'memberOf', operator: 'IS MEMBER OF', value: 'staff' }]]);
    expect(scope.matches({ get: () => [] })).toBe(false);
  });
});

describe('scoping filter errors', () => {
  it('names the group, the clause and the field', () => {
    const unknown = scopeError([
      [],
      [
        { attribute: 'a', operator: 'IS NULL' },
        { attribute: 'a', operator: 'LIKE', value: 'x' },
      ],
    ]);
    expect(unknown.code).toBe('SCOPE_UNKNOWN_OPERATOR');
    expect(unknown.path).toEqual([1, 1, 'operator']);
    expect(unknown.message).toContain('LIKE');
  });

  it('a value is missing, or given where none is allowed, or of the wrong shape', () => {
    expect(scopeError([[{ attribute: 'a', operator: 'EQUALS' }]])).toMatchObject({
      code: 'SCOPE_MISSING_VALUE',
      path: [0, 0, 'value'],
    });
    expect(scopeError([[{ attribute: 'a', operator: 'IS NULL', value: 'x' }]])).toMatchObject({
      code: 'SCOPE_UNEXPECTED_VALUE',
      path: [0, 0, 'value'],
    });
    expect(scopeError([[{ attribute: 'a', operator: 'EQUALS', value: ['x'] }]]).code).toBe('SCOPE_BAD_VALUE');
    expect(scopeError([[{ attribute: 'a', operator: 'IS IN', value: [] }]]).code).toBe('SCOPE_BAD_VALUE');
    expect(scopeError([[{ attribute: 'a', operator: '&', value: 'two' }]]).code).toBe('SCOPE_BAD_VALUE');
    expect(scopeError([[{ attribute: '', operator: 'EQUALS', value: 'x' }]])).toMatchObject({
      code: 'SCOPE_MISSING_ATTRIBUTE',
      path: [0, 0, 'attribute'],
    });
    expect(scopeError({}).code).toBe('SCOPE_BAD_SHAPE');
    expect(scopeError([{}]).code).toBe('SCOPE_BAD_SHAPE');
  });

  it('a bad or unsafe regular expression', () => {
    expect(scopeError([[{ attribute: 'a', operator: 'REGEX MATCH', value: '(abc' }]])).toMatchObject({
      code: 'SCOPE_BAD_REGEX',
      path: [0, 0, 'value'],
    });
    expect(scopeError([[{ attribute: 'a', operator: 'REGEX MATCH', value: '^(a+)+$' }]]).code).toBe(
      'SCOPE_UNSAFE_REGEX',
    );
  });
});
