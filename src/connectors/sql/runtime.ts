/**
 * What import, export and lookup share: the open database, the resolved mappings, and the reads they all
 * need (column metadata, child values, rows by anchor).
 */
import type { ImportChange } from '../contract.js';
import type { ConnectorLogger } from '../contract.js';
import type { Value } from '../../core/values.js';
import type { ColumnInfo, Db, Row, Session } from './client.js';
import { type Dialect, inList, Params } from './dialect.js';
import { kindOf, type ObjectTypeMapping, RowError, rowAnchor, rowToObject, selectList } from './mapping.js';
import type { SqlSettings } from './settings.js';
import { parseTimestamp } from './time.js';
import {
  anchorParam,
  decodeAnchor,
  decodeColumn,
  encodeAnchor,
  encodeParam,
  type ValueContext,
} from './values.js';

export interface Runtime {
  name: string;
  settings: SqlSettings;
  db: Db;
  dialect: Dialect;
  ctx: ValueContext;
  mappings: Map<string, ObjectTypeMapping>;
  log: ConnectorLogger;
}

/** Learns the columns of an object type's rows (and of its export table) from a query that returns none. */
export async function probe(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  refresh = false,
): Promise<void> {
  if (!m.columns || refresh) {
    const delta = m.settings.delta;
    const extra = [delta?.mode === 'watermark' ? delta.column : undefined, delta?.softDelete?.column];
    const result = await session.query(
      `SELECT ${selectList(m, rt.dialect, extra)} FROM ${m.from} WHERE 1 = 0`,
    );
    m.columns = new Map(result.columns.map((c) => [c.name, c]));
  }
  if (m.exportTable && (!m.exportColumns || refresh)) {
    if (m.settings.table && m.exportTable === m.settings.table && !m.attributeOf) m.exportColumns = m.columns;
    else {
      const result = await session.query(`SELECT * FROM ${rt.dialect.quote(m.exportTable)} WHERE 1 = 0`);
      m.exportColumns = new Map(result.columns.map((c) => [c.name, c]));
    }
  }
}

export function mappingFor(rt: Runtime, objectType: string): ObjectTypeMapping | undefined {
  return rt.mappings.get(objectType);
}

/** "AND the row is not soft-deleted", when the object type has a soft-delete column. */
export function notDeleted(rt: Runtime, m: ObjectTypeMapping, params: Params): string | undefined {
  const soft = m.settings.delta?.softDelete;
  if (!soft) return undefined;
  const column = rt.dialect.quote(soft.column);
  if (soft.value === undefined) return `${column} IS NULL`;
  const kind = kindOf(m, m.columns?.get(soft.column), soft.column);
  return `(${column} IS NULL OR ${column} <> ${params.add(encodeParam(soft.value, kind, rt.ctx))})`;
}

export function isSoftDeleted(rt: Runtime, m: ObjectTypeMapping, row: Row, columns: ColumnInfo[]): boolean {
  const soft = m.settings.delta?.softDelete;
  if (!soft) return false;
  const raw = row[soft.column];
  if (soft.value === undefined) return raw !== null && raw !== undefined;
  const info = columns.find((c) => c.name === soft.column);
  const value = decodeColumn(raw, kindOf(m, info, soft.column) ?? 'string', rt.ctx)[0];
  if (value === undefined) return false;
  if (typeof soft.value === 'boolean')
    return value === soft.value || (typeof value !== 'boolean' && Boolean(Number(value)) === soft.value);
  return String(value) === String(soft.value);
}

/** Anchors as parameter tuples for the anchor columns of `m`. */
export function anchorTuples(rt: Runtime, m: ObjectTypeMapping, anchors: string[]): unknown[][] {
  return anchors.map((a) =>
    decodeAnchor(a, m.anchor.length).map((part, i) =>
      anchorParam(part, kindOf(m, m.columns?.get(m.anchor[i]!), m.anchor[i]!), rt.ctx),
    ),
  );
}

