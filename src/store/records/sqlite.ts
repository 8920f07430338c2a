/**
 * A record component (db.ts) in its own SQLite file beside state.db: private like the state folder, WAL, and
 * waiting for another process's writer. A transaction (BEGIN IMMEDIATE) holds the file's write lock across
 * its awaits, so within a process every statement on the file from outside it waits until it ends (a second
 * connection asking for the lock would block the event loop the transaction needs to finish).
 */
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { Executor, Param } from '../sql/executor.js';
import { openPrivateDatabase } from '../private-db.js';
import { SqliteExecutor } from '../sqlite.js';
import { type RecordComponent, type RecordDb, sqliteRecordDialect } from './db.js';

/** the transaction in progress per file in this process: settles when it ends */
const gates = new Map<string, Promise<void>>();

export class SqliteRecordDb implements RecordDb {
  readonly dialect = sqliteRecordDialect;
  readonly exec: Executor;
  private readonly raw: SqliteExecutor;
  /** the key of this file's gate (':memory:' is each connection's own) */
  private readonly gate: string;

  constructor(
    private readonly db: Database.Database,
    readonly where: string,
  ) {
    this.raw = new SqliteExecutor(db);
    this.gate = where === ':memory:' ? `:memory:${Math.random()}` : resolve(where);
    const idle = () => this.idle();
    const raw = this.raw;
    this.exec = {
      all: async <Row>(sql: string, params?: Param[]) => (await idle(), raw.all<Row>(sql, params)),
      get: async <Row>(sql: string, params?: Param[]) => (await idle(), raw.get<Row>(sql, params)),
      run: async (sql: string, params?: Param[]) => (await idle(), raw.run(sql, params)),
      insert: async (sql: string, params?: Param[]) => (await idle(), raw.insert(sql, params)),
    };
  }

  static open(path: string, component: RecordComponent): SqliteRecordDb {
    const db = openPrivateDatabase(path);
    try {
      component.sqlite({
        exec: (sql) => db.exec(sql),
        columns: (table) =>
          (db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).map(
            (c) => c.name,
          ),
      });
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteRecordDb(db, path);
  }

  table(spec: RecordComponent['tables'][number]): string {
    return spec.name;
  }

  private async idle(): Promise<void> {
    for (let busy = gates.get(this.gate); busy; busy = gates.get(this.gate)) await busy;
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    // checked and taken with no await between
    for (let busy = gates.get(this.gate); busy; busy = gates.get(this.gate)) await busy;
    let done!: () => void;
    gates.set(
      this.gate,
      new Promise((settle) => {
        done = settle;
      }),
    );
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.raw);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      gates.delete(this.gate);
      done();
    }
  }

  async close(): Promise<void> {
    await this.idle();
    this.db.close();
  }
}
