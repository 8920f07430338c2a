/**
 * What the portal reads from the admin API (/work/notes/api.md; the OpenAPI file at /api/v1/openapi.json is
 * the reference). Fields the portal can do without are optional: a page shows what is there.
 */

export type Health = 'ok' | 'warning' | 'error' | 'quarantined' | 'held' | 'skipped' | string;

export interface Hold {
  connector?: string;
  phase?: 'import' | 'export' | string;
  count?: number;
  limit?: number;
  population?: number;
  threshold?: string;
  message?: string;
}

export interface Quarantine {
  since?: string;
  until?: string;
  reason?: string;
  message?: string;
  level?: number;
}

export interface Counts {
  objects?: number;
  pendingExports?: number;
  errors?: number;
  [name: string]: number | undefined;
}

export interface RunSummary {
  id: number | string;
  kind?: string;
  startedAt?: string;
  finishedAt?: string | null;
  status?: string;
  durationMs?: number | null;
  phases?: Phase[];
}

export interface Phase {
  connector?: string;
  phase?: string;
  counts?: Record<string, number>;
  ms?: number;
  status?: string;
  mode?: string;
  detail?: string;
  // the engine's RunStats spelling, in case the API passes it through
  added?: number;
  updated?: number;
  deleted?: number;
  unchanged?: number;
  errors?: number;
  durationMs?: number;
  method?: string;
  hold?: Hold;
}

export interface Connector {
  name: string;
  type?: string;
  role?: string;
  agentGroup?: string | null;
  agents?: { connected?: number; total?: number } | null;
  health?: Health;
  lastRun?: RunSummary | { at?: string; status?: string; runId?: number | string } | string | null;
  nextRun?: string | null;
  objects?: number;
  linked?: number;
  pendingExports?: number;
  heldExports?: number;
  /** objects in error (a count) */
  errors?: number;
  deltaMethod?: string | null;
  failedCycles?: number;
  holds?: Hold[];
  quarantine?: Quarantine | null;
  // the first draft of the contract (notes/api.md) spelled these so
  counts?: Counts;
  hold?: Hold | null;
}

export interface ObjectErrorRow {
  connector?: string;
  /** the object's anchor */
  key?: string;
  /** the name a person knows it by */
  name?: string;
  object?: string;
  objectId?: string;
  objectName?: string;
  attribute?: string;
  code: string;
  message: string;
  phase?: string;
  attempts?: number;
  lastAt?: string;
  retryable?: boolean;
}

export interface ConnectorDetail extends Omit<Connector, 'errors'> {
  errors?: number | ObjectErrorRow[];
  runs?: RunSummary[];
  objectErrors?: ObjectErrorRow[];
}

export interface Change {
  attribute: string;
  old?: unknown;
  new?: unknown;
}

export interface LogEntry {
  id: number | string;
  at: string;
  runId?: number | string;
  connector: string;
  object?: string;
  objectName?: string;
  name?: string | null;
  mvId?: string | null;
  phase?: string;
  situation?: string;
  action: string;
  status: string;
  steps?: { step: string; detail: string }[];
  changes?: Change[];
  error?: { code?: string; message?: string; attribute?: string; retryable?: boolean } | null;
}

export interface List<T> {
  items: T[];
  next?: string;
}

export interface FoundObject {
  id: string;
  name?: string;
  objectType?: string;
  connectors?: (string | { connector: string; name?: string })[];
  /** the admin API: where the object is, one entry per connector space object */
  objects?: {
    connector: string;
    objectType?: string;
    anchor?: string | null;
    name?: string;
    present?: boolean;
  }[];
  deleted?: boolean;
  matched?: string[];
}

export type Attributes = Record<string, unknown>;

export type ObjectInConnector = NonNullable<ObjectView['connectors']>[number];

