/**
 * Export: creates, updates and deletes in transactions of `exportBatchSize` changes. Each change runs inside
 * its own SAVEPOINT: a change that breaks a constraint is rolled back alone and reported, the others commit.
 * (Savepoints rather than "retry the batch without the failing row": one round trip more per change, but no
 * change is ever sent twice, and a batch with several bad rows costs no extra passes.)
 */
import { ConnectorError } from '../../core/errors.js';
import { isReference, type Value } from '../../core/values.js';
import type {
  AttributeChange,
  ConnectorObject,
  ExportChange,
  ExportError,
  ExportResult,
} from '../contract.js';
import type { ColumnInfo, HeldSession, Session } from './client.js';
import { equals, inList, Params } from './dialect.js';
import { classify, connectorError } from './errors.js';
import { type ChildTable, columnOfAttribute, kindOf, type ObjectTypeMapping, selectList } from './mapping.js';
import { anchorTuples, notDeleted, probe, readByAnchors, rowsToChanges, type Runtime } from './runtime.js';
import { parseNamedStatement } from './statements.js';
import { decodeColumn, encodeAnchor, encodeParam, ValueError } from './values.js';

/** A change that cannot be applied as asked; reported as its result, never thrown out of export(). */
class ChangeError extends Error {
  constructor(readonly error: ExportError) {
    super(error.message);
  }
}

function invalid(code: string, message: string, attribute?: string): ChangeError {
  return new ChangeError({ code, message, retryable: false, ...(attribute ? { attribute } : {}) });
}

const MAX_ATTEMPTS = 3;

export async function* runExport(rt: Runtime, changes: ExportChange[]): AsyncGenerator<ExportResult> {
  const size = rt.settings.exportBatchSize;
  for (let i = 0; i < changes.length; i += size) {
    yield* await exportBatch(rt, changes.slice(i, i + size));
  }
}

async function exportBatch(rt: Runtime, batch: ExportChange[]): Promise<ExportResult[]> {
  for (let attempt = 1; ; attempt++) {
    let session: HeldSession;
    try {
      session = await rt.db.connect();
    } catch (err) {
      return failAll(batch, classify(rt.db.driver, err));
    }
    let broken = false;
    let released = false;
    try {
      await session.query(rt.db.driver === 'mysql' ? 'START TRANSACTION' : 'BEGIN');
      const results: ExportResult[] = [];
      for (const change of batch) results.push(await applyInSavepoint(rt, session, change));
      await session.query('COMMIT');
      return results;
    } catch (err) {
      const c = classify(rt.db.driver, err);
      try {
        await session.query('ROLLBACK');
      } catch {
        broken = true;
      }
      if (c.scope === 'connection') broken = true;
      if (c.scope === 'transaction' && attempt < MAX_ATTEMPTS) continue;
      // a constraint checked at COMMIT (deferred): one transaction per change tells which one it was
      if (c.scope === 'row' && batch.length > 1) {
        session.release(broken);
        released = true;
        const results: ExportResult[] = [];
        for (const change of batch) results.push(...(await exportBatch(rt, [change])));
        return results;
      }
      return failAll(batch, c);
    } finally {
      if (!released) session.release(broken);
    }
  }
}

function failAll(batch: ExportChange[], c: ExportError & { scope?: string }): ExportResult[] {
  const { scope, ...rest } = c;
  const error = scope === 'connection' ? { ...rest, connection: true } : rest;
  return batch.map((change) => ({ id: change.id, ok: false, error }));
}

async function applyInSavepoint(rt: Runtime, session: Session, change: ExportChange): Promise<ExportResult> {
  await session.query('SAVEPOINT idsync_change');
  try {
    const result = await applyChange(rt, session, change);
    await session.query('RELEASE SAVEPOINT idsync_change');
    return result;
  } catch (err) {
    let error: ExportError;
    if (err instanceof ChangeError) error = err.error;
    else if (err instanceof ValueError)
      error = { code: 'INVALID_VALUE', message: err.message, retryable: false };
    else {
      const c = classify(rt.db.driver, err);
      if (c.scope !== 'row') throw err;
      const { scope: _scope, ...rest } = c;
      error = rest;
    }
    await session.query('ROLLBACK TO SAVEPOINT idsync_change');
    return { id: change.id, ok: false, error };
  }
}

