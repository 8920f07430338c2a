/**
 * The embedded store: one SQLite file in WAL mode (better-sqlite3). Calls are synchronous underneath; they
 * are wrapped in promises to honour the Store interface, which a networked store implements too.
 */
import Database from 'better-sqlite3';
import { preparePrivateFile } from '../core/files.js';
import {
  type Attributes,
  decodeAttributes,
  encodeAttributes,
  isReference,
  referencedNames,
  type Value,
  valueKey,
} from '../core/values.js';
// Time-ordered ids (UUIDv7): metaverse inserts land at the right edge of every index keyed by metaverse id,
// instead of dirtying a random page of each per insert (at 100,000 objects, most of a commit's writes).
import { newId } from '../directory/ids.js';
import {
  type CsObject,
  type CsWrite,
  type SeenObjects,
  type LogEntry,
  type LogQuery,
  type MvObject,
  type ObjectError,
  type ObjectErrorInfo,
  EXPORT_RANK,
  type ExportOp,
  type PendingCursor,
  type PendingExport,
  type PendingState,
  type RunRecord,
  type RunStats,
  type Store,
  type StoredLogEntry,
} from './types.js';
import type { LeaseHolder } from './lease.js';
import { matchKey } from './match.js';

const SCHEMA_VERSION = '3';

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

interface LeaseRow {
  owner: string;
  pid: number;
  host: string;
  command: string;
  since: string;
  renewed: string;
  process_start: string | null;
}

