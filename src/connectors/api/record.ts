/**
 * One bulkUpload operation → a record write, or every problem it has. The data is a SCIM User (RFC 7643 §4.1)
 * with the enterprise extension (§4.3) and the custom extensions the settings list, as Microsoft Entra's
 * API-driven inbound provisioning takes it:
 * https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-post-bulkupload and
 * https://learn.microsoft.com/entra/identity/app-provisioning/inbound-provisioning-api-custom-attributes
 *
 * Values are checked and converted by src/scim/'s resource rules (each top-level attribute on its own, so a
 * record with three bad attributes names all three), then flattened to the attribute names Entra's inbound
 * mapping uses: userName, name.givenName, emails[type eq "work"].value,
 * urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department (src/connectors/scim/paths.ts).
 */
import type { Attributes } from '../../core/values.js';
import {
  defineSchema,
  ENTERPRISE_USER_SCHEMA_DEFINITION,
  prepareResource,
  ResourceSchema,
  type SchemaDefinition,
  ScimError,
  USER_RESOURCE_TYPE,
  USER_SCHEMA,
  USER_SCHEMA_DEFINITION,
} from '../../scim/index.js';
import { flatten, MANAGER } from '../scim/paths.js';
import type { RecordIssue } from './errors.js';
import type { RecordWrite } from './records.js';
import type { ApiSettings } from './settings.js';

export const OBJECT_TYPE = 'user';

/** The schema pushed records are read with: User (userName not required: Entra's updates omit it), enterprise, custom. */
export function recordSchema(settings: ApiSettings): ResourceSchema {
  const core: SchemaDefinition = {
    ...USER_SCHEMA_DEFINITION,
    attributes: USER_SCHEMA_DEFINITION.attributes.map((a) => ({ ...a, required: false })),
  };
  const custom = Object.entries(settings.extensions).map(([id, attributes]) =>
    defineSchema({
      id,
      attributes: Object.entries(attributes).map(([name, a]) =>
        typeof a === 'string' ? { name, type: a } : { name, type: a.type, multiValued: a.multiValued },
      ),
    }),
  );
  const resourceType = {
    ...USER_RESOURCE_TYPE,
    schemaExtensions: [ENTERPRISE_USER_SCHEMA_DEFINITION, ...custom].map((s) => ({ schema: s.id, required: false })),
  };
  return new ResourceSchema(resourceType, core, [ENTERPRISE_USER_SCHEMA_DEFINITION, ...custom]);
}

