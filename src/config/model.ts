/** The config after loading: validated, secrets resolved, rules compiled. What the engine runs on. */
import type { ConnectorFactory } from '../connectors/contract.js';
import type { Value } from '../core/values.js';
import type { CompiledExpression, CompiledScope, EvaluationOptions, FlowInput, ScopeFilter } from '../rules/types.js';
import type { ServeConfig, Threshold } from './schema.js';

export interface ConnectorConfig {
  name: string;
  type: string;
  factory: ConnectorFactory<unknown>;
  /** the connector's own settings, validated by its factory; may hold secrets: never print */
  settings: unknown;
  deleteThreshold: Threshold;
  pageSize: number;
  /** a delta becomes a full import when the last full one is older than this; null: never */
  fullImportIntervalMs: number | null;
}

export interface CompiledFlow {
  target: string;
  applyOn: 'always' | 'create';
  authoritativeNull: boolean;
  /** inbound: the connector whose objects this flow's references name (default: the rule's connector) */
  referencesIn?: string;
  /** how the flow is written, for plans and explain: "[givenName]", "Join(...)", "\"Contoso\"" */
  describe: string;
  /** the attributes the flow reads (its source attribute, or its expression's): secrecy follows them */
  reads?: readonly string[];
  /** the expression when the flow is one, so explain can show it */
  expression?: CompiledExpression;
  /** the flow picks a value that must be unique in the target (SelectUniqueValue) */
  picksUnique: boolean;
  /** [] = no value; undefined = the flow does not apply to this object */
  evaluate(input: FlowInput, options?: EvaluationOptions): Value[] | undefined;
}

export interface JoinCondition {
  attribute: string;
  /** outbound rules may leave it out: compare with the value the flows give the attribute */
  metaverse?: string;
}

interface RuleCommon {
  name: string;
  connector: string;
  objectType: string;
  metaverseType: string;
  scope: CompiledScope;
  scopeSource: ScopeFilter;
  join: JoinCondition[][];
  flows: CompiledFlow[];
}

export interface InboundRule extends RuleCommon {
  direction: 'inbound';
  project: boolean;
  precedence: number;
}

export interface OutboundRule extends RuleCommon {
  direction: 'outbound';
  provision: boolean;
  deprovision: 'delete' | 'disable' | 'leave';
}

export type Rule = InboundRule | OutboundRule;

export interface LoadedConfig {
  file: string;
  dir: string;
  stateDir: string;
  staging: boolean;
  scheduleMs: number;
  /** provisioning-log entries older than this are removed after each cycle */
  logRetentionDays: number;
  connectors: Map<string, ConnectorConfig>;
  inbound: InboundRule[];
  outbound: OutboundRule[];
  /** changes whenever rules or connector object mappings change: a full sync follows automatically */
  rulesHash: string;
  /** `idsync serve` settings, paths resolved and each SCIM endpoint's connector filled in */
  serve?: ServeConfig;
}
