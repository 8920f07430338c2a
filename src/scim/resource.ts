/**
 * A resource body from POST or PUT (RFC 7644 §3.3, §3.5.1) made ready to store: attribute names in the
 * schema's spelling, values converted to their types (Entra's "True"/"False" included), read-only
 * attributes dropped (the RFC says to ignore them), required attributes and immutable values checked, and
 * `schemas` listing the core schema and the extensions actually present.
 */
import { badRequest } from './errors.js';
import { getAttribute } from './filter.js';
import { coerce, coerceMulti, deepEqual } from './patch.js';
import type { AttributeRef, ResourceSchema } from './schemas.js';

type Obj = Record<string, unknown>;

export interface PrepareOptions {
  /** the stored resource a PUT replaces: immutable attributes may not change against it */
  existing?: Obj;
  /**
   * What to do with top-level attributes no schema defines: "reject" (400 invalidValue, the default) or
   * "ignore" (dropped, for clients that send extras). An unknown key inside a known extension or complex
   * attribute is refused either way.
   */
  unknownAttributes?: 'reject' | 'ignore';
}

export function prepareResource(body: unknown, schema: ResourceSchema, options: PrepareOptions = {}): Obj {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('invalidSyntax', 'the resource must be a JSON object');
  }
  const input = body as Obj;
  const out: Obj = { schemas: [schema.core.id] };
  const reject = options.unknownAttributes !== 'ignore';
  if (!Object.keys(input).some((k) => k.toLowerCase() === 'schemas')) {
    throw badRequest('invalidSyntax', `the resource must list its schemas, at least ${schema.core.id}`);
  }
  for (const key of Object.keys(input)) {
    const value = input[key];
    if (key.toLowerCase() === 'schemas') {
      checkSchemas(value, schema);
      continue;
    }
    const extension = schema.extension(key);
    if (extension) {
      if (value === null || value === undefined) continue;
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw badRequest('invalidValue', `${extension.id} must be an object of its attributes`);
      }
      const inner: Obj = {};
      for (const k of Object.keys(value as Obj)) {
        // clients repeat the extension's URN inside it ("schemas": [urn]): no attribute, as PATCH takes it
        if (k.toLowerCase() === 'schemas') continue;
        const ref = schema.attribute(k, extension.id);
        // a schema this server declares has no such attribute: refused, as PATCH refuses it (never dropped)
        if (!ref) throw badRequest('invalidValue', `${k} is not an attribute of ${extension.id}`);
        putValue(inner, ref, (value as Obj)[k], `${extension.id}:${ref.name}`);
      }
      if (Object.keys(inner).length > 0) out[extension.id] = inner;
      continue;
    }
    // a URN-prefixed core attribute ("urn:...:core:2.0:User:userName") is accepted as its short name
    const target = schema.resolveName(key);
    const ref =
      target?.kind === 'attribute' && target.subAttribute === undefined ? target.attribute : undefined;
    if (!ref) {
      if (reject)
        throw badRequest('invalidValue', `${key} is not an attribute of ${schema.resourceType.name}`);
      continue;
    }
    if (ref.container !== undefined) {
      const holder = (out[ref.container] as Obj | undefined) ?? {};
      putValue(holder, ref, value, `${ref.container}:${ref.name}`);
      if (Object.keys(holder).length > 0) out[ref.container] = holder;
      continue;
    }
    putValue(out, ref, value, ref.name);
  }
  for (const ext of schema.extensions) if (out[ext.id] !== undefined) (out.schemas as string[]).push(ext.id);
  checkRequired(out, schema);
  if (options.existing) checkImmutable(out, options.existing, schema);
  return out;
}

/** `schemas` must name this type's core schema; other URNs (Entra's ADSCIM group schema) are tolerated. */
function checkSchemas(value: unknown, schema: ResourceSchema): void {
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
    throw badRequest('invalidSyntax', '"schemas" must be a list of schema URNs');
  }
  if (!value.some((s) => (s as string).toLowerCase() === schema.core.id.toLowerCase())) {
    throw badRequest('invalidSyntax', `"schemas" must include ${schema.core.id}`);
  }
}

function putValue(holder: Obj, ref: AttributeRef, value: unknown, text: string): void {
  const def = ref.definition;
  // RFC 7644 §3.3: read-only values in a request are ignored (clients echo id, meta, groups)
  if (def.mutability === 'readOnly') return;
  if (value === null || value === undefined) return;
  let converted: unknown;
  if (def.multiValued) {
    const list = coerceMulti(def, value, text).map((e) => withoutReadOnlySubs(ref, e));
    if (def.type === 'complex' && list.filter((e) => (e as Obj).primary === true).length > 1) {
      throw badRequest('invalidValue', `${text}: only one value can be primary`);
    }
    converted = list.length > 0 ? list : undefined;
  } else if (def.type === 'complex') {
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw badRequest('invalidValue', `${text} must be an object of sub-attributes`);
    }
    const [element] = coerceMulti({ ...def, multiValued: true }, [value], text);
    converted = element === undefined ? undefined : withoutReadOnlySubs(ref, element);
  } else {
    converted = coerce(def, value, text);
  }
  if (converted !== undefined) holder[ref.name] = converted;
}

function withoutReadOnlySubs(ref: AttributeRef, element: unknown): unknown {
  if (typeof element !== 'object' || element === null || !ref.subAttributes) return element;
  let copy: Obj | undefined;
  for (const key of Object.keys(element)) {
    if (ref.subAttributes.get(key.toLowerCase())?.definition.mutability === 'readOnly') {
      copy ??= { ...(element as Obj) };
      delete copy[key];
    }
  }
  return copy ?? element;
}

function checkRequired(resource: Obj, schema: ResourceSchema): void {
  for (const ref of schema.allAttributes()) {
    const def = ref.definition;
    if (!def.required || def.mutability === 'readOnly') continue;
    const holder = ref.container === undefined ? resource : (resource[ref.container] as Obj | undefined);
    const value = holder ? holder[ref.name] : undefined;
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
      throw badRequest('invalidValue', `${ref.container ? `${ref.container}:` : ''}${ref.name} is required`);
    }
  }
}

function checkImmutable(next: Obj, existing: Obj, schema: ResourceSchema): void {
  for (const ref of schema.allAttributes()) {
    if (ref.definition.mutability !== 'immutable') continue;
    const read = (r: Obj) => {
      const holder = ref.container === undefined ? r : getAttribute(r, ref.container);
      return typeof holder === 'object' && holder !== null
        ? getAttribute(holder as Obj, ref.name)
        : undefined;
    };
    const before = read(existing);
    if (before !== undefined && before !== null && !deepEqual(before, read(next))) {
      throw badRequest('mutability', `${ref.name} is immutable: it can be set once, not changed`);
    }
  }
}
