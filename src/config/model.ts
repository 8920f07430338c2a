/** The config after loading: validated, secrets resolved, rules compiled. What the engine runs on. */
import type { ConnectorFactory } from '../connectors/contract.js';
import type { ConfigProblem } from '../core/errors.js';
import type { Value } from '../core/values.js';
import type { CompiledExpression, CompiledScope, EvaluationOptions, FlowInput, ScopeFilter } from '../rules/types.js';
import type { NotificationsConfig, ServeConfig, Threshold } from './schema.js';

export interface ConnectorConfig {
  name: string;
  type: string;
  factory: ConnectorFactory<unknown>;
  /**
   * Set when the connector runs on an agent (`agent: GROUP`): its group, and the settings the agents of the
   * group receive (as written, with `${agent:NAME}` references for the agent to resolve).
   */
  agent?: {
    group: string;
    settings: unknown;
    /**
     * The rules' scoping filters the agent runs before objects leave the premises, by object type
     * (agent/scope/qualify.ts); undefined: every object crosses.
     */
    scope?: Record<string, ScopeFilter[]>;
  };
  /**
   * The connector's own settings, validated by its factory; may hold secrets: never print. Read only to open
   * the connector: it throws a ConfigError when a secret of the connector cannot be resolved (unresolvedSecrets).
   */
  readonly settings: unknown;
  /** ${env:}/${file:} references that could not be resolved, each at its place: opening the connector fails */
  unresolvedSecrets: ConfigProblem[];
  /**
   * The settings with each unresolved reference left as written (`${env:X}`): enough to build the connector
   * for what never reaches its system (its capabilities, for explain), never to connect with. The same as
   * `settings` when every secret resolved; undefined when the settings cannot be validated without them.
   */
  readonly offlineSettings: unknown;
  deleteThreshold: Threshold;
  pageSize: number;
  /** a delta becomes a full import when the last full one is older than this; null: never */
  fullImportIntervalMs: number | null;
  /**
   * A hash of the connector's own settings as written (secrets as their unresolved references): when it
   * changes (an attribute list, a filter, a column), the next import of this connector is a full one.
   */
  settingsHash: string;
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
  /** state.url: the state in PostgreSQL (secrets resolved); absent: SQLite in stateDir */
  stateUrl?: string;
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
  /** `notifications:` with its secrets resolved and files made absolute (docs/operations.md) */
  notifications?: NotificationsConfig;
  /**
   * ${env:}/${file:} references of notifications: and serve.metrics.token that could not be resolved: only
   * `idsync serve` needs them, and refuses to start (exit 2) while any is missing.
   */
  opsSecrets?: ConfigProblem[];
  /** where rules name connector attributes: `idsync validate` checks them against the connectors' schemas */
  attributeUses?: AttributeUse[];
}

/** One place where a rule names an attribute of a connector's objects. */
export interface AttributeUse {
  connector: string;
  objectType: string;
  /** file:line:column of the rule's objectType */
  objectTypeLocation: string;
  attribute: string;
  /** read: an inbound flow, scope or join reads it, or an outbound join compares with it; write: an outbound flow sets it */
  access: 'read' | 'write';
  /** file:line:column, inside an expression at the attribute's [name] */
  location: string;
}
