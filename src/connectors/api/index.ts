/**
 * Connector type `api`: people pushed by HR systems to `idsync serve` (POST .../bulkUpload, src/server/inbound/),
 * in the shape of Microsoft Entra's API-driven inbound provisioning
 * (https://learn.microsoft.com/entra/identity/app-provisioning/inbound-provisioning-api-concepts).
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { AttributeDefinition, ResourceSchema } from '../../scim/index.js';
import type { AttributeSchema, AttributeType, ConnectorFactory, ConnectorSchema } from '../contract.js';
import { MANAGER } from '../scim/paths.js';
import { ApiConnector } from './connector.js';
import { OBJECT_TYPE, recordSchema } from './record.js';
import { openRecordStore } from './records.js';
import { type ApiSettings, apiSettings } from './settings.js';

export type { ApiSettings } from './settings.js';

export const apiConnectorFactory: ConnectorFactory<ApiSettings> = {
  type: 'api',
  description: 'people pushed by HR systems to `idsync serve` (bulkUpload, as Entra API-driven inbound provisioning)',
  settings: apiSettings,
  create(name, settings, context) {
    const { store, release } = openRecordStore(recordsPath(name, settings, context.configDir, context.stateDir));
    return new ApiConnector(name, store, connectorSchema(recordSchema(settings)), release);
  },
  offlineSchema: async (_name, settings) => connectorSchema(recordSchema(settings)),
};

/** Where connector `name` keeps its pushed records (the endpoint and the connector open the same file). */
export function recordsPath(name: string, settings: ApiSettings, configDir: string, stateDir: string): string {
  if (settings.path === undefined) return join(stateDir, 'inbound', `${name}.db`);
  return isAbsolute(settings.path) ? settings.path : resolve(configDir, settings.path);
}

/**
 * The flat attribute names a record can have, as the rules name them. Open (`extensible`): a multi-valued
 * attribute's element types are the client's choice (emails[type eq "work"].value, [type eq "home"]).
 */
export function connectorSchema(schema: ResourceSchema): ConnectorSchema {
  const attributes: Record<string, AttributeSchema> = {};
  for (const ref of schema.allAttributes()) {
    const def = ref.definition;
    if (def.mutability === 'readOnly' || def.mutability === 'writeOnly' || def.name === 'groups') continue;
    const base = ref.container ? `${ref.container}:${def.name}` : def.name;
    if (base === MANAGER) {
      attributes[base] = { type: 'reference', multiValued: false };
      continue;
    }
    if (def.type !== 'complex') {
      attributes[base] = { type: typeOf(def), multiValued: def.multiValued };
      continue;
    }
    const subs = (def.subAttributes ?? []).filter((s) => s.mutability !== 'readOnly' && !['type', '$ref', 'display'].includes(s.name));
    const typeValues = def.subAttributes?.find((s) => s.name === 'type')?.canonicalValues ?? [];
    for (const sub of subs) {
      if (!def.multiValued) {
        attributes[`${base}.${sub.name}`] = { type: typeOf(sub), multiValued: false };
        continue;
      }
      attributes[`${base}.${sub.name}`] = { type: typeOf(sub), multiValued: true };
      for (const t of typeValues) attributes[`${base}[type eq "${t}"].${sub.name}`] = { type: typeOf(sub), multiValued: false };
    }
  }
  return { objectTypes: { [OBJECT_TYPE]: { attributes, extensible: true } } };
}

function typeOf(def: AttributeDefinition): AttributeType {
  switch (def.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'decimal':
      return 'number';
    case 'dateTime':
      return 'date';
    default:
      return 'string';
  }
}
