/**
 * The one place a store implementation is chosen: everything outside src/store/ opens the state through
 * openStore and sees only the Store interface (types.ts). `state.url` (postgres://…) puts the state in
 * PostgreSQL; without it, SQLite in the state folder.
 */
import { join } from 'node:path';
import { StoreError } from './errors.js';
import { PostgresStore } from './postgres/store.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Where the state lives: `stateDir` always (the SQLite file, and the folder for files beside it), `stateUrl` for a database server. */
export interface StoreLocation {
  stateDir: string;
  stateUrl?: string | undefined;
}

export const POSTGRES_URL = /^postgres(ql)?:\/\//;

export async function openStore(location: StoreLocation): Promise<Store> {
  const url = location.stateUrl;
  if (url === undefined) return new SqliteStore(join(location.stateDir, 'state.db'));
  if (!POSTGRES_URL.test(url)) {
    throw new StoreError('STATE_URL_INVALID', 'state.url: give a PostgreSQL URL, postgres://user@host:5432/database (a password from the environment or a file, as in connector settings)');
  }
  return PostgresStore.open(url);
}
