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

/** The common raw types of each kind skip the general conversion (the per-row hot path of an import). */
function fastDecoder(
  kind: ColumnKind,
  ctx: ValueContext,
  elementKind?: ColumnKind,
): (raw: unknown) => Value[] {
  const general = (raw: unknown) => decodeColumn(raw, kind, ctx, elementKind);
  switch (kind) {
    case 'string':
      return (raw) => (typeof raw === 'string' ? [raw] : general(raw));
    case 'integer':
    case 'number':
      return (raw) => (typeof raw === 'number' ? [raw] : general(raw));
    case 'boolean':
      return (raw) =>
        typeof raw === 'boolean' ? [raw] : raw === 1 ? [true] : raw === 0 ? [false] : general(raw);
    default:
      return general;
  }
}

interface RowReader {
  anchor(row: Row): string | undefined;
  object(anchor: string, row: Row, children: Map<string, Map<string, Value[]>>): ConnectorObject;
}

/** Readers compiled once per result (its column list), not once per row. */
const readers = new WeakMap<ColumnInfo[], { mapping: ObjectTypeMapping; reader: RowReader }>();

function readerFor(m: ObjectTypeMapping, columns: ColumnInfo[], ctx: ValueContext): RowReader {
  const cached = readers.get(columns);
  if (cached && cached.mapping === m) return cached.reader;
  const byName = new Map(columns.map((c) => [c.name, c]));
  const anchorParts = m.anchor.map((a) => {
    const info = byName.get(a);
    return { name: a, kind: kindOf(m, info, a) ?? 'string', elementKind: info?.elementKind };
  });
  const fields = columns.flatMap((column) => {
    const attribute = attributeOfColumn(m, column.name);
    if (!attribute) return [];
    const kind = kindOf(m, column, column.name) ?? 'string';
    return [
      {
        column: column.name,
        attribute,
        decode: fastDecoder(kind, ctx, column.elementKind),
        reference: m.references.has(attribute),
      },
    ];
  });
  const reader: RowReader = {
    anchor(row) {
      const single = anchorParts.length === 1 ? anchorParts[0]! : undefined;
      if (single && (single.kind === 'integer' || single.kind === 'string')) {
        const raw = row[single.name];
        if (typeof raw === 'string') return raw;
        if (typeof raw === 'number') return String(raw);
      }
      return encodeAnchor(anchorParts.map((p) => decodeColumn(row[p.name], p.kind, ctx, p.elementKind)[0]));
    },
    object(anchor, row, children) {
      const attributes: Attributes = {};
      for (const f of fields) {
        let values: Value[];
        const raw = row[f.column];
        if (raw === null || raw === undefined) continue;
        try {
          values = f.decode(raw);
        } catch (err) {
          throw new RowError(f.column, (err as Error).message);
        }
        if (values.length > 0) attributes[f.attribute] = f.reference ? wrap(m, f.attribute, values) : values;
      }
      for (const [attribute, byAnchor] of children) {
        const values = byAnchor.get(anchor);
        if (values && values.length > 0) attributes[attribute] = wrap(m, attribute, values);
      }
      return { anchor, objectType: m.objectType, attributes };
    },
  };
  readers.set(columns, { mapping: m, reader });
  return reader;
}

/** The anchor of a row (undefined when an anchor column is NULL). */
export function rowAnchor(
  m: ObjectTypeMapping,
  row: Row,
  columns: ColumnInfo[],
  ctx: ValueContext,
): string | undefined {
  return readerFor(m, columns, ctx).anchor(row);
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
  return readerFor(m, columns, ctx).object(anchor, row, children);
}
