/**
 * The shapes of the admin API's bodies, as zod schemas: validated on the way in and out (register.ts) and
 * published as the OpenAPI document (openapi.ts). Fields are only ever added, as with the CLI's --json.
 */
import { z } from 'zod';
import { ROLES } from '../store/accounts.js';

export const roleSchema = z.enum(ROLES).describe('reader < operator < admin: each may do what the ones before it may');
export const nameSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 letters, digits, dot, dash, underscore');

export const errorSchema = z
  .object({
    code: z.string().describe('stable: code decides, message informs'),
    message: z.string(),
    path: z.array(z.union([z.string(), z.number()])).optional(),
    retryable: z.boolean(),
    issues: z
      .array(z.object({ code: z.string(), path: z.array(z.union([z.string(), z.number()])), message: z.string() }))
      .optional()
      .describe('API_INVALID: every problem found in the request, path starting with params, query or body'),
  })
  .describe('An error: every 4xx and 5xx answer has this body');

export const okSchema = z.object({ ok: z.literal(true) });

// ---- session, accounts, tokens, audit

export const loginSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

export const sessionSchema = z.object({
  username: z.string(),
  role: roleSchema,
  csrfToken: z.string().describe('send it as the x-idsync-csrf header with every write made with the session cookie'),
  expiresAt: z.string(),
});

export const accountSchema = z.object({ name: z.string(), role: roleSchema, created: z.string() });
export const accountCreateSchema = z.strictObject({
  name: nameSchema,
  role: roleSchema,
  password: z.string().min(12).max(1024).optional().describe('at least 12 characters; omitted: one is generated and returned once'),
});
export const accountCreatedSchema = accountSchema.extend({
  password: z.string().optional().describe('the generated password, shown this once (absent when one was given)'),
});
export const accountUpdateSchema = z.strictObject({
  role: roleSchema.optional(),
  password: z.string().min(12).max(1024).optional(),
});

export const auditSchema = z.object({
  id: z.number(),
  at: z.string(),
  actor: z.string().describe('"account NAME", "token NAME", or "login NAME" for a login attempt'),
  action: z.string().describe("the route's operation id, e.g. connectors.approve"),
  target: z.string().nullable(),
  result: z.string().describe('"ok" or the error code'),
  status: z.number(),
});

export const list = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next: z.string().optional().describe('pass as ?cursor= for the next page') });

// ---- connectors and runs

const holdSchema = z.object({
  connector: z.string(),
  phase: z.enum(['import', 'export']),
  count: z.number(),
  limit: z.number(),
  population: z.number(),
  threshold: z.string(),
  message: z.string(),
  since: z.string().optional(),
});

export const phaseSchema = z.object({
  connector: z.string(),
  phase: z.enum(['import', 'inbound', 'outbound', 'export']),
  added: z.number(),
  updated: z.number(),
  deleted: z.number(),
  unchanged: z.number(),
  errors: z.number(),
  durationMs: z.number(),
  status: z.enum(['ok', 'failed', 'held', 'skipped']),
  mode: z.enum(['full', 'delta']).optional(),
  method: z.string().optional(),
  detail: z.string().optional(),
  hold: holdSchema.optional(),
});

export const runSchema = z.object({
  id: z.number(),
  kind: z.string().describe('full, delta, plan, apply, provision'),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  status: z.string().describe('running, ok, errors, incomplete, held, failed, interrupted'),
  durationMs: z.number().nullable(),
  phases: z.array(phaseSchema),
});

const quarantineSchema = z.object({ reason: z.string(), since: z.string(), until: z.string(), level: z.number() });

export const objectErrorSchema = z.object({
  connector: z.string(),
  key: z.string().describe("the object's anchor (or file:line)"),
  name: z.string().describe('the name a person knows the object by'),
  phase: z.enum(['import', 'sync', 'export']),
  code: z.string(),
  message: z.string(),
  attribute: z.string().optional(),
  retryable: z.boolean().optional(),
  attempts: z.number(),
  firstAt: z.string(),
  lastAt: z.string(),
});