async function applyChange(rt: Runtime, session: Session, change: ExportChange): Promise<ExportResult> {
  const m = rt.mappings.get(change.objectType);
  if (!m) throw invalid('UNKNOWN_OBJECT_TYPE', `no object type ${change.objectType} in connector ${rt.name}`);
  await probe(rt, session, m);
  switch (change.op) {
    case 'create':
      return { id: change.id, ok: true, anchor: await create(rt, session, m, change.attributes) };
    case 'update':
      await update(rt, session, m, change.anchor, change.changes);
      return { id: change.id, ok: true, anchor: change.anchor };
    case 'delete':
      await remove(rt, session, m, change.anchor);
      return { id: change.id, ok: true, anchor: change.anchor };
  }
}

// ---- values ------------------------------------------------------------------------------------------------

function columnParam(
  rt: Runtime,
  m: ObjectTypeMapping,
  column: string,
  attribute: string,
  values: Value[],
): unknown {
  const info = m.exportColumns?.get(column) ?? m.columns?.get(column);
  const kind = kindOf(m, info, column);
  if (kind === 'array') return values.map((v) => encodeParam(v, info?.elementKind, rt.ctx));
  if (values.length === 0) return null;
  if (values.length > 1)
    throw invalid('TOO_MANY_VALUES', `column ${column} holds one value, got ${values.length}`, attribute);
  return encodeParam(values[0]!, kind, rt.ctx);
}

function targetTable(m: ObjectTypeMapping): string {
  if (!m.exportTable)
    throw invalid('EXPORT_UNSUPPORTED', `object type ${m.objectType} has no table to write to`);
  return m.exportTable;
}

/** Plain text per value for set arithmetic: a reference and the string it holds are the same column value. */
function valueText(v: Value): string {
  if (v instanceof Uint8Array) return `x:${Buffer.from(v).toString('hex')}`;
  return `s:${isReference(v) ? v.ref : String(v)}`;
}

function applyAttributeChange(current: Value[], change: AttributeChange): Value[] {
  let values = change.replace ? [...change.replace] : [...current];
  if (change.remove) {
    const gone = new Set(change.remove.map(valueText));
    values = values.filter((v) => !gone.has(valueText(v)));
  }
  if (change.add) {
    const have = new Set(values.map(valueText));
    for (const v of change.add) if (!have.has(valueText(v))) values.push(v);
  }
  return values;
}

function anchorOf(rt: Runtime, m: ObjectTypeMapping, anchor: string): unknown[] {
  try {
    return anchorTuples(rt, m, [anchor])[0]!;
  } catch (err) {
    throw invalid('INVALID_ANCHOR', (err as Error).message);
  }
}

// ---- create ------------------------------------------------------------------------------------------------

async function create(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  attributes: Record<string, Value[]>,
): Promise<string> {
  const columns = new Map<string, { attribute: string; values: Value[] }>();
  for (const [attribute, values] of Object.entries(attributes)) {
    if (m.children.has(attribute) || values.length === 0) continue;
    const column = columnOfAttribute(m, attribute);
    if (!column)
      throw invalid(
        'UNKNOWN_ATTRIBUTE',
        `object type ${m.objectType} has no attribute ${attribute}`,
        attribute,
      );
    columns.set(column, { attribute, values });
  }
  const statement = m.settings.export?.create;
  const anchor = statement
    ? await createWithStatement(rt, session, m, statementText(statement), attributes, columns)
    : await createWithInsert(rt, session, m, columns);
  for (const [attribute, child] of m.children) {
    const values = attributes[attribute] ?? [];
    if (values.length > 0) await insertChildren(rt, session, m, child, anchor, values);
  }
  return anchor;
}

