/**
 * The one place a store implementation is chosen: everything outside src/store/ opens the state through
 * openStore and sees only the Store interface (types.ts). `state.url` (postgres://…) puts the state in
 * PostgreSQL; without it, SQLite in the state folder.
 */
import { dirname, join, resolve } from 'node:path';
import { type CopyReport, copyRows, copyState } from './copy.js';
import { StoreError } from './errors.js';
import { describeUrl, PostgresStore } from './postgres/store.js';
import { copyRecords, filledRecordTables } from './records/copy.js';
import { SqlStore } from './sql/store.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Where the state lives: `stateDir` always (the SQLite file, and the folder for files beside it), `stateUrl` for a database server. */
export interface StoreLocation {
  stateDir: string;
  stateUrl?: string | undefined;
}

export const POSTGRES_URL = /^postgres(ql)?:\/\//;

export async function openStore(location: StoreLocation): Promise<Store> {
  return openSqlStore(location);
}

async function openSqlStore(location: StoreLocation): Promise<SqlStore> {
  const url = location.stateUrl;
  if (url === undefined) return new SqliteStore(join(location.stateDir, 'state.db'));
  if (!POSTGRES_URL.test(url)) {
    throw new StoreError('STATE_URL_INVALID', 'state.url: give a PostgreSQL URL, postgres://user@host:5432/database (a password from the environment or a file, as in connector settings)');
  }
  return PostgresStore.open(url);
}

/**
 * A copy of the state `source` holds in a new SQLite file (a plan of a proposed config runs on it, so the
 * state itself is never written). The caller keeps writers away meanwhile (Engine.snapshot) and closes and
 * deletes the copy.
 */
export async function copyStateToFile(source: Store, file: string): Promise<Store> {
  if (!(source instanceof SqlStore)) throw new StoreError('STATE_URL_INVALID', 'this store cannot be copied (not an SQL store)');
  const copy = new SqliteStore(file);
  try {
    await copyRows(source, copy);
  } catch (err) {
    await copy.close().catch(() => {});
    throw err;
  }
  return copy;
}

/** where a state is, for messages (a URL's password hidden) */
export function describeLocation(location: StoreLocation): string {
  return location.stateUrl !== undefined ? describeUrl(location.stateUrl) : join(location.stateDir, 'state.db');
}

/**
 * `idsync state migrate`: copies the state at `from` to `to` (a PostgreSQL URL, or the path of a SQLite
 * file), verified by counts and checksums (copy.ts); refuses a target holding a state unless `force`. The
 * SCIM tokens, agents and admin accounts go with it (records/copy.ts): into the target database, or into
 * files beside the target file (tokens.db, agents.db, accounts.db; left alone when those are the source's).
 */
export async function migrateState(from: StoreLocation, to: string, options: { force?: boolean } = {}): Promise<CopyReport & { from: string; to: string }> {
  const target: StoreLocation = POSTGRES_URL.test(to) ? { stateDir: '', stateUrl: to } : { stateDir: '', stateUrl: undefined };
  const targetFile = target.stateUrl === undefined ? resolve(to) : undefined;
  const names = { from: describeLocation(from), to: targetFile ?? describeUrl(to) };
  if (targetFile !== undefined && from.stateUrl === undefined && resolve(join(from.stateDir, 'state.db')) === targetFile) {
    throw new StoreError('STATE_URL_INVALID', `${targetFile} is the state itself: name another file or a PostgreSQL URL`);
  }
  // tokens, agents and accounts go with the state: beside a SQLite target file, or in the target database
  const records: StoreLocation = targetFile !== undefined ? { stateDir: dirname(targetFile) } : target;
  if (!options.force) {
    const filled = await filledRecordTables(records, from);
    if (filled.length > 0) {
      throw new StoreError(
        'STATE_TARGET_NOT_EMPTY',
        `${names.to} holds a state already (rows in ${filled.join(', ')}): give --force to replace it, or name an empty database`,
      );
    }
  }
  const source = await openSqlStore(from);
  let report: CopyReport;
  try {
    const destination = targetFile !== undefined ? new SqliteStore(targetFile) : await openSqlStore(target);
    try {
      report = await copyState(source, destination, { force: options.force ?? false, ...names });
    } finally {
      await destination.close();
    }
  } finally {
    await source.close();
  }
  const started = Date.now();
  const tables = await copyRecords(from, records, names);
  return {
    tables: [...report.tables, ...tables],
    rows: report.rows + tables.reduce((n, t) => n + t.rows, 0),
    durationMs: report.durationMs + (Date.now() - started),
    ...names,
  };
}
