/**
 * Attribute names on the idsync side are SCIM attribute paths in the syntax Entra's attribute mappings use:
 * `userName`, `name.givenName`, `emails[type eq "work"].value`, and extension attributes prefixed with their
 * schema URN (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`). This module
 * translates between those flat names and SCIM resources (RFC 7643) in both directions.
 */
import { type Attributes, isReference, type Value } from '../../core/values.js';
import { ENTERPRISE_USER_SCHEMA, type Filter, filterEq, parsePath as parseScimPath, ScimError } from '../../scim/index.js';

export const MANAGER = `${ENTERPRISE_USER_SCHEMA}:manager`;

export interface AttrPath {
  /** the schema URN of an extension attribute; undefined for the resource's core schema */
  urn?: string;
  /** the top-level attribute: emails, name, userName, department */
  attr: string;
  /** a value selection on a multi-valued complex attribute: [type eq "work"] */
  filter?: { attr: string; value: string | boolean };
  /** a sub-attribute: value, givenName, streetAddress */
  sub?: string;
}

const cache = new Map<string, AttrPath | string>();

/** Parses a flat attribute name; null when it is not a SCIM attribute path this connector can use. */
export function parsePath(name: string): AttrPath | null {
  const parsed = readPath(name);
  return typeof parsed === 'string' ? null : parsed;
}

/** Why a flat attribute name cannot be used (for config checks and export errors); undefined when it can. */
export function pathProblem(name: string): string | undefined {
  const parsed = readPath(name);
  return typeof parsed === 'string' ? parsed : undefined;
}

function readPath(name: string): AttrPath | string {
  let parsed = cache.get(name);
  if (parsed === undefined) {
    parsed = reduce(name);
    if (cache.size < 10_000) cache.set(name, parsed);
  }
  return parsed;
}

/**
 * The RFC 7644 path parser reads the name; the connector then keeps the shapes it can send and read back:
 * `attr`, `attr.sub`, and `attr[sub eq value].sub` with one equality on a string or boolean (Entra's
 * mapping syntax). Anything else gets the reason, so a configuration names the attribute and what is wrong.
 */
function reduce(name: string): AttrPath | string {
  const hint = 'such as userName, name.givenName, emails[type eq "work"].value';
  // white space around a name would make two names for one attribute
  if (name !== name.trim()) return `${JSON.stringify(name)} has white space around it`;
  let path: ReturnType<typeof parseScimPath>;
  try {
    path = parseScimPath(name);
  } catch (err) {
    if (!(err instanceof ScimError)) throw err;
    return `${name} is not a SCIM attribute path (${hint}): ${err.detail}`;
  }
  // `urn:x` parses as attribute x of a schema named "urn": no schema is named so
  if (path.schema !== undefined && !path.schema.includes(':')) return `${name} is not a SCIM attribute path (${hint}): "urn:" begins a schema URN, which needs a name`;
  const out: AttrPath = { attr: path.attribute };
  if (path.schema !== undefined) out.urn = path.schema;
  if (path.filter) {
    const selector = selectorOf(path.filter);
    if (typeof selector === 'string') return `${name}: ${selector}`;
    out.filter = selector;
  }
  if (path.subAttribute !== undefined) out.sub = path.subAttribute;
  return out;
}

/** A value filter the connector can apply: one `eq` on a sub-attribute, with a string or boolean. */
function selectorOf(filter: Filter): AttrPath['filter'] | string {
  const only = 'the connector selects a value by one equality on a sub-attribute, such as [type eq "work"]';
  if (filter.type !== 'compare' || filter.op !== 'eq') return `${only}; this selection has ${describe(filter)}`;
  const { path, value } = filter;
  if (path.schema !== undefined || path.subAttribute !== undefined) return `${only}, not on ${path.text}`;
  if (typeof value !== 'string' && typeof value !== 'boolean') return `${only}, with a "string", true or false, not ${value}`;
  return { attr: path.attribute, value };
}

function describe(filter: Filter): string {
  switch (filter.type) {
    case 'and':
    case 'or':
      return `"${filter.type}"`;
    case 'not':
      return '"not"';
    case 'present':
      return '"pr"';
    case 'compare':
      return `"${filter.op}"`;
    case 'valuePath':
      return 'a nested selection';
  }
}

