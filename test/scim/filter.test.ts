import { describe, expect, it } from 'vitest';
import {
  ScimError,
  compileFilter,
  filterCompare,
  filterEq,
  formatFilterValue,
  indexHint,
  indexPlan,
  matches,
  parseFilter,
} from '../../src/scim/index.js';
import { bjensen, GROUP, thrown, tourGuides, USER } from './fixtures.js';

const user = bjensen();
const evaluate = (text: string, resource = user) => matches(resource, parseFilter(text), USER);

describe('parseFilter: the RFC 7644 §3.4.2.2 examples parse', () => {
  const examples = [
    'userName Eq "john"',
    'Username eq "john"',
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    'title pr',
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
  ];
  it.each(examples)('%s', (text) => {
    expect(() => compileFilter(parseFilter(text), USER)).not.toThrow();
  });
});

describe('matches: evaluation against Barbara Jensen', () => {
  const cases: [string, boolean][] = [
    ['userName eq "bjensen@example.com"', true],
    ['userName eq "BJENSEN@EXAMPLE.COM"', true], // userName is caseExact false
    ['USERNAME EQ "bjensen@example.com"', true],
    ['externalId eq "BJENSEN"', false], // externalId is caseExact true
    ['externalId eq "bjensen"', true],
    ['id eq "2819C223-7F76-453A-919D-413861904646"', false],
    ['name.familyName co "ens"', true],
    ['name.familyName co "ENS"', true],
    ['name.givenName sw "bar"', true],
    ['name.givenName ew "ARA"', true],
    ['name.givenName ew "bar"', false],
    ['userName sw "J"', false],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B"', true],
    ['title pr', true],
    ['nickName pr', true],
    ['locale pr', false],
    ['emails pr', true],
    ['x509Certificates pr', false],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', false],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified lt "2011-05-13T04:42:35Z"', true],
    // dateTime compares instants, not text: the same instant written with an offset
    ['meta.lastModified eq "2011-05-13T06:42:34+02:00"', true],
    ['meta.lastModified gt "2011-05-13T06:42:33+02:00"', true],
    ['title pr and userType eq "Employee"', true],
    ['title pr and userType eq "Intern"', false],
    ['title pr or userType eq "Intern"', true],
    ['locale pr or userType eq "Intern"', false],
    ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', true],
    ['userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', false],
    ['not (userType eq "Intern")', true],
    ['not(userType eq "Employee")', false],
    ['userType eq "Employee" and (emails.type eq "work")', true],
    ['emails[type eq "work" and value co "@example.com"]', true],
    ['emails[type eq "home" and value co "@example.com"]', false],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      true,
    ],
    ['emails[not (type eq "work")]', true],
    ['emails[primary eq true and type eq "home"]', false],
    ['emails.value eq "babs@jensen.org"', true], // any value of a multi-valued attribute
    ['emails eq "babs@jensen.org"', true], // complex without sub-attribute compares value
    ['emails.type eq "other"', false],
    ['emails.type ne "other"', true],
    ['active eq true', true],
    ['active eq TRUE', true],
    ['active eq false', false],
    ['active ne false', true],
    ['active eq "True"', true], // Entra's string booleans
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"', true],
    ['URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984"', true],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"',
      true,
    ],
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr', true],
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division pr', false],
    ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', true],
    ['title eq null', false],
    ['locale eq null', true],
    ['locale ne null', false],
    ['noSuchAttribute eq "x"', false],
    ['urn:example:unknown:1.0:User:userName eq "bjensen@example.com"', false], // not the core userName
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr', false],
    ['noSuchAttribute pr', false],
    ['constructor pr', false], // never read from Object.prototype
    ['toString eq "x"', false],
    ['displayName gt "A"', true],
    ['displayName lt "A"', false],
    ['displayName gt "babs"', true], // case folded: "babs jensen" > "babs"
    ['userName eq "bjensen@example.com" and not (active eq false) and emails[type eq "work"]', true],
  ];
  it.each(cases)('%s → %s', (text, expected) => {
    expect(evaluate(text)).toBe(expected);
  });
});

