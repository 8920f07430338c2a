/**
 * Which scoping filters of the rules run on an agent (docs/agent.md, "Scoping on the agent"): those that
 * decide from the source object alone, so an object that no rule takes never leaves the premises, as in Entra
 * Cloud Sync. Computed on the service from the compiled rules and sent with the connector's configuration.
 *
 * A connector's objects of one type may be left on the agent only when every inbound rule reading that type
 * has a filter of the object's own attributes (an object in the scope of any one rule must cross) and no
 * outbound rule writes to the connector (a target's objects are needed whole: joins, confirmed state).
 */
import type { InboundRule, OutboundRule } from '../../config/model.js';
import { readsMetaverse } from '../../rules/index.js';
import type { ScopeFilter } from '../../rules/types.js';

/** object type → the scoping filters of every inbound rule reading it; an object outside all of them stays */
export type AgentScope = Record<string, ScopeFilter[]>;

export function agentScope(connector: string, inbound: readonly InboundRule[], outbound: readonly OutboundRule[]): AgentScope | undefined {
  if (outbound.some((r) => r.connector === connector)) return undefined;
  const byType = new Map<string, ScopeFilter[]>();
  const whole = new Set<string>();
  for (const rule of inbound) {
    if (rule.connector !== connector) continue;
    // no filter (everything in scope) or one that asks the metaverse: every object of the type must cross
    if (rule.scopeSource.length === 0 || readsMetaverse(rule.scopeSource)) whole.add(rule.objectType);
    else byType.set(rule.objectType, [...(byType.get(rule.objectType) ?? []), rule.scopeSource]);
  }
  const scope: AgentScope = {};
  for (const [type, filters] of [...byType].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) if (!whole.has(type)) scope[type] = filters;
  return Object.keys(scope).length > 0 ? scope : undefined;
}
