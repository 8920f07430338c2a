/**
 * PATCH (RFC 7644 §3.5.2): add, replace and remove over plain JSON resources, with every path form and the
 * no-path forms, checked against the schema (types, mutability) and tolerant of what real clients send:
 * Microsoft Entra's capitalised op names, "True"/"False" strings for booleans, dotted and URN-prefixed keys
 * in a no-path value, member removal with a value list; Okta's no-path `{"active": false}`.
 *
 * The input resource is never modified: applyPatch works on a copy and says whether anything changed, so
 * the server can skip the write and keep the version (and ETag) when a client repeats itself.
 */
import { badRequest, ScimError } from './errors.js';
import { compileElementFilter, type Filter, getAttribute } from './filter.js';
import { type AttributePath, parsePath } from './path.js';
import type { AttributeDefinition, AttributeRef, ResourceSchema } from './schemas.js';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export type PatchOpName = 'add' | 'replace' | 'remove';

export interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

export interface PatchOptions {
  /**
   * A replace whose value filter matches nothing adds the element instead of failing with noTarget
   * (RFC 7644 §3.5.2.3 says fail; some clients expect the add). Default false.
   */
  replaceAddsMissingElement?: boolean;
}

export interface PatchResult {
  resource: Record<string, unknown>;
  changed: boolean;
}

type Obj = Record<string, unknown>;

/** Most operations one request may carry: a bound on work per request, not a protocol limit. */
export const MAX_PATCH_OPERATIONS = 10_000;

/**
 * Checks a PATCH body (RFC 7644 §3.5.2): the PatchOp schema and a list of operations, each with an op.
 * Accepts "Operations" in any case, as clients vary.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the PATCH body must be a JSON object');
  const schemas = getAttribute(body, 'schemas');
  if (
    !Array.isArray(schemas) ||
    !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())
  ) {
    throw badRequest('invalidSyntax', `the PATCH body must list the schema ${PATCH_OP_SCHEMA} in "schemas"`);
  }
  const operations = getAttribute(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) {
    throw badRequest('invalidSyntax', 'the PATCH body must have a non-empty "Operations" list');
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw badRequest(
      'invalidSyntax',
      `${operations.length} operations in one PATCH; at most ${MAX_PATCH_OPERATIONS} are accepted`,
    );
  }
  return operations.map((o, i) => {
    if (!isObject(o)) throw badRequest('invalidSyntax', `operation ${i + 1} must be a JSON object`);
    const op = getAttribute(o, 'op');
    const path = getAttribute(o, 'path');
    if (typeof op !== 'string') throw badRequest('invalidSyntax', `operation ${i + 1} has no "op"`);
    if (path !== undefined && path !== null && typeof path !== 'string') {
      throw badRequest('invalidPath', `operation ${i + 1}: "path" must be a string`);
    }
    const result: PatchOperation = { op };
    if (typeof path === 'string') result.path = path;
    if (Object.hasOwn(o, 'value') || getAttribute(o, 'value') !== undefined)
      result.value = getAttribute(o, 'value');
    return result;
  });
}

/** "Add", "REPLACE", "remove" → the op; anything else is invalidSyntax. */
export function patchOpName(op: unknown, index: number): PatchOpName {
  const name = typeof op === 'string' ? op.toLowerCase() : undefined;
  if (name === 'add' || name === 'replace' || name === 'remove') return name;
  throw badRequest(
    'invalidSyntax',
    `operation ${index + 1}: op ${JSON.stringify(op)} is not add, replace or remove`,
  );
}

export function applyPatch(
  resource: Record<string, unknown>,
  operations: readonly PatchOperation[],
  schema: ResourceSchema,
  options: PatchOptions = {},
): PatchResult {
  const result = cloneJson(resource) as Obj;
  operations.forEach((operation, index) => {
    if (!isObject(operation))
      throw badRequest('invalidSyntax', `operation ${index + 1} must be a JSON object`);
    const op = patchOpName(operation.op, index);
    if (operation.path !== undefined && operation.path !== null && typeof operation.path !== 'string') {
      throw badRequest('invalidPath', `operation ${index + 1}: "path" must be a string`);
    }
    const label = `operation ${index + 1} (${op}${operation.path ? ` ${operation.path}` : ''})`;
    try {
      new Patcher(result, schema, options).apply(op, operation.path, operation.value);
    } catch (err) {
      if (err instanceof ScimError) throw new ScimError(err.status, err.scimType, `${label}: ${err.detail}`);
      throw err;
    }
  });
  return { resource: result, changed: !deepEqual(resource, result) };
}