describe('precedence: not > and > or', () => {
  const r = { schemas: [], userName: 'a', title: 'x', nickName: 'n' };
  const cases: [string, boolean][] = [
    // or binds loosest: true or (false and false)
    ['userName eq "a" or title eq "no" and nickName eq "no"', true],
    // (false or true) and false would be false; and binds first: false or (true and false) = false
    ['userName eq "no" or title eq "x" and nickName eq "no"', false],
    ['(userName eq "no" or title eq "x") and nickName eq "n"', true],
    ['userName eq "no" or title eq "x" and nickName eq "n"', true],
    ['not (userName eq "a") or title eq "x"', true],
    ['not (userName eq "a" or title eq "x")', false],
    ['((userName eq "a"))', true],
  ];
  it.each(cases)('%s → %s', (text, expected) => {
    expect(matches(r, parseFilter(text), USER)).toBe(expected);
  });

  it('builds flat and/or lists', () => {
    expect(parseFilter('a eq 1 or b eq 2 and c eq 3 or d eq 4')).toEqual({
      type: 'or',
      filters: [
        { type: 'compare', op: 'eq', path: { text: 'a', attribute: 'a' }, value: 1 },
        {
          type: 'and',
          filters: [
            { type: 'compare', op: 'eq', path: { text: 'b', attribute: 'b' }, value: 2 },
            { type: 'compare', op: 'eq', path: { text: 'c', attribute: 'c' }, value: 3 },
          ],
        },
        { type: 'compare', op: 'eq', path: { text: 'd', attribute: 'd' }, value: 4 },
      ],
    });
  });
});

describe('literals', () => {
  const cases: [string, unknown][] = [
    ['a eq "x"', 'x'],
    ['a eq "say \\"hi\\""', 'say "hi"'],
    ['a eq "tab\\tnew\\nline"', 'tab\tnew\nline'],
    ['a eq "\\u00e9t\\u00e9"', 'été'],
    ['a eq "back\\\\slash"', 'back\\slash'],
    ['a eq ""', ''],
    ['a eq 42', 42],
    ['a eq -1.5e3', -1500],
    ['a eq 0', 0],
    ['a eq true', true],
    ['a eq False', false],
    ['a eq NULL', null],
  ];
  it.each(cases)('%s', (text, value) => {
    const f = parseFilter(text);
    expect(f.type === 'compare' && f.value).toEqual(value);
  });

  it('numbers compare as numbers on integer attributes of a custom schema', async () => {
    const { buildSchemaSet } = await import('../../src/scim/index.js');
    const set = buildSchemaSet({
      extensions: [
        {
          resourceType: 'User',
          schema: {
            id: 'urn:example:params:scim:schemas:extension:badge:2.0:User',
            attributes: [
              { name: 'level', type: 'integer' },
              { name: 'badgeCode', caseExact: true },
            ],
          },
        },
      ],
    });
    const schema = set.resource('User');
    const r = { 'urn:example:params:scim:schemas:extension:badge:2.0:User': { level: 10, badgeCode: 'AbC' } };
    const urn = 'urn:example:params:scim:schemas:extension:badge:2.0:User';
    expect(matches(r, parseFilter(`${urn}:level gt 9`), schema)).toBe(true);
    expect(matches(r, parseFilter(`${urn}:level gt 10`), schema)).toBe(false);
    // "9" < "10" as text would say otherwise
    expect(matches(r, parseFilter(`${urn}:level ge 9`), schema)).toBe(true);
    expect(matches(r, parseFilter(`${urn}:badgeCode eq "abc"`), schema)).toBe(false);
    expect(matches(r, parseFilter(`${urn}:badgeCode eq "AbC"`), schema)).toBe(true);
    expect(thrown(() => matches(r, parseFilter(`${urn}:level co 1`), schema))).toMatchObject({
      scimType: 'invalidFilter',
    });
  });
});

