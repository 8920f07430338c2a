/**
 * Every statement of the store, written once over a dialect (dialect.ts): the SQLite and the PostgreSQL store
 * run the same text, placeholders numbered for PostgreSQL by its executor. What differs in a statement is
 * a dialect call; what differs beyond statements (DDL, migrations, tuning, the lease, transactions) stays
 * in each store's own file.
 */
import type { StoreDialect } from './dialect.js';
import type { Deferred } from './write-behind.js';

export function statements(d: StoreDialect) {
  return {
    getMeta: 'SELECT value FROM meta WHERE key = ?',
    setMeta: 'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    delMeta: 'DELETE FROM meta WHERE key = ?',
    getWm: 'SELECT watermark FROM watermarks WHERE connector = ?',
    setWm:
      'INSERT INTO watermarks(connector, watermark, updated_at) VALUES (?, ?, ?) ON CONFLICT(connector) DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at',
    loggedNames: `SELECT mv_id, COALESCE(name, object) AS name FROM log WHERE ${d.inList('mv_id')} ORDER BY id`,
    // A search reads every row (no index serves "contains"): a command a person runs, not a cycle's work.
    csSearch: `SELECT * FROM cs WHERE id > ? AND (${d.contains('lower(anchor)')} OR ${d.contains('lower(name)')} OR ${d.contains('lower(attributes)')}) ORDER BY id LIMIT ?`,
    mvSearch: `SELECT * FROM mv WHERE id > ? AND (${d.contains('lower(id)')} OR ${d.contains('lower(attributes)')}) ORDER BY id LIMIT ?`,
    insertCs: 'INSERT INTO cs(connector, object_type, anchor, name, attributes, present, dirty) VALUES (?, ?, ?, ?, ?, 1, 1)',
    updateCs: 'UPDATE cs SET object_type = ?, anchor = ?, name = ?, attributes = ?, present = 1, dirty = 1 WHERE id = ?',
    // SQLite rewrites an index entry whenever its column is assigned, even to the same value: an update that
    // changes only attributes assigns only them (a 1,000-change cycle wrote half its WAL into cs's indexes).
    updateCsAttributes: 'UPDATE cs SET attributes = ?, dirty = 1 WHERE id = ?',
    csById: 'SELECT * FROM cs WHERE id = ?',
    csIndexState: 'SELECT connector, object_type, anchor, name, present, attributes FROM cs WHERE id = ?',
    namesToMv: `SELECT name AS key, mv_id FROM cs WHERE connector = ? AND ${d.inList('name')}`,
    anchorsToMv: `SELECT anchor AS key, mv_id FROM cs WHERE connector = ? AND ${d.inList('anchor')}`,
    // the planner would rather use (connector, name) and scan the connector's rows
    linksIn: `SELECT mv_id, present, anchor, name FROM cs${d.indexedBy('cs_link')} WHERE ${d.inList('mv_id')} AND connector = ?`,
    csByName: 'SELECT * FROM cs WHERE connector = ? AND name = ?',
    csByMv: 'SELECT * FROM cs WHERE mv_id = ?',
    csLinksByMv: `SELECT id, connector, object_type, anchor, name, present, mv_id FROM cs WHERE ${d.inList('mv_id')}`,
    csAttributes: 'SELECT attributes FROM cs WHERE id = ?',
    importedPage: 'SELECT id, anchor FROM cs WHERE connector = ? AND present = 1 AND anchor IS NOT NULL AND id > ? ORDER BY id LIMIT ?',
    anyImported: 'SELECT 1 AS one FROM cs WHERE connector = ? AND present = 1 AND anchor IS NOT NULL LIMIT 1',
    gone: `UPDATE cs SET present = 0, dirty = 1 WHERE ${d.inList('id')}`,
    placeholder:
      "INSERT INTO cs(connector, object_type, anchor, name, attributes, present, mv_id, dirty) VALUES (?, ?, NULL, NULL, '{}', 0, ?, 0)",
    deleteCs: `DELETE FROM cs WHERE ${d.inList('id')}`,
    countCs:
      'SELECT SUM(present) AS present, SUM(CASE WHEN present = 1 AND mv_id IS NOT NULL THEN 1 ELSE 0 END) AS linked, SUM(CASE WHEN anchor IS NULL THEN 1 ELSE 0 END) AS pending_create FROM cs WHERE connector = ?',
    dirtyCs: 'SELECT * FROM cs WHERE dirty = 1 AND id > ? ORDER BY id LIMIT ?',
    cleanCs: `UPDATE cs SET dirty = 0 WHERE ${d.inList('id')}`,
    dirtyCs1: `UPDATE cs SET dirty = 1 WHERE ${d.inList('id')} AND dirty = 0`,
    // only rows not marked yet: SQLite writes every row an UPDATE matches, changed or not (after an initial
    // import, all 100,000 already are)
    dirtyCsAll: 'UPDATE cs SET dirty = 1 WHERE anchor IS NOT NULL AND dirty = 0',
    refsDel: 'DELETE FROM cs_refs WHERE cs_id = ?',
    refsDelMany: `DELETE FROM cs_refs WHERE ${d.inList('cs_id')}`,
    refsAdd: 'INSERT INTO cs_refs(connector, target, cs_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    // WHERE true: SQLite needs it between INSERT … SELECT and ON CONFLICT
    refsAddMany: `INSERT INTO cs_refs(connector, cs_id, target) SELECT ${d.typed('text')}, ${d.typed('int')}, value FROM ${d.listRows('text')} WHERE true ON CONFLICT DO NOTHING`,
    refsTo: `SELECT target, cs_id FROM cs_refs WHERE ${d.inList('target')}`,
    refsDrop: `DELETE FROM cs_refs WHERE ${d.notInList('connector')}`,
    csIdxDel: 'DELETE FROM cs_index WHERE cs_id = ?',
    csIdxDelMany: `DELETE FROM cs_index WHERE ${d.inList('cs_id')}`,
    csIdxAdd: 'INSERT INTO cs_index(connector, attr, key, cs_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    csIdxFind: 'SELECT cs.* FROM cs_index i JOIN cs ON cs.id = i.cs_id WHERE i.connector = ? AND i.attr = ? AND i.key = ? AND cs.object_type = ?',
    csIdxFindMany: `SELECT i.key AS match_key, cs.* FROM cs_index i JOIN cs ON cs.id = i.cs_id WHERE i.connector = ? AND i.attr = ? AND ${d.inList('i.key')} AND cs.object_type = ?`,
    csPage: 'SELECT id, connector, object_type, attributes FROM cs WHERE id > ? ORDER BY id LIMIT 1000',
    csPageOf: 'SELECT id, attributes FROM cs WHERE connector = ? AND id > ? ORDER BY id LIMIT 1000',
    mvById: 'SELECT * FROM mv WHERE id = ?',
    mvUpdate: 'UPDATE mv SET attributes = ?, dirty = 1 WHERE id = ?',
    mvDelete: 'UPDATE mv SET deleted = 1, dirty = 1 WHERE id = ?',
    mvPurge: 'DELETE FROM mv WHERE id = ?',
    mvIdxDel: 'DELETE FROM mv_index WHERE mv_id = ?',
    mvIdxAdd: 'INSERT INTO mv_index(attr, key, mv_id, object_type) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    mvIdxFind: 'SELECT i.mv_id FROM mv_index i JOIN mv ON mv.id = i.mv_id WHERE i.object_type = ? AND i.attr = ? AND i.key = ? AND mv.deleted = 0',
    mvIdxFindMany: `SELECT i.key, i.mv_id FROM mv_index i JOIN mv ON mv.id = i.mv_id WHERE i.object_type = ? AND i.attr = ? AND ${d.inList('i.key')} AND mv.deleted = 0`,
    mvPage: 'SELECT id, object_type, attributes FROM mv WHERE deleted = 0 AND id > ? ORDER BY id LIMIT 1000',
    mvRefsDel: 'DELETE FROM mv_refs WHERE mv_id = ?',
    mvRefsAdd: 'INSERT INTO mv_refs(mv_id, target) VALUES (?, ?) ON CONFLICT DO NOTHING',
    mvRefsAddMany: `INSERT INTO mv_refs(mv_id, target) SELECT ${d.typed('text')}, value FROM ${d.listRows('text')} WHERE true ON CONFLICT DO NOTHING`,
    mvRefsTo: 'SELECT DISTINCT mv_id FROM mv_refs WHERE target = ?',
    // a fixed join order (references of the new objects first): otherwise the planner may scan every object
    // of the connector
    mvRefsSettled: `SELECT DISTINCT r.mv_id FROM mv_refs r ${d.fixedJoin} cs ON cs.mv_id = r.mv_id AND ${d.unindexed('cs.connector')} = ?
       LEFT JOIN pending p ON p.cs_id = cs.id WHERE ${d.inList('r.target')} AND p.cs_id IS NULL`,
    dirtyMv: 'SELECT id FROM mv WHERE dirty = 1 AND id > ? ORDER BY id LIMIT ?',
    dirtyMv1: `UPDATE mv SET dirty = 1 WHERE ${d.inList('id')} AND dirty = 0`,
    dirtyMvAll: 'UPDATE mv SET dirty = 1 WHERE dirty = 0', // as dirtyCsAll: only rows not marked yet
    cleanMv: `UPDATE mv SET dirty = 0 WHERE ${d.inList('id')}`,
    countMv: 'SELECT object_type, COUNT(*) AS n FROM mv WHERE deleted = 0 GROUP BY object_type',
    clearIndexes: ['DELETE FROM mv_index', 'DELETE FROM cs_index'],
    getPending: 'SELECT * FROM pending WHERE cs_id = ?',
    clearPendings: `DELETE FROM pending WHERE ${d.inList('cs_id')}`,
    pendingFirst: 'SELECT * FROM pending WHERE connector = ? ORDER BY rank, cs_id LIMIT ?',
    pendingAfter: 'SELECT * FROM pending WHERE connector = ? AND (rank > ? OR (rank = ? AND cs_id > ?)) ORDER BY rank, cs_id LIMIT ?',
    pendingOps: 'SELECT op, COUNT(*) AS n FROM pending WHERE connector = ? GROUP BY op',
    pendingOfRank:
      'SELECT p.cs_id, cs.mv_id, p.desired_name, p.not_before FROM pending p JOIN cs ON cs.id = p.cs_id WHERE p.connector = ? AND p.rank = ?',
    pendingState: `UPDATE pending SET state = ? WHERE ${d.inList('cs_id')}`,
    failPending: "UPDATE pending SET state = 'error', attempts = attempts + 1, last_error = ?, not_before = ? WHERE cs_id = ?",
    countPending: 'SELECT state, COUNT(*) AS n FROM pending WHERE connector = ? GROUP BY state',
    recordError: `INSERT INTO object_errors(connector, key, phase, code, message, location, remote_code, attribute, attempts, first_at, last_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT(connector, key) DO UPDATE SET phase = excluded.phase, code = excluded.code, message = excluded.message,
         location = excluded.location, remote_code = excluded.remote_code, attribute = excluded.attribute,
         attempts = object_errors.attempts + 1, last_at = excluded.last_at`,
    clearError: 'DELETE FROM object_errors WHERE connector = ? AND key = ? AND phase = ?',
    errorConnectors: 'SELECT DISTINCT connector FROM object_errors',
    errorsAll: 'SELECT * FROM object_errors ORDER BY connector, key',
    errorsFor: 'SELECT * FROM object_errors WHERE connector = ? ORDER BY key',
    countErrors: 'SELECT connector, COUNT(*) AS n FROM object_errors GROUP BY connector',
    appendLog:
      'INSERT INTO log(run_id, at, connector, object, cs_id, mv_id, phase, situation, action, status, steps, changes, error, name, names) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    pruneLog: 'DELETE FROM log WHERE id IN (SELECT id FROM log WHERE at < ? ORDER BY at LIMIT ?)',
    logObject: `(object = ? OR name = ? OR mv_id = ? OR mv_id IN (SELECT mv_id FROM cs WHERE anchor = ? OR name = ?) OR ${d.inList('cs_id')} OR ${d.inList('mv_id')})`,
    startRun: "INSERT INTO runs(kind, started_at, status) VALUES (?, ?, 'running')",
    finishRun: 'UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?',
    runs: 'SELECT * FROM runs ORDER BY id DESC LIMIT ?',
    runsByIds: `SELECT * FROM runs WHERE ${d.inList('id')} ORDER BY id DESC`,
    approve: 'INSERT INTO approvals(connector, at) VALUES (?, ?) ON CONFLICT(connector) DO UPDATE SET at = excluded.at',
    getApproval: 'SELECT at FROM approvals WHERE connector = ?',
    takeApproval: 'DELETE FROM approvals WHERE connector = ?',
  };
}

