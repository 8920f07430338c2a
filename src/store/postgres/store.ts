/**
 * The store on PostgreSQL: the shared statements and logic (../sql/store.ts) over a pg Pool. A transaction
 * pins one pooled client, and every store call made inside it (found through AsyncLocalStorage) runs on that
 * client; calls outside it take any client of the pool. Leases are per unit of work (leases.ts), each with
 * a fencing token: a transaction of a lease holder commits only while its leases still name it (checked
 * under a share lock just before COMMIT), so a node paused past its lease that wakes up cannot commit.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { StoreError, schemaTooNew } from '../errors.js';
import { type LeaseHolder, type UnitLease, WHOLE_STATE } from '../lease.js';
import { numberPlaceholders, postgresDialect } from '../sql/dialect.js';
import type { DeferringExecutor, Param } from '../sql/executor.js';
import { chunks, now } from '../sql/rows.js';
import { SqlStore } from '../sql/store.js';
import { columnsOf, WriteBehind } from '../sql/write-behind.js';
import { SCHEMA_VERSION } from '../sql/version.js';
import type { TableSpec } from '../sql/tables.js';
import type { CsWrite, LogEntry } from '../types.js';
import { PgLeases } from './leases.js';
import { MIGRATION_LOCK, MIGRATIONS } from './schema.js';

type Client = pg.Pool | pg.PoolClient;

/** bigint and numeric (COUNT, SUM, identity ids) as numbers: every one the store keeps fits in 2^53 */
export const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

/** The URL without its password, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'a PostgreSQL URL that does not parse';
  }
}

const WRITE = /^\s*(INSERT|UPDATE|DELETE)\b/i;

/** A transaction: its pooled connection, and the writes it deferred (each transaction its own). */
interface Pinned {
  client: pg.PoolClient;
  deferred: WriteBehind;
}

