/**
 * The shape of idsync.yaml. Connector blocks are checked here only for the fields the engine owns (type,
 * safety, pageSize); each connector type validates the rest with its own schema (see load.ts).
 */
import { z } from 'zod';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/**
 * How many deletes and disables one cycle may do per connector before it stops and asks for approval: a count
 * (500), a percentage of the connector's objects ("10%"), or both ({ count: 500, percent: 10 }: the lower).
 */
export const threshold = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'a count such as 500 or a percentage such as "10%"'),
  z
    .object({
      count: z.number().int().nonnegative(),
      percent: z.number().min(0).max(100),
    })
    .strict(),
]);

/**
 * The default: Entra Connect's 500, and 10% so that a small installation is protected too (200 people cut to
 * 10 are 190 deprovisions, far below 500). docs/configuration.md says why.
 */
export const DEFAULT_THRESHOLD = { count: 500, percent: 10 } as const;

export const safetySchema = z
  .object({
    deleteThreshold: threshold.optional(),
  })
  .strict();

const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h)$/, 'a duration such as 30s, 2m or 1h')
  .or(z.number().int().positive());

export const connectorBase = z
  .object({
    type: z.string({ error: 'each connector needs a type (csv, builtin, ldap, sql, scim)' }),
    safety: safetySchema.optional(),
    pageSize: z.number().int().positive().max(100_000).optional(),
    /**
     * Run a full import instead of a delta when the last full one is older than this: for delta methods
     * that cannot see deletions (LDAP modifyTimestamp), and as a periodic check of any delta's accuracy.
     */
    fullImportInterval: duration.optional(),
    /**
     * Run this connector on an on-premises agent of this group (docs/agent.md) instead of in the service.
     * `${agent:NAME}` in its settings is resolved on the agent; paths are the agent's.
     */
    agent: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 letters, digits, dot, dash, underscore').optional(),
  })
  .passthrough();

export const connectorName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, dash, underscore');

const scopeClause = z
  .object({
    attribute: z.string(),
    operator: z.string(),
    value: z.union([scalar, z.array(z.union([z.string(), z.number()]))]).optional(),
  })
  .strict();

/** Groups of clauses: AND inside a group, OR between groups. */
const scope = z.array(z.array(scopeClause));

const joinCondition = z
  .object({
    /** the connector-side attribute; `source` (inbound) and `target` (outbound) are accepted as aliases */
    attribute: z.string().optional(),
    source: z.string().optional(),
    target: z.string().optional(),
    /** the metaverse attribute; on outbound rules it may be left out to compare with the flowed value */
    metaverse: z.string().optional(),
  })
  .strict()
  .transform((c, ctx) => {
    const attribute = c.attribute ?? c.source ?? c.target;
    if (!attribute) {
      ctx.addIssue({ code: 'custom', message: 'a join condition needs the connector-side attribute' });
      return z.NEVER;
    }
    return { attribute, metaverse: c.metaverse };
  });

const flow = z
  .object({
    target: z.string(),
    source: z.string().optional(),
    expression: z.string().max(10_000, 'an expression is limited to 10,000 characters').optional(),
    constant: z.union([scalar, z.array(scalar)]).optional(),
    /** "create": set only when the object is created (Entra's "apply this mapping: only during creation") */
    applyOn: z.enum(['always', 'create']).default('always'),
    /** used when the flow produces no value */
    default: z.union([scalar, z.array(scalar)]).optional(),
    /** a null from this flow wins over lower-precedence values (Connect's AuthoritativeNull) */
    authoritativeNull: z.boolean().default(false),
    /**
     * Inbound: the references this flow produces name objects of another connector (a groups file whose
     * members are rows of the people file). Default: the rule's own connector, as in a directory.
     */
    referencesIn: z.string().optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    const kinds = [f.source, f.expression, f.constant].filter((k) => k !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: 'custom', message: 'a flow needs exactly one of source, expression or constant' });
    }
  });

const ruleBase = {
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore'),
  connector: z.string(),
  objectType: z.string(),
  metaverseType: z.string(),
  scope: scope.default([]),
  join: z.array(z.array(joinCondition).min(1)).default([]),
  flows: z.array(flow).default([]),
  disabled: z.boolean().default(false),
};

export const inboundRuleSchema = z
  .object({
    ...ruleBase,
    direction: z.literal('inbound'),
    /** create a metaverse object when no join matches */
    project: z.boolean().default(false),
    /** lower wins when several connectors flow the same metaverse attribute */
    precedence: z.number().int().min(0).default(100),
  })
  .strict();

export const outboundRuleSchema = z
  .object({
    ...ruleBase,
    direction: z.literal('outbound'),
    /** create target objects for metaverse objects in scope that match none */
    provision: z.boolean().default(true),
    /** what happens to a linked target object whose metaverse object goes away or leaves the scope */
    deprovision: z.enum(['delete', 'disable', 'leave']).default('disable'),
  })
  .strict();

export const ruleSchema = z.discriminatedUnion('direction', [inboundRuleSchema, outboundRuleSchema], {
  error: 'direction must be inbound or outbound',
});