describe('Microsoft Entra: a user by work email, emails[type eq "work"].value eq "..."', () => {
  it('matches one email that is both work and that value (beyond the RFC grammar, which Entra does not follow)', () => {
    expect(evaluate('emails[type eq "work"].value eq "bjensen@example.com"')).toBe(true);
    expect(evaluate('emails[type eq "work"].value eq "BJENSEN@EXAMPLE.COM"')).toBe(true);
    // the address exists, but as a home address
    expect(evaluate('emails[type eq "work"].value eq "babs@jensen.org"')).toBe(false);
    expect(evaluate('emails[type eq "home"].value pr')).toBe(true);
    expect(evaluate('emails[type eq "other"].value pr')).toBe(false);
  });

  it('is refused in strict mode', () => {
    const err = thrown(() => parseFilter('emails[type eq "work"].value eq "x"', { strict: true }));
    expect(err).toMatchObject({ scimType: 'invalidFilter' });
    expect((err as ScimError).detail).toMatch(/sub-attribute after "\]"/);
  });
});

describe('groups', () => {
  it('members.value and members[value eq ...] find a member', () => {
    const g = tourGuides();
    expect(matches(g, parseFilter('members.value eq "902c246b-6245-4190-8e05-00816be7344a"'), GROUP)).toBe(
      true,
    );
    expect(matches(g, parseFilter('members[value eq "902c246b-6245-4190-8e05-00816be7344a"]'), GROUP)).toBe(
      true,
    );
    expect(matches(g, parseFilter('members eq "nobody"'), GROUP)).toBe(false);
    expect(matches(g, parseFilter('displayName eq "tour guides"'), GROUP)).toBe(true);
  });
});

describe('errors: invalidFilter with the offset, never another exception', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['userName', /operator/],
    ['userName eq', /value/],
    ['userName eq "x', /not terminated/],
    ['userName xx "x"', /offset 9.*expected an operator/],
    ['userName eq "x" and', /after "and"/],
    ['userName eq "x" or', /after "or"/],
    ['userName eq "x" and or title pr', /offset 20/],
    ['(userName eq "x"', /missing "\)"/],
    ['userName eq "x")', /offset 15/],
    ['emails[type eq "work"', /missing "\]"/],
    ['emails[type eq "work"].value', /operator/],
    ['emails[type eq "work"].', /sub-attribute name/],
    ['emails[type eq "work"].value eq', /value/],
    ['emails[type[value eq 1] eq 2]', /nested/],
    ['not userName eq "x"', /parentheses/],
    ['userName eq "\\x"', /escape/],
    ['userName eq "a\u0001"', /control character/],
    ['userName eq 01', /offset 13/],
    ['userName eq 1x', /offset 13/],
    ['userName eq "a"b', /offset 15/],
    ['userName eq "a" andtitle pr', /offset 16/],
    ['1userName eq "a"', /not a valid attribute name/],
    ['user:Name eq "a"', /schema URN/],
    ['name.given.Name eq "a"', /sub-attribute name/],
    ['urn:ietf:params:scim:schemas:core:2.0:User: eq "a"', /attribute name/],
    ['userName pr "x"', /offset 12/],
    ['[type eq "x"]', /attribute path/],
    ['userName eq "a" ) (', /offset 16/],
    ['name.givenName[value eq "x"]', /sub-attribute/],
  ];
  it.each(bad)('%j', (text, detail) => {
    const err = thrown(() => parseFilter(text));
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toMatchObject({ status: 400, scimType: 'invalidFilter', code: 'SCIM_INVALID_FILTER' });
    expect((err as ScimError).detail).toMatch(detail);
  });

  const schemaErrors: [string, RegExp][] = [
    ['active gt true', /booleans/],
    ['active co "t"', /booleans/],
    ['active eq "yes"', /not a boolean/],
    ['meta.lastModified gt "yesterday"', /not a dateTime/],
    ['name eq "Barbara"', /complex/],
    ['password eq "secret"', /cannot be used in a filter/],
    ['name.nickName eq "x"', /not a sub-attribute/],
    ['emails[foo eq "x"]', /not a sub-attribute of emails/],
    ['userName[value eq "x"]', /not complex/],
  ];
  it.each(schemaErrors)('against the schema: %j', (text, detail) => {
    const err = thrown(() => compileFilter(parseFilter(text), USER));
    expect(err).toMatchObject({ status: 400, scimType: 'invalidFilter' });
    expect((err as ScimError).detail).toMatch(detail);
  });

  it('bounds the length', () => {
    const long = `userName eq "${'a'.repeat(10_000)}"`;
    expect(thrown(() => parseFilter(long))).toMatchObject({ scimType: 'invalidFilter' });
    expect(() => parseFilter(long, { maxLength: 20_000 })).not.toThrow();
  });

  it('bounds nesting with an error, not a stack overflow', () => {
    const deep = `${'('.repeat(5000)}userName eq "a"${')'.repeat(5000)}`;
    expect((thrown(() => parseFilter(deep, { maxLength: 100_000 })) as ScimError).detail).toMatch(
      /nesting deeper than 32/,
    );
    const nots = `${'not ('.repeat(3000)}userName eq "a"${')'.repeat(3000)}`;
    expect(thrown(() => parseFilter(nots, { maxLength: 100_000 }))).toMatchObject({
      scimType: 'invalidFilter',
    });
    const ok = `${'('.repeat(32)}userName eq "bjensen@example.com"${')'.repeat(32)}`;
    expect(evaluate(ok)).toBe(true);
  });

  it('a long or-chain is flat, so it neither overflows the stack nor fails', () => {
    const chain = Array.from({ length: 400 }, (_, i) => `userName eq "u${i}"`).join(' or ');
    const f = parseFilter(chain);
    expect(f.type === 'or' && f.filters.length).toBe(400);
    expect(matches({ userName: 'U399' }, f, USER)).toBe(true);
  });
});

