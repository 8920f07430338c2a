/**
 * Registered agents and their one-time registration tokens, in agents.db beside state.db (apart from it for
 * the same reason as tokens.db: `idsync agents token` and `revoke` must not wait for a long cycle). A
 * registration token is stored as a SHA-256 only and is consumed by the registration that uses it; an agent
 * is stored as its public key (a JWK) and the key's thumbprint; its private key never leaves its machine.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { AgentCode } from '../agent/errors.js';
import { IdsyncError } from '../core/errors.js';
import { openPrivateDatabase, SIMPLE_NAME, SIMPLE_NAME_RULE } from './private-db.js';
import { hashToken } from './tokens.js';

/** Registration tokens start with this, so a leaked one is recognisable (and told apart from API tokens). */
const PREFIX = 'idsync_agentreg_';

export interface AgentRecord {
  id: string;
  group: string;
  /** the host name the agent reported at registration */
  host: string;
  /** idsync's version on the agent, as last reported */
  version: string;
  /** RFC 7638 thumbprint of the agent's public key */
  thumbprint: string;
  /** the public key as a JWK (JSON text) */
  publicKey: string;
  registered: string;
  /** when the agent last authenticated or answered a heartbeat; undefined: never since registration */
  lastSeen?: string;
  /** since when its current connection is up, as the service last recorded it (undefined: not connected) */
  connectedSince?: string;
  revoked?: string;
}

export class AgentStoreError extends IdsyncError {
  constructor(code: AgentCode, message: string) {
    super(code, message);
  }
}

interface AgentRow {
  id: string;
  grp: string;
  host: string;
  version: string;
  thumbprint: string;
  public_key: string;
  registered: string;
  last_seen: string | null;
  connected_since: string | null;
  revoked: string | null;
}

