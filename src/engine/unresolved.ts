/**
 * A connector whose config holds a secret that cannot be resolved here (an unset ${env:}, an unreadable
 * ${file:}). Commands that read state (explain, status) still get its name, type and capabilities; anything
 * that would reach its system throws the ConfigError naming the secret and its place.
 */
import type { Connector } from '../connectors/contract.js';
import type { ConfigError } from '../core/errors.js';

const REACHES_THE_SYSTEM = new Set<PropertyKey>(['test', 'schema', 'import', 'export', 'lookup', 'read', 'watch']);

export function withoutSecrets(connector: Connector, error: ConfigError): Connector {
  return new Proxy(connector, {
    get(target, property, receiver) {
      if (REACHES_THE_SYSTEM.has(property) && typeof Reflect.get(target, property, receiver) === 'function') {
        return () => {
          throw error;
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}
