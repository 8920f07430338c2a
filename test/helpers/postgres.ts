/**
 * A PostgreSQL database of a test's own at the test server (127.0.0.1:5432, user postgres, trust; or
 * IDSYNC_TEST_PGHOST/PGPORT): uniquely named, dropped by the test when done. Never the shared `test` database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const HOST = process.env.IDSYNC_TEST_PGHOST ?? '127.0.0.1';
const PORT = Number(process.env.IDSYNC_TEST_PGPORT ?? 5432);

export interface TestDatabase {
  name: string;
  url: string;
  /** runs SQL in the database as the administrator */
  exec(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ host: HOST, port: PORT, user: 'postgres', database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(label: string): Promise<TestDatabase> {
  const name = `idsync_${label.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: `postgres://postgres@${HOST}:${PORT}/${name}`,
    exec: (sql, params) => admin(async (c) => (await c.query(sql, params)).rows, name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}
