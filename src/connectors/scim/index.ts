/**
 * Connector type `scim`: any SCIM 2.0 service provider (RFC 7643/7644) — cloud directories and SaaS
 * applications — provisioned the way Microsoft Entra's provisioning service does, with attribute names in
 * Entra's mapping syntax. docs/connectors/scim.md describes the settings.
 */
import type { ConnectorFactory } from '../contract.js';
import { ScimConnector } from './connector.js';
import { type ScimSettings, scimSettingsSchema } from './settings.js';

export const scimConnectorFactory: ConnectorFactory<ScimSettings> = {
  type: 'scim',
  description: 'a SCIM 2.0 service (cloud directory or SaaS application): users and groups',
  settings: scimSettingsSchema,
  create(name, settings, context) {
    return new ScimConnector(name, settings, context);
  },
};

export type { ScimSettings } from './settings.js';
