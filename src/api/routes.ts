/**
 * Every admin API route, declared once as data (route.ts): register.ts serves and validates them, openapi.ts
 * publishes them. Handlers are in handlers.ts, one per id. An id is the OpenAPI operationId and the audit
 * log's action: never renamed.
 */
import { z } from 'zod';
import { route } from './route.js';
import {
  accountCreatedSchema,
  accountCreateSchema,
  accountSchema,
  accountUpdateSchema,
  auditSchema,
  connectorDetailSchema,
  connectorSchema,
  list,
  logEntrySchema,
  loginSchema,
  nameSchema,
  okSchema,
  runSchema,
  sessionSchema,
  agentSchema,
  configIssueSchema,
  configPlanSchema,
  explanationSchema,
  foundSchema,
  objectSchema,
  planSchema,
  resultSchema,
  tokenSchema,
} from './schemas.js';

const limit = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt).describe(`at most this many (1-${max}, default ${dflt})`);
const isoTime = z.iso.datetime({ offset: true }).describe('ISO 8601 time, e.g. 2026-12-07T10:00:00Z');
const connectorParam = z.object({ name: z.string().min(1).max(200) });
const objectId = z.string().regex(/^(mv|cs):[A-Za-z0-9._:-]{1,200}$/, 'mv:<metaverse id> or cs:<number>, as /objects returns it');

