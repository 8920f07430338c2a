/**
 * Discovery (RFC 7644 section 4): what the server supports (/ServiceProviderConfig), which attributes it has
 * (/Schemas) and where its resources live (/ResourceTypes). A server that does not answer these is treated
 * as the RFC's plain core: PATCH and filter assumed (as Entra does), Bulk, ETags, sorting and cursors not.
 */
import type { AttributeSchema, AttributeType, ObjectTypeSchema } from '../contract.js';
import { type ScimHttp, scimDetail, TransportError } from './http.js';
import { ENTERPRISE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA_DEFINITION, filterEq, GROUP_SCHEMA_DEFINITION, USER_SCHEMA_DEFINITION } from '../../scim/index.js';
import { MANAGER } from './paths.js';
import type { ScimSettings } from './settings.js';

export interface Features {
  patch: boolean;
  bulk: { supported: boolean; maxOperations: number; maxPayloadSize: number };
  filter: { supported: boolean; maxResults: number };
  sort: boolean;
  etag: boolean;
  /** RFC 9865 cursor pagination */
  cursor: boolean;
  /** the server answered /ServiceProviderConfig */
  discovered: boolean;
}

export interface ScimAttributeDef {
  name: string;
  type: string;
  multiValued: boolean;
  mutability?: string;
  returned?: string;
  subAttributes?: ScimAttributeDef[];
  canonicalValues?: string[];
  referenceTypes?: string[];
}

export interface SchemaDef {
  id: string;
  attributes: ScimAttributeDef[];
}

export interface Discovered {
  features: Features;
  /** schema URN → definition */
  schemas: Map<string, SchemaDef>;
  /** schema extensions per core schema, from /ResourceTypes */
  extensions: Map<string, string[]>;
}

export async function discover(http: ScimHttp, settings: ScimSettings): Promise<Discovered> {
  const spc = await getOptional(http, '/ServiceProviderConfig');
  const features = readFeatures(spc, settings);
  const schemas = new Map<string, SchemaDef>();
  for (const s of listOf(await getOptional(http, '/Schemas'))) {
    if (typeof s.id === 'string' && Array.isArray(s.attributes)) schemas.set(s.id, { id: s.id, attributes: s.attributes as ScimAttributeDef[] });
  }
  for (const core of CORE_SCHEMAS) if (!schemas.has(core.id)) schemas.set(core.id, core);
  const extensions = new Map<string, string[]>();
  for (const rt of listOf(await getOptional(http, '/ResourceTypes'))) {
    if (typeof rt.schema !== 'string') continue;
    const ext = Array.isArray(rt.schemaExtensions) ? rt.schemaExtensions.map((e: { schema?: unknown }) => e.schema).filter((x: unknown): x is string => typeof x === 'string') : [];
    extensions.set(rt.schema, ext);
  }
  if (!extensions.has(settings.userType.schema)) extensions.set(settings.userType.schema, schemas.has(ENTERPRISE_USER_SCHEMA) ? [ENTERPRISE_USER_SCHEMA] : []);
  return { features, schemas, extensions };
}

async function getOptional(http: ScimHttp, path: string): Promise<any> {
  const res = await http.request('GET', path, { retry: 'safe' });
  if (res.status === 200) return res.body;
  // Refused credentials are not a server without discovery: say so instead of guessing its features.
  if (res.status === 401 || res.status === 403) {
    throw new TransportError('SCIM_UNAUTHORIZED', `GET ${path}: HTTP ${res.status}${scimDetail(res.body)}`, false, false, res.status);
  }
  return null;
}

/** /Schemas and /ResourceTypes answer as a ListResponse (RFC) or, on some servers, as a bare array. */
function listOf(body: any): any[] {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.Resources)) return body.Resources;
  return [];
}

