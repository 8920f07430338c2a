/**
 * The server's view of the SCIM protocol library (src/scim): the few shapes the service needs, so that the
 * service reads as resource operations and this file is the one place that knows the library's API.
 */
import { compileFilter as compilePredicate, type Filter as FilterAst, indexHint, parseFilter } from '../../scim/filter.js';
import type { ResourceSchema } from '../../scim/schemas.js';
import type { Value } from '../../core/values.js';
import { badRequest } from '../../scim/errors.js';

/** A filter ready to run: the directory index to start from, if any, and the predicate. */
export interface Filter {
  /** look candidates up with Directory.findBy(attribute, value) instead of scanning */
  hint: { attribute: string; value: Value } | undefined;
  matches(resource: Record<string, unknown>): boolean;
  /** whether the filter reads this top-level attribute (members, groups), which costs extra to produce */
  mentions(attribute: string): boolean;
}

/** SCIM names of indexed attributes → the directory's findBy names; case-exact in SCIM, or folded by the index */
const INDEXED: Record<string, string> = { id: 'id', userName: 'userName', externalId: 'externalId', displayName: 'displayName', 'members.value': 'members' };

export function compileFilter(text: string, schema: ResourceSchema): Filter {
  const ast = parseFilter(text);
  const predicate = compilePredicate(ast, schema);
  const hint = indexHint(ast, Object.keys(INDEXED));
  const mentioned = new Set<string>();
  collect(ast, mentioned);
  return {
    hint: hint && {
      attribute: INDEXED[hint.attribute]!,
      value: INDEXED[hint.attribute] === 'members' ? { ref: String(hint.value) } : hint.attribute === 'userName' || hint.attribute === 'displayName' ? String(hint.value) : hint.value,
    },
    matches: predicate,
    mentions: (attribute) => mentioned.has(attribute.toLowerCase()),
  };
}

function collect(filter: FilterAst, out: Set<string>): void {
  switch (filter.type) {
    case 'and':
    case 'or':
      for (const f of filter.filters) collect(f, out);
      return;
    case 'not':
      collect(filter.filter, out);
      return;
    default:
      out.add(filter.path.attribute.toLowerCase());
      return;
  }
}

// ---- PATCH ------------------------------------------------------------------------------------------------

export { applyPatch, type PatchOperation, parsePatchRequest } from '../../scim/patch.js';

// ---- INTERIM: until src/scim ships projection.ts, sort.ts and splitMemberOperations (helper scim-protocol),
// the server uses these small versions. They are replaced by the library's when it lands.

import type { PatchOperation as Op } from '../../scim/patch.js';

export interface MemberOperations {
  add: string[];
  remove: string[];
  /** a remove of `members` without a filter, or a replace: every member goes first */
  removeAll: boolean;
  others: Op[];
}

const MEMBER_FILTER = /^members\s*\[\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]$/i;

export function splitMemberOperations(ops: readonly Op[], _schema?: ResourceSchema): MemberOperations {
  const out: MemberOperations = { add: [], remove: [], removeAll: false, others: [] };
  const ids = (value: unknown): string[] =>
    (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]).map((v) => {
      const id = typeof v === 'string' ? v : v && typeof v === 'object' ? Object.entries(v).find(([k]) => k.toLowerCase() === 'value')?.[1] : undefined;
      if (typeof id !== 'string' || id === '') throw badRequest('invalidValue', 'a member must be given as {"value": "<id>"}');
      return id;
    });
  for (const op of ops) {
    const name = typeof op.op === 'string' ? op.op.toLowerCase() : '';
    const path = typeof op.path === 'string' ? op.path.trim() : undefined;
    const filtered = path ? MEMBER_FILTER.exec(path) : null;
    if (path?.toLowerCase() === 'members') {
      if (name === 'add') out.add.push(...ids(op.value));
      else if (name === 'remove' && op.value !== undefined) out.remove.push(...ids(op.value));
      else if (name === 'remove') out.removeAll = true;
      else if (name === 'replace') {
        out.removeAll = true;
        out.add.push(...ids(op.value));
      } else out.others.push(op);
    } else if (filtered && name === 'remove') {
      out.remove.push(JSON.parse(`"${filtered[1]}"`) as string);
    } else if (path === undefined && op.value && typeof op.value === 'object' && !Array.isArray(op.value)) {
      const value = { ...(op.value as Record<string, unknown>) };
      const key = Object.keys(value).find((k) => k.toLowerCase() === 'members');
      if (key !== undefined && (name === 'add' || name === 'replace')) {
        if (name === 'replace') out.removeAll = true;
        out.add.push(...ids(value[key]));
        delete value[key];
        if (Object.keys(value).length > 0) out.others.push({ ...op, value });
      } else out.others.push(op);
    } else out.others.push(op);
  }
  return out;
}

