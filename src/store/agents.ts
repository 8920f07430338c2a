/**
 * Registered agents and their one-time registration tokens: in SQLite agents.db beside state.db (apart from
 * it for the same reason as tokens.db: `idsync agents token` and `revoke` must not wait for a long cycle), in
 * PostgreSQL tables of the state's database (records/). A
 * registration token is stored as a SHA-256 only and is consumed by the registration that uses it; an agent
 * is stored as its public key (a JWK) and the key's thumbprint; its private key never leaves its machine.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AgentCode } from '../agent/errors.js';
import { IdsyncError } from '../core/errors.js';
import { SIMPLE_NAME, SIMPLE_NAME_RULE } from './private-db.js';
import type { RecordComponent, RecordDb } from './records/db.js';
import { openRecordDb, type RecordLocation } from './records/open.js';
import { SqliteRecordDb } from './records/sqlite.js';
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

const AGENT_COLUMNS = [
  'id',
  'grp',
  'host',
  'version',
  'thumbprint',
  'public_key',
  'registered',
  'last_seen',
  'connected_since',
  'revoked',
];

export const AGENTS_COMPONENT: RecordComponent = {
  name: 'agents',
  sqlite: (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS registration_tokens (hash BLOB PRIMARY KEY, grp TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, grp TEXT NOT NULL, host TEXT NOT NULL, version TEXT NOT NULL,
        thumbprint TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, registered TEXT NOT NULL, last_seen TEXT, revoked TEXT);
      CREATE TABLE IF NOT EXISTS used_credentials (jti TEXT PRIMARY KEY, until INTEGER NOT NULL);
    `);
    // agents.db files made before the channel existed lack the connection column
    if (!db.columns('agents').includes('connected_since'))
      db.exec('ALTER TABLE agents ADD COLUMN connected_since TEXT');
  },
  postgres: [
    `CREATE TABLE registration_tokens (hash BYTEA PRIMARY KEY, grp TEXT COLLATE "C" NOT NULL, created TEXT NOT NULL, expires TEXT COLLATE "C" NOT NULL);
     CREATE TABLE agents (id TEXT COLLATE "C" PRIMARY KEY, grp TEXT COLLATE "C" NOT NULL, host TEXT NOT NULL, version TEXT NOT NULL,
       thumbprint TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, registered TEXT COLLATE "C" NOT NULL, last_seen TEXT, revoked TEXT,
       connected_since TEXT);
     CREATE TABLE used_credentials (jti TEXT COLLATE "C" PRIMARY KEY, until BIGINT NOT NULL);`,
  ],
  tables: [
    { name: 'registration_tokens', columns: ['hash', 'grp', 'created', 'expires'], key: ['hash'] },
    { name: 'agents', columns: AGENT_COLUMNS, key: ['id'] },
    { name: 'used_credentials', columns: ['jti', 'until'], key: ['jti'] },
  ],
};

const SQL = {
  insertToken: 'INSERT INTO registration_tokens (hash, grp, created, expires) VALUES (?, ?, ?, ?)',
  // consumed by one statement: of two registrations racing with one token (on any node), one gets the row
  takeToken: 'DELETE FROM registration_tokens WHERE hash = ? RETURNING grp, expires',
  tokenByHash: 'SELECT grp, expires FROM registration_tokens WHERE hash = ?',
  removeExpired: 'DELETE FROM registration_tokens WHERE expires <= ?',
  insertAgent:
    'INSERT INTO agents (id, grp, host, version, thumbprint, public_key, registered) VALUES (?, ?, ?, ?, ?, ?, ?)',
  byThumbprint: 'SELECT id FROM agents WHERE thumbprint = ?',
  byId: `SELECT ${AGENT_COLUMNS.join(', ')} FROM agents WHERE id = ?`,
  list: `SELECT ${AGENT_COLUMNS.join(', ')} FROM agents ORDER BY grp, registered, id`,
  revoke: 'UPDATE agents SET revoked = ? WHERE id = ? AND revoked IS NULL',
  seen: 'UPDATE agents SET last_seen = ?, version = ? WHERE id = ?',
  connected: 'UPDATE agents SET last_seen = ?, connected_since = ?, version = ?, host = ? WHERE id = ?',
  disconnected: 'UPDATE agents SET connected_since = NULL, last_seen = ? WHERE id = ?',
  disconnectAll: 'UPDATE agents SET connected_since = NULL WHERE connected_since IS NOT NULL',
  useCredential: 'INSERT INTO used_credentials (jti, until) VALUES (?, ?) ON CONFLICT DO NOTHING',
  pruneCredentials: 'DELETE FROM used_credentials WHERE until < ?',
};

export class AgentStore {
  constructor(private readonly db: RecordDb) {}

  /** The store of the state at `location`: agents.db in its folder, or its PostgreSQL database. */
  static async open(location: RecordLocation): Promise<AgentStore> {
    return new AgentStore(await openRecordDb(location, AGENTS_COMPONENT));
  }

  /** A store in a SQLite file of its own. */
  static file(path: string): AgentStore {
    return new AgentStore(SqliteRecordDb.open(path, AGENTS_COMPONENT));
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Makes a one-time registration token for `group`, valid `ttlMs`, and returns its text (the only time it exists). */
  async createToken(
    group: string,
    ttlMs: number,
    now = new Date(),
  ): Promise<{ token: string; expires: string }> {
    if (!SIMPLE_NAME.test(group)) {
      throw new AgentStoreError(
        'AGENT_GROUP_INVALID',
        `agent group ${JSON.stringify(group)}: ${SIMPLE_NAME_RULE}`,
      );
    }
    const token = PREFIX + randomBytes(32).toString('base64url');
    const expires = new Date(now.getTime() + ttlMs).toISOString();
    await this.db.exec.run(SQL.removeExpired, [now.toISOString()]);
    await this.db.exec.run(SQL.insertToken, [hashToken(token), group, now.toISOString(), expires]);
    return { token, expires };
  }

  /**
   * Registers an agent with the token it was given: the token is consumed in the transaction that records
   * the agent, so two registrations racing with one token make one agent. Throws AGENT_TOKEN_INVALID
   * (unknown or used), AGENT_TOKEN_EXPIRED, or AGENT_PROOF_INVALID for a key registered already (the token
   * stays usable then).
   */
  async register(
    token: string,
    agent: { host: string; version: string; thumbprint: string; publicKey: string },
    now = new Date(),
  ): Promise<AgentRecord> {
    const hash = hashToken(token);
    const id = `agent-${randomUUID().slice(0, 8)}`;
    await this.db.transaction(async (tx) => {
      const row = await tx.get<{ grp: string; expires: string }>(SQL.tokenByHash, [hash]);
      if (!row) throw invalidToken();
      if (row.expires <= now.toISOString()) {
        throw new AgentStoreError(
          'AGENT_TOKEN_EXPIRED',
          `the registration token expired at ${row.expires}: make a new one on the service with \`idsync agents token ${row.grp}\``,
        );
      }
      if (await tx.get(SQL.byThumbprint, [agent.thumbprint])) {
        throw new AgentStoreError(
          'AGENT_PROOF_INVALID',
          'this key is already registered: each agent makes its own key',
        );
      }
      // another node's registration may have taken the token since it was read
      if (!(await tx.get(SQL.takeToken, [hash]))) throw invalidToken();
      await tx.run(SQL.insertAgent, [
        id,
        row.grp,
        agent.host,
        agent.version,
        agent.thumbprint,
        agent.publicKey,
        now.toISOString(),
      ]);
    });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<AgentRecord | undefined> {
    const row = await this.db.exec.get<AgentRow>(SQL.byId, [id]);
    return row && toRecord(row);
  }

  async list(): Promise<AgentRecord[]> {
    return (await this.db.exec.all<AgentRow>(SQL.list)).map(toRecord);
  }

  /** true when the agent existed and was not revoked yet */
  async revoke(id: string, now = new Date()): Promise<boolean> {
    if (!(await this.get(id)))
      throw new AgentStoreError('AGENT_UNKNOWN', `no agent ${id}: see \`idsync agents list\``);
    return (await this.db.exec.run(SQL.revoke, [now.toISOString(), id])) > 0;
  }

  /** Records that the agent is alive (a heartbeat), with the version it reported. */
  async seen(id: string, version: string, now = new Date()): Promise<void> {
    await this.db.exec.run(SQL.seen, [now.toISOString(), version, id]);
  }

  /** Records a new connection of the agent: connected since now, with the version and host it reported. */
  async connected(id: string, version: string, host: string, now = new Date()): Promise<void> {
    await this.db.exec.run(SQL.connected, [now.toISOString(), now.toISOString(), version, host, id]);
  }

  async disconnected(id: string, now = new Date()): Promise<void> {
    await this.db.exec.run(SQL.disconnected, [now.toISOString(), id]);
  }

  /** At the service's start: no connection outlives the process that held it. */
  async disconnectAll(): Promise<void> {
    await this.db.exec.run(SQL.disconnectAll);
  }

  /**
   * Records a connection credential's id as used until `until` (seconds since the epoch); false when it was
   * used already (a replay). Kept in the database, so a replay is refused after a restart of the service
   * too, and on another node.
   */
  async useCredential(jti: string, until: number, now = new Date()): Promise<boolean> {
    await this.db.exec.run(SQL.pruneCredentials, [Math.floor(now.getTime() / 1000)]);
    return (await this.db.exec.run(SQL.useCredential, [jti, until])) > 0;
  }
}

function invalidToken(): AgentStoreError {
  return new AgentStoreError(
    'AGENT_TOKEN_INVALID',
    'the registration token is unknown or was already used: make a new one on the service with `idsync agents token GROUP`',
  );
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
