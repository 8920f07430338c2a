/**
 * Connector type `entra`: Microsoft Entra ID (Azure AD) through Microsoft Graph v1.0 — users and groups,
 * full and delta imports, exports with JSON batching, throttling and eventual consistency taken into
 * account. docs/connectors/entra.md describes the settings.
 */
import type { ConnectorFactory } from '../contract.js';
import { EntraConnector } from './connector.js';
import { models } from './model.js';
import { type EntraSettings, entraSettingsSchema } from './settings.js';

export const entraConnectorFactory: ConnectorFactory<EntraSettings> = {
  type: 'entra',
  description: 'Microsoft Entra ID through Microsoft Graph: users and groups',
  settings: entraSettingsSchema,
  create(name, settings, context) {
    return new EntraConnector(name, settings, context);
  },
  async offlineSchema(_name, settings) {
    const m = models(settings);
    return { objectTypes: { user: structuredClone(m.user.schema), group: structuredClone(m.group.schema) } };
  },
};

export type { EntraSettings } from './settings.js';
