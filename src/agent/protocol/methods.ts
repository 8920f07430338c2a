/**
 * Every method of the agent protocol as a typed descriptor both sides import: its name, which side serves
 * it, and zod schemas for its params and result. The peer (peer.ts) validates params before a handler runs
 * and results before a caller sees them, so neither side trusts the other's shapes.
 */
import { z } from 'zod';
import { helloParams, helloResult } from './hello.js';
import { wireAttributes, wireValue } from './values.js';

export interface RequestType<P, R> {
  readonly method: string;
  /** the side that answers: 'agent' for connector operations, 'service' for hello */
  readonly servedBy: 'agent' | 'service' | 'both';
  readonly params: z.ZodType<P>;
  readonly result: z.ZodType<R>;
}

export interface NotificationType<P> {
  readonly method: string;
  readonly params: z.ZodType<P>;
}

function request<P, R>(
  method: string,
  servedBy: 'agent' | 'service' | 'both',
  params: z.ZodType<P>,
  result: z.ZodType<R>,
): RequestType<P, R> {
  return { method, servedBy, params, result };
}

function notification<P>(method: string, params: z.ZodType<P>): NotificationType<P> {
  return { method, params };
}

// ---- the connector contract's shapes, with wire values --------------------------------------------------

const attributeChange = z
  .object({
    replace: z.array(wireValue).optional(),
    add: z.array(wireValue).optional(),
    remove: z.array(wireValue).optional(),
  })
  .strict();

export const wireObject = z.object({
  anchor: z.string(),
  objectType: z.string(),
  name: z.string().optional(),
  attributes: wireAttributes,
});

export const wireImportChange = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('upsert'), object: wireObject }),
  z.object({
    kind: z.literal('modify'),
    anchor: z.string(),
    objectType: z.string(),
    name: z.string().optional(),
    changes: z.record(z.string(), attributeChange),
    /** sent by an agent that scopes: an anchor the service does not hold is an object out of scope, skipped */
    onlyIfKnown: z.boolean().optional(),
  }),
  z.object({ kind: z.literal('delete'), anchor: z.string(), objectType: z.string().optional() }),
  z.object({ kind: z.literal('same'), anchor: z.string() }),
  z.object({
    kind: z.literal('error'),
    anchor: z.string().optional(),
    location: z.string(),
    code: z.string(),
    message: z.string(),
  }),
]);

export const wireImportPage = z.object({
  changes: z.array(wireImportChange),
  watermark: z.string().nullable().optional(),
  unchanged: z.boolean().optional(),
  /** where a full import can go on after this page (an agent one version older sends none) */
  resume: z.string().optional(),
});

export const wireExportChange = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('create'),
    id: z.string(),
    objectType: z.string(),
    name: z.string().optional(),
    attributes: wireAttributes,
  }),
  z.object({
    op: z.literal('update'),
    id: z.string(),
    objectType: z.string(),
    anchor: z.string(),
    name: z.string().optional(),
    newName: z.string().optional(),
    changes: z.record(z.string(), attributeChange),
  }),
  z.object({ op: z.literal('delete'), id: z.string(), objectType: z.string(), anchor: z.string(), name: z.string().optional() }),
]);

export const wireExportResult = z.union([
  z.object({
    id: z.string(),
    ok: z.literal(true),
    anchor: z.string().optional(),
    name: z.string().optional(),
    object: wireObject.optional(),
  }),
  z.object({
    id: z.string(),
    ok: z.literal(false),
    error: z.object({
      code: z.string(),
      message: z.string(),
      retryable: z.boolean(),
      remoteCode: z.union([z.string(), z.number()]).optional(),
      notFound: z.boolean().optional(),
      /** the agent could not reach the system (ExportError.connection) */
      connection: z.boolean().optional(),
      attribute: z.string().optional(),
    }),
  }),
]);

const attributeSchema = z.object({
  type: z.enum(['string', 'number', 'boolean', 'date', 'binary', 'reference']),
  multiValued: z.boolean(),
  secret: z.boolean().optional(),
  readOnly: z.boolean().optional(),
});

export const wireConnectorSchema = z.object({
  objectTypes: z.record(
    z.string(),
    z.object({ attributes: z.record(z.string(), attributeSchema), extensible: z.boolean().optional() }),
  ),
});

const connectorRef = { connector: z.string().min(1) };

