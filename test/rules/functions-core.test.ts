/**
 * The common functions, with every example Microsoft documents for them (quoted in the test names), plus the
 * edge cases the documentation states (null, negative counts, omitted arguments).
 */
import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  ExpressionEvaluationError,
  ExpressionSyntaxError,
} from '../../src/rules/index.js';
import { one, run } from './helpers.js';

describe('Append', () => {
  it('doc: Append([userPrincipalName], ".test")', () => {
    expect(one('Append([userPrincipalName], ".test")', { userPrincipalName: 'John.Doe@contoso.com' })).toBe(
      'John.Doe@contoso.com.test',
    );
  });
  it('doc: Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))', () => {
    expect(
      one('Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))', { givenName: 'John', surname: 'Doe' }),
    ).toBe('JohDoe');
  });
  it('keeps a null source null and appends to each value of a multi-valued one', () => {
    expect(run('Append([upn], ".test")')).toEqual([]);
    expect(run('Append([m], "!")', { m: ['a', 'b'] })).toEqual(['a!', 'b!']);
  });
});

describe('Join', () => {
  it('doc: Join(", ", "", [surname], [givenName]) skips the empty source', () => {
    expect(one('Join(", ", "", [surname], [givenName])', { givenName: 'John', surname: 'Doe' })).toBe(
      'Doe, John',
    );
  });
  it('doc: joins every value of a multi-valued source', () => {
    expect(one('Join(";", [proxyAddresses], [mail])', { proxyAddresses: ['a', 'b'], mail: 'c' })).toBe(
      'a;b;c',
    );
  });
  it('skips nulls, and is null when every source is', () => {
    expect(one('Join(" ", [givenName], [sn])', { sn: 'Lee' })).toBe('Lee');
    expect(run('Join(" ", [givenName], [sn])')).toEqual([]);
    expect(one('Join("", 1000, "x")')).toBe('1000x');
  });
});

describe('IIF', () => {
  it('doc: IIF([country]="USA",[country],[department])', () => {
    expect(one('IIF([country]="USA",[country],[department])', { country: 'USA', department: 'Sales' })).toBe(
      'USA',
    );
    expect(one('IIF([country]="USA",[country],[department])', { country: 'FR', department: 'Sales' })).toBe(
      'Sales',
    );
  });
  it('doc: AND by nesting, IIF([country]="USA",IIF([state]="CA","True","False"),"False")', () => {
    const e = 'IIF([country]="USA",IIF([state]="CA","True","False"),"False")';
    expect(one(e, { country: 'USA', state: 'CA' })).toBe('True');
    expect(one(e, { country: 'USA', state: 'WA' })).toBe('False');
    expect(one(e, { country: 'FR', state: 'CA' })).toBe('False');
  });
  it('doc: OR by nesting, IIF([country]="USA","True",IIF([state]="CA","True","False"))', () => {
    const e = 'IIF([country]="USA","True",IIF([state]="CA","True","False"))';
    expect(one(e, { country: 'FR', state: 'CA' })).toBe('True');
    expect(one(e, { country: 'FR', state: 'WA' })).toBe('False');
  });
  it('doc (listed as unsupported by Entra, works here): conditions on null attributes', () => {
    expect(one('IIF([country]="","Other",[country])')).toBe('Other');
    expect(one('IIF(IsNullOrEmpty([country]),"Other",[country])')).toBe('Other');
    expect(one('IIF(IsPresent([country]),[country],"Other")', { country: 'NL' })).toBe('NL');
  });
  it('evaluates only the branch it returns', () => {
    expect(one('IIF(True, "ok", Error("not taken"))')).toBe('ok');
  });
  it('refuses a condition that is not a truth value, at run time', () => {
    expect(() => run('IIF([department], "a", "b")', { department: 'Sales' })).toThrow(
      ExpressionEvaluationError,
    );
  });
});