/** Where an operation lands once its path is resolved. */
interface Target {
  attribute: AttributeRef;
  subAttribute: AttributeRef | undefined;
  filter: Filter | undefined;
  text: string;
}

class Patcher {
  constructor(
    private readonly resource: Obj,
    private readonly schema: ResourceSchema,
    private readonly options: PatchOptions,
  ) {}

  apply(op: PatchOpName, pathText: string | undefined, value: unknown): void {
    if (pathText === undefined || pathText === null || pathText.trim() === '') {
      if (op === 'remove') throw badRequest('noTarget', 'remove needs a path (RFC 7644 §3.5.2.2)');
      this.applyValueObject(op, value);
      return;
    }
    if (value === undefined && op !== 'remove') throw badRequest('invalidSyntax', `${op} needs a value`);
    const extension = this.schema.extension(pathText.trim());
    if (extension) {
      this.applyExtension(op, extension.id, value);
      return;
    }
    const path = parsePath(pathText);
    this.applyTarget(op, this.resolve(path), value);
  }

  /** add/replace without a path: value is an object of attributes (RFC 7644 §3.5.2.1, §3.5.2.3). */
  private applyValueObject(op: PatchOpName, value: unknown): void {
    if (!isObject(value))
      throw badRequest('invalidSyntax', `${op} without a path needs a value that is an object of attributes`);
    for (const key of Object.keys(value)) {
      const v = value[key];
      // clients echo "schemas" (and Okta the id) in the value; the schema list follows the attributes instead
      if (key.toLowerCase() === 'schemas') continue;
      const extension = this.schema.extension(key);
      if (extension) {
        this.applyExtension(op, extension.id, v);
        continue;
      }
      const target = this.schema.resolveName(key);
      if (target?.kind !== 'attribute') {
        throw badRequest('invalidPath', `${key} is not an attribute of ${this.schema.resourceType.name}`);
      }
      this.applyTarget(
        op,
        { attribute: target.attribute, subAttribute: target.subAttribute, filter: undefined, text: key },
        v,
      );
    }
  }

  /** A whole extension object: its attributes one by one, or on remove the object and its schema URN. */
  private applyExtension(op: PatchOpName, urn: string, value: unknown): void {
    if (op === 'remove') {
      const container = this.container(urn, false);
      if (container) {
        for (const key of Object.keys(container)) {
          const ref = this.schema.attribute(key, urn);
          if (ref)
            this.assertRemovable(ref.definition, `${urn}:${ref.name}`, getAttribute(container, ref.name));
        }
      }
      deleteAttribute(this.resource, urn);
      this.dropSchemaUrn(urn);
      return;
    }
    if (!isObject(value))
      throw badRequest('invalidValue', `the value of ${urn} must be an object of its attributes`);
    for (const key of Object.keys(value)) {
      // the extension's URN repeated inside it ("schemas": [urn]), as POST and PUT take it: not an attribute
      if (key.toLowerCase() === 'schemas') continue;
      const dot = key.indexOf('.');
      const ref = this.schema.attribute(dot < 0 ? key : key.slice(0, dot), urn);
      // the path (the extension) is right; what the value holds is not: invalidValue, as POST and PUT say
      if (!ref) throw badRequest('invalidValue', `${key} is not an attribute of ${urn}`);
      const sub = dot < 0 ? undefined : ref.subAttributes?.get(key.slice(dot + 1).toLowerCase());
      if (dot >= 0 && !sub) throw badRequest('invalidValue', `${key} is not an attribute of ${urn}`);
      this.applyTarget(
        op,
        { attribute: ref, subAttribute: sub, filter: undefined, text: `${urn}:${key}` },
        value[key],
      );
    }
  }