export const connectorSchema = z.object({
  name: z.string(),
  type: z.string(),
  role: z.enum(['source', 'target', 'both', 'none']).describe('source: inbound rules read it; target: outbound rules write it'),
  health: z.enum(['ok', 'warning', 'error', 'quarantined', 'held', 'skipped']),
  objects: z.number(),
  linked: z.number(),
  pendingExports: z.number(),
  heldExports: z.number(),
  errors: z.number(),
  deltaMethod: z.string().nullable(),
  lastRun: runSchema.nullable().describe("the last run that included this connector, with this connector's phases only"),
  nextRun: z.string().nullable().describe('when the schedule runs the next cycle (serve only)'),
  quarantine: quarantineSchema.nullable(),
  failedCycles: z.number().describe('failing cycles in a row'),
  holds: z.array(holdSchema),
  agentGroup: z.string().nullable().describe('the agent group that runs this connector (`agent:` in idsync.yaml); null: in the service'),
});

export const connectorDetailSchema = connectorSchema.extend({
  runs: z.array(runSchema).describe("recent runs with this connector's phases"),
  objectErrors: z.array(objectErrorSchema),
});

// ---- provisioning log

export const changeSchema = z.object({ attribute: z.string(), old: z.array(z.string()), new: z.array(z.string()) });

export const logEntrySchema = z.object({
  id: z.number(),
  at: z.string(),
  runId: z.number(),
  connector: z.string(),
  object: z.string().describe('anchor, or name when not created yet'),
  name: z.string().describe('the name a person knows the object by'),
  mvId: z.string().nullable(),
  phase: z.enum(['import', 'sync', 'export']),
  situation: z.string(),
  action: z.string(),
  status: z.enum(['success', 'error', 'skipped', 'held', 'planned']),
  steps: z.array(z.object({ step: z.string(), detail: z.string() })),
  changes: z.array(changeSchema).describe('per attribute: old → new'),
  names: z.record(z.string(), z.string()).optional().describe('reference values in changes → the names of their objects'),
  error: z.object({ code: z.string(), message: z.string(), attribute: z.string().optional() }).nullable(),
  importedBy: z.object({ mode: z.enum(['full', 'delta']), method: z.string().optional() }).optional(),
});

// ---- objects, explain, plan, actions

const foundObjectSchema = z.object({
  connector: z.string(),
  objectType: z.string(),
  csId: z.number(),
  anchor: z.string().nullable(),
  object: z.string().nullable().describe('what the connector names it by (a DN), else the anchor'),
  name: z.string(),
  present: z.boolean().describe('false: not (or no longer) in its system, or not created yet'),
});

export const foundSchema = z.object({
  id: z.string().describe('mv:<metaverse id> or cs:<connector-space id>: the {id} of /objects/{id}'),
  name: z.string(),
  objectType: z.string(),
  deleted: z.boolean(),
  matched: z.array(z.string()).describe('where the text was found: "metaverse displayName", "hr email"'),
  objects: z.array(foundObjectSchema),
});

const shownAttributes = z.record(z.string(), z.array(z.string())).describe('values as text; secrets "[redacted]"');

export const objectSchema = z.object({
  id: z.string(),
  name: z.string(),
  objectType: z.string(),
  metaverse: z.object({ id: z.string(), objectType: z.string(), name: z.string(), deleted: z.boolean(), attributes: shownAttributes }).nullable(),
  objects: z.array(foundObjectSchema.extend({ attributes: shownAttributes })),
});

export const plannedChangeSchema = z.object({
  connector: z.string(),
  op: z.enum(['create', 'update', 'delete']),
  objectType: z.string(),
  anchor: z.string().nullable(),
  object: z.string(),
  name: z.string(),
  newName: z.string().optional(),
  disable: z.boolean().optional(),
  held: z.boolean(),
  heldBy: z.object({ connector: z.string(), phase: z.enum(['import', 'export']) }).optional(),
  attributes: z.array(changeSchema),
  names: z.record(z.string(), z.string()).optional(),
});

