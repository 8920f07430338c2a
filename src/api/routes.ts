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
} from './schemas.js';

const limit = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt).describe(`at most this many (1-${max}, default ${dflt})`);
const isoTime = z.iso.datetime({ offset: true }).describe('ISO 8601 time, e.g. 2026-12-07T10:00:00Z');
const connectorParam = z.object({ name: z.string().min(1).max(200) });

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
    query: z.object({ connector: z.string().optional().describe("runs that included this connector (its phases only)"), limit: limit(500, 50) }),
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
    query: z.object({
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
    summary: 'The audit log, newest first: every write and login through the API (who, what, when, result)',
    tag: 'audit',
    role: 'reader',
    query: z.object({ actor: z.string().optional(), action: z.string().optional(), limit: limit(1000, 100), cursor: z.string().regex(/^\d+$/).optional() }),
    responses: { 200: list(auditSchema) },
  }),
} as const;

export type RouteId = keyof typeof ROUTES;
