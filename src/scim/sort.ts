/**
 * sortBy and sortOrder (RFC 7644 §3.4.2.3). A multi-valued attribute sorts by its primary value, or its
 * first; a complex one by its `value` sub-attribute; strings fold case unless the attribute is caseExact.
 * Resources without a value sort last when ascending (and so first when descending, the exact reverse).
 */
import { badRequest } from './errors.js';
import { getAttribute } from './filter.js';
import type { AttributeDefinition, ResourceSchema } from './schemas.js';

export type SortOrder = 'ascending' | 'descending';

type Obj = Record<string, unknown>;
type Key = string | number | undefined;

export function parseSortOrder(value: string | undefined): SortOrder {
  if (value === undefined || value === '') return 'ascending';
  const lower = value.toLowerCase();
  if (lower === 'ascending' || lower === 'descending') return lower;
  throw badRequest(
    'invalidValue',
    `sortOrder must be "ascending" or "descending", not ${JSON.stringify(value)}`,
  );
}

/** Extracts the sort key of a resource; throws invalidValue when sortBy names no attribute. */
export function sortKey(sortBy: string, schema: ResourceSchema): (resource: Obj) => Key {
  const target = typeof sortBy === 'string' ? schema.resolveName(sortBy.trim()) : undefined;
  if (target?.kind !== 'attribute') {
    throw badRequest(
      'invalidValue',
      `sortBy ${JSON.stringify(sortBy)} is not an attribute of ${schema.resourceType.name}`,
    );
  }
  const { attribute } = target;
  const sub =
    target.subAttribute ??
    (attribute.definition.type === 'complex' ? attribute.subAttributes?.get('value') : undefined);
  const leaf: AttributeDefinition = sub?.definition ?? attribute.definition;
  if (leaf.type === 'complex' || leaf.returned === 'never') {
    throw badRequest('invalidValue', `sortBy ${JSON.stringify(sortBy)} cannot be sorted on`);
  }
  const toKey = keyOf(leaf);
  const subName = sub?.name;
  return (resource) => {
    let holder: unknown = resource;
    if (attribute.container !== undefined) holder = getAttribute(resource, attribute.container);
    if (typeof holder !== 'object' || holder === null) return undefined;
    let value = getAttribute(holder as Obj, attribute.name);
    if (Array.isArray(value)) {
      value =
        value.find((e) => typeof e === 'object' && e !== null && (e as Obj).primary === true) ?? value[0];
    }
    if (subName !== undefined) {
      value = typeof value === 'object' && value !== null ? getAttribute(value as Obj, subName) : undefined;
    }
    return toKey(value);
  };
}

function keyOf(def: AttributeDefinition): (value: unknown) => Key {
  switch (def.type) {
    case 'integer':
    case 'decimal':
      return (v) =>
        typeof v === 'number'
          ? v
          : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))
            ? Number(v)
            : undefined;
    case 'boolean':
      return (v) => (v === true || v === 'true' ? 1 : v === false || v === 'false' ? 0 : undefined);
    case 'dateTime':
      return (v) => {
        const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
        return Number.isNaN(t) ? undefined : t;
      };
    default:
      return (v) => {
        if (typeof v !== 'string' && typeof v !== 'number') return undefined;
        const s = String(v);
        return def.caseExact ? s : s.toLowerCase();
      };
  }
}

function compareKeys(a: Key, b: Key): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A comparator for Array.prototype.sort. For many resources `sortResources` is faster (keys read once). */
export function compareBy(
  sortBy: string,
  sortOrder: SortOrder | string | undefined,
  schema: ResourceSchema,
): (a: Obj, b: Obj) => number {
  const key = sortKey(sortBy, schema);
  const sign = parseSortOrder(sortOrder) === 'descending' ? -1 : 1;
  return (a, b) => sign * compareKeys(key(a), key(b));
}

/** Sorts a copy of the list, reading each resource's key once. Stable: equal keys keep their order. */
export function sortResources<T extends Obj>(
  resources: readonly T[],
  sortBy: string,
  sortOrder: SortOrder | string | undefined,
  schema: ResourceSchema,
): T[] {
  const key = sortKey(sortBy, schema);
  const sign = parseSortOrder(sortOrder) === 'descending' ? -1 : 1;
  const decorated = resources.map((r, i) => ({ r, k: key(r), i }));
  decorated.sort((x, y) => sign * compareKeys(x.k, y.k) || x.i - y.i);
  return decorated.map((d) => d.r);
}
