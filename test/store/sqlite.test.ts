/** The SQLite store: the store contract over a state file, and what it keeps when a file written by an earlier version is opened. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type Attributes, encodeAttributes } from '../../src/core/values.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SCHEMA_VERSION } from '../../src/store/sql/version.js';
import { storeContract } from './contract.js';

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

storeContract('SQLite', () => {
  const folder = mkdtempSync(join(tmpdir(), 'idsync-store-'));
  const path = join(folder, 'state.db');
  return {
    create: async () => new SqliteStore(path),
    reopen: async () => new SqliteStore(path),
    exec: async (sql) => {
      const db = new Database(path);
      db.exec(sql);
      db.close();
    },
    cleanup: async () => rmSync(folder, { recursive: true, force: true }),
  };
});

describe('a state file from a newer idsync', () => {
  it('is refused with a message that says so, and left as it was', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-store-'));
    const path = join(dir, 'state.db');
    new SqliteStore(path).close();
    const db = new Database(path);
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema'").run();
    db.close();
    expect(() => new SqliteStore(path)).toThrow(`schema version 99, written by a newer idsync; this one knows versions up to ${SCHEMA_VERSION}`);
    const after = new Database(path);
    expect(after.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get()).toBe('99');
    after.close();
  });
});

describe('a state file from schema 1', () => {
  it('keeps every reference and rebuilds the join indexes when the tables are re-keyed by what is looked up', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-store-'));
    const path = join(dir, 'state.db');
    const old = new Database(path);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
      INSERT INTO meta VALUES ('schema', '1');
      CREATE TABLE cs_refs (connector TEXT NOT NULL, target TEXT NOT NULL, cs_id INTEGER NOT NULL);
      CREATE INDEX cs_refs_target ON cs_refs(target);
      CREATE INDEX cs_refs_source ON cs_refs(cs_id);
      CREATE TABLE mv_refs (mv_id TEXT NOT NULL, target TEXT NOT NULL);
      CREATE INDEX mv_refs_target ON mv_refs(target);
      CREATE INDEX mv_refs_source ON mv_refs(mv_id);
      INSERT INTO meta VALUES ('indexed', '{"mv":["employeeId"],"cs":[]}');
      CREATE TABLE mv (id TEXT PRIMARY KEY, object_type TEXT NOT NULL, attributes TEXT NOT NULL DEFAULT '{}', deleted INTEGER NOT NULL DEFAULT 0, dirty INTEGER NOT NULL DEFAULT 0);
      INSERT INTO mv(id, object_type, attributes) VALUES ('p1', 'person', '{"employeeId":["E1"]}');
      CREATE TABLE mv_index (attr TEXT NOT NULL, key TEXT NOT NULL, mv_id TEXT NOT NULL, object_type TEXT NOT NULL);
      CREATE INDEX mv_index_key ON mv_index(object_type, attr, key);
      INSERT INTO mv_index VALUES ('employeeId', 's:e1', 'p1', 'person');
      CREATE TABLE cs_index (connector TEXT NOT NULL, attr TEXT NOT NULL, key TEXT NOT NULL, cs_id INTEGER NOT NULL);
      INSERT INTO cs_refs VALUES ('hr', 'E1', 10), ('hr', 'E1', 11), ('hr-groups', 'E1', 20), ('hr-groups', 'E1', 20), ('hr', 'E2', 11);
      INSERT INTO mv_refs VALUES ('a', 'boss'), ('b', 'boss'), ('g', 'boss'), ('g', 'boss'), ('g', 'a');
    `);
    old.close();

    const store = new SqliteStore(path);
    const referrers = async (names: string[]) => [...(await store.csReferencing(names)).values()].flat().sort();
    expect(await referrers(['E1'])).toEqual([10, 11, 20]);
    expect(await store.csReferencing(['E2'])).toEqual(new Map([['E2', [11]]]));
    expect((await store.mvReferencing('boss')).sort()).toEqual(['a', 'b', 'g']);
    expect(await store.mvReferencing('a')).toEqual(['g']);
    expect(await store.getMeta('schema')).toBe(String(SCHEMA_VERSION));
    // the join indexes are rebuilt from the objects when the engine names the indexed attributes again
    expect(await store.getMeta('indexed')).toBeNull();
    await store.setIndexedAttributes(['employeeId'], []);
    expect(await store.mvMatch('person', 'employeeId', 's:e1')).toEqual(['p1']);
    // removing an object's references still finds them by source
    await store.deleteCs([11]);
    expect(await referrers(['E1', 'E2'])).toEqual([10, 20]);
    await store.close();

    const check = new Database(path);
    const tables = check.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE '%refs%'").all() as { name: string; sql: string }[];
    check.close();
    expect(tables.map((t) => t.name).sort()).toEqual(['cs_refs', 'mv_refs']);
    const indexTables = new Database(path);
    const joins = indexTables.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('cs_index', 'mv_index')").pluck().all() as string[];
    indexTables.close();
    expect(joins).toHaveLength(2);
    for (const t of joins) expect(t).toMatch(/WITHOUT ROWID/);
    for (const t of tables) expect(t.sql).toMatch(/WITHOUT ROWID/);
  });
});

describe('a state file from schema 2', () => {
  it('keeps the order of its pending exports, renames now going out before creates with references', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-store-'));
    const path = join(dir, 'state.db');
    const old = new Database(path);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
      INSERT INTO meta VALUES ('schema', '2');
      CREATE TABLE pending (cs_id INTEGER PRIMARY KEY, connector TEXT NOT NULL, op TEXT NOT NULL, desired TEXT NOT NULL,
        create_only TEXT NOT NULL DEFAULT '[]', desired_name TEXT, rule TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, not_before INTEGER NOT NULL DEFAULT 0, rank INTEGER NOT NULL DEFAULT 2);
      INSERT INTO pending(cs_id, connector, op, desired, rule, rank) VALUES
        (1, 't', 'create', '{}', 'r', 0), (2, 't', 'create', '{"manager":[{"ref":"m"}]}', 'r', 1), (3, 't', 'update', '{}', 'r', 2), (4, 't', 'delete', '{}', 'r', 3);
    `);
    old.close();
    const store = new SqliteStore(path);
    expect((await store.pendingPage('t', null, 10)).map((p) => [p.csId, p.rank])).toEqual([[1, 0], [2, 2], [3, 3], [4, 4]]);
    expect(await store.getMeta('schema')).toBe(String(SCHEMA_VERSION));
    await store.close();
    // opened again: moved once only
    const again = new SqliteStore(path);
    expect((await again.pendingPage('t', null, 10)).map((p) => p.rank)).toEqual([0, 2, 3, 4]);
    await again.close();
  });
});

describe('the reference index', () => {
  const write = (connector: string, anchor: string, attributes: Attributes) => ({
    connector,
    objectType: 'person',
    anchor,
    name: anchor,
    attributes,
    hash: encodeAttributes(attributes),
  });
  const referrers = async (store: SqliteStore, name: string) => ((await store.csReferencing([name])).get(name) ?? []).sort();

  it('keeps only the connectors named, the first time, in a file where every connector was indexed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-store-'));
    const store = new SqliteStore(join(dir, 'state.db'));
    // never told: every connector's references, as versions before this one kept them
    const [hr, target] = await store.writeCs([write('hr', 'E2', { manager: [{ ref: 'E1' }] }), write('target', 'u2', { manager: [{ ref: 'E1' }] })]);
    expect(await referrers(store, 'E1')).toEqual([hr, target]);
    await store.setIndexedReferences(['hr']);
    expect(await referrers(store, 'E1')).toEqual([hr]);
    await store.close();
  });
});

describe('page size', () => {
  const pageSize = (path: string) => {
    const db = new Database(path, { readonly: true });
    const size = db.pragma('page_size', { simple: true });
    db.close();
    return size;
  };

  it('writes a new state file in 16 KB pages and keeps the 4 KB pages of one an earlier version wrote', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-store-'));
    const fresh = join(dir, 'fresh.db');
    const store = new SqliteStore(fresh);
    await store.setMeta('k', 'v');
    await store.close();
    expect(pageSize(fresh)).toBe(16_384);

    const earlier = join(dir, 'earlier.db');
    const old = new Database(earlier);
    old.pragma('journal_mode = WAL'); // 4 KB pages, as versions before this one wrote
    old.close();
    const reopened = new SqliteStore(earlier);
    await reopened.setMeta('k', 'v');
    expect(await reopened.getMeta('k')).toBe('v');
    await reopened.close();
    expect(pageSize(earlier)).toBe(4096);
  });
});

describe('a log table from before entries were named', () => {
  it('keeps its entries and records the names of new ones', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-store-'));
    const path = join(dir, 'state.db');
    const old = new Database(path);
    old.exec(`
      CREATE TABLE log (
        id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, at TEXT NOT NULL, connector TEXT NOT NULL, object TEXT NOT NULL,
        cs_id INTEGER, mv_id TEXT, phase TEXT NOT NULL, situation TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL,
        steps TEXT NOT NULL, changes TEXT NOT NULL, error TEXT
      );
      INSERT INTO log(run_id, at, connector, object, phase, situation, action, status, steps, changes)
        VALUES (1, '2026-01-01T00:00:00.000Z', 'hr', 'E1', 'sync', 'no-match', 'project', 'success', '[]', '[]');
    `);
    old.close();
    const store = new SqliteStore(path);
    await store.appendLog([
      { runId: 2, connector: 'directory', object: 'u-1', name: 'ann.lee', names: { 'u-2': 'bo.chen' }, phase: 'export', situation: 'linked', action: 'update', status: 'success', steps: [], changes: [{ attribute: 'manager', old: [], new: ['u-2'] }] },
    ]);
    const entries = await store.log({});
    await store.close();
    expect(entries.map((e) => [e.object, e.name, e.names])).toEqual([
      ['E1', 'E1', undefined],
      ['u-1', 'ann.lee', { 'u-2': 'bo.chen' }],
    ]);
  });
});