  private resolve(path: AttributePath): Target {
    let schemaUrn: string | undefined;
    if (path.schema !== undefined) {
      const split = this.schema.splitUrn(`${path.schema}:${path.attribute}`);
      schemaUrn = split.schema;
      if (!this.schema.schemaId(schemaUrn ?? '')) {
        throw badRequest('invalidPath', `${path.schema} is not a schema of ${this.schema.resourceType.name}`);
      }
    }
    const attribute = this.schema.attribute(path.attribute, schemaUrn);
    if (!attribute)
      throw badRequest(
        'invalidPath',
        `${path.attribute} is not an attribute of ${this.schema.resourceType.name}`,
      );
    let subAttribute: AttributeRef | undefined;
    if (path.subAttribute !== undefined) {
      subAttribute = attribute.subAttributes?.get(path.subAttribute.toLowerCase());
      if (!subAttribute)
        throw badRequest('invalidPath', `${path.subAttribute} is not a sub-attribute of ${attribute.name}`);
    }
    if (path.filter && !(attribute.definition.multiValued && attribute.definition.type === 'complex')) {
      throw badRequest(
        'invalidPath',
        `a value filter needs a multi-valued complex attribute; ${attribute.name} is not one`,
      );
    }
    return { attribute, subAttribute, filter: path.filter, text: path.text };
  }

  private applyTarget(op: PatchOpName, target: Target, value: unknown): void {
    const { attribute, subAttribute } = target;
    const def = attribute.definition;
    if (target.filter) {
      this.applyFiltered(op, target, value);
      return;
    }
    if (subAttribute) {
      if (def.multiValued) {
        throw badRequest(
          'invalidPath',
          `${attribute.name} is multi-valued: select the values with a filter, as ${attribute.name}[type eq "work"].${subAttribute.name}`,
        );
      }
      this.applySubAttribute(op, attribute, subAttribute, value, target.text);
      return;
    }
    const holder = this.holder(attribute);
    const current = holder ? getAttribute(holder, attribute.name) : undefined;
    if (op === 'remove') {
      if (current === undefined) return;
      if (def.multiValued && value !== undefined && value !== null) {
        // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes those values only
        this.assertWritable(def, target.text, current, undefined, true);
        const remove = coerceMulti(def, value, target.text);
        const kept = asArray(current).filter((e) => !remove.some((r) => sameElement(def, e, r)));
        this.set(attribute, kept);
        return;
      }
      this.assertRemovable(def, target.text, current);
      this.set(attribute, undefined);
      return;
    }
    if (value === null || (Array.isArray(value) && value.length === 0 && def.multiValued)) {
      // RFC 7643 §2.5: null and [] mean unassigned
      if (op === 'add') return;
      if (current !== undefined) this.assertRemovable(def, target.text, current);
      this.set(attribute, undefined);
      return;
    }
    if (def.multiValued) {
      const incoming = coerceMulti(def, value, target.text);
      const next = op === 'replace' ? [] : asArray(current).map((e) => e);
      const touched: unknown[] = [];
      for (const element of incoming) {
        const same = next.findIndex((e) => sameElement(def, e, element));
        if (same < 0) {
          next.push(element);
          touched.push(element);
        } else if (isObject(next[same]) && isObject(element)) {
          const merged = { ...(next[same] as Obj), ...element };
          next[same] = merged;
          touched.push(merged);
        }
      }
      if (op === 'replace') this.assertWritable(def, target.text, current, next);
      else if (touched.length > 0) this.assertWritable(def, target.text, undefined, touched, true);
      normalizePrimary(def, next, touched, target.text);
      this.set(attribute, next);
      return;
    }
    if (def.type === 'complex') {
      // Entra's documented manager update wraps the one value in a list: [{"$ref": "…", "value": "…"}]
      if (Array.isArray(value) && value.length === 1) value = value[0];
      // Entra sets the manager with the id alone: {"path": "...:manager", "value": "26118915"}
      if ((typeof value === 'string' || typeof value === 'number') && attribute.subAttributes?.has('value')) {
        value = { value };
      }
      // add and replace on a complex attribute both set the given sub-attributes and keep the others
      if (!isObject(value))
        throw badRequest('invalidValue', `${target.text} must be an object of sub-attributes`);
      for (const key of Object.keys(value)) {
        const sub = attribute.subAttributes?.get(key.toLowerCase());
        if (!sub) throw badRequest('invalidValue', `${key} is not a sub-attribute of ${attribute.name}`);
        this.applySubAttribute(op, attribute, sub, value[key], `${target.text}.${sub.name}`);
      }
      return;
    }
    const next = coerce(def, value, target.text);
    this.assertWritable(def, target.text, current, next);
    this.set(attribute, next);
  }

