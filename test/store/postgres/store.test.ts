/**
 * The PostgreSQL store: the store contract (test/store/contract.ts) on a database of its own at the test
 * server, and what only a database server has: several nodes opening one empty database at once, a schema
 * from a newer idsync, and the fence on a lease lost while paused.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { holderGone, thisProcess } from '../../../src/store/lease.js';
import { PostgresStore } from '../../../src/store/postgres/store.js';
import { SCHEMA_VERSION } from '../../../src/store/sql/version.js';
import { createDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { storeContract } from '../contract.js';

const made: TestDatabase[] = [];
afterAll(async () => {
  for (const db of made) await db.drop();
});

async function database(label: string): Promise<TestDatabase> {
  const db = await createDatabase(label);
  made.push(db);
  return db;
}

storeContract('PostgreSQL', () => {
  let db: Promise<TestDatabase> | undefined;
  const current = () => (db ??= database('store'));
  return {
    create: async () => PostgresStore.open((await current()).url),
    reopen: async () => PostgresStore.open((await current()).url),
    exec: async (sql) => void (await (await current()).exec(sql)),
    cleanup: async () => {
      if (db) await (await db).drop();
    },
  };
});

describe('a PostgreSQL state', () => {
  it('is created once by nodes opening an empty database at the same moment', async () => {
    const db = await database('race');
    const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.open(db.url)));
    expect(await db.exec("SELECT value FROM meta WHERE key = 'schema'")).toEqual([{ value: String(SCHEMA_VERSION) }]);
    await stores[0]!.setMeta('k', 'v');
    expect(await stores[2]!.getMeta('k')).toBe('v'); // one database: a write is read on every node
    for (const s of stores) await s.close();
  });

  it('of a newer idsync is refused with a message that says so', async () => {
    const db = await database('newer');
    await (await PostgresStore.open(db.url)).close();
    await db.exec("UPDATE meta SET value = '99' WHERE key = 'schema'");
    await expect(PostgresStore.open(db.url)).rejects.toMatchObject({
      code: 'STATE_SCHEMA_TOO_NEW',
      message: expect.stringContaining(`schema version 99, written by a newer idsync; this one knows versions up to ${SCHEMA_VERSION}`),
    });
  });

  it('that cannot be reached says so, without the password of its URL', async () => {
    const error = await PostgresStore.open('postgres://idsync:sekret-pw-123@127.0.0.1:9/none').catch((e) => e);
    expect(error).toMatchObject({ code: 'STATE_UNREACHABLE' });
    expect(error.message).toContain('127.0.0.1:9');
    expect(error.message).not.toContain('sekret-pw-123');
  });

  it('fences a holder that lost its lease: its transaction rolls back instead of committing', async () => {
    const db = await database('fence');
    const paused = await PostgresStore.open(db.url);
    const other = await PostgresStore.open(db.url);
    const me = thisProcess('idsync serve');
    expect(await paused.acquireLease(me, holderGone)).toBeNull();
    await paused.transaction(() => paused.setMeta('written', 'while held'));
    await paused.setMeta('alone', 'while held'); // outside a transaction: fenced, and committed
    // the holder stops renewing (paused past its lease): another node finds it gone and takes the lease
    const next = thisProcess('idsync serve');
    expect(await other.acquireLease(next, () => true)).toBeNull();
    // the paused node wakes up in the middle of its work: what it writes does not commit
    await expect(paused.transaction(() => paused.setMeta('written', 'after the lease was lost'))).rejects.toMatchObject({ code: 'STATE_LEASE_LOST' });
    // a write outside any transaction is fenced the same way, until the node gives the lease up
    await expect(paused.setMeta('written', 'alone, after the lease was lost')).rejects.toMatchObject({ code: 'STATE_LEASE_LOST' });
    expect(await other.getMeta('written')).toBe('while held');
    expect(await paused.renewLease(me.owner, new Date().toISOString())).toBe(false);
    await paused.releaseLease(me.owner); // gives it up: the new holder keeps it, and this node may write again
    expect(await other.renewLease(next.owner, new Date().toISOString())).toBe(true);
    await paused.setMeta('status', 'read by the other node');
    expect(await other.getMeta('status')).toBe('read by the other node');
    await paused.close();
    await other.close();
  });
});