export type Statements = ReturnType<typeof statements>;

type Column = Deferred['columns'][number];

/**
 * The writes the store defers inside a transaction (write-behind.ts), in the order they go out: a row's
 * statement on SQLite (run once per row, prepared), one set-based statement over arrays on PostgreSQL.
 */
export function deferredStatements(d: StoreDialect) {
  let order = 0;
  const kind = (name: string, columns: Column[], row: string, set: (rows: string) => string): Deferred => ({
    name,
    order: order++,
    columns,
    sql: d.name === 'sqlite' ? row : set(`unnest(${columns.map((c) => `?::${c}[]`).join(', ')})`),
  });
  const pendingUpsert = `ON CONFLICT(cs_id) DO UPDATE SET op = excluded.op, desired = excluded.desired, create_only = excluded.create_only,
         desired_name = excluded.desired_name, rule = excluded.rule, rank = excluded.rank, disable = excluded.disable,
         state = CASE WHEN pending.state = 'in-flight' THEN 'in-flight' ELSE 'pending' END,
         not_before = CASE WHEN pending.op = excluded.op AND pending.desired = excluded.desired
           AND ${d.same('pending.desired_name', 'excluded.desired_name')} THEN pending.not_before ELSE 0 END`;
  return {
    // (id, object_type, attributes)
    mvInsert: kind(
      'mvInsert',
      ['text', 'text', 'text'],
      'INSERT INTO mv(id, object_type, attributes, dirty) VALUES (?, ?, ?, 1)',
      (rows) => `INSERT INTO mv(id, object_type, attributes, dirty) SELECT i, t, a, 1 FROM ${rows} AS r(i, t, a)`,
    ),
    // (attr, key, mv_id, object_type)
    mvIndex: kind(
      'mvIndex',
      ['text', 'text', 'text', 'text'],
      'INSERT INTO mv_index(attr, key, mv_id, object_type) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      (rows) => `INSERT INTO mv_index(attr, key, mv_id, object_type) SELECT * FROM ${rows} ON CONFLICT DO NOTHING`,
    ),
    // (mv_id, target)
    mvRefs: kind(
      'mvRefs',
      ['text', 'text'],
      'INSERT INTO mv_refs(mv_id, target) VALUES (?, ?) ON CONFLICT DO NOTHING',
      (rows) => `INSERT INTO mv_refs(mv_id, target) SELECT * FROM ${rows} ON CONFLICT DO NOTHING`,
    ),
    // (id, connector, object_type, mv_id): PostgreSQL only, with ids taken from the sequence ahead
    placeholder: kind(
      'placeholder',
      ['bigint', 'text', 'text', 'text'],
      "INSERT INTO cs(id, connector, object_type, anchor, name, attributes, present, mv_id, dirty) VALUES (?, ?, ?, NULL, NULL, '{}', 0, ?, 0)",
      (rows) =>
        `INSERT INTO cs(id, connector, object_type, anchor, name, attributes, present, mv_id, dirty) SELECT i, c, t, NULL, NULL, '{}', 0, m, 0 FROM ${rows} AS r(i, c, t, m)`,
    ),
    // (anchor, name, attributes, present, id)
    confirm: kind(
      'confirm',
      ['text', 'text', 'text', 'int', 'bigint'],
      'UPDATE cs SET anchor = COALESCE(?, anchor), name = COALESCE(?, name), attributes = ?, present = ? WHERE id = ?',
      (rows) =>
        `UPDATE cs SET anchor = COALESCE(r.a, cs.anchor), name = COALESCE(r.n, cs.name), attributes = r.h, present = r.p FROM ${rows} AS r(a, n, h, p, i) WHERE cs.id = r.i`,
    ),
    // (attributes, id)
    confirmAttributes: kind(
      'confirmAttributes',
      ['text', 'bigint'],
      'UPDATE cs SET attributes = ? WHERE id = ?',
      (rows) => `UPDATE cs SET attributes = r.h FROM ${rows} AS r(h, i) WHERE cs.id = r.i`,
    ),
    // (cs_id): an object's reference and join-index rows before they are written again
    refsDelete: kind('refsDelete', ['bigint'], 'DELETE FROM cs_refs WHERE cs_id = ?', () => 'DELETE FROM cs_refs WHERE cs_id = ANY(?::bigint[])'),
    csIndexDelete: kind('csIndexDelete', ['bigint'], 'DELETE FROM cs_index WHERE cs_id = ?', () => 'DELETE FROM cs_index WHERE cs_id = ANY(?::bigint[])'),
    // (connector, target, cs_id)
    refs: kind(
      'refs',
      ['text', 'text', 'bigint'],
      'INSERT INTO cs_refs(connector, target, cs_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      (rows) => `INSERT INTO cs_refs(connector, target, cs_id) SELECT * FROM ${rows} ON CONFLICT DO NOTHING`,
    ),
    // (connector, attr, key, cs_id)
    csIndex: kind(
      'csIndex',
      ['text', 'text', 'text', 'bigint'],
      'INSERT INTO cs_index(connector, attr, key, cs_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      (rows) => `INSERT INTO cs_index(connector, attr, key, cs_id) SELECT * FROM ${rows} ON CONFLICT DO NOTHING`,
    ),
    // (mv_id, id)
    link: kind('link', ['text', 'bigint'], 'UPDATE cs SET mv_id = ? WHERE id = ?', (rows) => `UPDATE cs SET mv_id = r.m FROM ${rows} AS r(m, i) WHERE cs.id = r.i`),
    // (cs_id, connector, op, desired, create_only, desired_name, rule, rank, disable)
    pending: kind(
      'pending',
      ['bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'int', 'int'],
      `INSERT INTO pending(cs_id, connector, op, desired, create_only, desired_name, rule, rank, disable, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') ${pendingUpsert}`,
      (rows) => `INSERT INTO pending(cs_id, connector, op, desired, create_only, desired_name, rule, rank, disable, state)
       SELECT *, 'pending' FROM ${rows} ${pendingUpsert}`,
    ),
  };
}

export type DeferredStatements = ReturnType<typeof deferredStatements>;