async function createWithInsert(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  columns: Map<string, { attribute: string; values: Value[] }>,
): Promise<string> {
  const q = rt.dialect.quote;
  const table = q(targetTable(m));
  const params = new Params(rt.db.driver);
  const names = [...columns.keys()];
  const placeholders = names.map((c) =>
    params.add(columnParam(rt, m, c, columns.get(c)!.attribute, columns.get(c)!.values)),
  );
  const returning = rt.db.driver === 'mysql' ? '' : ` RETURNING ${m.anchor.map((a) => q(a)).join(', ')}`;
  let sql: string;
  if (names.length > 0)
    sql = `INSERT INTO ${table} (${names.map((c) => q(c)).join(', ')}) VALUES (${placeholders.join(', ')})`;
  else
    sql =
      rt.db.driver === 'mysql' ? `INSERT INTO ${table} () VALUES ()` : `INSERT INTO ${table} DEFAULT VALUES`;
  const result = await session.query(sql + returning, params.values);
  const row = result.rows[0];
  if (row) {
    const anchor = encodeAnchor(
      m.anchor.map(
        (a) => decodeColumn(row[a], kindOf(m, columnInfoFrom(result.columns, a), a) ?? 'string', rt.ctx)[0],
      ),
    );
    if (anchor !== undefined) return anchor;
  }
  return anchorAfterInsert(m, columns, result.insertId);
}

function columnInfoFrom(columns: ColumnInfo[], name: string): ColumnInfo | undefined {
  return columns.find((c) => c.name === name);
}

/** Without RETURNING (MariaDB): the anchor columns as given, or the AUTO_INCREMENT value. */
function anchorAfterInsert(
  m: ObjectTypeMapping,
  columns: Map<string, { values: Value[] }>,
  insertId: number | string | undefined,
): string {
  const given = encodeAnchor(m.anchor.map((a) => columns.get(a)?.values[0]));
  if (given !== undefined) return given;
  if (m.anchor.length === 1 && insertId !== undefined && insertId !== 0) return String(insertId);
  throw invalid(
    'ANCHOR_UNKNOWN',
    `the database did not return the anchor (${m.anchor.join(', ')}) of the created row`,
  );
}

function statementText(s: string | { statement: string }): string {
  return typeof s === 'string' ? s : s.statement;
}

/** Binds `:name` parameters: `anchor`, anchor columns, then attributes; a name with no value binds NULL. */
function bindNamed(
  rt: Runtime,
  m: ObjectTypeMapping,
  text: string,
  attributes: Record<string, Value[]>,
  anchor?: string,
): { sql: string; values: unknown[] } {
  const parsed = parseNamedStatement(text, rt.db.driver);
  const anchorParts = anchor !== undefined ? anchorOf(rt, m, anchor) : undefined;
  const values = parsed.names.map((name) => {
    if (name === 'anchor' && anchor !== undefined) return m.anchor.length === 1 ? anchorParts![0] : anchor;
    const anchorIndex = m.anchor.indexOf(name);
    if (anchorParts && anchorIndex >= 0 && attributes[name] === undefined) return anchorParts[anchorIndex];
    const column = columnOfAttribute(m, name) ?? name;
    return columnParam(rt, m, column, name, attributes[name] ?? []);
  });
  return { sql: parsed.sql, values };
}

async function createWithStatement(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  text: string,
  attributes: Record<string, Value[]>,
  columns: Map<string, { values: Value[] }>,
): Promise<string> {
  const bound = bindNamed(rt, m, text, attributes);
  const result = await session.query(bound.sql, bound.values);
  const row = result.rows[0];
  if (row) {
    // a RETURNING clause, a function's result, or a procedure's result set
    const hasAnchorColumns = m.anchor.every((a) => a in row);
    const raw = hasAnchorColumns ? m.anchor.map((a) => row[a]) : [Object.values(row)[0]];
    const names = hasAnchorColumns ? m.anchor : [result.columns[0]?.name ?? ''];
    const anchor = encodeAnchor(
      raw.map(
        (r, i) => decodeColumn(r, columnInfoFrom(result.columns, names[i]!)?.kind ?? 'string', rt.ctx)[0],
      ),
    );
    if (anchor !== undefined) return anchor;
  }
  return anchorAfterInsert(m, columns, result.insertId);
}