/** A custom SCIM schema attribute (RFC 7643 §7); `flatName` is the directory attribute that holds it. */
const scimAttribute: z.ZodType<ScimAttributeConfig> = z.lazy(() =>
  z
    .object({
      name: z.string().regex(/^[A-Za-z][A-Za-z0-9_$-]*$/, 'an ATTRNAME: a letter, then letters, digits, _, $ or -'),
      type: z.enum(['string', 'boolean', 'decimal', 'integer', 'dateTime', 'reference', 'binary', 'complex']).default('string'),
      multiValued: z.boolean().default(false),
      required: z.boolean().default(false),
      caseExact: z.boolean().default(false),
      mutability: z.enum(['readOnly', 'readWrite', 'immutable', 'writeOnly']).default('readWrite'),
      returned: z.enum(['always', 'never', 'default', 'request']).default('default'),
      uniqueness: z.enum(['none', 'server', 'global']).default('none'),
      description: z.string().optional(),
      canonicalValues: z.array(z.string()).optional(),
      referenceTypes: z.array(z.string()).optional(),
      subAttributes: z.array(scimAttribute).optional(),
      flatName: z.string().optional(),
    })
    .strict(),
);

export interface ScimAttributeConfig {
  name: string;
  type: 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'binary' | 'complex';
  multiValued: boolean;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  description?: string | undefined;
  canonicalValues?: string[] | undefined;
  referenceTypes?: string[] | undefined;
  subAttributes?: ScimAttributeConfig[] | undefined;
  flatName?: string | undefined;
}