class PgExecutor implements DeferringExecutor {
  private readonly compiled = new Map<string, { text: string; name: string }>();
  /** writes made outside a transaction: sent at once (SqlStore.settle) */
  private readonly loose = new WriteBehind();
  /** set by the store: whether a write made outside any transaction must run in one of its own (the fence), and how */
  fence: { needed(): boolean; run<T>(fn: () => Promise<T>): Promise<T> } | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly pinned: AsyncLocalStorage<Pinned>,
  ) {}

  client(): Client {
    return this.pinned.getStore()?.client ?? this.pool;
  }

  /** the caller's transaction's deferred writes (a read elsewhere, outside it, never sends them) */
  get deferred(): WriteBehind {
    return this.pinned.getStore()?.deferred ?? this.loose;
  }

  /** sends the deferred writes: one set-based statement per kind */
  async flush(): Promise<void> {
    for (const [kind, rows] of this.deferred.take()) await this.query(kind.sql, columnsOf(rows, kind.columns.length));
  }

  /** numbered placeholders, and a name so each connection prepares the statement once */
  private statement(sql: string): { text: string; name: string } {
    let s = this.compiled.get(sql);
    if (!s) {
      s = { text: numberPlaceholders(sql), name: `idsync_${this.compiled.size}` };
      this.compiled.set(sql, s);
    }
    return s;
  }

  async query<Row>(sql: string, params: Param[]): Promise<pg.QueryResult<Row & pg.QueryResultRow>> {
    if (this.deferred.size > 0) await this.flush();
    const { text, name } = this.statement(sql);
    const pinned = this.pinned.getStore()?.client;
    if (!pinned && this.fence?.needed() && WRITE.test(sql)) return this.fence.run(() => this.query<Row>(sql, params));
    return (pinned ?? this.pool).query<Row & pg.QueryResultRow>({ text, name, values: params as unknown[] });
  }

  async all<Row>(sql: string, params: Param[] = []): Promise<Row[]> {
    return (await this.query<Row>(sql, params)).rows;
  }

  async get<Row>(sql: string, params: Param[] = []): Promise<Row | undefined> {
    return (await this.query<Row>(sql, params)).rows[0];
  }

  async run(sql: string, params: Param[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async insert(sql: string, params: Param[] = []): Promise<number> {
    return (await this.query<{ id: number }>(`${sql} RETURNING id`, params)).rows[0]!.id;
  }
}

export interface PostgresOptions {
  /** connections in the pool (default 10) */
  poolSize?: number;
  /** application_name the server shows for these connections */
  applicationName?: string;
}

export class PostgresStore extends SqlStore {
  private readonly exec: PgExecutor;
  /** the unit leases (lease.ts): a node holds one per unit of work it runs, checked before every commit */
  readonly units: PgLeases;
  /** the whole-state lease while this store holds it (acquireLease) */
  private whole: UnitLease | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly pinned: AsyncLocalStorage<Pinned>,
    private readonly url: string,
  ) {
    const exec = new PgExecutor(pool, pinned);
    super(postgresDialect, exec);
    this.exec = exec;
    this.units = new PgLeases(pool, url, (fn) => this.pinnedTransaction(fn));
    // a lease holder's writes outside a transaction are fenced too: each is a transaction of its own
    exec.fence = { needed: () => this.units.holding(), run: (fn) => this.transaction(fn) };
  }

  /** Connects, creates or migrates the schema (refusing a newer one), and reads what the indexes hold. */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      application_name: options.applicationName ?? 'idsync',
      types: typeParsers,
    });
    // An idle pooled connection that dies (a server restart) is dropped by the pool; without a listener the
    // error would end the process. The next query opens a new connection.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, new AsyncLocalStorage(), url);
    try {
      await store.migrate();
      await store.loadIndexSpec();
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'STATE_UNREACHABLE',
        `the state database ${describeUrl(url)} cannot be opened: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const exists = (await client.query("SELECT to_regclass('meta') IS NOT NULL AS made")).rows[0]
        .made as boolean;
      const stored = exists
        ? Number((await client.query("SELECT value FROM meta WHERE key = 'schema'")).rows[0]?.value ?? 0)
        : 0;
      if (stored > SCHEMA_VERSION) throw schemaTooNew(describeUrl(this.url), stored, SCHEMA_VERSION);
      for (const m of MIGRATIONS) if (m.version > stored) await client.query(m.sql);
      if (stored !== SCHEMA_VERSION) {
        await client.query(
          "INSERT INTO meta(key, value) VALUES ('schema', $1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
          [String(SCHEMA_VERSION)],
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** The whole-state lease (`idsync run --once`, apply, provision, retry): the unit `*` of the unit leases. */
  async acquireLease(
    holder: LeaseHolder,
    gone: (current: LeaseHolder) => boolean,
  ): Promise<LeaseHolder | null> {
    const result = await this.units.take(WHOLE_STATE, holder, gone);
    if ('busy' in result) return result.busy.holder;
    this.whole = result.lease;
    return null;
  }

  async renewLease(owner: string, _at: string): Promise<boolean> {
    // only the store that took the lease renews it
    const whole = this.whole;
    return whole !== undefined && whole.owner === owner && this.units.renew(whole);
  }

  async releaseLease(owner: string): Promise<void> {
    if (this.whole?.owner === owner) {
      await this.units.release(this.whole);
      this.whole = undefined;
    }
  }

  private async pinnedTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // a rollback drops the deferred writes with the transaction they belong to
      const result = await this.pinned.run({ client, deferred: new WriteBehind() }, () => fn(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    // Nested calls join the outer transaction (the same pinned client).
    if (this.pinned.getStore()) return fn();
    return this.pinnedTransaction(async (client) => {
      const result = await fn();
      await this.exec.flush();
      await this.units.fence(client);
      return result;
    });
  }

  protected inTransaction(): boolean {
    return this.pinned.getStore() !== undefined;
  }

  /** ids for placeholders, taken from the sequence ahead (a page's worth at a time), so their inserts can wait */
  private reservedIds: number[] = [];

  override async createCsPlaceholder(connector: string, objectType: string, mvId: string): Promise<number> {
    if (!this.inTransaction()) return super.createCsPlaceholder(connector, objectType, mvId);
    if (this.reservedIds.length === 0) {
      const rows = await this.exec.all<{ id: number }>("SELECT nextval(pg_get_serial_sequence('cs', 'id')) AS id FROM generate_series(1, 500)");
      this.reservedIds = rows.map((r) => r.id).sort((a, b) => a - b);
    }
    const id = this.reservedIds.shift()!;
    this.exec.deferred.add(this.later.placeholder, [id, connector, objectType, mvId], `cs:${id}`);
    return id;
  }

  // ---- set-based page statements: one round trip per page, not per object ----

  override async appendLog(entries: LogEntry[]): Promise<void> {
    const at = now();
    for (const part of chunks(entries, 1000)) {
      const rows = part.map((e) => this.logParams(e, at));
      await this.exec.run(
        `INSERT INTO log(run_id, at, connector, object, cs_id, mv_id, phase, situation, action, status, steps, changes, error, name, names)
         SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
           ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])`,
        columnsOf(rows, 15),
      );
    }
  }

  override async writeCs(writes: CsWrite[]): Promise<number[]> {
    const inserts = writes.filter((w) => w.id === undefined);
    if (inserts.length < 2 || inserts.length !== writes.length) return super.writeCs(writes);
    // a page of new objects: one insert returning their ids in order, then their index rows in two statements
    const { rows } = await this.exec.query<{ id: number; connector: string; anchor: string }>(
      `INSERT INTO cs(connector, object_type, anchor, name, attributes, present, dirty)
       SELECT c, t, a, n, h, 1, 1 FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS w(c, t, a, n, h, i)
       ORDER BY i RETURNING id, connector, anchor`,
      columnsOf(
        inserts.map((w) => [w.connector, w.objectType, w.anchor, w.name, w.hash]),
        5,
      ),
    );
    // matched by (connector, anchor), the unique key, rather than trusting the order RETURNING gives
    const byKey = new Map(rows.map((r) => [`${r.connector}\0${r.anchor}`, r.id]));
    const ids = inserts.map((w) => byKey.get(`${w.connector}\0${w.anchor}`)!);
    const refs: unknown[][] = [];
    const keys: unknown[][] = [];
    inserts.forEach((w, i) => {
      const index = this.csIndexRows(w.connector, w.objectType, w.attributes);
      for (const target of index.refs) refs.push([w.connector, target, ids[i]]);
      for (const { attr, key } of index.keys) keys.push([w.connector, attr, key, ids[i]]);
    });
    if (refs.length > 0) {
      await this.exec.run(
        'INSERT INTO cs_refs(connector, target, cs_id) SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]) ON CONFLICT DO NOTHING',
        columnsOf(refs, 3),
      );
    }
    if (keys.length > 0) {
      await this.exec.run(
        'INSERT INTO cs_index(connector, attr, key, cs_id) SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[]) ON CONFLICT DO NOTHING',
        columnsOf(keys, 4),
      );
    }
    return ids;
  }

  /** identity columns: the sequence moves past the ids a copy wrote */
  override async rowsWritten(table: TableSpec): Promise<void> {
    if (!table.identity) return;
    await this.exec.run(
      `SELECT setval(pg_get_serial_sequence('${table.name}', '${table.identity}'), COALESCE(MAX(${table.identity}), 0) + 1, false) FROM ${table.name}`,
    );
  }
}