describe('Switch', () => {
  const tz =
    'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")';
  it('doc: time zone from state code', () => {
    expect(one(tz, { state: 'QLD' })).toBe('Australia/Brisbane');
    expect(one(tz, { state: 'WA' })).toBe('Australia/Sydney');
  });
  it('doc: case-sensitive, normalize with ToLower: Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', () => {
    const e = 'Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")';
    expect(one(e, { statusFlag: 'TRUE' })).toBe('1');
    expect(one(e, { statusFlag: 'False' })).toBe('0');
    expect(one('Switch([s], "d", "true", "1")', { s: 'TRUE' })).toBe('d');
  });
  it('doc: a null source matches the key "": Switch([statusFlag], "Default Value", "true", "1", "", "0")', () => {
    const e = 'Switch([statusFlag], "Default Value", "true", "1", "", "0")';
    expect(one(e)).toBe('0');
    expect(one(e, { statusFlag: 'true' })).toBe('1');
    expect(one(e, { statusFlag: 'maybe' })).toBe('Default Value');
  });
  it('doc: Switch([country],[country],"","Other")', () => {
    expect(one('Switch([country],[country],"","Other")')).toBe('Other');
    expect(one('Switch([country],[country],"","Other")', { country: 'NL' })).toBe('NL');
  });
  it('doc: Switch([companyName], "External", "Company A", "A", "Company B", "B")', () => {
    const e = 'switch([companyName], "External", "Company A", "A", "Company B", "B")';
    expect(one(e, { companyName: 'Company B' })).toBe('B');
    expect(one(e, { companyName: 'Other' })).toBe('External');
  });
  it('doc: IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))', () => {
    const e =
      'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))';
    expect(run(e, { prefix: '3445' })).toEqual(['Prof. Dr.']);
    expect(run(e, { prefix: '9999' })).toBeUndefined();
  });
  it('doc: an omitted default, Switch([Active], , "1", ..., "0", "False")', () => {
    const e = 'Switch([Active], , "1", "True", "0", "False")';
    expect(one(e, { Active: '0' })).toBe('False');
    expect(run(e, { Active: '7' })).toEqual([]);
  });
  it('doc: IsPresent as keys picks the first present manager', () => {
    const e =
      'Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], IsPresent([director]),[director])';
    expect(one(e, { directManager: 'dm' })).toBe('dm');
  });
  it('works with keys computed at run time', () => {
    expect(one('Switch([a], "none", [b], "same")', { a: 'x', b: 'x' })).toBe('same');
  });
  it('refuses an odd number of arguments', () => {
    expect(() => compileExpression('Switch([a], "d", "k")')).toThrow(ExpressionSyntaxError);
    expect(() => compileExpression('Switch([a], "d", "k", "v", "k2")')).toThrow(/even number/);
  });
});

