/**
 * The server's view of the SCIM protocol library (src/scim): the few shapes the service needs, so that the
 * service reads as resource operations and this file is the one place that knows the library's API.
 */

import type { Value } from '../../core/values.js';
import {
  compileFilter as compilePredicate,
  type Filter as FilterAst,
  indexPlan,
  parseFilter,
} from '../../scim/filter.js';
import { project } from '../../scim/projection.js';
import { prepareResource } from '../../scim/resource.js';
import type { ResourceSchema } from '../../scim/schemas.js';

/** One Directory.findBy look-up. */
export interface IndexLookup {
  attribute: string;
  value: Value;
}

/** A filter ready to run: the directory look-ups to start from, if any, and the predicate. */
export interface Filter {
  /**
   * look the candidates up with Directory.findBy(attribute, value), each of these, instead of scanning: their
   * union holds every match (one look-up for an `eq`, one per branch for an `or`)
   */
  plan: IndexLookup[] | undefined;
  matches(resource: Record<string, unknown>): boolean;
  /** whether the filter reads this top-level attribute (members, groups), which costs extra to produce */
  mentions(attribute: string): boolean;
  /**
   * The filter is `meta.lastModified gt|ge "…"` alone (a delta reader's): the range of the directory's
   * lastModified index that is exactly its answer, `from` as the directory writes times.
   */
  modifiedSince: { from: string; exclusive: boolean } | undefined;
}

const CORE_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i;

/**
 * `meta.lastModified gt|ge "time"`, as a range of the directory's lastModified index. The directory writes
 * times with millisecond precision: a literal finer than that (…:00.1234Z) is after its millisecond, so
 * both operators then start after it.
 */
function modifiedRange(ast: FilterAst): { from: string; exclusive: boolean } | undefined {
  if (ast.type !== 'compare' || (ast.op !== 'gt' && ast.op !== 'ge') || typeof ast.value !== 'string') return undefined;
  const { path } = ast;
  if (path.schema !== undefined && !CORE_PREFIX.test(path.schema)) return undefined;
  if (path.attribute.toLowerCase() !== 'meta' || path.subAttribute?.toLowerCase() !== 'lastmodified') return undefined;
  const ms = Date.parse(ast.value);
  if (Number.isNaN(ms)) return undefined;
  const from = new Date(ms).toISOString();
  if (from.length !== 24) return undefined; // a year beyond 9999 does not order as a string
  const fraction = /\.(\d+)/.exec(ast.value)?.[1] ?? '';
  const finer = /[1-9]/.test(fraction.slice(3));
  return { from, exclusive: ast.op === 'gt' || finer };
}

/** sortBy naming meta.lastModified (the order the lastModified index gives) */
export function sortsByLastModified(sortBy: string): boolean {
  const name = sortBy.replace(/^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/i, '');
  return name.toLowerCase() === 'meta.lastmodified';
}

/** SCIM names of indexed attributes → the directory's findBy names; case-exact in SCIM, or folded by the index */
const INDEXED: Record<string, string> = {
  id: 'id',
  userName: 'userName',
  externalId: 'externalId',
  displayName: 'displayName',
  'members.value': 'members',
  // the flat `email` holds the work email only
  'emails[type eq "work"].value': 'email',
};

export function compileFilter(text: string, schema: ResourceSchema): Filter {
  const ast = parseFilter(text);
  const predicate = compilePredicate(ast, schema);
  const plan = indexPlan(ast, Object.keys(INDEXED))?.map((hint): IndexLookup => {
    const attribute = INDEXED[hint.attribute] ?? hint.attribute;
    return {
      attribute,
      value:
        attribute === 'members'
          ? { ref: String(hint.value) }
          : attribute === 'userName' || attribute === 'displayName' || attribute === 'email'
            ? String(hint.value)
            : hint.value,
    };
  });
  const mentioned = new Set<string>();
  collect(ast, mentioned);
  return {
    plan,
    matches: predicate,
    mentions: (attribute) => mentioned.has(attribute.toLowerCase()),
    modifiedSince: modifiedRange(ast),
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

// ---- PATCH, projection, sort, bodies ----------------------------------------------------------------------

export {
  applyPatch,
  type MemberChanges,
  type PatchOperation,
  parsePatchRequest,
  splitMemberOperations,
} from '../../scim/patch.js';
export { sortResources } from '../../scim/sort.js';

export interface ProjectionParams {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

export function projectResource(
  resource: Record<string, unknown>,
  schema: ResourceSchema,
  projection: ProjectionParams,
): Record<string, unknown> {
  if (!projection.attributes?.length && !projection.excludedAttributes?.length) return resource;
  return project(resource, projection, schema);
}

const PROBE = { id: 'probe', schemas: [], members: [{ value: 'probe' }], groups: [{ value: 'probe' }] };

/**
 * Whether the response will hold `members` or `groups`: both cost a query to produce (all the members of a
 * group), so they are read only when the projection keeps them.
 */
export function wantsAttribute(
  schema: ResourceSchema,
  projection: ProjectionParams,
  name: 'members' | 'groups',
): boolean {
  if (!projection.attributes?.length && !projection.excludedAttributes?.length) return true;
  return name in project(PROBE, projection, schema);
}

/**
 * A POST or PUT body checked and normalised against the schema (types converted, read-only attributes
 * dropped, required ones present). What no schema names is carried over as it came, so that the mapping
 * can keep it (resources.ts): a client gets back what it wrote.
 */
export function prepareBody(
  body: unknown,
  schema: ResourceSchema,
  existing?: Record<string, unknown>,
): Record<string, unknown> {
  const prepared = prepareResource(body, schema, {
    unknownAttributes: 'ignore',
    ...(existing && { existing }),
  });
  const input = body as Record<string, unknown>;
  const known = new Set(Object.keys(prepared).map((k) => k.toLowerCase()));
  for (const key of Object.keys(input)) {
    const lower = key.toLowerCase();
    if (known.has(lower) || input[key] === null || input[key] === undefined || key === '__proto__') continue;
    if (lower.startsWith('urn:') ? schema.extension(key) === undefined : schema.attribute(key) === undefined)
      prepared[key] = input[key];
  }
  return prepared;
}