export interface ProjectionParams {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

const ALWAYS = new Set(['id', 'schemas']);

/** Whether a top-level attribute is part of the response under this projection. */
export function wantsAttribute(_schema: ResourceSchema, projection: ProjectionParams, name: string): boolean {
  const lower = name.toLowerCase();
  const matchesName = (a: string) => {
    const l = a.toLowerCase();
    return l === lower || l.startsWith(`${lower}.`) || l.endsWith(`:${lower}`) || l.includes(`:${lower}.`);
  };
  if (projection.attributes && projection.attributes.length > 0) return projection.attributes.some(matchesName);
  if (projection.excludedAttributes?.some((a) => a.toLowerCase() === lower || a.toLowerCase().endsWith(`:${lower}`))) return false;
  return true;
}

export function projectResource(resource: Record<string, unknown>, schema: ResourceSchema, projection: ProjectionParams): Record<string, unknown> {
  const { attributes, excludedAttributes } = projection;
  if ((!attributes || attributes.length === 0) && (!excludedAttributes || excludedAttributes.length === 0)) return resource;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(resource)) {
    if (ALWAYS.has(key)) out[key] = resource[key];
    else if (key.toLowerCase().startsWith('urn:')) {
      const ext = resource[key] as Record<string, unknown>;
      const kept: Record<string, unknown> = {};
      for (const sub of Object.keys(ext)) if (wantsAttribute(schema, projection, `${key}:${sub}`) || (attributes?.some((a) => a.toLowerCase() === key.toLowerCase()) ?? false)) kept[sub] = ext[sub];
      if (Object.keys(kept).length > 0) out[key] = kept;
    } else if (attributes && attributes.length > 0) {
      const lower = key.toLowerCase();
      const subs = attributes.map((a) => a.toLowerCase()).filter((a) => a.startsWith(`${lower}.`) || a.startsWith(`${schema.core.id.toLowerCase()}:${lower}.`)).map((a) => a.slice(a.lastIndexOf('.') + 1));
      const whole = attributes.some((a) => a.toLowerCase() === lower || a.toLowerCase() === `${schema.core.id.toLowerCase()}:${lower}`);
      if (whole) out[key] = resource[key];
      else if (subs.length > 0) out[key] = pickSubs(resource[key], subs);
    } else if (wantsAttribute(schema, projection, key)) {
      const lower = key.toLowerCase();
      const dropSubs = (excludedAttributes ?? []).map((a) => a.toLowerCase()).filter((a) => a.startsWith(`${lower}.`)).map((a) => a.slice(lower.length + 1));
      out[key] = dropSubs.length > 0 ? dropSubsOf(resource[key], dropSubs) : resource[key];
    }
  }
  return out;
}

function pickSubs(value: unknown, subs: string[]): unknown {
  const pick = (o: unknown) => (o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).filter(([k]) => subs.includes(k.toLowerCase()))) : o);
  return Array.isArray(value) ? value.map(pick) : pick(value);
}

function dropSubsOf(value: unknown, subs: string[]): unknown {
  const drop = (o: unknown) => (o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).filter(([k]) => !subs.includes(k.toLowerCase()))) : o);
  return Array.isArray(value) ? value.map(drop) : drop(value);
}

export function sortResources(resources: Record<string, unknown>[], sortBy: string, order: 'ascending' | 'descending', schema: ResourceSchema): Record<string, unknown>[] {
  const target = schema.resolveName(sortBy);
  if (target?.kind !== 'attribute') throw badRequest('invalidValue', `sortBy ${JSON.stringify(sortBy)}: no such attribute`);
  const read = (r: Record<string, unknown>): unknown => {
    const holder = target.attribute.container ? (r[target.attribute.container] as Record<string, unknown> | undefined) : r;
    let v = holder ? getCaseless(holder, target.attribute.name) : undefined;
    if (Array.isArray(v)) v = v.find((e) => e && typeof e === 'object' && (e as { primary?: unknown }).primary === true) ?? v[0];
    if (target.subAttribute && v && typeof v === 'object') v = getCaseless(v as Record<string, unknown>, target.subAttribute.name);
    else if (!target.subAttribute && v && typeof v === 'object' && 'value' in v) v = (v as { value: unknown }).value;
    return v;
  };
  const caseExact = (target.subAttribute ?? target.attribute).definition.caseExact;
  const keyed = resources.map((r) => {
    const v = read(r);
    return { r, v: typeof v === 'string' && !caseExact ? v.toLowerCase() : v };
  });
  const sign = order === 'descending' ? -1 : 1;
  keyed.sort((a, b) => {
    // resources without a value sort last in either order (RFC 7644 §3.4.2.3)
    if (a.v === undefined || a.v === null) return b.v === undefined || b.v === null ? 0 : 1;
    if (b.v === undefined || b.v === null) return -1;
    return (a.v < b.v ? -1 : a.v > b.v ? 1 : 0) * sign;
  });
  return keyed.map((k) => k.r);
}

function getCaseless(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}