export interface ParsedOperation {
  /** how results and errors name the operation: its bulkId, else its position */
  label: string;
  bulkId?: string;
  method: string;
  anchor?: string;
  write?: RecordWrite;
  issues: RecordIssue[];
  /** attributes sent that no schema defines, accepted and not kept (unknownAttributes: ignore) */
  ignored: string[];
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads operation `index` of a BulkRequest. Never throws for bad input: problems are issues. */
export function parseOperation(op: unknown, index: number, schema: ResourceSchema, settings: ApiSettings): ParsedOperation {
  const bulkId = isObject(op) && typeof op.bulkId === 'string' && op.bulkId !== '' ? op.bulkId : undefined;
  const label = bulkId !== undefined ? `bulkId ${bulkId}` : `Operations[${index}]`;
  const method = isObject(op) && typeof op.method === 'string' ? op.method.toUpperCase() : '';
  const out: ParsedOperation = { label, ...(bulkId !== undefined && { bulkId }), method, issues: [], ignored: [] };
  const issue = (code: RecordIssue['code'], message: string, path?: string) =>
    out.issues.push({ code, message: `${label}: ${message}`, ...(path !== undefined && { path }), retryable: false });
  if (!isObject(op)) {
    issue('API_OPERATION_INVALID', 'an operation must be an object with method, bulkId, path and data');
    return out;
  }
  const path = typeof op.path === 'string' ? op.path.trim() : undefined;
  if (method === 'DELETE') {
    // Not in Entra's API (it only takes POST; a leaver is active: false): a record the HR system withdraws.
    const m = path === undefined ? null : /^\/Users\/([^/?#]+)$/i.exec(path);
    if (!m) {
      issue('API_OPERATION_INVALID', 'a DELETE needs the path /Users/{anchor}', 'path');
      return out;
    }
    let anchor: string;
    try {
      anchor = decodeURIComponent(m[1]!);
    } catch {
      issue('API_OPERATION_INVALID', 'the anchor in the path is not valid percent-encoding', 'path');
      return out;
    }
    out.anchor = anchor;
    out.write = { op: 'delete', anchor };
    return out;
  }
  if (method !== 'POST') {
    issue('API_OPERATION_UNSUPPORTED', `method ${JSON.stringify(op.method ?? null)}: a bulkUpload operation is a POST (create or update, decided by idsync) or a DELETE`, 'method');
    return out;
  }
  if (path === undefined || !/^\/Users\/?$/i.test(path)) {
    issue('API_OPERATION_UNSUPPORTED', `path ${JSON.stringify(op.path ?? null)}: records are users, posted to /Users`, 'path');
    return out;
  }
  if (!isObject(op.data)) {
    issue('API_OPERATION_INVALID', 'data must be a SCIM User object', 'data');
    return out;
  }
  const data = op.data;
  const accepted: Obj = { schemas: [USER_SCHEMA] };
  const touched: string[] = [];
  const schemasKey = Object.keys(data).find((k) => k.toLowerCase() === 'schemas');
  if (schemasKey === undefined || !Array.isArray(data[schemasKey]) || !(data[schemasKey] as unknown[]).some((s) => typeof s === 'string' && s.toLowerCase() === USER_SCHEMA.toLowerCase())) {
    issue('API_ATTRIBUTE_INVALID', `"schemas" must list ${USER_SCHEMA}`, 'schemas');
  }
  // Each attribute is checked on its own: every bad one is named, not only the first.
  const check = (candidate: Obj, path: string): boolean => {
    try {
      prepareResource({ schemas: [USER_SCHEMA], ...candidate }, schema, { unknownAttributes: 'reject' });
      return true;
    } catch (err) {
      if (!(err instanceof ScimError)) throw err;
      issue('API_ATTRIBUTE_INVALID', err.detail, path);
      return false;
    }
  };
  const unknown = (name: string) => {
    if (settings.unknownAttributes === 'reject') {
      issue('API_ATTRIBUTE_UNKNOWN', `${name} is not an attribute of the core User, the enterprise User or a listed extension (settings: extensions)`, name);
    } else out.ignored.push(name);
  };
  for (const key of Object.keys(data)) {
    if (key === schemasKey) continue;
    const value = data[key];
    const extension = schema.extension(key);
    if (extension) {
      if (value === null) {
        // the whole extension cleared
        for (const a of extension.attributes) touched.push(`${extension.id}:${a.name}`);
        continue;
      }
      if (!isObject(value)) {
        issue('API_ATTRIBUTE_INVALID', `${extension.id} must be an object of its attributes`, extension.id);
        continue;
      }
      const inner: Obj = {};
      for (const k of Object.keys(value)) {
        if (k.toLowerCase() === 'schemas') continue;
        const ref = schema.attribute(k, extension.id);
        if (!ref) {
          unknown(`${extension.id}:${k}`);
          continue;
        }
        if (check({ [extension.id]: { [k]: value[k] } }, `${extension.id}:${ref.name}`)) {
          inner[ref.name] = value[k];
          touched.push(`${extension.id}:${ref.name}`);
        }
      }
      accepted[extension.id] = { ...((accepted[extension.id] as Obj | undefined) ?? {}), ...inner };
      continue;
    }
    const target = schema.resolveName(key);
    if (target?.kind !== 'attribute' || target.subAttribute !== undefined) {
      unknown(key);
      continue;
    }
    const ref = target.attribute;
    if (ref.definition.mutability === 'readOnly' || ref.name === 'password') {
      // id, meta, groups: the server's own (RFC 7644 §3.3 ignores them); a password is not taken from HR
      out.ignored.push(ref.name);
      continue;
    }
    const name = ref.container ? `${ref.container}:${ref.name}` : ref.name;
    if (check({ [key]: value }, name)) {
      accepted[key] = value;
      touched.push(name);
    }
  }
  if (out.issues.length > 0) return out;
  let prepared: Obj;
  try {
    prepared = prepareResource(accepted, schema, { unknownAttributes: 'reject' });
  } catch (err) {
    if (!(err instanceof ScimError)) throw err;
    issue('API_ATTRIBUTE_INVALID', err.detail);
    return out;
  }
  const attributes: Attributes = flatten(prepared, { references: new Set([MANAGER]), booleans: new Set(), extraPaths: [] });
  const anchorValues = attributes[settings.anchor] ?? [];
  const anchor = anchorValues.length === 1 && typeof anchorValues[0] === 'string' && anchorValues[0].trim() !== '' ? anchorValues[0] : undefined;
  if (anchor === undefined) {
    issue(
      'API_ANCHOR_MISSING',
      anchorValues.length > 1
        ? `${settings.anchor} has ${anchorValues.length} values; the record's anchor needs exactly one`
        : `${settings.anchor} is required: it identifies the person across pushes (the connector's anchor)`,
      settings.anchor,
    );
    return out;
  }
  out.anchor = anchor;
  out.write = { op: 'upsert', anchor, attributes, touched };
  return out;
}
