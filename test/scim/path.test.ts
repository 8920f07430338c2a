import { describe, expect, it } from 'vitest';
import { parsePath, ScimError } from '../../src/scim/index.js';
import { thrown } from './fixtures.js';

describe('parsePath: RFC 7644 §3.5.2 forms', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['userName', { attribute: 'userName' }],
    ['name.familyName', { attribute: 'name', subAttribute: 'familyName' }],
    ['members', { attribute: 'members' }],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
      { schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', attribute: 'employeeNumber' },
    ],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
      {
        schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
        attribute: 'manager',
        subAttribute: 'value',
      },
    ],
    ['members[value eq "2819c223-7f76-453a-919d-413861904646"]', { attribute: 'members' }],
    [
      'members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName',
      { attribute: 'members', subAttribute: 'displayName' },
    ],
    ['emails[type eq "work" and value ew "example.com"]', { attribute: 'emails' }],
    ['addresses[type eq "work"].streetAddress', { attribute: 'addresses', subAttribute: 'streetAddress' }],
    ['emails[type eq "work"].value', { attribute: 'emails', subAttribute: 'value' }],
    ['  userName  ', { attribute: 'userName' }],
    ['members.$ref', { attribute: 'members', subAttribute: '$ref' }],
  ];
  it.each(cases)('%s', (text, expected) => {
    const path = parsePath(text);
    expect(path).toMatchObject(expected);
    if (text.includes('[')) expect(path.filter).toBeDefined();
    else expect(path.filter).toBeUndefined();
  });

  it('keeps the value filter as an AST', () => {
    expect(parsePath('emails[type eq "work"]').filter).toEqual({
      type: 'compare',
      op: 'eq',
      path: { text: 'type', attribute: 'type' },
      value: 'work',
    });
  });
});

describe('parsePath: malformed paths are invalidPath', () => {
  const bad = [
    '',
    '   ',
    'name..givenName',
    'name.givenName.x',
    '1abc',
    'emails[',
    'emails[type eq "work"',
    'emails[type eq "work"]x',
    'emails[type eq "work"].',
    'emails[type eq "work"].1x',
    'emails[type eq]',
    'emails[type eq "work"][value eq "x"]',
    'emails[type[value eq "x"] eq "y"]',
    'name.givenName[value eq "x"]',
    'userName eq "x"',
    'user name',
    'a:b',
    'urn:foo:',
    '"userName"',
    'emails[type eq "work"].value.x',
  ];
  it.each(bad)('%j', (text) => {
    const err = thrown(() => parsePath(text));
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toMatchObject({ status: 400, scimType: 'invalidPath' });
  });

  it('rejects a path longer than the bound', () => {
    expect(thrown(() => parsePath(`a${'b'.repeat(5000)}`))).toMatchObject({ scimType: 'invalidPath' });
  });

  it('fuzz: 3,000 random strings give a path or a ScimError', () => {
    const alphabet = [
      'a',
      'b',
      '.',
      '[',
      ']',
      ' ',
      '"',
      'eq',
      'urn:',
      ':',
      '$',
      '\\',
      'x',
      '(',
      ')',
      'or',
      'not',
      '1',
    ];
    let seed = 777;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 3000; n++) {
      let text = '';
      const len = next() % 20;
      for (let i = 0; i < len; i++) text += alphabet[next() % alphabet.length];
      try {
        parsePath(text);
      } catch (err) {
        if (!(err instanceof ScimError)) throw new Error(`${JSON.stringify(text)} threw ${String(err)}`);
        expect(err.scimType).toBe('invalidPath');
      }
    }
  });
});

describe('parsePath: values in a path are quoted (no bare words, unlike a lenient filter)', () => {
  it.each(['emails[type eq work]', 'members[value eq abc].display'])('%j', (text) => {
    expect(thrown(() => parsePath(text))).toMatchObject({ status: 400, scimType: 'invalidPath' });
  });
});
