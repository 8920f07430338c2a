/**
 * The factory of a connector that runs on an agent: the connector's own type validates its settings as
 * usual (on the service, with `${agent:NAME}` references left as written: they are resolved on the agent),
 * and what the engine gets is a RemoteConnector that sends each operation to an agent of the group.
 */
import type { Connector, ConnectorContext, ConnectorFactory } from '../../connectors/contract.js';
import { RemoteConnector } from './connector.js';

/** `${agent:NAME}`: a secret the agent resolves from its own environment or secrets folder */
export const AGENT_REFERENCE = /\$\{agent:([A-Za-z0-9._-]+)\}/g;

export function remoteConnectorFactory<S>(inner: ConnectorFactory<S>, group: string): ConnectorFactory<S> {
  return {
    type: inner.type,
    description: `${inner.description} (on an agent of group ${group})`,
    settings: inner.settings,
    create(name: string, settings: S, context: ConnectorContext): Connector {
      let local: Connector | undefined;
      try {
        // never connected: for its capabilities and delta method. Settings naming files on the agent's
        // machine (a CA) may not build here; the agent then reports the capabilities.
        local = inner.create(name, settings, context);
      } catch {
        local = undefined;
      }
      return new RemoteConnector(name, inner.type, group, local);
    },
  };
}