/** a scoping filter as idsync.yaml writes it (rules/types.ts ScopeFilter): groups of clauses */
const scopeFilter = z.array(
  z.array(
    z.object({
      attribute: z.string(),
      operator: z.string(),
      value: z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]).optional(),
    }),
  ),
);

/** The connector's capabilities as the agent's instance of it has them (contract.ts's Capabilities). */
export const wireCapabilities = z.object({
  deltaImport: z.boolean(),
  export: z.boolean(),
  watch: z.boolean(),
  nameAttribute: z.string().optional(),
  disableAttributes: wireAttributes.optional(),
});

// ---- the methods ----------------------------------------------------------------------------------------

/** agent → service, first on every connection (hello.ts) */
export const Hello = request('hello', 'service', helloParams, helloResult);

/** either side: shows the connection is alive; the answer is the sender's clock for skew reports */
export const Ping = request('ping', 'both', z.object({}), z.object({ now: z.string() }));

/**
 * service → agent, after hello and whenever idsync.yaml changes: the connectors this agent's group runs,
 * with their settings as the service's config has them (secrets as `${agent:NAME}` references the agent
 * resolves itself). `revision` is the config's hash, echoed by the agent in status.
 */
export const Configure = request(
  'configure',
  'agent',
  z.object({
    revision: z.string(),
    connectors: z.array(
      z.object({
        name: z.string().min(1),
        type: z.string().min(1),
        settings: z.unknown(),
        /**
         * the rules' scoping filters the agent runs before objects leave it (agent/scope/), by object type; an
         * agent that does not know this field ignores it and sends every object (the service scopes anyway)
         */
        scope: z.record(z.string(), z.array(scopeFilter)).optional(),
      }),
    ),
  }),
  z.object({
    revision: z.string(),
    /** each connector's capabilities on the agent, for a service that cannot build the connector itself */
    capabilities: z.record(z.string(), wireCapabilities).optional(),
  }),
);

/**
 * agent → service, every 10 minutes (capability `config.poll`): the fallback should a configuration pushed on
 * a change not have arrived. `current: false` means the service's revision is another: it sends `configure`
 * right after answering.
 */
export const ConfigPoll = request('config.poll', 'service', z.object({ revision: z.string() }), z.object({ current: z.boolean() }));

export const TestConnector = request('connector.test', 'agent', z.object(connectorRef), z.object({}));

export const ReadSchema = request('connector.schema', 'agent', z.object(connectorRef), wireConnectorSchema);

/**
 * Pull-based import: `import.open` starts the connector's import on the agent and returns a session; the
 * service asks `import.next` only after committing the page before, so the agent holds at most a few pages
 * read ahead. `done: true` ends the session; `import.close` ends it early (the engine stopped).
 */
export const ImportOpen = request(
  'import.open',
  'agent',
  z.object({
    ...connectorRef,
    mode: z.enum(['full', 'delta']),
    watermark: z.string().nullable(),
    pageSize: z.number().int().positive(),
    /** a full import moved from another agent: go on after this position (an agent one version older ignores it) */
    resume: z.string().optional(),
  }),
  z.object({ session: z.string().min(1) }),
);

export const ImportNext = request(
  'import.next',
  'agent',
  z.object({ session: z.string().min(1) }),
  z.union([z.object({ done: z.literal(false), page: wireImportPage }), z.object({ done: z.literal(true) })]),
);

export const ImportClose = request('import.close', 'agent', z.object({ session: z.string().min(1) }), z.object({}));

/**
 * One export batch, one result per change. Change ids are the engine's, stable across retries: an agent that
 * receives an id it has already applied (a batch resent after a lost connection) answers the stored result.
 */
export const ExportBatch = request(
  'export.batch',
  'agent',
  z.object({ ...connectorRef, changes: z.array(wireExportChange) }),
  z.object({ results: z.array(wireExportResult) }),
);

export const Lookup = request(
  'lookup',
  'agent',
  z.object({ ...connectorRef, objectType: z.string(), attribute: z.string(), values: z.array(wireValue) }),
  z.object({ objects: z.array(wireObject) }),
);

/** either side: the sender no longer wants the answer to its request `id`; the handler's signal aborts */
export const Cancel = notification('$/cancel', z.object({ id: z.number().int().positive() }));

/** agent → service: a watched connector's system changed (LDAP persistent search, DirSync poll) */
export const WatchChanged = notification('watch.changed', z.object(connectorRef));