function readFeatures(spc: any, settings: ScimSettings): Features {
  const c = settings.compat;
  const supported = (v: any, fallback: boolean) => (v && typeof v.supported === 'boolean' ? v.supported : fallback);
  const pick = (setting: boolean | 'auto', server: boolean) => (setting === 'auto' ? server : setting);
  const discovered = spc !== null && typeof spc === 'object';
  const s = discovered ? spc : {};
  const pagination = s.pagination ?? {};
  return {
    discovered,
    patch: pick(c.patch, supported(s.patch, true)),
    bulk: {
      supported: pick(c.bulk, supported(s.bulk, false)),
      maxOperations: Number(s.bulk?.maxOperations) > 0 ? Number(s.bulk.maxOperations) : 1000,
      maxPayloadSize: Number(s.bulk?.maxPayloadSize) > 0 ? Number(s.bulk.maxPayloadSize) : 1_048_576,
    },
    filter: {
      supported: pick(c.filter, supported(s.filter, true)),
      maxResults: Number(s.filter?.maxResults) > 0 ? Number(s.filter.maxResults) : 1000,
    },
    sort: supported(s.sort, false),
    etag: pick(c.etag, supported(s.etag, false)),
    cursor: pagination.cursor === true,
  };
}

// ---- the connector schema -----------------------------------------------------------------------------------------

const TYPES: Record<string, AttributeType> = {
  string: 'string',
  boolean: 'boolean',
  decimal: 'number',
  integer: 'number',
  datetime: 'date',
  binary: 'binary',
  reference: 'string',
  complex: 'string',
};

/** Flat attribute names (Entra syntax) of one resource type, from its core schema and extensions. */
export function objectTypeSchema(found: Discovered, coreSchema: string, isGroup: boolean): ObjectTypeSchema {
  const attributes: Record<string, AttributeSchema> = {};
  const add = (name: string, def: ScimAttributeDef, multiValued: boolean) => {
    const type = TYPES[def.type.toLowerCase()] ?? 'string';
    attributes[name] = {
      type,
      multiValued,
      ...(def.mutability === 'readOnly' ? { readOnly: true } : {}),
      ...(def.returned === 'never' || def.name === 'password' ? { secret: true } : {}),
    };
  };
  const walk = (prefix: string, defs: ScimAttributeDef[]) => {
    for (const def of defs) {
      if (def.name === 'id' || def.name === 'meta' || def.name === 'schemas') continue;
      const name = `${prefix}${def.name}`;
      if (name === MANAGER) {
        attributes[name] = { type: 'reference', multiValued: false };
        continue;
      }
      if (isGroup && !prefix && def.name === 'members') {
        attributes.members = { type: 'reference', multiValued: true };
        continue;
      }
      if (!prefix && def.name === 'groups') continue;
      const subs = def.type.toLowerCase() === 'complex' ? (def.subAttributes ?? []) : [];
      if (subs.length === 0) {
        add(name, def, def.multiValued);
        continue;
      }
      const typeSub = subs.find((s) => s.name === 'type');
      const selectable = subs.filter((s) => s.name !== 'type' && s.name !== '$ref' && s.name !== 'display');
      if (def.multiValued && typeSub?.canonicalValues?.length) {
        // canonical values come from the server: only strings name an element
        for (const t of typeSub.canonicalValues.filter((v): v is string => typeof v === 'string')) {
          for (const sub of selectable) add(`${name}[${filterEq('type', t)}].${sub.name}`, sub, false);
        }
      }
      for (const sub of selectable) add(`${name}.${sub.name}`, sub, def.multiValued);
    }
  };
  walk('', found.schemas.get(coreSchema)?.attributes ?? []);
  for (const ext of found.extensions.get(coreSchema) ?? []) walk(`${ext}:`, found.schemas.get(ext)?.attributes ?? []);
  if (!isGroup) attributes.active ??= { type: 'boolean', multiValued: false };
  attributes.externalId ??= { type: 'string', multiValued: false };
  return { attributes };
}

// ---- the RFC 7643 core schemas, for servers without /Schemas ------------------------------------------------

/** The definitions idsync's own SCIM server publishes (RFC 7643 section 8.7.1), used where a server has no /Schemas. */
export const CORE_SCHEMAS: readonly SchemaDef[] = [USER_SCHEMA_DEFINITION, GROUP_SCHEMA_DEFINITION, ENTERPRISE_USER_SCHEMA_DEFINITION];
