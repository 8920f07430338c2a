/** Admin accounts, API tokens and the audit log, in both stores. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountStore, API_TOKEN_PREFIX } from '../../src/store/accounts.js';
import { RECORD_HARNESSES } from './records/harness.js';

describe.each(RECORD_HARNESSES)('account store in $name', (harness) => {
  let state: Awaited<ReturnType<typeof harness.create>>;
  let store: AccountStore;
  beforeEach(async () => {
    state = await harness.create();
    store = await AccountStore.open(state.location);
  });
  afterEach(async () => {
    await store.close();
    await state.cleanup();
  });

  it('names are unique and found without regard to case, listed in that order', async () => {
    await store.createAccount('Bob', 'admin', 'hash-b');
    await store.createAccount('alice', 'reader', 'hash-a');
    await expect(store.createAccount('BOB', 'reader', 'h')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_EXISTS' }),
    );
    expect(await store.accountWithHash('bob')).toMatchObject({ name: 'Bob', role: 'admin', hash: 'hash-b' });
    expect((await store.accounts()).map((a) => a.name)).toEqual(['alice', 'Bob']);
    await expect(store.createAccount('no way', 'admin', 'h')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_NAME_INVALID' }),
    );
    await expect(store.createAccount('x', 'root' as 'admin', 'h')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_ROLE_INVALID' }),
    );
  });

  it('password and role change; the last admin is neither deleted nor demoted', async () => {
    await store.createAccount('root', 'admin', 'h1');
    await store.setPassword('ROOT', 'h2');
    expect((await store.accountWithHash('root'))?.hash).toBe('h2');
    await expect(store.setPassword('nobody', 'h')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_UNKNOWN' }),
    );
    await expect(store.deleteAccount('root')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_LAST_ADMIN' }),
    );
    await expect(store.setRole('root', 'reader')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_LAST_ADMIN' }),
    );
    await store.createAccount('second', 'admin', 'h');
    await store.setRole('root', 'operator');
    expect(await store.adminCount()).toBe(1);
    await store.deleteAccount('Root');
    expect((await store.accounts()).map((a) => a.name)).toEqual(['second']);
    await expect(store.deleteAccount('root')).rejects.toThrow(
      expect.objectContaining({ code: 'ACCOUNT_UNKNOWN' }),
    );
  });

  it('of two admins deleted at once through two openings (two nodes), one stays', async () => {
    const other = await AccountStore.open(state.location);
    try {
      await store.createAccount('a', 'admin', 'h');
      await store.createAccount('b', 'admin', 'h');
      const results = await Promise.allSettled([store.deleteAccount('a'), other.deleteAccount('b')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({
        reason: expect.objectContaining({ code: 'ACCOUNT_LAST_ADMIN' }),
      });
      expect(await store.adminCount()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('API tokens: verified by hash, last use recorded at most once a minute, revoked by name', async () => {
    const token = await store.createToken('ci', 'operator', new Date('2026-01-01T00:00:00Z'));
    expect(token.startsWith(API_TOKEN_PREFIX)).toBe(true);
    await expect(store.createToken('ci', 'reader')).rejects.toThrow(
      expect.objectContaining({ code: 'TOKEN_EXISTS' }),
    );
    // the record as it was before this use
    expect(await store.verifyToken(token, new Date('2026-01-01T00:00:10Z'))).toEqual({
      name: 'ci',
      role: 'operator',
      created: '2026-01-01T00:00:00.000Z',
    });
    expect((await store.verifyToken(token, new Date('2026-01-01T00:00:50Z')))?.lastUsed).toBe(
      '2026-01-01T00:00:10.000Z',
    );
    expect((await store.verifyToken(token, new Date('2026-01-01T00:01:20Z')))?.lastUsed).toBe(
      '2026-01-01T00:00:10.000Z',
    );
    expect((await store.tokens())[0]?.lastUsed).toBe('2026-01-01T00:01:20.000Z');
    expect(await store.verifyToken(`${token}x`)).toBeUndefined();
    expect(await store.verifyToken('idsync_other')).toBeUndefined();
    expect(await store.revokeToken('ci')).toBe(true);
    expect(await store.revokeToken('ci')).toBe(false);
    expect(await store.verifyToken(token)).toBeUndefined();
  });

  it('the audit log: newest first, filtered by actor and action, paged back by id', async () => {
    for (let i = 0; i < 5; i++) {
      await store.audit({
        actor: i % 2 === 0 ? 'account a' : 'token t',
        action: `act.${i}`,
        target: i === 0 ? null : `x${i}`,
        result: 'ok',
        status: 200,
      });
    }
    const all = await store.auditEntries({ limit: 10 });
    expect(all.map((e) => e.action)).toEqual(['act.4', 'act.3', 'act.2', 'act.1', 'act.0']);
    expect(all[4]).toEqual({
      id: expect.any(Number),
      at: expect.any(String),
      actor: 'account a',
      action: 'act.0',
      target: null,
      result: 'ok',
      status: 200,
    });
    expect((await store.auditEntries({ actor: 'token t', limit: 10 })).map((e) => e.action)).toEqual([
      'act.3',
      'act.1',
    ]);
    expect((await store.auditEntries({ action: 'act.2', limit: 10 })).map((e) => e.actor)).toEqual([
      'account a',
    ]);
    expect((await store.auditEntries({ before: all[1]!.id, limit: 2 })).map((e) => e.action)).toEqual([
      'act.2',
      'act.1',
    ]);
  });
});