export const ROUTES = {
  // ---- session and the document
  'session.create': route({
    method: 'POST',
    path: '/session',
    summary: 'Log in: sets the session cookie (HttpOnly, SameSite=Strict; Secure under TLS) and returns the CSRF token. Repeated failures lock the username out (429 with Retry-After).',
    tag: 'session',
    role: 'public',
    body: loginSchema,
    responses: { 200: sessionSchema },
  }),
  'session.get': route({
    method: 'GET',
    path: '/session',
    summary: 'The logged-in account, its role and CSRF token (401 when no session)',
    tag: 'session',
    role: 'reader',
    responses: { 200: sessionSchema.extend({ kind: z.enum(['account', 'token']) }).partial({ csrfToken: true, expiresAt: true }) },
  }),
  'session.delete': route({
    method: 'DELETE',
    path: '/session',
    summary: 'Log out',
    tag: 'session',
    role: 'reader',
    responses: { 200: okSchema },
  }),
  openapi: route({
    method: 'GET',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document (generated from the route list the server validates with)',
    tag: 'meta',
    role: 'public',
    responses: { 200: z.record(z.string(), z.unknown()) },
  }),

  // ---- connectors and runs
  'connectors.list': route({
    method: 'GET',
    path: '/connectors',
    summary: 'Every connector with its health, counts, last run, quarantine and holds',
    tag: 'connectors',
    role: 'reader',
    responses: { 200: list(connectorSchema) },
  }),
  'connectors.get': route({
    method: 'GET',
    path: '/connectors/:name',
    summary: "One connector, with its recent runs and its objects' errors",
    tag: 'connectors',
    role: 'reader',
    params: connectorParam,
    responses: { 200: connectorDetailSchema },
  }),
  'runs.list': route({
    method: 'GET',
    path: '/runs',
    summary: 'Recent runs, newest first, with per-phase counts and durations',
    tag: 'runs',
    role: 'reader',
    query: z.strictObject({ connector: z.string().optional().describe("runs that included this connector (its phases only)"), limit: limit(500, 50) }),
    responses: { 200: list(runSchema) },
  }),
  'runs.get': route({
    method: 'GET',
    path: '/runs/:id',
    summary: 'One run',
    tag: 'runs',
    role: 'reader',
    params: z.object({ id: z.coerce.number().int().min(1) }),
    responses: { 200: runSchema },
  }),

  // ---- provisioning log
  'log.list': route({
    method: 'GET',
    path: '/log',
    summary: 'The provisioning log, newest first: every entry with its per-attribute old → new values',
    tag: 'log',
    role: 'reader',
    query: z.strictObject({
      object: z.string().min(1).optional().describe('any name of an object (userName, email, DN, displayName, anchor, metaverse id): its whole history in every connector'),
      connector: z.string().optional(),
      action: z.string().optional().describe('the action: create, update, delete, join, project, ...'),
      status: z.enum(['success', 'error', 'skipped', 'held', 'planned']).optional(),
      since: isoTime.optional(),
      until: isoTime.optional(),
      runId: z.coerce.number().int().min(1).optional(),
      limit: limit(1000, 100),
      cursor: z.string().regex(/^\d+$/).optional().describe('the next of the previous page'),
    }),
    responses: { 200: list(logEntrySchema) },
  }),
  'log.get': route({
    method: 'GET',
    path: '/log/:id',
    summary: 'One log entry',
    tag: 'log',
    role: 'reader',
    params: z.object({ id: z.coerce.number().int().min(1) }),
    responses: { 200: logEntrySchema },
  }),

  // ---- accounts and audit
  'accounts.list': route({
    method: 'GET',
    path: '/accounts',
    summary: 'The accounts and their roles (never a password)',
    tag: 'accounts',
    role: 'admin',
    responses: { 200: list(accountSchema) },
  }),
  'accounts.create': route({
    method: 'POST',
    path: '/accounts',
    summary: 'Create an account; without a password one is generated and returned once',
    tag: 'accounts',
    role: 'admin',
    body: accountCreateSchema,
    auditTarget: ({ body }) => (typeof body?.name === 'string' ? body.name : null),
    responses: { 201: accountCreatedSchema },
  }),
  'accounts.update': route({
    method: 'PATCH',
    path: '/accounts/:name',
    summary: "Change an account's role or password (its sessions end when the password changes)",
    tag: 'accounts',
    role: 'admin',
    params: z.object({ name: nameSchema }),
    body: accountUpdateSchema,
    responses: { 200: accountSchema },
  }),
  'accounts.delete': route({
    method: 'DELETE',
    path: '/accounts/:name',
    summary: 'Delete an account (not the last admin); its sessions end',
    tag: 'accounts',
    role: 'admin',
    params: z.object({ name: nameSchema }),
    responses: { 200: okSchema },
  }),
  'audit.list': route({
    method: 'GET',
    path: '/audit',
    summary: 'The audit log, newest first: every write and login through the API (who, what, when, result), filtered by actor, action and time; kept serve.audit.retentionDays (365 by default)',
    tag: 'audit',
    role: 'reader',
    query: z.strictObject({
      actor: z.string().optional(),
      action: z.string().optional(),
      since: isoTime.optional().describe('entries at or after this time'),
      until: isoTime.optional().describe('entries before this time'),
      limit: limit(1000, 100),
      cursor: z.string().regex(/^\d+$/).optional(),
    }),
    responses: { 200: list(auditSchema) },
  }),
  // ---- live progress
  progress: route({
    method: 'GET',
    path: '/progress',
    summary:
      'Live progress as Server-Sent Events: `event: run` { runId, kind, state: started|finished, status?, at } when a run starts or ends, `event: progress` { runId, label, connector, phase, count, total, rate, etaSeconds, at } while a phase works (at most 4 a second); on connect, the running run and its last progress first; a comment every 15 s keeps proxies from closing it',
    tag: 'runs',
    role: 'reader',
    stream: 'text/event-stream',
    responses: { 200: z.string() },
  }),

  // ---- objects
  'objects.search': route({
    method: 'GET',
    path: '/objects',
    summary: 'Objects whose anchor, name or values contain the text (secrets are not searched), across the metaverse and every connector space; those found by a name first',
    tag: 'objects',
    role: 'reader',
    query: z.strictObject({ q: z.string().min(1).max(200), limit: limit(200, 50) }),
    responses: { 200: list(foundSchema).extend({ more: z.boolean() }) },
  }),
  'objects.get': route({
    method: 'GET',
    path: '/objects/:id',
    summary: 'One identity: the metaverse object and its object in every connector, with their attributes (secrets redacted)',
    tag: 'objects',
    role: 'reader',
    params: z.object({ id: objectId }),
    responses: { 200: objectSchema },
  }),
  'objects.explain': route({
    method: 'GET',
    path: '/objects/:id/explain',
    summary: "What the engine would do with the object, step by step, without writing (as `idsync explain`); from its object in `connector` (default: its first source's)",
    tag: 'objects',
    role: 'reader',
    params: z.object({ id: objectId }),
    query: z.strictObject({ connector: z.string().min(1).optional() }),
    responses: { 200: explanationSchema },
  }),
  'objects.provision': route({
    method: 'POST',
    path: '/objects/:id/provision',
    summary:
      'Provision on demand, as Entra\'s: the object read again from its connector\'s system alone and imported (a one-object delta; `reread` says whether it was, and why not: a connector that cannot read one object is named), explained, then synced and only its exports sent to every target not quarantined. A read that fails fails the provision (502 with the connector\'s code). A run of kind provision',
    tag: 'actions',
    role: 'operator',
    params: z.object({ id: objectId }),
    body: z.strictObject({ connector: z.string().min(1).optional().describe("the object's connector to start from (default: its first source's)") }).optional(),
    responses: {
      200: z.object({
        explanation: explanationSchema,
        result: resultSchema,
        reread: z
          .object({ connector: z.string(), status: z.enum(['read', 'gone', 'not-read']), detail: z.string() })
          .describe('read: re-read from its system and imported first; gone: no longer there, imported as deleted; not-read: the detail says why'),
      }),
    },
  }),
  'objects.retry': route({
    method: 'POST',
    path: '/objects/:id/retry',
    summary: "Send the object's failed (or waiting) export to `connector` now, whatever its back-off. A run of kind retry",
    tag: 'actions',
    role: 'operator',
    params: z.object({ id: objectId }),
    body: z.strictObject({ connector: z.string().min(1) }),
    responses: { 200: resultSchema },
  }),

  // ---- plan and actions
  'plan.create': route({
    method: 'POST',
    path: '/plan',
    summary: 'Compute the plan now (as `idsync plan`: import and sync, then what would be exported; nothing is exported) in the service\'s cycle loop; answers when it is done',
    tag: 'plan',
    role: 'operator',
    body: z.strictObject({ full: z.boolean().optional() }).optional(),
    responses: { 200: planSchema },
  }),
  'actions.run': route({
    method: 'POST',
    path: '/actions/run',
    summary: 'Run a cycle now, for all connectors or one (imported and exported; sync covers what changed), delta or full; queued in the service\'s loop, answers at once: follow it on /progress',
    tag: 'actions',
    role: 'operator',
    body: z.strictObject({ connector: z.string().min(1).optional(), full: z.boolean().optional() }).optional(),
    auditTarget: ({ body }) => (typeof body?.connector === 'string' ? body.connector : 'all'),
    responses: { 202: z.object({ queued: z.literal(true), connectors: z.array(z.string()), full: z.boolean() }) },
  }),
  'connectors.approve': route({
    method: 'POST',
    path: '/connectors/:name/approve',
    summary: "Approve what the connector's deletion threshold holds: the next run lets it through, once",
    tag: 'actions',
    role: 'operator',
    params: connectorParam,
    responses: { 200: okSchema },
  }),
  'connectors.lift': route({
    method: 'POST',
    path: '/connectors/:name/quarantine/lift',
    summary: "End the connector's quarantine: the next cycle imports and exports it again",
    tag: 'actions',
    role: 'operator',
    params: connectorParam,
    responses: { 200: okSchema },
  }),

  // ---- agents and tokens
  'agents.list': route({
    method: 'GET',
    path: '/agents',
    summary: 'Registered on-premises agents (never a key)',
    tag: 'agents',
    role: 'reader',
    responses: { 200: list(agentSchema) },
  }),
  'agents.token': route({
    method: 'POST',
    path: '/agents/tokens',
    summary: 'A one-time registration token for an agent of the group, shown once (as `idsync agents token`)',
    tag: 'agents',
    role: 'admin',
    body: z.strictObject({ group: nameSchema, ttlMinutes: z.number().int().min(1).max(1440).default(60) }),
    auditTarget: ({ body }) => (typeof body?.group === 'string' ? body.group : null),
    responses: { 201: z.object({ group: z.string(), token: z.string(), expires: z.string() }) },
  }),
  'agents.revoke': route({
    method: 'DELETE',
    path: '/agents/:id',
    summary: 'Revoke an agent: its key is refused from then on',
    tag: 'agents',
    role: 'admin',
    params: z.object({ id: z.string().min(1).max(100) }),
    responses: { 200: okSchema },
  }),
  'tokens.list': route({
    method: 'GET',
    path: '/tokens',
    summary: 'SCIM and API tokens: names, limits or roles, creation (never a token)',
    tag: 'tokens',
    role: 'admin',
    responses: { 200: list(tokenSchema) },
  }),
  'tokens.create': route({
    method: 'POST',
    path: '/tokens',
    summary: 'Make a SCIM token (endpoints) or an API token (role); the token is in this answer only',
    tag: 'tokens',
    role: 'admin',
    body: z.strictObject({ name: nameSchema, kind: z.enum(['scim', 'api']), role: z.enum(['reader', 'operator', 'admin']).optional(), endpoints: z.array(z.string()).optional() }),
    auditTarget: ({ body }) => (typeof body?.name === 'string' ? body.name : null),
    responses: { 201: z.object({ name: z.string(), kind: z.enum(['scim', 'api']), token: z.string() }) },
  }),
  'tokens.revoke': route({
    method: 'DELETE',
    path: '/tokens/:name',
    summary: 'Revoke a SCIM or API token',
    tag: 'tokens',
    role: 'admin',
    params: z.object({ name: nameSchema }),
    responses: { 200: okSchema },
  }),

  // ---- config
  'config.get': route({
    method: 'GET',
    path: '/config',
    summary: 'The config file the service runs with, every secret-looking value shown as "set"',
    tag: 'config',
    role: 'reader',
    responses: { 200: z.object({ file: z.string(), yaml: z.string(), connectors: z.array(z.string()), rules: z.array(z.string()) }) },
  }),
  'config.validate': route({
    method: 'POST',
    path: '/config/validate',
    summary:
      'Check a proposed config (YAML text) as the loader does, without saving it: every problem with its place (file:line:column of the proposed text), what it changes against the running config (connectors and rules added, removed, changed), and, when it is valid, its plan: the engine of the proposed config runs a plan on a temporary copy of the state (its connectors are read, nothing is exported, the state is not written) and answers every create, update and delete per connector with per-attribute old → new, and what is held. One plan at a time (409 PREVIEW_BUSY), stopped after a timeout (planError PREVIEW_TIMEOUT). A secret value written as "set" (as GET /config shows it) keeps the running config\'s value',
    tag: 'config',
    role: 'admin',
    body: z.strictObject({
      yaml: z.string().max(1_000_000),
      plan: z.boolean().default(true).describe('false: check the config only, compute no plan'),
    }),
    responses: {
      200: z.object({
        valid: z.boolean(),
        issues: z.array(configIssueSchema),
        changes: z.object({ connectors: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }), rules: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }) }).nullable(),
        plan: configPlanSchema.nullable().describe('the plan of the proposed config; null when it is not valid, no plan was asked for, or the plan failed (planError)'),
        planError: z.object({ code: z.string(), message: z.string() }).nullable(),
      }),
    },
  }),
} as const;

export type RouteId = keyof typeof ROUTES;
