/**
 * The agent channel on the service's HTTP(S) port: WebSocket Upgrade requests for /agent/v1/channel go to the
 * agent hub (agent/hub/hub.ts), which authenticates each one and keeps the connections; any other Upgrade is
 * refused. The hub is made the process's (agent/hub/current.ts) so remote connectors reach it.
 */
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { setAgentHub } from '../agent/hub/current.js';
import { AgentHub, type GroupConfig } from '../agent/hub/hub.js';
import type { LoadedConfig } from '../config/model.js';
import { VERSION } from '../core/version.js';
import type { AgentStore } from '../store/agents.js';

/** `config` gives the config in force (serve reloads it: server/config-reload.ts) */
export function startAgentChannel(app: FastifyInstance, config: () => LoadedConfig, store: AgentStore): AgentHub {
  const envHeartbeat = Number(process.env.IDSYNC_AGENT_HEARTBEAT_MS);
  const hub = new AgentHub({
    store,
    version: VERSION,
    configFor: (group) => groupConfig(config(), group),
    ...(Number.isInteger(envHeartbeat) && envHeartbeat > 0 && { heartbeatMs: envHeartbeat }),
    log: { info: (m) => app.log.info(m), warn: (m) => app.log.warn(m) },
  });
  (app.server as Server).on('upgrade', (request, socket, head) => {
    if (!hub.handleUpgrade(request, socket, head)) socket.destroy();
  });
  setAgentHub(hub);
  return hub;
}

export function stopAgentChannel(hub: AgentHub): Promise<void> {
  setAgentHub(undefined);
  return hub.close();
}

/** The connectors of `group` and their settings, as the agents of the group receive them. */
export function groupConfig(config: LoadedConfig, group: string): GroupConfig {
  return {
    connectors: [...config.connectors.values()]
      .filter((c) => c.agent?.group === group)
      .map((c) => ({ name: c.name, type: c.type, settings: c.agent!.settings, ...(c.agent!.scope && { scope: c.agent!.scope }) })),
  };
}
