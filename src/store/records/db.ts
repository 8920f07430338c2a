/**
 * The small record stores kept beside the engine's state: SCIM tokens (../tokens.ts), agents (../agents.ts),
 * admin accounts and the audit log (../accounts.ts). Each is written once over a RecordDb: in SQLite a file of
 * its own in the state folder (tokens.db, agents.db, accounts.db: the CLI changes one while a long cycle holds
 * state.db), in PostgreSQL tables in the state's database. What differs between the two is a dialect call
 * (RecordDialect) or the component's DDL (RecordComponent); the statements are the same text.
 */
import type { Executor } from '../sql/executor.js';
import type { TableSpec } from '../sql/tables.js';

export interface RecordDialect {
  readonly name: 'sqlite' | 'postgres';
  /** "column equals the parameter, ASCII case ignored" (SQLite's COLLATE NOCASE column; lower() in PostgreSQL) */
  equalsNoCase(column: string): string;
  /** ORDER BY terms for a column compared without case, ties broken byte-wise */
  orderNoCase(column: string): string;
}

export const sqliteRecordDialect: RecordDialect = {
  name: 'sqlite',
  equalsNoCase: (column) => `${column} = ?`,
  orderNoCase: (column) => column,
};

export const postgresRecordDialect: RecordDialect = {
  name: 'postgres',
  equalsNoCase: (column) => `lower(${column}) = lower(?)`,
  orderNoCase: (column) => `lower(${column}), ${column}`,
};

/** One component's tables as each database holds them. */
export interface RecordComponent {
  /** the component's name: tokens, agents, accounts (its SQLite file is NAME.db) */
  name: string;
  /** SQLite: DDL run on every open (CREATE … IF NOT EXISTS), then upgrades of files older idsyncs made */
  sqlite(db: { exec(sql: string): void; columns(table: string): string[] }): void;
  /** PostgreSQL: versioned migrations (migrations[i] brings version i to i + 1), run under the migration lock */
  postgres: string[];
  /** the tables, in the order a copy writes them; their names as each store calls them */
  tables: (TableSpec & { pgName?: string })[];
}

/** A component's database: statements outside a transaction, or a transaction of its own. */
export interface RecordDb {
  readonly dialect: RecordDialect;
  /** where it is, for messages (a URL's password hidden) */
  readonly where: string;
  /** the table's name in this store */
  table(spec: RecordComponent['tables'][number]): string;
  readonly exec: Executor;
  /**
   * Runs `fn` in one transaction, its statements on `tx`. `lock` names a lock taken first (PostgreSQL: an
   * advisory lock for the transaction; SQLite's write transaction is exclusive already), for a check and
   * a write that must not interleave with another node's (the last admin).
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>, lock?: number): Promise<T>;
  close(): Promise<void>;
}

/** Whether a write failed on a unique key (SQLite's SQLITE_CONSTRAINT_*, PostgreSQL's 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === '23505' || code.startsWith('SQLITE_CONSTRAINT'));
}

/** advisory-lock keys of the record stores (the state's own are in ../postgres/schema.ts, 0x1d5c_0001…) */
export const ACCOUNTS_LOCK = 0x1d5c_0101;