describe('Replace', () => {
  it('doc: Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )', () => {
    expect(
      one('Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )', {
        BusinessTitle: 'Product Developer',
      }),
    ).toBe('Software Engineer');
  });
  it('doc: template form, Replace([UserID],"<username>", , , , , "<username>@contoso.com")', () => {
    expect(
      one('Replace([UserID],"<username>", , , , , "<username>@contoso.com")', { UserID: 'jsmith' }),
    ).toBe('jsmith@contoso.com');
  });
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a .NET substitution, not a template
  it('doc: regex with ${group} in the replacement value', () => {
    const e =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a .NET substitution, not a template
      'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , "${phoneNumber}", , )';
    expect(one(e, { telephoneNumber: '+91 9998887777' })).toBe('9998887777');
  });
  it('doc: Replace([mobile], , "[()\\\\s-]+", , "", , ) removes the punctuation', () => {
    // The documentation shows "19998887777", but its pattern does not match "+", which stays.
    expect(one('Replace([mobile], , "[()\\\\s-]+", , "", , )', { mobile: '+1 (999) 888-7777' })).toBe(
      '+19998887777',
    );
  });
  it('doc: replace a named group only, Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )', () => {
    expect(
      one('Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )', {
        AddressLineData: '545 Tremont Street',
      }),
    ).toBe('888 Tremont Street');
  });
  it('doc: Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )', () => {
    expect(
      one('Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )', {
        userPrincipalName: 'jsmith@contoso.com',
      }),
    ).toBe('jsmith');
  });
  it('doc: replacementAttributeName when the source is empty', () => {
    const e =
      'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", "phoneNumber" , , [mobile], )';
    expect(one(e, { telephoneNumber: '', mobile: '+91 8887779999' })).toBe('8887779999');
    expect(one(e, { telephoneNumber: '+1 5551234567', mobile: '+91 8887779999' })).toBe('+1 5551234567');
  });
  it('doc: Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', () => {
    expect(one('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', { mailNickname: 'john_doe72' })).toBe(
      '72',
    );
  });
  it('doc: strip a known domain, Replace([mail], "@contoso.com", , ,"", ,)', () => {
    expect(one('Replace([mail], "@contoso.com", , ,"", ,)', { mail: 'john.doe@contoso.com' })).toBe(
      'john.doe',
    );
  });
  it('Connect form: Replace(string, old, new) with \\n \\r \\t monikers', () => {
    expect(one('Replace([a], "-", "_")', { a: 'a-b-c' })).toBe('a_b_c');
    expect(one('Replace([a], "\\r\\n", " ")', { a: 'line1\r\nline2' })).toBe('line1 line2');
  });
  it('expands .NET substitutions: $1, $$, $&', () => {
    expect(one('Replace([a], , "(\\\\d+)-(\\\\d+)", , "$2/$1 $$ [$&]", , )', { a: '12-34' })).toBe(
      '34/12 $ [12-34]',
    );
  });
  it('refuses undocumented combinations and bad patterns when compiling', () => {
    expect(() => compileExpression('Replace([a], "x", "y", , "z", , )')).toThrow(
      /either oldValue or regexPattern/,
    );
    expect(() => compileExpression('Replace([a], "x", , , , , )')).toThrow(/replacementValue .*or template/);
    const bad = (() => {
      try {
        compileExpression('Replace([a], , "(unclosed", , "", , )');
      } catch (err) {
        return err as ExpressionSyntaxError;
      }
    })();
    expect(bad?.code).toBe('EXPRESSION_BAD_REGEX');
    expect(bad?.offset).toBe(15);
    expect(() => compileExpression('Replace([a], , "(?<g>x)", "h", "", , )')).toThrow(/no group named "h"/);
  });
});

describe('ToLower, ToUpper, Trim', () => {
  it('doc: ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))', () => {
    const e =
      'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))';
    expect(one(e, { PreferredFirstName: 'John', PreferredLastName: 'Smith' })).toBe('john.smith@contoso.com');
  });
  it('uses the invariant culture by default and a given culture when asked', () => {
    expect(one('ToUpper([a])', { a: 'istanbul' })).toBe('ISTANBUL');
    expect(one('ToUpper([a], "tr-TR")', { a: 'istanbul' })).toBe('İSTANBUL');
    expect(() => compileExpression('ToLower([a], "not a culture!")')).toThrow(/unknown culture/);
  });
  it('applies to every value and trims white space', () => {
    expect(run('ToLower([m])', { m: ['A', 'B'] })).toEqual(['a', 'b']);
    expect(one('Trim([a])', { a: '  x y \t' })).toBe('x y');
  });
});