export function formatPath(p: AttrPath, options: { withSub?: boolean } = {}): string {
  let s = p.attr;
  if (p.filter) s += `[${filterEq(p.filter.attr, p.filter.value)}]`;
  if (p.sub && options.withSub !== false) s += `.${p.sub}`;
  return p.urn ? `${p.urn}:${s}` : s;
}

/** Whether a value can be looked up by filter: not a reference or binary, and no number JSON cannot write (NaN). */
export function isFilterable(value: Value): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** A SCIM filter that selects resources whose attribute at `path` equals `value` (RFC 7644 section 3.4.2.2). */
export function equalityFilter(path: AttrPath, value: string | number | boolean): string {
  const prefix = path.urn ? `${path.urn}:` : '';
  if (path.filter) {
    return `${prefix}${path.attr}[${filterEq(path.filter.attr, path.filter.value)} and ${filterEq(path.sub ?? 'value', value)}]`;
  }
  return filterEq(`${prefix}${path.attr}${path.sub ? `.${path.sub}` : ''}`, value);
}

// ---- SCIM resource → flat attributes ---------------------------------------------------------------------

export type ScimResource = Record<string, unknown> & { id?: string; meta?: { lastModified?: string; version?: string } };

/** What the schema says about attributes, to type values read back (booleans sent as "True") and spot references. */
export interface FlattenOptions {
  /** flat names whose values are references to other resources of the same server */
  references: ReadonlySet<string>;
  /** flat names typed boolean */
  booleans: ReadonlySet<string>;
  /** extra filtered paths to produce (roles[primary eq true].value) */
  extraPaths: readonly AttrPath[];
}

const SKIP_TOP = new Set(['schemas', 'id', 'meta', 'groups', 'password']);
/** sub-attributes of multi-valued elements that are part of the selection, not values of their own */
const SKIP_SUB = new Set(['type', '$ref', 'display']);

export function flatten(resource: ScimResource, options: FlattenOptions): Attributes {
  const out: Attributes = {};
  const push = (name: string, value: unknown) => {
    const v = scalarOf(name, value, options);
    if (v === undefined) return;
    const list = out[name];
    if (list) list.push(v);
    else out[name] = [v];
  };
  const walk = (prefix: string, key: string, value: unknown) => {
    const base = `${prefix}${key}`;
    if (Array.isArray(value)) {
      for (const el of value) {
        if (el !== null && typeof el === 'object') {
          const element = el as Record<string, unknown>;
          if (key === 'members' && !prefix) {
            if (typeof element.value === 'string') push('members', { ref: element.value });
            continue;
          }
          const type = typeof element.type === 'string' ? element.type : undefined;
          for (const [sub, subValue] of Object.entries(element)) {
            if (SKIP_SUB.has(sub) || (type !== undefined && sub === 'primary' && subValue === false)) continue;
            push(type !== undefined ? `${base}[${filterEq('type', type)}].${sub}` : `${base}.${sub}`, subValue);
          }
        } else {
          push(base, el);
        }
      }
      for (const extra of options.extraPaths) {
        if (extra.attr !== key || (extra.urn ? `${extra.urn}:` : '') !== prefix || !extra.filter) continue;
        for (const el of value) {
          if (el === null || typeof el !== 'object') continue;
          const element = el as Record<string, unknown>;
          if (!sameSelector(element[extra.filter.attr], extra.filter.value)) continue;
          const name = formatPath(extra);
          const v = element[extra.sub ?? 'value'];
          if (v !== undefined && !(out[name] ?? []).length) push(name, v);
        }
      }
      return;
    }
    if (value !== null && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      if (`${base}` === MANAGER) {
        if (typeof obj.value === 'string' && obj.value) push(MANAGER, { ref: obj.value });
        return;
      }
      for (const [sub, subValue] of Object.entries(obj)) {
        if (subValue !== null && typeof subValue === 'object') continue;
        push(`${base}.${sub}`, subValue);
      }
      return;
    }
    if (base === MANAGER && typeof value === 'string') {
      if (value) push(MANAGER, { ref: value });
      return;
    }
    push(base, value);
  };
  for (const [key, value] of Object.entries(resource)) {
    if (SKIP_TOP.has(key)) continue;
    if (/^urn:/i.test(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [extKey, extValue] of Object.entries(value as Record<string, unknown>)) walk(`${key}:`, extKey, extValue);
      continue;
    }
    walk('', key, value);
  }
  return out;
}

