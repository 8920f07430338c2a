/**
 * One throwaway database per test file on the real servers the harness started (scripts/test-servers.d/sql.sh),
 * or a temporary SQLite file; dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type {
  Connector,
  ConnectorContext,
  ExportChange,
  ExportResult,
  ImportPage,
  ImportRequest,
} from '../../../src/connectors/contract.js';
import { sqlConnectorFactory } from '../../../src/connectors/sql/index.js';

export type Driver = 'postgres' | 'mysql' | 'sqlite';

export const PG = {
  host: process.env.IDSYNC_TEST_PGHOST ?? '127.0.0.1',
  port: Number(process.env.IDSYNC_TEST_PGPORT ?? 5432),
  user: 'postgres',
};
export const MY = {
  host: process.env.IDSYNC_TEST_MYHOST ?? '127.0.0.1',
  port: Number(process.env.IDSYNC_TEST_MYPORT ?? 3306),
  user: 'root',
  password: '',
};

export interface TestDb {
  driver: Driver;
  name: string;
  /** runs SQL as the administrator, in the test database (several statements allowed without params) */
  exec(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** a second administrator connection, for concurrent transactions */
  second(): Promise<{ exec(sql: string, params?: unknown[]): Promise<unknown>; close(): Promise<void> }>;
  /** connection settings for the connector */
  connection: Record<string, unknown>;
  drop(): Promise<void>;
}