interface CsRow {
  id: number;
  connector: string;
  object_type: string;
  anchor: string | null;
  name: string | null;
  attributes: string;
  present: number;
  mv_id: string | null;
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

/** What indexCs writes for these attributes (references if `refs`, and the values of `indexed`), as one string to compare. */
function csIndexKeys(indexed: Set<string> | undefined, refs: boolean, attributes: Attributes): string {
  const keys: string[] = [];
  for (const [attr, values] of Object.entries(attributes)) {
    const index = indexed?.has(attr);
    for (const v of values) {
      if (refs && isReference(v)) keys.push(`r${v.ref}`);
      if (index) keys.push(`i${attr}\0${matchKey(v)}`);
    }
  }
  return keys.sort().join('\n');
}

type MvRow = { id: string; object_type: string; attributes: string; deleted: number };

function toMv(row: MvRow): MvObject {
  return { id: row.id, objectType: row.object_type, attributes: decodeAttributes(row.attributes), deleted: row.deleted === 1 };
}

function toCs(row: CsRow): CsObject {
  // Most reads only need the link or the hash; attributes are decoded the first time they are read.
  let decoded: Attributes | undefined;
  return {
    id: row.id,
    connector: row.connector,
    objectType: row.object_type,
    anchor: row.anchor,
    name: row.name,
    get attributes() {
      decoded ??= decodeAttributes(row.attributes);
      return decoded;
    },
    present: row.present === 1,
    mvId: row.mv_id,
    hash: row.attributes,
  };
}

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

/** The text as it appears inside stored JSON (quotes and backslashes escaped), lower-cased like SQL's lower(). */
function searchNeedle(text: string): string {
  return JSON.stringify(text).slice(1, -1).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const CHUNK = 500;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function now(): string {
  return new Date().toISOString();
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<SqliteStore['prepare']>;
  private mvIndexed = new Set<string>();
  /** "connector\0objectType" (or "connector\0*": every type) → attributes indexed for outbound matching */
  private csIndexed = new Map<string, Set<string>>();
  /** connectors whose references are indexed (those inbound sync reads); null: every connector's */
  private refsIndexed: Set<string> | null = null;
  private depth = 0;

  constructor(path: string) {
    preparePrivateFile(path, { stateFolder: true });
    this.db = new Database(path);
    // 16 KB pages (a new file only; an existing one keeps its size): a commit writes each dirty page as a WAL
    // frame of two write calls, and a 100,000-object load wrote ~300,000 frames of 4 KB. With 16 KB pages
    // the initial cycle took ~6 % less time (23.8 s against 25.4 s, alternating runs); a 1,000-change cycle
    // writes a little more (+0.1 s).
    this.db.pragma('page_size = 16384');
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash (the case that matters here); only an OS crash can lose the
    // last transactions, and then the watermark is lost with them, so the next import simply re-reads.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('cache_size = -16000');
    // Checkpoint less often than every 1,000 pages: a full sync commits many large batches.
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.transaction(() => {
      migrateReferenceTables(this.db);
      this.db.exec(DDL);
      // log entries name their object and its references (LogEntry.name, names)
      addMissingColumns(this.db, 'log', { name: 'TEXT', names: 'TEXT' });
      // disables told apart from other updates (the deletion threshold counts them)
      addMissingColumns(this.db, 'pending', { disable: 'INTEGER NOT NULL DEFAULT 0' });
      const stored = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined;
      // Schema 3 put renames (rank 1) between creates without references and the rest: older ranks move up one.
      if (stored !== undefined && Number(stored) < 3) this.db.exec('UPDATE pending SET rank = rank + 1 WHERE rank >= 1');
      if (stored !== SCHEMA_VERSION) this.db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
    }).immediate();
    this.stmts = this.prepare();
    const indexed = this.db.prepare("SELECT value FROM meta WHERE key = 'indexed'").get() as { value: string } | undefined;
    if (indexed) this.loadIndexed(JSON.parse(indexed.value));
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      loggedNames: db.prepare('SELECT mv_id, COALESCE(name, object) AS name FROM log WHERE mv_id IN (SELECT value FROM json_each(?)) ORDER BY id'),
      // A search reads every row (no index serves "contains"): a command a person runs, not a cycle's work.
      csSearch: db.prepare(
        'SELECT * FROM cs WHERE id > ? AND (instr(lower(anchor), ?) > 0 OR instr(lower(name), ?) > 0 OR instr(lower(attributes), ?) > 0) ORDER BY id LIMIT ?',
      ),
      mvSearch: db.prepare('SELECT * FROM mv WHERE id > ? AND (instr(lower(id), ?) > 0 OR instr(lower(attributes), ?) > 0) ORDER BY id LIMIT ?'),
      setMeta: db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      delMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
      getWm: db.prepare('SELECT watermark FROM watermarks WHERE connector = ?'),
      setWm: db.prepare(
        'INSERT INTO watermarks(connector, watermark, updated_at) VALUES (?, ?, ?) ON CONFLICT(connector) DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at',
      ),
      insertCs: db.prepare(
        'INSERT INTO cs(connector, object_type, anchor, name, attributes, present, dirty) VALUES (?, ?, ?, ?, ?, 1, 1)',
      ),
      updateCs: db.prepare(
        'UPDATE cs SET object_type = ?, anchor = ?, name = ?, attributes = ?, present = 1, dirty = 1 WHERE id = ?',
      ),
      // SQLite rewrites an index entry whenever its column is assigned, even to the same value: an update that
      // changes only attributes assigns only them (a 1,000-change cycle wrote half its WAL into cs's indexes).
      updateCsAttributes: db.prepare('UPDATE cs SET attributes = ?, dirty = 1 WHERE id = ?'),
      csById: db.prepare('SELECT * FROM cs WHERE id = ?'),
      csIndexState: db.prepare('SELECT connector, object_type, anchor, name, present, attributes FROM cs WHERE id = ?'),
      namesToMv: db.prepare(
        'SELECT name AS key, mv_id FROM cs WHERE connector = ? AND name IN (SELECT value FROM json_each(?))',
      ),
      anchorsToMv: db.prepare(
        'SELECT anchor AS key, mv_id FROM cs WHERE connector = ? AND anchor IN (SELECT value FROM json_each(?))',
      ),
      // the planner would rather use (connector, name) and scan the connector's rows
      linksIn: db.prepare(
        'SELECT mv_id, present, anchor, name FROM cs INDEXED BY cs_link WHERE mv_id IN (SELECT value FROM json_each(?)) AND connector = ?',
      ),
      csByAnchor: db.prepare('SELECT * FROM cs WHERE connector = ? AND anchor = ?'),
      csByName: db.prepare('SELECT * FROM cs WHERE connector = ? AND name = ?'),
      csByMv: db.prepare('SELECT * FROM cs WHERE mv_id = ?'),
      csLinksByMv: db.prepare(
        'SELECT id, connector, object_type, anchor, name, present, mv_id FROM cs WHERE mv_id IN (SELECT value FROM json_each(?))',
      ),
      csAttributes: db.prepare('SELECT attributes FROM cs WHERE id = ?').pluck(),
      imported: db.prepare('SELECT id, anchor FROM cs WHERE connector = ? AND present = 1 AND anchor IS NOT NULL'),
      anyImported: db.prepare('SELECT 1 FROM cs WHERE connector = ? AND present = 1 AND anchor IS NOT NULL LIMIT 1').pluck(),
      gone: db.prepare('UPDATE cs SET present = 0, dirty = 1 WHERE id IN (SELECT value FROM json_each(?))'),
      placeholder: db.prepare(
        'INSERT INTO cs(connector, object_type, anchor, name, attributes, present, mv_id, dirty) VALUES (?, ?, NULL, NULL, ?, 0, ?, 0)',
      ),
      confirm: db.prepare(
        'UPDATE cs SET anchor = COALESCE(?, anchor), name = COALESCE(?, name), attributes = ?, present = ? WHERE id = ?',
      ),
      confirmAttributes: db.prepare('UPDATE cs SET attributes = ? WHERE id = ?'),
      deleteCs: db.prepare('DELETE FROM cs WHERE id = ?'),
      link: db.prepare('UPDATE cs SET mv_id = ? WHERE id = ?'),
      countCs: db.prepare(
        'SELECT SUM(present) AS present, SUM(CASE WHEN present = 1 AND mv_id IS NOT NULL THEN 1 ELSE 0 END) AS linked, SUM(CASE WHEN anchor IS NULL THEN 1 ELSE 0 END) AS pending_create FROM cs WHERE connector = ?',
      ),
      dirtyCs: db.prepare('SELECT * FROM cs WHERE dirty = 1 AND id > ? ORDER BY id LIMIT ?'),
      cleanCs: db.prepare('UPDATE cs SET dirty = 0 WHERE id IN (SELECT value FROM json_each(?))'),
      dirtyCs1: db.prepare('UPDATE cs SET dirty = 1 WHERE id IN (SELECT value FROM json_each(?)) AND dirty = 0'),
      // only rows not marked yet: SQLite writes every row an UPDATE matches, changed or not (after an initial
      // import, all 100,000 already are)
      dirtyCsAll: db.prepare('UPDATE cs SET dirty = 1 WHERE anchor IS NOT NULL AND dirty = 0'),
      refsDel: db.prepare('DELETE FROM cs_refs WHERE cs_id = ?'),
      refsAdd: db.prepare('INSERT OR IGNORE INTO cs_refs(connector, target, cs_id) VALUES (?, ?, ?)'),
      refsAddMany: db.prepare('INSERT OR IGNORE INTO cs_refs(connector, cs_id, target) SELECT ?, ?, value FROM json_each(?)'),
      refsTo: db.prepare('SELECT target, cs_id FROM cs_refs WHERE target IN (SELECT value FROM json_each(?))'),
      csIdxDel: db.prepare('DELETE FROM cs_index WHERE cs_id = ?'),
      csIdxAdd: db.prepare('INSERT OR IGNORE INTO cs_index(connector, attr, key, cs_id) VALUES (?, ?, ?, ?)'),
      csIdxFind: db.prepare(
        'SELECT cs.* FROM cs_index i JOIN cs ON cs.id = i.cs_id WHERE i.connector = ? AND i.attr = ? AND i.key = ? AND cs.object_type = ?',
      ),
      mvById: db.prepare('SELECT * FROM mv WHERE id = ?'),
      mvInsert: db.prepare('INSERT INTO mv(id, object_type, attributes, dirty) VALUES (?, ?, ?, 1)'),
      mvUpdate: db.prepare('UPDATE mv SET attributes = ?, dirty = 1 WHERE id = ?'),
      mvDelete: db.prepare('UPDATE mv SET deleted = 1, dirty = 1 WHERE id = ?'),
      mvPurge: db.prepare('DELETE FROM mv WHERE id = ?'),
      mvIdxDel: db.prepare('DELETE FROM mv_index WHERE mv_id = ?'),
      mvIdxAdd: db.prepare('INSERT OR IGNORE INTO mv_index(attr, key, mv_id, object_type) VALUES (?, ?, ?, ?)'),
      mvIdxFind: db.prepare(
        'SELECT i.mv_id FROM mv_index i JOIN mv ON mv.id = i.mv_id WHERE i.object_type = ? AND i.attr = ? AND i.key = ? AND mv.deleted = 0',
      ),
      mvRefsDel: db.prepare('DELETE FROM mv_refs WHERE mv_id = ?'),
      mvRefsAdd: db.prepare('INSERT OR IGNORE INTO mv_refs(mv_id, target) VALUES (?, ?)'),
      mvRefsAddMany: db.prepare('INSERT OR IGNORE INTO mv_refs(mv_id, target) SELECT ?, value FROM json_each(?)'),
      mvRefsTo: db.prepare('SELECT DISTINCT mv_id FROM mv_refs WHERE target = ?'),
      mvRefsSettled: db.prepare(
        // CROSS JOIN fixes the order (references of the new objects first): otherwise the planner may scan
        // every object of the connector.
        `SELECT DISTINCT r.mv_id FROM mv_refs r CROSS JOIN cs ON cs.mv_id = r.mv_id AND +cs.connector = ?
         LEFT JOIN pending p ON p.cs_id = cs.id WHERE r.target IN (SELECT value FROM json_each(?)) AND p.cs_id IS NULL`,
      ),
      dirtyMv: db.prepare('SELECT id FROM mv WHERE dirty = 1 AND id > ? ORDER BY id LIMIT ?'),
      dirtyMv1: db.prepare('UPDATE mv SET dirty = 1 WHERE id IN (SELECT value FROM json_each(?)) AND dirty = 0'),
      cleanMv: db.prepare('UPDATE mv SET dirty = 0 WHERE id IN (SELECT value FROM json_each(?))'),
      countMv: db.prepare('SELECT object_type, COUNT(*) AS n FROM mv WHERE deleted = 0 GROUP BY object_type'),
      setPending: db.prepare(
        `INSERT INTO pending(cs_id, connector, op, desired, create_only, desired_name, rule, rank, disable, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
         ON CONFLICT(cs_id) DO UPDATE SET op = excluded.op, desired = excluded.desired, create_only = excluded.create_only,
           desired_name = excluded.desired_name, rule = excluded.rule, rank = excluded.rank, disable = excluded.disable,
           state = CASE WHEN pending.state = 'in-flight' THEN 'in-flight' ELSE 'pending' END,
           -- a different desired state is a new change: the backoff of the one that failed does not delay it
           not_before = CASE WHEN pending.op = excluded.op AND pending.desired = excluded.desired
             AND pending.desired_name IS excluded.desired_name THEN pending.not_before ELSE 0 END`,
      ),
      getPending: db.prepare('SELECT * FROM pending WHERE cs_id = ?'),
      clearPending: db.prepare('DELETE FROM pending WHERE cs_id = ?'),
      clearPendings: db.prepare('DELETE FROM pending WHERE cs_id IN (SELECT value FROM json_each(?))'),
      pendingFor: db.prepare(
        'SELECT * FROM pending WHERE connector = @connector AND (@state IS NULL OR state = @state) AND (@op IS NULL OR op = @op) AND (@disable IS NULL OR disable = @disable) ORDER BY cs_id',
      ),
      pendingFirst: db.prepare('SELECT * FROM pending WHERE connector = ? ORDER BY rank, cs_id LIMIT ?'),
      pendingAfter: db.prepare(
        'SELECT * FROM pending WHERE connector = ? AND (rank > ? OR (rank = ? AND cs_id > ?)) ORDER BY rank, cs_id LIMIT ?',
      ),
      pendingOps: db.prepare('SELECT op, COUNT(*) AS n FROM pending WHERE connector = ? GROUP BY op'),
      pendingOfRank: db.prepare(
        'SELECT p.cs_id, cs.mv_id, p.desired_name, p.not_before FROM pending p JOIN cs ON cs.id = p.cs_id WHERE p.connector = ? AND p.rank = ?',
      ),
      pendingState: db.prepare('UPDATE pending SET state = ? WHERE cs_id IN (SELECT value FROM json_each(?))'),
      failPending: db.prepare(
        "UPDATE pending SET state = 'error', attempts = attempts + 1, last_error = ?, not_before = ? WHERE cs_id = ?",
      ),
      countPending: db.prepare('SELECT state, COUNT(*) AS n FROM pending WHERE connector = ? GROUP BY state'),
      recordError: db.prepare(
        `INSERT INTO object_errors(connector, key, phase, code, message, location, remote_code, attribute, attempts, first_at, last_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT(connector, key) DO UPDATE SET phase = excluded.phase, code = excluded.code, message = excluded.message,
           location = excluded.location, remote_code = excluded.remote_code, attribute = excluded.attribute,
           attempts = object_errors.attempts + 1, last_at = excluded.last_at`,
      ),
      clearError: db.prepare('DELETE FROM object_errors WHERE connector = ? AND key = ? AND phase = ?'),
      errorsAll: db.prepare('SELECT * FROM object_errors ORDER BY connector, key'),
      errorsFor: db.prepare('SELECT * FROM object_errors WHERE connector = ? ORDER BY key'),
      countErrors: db.prepare('SELECT connector, COUNT(*) AS n FROM object_errors GROUP BY connector'),
      appendLog: db.prepare(
        'INSERT INTO log(run_id, at, connector, object, cs_id, mv_id, phase, situation, action, status, steps, changes, error, name, names) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      pruneLog: db.prepare('DELETE FROM log WHERE id IN (SELECT id FROM log WHERE at < ? ORDER BY at LIMIT ?)'),
      startRun: db.prepare("INSERT INTO runs(kind, started_at, status) VALUES (?, ?, 'running')"),
      finishRun: db.prepare('UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?'),
      runs: db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?'),
      runsByIds: db.prepare('SELECT * FROM runs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id DESC'),
      approve: db.prepare('INSERT OR REPLACE INTO approvals(connector, at) VALUES (?, ?)'),
      getApproval: db.prepare('SELECT at FROM approvals WHERE connector = ?'),
      takeApproval: db.prepare('DELETE FROM approvals WHERE connector = ?'),
    };
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async acquireLease(holder: LeaseHolder, gone: (current: LeaseHolder) => boolean): Promise<LeaseHolder | null> {
    // IMMEDIATE: the read and the write happen under the write lock, so two processes cannot both take it
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT * FROM lease WHERE id = 1').get() as LeaseRow | undefined;
      if (row) {
        const current: LeaseHolder = {
          owner: row.owner,
          pid: row.pid,
          host: row.host,
          command: row.command,
          since: row.since,
          renewed: row.renewed,
          processStart: row.process_start,
        };
        if (current.owner !== holder.owner && !gone(current)) return current;
      }
      this.db
        .prepare('INSERT OR REPLACE INTO lease(id, owner, pid, host, command, since, renewed, process_start) VALUES (1, ?, ?, ?, ?, ?, ?, ?)')
        .run(holder.owner, holder.pid, holder.host, holder.command, holder.since, holder.renewed, holder.processStart);
      return null;
    }).immediate();
  }

  async renewLease(owner: string, at: string): Promise<boolean> {
    return this.db.prepare('UPDATE lease SET renewed = ? WHERE id = 1 AND owner = ?').run(at, owner).changes > 0;
  }

  async releaseLease(owner: string): Promise<void> {
    this.db.prepare('DELETE FROM lease WHERE id = 1 AND owner = ?').run(owner);
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    // Nested calls join the outer transaction. The engine is the only writer and awaits each call, so no
    // other work interleaves between BEGIN and COMMIT.
    if (this.depth > 0) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    this.depth++;
    try {
      const result = await fn();
      this.depth--;
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.depth--;
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  // ---- settings ----

  async getMeta(key: string): Promise<string | null> {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value ?? null;
  }

  async setMeta(key: string, value: string | null): Promise<void> {
    if (value === null) this.stmts.delMeta.run(key);
    else this.stmts.setMeta.run(key, value);
  }

  async getWatermark(connector: string): Promise<string | null> {
    return (this.stmts.getWm.get(connector) as { watermark: string | null } | undefined)?.watermark ?? null;
  }

  async setWatermark(connector: string, watermark: string | null): Promise<void> {
    this.stmts.setWm.run(connector, watermark, now());
  }

  // ---- connector space ----

  async csByAnchors(connector: string, anchors: string[]): Promise<Map<string, CsObject>> {
    const out = new Map<string, CsObject>();
    // (connector, anchor) is the unique index: the connector must lead for it to be used.
    const rows = this.inList<CsRow>('SELECT * FROM cs WHERE connector = ? AND anchor IN', anchors, [connector]);
    for (const row of rows) out.set(row.anchor!, toCs(row));
    return out;
  }

  async csByNames(connector: string, names: string[]): Promise<Map<string, CsObject>> {
    const out = new Map<string, CsObject>();
    for (const name of new Set(names)) {
      const row = this.stmts.csByName.get(connector, name) as CsRow | undefined;
      if (row) out.set(name, toCs(row));
    }
    return out;
  }

  async searchCs(text: string, afterId: number, limit: number): Promise<CsObject[]> {
    const needle = searchNeedle(text);
    return (this.stmts.csSearch.all(afterId, needle, needle, needle, limit) as CsRow[]).map(toCs);
  }

  async csByIds(ids: number[]): Promise<CsObject[]> {
    if (ids.length === 1) {
      const row = this.stmts.csById.get(ids[0]) as CsRow | undefined;
      return row ? [toCs(row)] : [];
    }
    return this.inList<CsRow>('SELECT * FROM cs WHERE id IN', ids).map(toCs);
  }

  async csByMv(mvIds: string[], options: { attributes?: boolean } = {}): Promise<CsObject[]> {
    if (options.attributes === false) {
      // The links only; attributes (the bulk of a row) are read if and when something asks for them.
      const load = (id: number) => (this.stmts.csAttributes.get(id) as string | undefined) ?? '{}';
      return (this.stmts.csLinksByMv.all(JSON.stringify(mvIds)) as Omit<CsRow, 'attributes'>[]).map((row) => toCsLink(row, load));
    }
    if (mvIds.length === 1) return (this.stmts.csByMv.all(mvIds[0]) as CsRow[]).map(toCs);
    return this.inList<CsRow>('SELECT * FROM cs WHERE mv_id IN', mvIds).map(toCs);
  }

  /** `sql (?, ?, …)` over `values` in chunks, with statements cached per chunk size. */
  private inList<Row>(sql: string, values: (string | number)[], leading: (string | number)[] = []): Row[] {
    const out: Row[] = [];
    for (const part of chunks([...new Set(values)])) {
      const key = `${sql}#${part.length}`;
      let stmt = this.inStatements.get(key);
      if (!stmt) {
        stmt = this.db.prepare(`${sql} (${part.map(() => '?').join(',')})`);
        this.inStatements.set(key, stmt);
      }
      out.push(...(stmt.all(...leading, ...part) as Row[]));
    }
    return out;
  }

  private readonly inStatements = new Map<string, Database.Statement>();

  async writeCs(writes: CsWrite[]): Promise<number[]> {
    const ids: number[] = [];
    for (const w of writes) {
      const { previous: was } = w;
      let id = w.id;
      if (id === undefined) {
        id = Number(this.stmts.insertCs.run(w.connector, w.objectType, w.anchor, w.name, w.hash).lastInsertRowid);
        this.indexCs(id, w.connector, w.objectType, w.attributes, true);
      } else if (was?.present && was.objectType === w.objectType && was.anchor === w.anchor && was.name === w.name) {
        this.stmts.updateCsAttributes.run(w.hash, id);
        this.reindexCs(id, w.connector, w.objectType, was.attributes, w.attributes);
      } else {
        this.stmts.updateCs.run(w.objectType, w.anchor, w.name, w.hash, id);
        this.indexCs(id, w.connector, w.objectType, w.attributes, false);
      }
      ids.push(id);
    }
    return ids;
  }

  async unseenCs(connector: string, seen: SeenObjects): Promise<CsObject[]> {
    // iterated, not read whole: at 1,000,000 objects the rows would be ~100 MB, the unseen ones usually none
    const ids: number[] = [];
    for (const r of this.stmts.imported.iterate(connector) as IterableIterator<{ id: number; anchor: string }>) {
      if (!seen.ids.has(r.id) && !seen.anchors.has(r.anchor)) ids.push(r.id);
    }
    return ids.length > 0 ? this.csByIds(ids) : [];
  }

  async markCsGone(ids: number[]): Promise<void> {
    for (const part of chunks(ids, 10_000)) this.stmts.gone.run(JSON.stringify(part));
  }

  async createCsPlaceholder(connector: string, objectType: string, mvId: string): Promise<number> {
    return Number(this.stmts.placeholder.run(connector, objectType, '{}', mvId).lastInsertRowid);
  }

  async confirmCs(
    id: number,
    update: { anchor?: string; name?: string | undefined; attributes: Attributes; hash: string; present: boolean },
    previous?: CsObject,
  ): Promise<void> {
    type IndexState = Pick<CsRow, 'connector' | 'object_type' | 'anchor' | 'name' | 'present' | 'attributes'>;
    const row: IndexState | undefined = previous
      ? {
          connector: previous.connector,
          object_type: previous.objectType,
          anchor: previous.anchor,
          name: previous.name,
          present: previous.present ? 1 : 0,
          attributes: previous.hash,
        }
      : (this.stmts.csIndexState.get(id) as IndexState | undefined);
    if (!row) return;
    const sameLink =
      (update.anchor ?? row.anchor) === row.anchor && (update.name ?? row.name) === row.name && (update.present ? 1 : 0) === row.present;
    if (sameLink) this.stmts.confirmAttributes.run(update.hash, id);
    else this.stmts.confirm.run(update.anchor ?? null, update.name ?? null, update.hash, update.present ? 1 : 0, id);
    // A placeholder (never created) has nothing indexed yet; an object whose references and indexed values
    // stayed the same keeps its index rows (a group that gained one member is not re-indexed 5,000 times).
    if (row.anchor === null) this.indexCs(id, row.connector, row.object_type, update.attributes, true);
    else this.reindexCs(id, row.connector, row.object_type, decodeAttributes(row.attributes), update.attributes);
  }

  async deleteCs(ids: number[]): Promise<void> {
    for (const id of ids) {
      this.stmts.deleteCs.run(id);
      this.stmts.refsDel.run(id);
      this.stmts.csIdxDel.run(id);
      this.stmts.clearPending.run(id);
    }
  }

  async linkCs(id: number, mvId: string | null): Promise<void> {
    this.stmts.link.run(mvId, id);
  }

  async hasImported(connector: string): Promise<boolean> {
    return this.stmts.anyImported.get(connector) !== undefined;
  }

  async countCs(connector: string): Promise<{ present: number; linked: number; pendingCreate: number }> {
    const r = this.stmts.countCs.get(connector) as { present: number | null; linked: number | null; pending_create: number | null };
    return { present: r.present ?? 0, linked: r.linked ?? 0, pendingCreate: r.pending_create ?? 0 };
  }

  async dirtyCs(afterId: number, limit: number): Promise<CsObject[]> {
    return (this.stmts.dirtyCs.all(afterId, limit) as CsRow[]).map(toCs);
  }

  async clearCsDirty(ids: number[]): Promise<void> {
    if (ids.length > 0) this.stmts.cleanCs.run(JSON.stringify(ids));
  }

  async markCsDirty(ids: number[]): Promise<void> {
    if (ids.length > 0) this.stmts.dirtyCs1.run(JSON.stringify(ids));
  }

  async markAllCsDirty(): Promise<void> {
    this.stmts.dirtyCsAll.run();
  }

  async csReferencing(names: string[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    if (names.length === 0) return out;
    for (const r of this.stmts.refsTo.all(JSON.stringify(names)) as { target: string; cs_id: number }[]) {
      const ids = out.get(r.target);
      if (ids) ids.push(r.cs_id);
      else out.set(r.target, [r.cs_id]);
    }
    return out;
  }

  async renameReferences(connectors: string[], renamed: ReadonlyMap<string, string>): Promise<void> {
    const readers = new Set(connectors);
    const ids = [...new Set([...(await this.csReferencing([...renamed.keys()])).values()].flat())];
    // every value renamed at once, so that two objects that swapped names stay apart
    const rename = (v: Value): Value => (isReference(v) && renamed.has(v.ref) ? { ref: renamed.get(v.ref)! } : v);
    for (const row of this.inList<CsRow>('SELECT * FROM cs WHERE id IN', ids)) {
      if (!readers.has(row.connector)) continue;
      const before = decodeAttributes(row.attributes);
      const after: Attributes = {};
      for (const [attr, values] of Object.entries(before)) after[attr] = values.map(rename);
      const hash = encodeAttributes(after);
      if (hash === row.attributes) continue;
      this.stmts.updateCsAttributes.run(hash, row.id); // marks it for inbound sync
      this.reindexCs(row.id, row.connector, row.object_type, before, after);
    }
  }

  async mvIdsByNames(connector: string, names: string[], alsoAnchors = false): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (names.length === 0) return out;
    type Row = { key: string; mv_id: string | null };
    for (const r of this.stmts.namesToMv.all(connector, JSON.stringify(names)) as Row[]) out.set(r.key, r.mv_id);
    if (alsoAnchors && out.size < names.length) {
      const missing = names.filter((n) => !out.has(n));
      for (const r of this.stmts.anchorsToMv.all(connector, JSON.stringify(missing)) as Row[]) out.set(r.key, r.mv_id);
    }
    return out;
  }

  async linksIn(connector: string, mvIds: string[]): Promise<{ mvId: string; present: boolean; anchor: string | null; name: string | null }[]> {
    if (mvIds.length === 0) return [];
    type Row = { mv_id: string; present: number; anchor: string | null; name: string | null };
    return (this.stmts.linksIn.all(JSON.stringify(mvIds), connector) as Row[]).map((r) => ({
      mvId: r.mv_id,
      present: r.present === 1,
      anchor: r.anchor,
      name: r.name,
    }));
  }

  async csMatch(connector: string, objectType: string, attribute: string, key: string): Promise<CsObject[]> {
    return (this.stmts.csIdxFind.all(connector, attribute, key, objectType) as CsRow[]).map(toCs);
  }

  /** The attributes indexed for objects of this connector and type (none: undefined). */
  private csWanted(connector: string, objectType: string): Set<string> | undefined {
    const forType = this.csIndexed.get(`${connector}\0${objectType}`);
    const forAll = this.csIndexed.get(`${connector}\0*`);
    if (!forAll) return forType;
    if (!forType) return forAll;
    return new Set([...forType, ...forAll]);
  }

  /** Rewrites an object's reference and join-index rows only if what they hold changed. */
  private reindexCs(id: number, connector: string, objectType: string, before: Attributes, after: Attributes): void {
    const wanted = this.csWanted(connector, objectType);
    const refs = this.refsWanted(connector);
    if (csIndexKeys(wanted, refs, before) !== csIndexKeys(wanted, refs, after)) this.indexCs(id, connector, objectType, after, false);
  }

  private refsWanted(connector: string): boolean {
    return this.refsIndexed === null || this.refsIndexed.has(connector);
  }

  private addRefs(id: number, connector: string, refs: string[]): void {
    // a group's members in one statement, not one per member
    if (refs.length === 1) this.stmts.refsAdd.run(connector, refs[0], id);
    else if (refs.length > 1) this.stmts.refsAddMany.run(connector, id, JSON.stringify(refs));
  }

  private indexCs(id: number, connector: string, objectType: string, attributes: Attributes, isNew: boolean): void {
    if (!isNew) {
      this.stmts.refsDel.run(id);
      this.stmts.csIdxDel.run(id);
    }
    const indexed = this.csWanted(connector, objectType);
    const refsWanted = this.refsWanted(connector);
    const refs: string[] = [];
    for (const [attr, values] of Object.entries(attributes)) {
      const index = indexed?.has(attr);
      for (const v of values) {
        if (refsWanted && isReference(v)) refs.push(v.ref);
        if (index) this.stmts.csIdxAdd.run(connector, attr, matchKey(v), id);
      }
    }
    this.addRefs(id, connector, refs);
  }

  // ---- metaverse ----

  async mvByIds(ids: string[]): Promise<Map<string, MvObject>> {
    const rows =
      ids.length === 1
        ? ([this.stmts.mvById.get(ids[0])].filter(Boolean) as MvRow[])
        : this.inList<MvRow>('SELECT * FROM mv WHERE id IN', ids);
    return new Map(rows.map((row) => [row.id, toMv(row)]));
  }

  async searchMv(text: string, afterId: string, limit: number): Promise<MvObject[]> {
    const needle = searchNeedle(text);
    return (this.stmts.mvSearch.all(afterId, needle, needle, limit) as MvRow[]).map(toMv);
  }

  async mvMatch(objectType: string, attribute: string, key: string): Promise<string[]> {
    return (this.stmts.mvIdxFind.all(objectType, attribute, key) as { mv_id: string }[]).map((r) => r.mv_id);
  }

  async createMv(objectType: string, attributes: Attributes): Promise<string> {
    const id = newId();
    this.stmts.mvInsert.run(id, objectType, encodeAttributes(attributes));
    this.indexMv(id, objectType, attributes, {}, true);
    return id;
  }

  async updateMv(id: string, attributes: Attributes, previous?: MvObject): Promise<void> {
    this.stmts.mvUpdate.run(encodeAttributes(attributes), id);
    const before = previous ?? (await this.mvByIds([id])).get(id);
    if (before) this.indexMv(id, before.objectType, attributes, before.attributes);
  }

  async deleteMv(id: string): Promise<void> {
    this.stmts.mvDelete.run(id);
    this.stmts.mvIdxDel.run(id);
    this.stmts.mvRefsDel.run(id);
  }

  async purgeMv(id: string): Promise<void> {
    this.stmts.mvPurge.run(id);
  }

  async mvReferencing(id: string): Promise<string[]> {
    return (this.stmts.mvRefsTo.all(id) as { mv_id: string }[]).map((r) => r.mv_id);
  }

  async mvReferencingSettled(ids: string[], connector: string): Promise<string[]> {
    if (ids.length === 0) return [];
    return (this.stmts.mvRefsSettled.all(connector, JSON.stringify(ids)) as { mv_id: string }[]).map((r) => r.mv_id);
  }

  async dirtyMv(afterId: string, limit: number): Promise<string[]> {
    return (this.stmts.dirtyMv.all(afterId, limit) as { id: string }[]).map((r) => r.id);
  }

  async markMvDirty(ids: string[]): Promise<void> {
    if (ids.length > 0) this.stmts.dirtyMv1.run(JSON.stringify(ids));
  }

  async markAllMvDirty(): Promise<void> {
    this.db.exec('UPDATE mv SET dirty = 1 WHERE dirty = 0'); // as dirtyCsAll: only rows not marked yet
  }

  async clearMvDirty(ids: string[]): Promise<void> {
    if (ids.length > 0) this.stmts.cleanMv.run(JSON.stringify(ids));
  }

  async countMv(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.stmts.countMv.all() as { object_type: string; n: number }[]) out[r.object_type] = r.n;
    return out;
  }

  /** Keeps the join index and the reference index in step; touches them only when their values changed. */
  private indexMv(id: string, objectType: string, attributes: Attributes, previous: Attributes, isNew = false): void {
    if (!this.indexChanged(attributes, previous) && !this.indexChanged(previous, attributes)) return;
    if (!isNew) {
      this.stmts.mvIdxDel.run(id);
      this.stmts.mvRefsDel.run(id);
    }
    const refs: string[] = [];
    for (const [attr, values] of Object.entries(attributes)) {
      const index = this.mvIndexed.has(attr);
      for (const v of values) {
        if (isReference(v)) refs.push(v.ref);
        if (index) this.stmts.mvIdxAdd.run(attr, matchKey(v), id, objectType);
      }
    }
    if (refs.length === 1) this.stmts.mvRefsAdd.run(id, refs[0]);
    else if (refs.length > 1) this.stmts.mvRefsAddMany.run(id, JSON.stringify(refs));
  }

  /** Does `a` hold an indexed or reference value that `b` does not hold the same way? */
  private indexChanged(a: Attributes, b: Attributes): boolean {
    for (const [attr, values] of Object.entries(a)) {
      if (!this.mvIndexed.has(attr) && !values.some(isReference)) continue;
      const other = b[attr];
      if (!other || other.length !== values.length || other.some((v, i) => valueKey(v) !== valueKey(values[i]!))) return true;
    }
    return false;
  }

  private loadIndexed(spec: { mv: string[]; cs: { connector: string; objectType?: string; attribute: string }[] }): void {
    this.mvIndexed = new Set(spec.mv);
    this.csIndexed = new Map();
    for (const { connector, objectType, attribute } of spec.cs) {
      const key = `${connector}\0${objectType ?? '*'}`;
      if (!this.csIndexed.has(key)) this.csIndexed.set(key, new Set());
      this.csIndexed.get(key)!.add(attribute);
    }
  }

  async setIndexedAttributes(mv: string[], cs: { connector: string; objectType?: string; attribute: string }[]): Promise<void> {
    const key = (c: (typeof cs)[number]) => `${c.connector}/${c.objectType ?? '*'}/${c.attribute}`;
    const spec = JSON.stringify({ mv: [...mv].sort(), cs: [...cs].sort((a, b) => key(a).localeCompare(key(b))) });
    if ((await this.getMeta('indexed')) === spec) return;
    await this.transaction(async () => {
      this.loadIndexed(JSON.parse(spec));
      this.db.exec('DELETE FROM mv_index; DELETE FROM cs_index;');
      // Keyset pages, not an iterator: better-sqlite3 allows no write on a connection while one is open.
      const mvPage = this.db.prepare('SELECT id, object_type, attributes FROM mv WHERE deleted = 0 AND id > ? ORDER BY id LIMIT 1000');
      for (let after = ''; ; ) {
        const rows = mvPage.all(after) as { id: string; object_type: string; attributes: string }[];
        if (rows.length === 0) break;
        for (const row of rows) {
          const attrs = decodeAttributes(row.attributes);
          for (const attr of this.mvIndexed) for (const v of attrs[attr] ?? []) this.stmts.mvIdxAdd.run(attr, matchKey(v), row.id, row.object_type);
        }
        after = rows[rows.length - 1]!.id;
      }
      const csPage = this.db.prepare('SELECT id, connector, object_type, attributes FROM cs WHERE id > ? ORDER BY id LIMIT 1000');
      for (let after = 0; ; ) {
        const rows = csPage.all(after) as { id: number; connector: string; object_type: string; attributes: string }[];
        if (rows.length === 0) break;
        for (const row of rows) {
          const wanted = this.csWanted(row.connector, row.object_type);
          if (!wanted) continue;
          const attrs = decodeAttributes(row.attributes);
          for (const attr of wanted) for (const v of attrs[attr] ?? []) this.stmts.csIdxAdd.run(row.connector, attr, matchKey(v), row.id);
        }
        after = rows[rows.length - 1]!.id;
      }
      await this.setMeta('indexed', spec);
    });
  }

  /**
   * Only inbound sync asks who references an object (to sync the referrers again), so only the connectors
   * it reads need their references indexed: a target's (in a 100,000-object load, 200,000 rows of managers
   * and members) are written for nothing. A connector newly read has its rows indexed here; files from
   * versions before this one indexed every connector, so the first call only drops what is not needed.
   */
  async setIndexedReferences(connectors: string[]): Promise<void> {
    const wanted = [...new Set(connectors)].sort();
    const spec = JSON.stringify(wanted);
    const stored = await this.getMeta('references');
    this.refsIndexed = new Set(wanted);
    if (stored === spec) return;
    const before = stored === null ? null : new Set(JSON.parse(stored) as string[]);
    await this.transaction(async () => {
      this.db.prepare('DELETE FROM cs_refs WHERE connector NOT IN (SELECT value FROM json_each(?))').run(spec);
      for (const connector of wanted) if (before !== null && !before.has(connector)) this.rebuildRefs(connector);
      await this.setMeta('references', spec);
    });
  }

  private rebuildRefs(connector: string): void {
    const page = this.db.prepare('SELECT id, attributes FROM cs WHERE connector = ? AND id > ? ORDER BY id LIMIT 1000');
    for (let after = 0; ; ) {
      const rows = page.all(connector, after) as { id: number; attributes: string }[];
      if (rows.length === 0) break;
      for (const row of rows) {
        this.addRefs(row.id, connector, referencedNames(decodeAttributes(row.attributes)));
      }
      after = rows[rows.length - 1]!.id;
    }
  }

  // ---- exports ----

  async setPending(p: Omit<PendingExport, 'attempts' | 'lastError' | 'notBefore' | 'state' | 'rank' | 'disable'> & { renames?: boolean; disable?: boolean }): Promise<void> {
    this.stmts.setPending.run(
      p.csId,
      p.connector,
      p.op,
      encodeAttributes(p.desired, { keepEmpty: true }),
      JSON.stringify(p.createOnly),
      p.desiredName,
      p.rule,
      p.renames && p.op === 'update' ? EXPORT_RANK.rename : exportRank(p.op, p.desired),
      p.disable ? 1 : 0,
    );
  }

  async pendingOfRank(connector: string, rank: number): Promise<{ csId: number; mvId: string | null; desiredName: string | null; notBefore: number }[]> {
    type Row = { cs_id: number; mv_id: string | null; desired_name: string | null; not_before: number };
    return (this.stmts.pendingOfRank.all(connector, rank) as Row[]).map((r) => ({
      csId: r.cs_id,
      mvId: r.mv_id,
      desiredName: r.desired_name,
      notBefore: r.not_before,
    }));
  }

  async pendingPage(connector: string, after: PendingCursor | null, limit: number): Promise<PendingExport[]> {
    const rows = after
      ? this.stmts.pendingAfter.all(connector, after.rank, after.rank, after.csId, limit)
      : this.stmts.pendingFirst.all(connector, limit);
    return (rows as PendingRow[]).map(toPending);
  }

  async countPendingOps(connector: string): Promise<Record<ExportOp, number>> {
    const out: Record<ExportOp, number> = { create: 0, update: 0, delete: 0 };
    for (const r of this.stmts.pendingOps.all(connector) as { op: ExportOp; n: number }[]) out[r.op] = r.n;
    return out;
  }

  async clearPending(csId: number | number[]): Promise<void> {
    if (!Array.isArray(csId)) this.stmts.clearPending.run(csId);
    else if (csId.length > 0) this.stmts.clearPendings.run(JSON.stringify(csId));
  }

  async pending(connector: string, filter: { state?: PendingState; op?: ExportOp; disable?: boolean } = {}): Promise<PendingExport[]> {
    const disable = filter.disable === undefined ? null : filter.disable ? 1 : 0;
    const rows = this.stmts.pendingFor.all({ connector, state: filter.state ?? null, op: filter.op ?? null, disable }) as PendingRow[];
    return rows.map(toPending);
  }

  async pendingByCs(csId: number): Promise<PendingExport | null> {
    const row = this.stmts.getPending.get(csId) as PendingRow | undefined;
    return row ? toPending(row) : null;
  }

  async setPendingState(csIds: number[], state: PendingState): Promise<void> {
    for (const part of chunks(csIds, 10_000)) this.stmts.pendingState.run(state, JSON.stringify(part));
  }

  async failPending(csId: number, error: ObjectErrorInfo, notBefore: number): Promise<void> {
    this.stmts.failPending.run(JSON.stringify(error), notBefore, csId);
  }

  async countPending(connector: string): Promise<Record<PendingState, number>> {
    const out: Record<PendingState, number> = { pending: 0, 'in-flight': 0, error: 0, held: 0 };
    for (const r of this.stmts.countPending.all(connector) as { state: PendingState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  // ---- errors, log, runs ----

  async recordError(e: Omit<ObjectError, 'attempts' | 'firstAt' | 'lastAt'>): Promise<void> {
    this.errorsCache?.add(e.connector);
    const at = now();
    this.stmts.recordError.run(
      e.connector,
      e.key,
      e.phase,
      e.code,
      e.message,
      e.location ?? null,
      e.remoteCode === undefined ? null : String(e.remoteCode),
      e.attribute ?? null,
      at,
      at,
    );
  }

  async clearError(connector: string, key: string, phase: ObjectError['phase']): Promise<void> {
    // Nearly every object has no error: skip the write unless the table holds any for this connector.
    if (!this.errorConnectors().has(connector)) return;
    this.stmts.clearError.run(connector, key, phase);
    this.errorsCache = undefined;
  }

  private errorsCache: Set<string> | undefined;

  private errorConnectors(): Set<string> {
    this.errorsCache ??= new Set(
      (this.db.prepare('SELECT DISTINCT connector FROM object_errors').all() as { connector: string }[]).map((r) => r.connector),
    );
    return this.errorsCache;
  }

  async errors(connector?: string): Promise<ObjectError[]> {
    const rows = (connector ? this.stmts.errorsFor.all(connector) : this.stmts.errorsAll.all()) as ErrorRow[];
    return rows.map((r) => ({
      connector: r.connector,
      key: r.key,
      phase: r.phase as ObjectError['phase'],
      code: r.code,
      message: r.message,
      ...(r.location ? { location: r.location } : {}),
      ...(r.remote_code ? { remoteCode: r.remote_code } : {}),
      ...(r.attribute ? { attribute: r.attribute } : {}),
      attempts: r.attempts,
      firstAt: r.first_at,
      lastAt: r.last_at,
    }));
  }

  async countErrors(): Promise<Record<string, number>> {
    const rows = this.stmts.countErrors.all() as { connector: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.connector, r.n]));
  }

  async appendLog(entries: LogEntry[]): Promise<void> {
    const at = now();
    for (const e of entries) {
      this.stmts.appendLog.run(
        e.runId,
        at,
        e.connector,
        e.object,
        e.csId ?? null,
        e.mvId ?? null,
        e.phase,
        e.situation,
        e.action,
        e.status,
        packSteps(e.steps),
        packChanges(e.changes),
        e.error ? JSON.stringify(e.error) : null,
        e.name && e.name !== e.object ? e.name : null,
        e.names ? JSON.stringify(e.names) : null,
      );
    }
  }

  async pruneLog(before: string, limit: number): Promise<number> {
    return this.stmts.pruneLog.run(before, limit).changes;
  }

  async log(query: LogQuery): Promise<StoredLogEntry[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.object) {
      const objects = query.objects ?? { csIds: [], mvIds: [] };
      where.push(
        '(object = ? OR name = ? OR mv_id = ? OR mv_id IN (SELECT mv_id FROM cs WHERE anchor = ? OR name = ?)' +
          ' OR cs_id IN (SELECT value FROM json_each(?)) OR mv_id IN (SELECT value FROM json_each(?)))',
      );
      params.push(query.object, query.object, query.object, query.object, query.object, JSON.stringify(objects.csIds), JSON.stringify(objects.mvIds));
    }
    if (query.since) {
      where.push('at >= ?');
      params.push(query.since);
    }
    if (query.runId !== undefined) {
      where.push('run_id = ?');
      params.push(query.runId);
    }
    for (const [column, value] of [['connector', query.connector], ['action', query.action], ['status', query.status]] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const sql = `SELECT * FROM log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit ?? 1000) as LogRow[];
    return rows.reverse().map((r) => ({
      id: r.id,
      at: r.at,
      runId: r.run_id,
      connector: r.connector,
      object: r.object,
      csId: r.cs_id,
      mvId: r.mv_id,
      phase: r.phase as LogEntry['phase'],
      situation: r.situation,
      action: r.action,
      status: r.status as LogEntry['status'],
      steps: unpackSteps(r.steps),
      changes: unpackChanges(r.changes),
      error: r.error ? JSON.parse(r.error) : null,
      name: r.name ?? r.object,
      ...(r.names ? { names: JSON.parse(r.names) } : {}),
    }));
  }

  async loggedNames(mvIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const chunk of chunks(mvIds)) {
      for (const row of this.stmts.loggedNames.all(JSON.stringify(chunk)) as { mv_id: string; name: string }[]) {
        const list = out.get(row.mv_id) ?? [];
        out.set(row.mv_id, list);
        list.push(row.name);
      }
    }
    return out;
  }

  async startRun(kind: string): Promise<number> {
    return Number(this.stmts.startRun.run(kind, now()).lastInsertRowid);
  }

  async finishRun(id: number, status: string, stats: RunStats[]): Promise<void> {
    this.stmts.finishRun.run(now(), status, JSON.stringify(stats), id);
  }

  async runs(limit: number): Promise<RunRecord[]> {
    return (this.stmts.runs.all(limit) as RunRow[]).map(toRun);
  }

  async runsByIds(ids: number[]): Promise<RunRecord[]> {
    return (this.stmts.runsByIds.all(JSON.stringify(ids)) as RunRow[]).map(toRun);
  }

  async approve(connector: string): Promise<void> {
    this.stmts.approve.run(connector, now());
  }

  async hasApproval(connector: string): Promise<boolean> {
    return this.stmts.getApproval.get(connector) !== undefined;
  }

  async takeApproval(connector: string): Promise<boolean> {
    return this.stmts.takeApproval.run(connector).changes > 0;
  }
}

/*
 * The provisioning log is most of what a cycle writes: entries are stored as arrays, not objects, which
 * halves them ([step, detail] and [attribute, old, new]). Rows written before, as objects, still read.
 */
type StepRow = [string, string] | LogEntry['steps'][number];
type ChangeRow = [string, string[], string[]] | LogEntry['changes'][number];

function packSteps(steps: LogEntry['steps']): string {
  return JSON.stringify(steps.map((s) => [s.step, s.detail]));
}

function packChanges(changes: LogEntry['changes']): string {
  return JSON.stringify(changes.map((c) => [c.attribute, c.old, c.new]));
}

function unpackSteps(json: string): LogEntry['steps'] {
  return (JSON.parse(json) as StepRow[]).map((s) => (Array.isArray(s) ? { step: s[0], detail: s[1] } : s));
}

function unpackChanges(json: string): LogEntry['changes'] {
  return (JSON.parse(json) as ChangeRow[]).map((c) => (Array.isArray(c) ? { attribute: c[0], old: c[1], new: c[2] } : c));
}

function exportRank(op: ExportOp, desired: Attributes): number {
  if (op === 'create') return Object.values(desired).some((vs) => vs.some(isReference)) ? EXPORT_RANK.createWithReferences : EXPORT_RANK.create;
  return op === 'update' ? EXPORT_RANK.update : EXPORT_RANK.delete;
}

interface PendingRow {
  cs_id: number;
  connector: string;
  op: PendingExport['op'];
  desired: string;
  create_only: string;
  desired_name: string | null;
  rule: string;
  state: PendingState;
  attempts: number;
  last_error: string | null;
  not_before: number;
  rank: number;
  disable: number;
}

function toPending(r: PendingRow): PendingExport {
  return {
    csId: r.cs_id,
    connector: r.connector,
    op: r.op,
    desired: decodeAttributes(r.desired),
    createOnly: JSON.parse(r.create_only),
    desiredName: r.desired_name,
    rule: r.rule,
    state: r.state,
    attempts: r.attempts,
    lastError: r.last_error ? JSON.parse(r.last_error) : null,
    notBefore: r.not_before,
    rank: r.rank,
    disable: r.disable === 1,
  };
}

interface ErrorRow {
  connector: string;
  key: string;
  phase: string;
  code: string;
  message: string;
  location: string | null;
  remote_code: string | null;
  attribute: string | null;
  attempts: number;
  first_at: string;
  last_at: string;
}

interface LogRow {
  id: number;
  run_id: number;
  at: string;
  connector: string;
  object: string;
  cs_id: number | null;
  mv_id: string | null;
  phase: string;
  situation: string;
  action: string;
  status: string;
  steps: string;
  changes: string;
  error: string | null;
  name: string | null;
  names: string | null;
}

interface RunRow {
  id: number;
  kind: string;
  started_at: string;
  finished_at: string | null;
  status: string;
  stats: string;
}

function toRun(r: RunRow): RunRecord {
  return { id: r.id, kind: r.kind, startedAt: r.started_at, finishedAt: r.finished_at, status: r.status, stats: JSON.parse(r.stats) };
}
