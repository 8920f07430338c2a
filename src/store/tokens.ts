/**
 * Bearer tokens for `idsync serve`'s SCIM endpoints: in SQLite a small file of the state folder (tokens.db:
 * apart from the engine's state.db, so the CLI can create or revoke one while the service runs a long cycle),
 * in PostgreSQL a table of the state's database (records/). Only a SHA-256 of each token is stored: the token
 * itself is shown once, when it is made, and cannot be read back.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { IdsyncError } from '../core/errors.js';
import { SIMPLE_NAME, SIMPLE_NAME_RULE } from './private-db.js';
import { isUniqueViolation, type RecordComponent, type RecordDb } from './records/db.js';
import { openRecordDb, type RecordLocation } from './records/open.js';
import { SqliteRecordDb } from './records/sqlite.js';

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

const TOKENS = {
  name: 'api_tokens',
  pgName: 'scim_tokens',
  columns: ['name', 'hash', 'endpoints', 'created'],
  key: ['name'],
};

/** tokens.db's table keeps its first name; in PostgreSQL, beside the admin API's api_tokens, it is scim_tokens */
export const TOKENS_COMPONENT: RecordComponent = {
  name: 'tokens',
  sqlite: (db) =>
    db.exec(
      'CREATE TABLE IF NOT EXISTS api_tokens (name TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, endpoints TEXT NOT NULL, created TEXT NOT NULL)',
    ),
  postgres: [
    'CREATE TABLE scim_tokens (name TEXT COLLATE "C" PRIMARY KEY, hash BYTEA NOT NULL UNIQUE, endpoints TEXT NOT NULL, created TEXT NOT NULL)',
  ],
  tables: [TOKENS],
};

export class TokenStore {
  private readonly sql;

  constructor(private readonly db: RecordDb) {
    const t = db.table(TOKENS);
    this.sql = {
      insert: `INSERT INTO ${t} (name, hash, endpoints, created) VALUES (?, ?, ?, ?)`,
      remove: `DELETE FROM ${t} WHERE name = ?`,
      list: `SELECT name, endpoints, created FROM ${t} ORDER BY name`,
      byHash: `SELECT name, hash, endpoints, created FROM ${t} WHERE hash = ?`,
    };
  }

  /** The store of the state at `location`: tokens.db in its folder, or its PostgreSQL database. */
  static async open(location: RecordLocation): Promise<TokenStore> {
    return new TokenStore(await openRecordDb(location, TOKENS_COMPONENT));
  }

  /** A store in a SQLite file of its own (':memory:' for a test). */
  static file(path: string): TokenStore {
    return new TokenStore(SqliteRecordDb.open(path, TOKENS_COMPONENT));
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Makes a token and returns its text: the only time it exists outside the caller's hands. */
  async create(name: string, endpoints: string[] = []): Promise<string> {
    if (!SIMPLE_NAME.test(name)) {
      throw new IdsyncError('TOKEN_NAME_INVALID', `token name ${JSON.stringify(name)}: ${SIMPLE_NAME_RULE}`);
    }
    const token = PREFIX + randomBytes(32).toString('base64url');
    try {
      await this.db.exec.run(this.sql.insert, [
        name,
        hashToken(token),
        JSON.stringify(endpoints),
        new Date().toISOString(),
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) {
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
  async revoke(name: string): Promise<boolean> {
    return (await this.db.exec.run(this.sql.remove, [name])) > 0;
  }

  async list(): Promise<TokenRecord[]> {
    return (await this.db.exec.all<{ name: string; endpoints: string; created: string }>(this.sql.list)).map(
      (r) => ({
        name: r.name,
        endpoints: JSON.parse(r.endpoints) as string[],
        created: r.created,
      }),
    );
  }

  /** The record of the token whose hash this is, compared in constant time; undefined when none. */
  async verify(token: string): Promise<TokenRecord | undefined> {
    const hash = hashToken(token);
    const row = await this.db.exec.get<{ name: string; hash: Buffer; endpoints: string; created: string }>(
      this.sql.byHash,
      [hash],
    );
    // The lookup is by an index on the hash; the comparison after it keeps the final check constant-time.
    if (!row || !timingSafeEqual(row.hash, hash)) return undefined;
    return { name: row.name, endpoints: JSON.parse(row.endpoints) as string[], created: row.created };
  }
}
