import { describe, expect, it } from 'vitest';
import {
  canonicalDN,
  dnKey,
  escapeDNValue,
  InvalidDnError,
  isWithin,
  parseDN,
} from '../../../src/connectors/ldap/dn.js';

describe('RFC 4514 DNs', () => {
  it('escapes every special character, leading space or #, trailing space and NUL', () => {
    expect(escapeDNValue(' #a,b+c"d\\e<f>g;h=i ')).toBe('\\ #a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h=i\\ ');
    expect(escapeDNValue('#x')).toBe('\\#x');
    expect(escapeDNValue('a\0b')).toBe('a\\00b');
  });

  it('parses what it escapes back to the same value', () => {
    for (const value of [' lead', 'trail ', '#hash', 'a,b+c', 'q"u<o>t;e\\', 'nul\0', 'é ü 漢字', '=']) {
      const [[ava]] = parseDN(`cn=${escapeDNValue(value)},dc=example`) as [[{ type: string; value: string }]];
      expect(ava.value).toBe(value);
    }
  });

  it('reads hex escapes as UTF-8 and drops unescaped spaces around values', () => {
    expect(parseDN('CN = Caf\\C3\\A9 , OU=x\\2Cy')).toEqual([
      [{ type: 'CN', value: 'Café' }],
      [{ type: 'OU', value: 'x,y' }],
    ]);
    expect(parseDN('cn=a+sn=b,dc=x')[0]).toEqual([
      { type: 'cn', value: 'a' },
      { type: 'sn', value: 'b' },
    ]);
  });

  it('spells one DN one way whatever the server wrote', () => {
    expect(canonicalDN('CN=a\\2Cb,OU=People,DC=x', 'lower')).toBe('cn=a\\,b,ou=People,dc=x');
    expect(canonicalDN('cn=a\\,b,ou=People,dc=x', 'upper')).toBe('CN=a\\,b,OU=People,DC=x');
    expect(dnKey('CN=A\\2cB,DC=X')).toBe(dnKey('cn=a\\,b,dc=x'));
  });

  it('rejects malformed DNs', () => {
    expect(() => parseDN('not a dn')).toThrow(InvalidDnError);
    expect(() => parseDN('cn=a,=b')).toThrow(InvalidDnError);
    expect(() => parseDN('cn=a\\')).toThrow(InvalidDnError);
  });

  it('knows what is inside a container', () => {
    expect(isWithin(parseDN('uid=a,OU=People,dc=x'), parseDN('ou=people,DC=X'))).toBe(true);
    expect(isWithin(parseDN('uid=a,ou=other,dc=x'), parseDN('ou=people,dc=x'))).toBe(false);
  });
});
