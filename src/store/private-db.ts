/**
 * The small SQLite files beside state.db (tokens.db, agents.db): kept apart from it so the CLI can change
 * them while a long cycle holds state.db, private like the state folder, and waiting for another writer.
 */
import Database from 'better-sqlite3';
import { preparePrivateFile } from '../core/files.js';

export function openPrivateDatabase(path: string): Database.Database {
  preparePrivateFile(path, { stateFolder: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** What a token's or an agent group's name may be: short, and safe in a command line and a log. */
export const SIMPLE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const SIMPLE_NAME_RULE = 'use 1-64 letters, digits, dot, dash, underscore';
