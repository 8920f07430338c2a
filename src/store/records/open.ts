/**
 * Where a record component lives: its SQLite file in the state folder, or, when `state.url` names PostgreSQL,
 * the state's database (nothing is written to SQLite then).
 */
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import type { RecordComponent, RecordDb } from './db.js';
import { PostgresRecordDb } from './postgres.js';
import { SqliteRecordDb } from './sqlite.js';

export interface RecordLocation {
  stateDir: string;
  stateUrl?: string | undefined;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;

export function recordFile(location: RecordLocation, component: RecordComponent): string {
  return join(location.stateDir, `${component.name}.db`);
}

export async function openRecordDb(location: RecordLocation, component: RecordComponent): Promise<RecordDb> {
  const url = location.stateUrl;
  if (url === undefined) return SqliteRecordDb.open(recordFile(location, component), component);
  if (!POSTGRES_URL.test(url)) {
    throw new StoreError(
      'STATE_URL_INVALID',
      'state.url: give a PostgreSQL URL, postgres://user@host:5432/database (a password from the environment or a file, as in connector settings)',
    );
  }
  return PostgresRecordDb.open(url, component);
}
