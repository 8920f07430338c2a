/**
 * The agent hub of this process, when it is a service that accepts agents (`idsync serve`). Remote
 * connectors find it here at each operation, so a connector made before the server started (the engine makes
 * them lazily) still reaches the agents; without a hub (`idsync run --once`) a remote connector is offline.
 */
import type { AgentHub } from './hub.js';

let current: AgentHub | undefined;

export function setAgentHub(hub: AgentHub | undefined): void {
  current = hub;
}

export function agentHub(): AgentHub | undefined {
  return current;
}
