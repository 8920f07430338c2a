/**
 * attributes= and excludedAttributes= (RFC 7644 §3.4.2.5, §3.9) with the `returned` characteristic of
 * RFC 7643 §7: "always" attributes (id, schemas) come back whatever was asked, "never" ones (password)
 * never do, "request" ones only when named, "default" ones unless excluded or left out of `attributes`.
 * Names may be `attr`, `attr.sub`, `urn:...:attr[.sub]` or a whole extension URN, in any case.
 */
import { getAttribute } from './filter.js';
import type { AttributeRef, ResourceSchema } from './schemas.js';

export interface ProjectionRequest {
  /** names to return (plus the "always" ones): a list or the comma-separated query parameter */
  attributes?: readonly string[] | string;
  /** names to leave out ("always" ones stay) */
  excludedAttributes?: readonly string[] | string;
}

type Obj = Record<string, unknown>;

/** For one attribute: the whole of it, or only some sub-attributes (lower-case names). */
type Selection = true | Set<string>;

interface CompiledProjection {
  /** undefined: return the default set */
  include: Map<AttributeRef, Selection> | undefined;
  exclude: Map<AttributeRef, Selection>;
}

/** Splits "userName, name.givenName,emails" into names. */
export function parseAttributeList(value: readonly string[] | string | undefined): string[] {
  if (value === undefined) return [];
  const parts = typeof value === 'string' ? value.split(',') : value.flatMap((v) => String(v).split(','));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const cache = new WeakMap<ResourceSchema, Map<string, CompiledProjection>>();
const CACHE_LIMIT = 256;

/** The resource as the client asked to see it. The input is not modified. */
export function project(resource: Obj, request: ProjectionRequest, schema: ResourceSchema): Obj {
  return applyProjection(resource, compile(request, schema), schema);
}

/** A projection compiled once for many resources (a list response). */
export function compileProjection(
  request: ProjectionRequest,
  schema: ResourceSchema,
): (resource: Obj) => Obj {
  const compiled = compile(request, schema);
  return (resource) => applyProjection(resource, compiled, schema);
}

function compile(request: ProjectionRequest, schema: ResourceSchema): CompiledProjection {
  const attributes = parseAttributeList(request.attributes);
  const excluded = parseAttributeList(request.excludedAttributes);
  const key = `${attributes.join(',')}\u0000${excluded.join(',')}`.toLowerCase();
  let perSchema = cache.get(schema);
  const hit = perSchema?.get(key);
  if (hit) return hit;
  const compiled: CompiledProjection = {
    include: attributes.length > 0 ? selections(attributes, schema) : undefined,
    exclude: selections(excluded, schema),
  };
  if (!perSchema) {
    perSchema = new Map();
    cache.set(schema, perSchema);
  }
  if (perSchema.size >= CACHE_LIMIT) perSchema.clear();
  perSchema.set(key, compiled);
  return compiled;
}

/** Names the schema does not know are ignored: asking for an attribute a resource lacks is no error. */
function selections(names: string[], schema: ResourceSchema): Map<AttributeRef, Selection> {
  const map = new Map<AttributeRef, Selection>();
  for (const name of names) {
    const target = schema.resolveName(name);
    if (!target) continue;
    if (target.kind === 'extension') {
      for (const a of target.schema.attributes) {
        const ref = schema.attribute(a.name, target.schema.id);
        if (ref) map.set(ref, true);
      }
      continue;
    }
    const { attribute, subAttribute } = target;
    const current = map.get(attribute);
    if (subAttribute === undefined) map.set(attribute, true);
    else if (current === undefined) map.set(attribute, new Set([subAttribute.name.toLowerCase()]));
    else if (current !== true) current.add(subAttribute.name.toLowerCase());
  }
  return map;
}

function applyProjection(resource: Obj, p: CompiledProjection, schema: ResourceSchema): Obj {
  const out: Obj = {};
  for (const key of Object.keys(resource)) {
    const value = resource[key];
    const extension = schema.extension(key);
    if (extension) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
      const inner: Obj = {};
      for (const k of Object.keys(value)) {
        const ref = schema.attribute(k, extension.id);
        const projected = ref
          ? projectAttribute(ref, (value as Obj)[k], p)
          : unknownAttribute((value as Obj)[k], p);
        if (projected !== undefined) inner[k] = projected;
      }
      if (Object.keys(inner).length > 0) out[key] = inner;
      continue;
    }
    const ref = schema.attribute(key, schema.core.id);
    const projected = ref ? projectAttribute(ref, value, p) : unknownAttribute(value, p);
    if (projected !== undefined) out[key] = projected;
  }
  return out;
}

/** An attribute outside the schema: returned by default, never when a list of attributes is asked for. */
function unknownAttribute(value: unknown, p: CompiledProjection): unknown {
  return p.include ? undefined : value;
}

function projectAttribute(ref: AttributeRef, value: unknown, p: CompiledProjection): unknown {
  const def = ref.definition;
  if (def.returned === 'never') return undefined;
  if (def.returned === 'always') return withoutHiddenSubs(ref, value, undefined, undefined);
  const included = p.include ? p.include.get(ref) : true;
  if (included === undefined) return undefined;
  if (def.returned === 'request' && !(p.include && included)) return undefined;
  const excluded = p.exclude.get(ref);
  if (excluded === true) return undefined;
  return withoutHiddenSubs(ref, value, included === true ? undefined : included, excluded);
}

/** Keeps the sub-attributes asked for (and the "always" ones), drops "never" ones and excluded ones. */
function withoutHiddenSubs(
  ref: AttributeRef,
  value: unknown,
  only: Set<string> | undefined,
  excluded: Set<string> | undefined,
): unknown {
  const subs = ref.subAttributes;
  if (!subs || value === null || typeof value !== 'object') return value;
  const one = (element: unknown): unknown => {
    if (typeof element !== 'object' || element === null || Array.isArray(element)) return element;
    const out: Obj = {};
    for (const k of Object.keys(element)) {
      const lower = k.toLowerCase();
      const sub = subs.get(lower);
      const returned = sub?.definition.returned ?? 'default';
      if (returned === 'never') continue;
      if (returned !== 'always') {
        if (only && !only.has(lower)) continue;
        if (returned === 'request' && !only?.has(lower)) continue;
        if (excluded?.has(lower)) continue;
      }
      out[k] = (element as Obj)[k];
    }
    return Object.keys(out).length > 0 ? out : undefined;
  };
  if (Array.isArray(value)) {
    const list = value.map(one).filter((e) => e !== undefined);
    return list.length > 0 ? list : undefined;
  }
  return one(value);
}

/** For callers that hold an attribute name and want its value: `name.givenName` → "Barbara". */
export function readAttribute(resource: Obj, name: string, schema: ResourceSchema): unknown {
  const target = schema.resolveName(name);
  if (!target) return undefined;
  if (target.kind === 'extension') return getAttribute(resource, target.schema.id);
  const { attribute, subAttribute } = target;
  let holder: unknown = resource;
  if (attribute.container !== undefined) holder = getAttribute(resource, attribute.container);
  if (typeof holder !== 'object' || holder === null) return undefined;
  const value = getAttribute(holder as Obj, attribute.name);
  if (subAttribute === undefined) return value;
  if (Array.isArray(value)) {
    return value.map((e) =>
      typeof e === 'object' && e !== null ? getAttribute(e as Obj, subAttribute.name) : undefined,
    );
  }
  return typeof value === 'object' && value !== null
    ? getAttribute(value as Obj, subAttribute.name)
    : undefined;
}