function sameSelector(actual: unknown, wanted: string | boolean): boolean {
  if (typeof wanted === 'boolean') return actual === wanted || (typeof actual === 'string' && actual.toLowerCase() === String(wanted));
  return typeof actual === 'string' && actual.toLowerCase() === wanted.toLowerCase();
}

function scalarOf(name: string, value: unknown, options: FlattenOptions): Value | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'object' && 'ref' in (value as object)) return value as Value;
  if (options.references.has(name) && typeof value === 'string') return { ref: value };
  if (typeof value === 'string' && (options.booleans.has(name) || isBooleanName(name))) {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return undefined;
}

function isBooleanName(name: string): boolean {
  return name === 'active' || name.endsWith('.primary');
}

// ---- flat attributes → SCIM resource (create, PUT) -------------------------------------------------------

export interface BuildOptions {
  coreSchema: string;
  booleansAsStrings: boolean;
  /** whether a top-level or sub-attribute is multi-valued (from /Schemas) */
  multiValued: (name: string) => boolean;
}

/** Builds a resource for POST. Attributes that are not SCIM paths are reported, not silently sent. */
export function buildResource(attributes: Attributes, options: BuildOptions): { resource: ScimResource; invalid: string[] } {
  const resource: ScimResource = { schemas: [options.coreSchema] };
  const invalid: string[] = [];
  for (const [name, values] of Object.entries(attributes)) {
    if (values.length === 0) continue;
    const path = parsePath(name);
    if (!path) {
      invalid.push(name);
      continue;
    }
    setPath(resource, path, name, values, options);
  }
  return { resource, invalid };
}

export function containerFor(resource: ScimResource, path: AttrPath): Record<string, unknown> {
  if (!path.urn) return resource;
  const schemas = (resource.schemas as string[] | undefined) ?? [];
  if (!schemas.includes(path.urn)) resource.schemas = [...schemas, path.urn];
  if (!resource[path.urn] || typeof resource[path.urn] !== 'object') resource[path.urn] = {};
  return resource[path.urn] as Record<string, unknown>;
}

/** Sets the values of one flat attribute inside a resource (replacing what the path selects). */
export function setPath(resource: ScimResource, path: AttrPath, name: string, values: Value[], options: BuildOptions): void {
  const target = containerFor(resource, path);
  const wire = values.map((v) => toWire(v, options));
  if (name === MANAGER) {
    if (wire.length === 0) delete target[path.attr];
    else target[path.attr] = { value: wire[0] };
    return;
  }
  if (path.attr === 'members' && !path.urn && !path.sub) {
    target.members = wire.map((value) => ({ value }));
    return;
  }
  if (path.filter) {
    const list = (Array.isArray(target[path.attr]) ? target[path.attr] : []) as Record<string, unknown>[];
    const sub = path.sub ?? 'value';
    const wantedSelector = path.filter.value;
    let element = list.find((e) => sameSelector(e[path.filter!.attr], wantedSelector));
    if (wire.length === 0) {
      if (element) {
        if (sub === 'value') list.splice(list.indexOf(element), 1);
        else delete element[sub];
      }
    } else {
      if (!element) {
        element = { [path.filter.attr]: wantedSelector };
        list.push(element);
      }
      element[sub] = wire[0];
    }
    target[path.attr] = list;
    return;
  }
  if (path.sub) {
    if (options.multiValued(path.attr)) {
      target[path.attr] = wire.map((v) => ({ [path.sub!]: v }));
    } else {
      const complex = (target[path.attr] && typeof target[path.attr] === 'object' ? target[path.attr] : {}) as Record<string, unknown>;
      if (wire.length === 0) delete complex[path.sub];
      else complex[path.sub] = wire[0];
      target[path.attr] = complex;
    }
    return;
  }
  if (wire.length === 0) delete target[path.attr];
  else target[path.attr] = options.multiValued(name) || wire.length > 1 ? wire : wire[0];
}

export function toWire(v: Value, options: { booleansAsStrings: boolean }): string | number | boolean {
  if (isReference(v)) return v.ref;
  if (typeof v === 'boolean' && options.booleansAsStrings) return v ? 'True' : 'False';
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return v;
}