// ---- children ----------------------------------------------------------------------------------------------

async function childKind(
  rt: Runtime,
  session: Session,
  child: ChildTable & { info?: ColumnInfo },
): Promise<ColumnInfo | undefined> {
  if (!child.info) {
    const q = rt.dialect.quote;
    const result = await session.query(`SELECT ${q(child.value)} FROM ${q(child.table)} WHERE 1 = 0`);
    child.info = result.columns[0];
  }
  return child.info;
}

function childValueParam(rt: Runtime, child: ChildTable, info: ColumnInfo | undefined, v: Value): unknown {
  return encodeParam(v, child.kindOverride ?? info?.kind, rt.ctx);
}

async function insertChildren(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  child: ChildTable,
  anchor: string,
  values: Value[],
): Promise<void> {
  if (values.length === 0) return;
  const q = rt.dialect.quote;
  const info = await childKind(rt, session, child);
  const key = anchorOf(rt, m, anchor);
  const params = new Params(rt.db.driver);
  const tuples = values.map(
    (v) =>
      `(${[...key.map((k) => params.add(k)), params.add(childValueParam(rt, child, info, v))].join(', ')})`,
  );
  const cols = [...child.key, child.value].map((c) => q(c)).join(', ');
  await session.query(`INSERT INTO ${q(child.table)} (${cols}) VALUES ${tuples.join(', ')}`, params.values);
}

async function updateChildren(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  child: ChildTable,
  anchor: string,
  change: AttributeChange,
): Promise<void> {
  const q = rt.dialect.quote;
  const info = await childKind(rt, session, child);
  const key = anchorOf(rt, m, anchor);
  const params = new Params(rt.db.driver);
  const result = await session.query(
    `SELECT ${q(child.value)} FROM ${q(child.table)} WHERE ${equals(rt.dialect, params, child.key, key)}`,
    params.values,
  );
  const current = result.rows.flatMap((r) =>
    decodeColumn(r[child.value], child.kindOverride ?? info?.kind ?? 'string', rt.ctx),
  );
  const target = applyAttributeChange(current, change);
  const targetKeys = new Set(target.map(valueText));
  const currentKeys = new Set(current.map(valueText));
  for (const v of current) {
    if (targetKeys.has(valueText(v))) continue;
    const p = new Params(rt.db.driver);
    const where = `${equals(rt.dialect, p, child.key, key)} AND ${q(child.value)} = ${p.add(childValueParam(rt, child, info, v))}`;
    await session.query(`DELETE FROM ${q(child.table)} WHERE ${where}`, p.values);
  }
  await insertChildren(
    rt,
    session,
    m,
    child,
    anchor,
    target.filter((v) => !currentKeys.has(valueText(v))),
  );
}

// ---- update ------------------------------------------------------------------------------------------------

async function update(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  anchor: string,
  changes: Record<string, AttributeChange>,
): Promise<void> {
  const key = anchorOf(rt, m, anchor);
  const columnChanges = Object.entries(changes).filter(([attribute]) => !m.children.has(attribute));
  const statement = m.settings.export?.update;
  if (statement) {
    const current = await readObject(rt, session, m, anchor);
    if (!current) throw notFound(m, anchor);
    const state: Record<string, Value[]> = { ...current.attributes };
    for (const [attribute, change] of columnChanges)
      state[attribute] = applyAttributeChange(state[attribute] ?? [], change);
    const bound = bindNamed(rt, m, statementText(statement), state, anchor);
    await session.query(bound.sql, bound.values);
  } else if (columnChanges.length > 0) {
    await updateColumns(rt, session, m, anchor, key, columnChanges);
  } else if (!(await exists(rt, session, m, key))) {
    throw notFound(m, anchor);
  }
  for (const [attribute, change] of Object.entries(changes)) {
    const child = m.children.get(attribute);
    if (child) await updateChildren(rt, session, m, child, anchor, change);
  }
}