export interface ObjectView {
  id: string;
  name?: string;
  objectType?: string;
  metaverse?: { id?: string; attributes?: Attributes; deleted?: boolean } | null;
  /** the admin API: the object in each connector space */
  objects?: ObjectInConnector[];
  connectors?: {
    connector: string;
    anchor?: string;
    name?: string;
    attributes?: Attributes;
    state?: string;
    id?: string | number;
    csId?: number;
    object?: string;
    objectType?: string;
    /** false: idsync remembers it, the system no longer has it */
    present?: boolean;
  }[];
}

export interface ExplainStep {
  step?: string;
  detail?: string;
  [key: string]: unknown;
}

/** `idsync explain --json` for one connector's object: what the rules do with it, step by step. */
export interface Explain {
  connector?: string;
  anchor?: string | null;
  name?: string | null;
  label?: string;
  situation?: string;
  action?: string;
  /** log entries (each with its own steps and changes), or plain steps */
  steps?: (ExplainStep | LogEntry)[];
  exports?: PlanChange[];
  changes?: Change[];
  [key: string]: unknown;
}

export interface ProvisionResult {
  explanation?: Explain;
  /** whether the object was read again from its connector first */
  reread?: { connector: string; status: 'read' | 'gone' | 'not-read'; detail: string };
  explain?: Explain | ExplainStep[];
  result?:
    | { status?: string; action?: string; message?: string; error?: unknown; [key: string]: unknown }
    | string;
}

export interface Agent {
  id: string;
  name?: string;
  group?: string;
  connected?: boolean;
  status?: string;
  /** active: connected and heard from within a minute */
  state?: 'active' | 'inactive' | 'revoked';
  outdated?: boolean;
  connectedSince?: string;
  lastSeen?: string | null;
  version?: string;
  host?: string;
  registeredAt?: string;
}

export interface TokenRow {
  name: string;
  kind?: string;
  role?: string;
  created?: string;
  createdAt?: string;
  lastUsed?: string | null;
  endpoints?: string[];
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  target?: string | null;
  result?: string;
  detail?: string;
}

export interface ConfigView {
  file?: string;
  yaml: string;
  issues?: ConfigIssue[];
}

export interface ConfigIssue {
  code: string;
  message: string;
  path?: string | (string | number)[];
  /** the admin API: file:line:column of the text validated */
  location?: string;
  place?: string;
  line?: number;
  column?: number;
  severity?: string;
}

export interface NameChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** POST /config/validate: the plan of a proposed config, computed on a copy of the state */
export interface ConfigPlan {
  runId: number;
  status: string;
  durationMs: number;
  phases: Phase[];
  holds: Hold[];
  connectors: { connector: string; create: number; update: number; delete: number; held: number }[];
  changes: PlanChange[];
  held: PlanChange[];
  truncated: boolean;
}

export interface ValidateResult {
  valid: boolean;
  issues: ConfigIssue[];
  changes: { connectors: NameChanges; rules: NameChanges } | null;
  plan: ConfigPlan | null;
  planError: { code: string; message: string } | null;
}

export interface PlanView {
  status?: string;
  holds?: Hold[];
  /** `idsync plan --json`: per target connector, its counts and changes (held ones marked) */
  targets?: Record<
    string,
    { creates?: number; updates?: number; deletes?: number; held?: number; changes?: PlanChange[] }
  >;
  // the first draft of the contract
  changes?: PlanChange[];
  held?: PlanChange[];
}

export interface PlanChange {
  connector?: string;
  object?: string;
  objectName?: string;
  name?: string;
  op?: string;
  action?: string;
  changes?: Change[];
  /** plan --json's spelling of the per-attribute changes */
  attributes?: Change[];
  held?: boolean;
  disable?: boolean;
  newName?: string;
  [key: string]: unknown;
}

export interface ProgressEvent {
  runId?: number | string | null;
  /** the engine's label, e.g. "hr full import" */
  label?: string;
  connector?: string | null;
  phase: string;
  count: number;
  total?: number | null;
  rate?: number | null;
  etaSeconds?: number | null;
}