/** One SCIM endpoint of `idsync serve`: a base path over one built-in connector. */
const scimEndpoint = z
  .object({
    /** the base path: /scim/v2 by default */
    path: z.string().regex(/^\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$/, 'a path such as /scim/v2').default('/scim/v2'),
    /** the builtin connector served (default: the one named `directory`, or the only builtin one) */
    connector: z.string().optional(),
    /**
     * Gateway mode: the connector is a source in the rules, and each write waits (at most `timeout`) for the
     * export to the targets, answering with their outcome.
     */
    gateway: z.union([z.boolean(), z.object({ timeout: duration.default('10s') }).strict()]).default(false),
    /** the most resources a query returns in one page (ServiceProviderConfig filter.maxResults) */
    maxResults: z.number().int().positive().max(10_000).default(1000),
    bulk: z
      .object({
        maxOperations: z.number().int().positive().max(100_000).default(1000),
        /** bytes */
        maxPayloadSize: z.number().int().positive().default(1_048_576),
      })
      .strict()
      .default({ maxOperations: 1000, maxPayloadSize: 1_048_576 }),
    /** the OAuth scope a JWT needs for this endpoint (bearer tokens are limited with `idsync token create --endpoint`) */
    scope: z.string().optional(),
    /** custom schema extensions (RFC 7643 §3.3), each on User or Group */
    extensions: z
      .array(
        z
          .object({
            id: z.string().regex(/^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$/, 'a URN such as urn:example:params:scim:schemas:extension:acme:2.0:User'),
            name: z.string().optional(),
            description: z.string().optional(),
            resourceType: z.enum(['User', 'Group']),
            required: z.boolean().default(false),
            attributes: z.array(scimAttribute).min(1),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const serveSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    /** 7643 (the SCIM core schema RFC) unless set */
    port: z.number().int().min(0).max(65_535).default(7643),
    /** HTTPS: PEM files, relative to the config file */
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    /** the largest request body accepted, in bytes (bulk requests have their own limit) */
    bodyLimit: z.number().int().positive().default(1_048_576),
    /** per-token requests per second, with bursts up to `burst` */
    rateLimit: z
      .object({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() })
      .strict()
      .optional(),
    auth: z
      .object({
        /** bearer tokens made with `idsync token create` (default true) */
        tokens: z.boolean().default(true),
        /** OAuth 2 access tokens (JWT) issued by an identity provider */
        jwt: z
          .object({
            issuer: z.string(),
            audience: z.union([z.string(), z.array(z.string())]),
            jwksUrl: z.string().url().optional(),
            /** a JWKS file (relative to the config file) instead of a URL */
            jwksFile: z.string().optional(),
            algorithms: z.array(z.string()).optional(),
          })
          .strict()
          .refine((j) => (j.jwksUrl === undefined) !== (j.jwksFile === undefined), 'give one of jwksUrl or jwksFile')
          .optional(),
      })
      .strict()
      .default({ tokens: true }),
    scim: z.array(scimEndpoint).prefault([{}]),
    /**
     * GET /metrics in Prometheus text format (docs/operations.md). Without a token it answers clients on this
     * machine only (loopback, or a proxy on this host forwarding a loopback client); with one, only requests
     * that send it as a bearer token.
     */
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        /** the bearer token Prometheus sends: a ${env:NAME} or ${file:PATH} reference, never the token itself */
        token: z.string().min(1).optional(),
      })
      .strict()
      .default({ enabled: true }),
    /** the admin API's audit log: entries older than `retentionDays` are removed at start and once a day */
    audit: z
      .object({ retentionDays: z.number().int().min(1).max(36_500).default(365) })
      .strict()
      .default({ retentionDays: 365 }),
  })
  .strict();

export type ServeConfig = z.infer<typeof serveSchema>;

/** What idsync notifies about (docs/operations.md, /work/notes/events.md). */
export const NOTIFICATION_EVENTS = [
  'run.held',
  'connector.quarantined',
  'connector.recovered',
  'errors.rate',
  'agent-group.lost',
  'agent-group.restored',
] as const;

const notificationEvents = z.array(z.enum(NOTIFICATION_EVENTS)).min(1, 'at least one event (leave the setting out for all)');

/** `notifications:`: email and signed webhooks when something needs a person (docs/operations.md). */
export const notificationsSchema = z
  .object({
    /** the events sent (default: all); a channel may narrow them with its own `events` */
    events: notificationEvents.optional(),
    /** errors.rate: sent when one connector's object errors within `within` exceed `errors` */
    errorRate: z
      .object({ errors: z.number().int().positive().default(100), within: duration.default('1h') })
      .strict()
      .default({ errors: 100, within: '1h' }),
    /** delivery attempts after the first one failed, with growing waits (1 s, 5 s, 30 s, 2 min, …) */
    retries: z.number().int().min(0).max(10).default(4),
    email: z
      .object({
        smtp: z
          .object({
            host: z.string().min(1),
            /** default 465 with `secure`, else 587 */
            port: z.number().int().min(1).max(65_535).optional(),
            /** TLS from the first byte (SMTPS, port 465) */
            secure: z.boolean().default(false),
            /** on a plain connection, require STARTTLS before anything is sent (default true) */
            starttls: z.boolean().default(true),
            auth: z
              .object({
                user: z.string().min(1),
                /** a ${env:NAME} or ${file:PATH} reference */
                password: z.string().min(1),
              })
              .strict()
              .optional(),
            tls: z
              .object({
                /** a PEM file of the CA that signed the server's certificate (relative to the config file) */
                ca: z.string().optional(),
                /** check the server's certificate (default true); turn off only for a test relay */
                rejectUnauthorized: z.boolean().default(true),
              })
              .strict()
              .optional(),
          })
          .strict(),
        from: z.string().min(3),
        to: z.array(z.string().min(3)).min(1, 'at least one recipient'),
        events: notificationEvents.optional(),
      })
      .strict()
      .optional(),
    webhooks: z
      .array(
        z
          .object({
            url: z.string().regex(/^https?:\/\/\S+$/, 'an http(s) URL'),
            /** the HMAC-SHA256 key of the X-Idsync-Signature header: a ${env:NAME} or ${file:PATH} reference */
            secret: z.string().min(1),
            events: notificationEvents.optional(),
            timeout: duration.default('10s'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type NotificationsConfig = z.infer<typeof notificationsSchema>;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
export type ScimEndpointConfig = z.infer<typeof scimEndpoint>;

export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    state: z
      .object({
        /** folder for the state database and the built-in directory (relative to the config file) */
        path: z.string().default('.idsync'),
        /**
         * the state in PostgreSQL instead of SQLite: postgres://user@host:5432/database (a password as
         * ${env:NAME}); the state folder still holds the files kept beside the state
         */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, { error: 'a PostgreSQL URL: postgres://user@host:5432/database' })
          .optional(),
      })
      .strict()
      .default({ path: '.idsync' }),
    /** plan-only installation: everything runs, nothing is exported */
    staging: z.boolean().default(false),
    schedule: z.object({ interval: duration.default('30m') }).strict().default({ interval: '30m' }),
    safety: safetySchema.default({}),
    /** the provisioning log: entries older than this many days are removed after each cycle */
    log: z
      .object({
        retentionDays: z
          .number({ error: 'a number of days, such as 30' })
          .int({ error: 'a whole number of days' })
          .positive({ error: 'at least 1 day' })
          .max(36_500, { error: 'at most 36,500 days (100 years)' })
          .default(30),
      })
      .strict()
      .default({ retentionDays: 30 }),
    connectors: z.record(connectorName, connectorBase),
    rules: z.array(ruleSchema).default([]),
    /** `idsync serve`: the HTTP server and its SCIM endpoints */
    serve: serveSchema.optional(),
    /** notifications by email and webhook (docs/operations.md) */
    notifications: notificationsSchema.optional(),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
export type InboundRuleConfig = z.infer<typeof inboundRuleSchema>;
export type OutboundRuleConfig = z.infer<typeof outboundRuleSchema>;
export type RuleConfig = InboundRuleConfig | OutboundRuleConfig;
export type FlowConfig = InboundRuleConfig['flows'][number];
export type Threshold = z.infer<typeof threshold>;

export function durationMs(value: string | number): number {
  if (typeof value === 'number') return value * 1000;
  const m = /^(\d+)(ms|s|m|h)$/.exec(value)!;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return n * unit;
}
