/**
 * Bearer tokens for `idsync serve`, in a small SQLite file of the state folder (tokens.db: apart from the
 * engine's state.db, so the CLI can create or revoke one while the service runs a long cycle). Only a SHA-256 of each token is stored: the token itself
 * is shown once, when it is made, and cannot be read back.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import { IdsyncError } from '../core/errors.js';
import { openPrivateDatabase, SIMPLE_NAME, SIMPLE_NAME_RULE } from './private-db.js';

export interface TokenRecord {
  name: string;
  /** the SCIM endpoint paths the token may use; empty: every endpoint */
  endpoints: string[];
  created: string;
}

/** The token text starts with this, so a leaked one is easy to recognise (secret scanners, logs). */
const PREFIX = 'idsync_';

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export class TokenStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    this.db = openPrivateDatabase(path);
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS api_tokens (name TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, endpoints TEXT NOT NULL, created TEXT NOT NULL)',
    );
    this.stmts = {
      insert: this.db.prepare('INSERT INTO api_tokens (name, hash, endpoints, created) VALUES (?, ?, ?, ?)'),
      remove: this.db.prepare('DELETE FROM api_tokens WHERE name = ?'),
      list: this.db.prepare('SELECT name, endpoints, created FROM api_tokens ORDER BY name'),
      byHash: this.db.prepare('SELECT name, hash, endpoints, created FROM api_tokens WHERE hash = ?'),
    };
  }

  close(): void {
    this.db.close();
  }

  /** Makes a token and returns its text: the only time it exists outside the caller's hands. */
  create(name: string, endpoints: string[] = []): string {
    if (!SIMPLE_NAME.test(name)) {
      throw new IdsyncError('TOKEN_NAME_INVALID', `token name ${JSON.stringify(name)}: ${SIMPLE_NAME_RULE}`);
    }
    const token = PREFIX + randomBytes(32).toString('base64url');
    try {
      this.stmts.insert.run(name, hashToken(token), JSON.stringify(endpoints), new Date().toISOString());
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT')) {
        throw new IdsyncError(
          'TOKEN_EXISTS',
          `a token named ${name} exists: revoke it first (idsync token revoke ${name})`,
        );
      }
      throw err;
    }
    return token;
  }

  /** true when a token of that name existed */
  revoke(name: string): boolean {
    return this.stmts.remove.run(name).changes > 0;
  }

  list(): TokenRecord[] {
    return (this.stmts.list.all() as { name: string; endpoints: string; created: string }[]).map((r) => ({
      name: r.name,
      endpoints: JSON.parse(r.endpoints) as string[],
      created: r.created,
    }));
  }

  /** The record of the token whose hash this is, compared in constant time; undefined when none. */
  verify(token: string): TokenRecord | undefined {
    const hash = hashToken(token);
    const row = this.stmts.byHash.get(hash) as
      | { name: string; hash: Buffer; endpoints: string; created: string }
      | undefined;
    // The lookup is by an index on the hash; the comparison after it keeps the final check constant-time.
    if (!row || !timingSafeEqual(row.hash, hash)) return undefined;
    return { name: row.name, endpoints: JSON.parse(row.endpoints) as string[], created: row.created };
  }
}
