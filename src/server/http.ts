/**
 * The HTTP server of `idsync serve` (fastify): TLS, body limits, authentication and rate limits as hooks,
 * and one SCIM endpoint per configured base path. Every error leaves as a SCIM error body (RFC 7644 §3.12);
 * bad input of any kind is a 4xx, and nothing a client sends can stop the server.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import { IdsyncError } from '../core/errors.js';
import { countRequests, registerMetricsRoute } from '../ops/http.js';
import type { Ops } from '../ops/index.js';
import { redact } from '../core/redact.js';
import { badRequest, ScimError } from '../scim/errors.js';
import type { AgentStore } from '../store/agents.js';
import type { TokenStore } from '../store/tokens.js';
import { AGENT_PREFIX, registerAgentRoutes } from './agents.js';
import { AuthError, Authenticator, type Caller, RateLimiter } from './auth.js';
import { sendScim } from './scim/reply.js';
import { registerScimRoutes, type ScimEndpoint } from './scim/routes.js';

export interface ServerOptions {
  serve: ServeConfig;
  endpoints: ScimEndpoint[];
  tokens?: TokenStore;
  /** registered agents: mounts the agent registration route under /agent/v1 */
  agents?: AgentStore;
  /** log requests (method, path, status, time) to stdout; never headers or bodies */
  log?: boolean;
  /** where the log goes (default stdout) */
  logStream?: NodeJS.WritableStream;
  /** metrics and notifications (src/ops): counts every request and serves /metrics */
  ops?: Ops;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { serve } = options;
  const app = Fastify({
    ...(serve.tls && { https: { cert: readTls(serve.tls.cert), key: readTls(serve.tls.key) } }),
    bodyLimit: serve.bodyLimit,
    // ids can be long (Entra's are up to ~100 characters), but a path parameter of megabytes is an attack
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 500 },
    // a TLS-terminating proxy on this host says how clients reached it (X-Forwarded-Proto, -Host), so that
    // Location and meta.location name the URL clients use (RFC 7644 §3.3); no one else is believed
    trustProxy: 'loopback',
    logger: options.log
      ? {
          level: 'info',
          ...(options.logStream && { stream: options.logStream }),
          redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
          serializers: {
            req: (req: { method: string; url: string }) => ({ method: req.method, url: loggableUrl(req.url) }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
        }
      : false,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  if (options.ops) countRequests(app, options.ops.metrics);

  // SCIM bodies are JSON whatever the client calls them (application/scim+json, application/json, or
  // nothing at all); parse errors are SCIM errors naming the problem.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      // V8's message may quote the body (a password, say): give only where the problem is
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      return done(
        badRequest('invalidSyntax', `the body is not valid JSON${at ? ` (at character ${at})` : ''}`),
        undefined,
      );
    }
    if (!withinDepth(parsed, MAX_BODY_DEPTH)) {
      return done(
        badRequest('invalidSyntax', `the body nests deeper than ${MAX_BODY_DEPTH} levels`),
        undefined,
      );
    }
    done(null, parsed);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof AuthError) reply.header('WWW-Authenticate', err.challenge);
    if (err instanceof ScimError) return sendScim(reply, err.status, err.toResponse());
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendScim(
        reply,
        413,
        new ScimError(
          413,
          undefined,
          `the body is larger than this endpoint accepts (${limitFor(request, options, serve)} bytes)`,
        ).toResponse(),
      );
    }
    if (status >= 400 && status < 500) {
      return sendScim(
        reply,
        status,
        new ScimError(status, status === 400 ? 'invalidSyntax' : undefined, redact(err.message)).toResponse(),
      );
    }
    request.log.error(
      { err: { message: redact(err.message), code: err instanceof IdsyncError ? err.code : err.code } },
      'request failed',
    );
    return sendScim(
      reply,
      500,
      new ScimError(
        500,
        undefined,
        'the server failed to handle the request; the problem is logged',
      ).toResponse(),
    );
  });
  app.setNotFoundHandler(notFound);

  app.get('/health', async (_req, reply) => reply.type('application/json').send('{"status":"ok"}'));
  if (options.ops) registerMetricsRoute(app, options.ops.metrics, serve.metrics);
  const agents = options.agents;
  if (agents) await app.register((scope) => registerAgentRoutes(scope, agents), { prefix: AGENT_PREFIX });

  const auth = new Authenticator(serve.auth.tokens ? options.tokens : undefined, serve.auth.jwt);
  const limiter = serve.rateLimit
    ? new RateLimiter(serve.rateLimit.perSecond, serve.rateLimit.burst)
    : undefined;

  for (const endpoint of options.endpoints) {
    await app.register(
      async (scope) => {
        scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
          const caller = await auth.authenticate(request.headers.authorization);
          auth.authorize(caller, endpoint.config.path, endpoint.config.scope);
          if (limiter) {
            const wait = limiter.take(caller.name);
            if (wait > 0) {
              reply.header('Retry-After', String(wait));
              throw new ScimError(
                429,
                undefined,
                `too many requests for token ${caller.name}: retry after ${wait} s`,
              );
            }
          }
          request.caller = caller;
        });
        registerScimRoutes(scope, endpoint, { jwt: serve.auth.jwt !== undefined });
        // under the endpoint, the hook above runs first: whether a path exists is not told to strangers
        scope.setNotFoundHandler(notFound);
      },
      { prefix: endpoint.config.path },
    );
  }
  return app;
}

function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendScim(
    reply,
    404,
    new ScimError(404, undefined, `no resource at ${request.method} ${request.url.split('?')[0]}`).toResponse(),
  );
}

/**
 * SCIM resources nest a few levels (an extension, a complex attribute, its sub-attributes; Bulk adds two);
 * anything far deeper is an attack on the recursive code that copies and compares values.
 */
const MAX_BODY_DEPTH = 32;

/** Iterative, so the check itself cannot run out of stack. */
function withinDepth(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return false;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return true;
}

function limitFor(request: FastifyRequest, options: ServerOptions, serve: ServeConfig): number {
  const endpoint = options.endpoints.find((e) =>
    request.url.toLowerCase().startsWith(`${e.config.path.toLowerCase()}/bulk`),
  );
  return endpoint ? endpoint.config.bulk.maxPayloadSize : serve.bodyLimit;
}

function readTls(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new IdsyncError(
      'SERVE_TLS_UNREADABLE',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Query parameters whose value is a credential by their name (OAuth's access_token, client_secret, an API key,
 * a password): a client may put a token in the URL although it is refused there (RFC 6750 §2.3).
 */
const CREDENTIAL_PARAMETER = /token|secret|passw|pwd|key|auth|credential|signature/i;

/**
 * The URL as the request log shows it: the value of every credential parameter is replaced, and a query that
 * names a password anywhere (a client filtering on it, which is refused) is not logged at all.
 */
function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return redact(url);
  const path = redact(url.slice(0, q));
  const query = url.slice(q + 1);
  if (/password/i.test(decoded(query))) return `${path}?[redacted]`;
  const pairs = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq >= 0 && CREDENTIAL_PARAMETER.test(decoded(pair.slice(0, eq)))
      ? `${pair.slice(0, eq)}=[redacted]`
      : pair;
  });
  return `${path}?${redact(pairs.join('&'))}`;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
