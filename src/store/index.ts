/**
 * The one place a store implementation is chosen: everything outside src/store/ opens the state through
 * openStore and sees only the Store interface (types.ts).
 */
import { join } from 'node:path';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** Where the state lives: `stateDir` always (the SQLite file, and the folder for files beside it). */
export interface StoreLocation {
  stateDir: string;
}

export async function openStore(location: StoreLocation): Promise<Store> {
  return new SqliteStore(join(location.stateDir, 'state.db'));
}
