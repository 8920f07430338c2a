/** The API token store: tokens shown once, kept as hashes, verified, listed and revoked. */
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken, TokenStore } from '../../src/store/tokens.js';

let store: TokenStore;
afterEach(() => store?.close());

describe('TokenStore', () => {
  it('verifies the token it made, and nothing else', () => {
    store = new TokenStore(':memory:');
    const token = store.create('entra', ['/scim/v2']);
    expect(token).toMatch(/^idsync_/);
    expect(store.verify(token)).toEqual({
      name: 'entra',
      endpoints: ['/scim/v2'],
      created: expect.any(String),
    });
    expect(store.verify(`${token}x`)).toBeUndefined();
    expect(store.verify('')).toBeUndefined();
    expect(hashToken(token)).toHaveLength(32);
  });

  it('refuses a duplicate or malformed name, and revokes by name', () => {
    store = new TokenStore(':memory:');
    const token = store.create('okta');
    expect(() => store.create('okta')).toThrow(/exists/);
    expect(() => store.create('bad name')).toThrow(/letters/);
    expect(store.list().map((t) => t.name)).toEqual(['okta']);
    expect(store.revoke('okta')).toBe(true);
    expect(store.revoke('okta')).toBe(false);
    expect(store.verify(token)).toBeUndefined();
  });

  it('makes a different token each time', () => {
    store = new TokenStore(':memory:');
    expect(store.create('a')).not.toBe(store.create('b'));
  });
});
