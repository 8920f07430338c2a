/**
 * The embedded store: one SQLite file in WAL mode (better-sqlite3). The statements and the logic are the
 * shared ones (sql/store.ts); here: the file, its tuning, DDL and migrations, the lease and transactions.
 * Calls are synchronous underneath, wrapped in promises to honour the Store interface.
 */
import Database from 'better-sqlite3';
import { preparePrivateFile } from '../core/files.js';
import { type Attributes, decodeAttributes } from '../core/values.js';
import { schemaTooNew } from './errors.js';
import { type LeaseHolder, type LeaseRow, leaseHolderOf } from './lease.js';
import { sqliteDialect } from './sql/dialect.js';
import type { DeferringExecutor, Param } from './sql/executor.js';
import type { CsRow } from './sql/rows.js';
import { SqlStore } from './sql/store.js';
import { SCHEMA_VERSION as VERSION } from './sql/version.js';
import { WriteBehind } from './sql/write-behind.js';
import type { CsObject } from './types.js';

const SCHEMA_VERSION = String(VERSION);

const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS watermarks (connector TEXT PRIMARY KEY, watermark TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS cs (
  id INTEGER PRIMARY KEY,
  connector TEXT NOT NULL,
  object_type TEXT NOT NULL,
  anchor TEXT,
  name TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',
  present INTEGER NOT NULL DEFAULT 1,
  mv_id TEXT,
  seen_gen INTEGER NOT NULL DEFAULT 0, -- unused since full imports keep what they saw in memory
  dirty INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS cs_anchor ON cs(connector, anchor);
-- Covering too: inbound sync resolves every reference by name to the metaverse id its object is linked to.
DROP INDEX IF EXISTS cs_name;
CREATE INDEX IF NOT EXISTS cs_name_link ON cs(connector, name, mv_id);
-- Covering: resolving a reference to the target object linked to a metaverse object reads only the index.
DROP INDEX IF EXISTS cs_mv;
CREATE INDEX IF NOT EXISTS cs_link ON cs(mv_id, connector, present, anchor, name);
CREATE INDEX IF NOT EXISTS cs_dirty ON cs(id) WHERE dirty = 1;
-- References are keyed by their target (the question asked is "who references X?"): one B-tree and one
-- index per reference written, not a rowid table and two indexes. A group of 50 members writes 50 of them.
CREATE TABLE IF NOT EXISTS cs_refs (
  target TEXT NOT NULL, cs_id INTEGER NOT NULL, connector TEXT NOT NULL, PRIMARY KEY (target, cs_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cs_refs_source ON cs_refs(cs_id);
CREATE TABLE IF NOT EXISTS cs_index (
  connector TEXT NOT NULL, attr TEXT NOT NULL, key TEXT NOT NULL, cs_id INTEGER NOT NULL, PRIMARY KEY (connector, attr, key, cs_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cs_index_source ON cs_index(cs_id);
CREATE TABLE IF NOT EXISTS mv (
  id TEXT PRIMARY KEY,
  object_type TEXT NOT NULL,
  attributes TEXT NOT NULL DEFAULT '{}',
  deleted INTEGER NOT NULL DEFAULT 0,
  dirty INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mv_dirty ON mv(id) WHERE dirty = 1;
CREATE TABLE IF NOT EXISTS mv_index (
  object_type TEXT NOT NULL, attr TEXT NOT NULL, key TEXT NOT NULL, mv_id TEXT NOT NULL, PRIMARY KEY (object_type, attr, key, mv_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mv_index_source ON mv_index(mv_id);
CREATE TABLE IF NOT EXISTS mv_refs (target TEXT NOT NULL, mv_id TEXT NOT NULL, PRIMARY KEY (target, mv_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mv_refs_source ON mv_refs(mv_id);
CREATE TABLE IF NOT EXISTS pending (
  cs_id INTEGER PRIMARY KEY,
  connector TEXT NOT NULL,
  op TEXT NOT NULL,
  desired TEXT NOT NULL,
  create_only TEXT NOT NULL DEFAULT '[]',
  desired_name TEXT,
  rule TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  not_before INTEGER NOT NULL DEFAULT 0,
  rank INTEGER NOT NULL DEFAULT 2,
  disable INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pending_order ON pending(connector, rank, cs_id);
CREATE TABLE IF NOT EXISTS object_errors (
  connector TEXT NOT NULL, key TEXT NOT NULL, phase TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
  location TEXT, remote_code TEXT, attribute TEXT, attempts INTEGER NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL,
  PRIMARY KEY (connector, key)
);
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, at TEXT NOT NULL, connector TEXT NOT NULL, object TEXT NOT NULL,
  cs_id INTEGER, mv_id TEXT, phase TEXT NOT NULL, situation TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL,
  steps TEXT NOT NULL, changes TEXT NOT NULL, error TEXT, name TEXT, names TEXT
);
-- No index on object: the query by object also matches the object's metaverse links (an OR no single index
-- serves), so it scans; an index there only cost a random insert per entry (a second in a 100,000 load).
DROP INDEX IF EXISTS log_object;
CREATE INDEX IF NOT EXISTS log_at ON log(at);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, stats TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS approvals (connector TEXT PRIMARY KEY, at TEXT NOT NULL);
-- the cycle lease (lease.ts): at most one row
CREATE TABLE IF NOT EXISTS lease (
  id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
  command TEXT NOT NULL, since TEXT NOT NULL, renewed TEXT NOT NULL, process_start TEXT
);
`;

function toCsLink(row: Omit<CsRow, 'attributes'>, load: (id: number) => string): CsObject {
  let json: string | undefined;
  let decoded: Attributes | undefined;
  return {
    id: row.id,
    connector: row.connector,
    objectType: row.object_type,
    anchor: row.anchor,
    name: row.name,
    get attributes() {
      json ??= load(row.id);
      decoded ??= decodeAttributes(json);
      return decoded;
    },
    present: row.present === 1,
    mvId: row.mv_id,
    get hash() {
      json ??= load(row.id);
      return json;
    },
  };
}

/**
 * better-sqlite3 behind the Executor interface: statements prepared once per text. Deferred writes go out,
 * synchronously, before any statement is handed out.
 */
export class SqliteExecutor implements DeferringExecutor {
  private readonly prepared = new Map<string, Database.Statement>();
  readonly deferred = new WriteBehind();
  constructor(private readonly db: Database.Database) {}

  /** sends the deferred writes: each kind's prepared statement once per row */
  flushNow(): void {
    for (const [kind, rows] of this.deferred.take()) {
      const stmt = this.statement(kind.sql);
      for (const row of rows) stmt.run(...row);
    }
  }

  async flush(): Promise<void> {
    this.flushNow();
  }

  statement(sql: string): Database.Statement {
    if (this.deferred.size > 0) this.flushNow();
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  async all<Row>(sql: string, params: Param[] = []): Promise<Row[]> {
    return this.statement(sql).all(...params) as Row[];
  }

  async get<Row>(sql: string, params: Param[] = []): Promise<Row | undefined> {
    return this.statement(sql).get(...params) as Row | undefined;
  }

  async run(sql: string, params: Param[] = []): Promise<number> {
    return this.statement(sql).run(...params).changes;
  }

  // the last rowid, not RETURNING: an INSERT … RETURNING costs SQLite several times a plain one
  async insert(sql: string, params: Param[] = []): Promise<number> {
    return Number(this.statement(sql).run(...params).lastInsertRowid);
  }
}

export class SqliteStore extends SqlStore {
  private readonly file: Database.Database;
  private readonly exec: SqliteExecutor;
  private depth = 0;

  constructor(path: string) {
    preparePrivateFile(path, { stateFolder: true });
    const db = new Database(path);
    // 16 KB pages (a new file only; an existing one keeps its size): a commit writes each dirty page as a WAL
    // frame of two write calls, and a 100,000-object load wrote ~300,000 frames of 4 KB. With 16 KB pages
    // the initial cycle took ~6 % less time (23.8 s against 25.4 s, alternating runs); a 1,000-change cycle
    // writes a little more (+0.1 s).
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash (the case that matters here); only an OS crash can lose the
    // last transactions, and then the watermark is lost with them, so the next import simply re-reads.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('cache_size = -16000');
    // Checkpoint less often than every 1,000 pages: a full sync commits many large batches.
    db.pragma('wal_autocheckpoint = 10000');
    try {
      migrate(db, path);
    } catch (err) {
      db.close();
      throw err;
    }
    const exec = new SqliteExecutor(db);
    super(sqliteDialect, exec);
    this.file = db;
    this.exec = exec;
    const indexed = db.prepare("SELECT value FROM meta WHERE key = 'indexed'").get() as { value: string } | undefined;
    if (indexed) this.loadIndexed(JSON.parse(indexed.value));
  }

  async close(): Promise<void> {
    this.file.close();
  }

  async acquireLease(holder: LeaseHolder, gone: (current: LeaseHolder) => boolean): Promise<LeaseHolder | null> {
    // IMMEDIATE: the read and the write happen under the write lock, so two processes cannot both take it
    return this.file.transaction(() => {
      const row = this.file.prepare('SELECT * FROM lease WHERE id = 1').get() as LeaseRow | undefined;
      if (row) {
        const current = leaseHolderOf(row);
        if (current.owner !== holder.owner && !gone(current)) return current;
      }
      this.file
        .prepare('INSERT OR REPLACE INTO lease(id, owner, pid, host, command, since, renewed, process_start) VALUES (1, ?, ?, ?, ?, ?, ?, ?)')
        .run(holder.owner, holder.pid, holder.host, holder.command, holder.since, holder.renewed, holder.processStart);
      return null;
    }).immediate();
  }

  async renewLease(owner: string, at: string): Promise<boolean> {
    return this.file.prepare('UPDATE lease SET renewed = ? WHERE id = 1 AND owner = ?').run(at, owner).changes > 0;
  }

  async releaseLease(owner: string): Promise<void> {
    this.file.prepare('DELETE FROM lease WHERE id = 1 AND owner = ?').run(owner);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    // Nested calls join the outer transaction. The engine is the only writer and awaits each call, so no
    // other work interleaves between BEGIN and COMMIT.
    if (this.depth > 0) return fn();
    this.file.exec('BEGIN IMMEDIATE');
    this.depth++;
    try {
      const result = await fn();
      this.exec.flushNow();
      this.depth--;
      this.file.exec('COMMIT');
      return result;
    } catch (err) {
      this.depth--;
      this.exec.deferred.clear();
      if (this.file.inTransaction) this.file.exec('ROLLBACK');
      throw err;
    }
  }

  protected inTransaction(): boolean {
    return this.depth > 0;
  }

  override async csByMv(mvIds: string[], options: { attributes?: boolean } = {}): Promise<CsObject[]> {
    if (options.attributes !== false) return super.csByMv(mvIds, options);
    // The links only; attributes (the bulk of a row) are read if and when something asks for them.
    // read when asked, perhaps after more writes were deferred: through statement(), which sends them first
    const load = (id: number) => (this.exec.statement(this.sql.csAttributes).pluck().get(id) as string | undefined) ?? '{}';
    const links = this.exec.statement(this.sql.csLinksByMv).all(this.dialect.list(mvIds)) as Omit<CsRow, 'attributes'>[];
    return links.map((row) => toCsLink(row, load));
  }
}

/** Creates the schema or brings one an earlier version wrote up to this one; refuses one a newer version wrote. */
function migrate(db: Database.Database, path: string): void {
  db.transaction(() => {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    const stored = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined) : undefined;
    if (stored !== undefined && Number(stored) > Number(SCHEMA_VERSION)) throw schemaTooNew(path, Number(stored), Number(SCHEMA_VERSION));
    migrateReferenceTables(db);
    db.exec(DDL);
    // log entries name their object and its references (LogEntry.name, names)
    addMissingColumns(db, 'log', { name: 'TEXT', names: 'TEXT' });
    // disables told apart from other updates (the deletion threshold counts them)
    addMissingColumns(db, 'pending', { disable: 'INTEGER NOT NULL DEFAULT 0' });
    // Schema 3 put renames (rank 1) between creates without references and the rest: older ranks move up one.
    if (stored !== undefined && Number(stored) < 3) db.exec('UPDATE pending SET rank = rank + 1 WHERE rank >= 1');
    if (stored !== SCHEMA_VERSION) db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
  }).immediate();
}

/** Adds the columns (name → definition) a table made by an older idsync does not have yet. */
function addMissingColumns(db: Database.Database, table: string, columns: Record<string, string>): void {
  const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
  for (const [name, definition] of Object.entries(columns)) {
    if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
  }
}

/**
 * Schema 1 kept references and join indexes in rowid tables with an index on each column; schema 2 keys them
 * by what is looked up. References are copied over once, in the transaction that opens the file; the join
 * indexes are dropped and rebuilt by setIndexedAttributes (the engine calls it on opening).
 */
function migrateReferenceTables(db: Database.Database): void {
  const sql = (table: string) =>
    (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table) as string | undefined) ?? null;
  const old = (table: string) => {
    const text = sql(table);
    return text !== null && !/WITHOUT ROWID/i.test(text);
  };
  if (old('cs_refs')) {
    db.exec(`ALTER TABLE cs_refs RENAME TO cs_refs_v1;
      DROP INDEX IF EXISTS cs_refs_target; DROP INDEX IF EXISTS cs_refs_source;
      CREATE TABLE cs_refs (target TEXT NOT NULL, cs_id INTEGER NOT NULL, connector TEXT NOT NULL, PRIMARY KEY (target, cs_id)) WITHOUT ROWID;
      INSERT OR IGNORE INTO cs_refs(target, cs_id, connector) SELECT target, cs_id, connector FROM cs_refs_v1;
      DROP TABLE cs_refs_v1;`);
  }
  for (const table of ['cs_index', 'mv_index']) {
    if (!old(table)) continue;
    db.exec(`DROP TABLE ${table}; DELETE FROM meta WHERE key = 'indexed';`);
  }
  if (old('mv_refs')) {
    db.exec(`ALTER TABLE mv_refs RENAME TO mv_refs_v1;
      DROP INDEX IF EXISTS mv_refs_target; DROP INDEX IF EXISTS mv_refs_source;
      CREATE TABLE mv_refs (target TEXT NOT NULL, mv_id TEXT NOT NULL, PRIMARY KEY (target, mv_id)) WITHOUT ROWID;
      INSERT OR IGNORE INTO mv_refs(target, mv_id) SELECT target, mv_id FROM mv_refs_v1;
      DROP TABLE mv_refs_v1;`);
  }
}