describe('Left, Mid, Word', () => {
  it('doc: Left("John Doe", 3)', () => {
    expect(one('Left("John Doe", 3)')).toBe('Joh');
  });
  it('doc: Left with 0, negative, too many characters, null', () => {
    expect(run('Left("John", 0)')).toEqual([]); // "" is written as null
    expect(one('Left("John", -1)')).toBe('John');
    expect(one('Left("John", 10)')).toBe('John');
    expect(run('IsNullOrEmpty(Left([missing], 2))')).toEqual([true]);
  });
  it('doc: Mid is 1-based and stops at the end: Mid("John Doe", 3, 5), Mid("John Doe", 6, 999)', () => {
    expect(one('Mid("John Doe", 1, 3)')).toBe('Joh');
    expect(one('Mid("John Doe", 3, 5)')).toBe('hn Do');
    expect(one('Mid("John Doe", 6, 999)')).toBe('Doe');
  });
  it('doc (Connect sync): Mid edge cases', () => {
    expect(run('Mid("John", 2, 0)')).toEqual([]);
    expect(one('Mid("John", 2, -1)')).toBe('John');
    expect(one('Mid("John", 9, 2)')).toBe('John');
    expect(one('Mid("John", 0, 2)')).toBe('John');
    expect(run('IsNullOrEmpty(Mid([missing], 1, 2))')).toEqual([true]);
    expect(one('Mid("SMTP:a@x", 6)')).toBe('a@x');
  });
  it('doc: Word("The quick brown fox",3," ")', () => {
    expect(one('Word("The quick brown fox",3," ")')).toBe('brown');
  });
  it('doc: Word("This,string!has&many separators",3,",!&#")', () => {
    expect(one('Word("This,string!has&many separators",3,",!&#")')).toBe('has');
  });
  it('doc: Word with number < 1, too few words, null', () => {
    expect(run('Word("a b", 0, " ")')).toEqual([]);
    expect(run('Word("a b", 3, " ")')).toEqual([]);
    expect(run('IsNullOrEmpty(Word([missing], 1, " "))')).toEqual([true]);
  });
});

describe('Coalesce, IsNull, IsNullOrEmpty, IsPresent, Not', () => {
  it('doc: Coalesce([mail],[userPrincipalName])', () => {
    expect(one('Coalesce([mail],[userPrincipalName])', { userPrincipalName: 'John.Doe@contoso.com' })).toBe(
      'John.Doe@contoso.com',
    );
    expect(one('Coalesce([mail],[userPrincipalName])', { mail: 'm@x', userPrincipalName: 'u@x' })).toBe(
      'm@x',
    );
  });
  it('returns the default when every source is null, null without one', () => {
    expect(one('Coalesce([a], [b], "default")')).toBe('default');
    expect(run('Coalesce([a], [b])')).toEqual([]);
  });
  it('doc: IsNull([displayName]) is true when the attribute is absent', () => {
    expect(one('IsNull([displayName])')).toBe(true);
    expect(one('IsNull([displayName])', { displayName: '' })).toBe(false);
  });
  it('doc: IsNullOrEmpty([displayName]) is true when absent or ""', () => {
    expect(one('IsNullOrEmpty([displayName])')).toBe(true);
    expect(one('IsNullOrEmpty([displayName])', { displayName: '' })).toBe(true);
    expect(one('IsNullOrEmpty([displayName])', { displayName: 'x' })).toBe(false);
  });
  it('IsPresent is the inverse of IsNullOrEmpty', () => {
    expect(one('IsPresent([a])', { a: 'x' })).toBe(true);
    expect(one('IsPresent([a])', { a: '' })).toBe(false);
  });
  it('doc: Not flips "True" and "False"', () => {
    expect(one('Not("True")')).toBe(false);
    expect(one('Not("False")')).toBe(true);
    expect(one('Not([enabled])', { enabled: true })).toBe(false);
  });
});

describe('Split, CStr', () => {
  it('doc: Split([extensionAttribute5], ",")', () => {
    expect(
      run('Split([extensionAttribute5], ",")', { extensionAttribute5: 'PermissionSetOne, PermissionSetTwo' }),
    ).toEqual(['PermissionSetOne', 'PermissionSetTwo']);
  });
  it('doc: CStr([dn]) of a reference is its DN', () => {
    expect(one('CStr([dn])', { dn: { ref: 'cn=Joe,dc=contoso,dc=com' } })).toBe('cn=Joe,dc=contoso,dc=com');
  });
  it('CStr turns numbers and booleans into text', () => {
    expect(one('CStr(42)')).toBe('42');
    expect(one('CStr(True)')).toBe('True');
    expect(() => run('CStr([bin])', { bin: new Uint8Array([1, 2]) })).toThrow(ExpressionEvaluationError);
  });
});