describe('fuzz: random input gives a filter or a ScimError', () => {
  const alphabet = [
    'a',
    'e',
    'q',
    ' ',
    '"',
    '\\',
    '(',
    ')',
    '[',
    ']',
    '.',
    ':',
    'urn:x:',
    'eq',
    'and',
    'or',
    'not',
    'pr',
    '1',
    '-',
    'true',
    'null',
    'emails',
    'value',
    'u',
    '\u0000',
    '$ref',
    'é',
  ];
  // a deterministic generator, so a failure reproduces
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  it('3,000 strings', () => {
    for (let n = 0; n < 3000; n++) {
      const len = next() % 30;
      let text = '';
      for (let i = 0; i < len; i++) text += alphabet[next() % alphabet.length];
      try {
        const f = parseFilter(text);
        matches(bjensen(), f, USER);
      } catch (err) {
        if (!(err instanceof ScimError)) throw new Error(`${JSON.stringify(text)} threw ${String(err)}`);
        expect(err.status).toBe(400);
      }
    }
  });
  it('3,000 mutations of valid filters', () => {
    const base =
      'emails[type eq "work" and value co "@example.com"] or not (userName sw "J") and meta.lastModified gt "2011-05-13T04:42:34Z"';
    for (let n = 0; n < 3000; n++) {
      const chars = [...base];
      for (let k = 0; k < 3; k++) {
        const at = next() % chars.length;
        const what = next() % 3;
        if (what === 0) chars.splice(at, 1);
        else if (what === 1) chars.splice(at, 0, alphabet[next() % alphabet.length]!);
        else chars[at] = alphabet[next() % alphabet.length]!;
      }
      const text = chars.join('');
      try {
        matches(bjensen(), parseFilter(text), USER);
      } catch (err) {
        if (!(err instanceof ScimError)) throw new Error(`${JSON.stringify(text)} threw ${String(err)}`);
      }
    }
  });
});

describe('indexHint', () => {
  const names = [
    'userName',
    'externalId',
    'id',
    'members.value',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
  ];
  const cases: [string, unknown][] = [
    ['userName eq "Test_User"', { attribute: 'userName', value: 'Test_User' }],
    ['USERNAME eq "x"', { attribute: 'userName', value: 'x' }],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', { attribute: 'userName', value: 'x' }],
    ['externalId eq "e" and active eq true', { attribute: 'externalId', value: 'e' }],
    ['active eq true and (title pr) and id eq "7"', { attribute: 'id', value: '7' }],
    ['members.value eq "m"', { attribute: 'members.value', value: 'm' }],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
      {
        attribute: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
        value: '701984',
      },
    ],
    ['userName ne "x"', undefined],
    ['userName co "x"', undefined],
    ['userName eq "x" or externalId eq "y"', undefined],
    ['not (userName eq "x")', undefined],
    ['displayName eq "x"', undefined],
    ['userName eq null', undefined],
    ['emails[value eq "x"]', undefined], // emails.value is not in the list
    ['members[value eq "m"]', { attribute: 'members.value', value: 'm' }],
    ['members[type eq "User" and value eq "m"]', { attribute: 'members.value', value: 'm' }],
    ['members[value eq "m" or value eq "n"]', undefined],
  ];
  it.each(cases)('%s', (text, hint) => {
    expect(indexHint(parseFilter(text), names)).toEqual(hint);
  });

  it("hints Entra's query by work email when emails.value is indexed", () => {
    expect(indexHint(parseFilter('emails[type eq "work"].value eq "a@b.c"'), ['emails.value'])).toEqual({
      attribute: 'emails.value',
      value: 'a@b.c',
    });
  });
});

