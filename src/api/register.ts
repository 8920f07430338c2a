/**
 * Mounts the admin API under /api/v1 in its own fastify scope: its own body parser, error and not-found
 * handlers (JSON errors as data; SCIM stays SCIM), the session cookie, and one fastify route per entry of
 * routes.ts. Every request part is checked with safeParse against the route's schemas (bodies and queries
 * strict: a field a route does not take is an issue naming it) and a failure answers 400 with every issue; every answer is checked against the route's response schema (unknown fields are
 * dropped, so nothing a schema does not publish can leave); every write is written to the audit log.
 */
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ConfigError, ConnectorError, IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { roleAtLeast } from '../store/accounts.js';
import { type ApiCaller, CSRF_HEADER, SESSION_COOKIE } from './auth.js';
import type { ApiContext, ApiDeps } from './context.js';
import { ApiError, type ApiIssue } from './errors.js';
import { HANDLERS } from './handlers.js';
import type { Replied, RouteDef } from './route.js';
import { ROUTES } from './routes.js';

export const API_PREFIX = '/api/v1';

/** JSON nested deeper than this is refused (no API body nests more than a few levels) */
const MAX_DEPTH = 32;

export async function registerApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(
    async (scope) => {
      await scope.register(fastifyCookie);
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
        const text = body as string;
        if (text.trim() === '') return done(null, undefined);
        try {
          const parsed: unknown = JSON.parse(text);
          if (!withinDepth(parsed)) return done(new ApiError('API_BAD_JSON', `the body nests deeper than ${MAX_DEPTH} levels`), undefined);
          done(null, parsed);
        } catch (err) {
          // V8's message may quote the body (a password): say only where
          const at = /position (\d+)/.exec((err as Error).message)?.[1];
          done(new ApiError('API_BAD_JSON', `the body is not valid JSON${at ? ` (at character ${at})` : ''}`), undefined);
        }
      });
      scope.setErrorHandler((err: Error, request, reply) => sendError(err, request, reply));
      scope.setNotFoundHandler((request, reply) =>
        sendError(new ApiError('API_NO_ROUTE', `no route at ${request.method} ${request.url.split('?')[0]} (see ${API_PREFIX}/openapi.json)`), request, reply),
      );
      for (const [id, def] of Object.entries(ROUTES) as [keyof typeof ROUTES, RouteDef][]) {
        const handler = HANDLERS[id] as unknown as (input: unknown, ctx: ApiContext) => Promise<unknown>;
        scope.route({ method: def.method, url: def.path, handler: (request, reply) => handle(id, def, handler, deps, request, reply) });
      }
    },
    { prefix: API_PREFIX },
  );
}