/** Child-table values of the given parents, by attribute then anchor. */
export async function readChildren(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  keys: { anchor: string; values: unknown[] }[],
): Promise<Map<string, Map<string, Value[]>>> {
  const out = new Map<string, Map<string, Value[]>>();
  for (const [attribute, child] of m.children) {
    const byAnchor = new Map<string, Value[]>();
    out.set(attribute, byAnchor);
    if (keys.length === 0) continue;
    const params = new Params(rt.db.driver);
    const q = rt.dialect.quote;
    const cols = [...child.key, child.value].map((c) => q(c)).join(', ');
    const where = inList(
      rt.dialect,
      params,
      child.key,
      keys.map((k) => k.values),
    );
    const result = await session.query(`SELECT ${cols} FROM ${q(child.table)} WHERE ${where}`, params.values);
    const kinds = new Map(result.columns.map((c) => [c.name, c]));
    const valueInfo = kinds.get(child.value);
    const valueKind = child.kindOverride ?? valueInfo?.kind ?? 'string';
    for (const row of result.rows) {
      const anchor = encodeAnchor(
        child.key.map((k) => decodeColumn(row[k], kinds.get(k)?.kind ?? 'string', rt.ctx)[0]),
      );
      if (anchor === undefined) continue;
      const values = decodeColumn(row[child.value], valueKind, rt.ctx, valueInfo?.elementKind);
      const list = byAnchor.get(anchor);
      if (list) list.push(...values);
      else byAnchor.set(anchor, values);
    }
  }
  return out;
}

/** Rows and their children as import changes; a row that does not convert becomes an error change. */
export async function rowsToChanges(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  rows: Row[],
  columns: ColumnInfo[],
): Promise<{ changes: ImportChange[]; anchors: string[] }> {
  const keyed: { anchor: string; row: Row }[] = [];
  const changes: ImportChange[] = [];
  for (const row of rows) {
    const anchor = rowAnchor(m, row, columns, rt.ctx);
    if (anchor === undefined) {
      changes.push({
        kind: 'error',
        location: `${rt.name}: ${m.objectType}`,
        code: 'SQL_ANCHOR_NULL',
        message: `a row has NULL in anchor column(s) ${m.anchor.join(', ')}`,
      });
      continue;
    }
    keyed.push({ anchor, row });
  }
  const children =
    m.children.size > 0
      ? await readChildren(
          rt,
          session,
          m,
          keyed.map((k) => ({ anchor: k.anchor, values: m.anchor.map((a) => k.row[a]) })),
        )
      : new Map<string, Map<string, Value[]>>();
  for (const { anchor, row } of keyed) {
    try {
      changes.push({ kind: 'upsert', object: rowToObject(m, anchor, row, columns, children, rt.ctx) });
    } catch (err) {
      const column = err instanceof RowError ? err.column : undefined;
      changes.push({
        kind: 'error',
        anchor,
        location: `${rt.name}: ${m.objectType} ${anchor}${column ? `: column ${column}` : ''}`,
        code: 'SQL_VALUE_INVALID',
        message: (err as Error).message,
      });
    }
  }
  return { changes, anchors: keyed.map((k) => k.anchor) };
}

/** The current rows of the given anchors (soft-deleted ones left out). */
export async function readByAnchors(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  anchors: string[],
): Promise<{ rows: Row[]; columns: ColumnInfo[] }> {
  if (anchors.length === 0) return { rows: [], columns: [...(m.columns?.values() ?? [])] };
  const params = new Params(rt.db.driver);
  const where = [inList(rt.dialect, params, m.anchor, anchorTuples(rt, m, anchors))];
  const live = notDeleted(rt, m, params);
  if (live) where.push(live);
  const result = await session.query(
    `SELECT ${selectList(m, rt.dialect)} FROM ${m.from} WHERE ${where.join(' AND ')}`,
    params.values,
  );
  return { rows: result.rows, columns: result.columns };
}

/** The database's clock, in ms since the epoch. */
export async function databaseNow(rt: Runtime, session: Session): Promise<number> {
  const result = await session.query(`SELECT ${rt.dialect.nowUtc} AS now`);
  const raw = result.rows[0]?.now;
  const text = raw instanceof Date ? raw.toISOString() : String(raw);
  const t = parseTimestamp(text, 'UTC');
  if (!t) throw new Error(`the database clock returned ${text}`);
  return t.ms;
}
