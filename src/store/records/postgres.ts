/**
 * The record components (db.ts) in the state's PostgreSQL database: one small pool per database URL in a
 * process, shared by the components opened on it (serve opens three) and closed with the last of them.
 * Each component's tables have a schema version of their own (table record_schema), migrated on open in one
 * transaction under the state's migration lock; a version above the one this idsync knows is refused.
 */
import pg from 'pg';
import { StoreError } from '../errors.js';
import { MIGRATION_LOCK } from '../postgres/schema.js';
import { describeUrl, typeParsers } from '../postgres/store.js';
import { numberPlaceholders } from '../sql/dialect.js';
import type { Executor, Param } from '../sql/executor.js';
import { postgresRecordDialect, type RecordComponent, type RecordDb } from './db.js';

const pools = new Map<string, { pool: pg.Pool; users: number }>();

function takePool(url: string): pg.Pool {
  let entry = pools.get(url);
  if (!entry) {
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      application_name: 'idsync',
      types: typeParsers,
    });
    // an idle connection dropped by the server (a restart) must not end the process; the next query reconnects
    pool.on('error', () => {});
    entry = { pool, users: 0 };
    pools.set(url, entry);
  }
  entry.users++;
  return entry.pool;
}

async function givePool(url: string): Promise<void> {
  const entry = pools.get(url);
  if (!entry) return;
  entry.users--;
  if (entry.users === 0) {
    pools.delete(url);
    await entry.pool.end();
  }
}

function executor(client: pg.Pool | pg.PoolClient): Executor {
  const query = async <Row>(sql: string, params: Param[] = []) =>
    client.query<Row & pg.QueryResultRow>(numberPlaceholders(sql), params as unknown[]);
  return {
    all: async <Row>(sql: string, params?: Param[]) => (await query<Row>(sql, params)).rows as Row[],
    get: async <Row>(sql: string, params?: Param[]) =>
      (await query<Row>(sql, params)).rows[0] as Row | undefined,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    insert: async (sql, params) => (await query<{ id: number }>(`${sql} RETURNING id`, params)).rows[0]!.id,
  };
}

export class PostgresRecordDb implements RecordDb {
  readonly dialect = postgresRecordDialect;
  readonly exec: Executor;
  readonly where: string;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {
    this.exec = executor(pool);
    this.where = describeUrl(url);
  }

  static async open(url: string, component: RecordComponent): Promise<PostgresRecordDb> {
    const db = new PostgresRecordDb(takePool(url), url);
    try {
      await db.transaction(async (tx) => {
        await tx.run(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
        await tx.run(
          'CREATE TABLE IF NOT EXISTS record_schema (component TEXT COLLATE "C" PRIMARY KEY, version INTEGER NOT NULL)',
        );
        const stored =
          (
            await tx.get<{ version: number }>('SELECT version FROM record_schema WHERE component = ?', [
              component.name,
            ])
          )?.version ?? 0;
        const known = component.postgres.length;
        if (stored > known) {
          throw new StoreError(
            'STATE_SCHEMA_TOO_NEW',
            `the ${component.name} tables in ${db.where} have schema version ${stored}, written by a newer idsync; this one knows versions up to ${known}. Upgrade idsync on this node (every node on one state must run the same version or newer).`,
          );
        }
        for (let v = stored; v < known; v++) await tx.run(component.postgres[v]!);
        if (stored !== known) {
          await tx.run(
            'INSERT INTO record_schema(component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version',
            [component.name, known],
          );
        }
      });
    } catch (err) {
      await db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'STATE_UNREACHABLE',
        `the state database ${db.where} cannot be opened: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return db;
  }

  table(spec: RecordComponent['tables'][number]): string {
    return spec.pgName ?? spec.name;
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>, lock?: number): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (lock !== undefined) await client.query('SELECT pg_advisory_xact_lock($1)', [lock]);
      const result = await fn(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await givePool(this.url);
  }
}
