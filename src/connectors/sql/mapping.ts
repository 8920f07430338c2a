/**
 * An object type's settings resolved into what the statements need: where rows come from, which columns form
 * the anchor, column ↔ attribute names, child tables, and the column kinds learned from the database.
 */
import type { Attributes, Value } from '../../core/values.js';
import type { ConnectorObject } from '../contract.js';
import type { ColumnInfo, ColumnKind, Row } from './client.js';
import type { Dialect } from './dialect.js';
import type { ObjectTypeSettings } from './settings.js';
import { decodeColumn, encodeAnchor, kindOfOverride, type ValueContext } from './values.js';

export interface ChildTable {
  attribute: string;
  table: string;
  key: string[];
  value: string;
  kindOverride?: ColumnKind;
}

export interface ObjectTypeMapping {
  objectType: string;
  settings: ObjectTypeSettings;
  /** the FROM clause: a quoted table or view, or the admin's query as a derived table */
  from: string;
  /** the table written to on export, when there is one */
  exportTable?: string;
  anchor: string[];
  /** column → attribute; undefined: every column under its own name */
  attributeOf?: Map<string, string>;
  columnOf: Map<string, string>;
  children: Map<string, ChildTable>;
  /** attribute → the object type its values point at */
  references: Map<string, string>;
  overrides: Map<string, ColumnKind>;
  /** learned from the database: the columns of `from`, and of the export table */
  columns?: Map<string, ColumnInfo>;
  exportColumns?: Map<string, ColumnInfo>;
}

function asList(x: string | string[]): string[] {
  return Array.isArray(x) ? x : [x];
}

export function buildMapping(objectType: string, s: ObjectTypeSettings, dialect: Dialect): ObjectTypeMapping {
  let attributeOf: Map<string, string> | undefined;
  if (Array.isArray(s.attributes)) attributeOf = new Map(s.attributes.map((c) => [c, c]));
  else if (s.attributes) attributeOf = new Map(Object.entries(s.attributes));
  const columnOf = new Map<string, string>();
  for (const [column, attribute] of attributeOf ?? []) columnOf.set(attribute, column);
  const children = new Map<string, ChildTable>();
  for (const [attribute, c] of Object.entries(s.multiValued ?? {})) {
    children.set(attribute, {
      attribute,
      table: c.table,
      key: asList(c.key),
      value: c.value,
      kindOverride: c.type ? kindOfOverride(c.type) : undefined,
    });
  }
  const from = s.query ? `(${s.query}) AS idsync_src` : dialect.quote((s.table ?? s.view)!);
  return {
    objectType,
    settings: s,
    from,
    exportTable: s.export?.table ?? s.table,
    anchor: asList(s.anchor),
    attributeOf,
    columnOf,
    children,
    references: new Map(Object.entries(s.references ?? {}).map(([a, r]) => [a, r.objectType])),
    overrides: new Map(Object.entries(s.types ?? {}).map(([c, t]) => [c, kindOfOverride(t)])),
  };
}

/** The attribute a column flows to, or undefined when the mapping leaves it out. */
export function attributeOfColumn(m: ObjectTypeMapping, column: string): string | undefined {
  return m.attributeOf ? m.attributeOf.get(column) : column;
}

/** The column an attribute is stored in (undefined: not a column of this object type). */
export function columnOfAttribute(m: ObjectTypeMapping, attribute: string): string | undefined {
  if (m.attributeOf) return m.columnOf.get(attribute);
  if (m.children.has(attribute)) return undefined;
  const known = m.exportColumns ?? m.columns;
  return !known || known.has(attribute) ? attribute : undefined;
}

export function kindOf(
  m: ObjectTypeMapping,
  column: ColumnInfo | undefined,
  name: string,
): ColumnKind | undefined {
  return m.overrides.get(name) ?? column?.kind;
}

/** The columns a SELECT needs; `*` when every column is an attribute. */
export function selectList(
  m: ObjectTypeMapping,
  dialect: Dialect,
  extra: (string | undefined)[] = [],
): string {
  if (!m.attributeOf) return '*';
  const names = new Set<string>([...m.anchor, ...m.attributeOf.keys()]);
  for (const e of extra) if (e) names.add(e);
  return [...names].map((n) => dialect.quote(n)).join(', ');
}

function wrap(m: ObjectTypeMapping, attribute: string, values: Value[]): Value[] {
  if (!m.references.has(attribute)) return values;
  return values.map((v) => ({ ref: v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v) }));
}

export class RowError extends Error {
  constructor(
    readonly column: string,
    message: string,
  ) {
    super(message);
  }
}

/** The anchor of a row (undefined when an anchor column is NULL). */
export function rowAnchor(
  m: ObjectTypeMapping,
  row: Row,
  columns: ColumnInfo[],
  ctx: ValueContext,
): string | undefined {
  const byName = new Map(columns.map((c) => [c.name, c]));
  return encodeAnchor(
    m.anchor.map((a) => {
      const info = byName.get(a);
      return decodeColumn(row[a], kindOf(m, info, a) ?? 'string', ctx, info?.elementKind)[0];
    }),
  );
}

/** A row and its child values as a connector object. Throws RowError naming the column that did not convert. */
export function rowToObject(
  m: ObjectTypeMapping,
  anchor: string,
  row: Row,
  columns: ColumnInfo[],
  children: Map<string, Map<string, Value[]>>,
  ctx: ValueContext,
): ConnectorObject {
  const attributes: Attributes = {};
  for (const column of columns) {
    const attribute = attributeOfColumn(m, column.name);
    if (!attribute) continue;
    let values: Value[];
    try {
      values = decodeColumn(
        row[column.name],
        kindOf(m, column, column.name) ?? 'string',
        ctx,
        column.elementKind,
      );
    } catch (err) {
      throw new RowError(column.name, (err as Error).message);
    }
    if (values.length > 0) attributes[attribute] = wrap(m, attribute, values);
  }
  for (const [attribute, byAnchor] of children) {
    const values = byAnchor.get(anchor);
    if (values && values.length > 0) attributes[attribute] = wrap(m, attribute, values);
  }
  return { anchor, objectType: m.objectType, attributes };
}
