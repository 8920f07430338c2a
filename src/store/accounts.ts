/**
 * Admin API accounts, their API tokens and the audit log, in accounts.db beside state.db (apart from it for
 * the same reason as tokens.db: `idsync admin create` must not wait for a long cycle). A password is stored
 * as the scrypt hash the caller made (directory/password.ts); an API token as a SHA-256 only, shown once.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { IdsyncError } from '../core/errors.js';
import { openPrivateDatabase, SIMPLE_NAME, SIMPLE_NAME_RULE } from './private-db.js';
import { hashToken } from './tokens.js';

/** Each role may do what the ones before it may. */
export const ROLES = ['reader', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** API tokens start with this: a leaked one is recognisable, and told apart from SCIM and agent tokens. */
export const API_TOKEN_PREFIX = 'idsync_api_';

export interface AccountRecord {
  name: string;
  role: Role;
  created: string;
}

export interface ApiTokenRecord {
  name: string;
  role: Role;
  created: string;
  lastUsed?: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  /** "account NAME", "token NAME", or the username a failed login gave */
  actor: string;
  /** what was asked: the route's id ("connectors.approve") or "session.login" */
  action: string;
  /** what it was about (a connector, an account, an object), when it names one */
  target: string | null;
  /** "ok", or the error code */
  result: string;
  /** the HTTP status answered */
  status: number;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  /** entries with an id below this (paging back) */
  before?: number;
  limit: number;
}

export class AccountStoreError extends IdsyncError {}

export class AccountStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    this.db = openPrivateDatabase(path);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY COLLATE NOCASE, role TEXT NOT NULL, hash TEXT NOT NULL, created TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS api_tokens (name TEXT PRIMARY KEY, role TEXT NOT NULL, hash BLOB NOT NULL UNIQUE, created TEXT NOT NULL, last_used TEXT);
      CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT, result TEXT NOT NULL, status INTEGER NOT NULL);
    `);
    this.stmts = {
      insertAccount: this.db.prepare('INSERT INTO accounts (name, role, hash, created) VALUES (?, ?, ?, ?)'),
      account: this.db.prepare('SELECT name, role, hash, created FROM accounts WHERE name = ?'),
      accounts: this.db.prepare('SELECT name, role, created FROM accounts ORDER BY name'),
      removeAccount: this.db.prepare('DELETE FROM accounts WHERE name = ?'),
      setPassword: this.db.prepare('UPDATE accounts SET hash = ? WHERE name = ?'),
      setRole: this.db.prepare('UPDATE accounts SET role = ? WHERE name = ?'),
      admins: this.db.prepare("SELECT count(*) AS n FROM accounts WHERE role = 'admin'"),
      insertToken: this.db.prepare('INSERT INTO api_tokens (name, role, hash, created) VALUES (?, ?, ?, ?)'),
      tokenByHash: this.db.prepare('SELECT name, role, created, last_used FROM api_tokens WHERE hash = ?'),
      tokens: this.db.prepare('SELECT name, role, created, last_used FROM api_tokens ORDER BY name'),
      removeToken: this.db.prepare('DELETE FROM api_tokens WHERE name = ?'),
      tokenUsed: this.db.prepare('UPDATE api_tokens SET last_used = ? WHERE name = ?'),
      audit: this.db.prepare('INSERT INTO audit (at, actor, action, target, result, status) VALUES (?, ?, ?, ?, ?, ?)'),
    };
  }

  close(): void {
    this.db.close();
  }

  /** `hash`: the password's scrypt hash (directory/password.ts) */
  createAccount(name: string, role: Role, hash: string, now = new Date()): AccountRecord {
    if (!SIMPLE_NAME.test(name)) throw new AccountStoreError('ACCOUNT_NAME_INVALID', `account name ${JSON.stringify(name)}: ${SIMPLE_NAME_RULE}`);
    checkRole(role);
    try {
      this.stmts.insertAccount.run(name, role, hash, now.toISOString());
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT')) {
        throw new AccountStoreError('ACCOUNT_EXISTS', `an account named ${name} exists: delete it first (idsync admin delete ${name})`);
      }
      throw err;
    }
    return { name, role, created: now.toISOString() };
  }

  /** The account with its password hash (for login only). */
  accountWithHash(name: string): (AccountRecord & { hash: string }) | undefined {
    return this.stmts.account.get(name) as (AccountRecord & { hash: string }) | undefined;
  }

  account(name: string): AccountRecord | undefined {
    const row = this.accountWithHash(name);
    return row && { name: row.name, role: row.role, created: row.created };
  }

  accounts(): AccountRecord[] {
    return this.stmts.accounts.all() as AccountRecord[];
  }

  /** Removes an account; the last admin stays (someone must be able to manage the others). */
  deleteAccount(name: string): void {
    this.db.transaction(() => {
      const a = this.account(name);
      if (!a) throw new AccountStoreError('ACCOUNT_UNKNOWN', `no account named ${name}`);
      if (a.role === 'admin' && this.adminCount() === 1) {
        throw new AccountStoreError('ACCOUNT_LAST_ADMIN', `${name} is the last admin account: create another admin first`);
      }
      this.stmts.removeAccount.run(name);
    })();
  }

  setPassword(name: string, hash: string): void {
    if (this.stmts.setPassword.run(hash, name).changes === 0) throw new AccountStoreError('ACCOUNT_UNKNOWN', `no account named ${name}`);
  }

  setRole(name: string, role: Role): void {
    checkRole(role);
    this.db.transaction(() => {
      const a = this.account(name);
      if (!a) throw new AccountStoreError('ACCOUNT_UNKNOWN', `no account named ${name}`);
      if (a.role === 'admin' && role !== 'admin' && this.adminCount() === 1) {
        throw new AccountStoreError('ACCOUNT_LAST_ADMIN', `${name} is the last admin account: make another admin first`);
      }
      this.stmts.setRole.run(role, name);
    })();
  }

  adminCount(): number {
    return (this.stmts.admins.get() as { n: number }).n;
  }

  /** Makes an API token with a role and returns its text: the only time it exists outside the caller's hands. */
  createToken(name: string, role: Role, now = new Date()): string {
    if (!SIMPLE_NAME.test(name)) throw new AccountStoreError('TOKEN_NAME_INVALID', `token name ${JSON.stringify(name)}: ${SIMPLE_NAME_RULE}`);
    checkRole(role);
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    try {
      this.stmts.insertToken.run(name, role, hashToken(token), now.toISOString());
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CONSTRAINT')) {
        throw new AccountStoreError('TOKEN_EXISTS', `an API token named ${name} exists: revoke it first (idsync token revoke ${name})`);
      }
      throw err;
    }
    return token;
  }

  /** The token's record, when the text is one of ours (looked up by its SHA-256: a hash of 256 random bits). */
  verifyToken(token: string, now = new Date()): ApiTokenRecord | undefined {
    if (!token.startsWith(API_TOKEN_PREFIX)) return undefined;
    const row = this.stmts.tokenByHash.get(hashToken(token)) as TokenRow | undefined;
    if (!row) return undefined;
    // at most once a minute: a busy script does not write on every call
    if (!row.last_used || Date.parse(row.last_used) < now.getTime() - 60_000) this.stmts.tokenUsed.run(now.toISOString(), row.name);
    return tokenRecord(row);
  }

  tokens(): ApiTokenRecord[] {
    return (this.stmts.tokens.all() as TokenRow[]).map(tokenRecord);
  }

  /** true when a token of that name existed */
  revokeToken(name: string): boolean {
    return this.stmts.removeToken.run(name).changes > 0;
  }

  audit(entry: Omit<AuditEntry, 'id' | 'at'>, now = new Date()): void {
    this.stmts.audit.run(now.toISOString(), entry.actor, entry.action, entry.target, entry.result, entry.status);
  }

  /** Newest first. */
  auditEntries(q: AuditQuery): AuditEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    for (const [sql, value] of [['actor = ?', q.actor], ['action = ?', q.action], ['id < ?', q.before]] as const) {
      if (value === undefined) continue;
      where.push(sql);
      args.push(value);
    }
    const sql = `SELECT id, at, actor, action, target, result, status FROM audit${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, q.limit) as AuditEntry[];
  }
}

interface TokenRow {
  name: string;
  role: Role;
  created: string;
  last_used: string | null;
}

function tokenRecord(row: TokenRow): ApiTokenRecord {
  return { name: row.name, role: row.role, created: row.created, ...(row.last_used !== null && { lastUsed: row.last_used }) };
}

function checkRole(role: string): asserts role is Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new AccountStoreError('ACCOUNT_ROLE_INVALID', `role ${JSON.stringify(role)}: use ${ROLES.join(', ')}`);
  }
}
