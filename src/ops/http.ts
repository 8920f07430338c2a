/**
 * `GET /metrics` on the service's port, and the hook that counts every request. Access: with
 * serve.metrics.token, only a request sending it as a bearer token; without one, only clients on this
 * machine (loopback; behind a proxy on this host, the client the proxy names), so that a service bound to
 * 127.0.0.1 is scraped by a local Prometheus or agent with no setup, and one reachable from the network
 * shows nothing until a token is set.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServeConfig } from '../config/schema.js';
import type { OpsCode } from './errors.js';
import type { Metrics } from './metrics.js';

export const METRICS_PATH = '/metrics';

/** Counts every request of `app` (call before any route is registered, so every scope inherits the hook). */
export function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', metrics.onResponse);
}

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics, settings: ServeConfig['metrics']): void {
  if (!settings.enabled) return;
  const token = settings.token === undefined ? undefined : digest(settings.token);
  // scrapes (every 15 s or so) stay out of the request log, where they would bury everything else; each one,
  // refused or not, is counted in idsync_http_requests_total
  app.get(METRICS_PATH, { logLevel: 'warn' }, async (request, reply) => {
    const denied = refusal(request, token);
    if (denied) return deny(reply, denied);
    return reply.header('cache-control', 'no-store').type(metrics.contentType).send(await metrics.render());
  });
}

interface Refusal {
  status: 401 | 403;
  code: OpsCode;
  message: string;
}

function refusal(request: FastifyRequest, token: Buffer | undefined): Refusal | undefined {
  if (token) {
    const header = request.headers.authorization ?? '';
    const given = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (given !== undefined && timingSafeEqual(digest(given), token)) return undefined;
    return { status: 401, code: 'OPS_METRICS_UNAUTHORIZED', message: 'send the metrics token (serve.metrics.token) as a bearer token' };
  }
  if (isLoopback(request.ip)) return undefined;
  return {
    status: 403,
    code: 'OPS_METRICS_FORBIDDEN',
    message: 'without serve.metrics.token, /metrics answers clients on this machine only: set a token for a remote Prometheus',
  };
}

function deny(reply: FastifyReply, r: Refusal): FastifyReply {
  if (r.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="idsync metrics"');
  return reply.code(r.status).type('application/json').send({ code: r.code, message: r.message, retryable: false });
}

/** Compared as digests: equal lengths for timingSafeEqual, and no early exit on the first differing byte. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