  /** `name.givenName` and its kind: a sub-attribute of a single-valued complex attribute. */
  private applySubAttribute(
    op: PatchOpName,
    attribute: AttributeRef,
    sub: AttributeRef,
    value: unknown,
    text: string,
  ): void {
    const holder = this.holder(attribute);
    const parentValue = holder ? getAttribute(holder, attribute.name) : undefined;
    const parent = isObject(parentValue) ? parentValue : undefined;
    const current = parent ? getAttribute(parent, sub.name) : undefined;
    if (op === 'remove' || value === null) {
      if (current === undefined) return;
      if (op === 'remove' || value === null) this.assertRemovable(sub.definition, text, current);
      const copy = { ...parent! };
      deleteAttribute(copy, sub.name);
      this.set(attribute, Object.keys(copy).length > 0 ? copy : undefined);
      return;
    }
    if (value === undefined) throw badRequest('invalidSyntax', `${op} needs a value`);
    if (attribute.definition.mutability === 'readOnly')
      this.assertWritable(attribute.definition, text, current, value);
    const next = coerce(sub.definition, value, text);
    this.assertWritable(sub.definition, text, current, next);
    const copy = { ...(parent ?? {}) };
    setAttribute(copy, sub.name, next);
    this.set(attribute, copy);
  }

  /** `emails[type eq "work"]`, `emails[type eq "work"].value`, `members[value eq "id"]`. */
  private applyFiltered(op: PatchOpName, target: Target, value: unknown): void {
    const { attribute, subAttribute } = target;
    const def = attribute.definition;
    if (def.mutability === 'readOnly') throw badRequest('mutability', `${attribute.name} is read-only`);
    const select = compileElementFilter(target.filter!, this.schema, attribute);
    const holder = this.holder(attribute);
    const current = asArray(holder ? getAttribute(holder, attribute.name) : undefined);
    const matched = new Set<unknown>(current.filter((e) => isObject(e) && select(e)));
    if (matched.size === 0) {
      if (op === 'remove' || value === null) return;
      if (op === 'replace' && !this.options.replaceAddsMissingElement) {
        throw badRequest('noTarget', `no value of ${attribute.name} matches ${target.text}`);
      }
      // add (and lenient replace) with a filter that matches nothing: create the element the filter describes
      const seed = equalitiesOf(target.filter!, attribute);
      if (!seed) throw badRequest('noTarget', `no value of ${attribute.name} matches ${target.text}`);
      let element: Obj;
      if (subAttribute) {
        element = { ...seed, [subAttribute.name]: value };
      } else {
        if (!isObject(value)) throw badRequest('invalidValue', `${target.text} must be given an object`);
        element = { ...seed, ...value };
      }
      const [coerced] = coerceMulti(def, [element], target.text);
      if (coerced === undefined) return;
      const next = [...current, coerced];
      this.assertWritable(def, target.text, undefined, [coerced], true);
      normalizePrimary(def, next, [coerced], target.text);
      this.set(attribute, next);
      return;
    }
    if (op === 'remove') {
      if (subAttribute) {
        const next = current.map((e) => {
          if (!matched.has(e)) return e;
          this.assertRemovable(
            subAttribute.definition,
            target.text,
            getAttribute(e as Obj, subAttribute.name),
          );
          const copy = { ...(e as Obj) };
          deleteAttribute(copy, subAttribute.name);
          return copy;
        });
        this.set(
          attribute,
          next.filter((e) => hasContent(def, e)),
        );
      } else {
        this.set(
          attribute,
          current.filter((e) => !matched.has(e)),
        );
      }
      return;
    }
    if (value === undefined) throw badRequest('invalidSyntax', `${op} needs a value`);
    const touched: unknown[] = [];
    const next = current.map((e) => {
      if (!matched.has(e)) return e;
      let updated: Obj;
      if (subAttribute) {
        const before = getAttribute(e as Obj, subAttribute.name);
        updated = { ...(e as Obj) };
        if (value === null) {
          this.assertRemovable(subAttribute.definition, target.text, before);
          deleteAttribute(updated, subAttribute.name);
        } else {
          const v = coerce(subAttribute.definition, value, target.text);
          this.assertWritable(subAttribute.definition, target.text, before, v);
          setAttribute(updated, subAttribute.name, v);
        }
      } else {
        if (!isObject(value)) throw badRequest('invalidValue', `${target.text} must be given an object`);
        const [v] = coerceMulti(def, [op === 'add' ? { ...(e as Obj), ...value } : value], target.text);
        updated = (v as Obj) ?? {};
        for (const sub of attribute.subAttributes?.values() ?? []) {
          this.assertWritable(
            sub.definition,
            `${target.text}.${sub.name}`,
            getAttribute(e as Obj, sub.name),
            updated[sub.name],
          );
        }
      }
      touched.push(updated);
      return updated;
    });
    normalizePrimary(def, next, touched, target.text);
    this.set(
      attribute,
      next.filter((e) => hasContent(def, e)),
    );
  }

