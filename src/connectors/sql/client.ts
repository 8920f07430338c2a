/**
 * One small interface over the three drivers (pg, mysql2, better-sqlite3), like hono's routers: the rest of
 * the connector writes SQL through a Dialect and runs it through a Db, never touching a driver directly.
 */

export type Driver = 'postgres' | 'mysql' | 'sqlite';

/** What a column holds, read from the driver's result metadata (or a `types` override). */
export type ColumnKind =
  | 'string'
  | 'integer'
  | 'number'
  | 'decimal'
  | 'boolean'
  /** a timestamp stored without a zone: read and written in the configured naiveTimeZone */
  | 'timestamp'
  /** a timestamp whose text carries its zone (pg timestamptz, MariaDB TIMESTAMP with the session in UTC) */
  | 'timestamptz'
  | 'date'
  | 'binary'
  | 'json'
  /** a PostgreSQL array: a multi-valued attribute in one column */
  | 'array';

export interface ColumnInfo {
  name: string;
  kind: ColumnKind;
  /** for arrays: the elements' kind */
  elementKind?: ColumnKind;
}

export type Row = Record<string, unknown>;

export interface QueryResult {
  rows: Row[];
  columns: ColumnInfo[];
  /** rows inserted, updated or deleted (found rows on MariaDB) */
  affected: number;
  /** MariaDB AUTO_INCREMENT / SQLite rowid of the last insert */
  insertId?: number | string;
}

export interface Session {
  /** `params` are always bound by the driver, never spliced into the text */
  query(sql: string, params?: readonly unknown[]): Promise<QueryResult>;
}

export interface HeldSession extends Session {
  /** gives the connection back; `broken` closes it instead */
  release(broken?: boolean): void;
}

export interface Db extends Session {
  readonly driver: Driver;
  /** one connection for a whole import run or export batch: a killed connection fails that run */
  connect(): Promise<HeldSession>;
  close(): Promise<void>;
}

export interface DbOptions {
  connectorName: string;
  driver: Driver;
  url?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** sqlite: an absolute path */
  file?: string;
  ssl?: boolean | { ca?: string; rejectUnauthorized?: boolean };
  poolSize: number;
  statementTimeout: number;
  connectTimeout: number;
  onBackgroundError(err: unknown): void;
}
