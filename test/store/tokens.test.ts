/** The SCIM token store, in both stores: tokens shown once, kept as hashes, verified, listed and revoked. */
import { existsSync, readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken, TokenStore } from '../../src/store/tokens.js';
import { RECORD_HARNESSES } from './records/harness.js';

describe.each(RECORD_HARNESSES)('TokenStore in $name', (harness) => {
  let state: Awaited<ReturnType<typeof harness.create>>;
  let store: TokenStore;
  beforeEach(async () => {
    state = await harness.create();
    store = await TokenStore.open(state.location);
  });
  afterEach(async () => {
    await store.close();
    await state.cleanup();
  });

  it('verifies the token it made, and nothing else', async () => {
    const token = await store.create('entra', ['/scim/v2']);
    expect(token).toMatch(/^idsync_/);
    expect(await store.verify(token)).toEqual({
      name: 'entra',
      endpoints: ['/scim/v2'],
      created: expect.any(String),
    });
    expect(await store.verify(`${token}x`)).toBeUndefined();
    expect(await store.verify('')).toBeUndefined();
    expect(hashToken(token)).toHaveLength(32);
  });

  it('refuses a duplicate or malformed name, and revokes by name', async () => {
    const token = await store.create('okta');
    await expect(store.create('okta')).rejects.toThrow(expect.objectContaining({ code: 'TOKEN_EXISTS' }));
    await expect(store.create('bad name')).rejects.toThrow(/letters/);
    expect((await store.list()).map((t) => t.name)).toEqual(['okta']);
    expect(await store.revoke('okta')).toBe(true);
    expect(await store.revoke('okta')).toBe(false);
    expect(await store.verify(token)).toBeUndefined();
  });

  it('makes a different token each time, listed in name order (byte-wise, as both stores compare)', async () => {
    expect(await store.create('b')).not.toBe(await store.create('a'));
    await store.create('B');
    expect((await store.list()).map((t) => t.name)).toEqual(['B', 'a', 'b']);
  });

  it('a token made through one opening is seen at once through another (another process or node)', async () => {
    const other = await TokenStore.open(state.location);
    try {
      const token = await store.create('shared');
      expect((await other.verify(token))?.name).toBe('shared');
      expect(await other.revoke('shared')).toBe(true);
      expect(await store.verify(token)).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it(
    harness.name === 'PostgreSQL'
      ? 'writes nothing in the state folder'
      : 'keeps tokens.db in the state folder',
    async () => {
      await store.create('x');
      const files = existsSync(state.location.stateDir) ? readdirSync(state.location.stateDir) : [];
      if (harness.name === 'PostgreSQL') expect(files).toEqual([]);
      else expect(files).toContain('tokens.db');
    },
  );
});