  /** The object holding an attribute: the resource, or its extension object (created when asked). */
  private holder(attribute: AttributeRef): Obj | undefined {
    if (attribute.container === undefined) return this.resource;
    return this.container(attribute.container, false);
  }

  private container(urn: string, create: boolean): Obj | undefined {
    const found = getAttribute(this.resource, urn);
    if (isObject(found)) return found;
    if (!create) return undefined;
    const made: Obj = {};
    setAttribute(this.resource, urn, made);
    return made;
  }

  /** Sets (or, with undefined or an empty list, unassigns) an attribute and keeps `schemas` in step. */
  private set(attribute: AttributeRef, value: unknown): void {
    const empty = value === undefined || (Array.isArray(value) && value.length === 0);
    // an extension object is made when its first attribute is set, never left behind empty
    let holder = this.holder(attribute);
    if (!holder) {
      if (empty) return;
      holder = this.container(attribute.container!, true)!;
    }
    if (empty) deleteAttribute(holder, attribute.name);
    else setAttribute(holder, attribute.name, value);
    const urn = attribute.container;
    if (urn === undefined) return;
    if (Object.keys(holder).length === 0) {
      deleteAttribute(this.resource, urn);
      this.dropSchemaUrn(urn);
    } else {
      this.addSchemaUrn(urn);
    }
  }

  private addSchemaUrn(urn: string): void {
    const schemas = getAttribute(this.resource, 'schemas');
    const list = Array.isArray(schemas) ? schemas : [];
    if (!list.some((s) => typeof s === 'string' && s.toLowerCase() === urn.toLowerCase())) {
      setAttribute(this.resource, 'schemas', [...list, urn]);
    }
  }

  private dropSchemaUrn(urn: string): void {
    const schemas = getAttribute(this.resource, 'schemas');
    if (!Array.isArray(schemas)) return;
    const kept = schemas.filter((s) => !(typeof s === 'string' && s.toLowerCase() === urn.toLowerCase()));
    if (kept.length !== schemas.length) setAttribute(this.resource, 'schemas', kept);
  }

  /**
   * readOnly attributes cannot be written (a client echoing the current value, as Okta does with id, is let
   * through); immutable ones only while unassigned (or, for `adding`, in new values).
   */
  private assertWritable(
    def: AttributeDefinition,
    text: string,
    current: unknown,
    next: unknown,
    adding = false,
  ): void {
    if (def.mutability === 'readOnly' && !deepEqual(current, next)) {
      throw badRequest('mutability', `${text} is read-only`);
    }
    if (
      def.mutability === 'immutable' &&
      !adding &&
      current !== undefined &&
      current !== null &&
      !deepEqual(current, next)
    ) {
      throw badRequest('mutability', `${text} is immutable: it can be set once, not changed`);
    }
  }

