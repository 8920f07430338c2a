/**
 * The `ldap` connector type: OpenLDAP, Active Directory and other LDAP v3 directories.
 * See docs/connectors/ldap.md.
 */
import { ConfigError } from '../../core/errors.js';
import type { ConnectorFactory } from '../contract.js';
import { LdapConnector } from './connector.js';
import { type LdapSettings, ldapSettings, resolveSettings } from './settings.js';

export const ldapConnectorFactory: ConnectorFactory<LdapSettings> = {
  type: 'ldap',
  description: 'LDAP v3 directories: OpenLDAP, Active Directory, Samba AD and others',
  settings: ldapSettings as unknown as ConnectorFactory<LdapSettings>['settings'],
  create(name, settings, context) {
    let resolved: ReturnType<typeof resolveSettings>;
    try {
      resolved = resolveSettings(settings, context.configDir);
    } catch (err) {
      throw new ConfigError([
        {
          code: 'LDAP_TLS_CA_UNREADABLE',
          message: `connector ${name}: tls.ca cannot be read: ${(err as Error).message}`,
          path: ['connectors', name, 'tls', 'ca'],
        },
      ]);
    }
    return new LdapConnector(name, resolved, context);
  },
};
