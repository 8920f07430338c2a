/**
 * Connector types by name. Adding a connector type = one import and one entry here.
 */
import { apiConnectorFactory } from './api/index.js';
import { builtinConnectorFactory } from './builtin/index.js';
import type { ConnectorFactory } from './contract.js';
import { csvConnectorFactory } from './csv/index.js';
import { entraConnectorFactory } from './entra/index.js';
import { ldapConnectorFactory } from './ldap/index.js';
import { scimConnectorFactory } from './scim/index.js';
import { sqlConnectorFactory } from './sql/index.js';

const factories = new Map<string, ConnectorFactory<any>>();

function register(factory: ConnectorFactory<any>): void {
  factories.set(factory.type, factory);
}

// Registered connector types (keep alphabetical):
register(apiConnectorFactory);
register(builtinConnectorFactory);
register(csvConnectorFactory);
register(entraConnectorFactory);
register(ldapConnectorFactory);
register(scimConnectorFactory);
register(sqlConnectorFactory);

export function connectorFactory(type: string): ConnectorFactory<any> | undefined {
  return factories.get(type);
}

export function connectorTypes(): string[] {
  return [...factories.keys()].sort();
}

export { register as registerConnectorType };