  private assertRemovable(def: AttributeDefinition, text: string, current: unknown): void {
    if (current === undefined || current === null) return;
    if (def.mutability === 'readOnly' || def.mutability === 'immutable') {
      throw badRequest(
        'mutability',
        `${text} is ${def.mutability === 'readOnly' ? 'read-only' : 'immutable'} and cannot be removed`,
      );
    }
    if (def.required) throw badRequest('invalidValue', `${text} is required and cannot be removed`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Values

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asArray(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** Sets a key, replacing any spelling of it in another case. */
function setAttribute(obj: Obj, name: string, value: unknown): void {
  const lower = name.toLowerCase();
  // other spellings go; the canonical one keeps its place, so the resource reads as before
  for (const key of Object.keys(obj)) if (key !== name && key.toLowerCase() === lower) delete obj[key];
  // defineProperty rather than assignment: a "__proto__" key must stay an ordinary property
  Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
}

function deleteAttribute(obj: Obj, name: string): void {
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) delete obj[key];
}

/** A value of a single-valued, non-complex attribute, converted to its type or rejected (invalidValue). */
export function coerce(def: AttributeDefinition, value: unknown, text: string): unknown {
  const fail = (what: string) =>
    badRequest('invalidValue', `${text} must be ${what}; got ${describe(value)}`);
  switch (def.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      // Entra sends "True" and "False"
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim()))
        return value.trim().toLowerCase() === 'true';
      throw fail('a boolean');
    case 'integer': {
      const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
      throw fail('an integer');
    }
    case 'decimal': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n === 'number' && Number.isFinite(n)) return n;
      throw fail('a number');
    }
    case 'dateTime':
      if (
        typeof value === 'string' &&
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) &&
        !Number.isNaN(Date.parse(value))
      )
        return value;
      throw fail('a dateTime ("2011-05-13T04:42:34Z")');
    case 'complex':
      if (isObject(value)) return value;
      throw fail('an object of sub-attributes');
    case 'binary':
      if (typeof value === 'string' && /^[A-Za-z0-9+/=\s_-]*$/.test(value)) return value;
      throw fail('base64 text');
    default:
      if (typeof value === 'string') return value;
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      throw fail('a string');
  }
}