export const explanationSchema = z.object({
  connector: z.string(),
  anchor: z.string().nullable(),
  name: z.string().nullable(),
  label: z.string(),
  attributes: shownAttributes,
  situation: z.string().optional(),
  action: z.string().optional(),
  steps: z
    .array(
      z.object({
        connector: z.string(),
        object: z.string(),
        name: z.string().nullable().optional(),
        phase: z.enum(['import', 'sync', 'export']),
        situation: z.string(),
        action: z.string(),
        status: z.string(),
        steps: z.array(z.object({ step: z.string(), detail: z.string() })),
        changes: z.array(changeSchema),
        names: z.record(z.string(), z.string()).optional(),
        error: z.object({ code: z.string(), message: z.string() }).nullable().optional(),
      }),
    )
    .describe('what each rule did, in order (as `idsync explain`)'),
  metaverse: z.object({ id: z.string(), name: z.string(), objectType: z.string(), attributes: shownAttributes, deleted: z.boolean() }).nullable(),
  exports: z.array(plannedChangeSchema).describe('what each target would get'),
});

export const resultSchema = z.object({
  runId: z.number(),
  status: z.enum(['ok', 'errors', 'incomplete', 'held', 'failed']),
  durationMs: z.number(),
  phases: z.array(phaseSchema),
  changes: z.array(plannedChangeSchema).describe('what was sent'),
});

export const planSchema = z.object({
  runId: z.number(),
  status: z.enum(['ok', 'errors', 'incomplete', 'held', 'failed']),
  holds: z.array(holdSchema),
  changes: z.array(plannedChangeSchema).describe('every change the plan would export'),
  held: z.array(plannedChangeSchema).describe('the held part: what the deletion thresholds hold, and what approving a held full import would do'),
});

// ---- agents, tokens, config

export const agentSchema = z.object({
  id: z.string(),
  group: z.string(),
  host: z.string(),
  version: z.string(),
  thumbprint: z.string(),
  registered: z.string(),
  lastSeen: z.string().optional(),
  connectedSince: z.string().optional().describe('when its current connection to the service was made'),
  revoked: z.string().optional(),
  state: z.enum(['active', 'inactive', 'revoked']).describe('active: connected, heard from within the last minute'),
  outdated: z.boolean().describe("the agent runs another idsync version than the service's"),
});

export const tokenSchema = z.object({
  name: z.string(),
  kind: z.enum(['scim', 'api']),
  role: roleSchema.optional().describe('api tokens'),
  endpoints: z.array(z.string()).optional().describe('scim tokens: the endpoint paths it may use (empty: all)'),
  created: z.string(),
  lastUsed: z.string().optional(),
});

export const configIssueSchema = z.object({ code: z.string(), path: z.array(z.union([z.string(), z.number()])), message: z.string(), location: z.string().optional() });

export const configPlanSchema = z.object({
  runId: z.number().describe("the plan's run in the copy of the state (not in the service's runs)"),
  status: z.enum(['ok', 'errors', 'incomplete', 'held', 'failed']),
  durationMs: z.number(),
  phases: z.array(phaseSchema).describe('what each connector did in the plan: a connector that could not be read is a failed import'),
  holds: z.array(holdSchema),
  connectors: z.array(z.object({ connector: z.string(), create: z.number(), update: z.number(), delete: z.number(), held: z.number() })).describe('per target, how many changes the plan would export'),
  changes: z.array(plannedChangeSchema).describe('every change the plan would export, per attribute old → new (at most 1,000: see truncated)'),
  held: z.array(plannedChangeSchema).describe('what approving a held full import would do'),
  truncated: z.boolean().describe('more changes than listed (the counts are complete)'),
});