export class AgentStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    this.db = openPrivateDatabase(path);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS registration_tokens (hash BLOB PRIMARY KEY, grp TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, grp TEXT NOT NULL, host TEXT NOT NULL, version TEXT NOT NULL,
        thumbprint TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, registered TEXT NOT NULL, last_seen TEXT, revoked TEXT);
      CREATE TABLE IF NOT EXISTS used_credentials (jti TEXT PRIMARY KEY, until INTEGER NOT NULL);
    `);
    // agents.db files made before the channel existed lack the connection column
    const columns = (this.db.prepare('SELECT name FROM pragma_table_info(?)').all('agents') as { name: string }[]).map((c) => c.name);
    if (!columns.includes('connected_since')) this.db.exec('ALTER TABLE agents ADD COLUMN connected_since TEXT');
    this.stmts = {
      insertToken: this.db.prepare('INSERT INTO registration_tokens (hash, grp, created, expires) VALUES (?, ?, ?, ?)'),
      tokenByHash: this.db.prepare('SELECT grp, expires FROM registration_tokens WHERE hash = ?'),
      removeToken: this.db.prepare('DELETE FROM registration_tokens WHERE hash = ?'),
      removeExpired: this.db.prepare('DELETE FROM registration_tokens WHERE expires <= ?'),
      insertAgent: this.db.prepare(
        'INSERT INTO agents (id, grp, host, version, thumbprint, public_key, registered) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      byThumbprint: this.db.prepare('SELECT id FROM agents WHERE thumbprint = ?'),
      byId: this.db.prepare('SELECT * FROM agents WHERE id = ?'),
      list: this.db.prepare('SELECT * FROM agents ORDER BY grp, registered, id'),
      revoke: this.db.prepare('UPDATE agents SET revoked = ? WHERE id = ? AND revoked IS NULL'),
      seen: this.db.prepare('UPDATE agents SET last_seen = ?, version = ? WHERE id = ?'),
      connected: this.db.prepare('UPDATE agents SET last_seen = ?, connected_since = ?, version = ?, host = ? WHERE id = ?'),
      disconnected: this.db.prepare('UPDATE agents SET connected_since = NULL, last_seen = ? WHERE id = ?'),
      disconnectAll: this.db.prepare('UPDATE agents SET connected_since = NULL WHERE connected_since IS NOT NULL'),
      useCredential: this.db.prepare('INSERT OR IGNORE INTO used_credentials (jti, until) VALUES (?, ?)'),
      pruneCredentials: this.db.prepare('DELETE FROM used_credentials WHERE until < ?'),
    };
  }

  close(): void {
    this.db.close();
  }

  /** Makes a one-time registration token for `group`, valid `ttlMs`, and returns its text (the only time it exists). */
  createToken(group: string, ttlMs: number, now = new Date()): { token: string; expires: string } {
    if (!SIMPLE_NAME.test(group)) {
      throw new AgentStoreError('AGENT_GROUP_INVALID', `agent group ${JSON.stringify(group)}: ${SIMPLE_NAME_RULE}`);
    }
    const token = PREFIX + randomBytes(32).toString('base64url');
    const expires = new Date(now.getTime() + ttlMs).toISOString();
    this.stmts.removeExpired.run(now.toISOString());
    this.stmts.insertToken.run(hashToken(token), group, now.toISOString(), expires);
    return { token, expires };
  }

  /**
   * Registers an agent with the token it was given: the token is consumed in the same transaction that
   * records the agent, so two registrations racing with one token make one agent. Throws
   * AGENT_TOKEN_INVALID (unknown or used) or AGENT_TOKEN_EXPIRED.
   */
  register(
    token: string,
    agent: { host: string; version: string; thumbprint: string; publicKey: string },
    now = new Date(),
  ): AgentRecord {
    return this.db.transaction(() => {
      const hash = hashToken(token);
      const row = this.stmts.tokenByHash.get(hash) as { grp: string; expires: string } | undefined;
      if (!row) {
        throw new AgentStoreError(
          'AGENT_TOKEN_INVALID',
          'the registration token is unknown or was already used: make a new one on the service with `idsync agents token GROUP`',
        );
      }
      this.stmts.removeToken.run(hash);
      if (row.expires <= now.toISOString()) {
        throw new AgentStoreError(
          'AGENT_TOKEN_EXPIRED',
          `the registration token expired at ${row.expires}: make a new one on the service with \`idsync agents token ${row.grp}\``,
        );
      }
      if (this.stmts.byThumbprint.get(agent.thumbprint)) {
        throw new AgentStoreError('AGENT_PROOF_INVALID', 'this key is already registered: each agent makes its own key');
      }
      const id = `agent-${randomUUID().slice(0, 8)}`;
      this.stmts.insertAgent.run(id, row.grp, agent.host, agent.version, agent.thumbprint, agent.publicKey, now.toISOString());
      return this.get(id)!;
    })();
  }

  get(id: string): AgentRecord | undefined {
    const row = this.stmts.byId.get(id) as AgentRow | undefined;
    return row && toRecord(row);
  }

  list(): AgentRecord[] {
    return (this.stmts.list.all() as AgentRow[]).map(toRecord);
  }

  /** true when the agent existed and was not revoked yet */
  revoke(id: string, now = new Date()): boolean {
    if (!this.get(id)) throw new AgentStoreError('AGENT_UNKNOWN', `no agent ${id}: see \`idsync agents list\``);
    return this.stmts.revoke.run(now.toISOString(), id).changes > 0;
  }

  /** Records that the agent is alive (a heartbeat), with the version it reported. */
  seen(id: string, version: string, now = new Date()): void {
    this.stmts.seen.run(now.toISOString(), version, id);
  }

  /** Records a new connection of the agent: connected since now, with the version and host it reported. */
  connected(id: string, version: string, host: string, now = new Date()): void {
    this.stmts.connected.run(now.toISOString(), now.toISOString(), version, host, id);
  }

  disconnected(id: string, now = new Date()): void {
    this.stmts.disconnected.run(now.toISOString(), id);
  }

  /** At the service's start: no connection outlives the process that held it. */
  disconnectAll(): void {
    this.stmts.disconnectAll.run();
  }

  /**
   * Records a connection credential's id as used until `until` (seconds since the epoch); false when it was
   * used already (a replay). Kept in the file, so a replay is refused after a restart of the service too.
   */
  useCredential(jti: string, until: number, now = new Date()): boolean {
    this.stmts.pruneCredentials.run(Math.floor(now.getTime() / 1000));
    return this.stmts.useCredential.run(jti, until).changes > 0;
  }
}

function toRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    group: row.grp,
    host: row.host,
    version: row.version,
    thumbprint: row.thumbprint,
    publicKey: row.public_key,
    registered: row.registered,
    ...(row.last_seen !== null && { lastSeen: row.last_seen }),
    ...(row.connected_since !== null && { connectedSince: row.connected_since }),
    ...(row.revoked !== null && { revoked: row.revoked }),
  };
}

/** active: connected (the service heard from it within the last minute); inactive: registered, not connected */
export function agentState(
  a: { revoked?: string; connectedSince?: string; lastSeen?: string },
  now = Date.now(),
): 'revoked' | 'active' | 'inactive' {
  if (a.revoked) return 'revoked';
  if (a.connectedSince && a.lastSeen && now - Date.parse(a.lastSeen) < 60_000) return 'active';
  return 'inactive';
}