/** The values of a multi-valued attribute: a list (or one value), each converted; nulls dropped. */
export function coerceMulti(def: AttributeDefinition, value: unknown, text: string): unknown[] {
  const list = Array.isArray(value) ? value : [value];
  const out: unknown[] = [];
  for (const item of list) {
    if (item === null || item === undefined) continue;
    if (def.type !== 'complex') {
      out.push(coerce(def, item, text));
      continue;
    }
    if (!isObject(item))
      throw badRequest('invalidValue', `each value of ${text} must be an object; got ${describe(item)}`);
    const element: Obj = {};
    for (const key of Object.keys(item)) {
      const v = item[key];
      const sub = def.subAttributes?.find((s) => s.name.toLowerCase() === key.toLowerCase());
      if (!sub) throw badRequest('invalidValue', `${key} is not a sub-attribute of ${text}`);
      // Entra sends {"$ref": null, "value": "id"}: null is unassigned
      if (v === null || v === undefined) continue;
      setAttribute(element, sub.name, coerce(sub, v, `${text}.${sub.name}`));
    }
    if (Object.keys(element).length > 0) out.push(element);
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function sameScalar(def: AttributeDefinition | undefined, a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string' && !(def?.caseExact ?? false))
    return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

/**
 * Whether two values of a multi-valued attribute are the same value, so adding it again does not duplicate
 * it: by `value` alone where value is an id that cannot change (members, groups), by value and type
 * otherwise (the same address can be work and home), and by every sub-attribute but primary and display
 * for attributes without a value (addresses).
 */
function sameElement(def: AttributeDefinition, a: unknown, b: unknown): boolean {
  if (def.type !== 'complex') return sameScalar(def, a, b);
  if (!isObject(a) || !isObject(b)) return false;
  const subs = def.subAttributes ?? [];
  const valueDef = subs.find((s) => s.name === 'value');
  let keys: AttributeDefinition[];
  if (valueDef && (valueDef.mutability === 'immutable' || valueDef.mutability === 'readOnly'))
    keys = [valueDef];
  else if (valueDef) keys = subs.filter((s) => s.name === 'value' || s.name === 'type');
  else keys = subs.filter((s) => s.name !== 'primary' && s.name !== 'display');
  for (const k of keys) {
    if (!sameScalar(k, getAttribute(a, k.name), getAttribute(b, k.name))) return false;
  }
  return true;
}

/**
 * Whether a value of a multi-valued attribute still says something once sub-attributes were removed: an
 * email whose value was removed (Entra removes `emails[type eq "work"].value`) is gone, not `{type: "work"}`.
 */
function hasContent(def: AttributeDefinition, element: unknown): boolean {
  if (!isObject(element)) return true;
  if (def.subAttributes?.some((s) => s.name === 'value'))
    return element.value !== undefined && element.value !== null;
  return Object.keys(element).some((k) => k !== 'type' && k !== 'primary' && k !== 'display');
}

/** RFC 7643 §2.4: at most one primary value; a value newly made primary takes it from the others. */
function normalizePrimary(
  def: AttributeDefinition,
  values: unknown[],
  touched: unknown[],
  text: string,
): void {
  if (!def.subAttributes?.some((s) => s.name === 'primary')) return;
  const newPrimaries = touched.filter((e) => isObject(e) && e.primary === true);
  if (newPrimaries.length > 1) throw badRequest('invalidValue', `${text}: only one value can be primary`);
  const winner = newPrimaries[0] ?? values.find((e) => isObject(e) && e.primary === true);
  for (let i = 0; i < values.length; i++) {
    const e = values[i];
    if (e !== winner && isObject(e) && e.primary === true) values[i] = { ...e, primary: false };
  }
}

/** `type eq "work" and primary eq true` → {type: "work", primary: true}; undefined for anything else. */
function equalitiesOf(filter: Filter, attribute: AttributeRef): Obj | undefined {
  const parts = filter.type === 'and' ? filter.filters : [filter];
  const seed: Obj = {};
  for (const p of parts) {
    if (p.type !== 'compare' || p.op !== 'eq' || p.value === null || p.path.schema !== undefined)
      return undefined;
    const name = p.path.subAttribute === undefined ? p.path.attribute : p.path.subAttribute;
    const sub = attribute.subAttributes?.get(name.toLowerCase());
    if (!sub) return undefined;
    seed[sub.name] = p.value;
  }
  return seed;
}

/** A deep copy of a JSON value, several times faster than structuredClone for resource-sized objects. */
function cloneJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i]);
    return out;
  }
  const out: Obj = {};
  for (const key of Object.keys(value)) {
    const v = cloneJson((value as Obj)[key]);
    // a "__proto__" key (JSON.parse makes one) must stay data, not become the copy's prototype
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/** Structural equality of JSON values; object key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !deepEqual((a as Obj)[k], (b as Obj)[k])) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Group members without loading them

/**
 * The net effect of a PATCH on a group's members, as ids, and the operations that touch other attributes.
 * With `replace`, the members become exactly that list (add and remove are then empty); otherwise remove
 * the `remove` ids and add the `add` ids (the two lists never share an id).
 */
export interface MemberChanges {
  add: string[];
  remove: string[];
  replace?: string[];
  /** the operations on other attributes, in their order, for applyPatch */
  operations: PatchOperation[];
}

/**
 * Reduces the member operations of a PATCH to ids so that adding one member to a group of 100,000 never
 * materialises the list. Operations are folded in order, so "remove all, then add x" leaves exactly x, and
 * "add x, then remove x" removes x. Handles `members` with add/replace/remove (with or without Entra's value
 * list), `members[value eq "id"]` (and `or` of such) on remove, and a `members` key in a no-path value.
 * Returns undefined when a member operation needs the members themselves (`members[display eq "x"]`, a
 * sub-attribute path): the server then loads the group and uses applyPatch.
 */
export function splitMemberOperations(operations: readonly PatchOperation[]): MemberChanges | undefined {
  let replace: Set<string> | undefined;
  const add = new Set<string>();
  const remove = new Set<string>();
  const others: PatchOperation[] = [];
  const addIds = (ids: string[]) => {
    for (const id of ids) {
      if (replace) replace.add(id);
      else {
        add.add(id);
        remove.delete(id);
      }
    }
  };
  const removeIds = (ids: string[]) => {
    for (const id of ids) {
      if (replace) replace.delete(id);
      else {
        remove.add(id);
        add.delete(id);
      }
    }
  };
  const replaceAll = (ids: string[]) => {
    replace = new Set(ids);
    add.clear();
    remove.clear();
  };

  for (let index = 0; index < operations.length; index++) {
    const operation = operations[index]!;
    const op = patchOpName(operation?.op, index);
    const where = `operation ${index + 1} (${op}${operation.path ? ` ${operation.path}` : ''})`;
    const text = typeof operation.path === 'string' ? operation.path.trim() : '';
    if (text === '') {
      const value = operation.value;
      const key = isObject(value) ? Object.keys(value).find((k) => k.toLowerCase() === 'members') : undefined;
      if (!key || op === 'remove') {
        others.push(operation);
        continue;
      }
      const ids = memberIds((value as Obj)[key], where);
      if (op === 'add') addIds(ids);
      else replaceAll(ids);
      const rest = { ...(value as Obj) };
      delete rest[key];
      if (Object.keys(rest).length > 0) others.push({ ...operation, value: rest });
      continue;
    }
    let path: AttributePath;
    try {
      path = parsePath(text);
    } catch (err) {
      if (err instanceof ScimError) throw new ScimError(err.status, err.scimType, `${where}: ${err.detail}`);
      throw err;
    }
    const isMembers =
      path.attribute.toLowerCase() === 'members' &&
      (path.schema === undefined ||
        `${path.schema}:`.toLowerCase() === 'urn:ietf:params:scim:schemas:core:2.0:group:');
    if (!isMembers) {
      others.push(operation);
      continue;
    }
    if (path.subAttribute !== undefined) return undefined;
    if (path.filter) {
      const ids = op === 'remove' ? valueEqualities(path.filter) : undefined;
      if (!ids) return undefined;
      removeIds(ids);
      continue;
    }
    if (op === 'add') addIds(memberIds(operation.value, where));
    else if (op === 'replace') replaceAll(memberIds(operation.value, where));
    else if (operation.value === undefined || operation.value === null) replaceAll([]);
    else removeIds(memberIds(operation.value, where));
  }
  const result: MemberChanges = { add: [...add], remove: [...remove], operations: others };
  if (replace) {
    result.replace = [...replace];
    result.add = [];
    result.remove = [];
  }
  return result;
}

/** [{value: "id"}, ...] (or one such object) → ids; Entra's {"$ref": null} and display are ignored. */
function memberIds(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  const ids: string[] = [];
  for (const item of list) {
    if (item === null) continue;
    const id = isObject(item) ? getAttribute(item, 'value') : undefined;
    if (typeof id !== 'string' || id === '') {
      throw badRequest(
        'invalidValue',
        `${where}: each member must be an object with a "value" that is the member's id`,
      );
    }
    ids.push(id);
  }
  return ids;
}

/** `value eq "a"` or `value eq "a" or value eq "b"` → ["a", "b"]; undefined for any other filter. */
function valueEqualities(filter: Filter): string[] | undefined {
  const parts = filter.type === 'or' ? filter.filters : [filter];
  const ids: string[] = [];
  for (const p of parts) {
    if (p.type !== 'compare' || p.op !== 'eq' || typeof p.value !== 'string') return undefined;
    const name = (
      p.path.subAttribute === undefined ? p.path.attribute : `${p.path.attribute}.${p.path.subAttribute}`
    ).toLowerCase();
    if (name !== 'value' && name !== 'members.value') return undefined;
    ids.push(p.value);
  }
  return ids;
}