async function handle(
  id: string,
  def: RouteDef,
  handler: (input: unknown, ctx: ApiContext) => Promise<unknown>,
  deps: ApiDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  let caller: ApiCaller | undefined;
  let input: { params: unknown; query: unknown; body: unknown } | undefined;
  const audited = def.method !== 'GET' || def.audit === true;
  try {
    if (def.role !== 'public') {
      caller = await deps.auth.caller(request.headers.authorization, request.cookies[SESSION_COOKIE]);
      if (def.method !== 'GET') deps.auth.checkCsrf(caller, request.headers[CSRF_HEADER]);
      if (!roleAtLeast(caller.role, def.role)) {
        throw new ApiError('API_FORBIDDEN', `${def.method} ${API_PREFIX}${def.path} needs the ${def.role} role; ${caller.kind} ${caller.name} is ${caller.role}`);
      }
    }
    input = validate(def, request);
    const out = await handler(input, { ...deps, caller, request, reply });
    if (def.stream) return reply;
    const replied = isReplied(out) ? out : { status: Number(Object.keys(def.responses)[0]), body: out };
    const schema = def.responses[replied.status];
    const checked = schema?.safeParse(replied.body);
    if (!checked?.success) {
      request.log.error({ route: id, status: replied.status, issues: checked?.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'answer does not match its schema');
      throw new ApiError('API_INTERNAL', 'the server failed to handle the request; the problem is logged');
    }
    if (audited && caller) await audit(deps, caller, id, def, request, 'ok', replied.status);
    return reply.code(replied.status).type('application/json; charset=utf-8').send(JSON.stringify(checked.data));
  } catch (err) {
    if (audited && caller) {
      const { status, code } = describe(err);
      await audit(deps, caller, id, def, request, code, status);
    }
    throw err;
  }
}

async function audit(deps: ApiDeps, caller: ApiCaller, id: string, def: RouteDef, request: FastifyRequest, result: string, status: number): Promise<void> {
  // from the request as sent (a refused one was not validated): a label for people, never used to act
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : undefined;
  let target: string | null;
  try {
    target = def.auditTarget ? def.auditTarget({ params, body }) : Object.values(params).map(String).join('/') || null;
  } catch {
    target = null;
  }
  try {
    await deps.accounts.audit({ actor: `${caller.kind} ${caller.name}`, action: id, target: target?.slice(0, 200) ?? null, result, status });
  } catch {
    // the audit table unreachable (its file locked by a CLI past the busy timeout, the database down): the answer still goes
  }
}

/** Every request part checked against its schema; all issues of all parts reported together. */
function validate(def: RouteDef, request: FastifyRequest): { params: unknown; query: unknown; body: unknown } {
  const issues: ApiIssue[] = [];
  const part = (name: 'params' | 'query' | 'body', schema: z.ZodType | undefined, value: unknown) => {
    if (!schema) {
      // a route that takes no query or body takes no field in them either (an empty JSON object is no field)
      if (name !== 'params' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const key of Object.keys(value)) issues.push({ code: 'unrecognized_keys', path: [name, key], message: `unknown field ${JSON.stringify(key)}: this route takes no ${name === 'query' ? 'parameters' : 'body'}` });
      } else if (name === 'body' && value !== undefined && value !== null) {
        issues.push({ code: 'invalid_type', path: [name], message: 'this route takes no body' });
      }
      return undefined;
    }
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    for (const i of r.error.issues) {
      const path = [name, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      // a field the route does not take: one issue per field, named in its path and message
      if (i.code === 'unrecognized_keys') for (const key of i.keys) issues.push({ code: i.code, path: [...path, key], message: `unknown field ${JSON.stringify(key)}: ${name === 'query' ? 'this route takes no such parameter' : 'this body has no such field'}` });
      else issues.push({ code: i.code, path, message: i.message });
    }
    return undefined;
  };
  const params = part('params', def.params, request.params ?? {});
  const query = part('query', def.query, request.query ?? {});
  const body = part('body', def.body, request.body);
  if (issues.length > 0) {
    throw new ApiError('API_INVALID', `the request is not valid: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { issues });
  }
  return { params, query, body };
}

function isReplied(out: unknown): out is Replied<unknown> {
  return typeof out === 'object' && out !== null && (out as { replied?: unknown }).replied === true && 'status' in out;
}

/** The status and code an error answers with: the API's own, another module's by the shape of its code. */
function describe(err: unknown): { status: number; code: string } {
  if (err instanceof ApiError) return { status: err.status, code: err.code };
  if (err instanceof ConfigError) return { status: 400, code: err.code };
  if (err instanceof ConnectorError) return { status: 502, code: err.code };
  if (err instanceof IdsyncError) {
    const c = err.code;
    if (/_UNKNOWN$|_NOT_FOUND$/.test(c)) return { status: 404, code: c };
    if (/_INVALID$|_WEAK$/.test(c)) return { status: 400, code: c };
    // any other described failure (EXPORT_NOT_PENDING, STATE_BUSY, PLAN_STALE, STAGING_MODE, ...) is the state's
    return { status: 409, code: c };
  }
  const e = err as { statusCode?: number; code?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) return { status: 413, code: 'API_TOO_LARGE' };
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, code: 'API_INVALID' };
  return { status: 500, code: 'API_INTERNAL' };
}

function sendError(err: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, code } = describe(err);
  let body: Record<string, unknown>;
  if (err instanceof ApiError) {
    body = err.toJSON();
    if (err.extra.retryAfter !== undefined) reply.header('Retry-After', String(err.extra.retryAfter));
  } else if (status === 500) {
    request.log.error({ err: { message: redact(err.message), code: (err as { code?: string }).code } }, 'request failed');
    body = { code, message: 'the server failed to handle the request; the problem is logged', retryable: true };
  } else if (err instanceof ConfigError) {
    body = {
      code,
      message: redact(err.message),
      retryable: false,
      issues: err.problems.map((p) => ({ code: p.code, path: p.path, message: redact(p.location ? `${p.location}: ${p.message}` : p.message) })),
    };
  } else {
    body = { code, message: redact(err.message), retryable: err instanceof ConnectorError ? err.retryable : false };
  }
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="idsync"');
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

function withinDepth(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_DEPTH) return false;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return true;
}