function notFound(m: ObjectTypeMapping, anchor: string): ChangeError {
  return invalid('NOT_FOUND', `no ${m.objectType} with anchor ${anchor}`);
}

async function updateColumns(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  anchor: string,
  key: unknown[],
  changes: [string, AttributeChange][],
): Promise<void> {
  const q = rt.dialect.quote;
  const table = targetTable(m);
  const targets: { column: string; attribute: string; change: AttributeChange }[] = [];
  for (const [attribute, change] of changes) {
    const column = columnOfAttribute(m, attribute);
    if (!column)
      throw invalid(
        'UNKNOWN_ATTRIBUTE',
        `object type ${m.objectType} has no attribute ${attribute}`,
        attribute,
      );
    targets.push({ column, attribute, change });
  }
  // add and remove are relative to the stored values: read those columns first
  const relative = targets.filter((t) => !t.change.replace);
  let current: Record<string, unknown> | undefined;
  if (relative.length > 0) {
    const p = new Params(rt.db.driver);
    const result = await session.query(
      `SELECT ${relative.map((t) => q(t.column)).join(', ')} FROM ${q(table)} WHERE ${equals(rt.dialect, p, m.anchor, key)}`,
      p.values,
    );
    current = result.rows[0];
    if (!current) throw notFound(m, anchor);
  }
  const params = new Params(rt.db.driver);
  const sets: string[] = [];
  for (const { column, attribute, change } of targets) {
    const info = m.exportColumns?.get(column) ?? m.columns?.get(column);
    const stored = current
      ? decodeColumn(current[column], kindOf(m, info, column) ?? 'string', rt.ctx, info?.elementKind)
      : [];
    const values = applyAttributeChange(stored, change);
    if (m.anchor.includes(column)) {
      if (
        values.length === 1 &&
        valueText(values[0]!) ===
          valueText(decodeColumn(key[m.anchor.indexOf(column)], 'string', rt.ctx)[0] ?? '')
      )
        continue;
      throw invalid(
        'ANCHOR_IMMUTABLE',
        `column ${column} is the anchor of ${m.objectType}: it cannot change`,
        attribute,
      );
    }
    sets.push(`${q(column)} = ${params.add(columnParam(rt, m, column, attribute, values))}`);
  }
  if (sets.length === 0) {
    if (!(await exists(rt, session, m, key))) throw notFound(m, anchor);
    return;
  }
  const result = await session.query(
    `UPDATE ${q(table)} SET ${sets.join(', ')} WHERE ${equals(rt.dialect, params, m.anchor, key)}`,
    params.values,
  );
  if (result.affected === 0) throw notFound(m, anchor);
}

async function exists(rt: Runtime, session: Session, m: ObjectTypeMapping, key: unknown[]): Promise<boolean> {
  const params = new Params(rt.db.driver);
  const table = m.exportTable ? rt.dialect.quote(m.exportTable) : m.from;
  const result = await session.query(
    `SELECT 1 AS found FROM ${table} WHERE ${equals(rt.dialect, params, m.anchor, key)}`,
    params.values,
  );
  return result.rows.length > 0;
}

async function readObject(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  anchor: string,
): Promise<ConnectorObject | undefined> {
  const { rows, columns } = await readByAnchors(rt, session, m, [anchor]);
  const { changes } = await rowsToChanges(rt, session, m, rows, columns);
  const first = changes[0];
  return first?.kind === 'upsert' ? first.object : undefined;
}

// ---- delete ------------------------------------------------------------------------------------------------