describe('indexPlan', () => {
  const names = ['userName', 'externalId', 'members.value', 'emails[type eq "work"].value'];
  const plan = (text: string, max?: number) => indexPlan(parseFilter(text), names, max);

  it('plans the one look-up of an eq or an and, as indexHint', () => {
    expect(plan('userName eq "a" and active eq true')).toEqual([{ attribute: 'userName', value: 'a' }]);
  });

  it('plans one look-up per branch of an or, at any nesting, ands inside included', () => {
    expect(
      plan(
        'userName eq "a" or (externalId eq "b" or emails[type eq "work"].value eq "c") or (title pr and userName eq "d")',
      ),
    ).toEqual([
      { attribute: 'userName', value: 'a' },
      { attribute: 'externalId', value: 'b' },
      { attribute: 'emails[type eq "work"].value', value: 'c' },
      { attribute: 'userName', value: 'd' },
    ]);
    expect(plan('members[value eq "m" or value eq "n"]')).toEqual([
      { attribute: 'members.value', value: 'm' },
      { attribute: 'members.value', value: 'n' },
    ]);
  });

  it('gives a repeated look-up once, telling values of different types apart', () => {
    expect(plan('userName eq "a" or userName eq "a" or externalId eq "1" or externalId eq 1')).toEqual([
      { attribute: 'userName', value: 'a' },
      { attribute: 'externalId', value: '1' },
      { attribute: 'externalId', value: 1 },
    ]);
  });

  it.each([
    'userName eq "a" or title eq "b"',
    'userName eq "a" or not (userName eq "b")',
    'userName eq "a" or userName sw "b"',
    'userName eq "a" or userName eq null',
    '(userName eq "a" or title pr) and externalId pr',
    // the work-email index holds no other type: any email, or a home one, needs a scan
    'userName eq "a" or emails[value eq "c"]',
    'userName eq "a" or emails[type eq "home"].value eq "c"',
    'emails[type eq "work" or value eq "c"]',
  ])('needs a scan for %s', (text) => {
    expect(plan(text)).toBeUndefined();
  });

  it('matches the typed key only when the value filter requires that type, in any case', () => {
    expect(plan('emails[TYPE eq "Work" and value eq "c"]')).toEqual([
      { attribute: 'emails[type eq "work"].value', value: 'c' },
    ]);
  });

  it('scans rather than planning more look-ups than the bound', () => {
    const text = Array.from({ length: 201 }, (_, i) => `userName eq "u${i}"`).join(' or ');
    expect(plan(text)).toBeUndefined();
    expect(plan(text, 201)).toHaveLength(201);
    expect(plan(Array.from({ length: 200 }, (_, i) => `userName eq "u${i}"`).join(' or '))).toHaveLength(200);
  });
});