export async function createTestDb(driver: Driver): Promise<TestDb> {
  const name = `idsync_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  if (driver === 'postgres') {
    const admin = new pg.Client({ ...PG, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const open = async () => {
      const c = new pg.Client({ ...PG, database: name });
      await c.connect();
      await c.query("SET TimeZone = 'UTC'");
      return c;
    };
    const client = await open();
    return {
      driver,
      name,
      async exec(sql, params) {
        const r = await client.query(sql, params);
        return (Array.isArray(r) ? r.at(-1)?.rows : r.rows) ?? [];
      },
      async second() {
        const c = await open();
        return { exec: (sql, params) => c.query(sql, params), close: () => c.end() };
      },
      connection: { driver, host: PG.host, port: PG.port, user: PG.user, database: name },
      async drop() {
        await client.end();
        const a = new pg.Client({ ...PG, database: 'postgres' });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await a.end();
      },
    };
  }
  if (driver === 'mysql') {
    const admin = await mysql.createConnection({ ...MY });
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const open = async () => {
      const c = await mysql.createConnection({
        ...MY,
        database: name,
        multipleStatements: true,
        dateStrings: true,
      });
      await c.query("SET time_zone = '+00:00'");
      return c;
    };
    const client = await open();
    return {
      driver,
      name,
      async exec(sql, params) {
        const [rows] = params ? await client.query(sql, params) : await client.query(sql);
        return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      },
      async second() {
        const c = await open();
        return { exec: (sql, params) => c.query(sql, params), close: () => c.end() };
      },
      connection: {
        driver,
        host: MY.host,
        port: MY.port,
        user: MY.user,
        password: MY.password,
        database: name,
      },
      async drop() {
        await client.end();
        const a = await mysql.createConnection({ ...MY });
        await a.query(`DROP DATABASE IF EXISTS ${name}`);
        await a.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'idsync-sql-'));
  const file = join(dir, 'test.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return {
    driver,
    name,
    async exec(sql, params) {
      if (!params && /;\s*\S/.test(sql.trim())) {
        db.exec(sql);
        return [];
      }
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all(...(params ?? [])) as Record<string, unknown>[];
      stmt.run(...(params ?? []));
      return [];
    },
    async second() {
      const c = new Database(file);
      return {
        exec: async (sql: string, params?: unknown[]) =>
          params ? c.prepare(sql).run(...params) : c.exec(sql),
        close: async () => void c.close(),
      };
    },
    connection: { driver, file },
    async drop() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const silentContext: ConnectorContext = {
  configDir: process.cwd(),
  stateDir: tmpdir(),
  log: { debug() {}, info() {}, warn() {} },
};

export function makeConnector(db: TestDb, settings: Record<string, unknown>): Connector {
  const parsed = sqlConnectorFactory.settings.parse({ ...db.connection, ...settings });
  return sqlConnectorFactory.create('hr', parsed, silentContext);
}

export async function collect(connector: Connector, request: Partial<ImportRequest>): Promise<ImportPage[]> {
  const pages: ImportPage[] = [];
  for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: 100, ...request }))
    pages.push(page);
  return pages;
}

export async function exportAll(
  connector: Connector,
  changes: ExportChange[],
): Promise<Map<string, ExportResult>> {
  const out = new Map<string, ExportResult>();
  for await (const r of connector.export!(changes)) out.set(r.id, r);
  return out;
}

/** The last watermark the pages carried. */
export function lastWatermark(pages: ImportPage[]): string | null {
  let w: string | null = null;
  for (const p of pages) if (p.watermark !== undefined) w = p.watermark;
  return w;
}

/** Per driver: column types for the test schema. */
export function types(driver: Driver) {
  switch (driver) {
    case 'postgres':
      return {
        serial: 'SERIAL PRIMARY KEY',
        bool: 'BOOLEAN',
        naive: 'TIMESTAMP(6)',
        aware: 'TIMESTAMPTZ',
        blob: 'BYTEA',
        decimal: 'NUMERIC(10,2)',
        now: 'clock_timestamp()',
        false: 'false',
        true: 'true',
      };
    case 'mysql':
      return {
        serial: 'INT AUTO_INCREMENT PRIMARY KEY',
        bool: 'BOOLEAN',
        naive: 'DATETIME(6)',
        aware: 'TIMESTAMP(6) NULL',
        blob: 'BLOB',
        decimal: 'DECIMAL(10,2)',
        now: 'UTC_TIMESTAMP(6)',
        false: '0',
        true: '1',
      };
    case 'sqlite':
      return {
        serial: 'INTEGER PRIMARY KEY',
        bool: 'BOOLEAN',
        naive: 'DATETIME',
        aware: 'TIMESTAMP',
        blob: 'BLOB',
        decimal: 'NUMERIC',
        now: "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        false: '0',
        true: '1',
      };
  }
}

/** users + a child table of group names, with every type the suite checks. */
export function usersSchema(driver: Driver): string {
  const t = types(driver);
  const engine = driver === 'mysql' ? ' ENGINE=InnoDB' : '';
  return `
CREATE TABLE users (
  id ${t.serial},
  login VARCHAR(100) NOT NULL UNIQUE,
  name VARCHAR(200),
  active ${t.bool} NOT NULL DEFAULT ${t.true},
  hired ${t.naive},
  seen_at ${t.aware},
  photo ${t.blob},
  big BIGINT,
  score ${t.decimal},
  manager_id INT,
  deleted ${t.bool} NOT NULL DEFAULT ${t.false},
  updated_at ${driver === 'mysql' ? 'DATETIME(6)' : t.naive} NOT NULL DEFAULT ${driver === 'sqlite' ? `(${t.now})` : driver === 'mysql' ? 'CURRENT_TIMESTAMP(6)' : t.now},
  FOREIGN KEY (manager_id) REFERENCES users(id)
)${engine};
CREATE TABLE user_groups (
  user_id INT NOT NULL,
  grp VARCHAR(50) NOT NULL,
  PRIMARY KEY (user_id, grp),
  FOREIGN KEY (user_id) REFERENCES users(id)
)${engine};
`;
}

export const usersObjectType = {
  table: 'users',
  anchor: 'id',
  attributes: {
    id: 'id',
    login: 'login',
    name: 'displayName',
    active: 'active',
    hired: 'hired',
    seen_at: 'seenAt',
    photo: 'photo',
    big: 'big',
    score: 'score',
    manager_id: 'manager',
  },
  multiValued: { groups: { table: 'user_groups', key: 'user_id', value: 'grp' } },
  references: { manager: { objectType: 'person' } },
};