async function remove(rt: Runtime, session: Session, m: ObjectTypeMapping, anchor: string): Promise<void> {
  const q = rt.dialect.quote;
  const key = anchorOf(rt, m, anchor);
  const how = m.settings.export?.delete;
  if (how && how !== 'soft') {
    const bound = bindNamed(rt, m, statementText(how), {}, anchor);
    await session.query(bound.sql, bound.values);
    return;
  }
  const table = targetTable(m);
  if (how === 'soft') {
    const soft = m.settings.delta?.softDelete;
    if (!soft)
      throw invalid(
        'EXPORT_UNSUPPORTED',
        `object type ${m.objectType}: a soft delete needs delta.softDelete`,
      );
    const params = new Params(rt.db.driver);
    const info = m.exportColumns?.get(soft.column);
    const value =
      soft.value === undefined
        ? rt.dialect.nowUtc
        : params.add(encodeParam(soft.value, kindOf(m, info, soft.column), rt.ctx));
    await session.query(
      `UPDATE ${q(table)} SET ${q(soft.column)} = ${value} WHERE ${equals(rt.dialect, params, m.anchor, key)}`,
      params.values,
    );
    return;
  }
  for (const child of m.children.values()) {
    const params = new Params(rt.db.driver);
    await session.query(
      `DELETE FROM ${q(child.table)} WHERE ${equals(rt.dialect, params, child.key, key)}`,
      params.values,
    );
  }
  const params = new Params(rt.db.driver);
  // a row already gone is what was asked for: deletes are idempotent
  await session.query(
    `DELETE FROM ${q(table)} WHERE ${equals(rt.dialect, params, m.anchor, key)}`,
    params.values,
  );
}

// ---- lookup ------------------------------------------------------------------------------------------------

export async function runLookup(
  rt: Runtime,
  objectType: string,
  attribute: string,
  values: Value[],
): Promise<ConnectorObject[]> {
  const m = rt.mappings.get(objectType);
  if (!m)
    throw new ConnectorError(
      'SQL_UNKNOWN_OBJECT_TYPE',
      `no object type ${objectType}`,
      { connector: rt.name },
      false,
    );
  if (values.length === 0) return [];
  const session = await rt.db.connect();
  let broken = false;
  try {
    await probe(rt, session, m);
    const q = rt.dialect.quote;
    const params = new Params(rt.db.driver);
    const child = m.children.get(attribute);
    let match: string;
    if (child) {
      const info = await childKind(rt, session, child);
      const inner = inList(
        rt.dialect,
        params,
        [child.value],
        values.map((v) => [childValueParam(rt, child, info, v)]),
      );
      const keys = child.key.map((k) => q(k)).join(', ');
      const outer = m.anchor.length === 1 ? q(m.anchor[0]!) : `(${m.anchor.map((a) => q(a)).join(', ')})`;
      match = `${outer} IN (SELECT ${keys} FROM ${q(child.table)} WHERE ${inner})`;
    } else {
      const column = columnOfAttribute(m, attribute);
      if (!column) {
        throw new ConnectorError(
          'SQL_UNKNOWN_ATTRIBUTE',
          `object type ${objectType} has no attribute ${attribute}`,
          { connector: rt.name, attribute },
          false,
        );
      }
      const info = m.columns?.get(column);
      const kind = kindOf(m, info, column);
      match = inList(
        rt.dialect,
        params,
        [column],
        values.map((v) => [encodeParam(v, kind, rt.ctx)]),
      );
    }
    const where = [match];
    const live = notDeleted(rt, m, params);
    if (live) where.push(live);
    const result = await session.query(
      `SELECT ${selectList(m, rt.dialect)} FROM ${m.from} WHERE ${where.join(' AND ')}`,
      params.values,
    );
    const { changes } = await rowsToChanges(rt, session, m, result.rows, result.columns);
    return changes.flatMap((c) => (c.kind === 'upsert' ? [c.object] : []));
  } catch (err) {
    broken = classify(rt.db.driver, err).scope === 'connection';
    if (err instanceof ConnectorError) throw err;
    throw connectorError(rt.db.driver, rt.name, err, `lookup ${objectType}.${attribute}`);
  } finally {
    session.release(broken);
  }
}