describe('unquoted values (Entra documents `externalId eq jyoung`; RFC 7644 wants quotes)', () => {
  it('reads a bare word as a string in the default mode', () => {
    expect(parseFilter('externalId eq jyoung')).toEqual({
      type: 'compare',
      op: 'eq',
      path: { text: 'externalId', attribute: 'externalId' },
      value: 'jyoung',
    });
    expect(evaluate('externalId eq bjensen')).toBe(true);
    expect(evaluate('userName eq bjensen@example.com and (title eq Tour)')).toBe(false);
    expect(evaluate('emails[type eq work and value eq bjensen@example.com]')).toBe(true);
    // a word that merely begins like a keyword is a word
    expect(parseFilter('title eq trueish')).toMatchObject({ value: 'trueish' });
    expect(parseFilter('title eq Null1')).toMatchObject({ value: 'Null1' });
  });

  it('keeps true, false, null and numbers what they are', () => {
    expect(parseFilter('active eq True')).toMatchObject({ value: true });
    expect(parseFilter('title eq null')).toMatchObject({ value: null });
    expect(parseFilter('x eq 42')).toMatchObject({ value: 42 });
  });

  const stillRefused: [string, RegExp][] = [
    ['userName eq 01', /offset 13/], // a number written wrong, not a word
    ['userName eq 1x', /offset 13/],
    ['userName eq -x', /offset 12.*expected a value/],
    ['userName eq and', /offset 12.*expected a value/],
    ['userName eq or', /offset 12.*expected a value/],
    ['userName eq ab"c"', /offset 14/],
    ['userName eq ab(c)', /offset 14/],
  ];
  it.each(stillRefused)('still refuses %j', (text, detail) => {
    const err = thrown(() => parseFilter(text));
    expect(err).toMatchObject({ status: 400, scimType: 'invalidFilter' });
    expect((err as ScimError).detail).toMatch(detail);
  });

  it('refuses a bare word in strict mode', () => {
    for (const text of ['userName eq x', 'externalId eq jyoung', 'emails[type eq work]']) {
      const err = thrown(() => parseFilter(text, { strict: true }));
      expect(err).toMatchObject({ status: 400, scimType: 'invalidFilter' });
      expect((err as ScimError).detail).toMatch(/expected a value/);
    }
    expect((thrown(() => parseFilter('userName eq x', { strict: true })) as ScimError).detail).toMatch(
      /offset 12.*expected a value/,
    );
  });
});

describe('formatFilterValue, filterEq: filter strings built from data', () => {
  it('writes RFC literals', () => {
    expect(formatFilterValue('bjensen')).toBe('"bjensen"');
    expect(formatFilterValue(7)).toBe('7');
    expect(formatFilterValue(-0.5)).toBe('-0.5');
    expect(formatFilterValue(true)).toBe('true');
    expect(formatFilterValue(null)).toBe('null');
    expect(filterEq('userName', 'a"b')).toBe('userName eq "a\\"b"');
    expect(filterCompare('meta.lastModified', 'ge', '2011-05-13T04:42:34Z')).toBe(
      'meta.lastModified ge "2011-05-13T04:42:34Z"',
    );
  });

  const awkward = [
    "O'Malley",
    'quote " inside',
    'back\\slash\\',
    '\\"',
    'tab\tnew\nline\r',
    '\u0000\u001f control',
    'and or not ) ( ] [',
    'é, 中文, 🙂',
    '\u2028\u2029',
    '\ud800 lone surrogate',
    '',
    ' ',
  ];
  it.each(awkward)('round-trips %j through parseFilter', (value) => {
    const filter = parseFilter(filterEq('urn:ietf:params:scim:schemas:core:2.0:User:userName', value));
    expect(filter).toMatchObject({ type: 'compare', op: 'eq', value });
    const inValuePath = parseFilter(`emails[${filterEq('type', 'work')} and ${filterEq('value', value)}]`);
    expect(inValuePath).toMatchObject({
      type: 'valuePath',
      filter: { filters: [{ value: 'work' }, { value }] },
    });
  });

  it('round-trips numbers and booleans', () => {
    for (const value of [0, 1, -1, 1.5, 1e21, 2 ** 53, true, false, null]) {
      expect(parseFilter(filterEq('x', value))).toMatchObject({ value });
    }
  });

  it('refuses what JSON cannot write and paths that are not paths', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(thrown(() => formatFilterValue(bad))).toMatchObject({ status: 400, scimType: 'invalidValue' });
    }
    expect(thrown(() => formatFilterValue({} as never))).toMatchObject({ scimType: 'invalidValue' });
    for (const bad of ['', 'user name', 'a eq "x" or b', 'emails[type eq "work"]', 'a:b', '1a']) {
      expect(thrown(() => filterEq(bad, 'x'))).toMatchObject({ status: 400, scimType: 'invalidPath' });
    }
    expect(thrown(() => filterCompare('a', 'xx' as never, 'x'))).toMatchObject({ scimType: 'invalidFilter' });
  });
});
