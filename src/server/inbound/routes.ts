/**
 * The HR push endpoint: Microsoft Entra's API-driven inbound provisioning, served by idsync.
 *   POST /api/v1/inbound/{connector}/bulkUpload
 *   POST [/v1.0|/beta]/servicePrincipals/{id}/synchronization/jobs/{connector}/bulkUpload  (Graph's shape: a
 *        client written for Entra changes only its base URL)
 *   GET  /api/v1/inbound/{connector}/requests/{id}  (the Location of a push: per-record results)
 * The body is a SCIM BulkRequest (RFC 7644 §3.7) of at most `maxOperations` POSTs of SCIM Users, sent as
 * application/scim+json (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-post-bulkupload).
 *
 * A push is written to the connector's record store in one transaction and only then answered 202 with a
 * Location: nothing acknowledged is lost if the process dies right after. The store's change notification
 * wakes the engine (connector watch()), which imports and syncs the records at once. A malformed record fails
 * alone, naming its operation and attribute; the others are written, and the answer is a 400 listing the
 * problems, with the same Location for the rest.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RecordIssue } from '../../connectors/api/errors.js';
import { recordsPath } from '../../connectors/api/index.js';
import { parseOperation, recordSchema } from '../../connectors/api/record.js';
import { openRecordStore, type RecordStore } from '../../connectors/api/records.js';
import { type ApiSettings, durationToMs } from '../../connectors/api/settings.js';
import type { LoadedConfig } from '../../config/model.js';
import { redact } from '../../core/redact.js';
import type { Engine } from '../../engine/engine.js';
import type { ResourceSchema } from '../../scim/index.js';
import { ScimError } from '../../scim/errors.js';
import type { TokenStore } from '../../store/tokens.js';
import { AuthError, Authenticator, type Caller } from '../auth.js';
import { InboundError } from './errors.js';
import { PushLimiter } from './limits.js';
import { type OperationResult, summary, withSync } from './results.js';

export const INBOUND_PREFIX = '/api/v1/inbound';

export interface InboundOptions {
  config: LoadedConfig;
  tokens?: TokenStore;
  /** the engine beside the server: the results say what the sync made of each record */
  engine?: Engine;
}

interface Endpoint {
  name: string;
  settings: ApiSettings;
  store: RecordStore;
  schema: ResourceSchema;
  limiter: PushLimiter;
  release(): void;
  lastPrune: number;
}

const REALM = 'realm="idsync"';
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Mounts the endpoint for every connector of type `api` in its own scopes (the admin API's /api/v1 scope
 * stays its own), and releases the record stores when the server closes.
 */
export async function registerInbound(app: FastifyInstance, options: InboundOptions): Promise<void> {
  const endpoints = new Map<string, Endpoint>();
  for (const [name, cfg] of options.config.connectors) {
    if (cfg.type !== 'api') continue;
    const settings = cfg.settings as ApiSettings;
    const shared = openRecordStore(recordsPath(name, settings, options.config.dir, options.config.stateDir));
    endpoints.set(name.toLowerCase(), {
      name,
      settings,
      store: shared.store,
      schema: recordSchema(settings),
      limiter: new PushLimiter(settings.rateLimit.requests, durationToMs(settings.rateLimit.per), settings.rateLimit.daily),
      release: shared.release,
      lastPrune: 0,
    });
  }
  app.addHook('onClose', async () => {
    for (const e of endpoints.values()) e.release();
  });
  if (endpoints.size === 0) return;
  const serve = options.config.serve;
  const auth = new Authenticator(serve?.auth.tokens === false ? undefined : options.tokens, serve?.auth.jwt);

  const setup = (s: FastifyInstance) => {
    s.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
      const e = toInboundError(err, endpoints.get(connectorOf(request).toLowerCase())?.settings.maxPayloadSize);
      if (e.status >= 500) request.log.error({ err: { message: redact(err.message), code: err.code } }, 'inbound request failed');
      if (e.extra.challenge) reply.header('WWW-Authenticate', e.extra.challenge);
      if (e.extra.retryAfter !== undefined) reply.header('Retry-After', String(e.extra.retryAfter));
      return reply.code(e.status).type('application/json').send(e.toJSON());
    });
    // Before the body is read: who calls, whether they may, the rate limit and the media type.
    s.addHook('onRequest', async (request: FastifyRequest) => {
      const caller = await auth.authenticate(request.headers.authorization);
      const connector = connectorOf(request);
      const endpoint = endpoints.get(connector.toLowerCase());
      authorize(caller, endpoint, connector);
      if (!endpoint) throw new InboundError(404, 'INBOUND_NOT_FOUND', `no connector of type api named ${connector}`);
      request.caller = caller;
      if (request.method !== 'POST') return;
      const wait = endpoint.limiter.take(`${endpoint.name}\0${caller.name}`);
      if (wait > 0) {
        throw new InboundError(429, 'INBOUND_RATE_LIMITED', `too many pushes to ${endpoint.name} for ${caller.name}: retry after ${wait} s`, { retryable: true, retryAfter: wait });
      }
      checkMediaType(request.headers['content-type']);
      const length = Number(request.headers['content-length'] ?? 0);
      if (length > endpoint.settings.maxPayloadSize) {
        throw new InboundError(413, 'INBOUND_TOO_LARGE', `the body is larger than ${endpoint.name} accepts (${endpoint.settings.maxPayloadSize} bytes)`);
      }
    });
  };
  // Each connector has its own routes, so that fastify holds each body to that connector's size limit (also
  // when it comes chunked, with no Content-Length); a route with a :connector parameter answers for the
  // names that are not connectors, after authentication, so that strangers learn nothing of which exist.
  const endpointOf = (request: FastifyRequest): Endpoint => endpoints.get(connectorOf(request).toLowerCase())!;
  const results = async (request: FastifyRequest, reply: FastifyReply) => {
    const endpoint = endpointOf(request);
    const { id } = request.params as { id: string };
    const stored = endpoint.store.request(endpoint.name, id);
    if (!stored) throw new InboundError(404, 'INBOUND_NOT_FOUND', `no push ${id} to ${endpoint.name} (results are kept ${endpoint.settings.keepResults})`);
    const operations = await withSync(options.engine, endpoint.name, stored.received, stored.results as OperationResult[]);
    const counts = summary(operations);
    return reply.type('application/json').send({
      id: stored.id,
      connector: endpoint.name,
      received: stored.received,
      status: counts.pending! > 0 ? 'processing' : 'completed',
      summary: counts,
      operations,
    });
  };
  const unknown = async () => {
    throw new InboundError(404, 'INBOUND_NOT_FOUND', 'no such connector');
  };
  const routes = (s: FastifyInstance, bulkUpload: (connector: string) => string, requests?: (connector: string) => string) => {
    for (const e of endpoints.values()) {
      const config = { connector: e.name };
      s.post(bulkUpload(e.name), { bodyLimit: e.settings.maxPayloadSize, config }, (request, reply) => accept(e, request, reply));
      if (requests) s.get(requests(e.name), { config }, results);
    }
    s.post(bulkUpload(':connector'), { bodyLimit: 1024 }, unknown);
    if (requests) s.get(requests(':connector'), unknown);
  };

  // /api/v1/inbound: its own scope, not-found and error handlers, apart from the admin API's /api/v1 scope
  await app.register(
    async (s) => {
      setup(s);
      s.setNotFoundHandler((request, reply) =>
        reply.code(404).type('application/json').send(new InboundError(404, 'INBOUND_NOT_FOUND', `no resource at ${request.method} ${request.url.split('?')[0]}`).toJSON()),
      );
      routes(s, (c) => `/${c}/bulkUpload`, (c) => `/${c}/requests/:id`);
    },
    { prefix: INBOUND_PREFIX },
  );
  // Graph's path (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-post-bulkupload):
  // the service principal id is not checked; the job id names the connector
  await app.register(async (s) => {
    setup(s);
    for (const version of ['', '/v1.0', '/beta']) {
      routes(s, (c) => `${version}/servicePrincipals/:servicePrincipal/synchronization/jobs/${c}/bulkUpload`);
    }
  });

  async function accept(endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply) {
    const operations = readEnvelope(request.body, endpoint.settings.maxOperations);
    const parsed = operations.map((op, i) => parseOperation(op, i, endpoint.schema, endpoint.settings));
    const results: OperationResult[] = parsed.map((p, index) => ({
      index,
      ...(p.bulkId !== undefined && { bulkId: p.bulkId }),
      method: p.method || 'POST',
      ...(p.anchor !== undefined && { anchor: p.anchor }),
      status: 'failed',
      ...(p.issues.length > 0 && { errors: p.issues }),
      ...(p.ignored.length > 0 && { ignored: p.ignored }),
    }));
    const id = randomUUID();
    const received = new Date().toISOString();
    const writes = parsed.flatMap((p, index) => (p.write && p.issues.length === 0 ? [{ index, write: p.write }] : []));
    endpoint.store.apply(
      { id, connector: endpoint.name, received, caller: request.caller?.name ?? '' },
      writes,
      (outcome, index) => {
        const r = results[index]!;
        r.status = outcome.status;
        if (outcome.status === 'skipped') r.reason = outcome.reason;
        else r.seq = outcome.seq;
      },
      () => results,
    );
    pruneOld(endpoint);
    const location = `${request.protocol}://${request.host}${INBOUND_PREFIX}/${encodeURIComponent(endpoint.name)}/requests/${id}`;
    reply.header('Location', location);
    const issues: RecordIssue[] = parsed.flatMap((p) => p.issues);
    const counts = summary(results);
    if (issues.length > 0) {
      const failed = results.filter((r) => r.status === 'failed').length;
      return reply
        .code(400)
        .type('application/json')
        .send({
          ...new InboundError(400, 'INBOUND_RECORDS_INVALID', `${failed} of ${results.length} records are malformed and were not taken; the other ${results.length - failed} were (see Location for every record)`).toJSON(),
          issues: parsed.flatMap((p) => p.issues.map((i) => ({ ...i, ...(p.bulkId !== undefined && { bulkId: p.bulkId }), operation: p.label }))),
          id,
          location,
          summary: counts,
        });
    }
    return reply.code(202).type('application/json').send({ id, location, summary: counts });
  }
}

/** The connector a request is for: its route's (a connector's own route), else the :connector parameter. */
function connectorOf(request: FastifyRequest): string {
  const own = (request.routeOptions.config as { connector?: string } | undefined)?.connector;
  return own ?? (request.params as { connector?: string }).connector ?? '';
}

function pruneOld(endpoint: Endpoint): void {
  const now = Date.now();
  if (now - endpoint.lastPrune < PRUNE_EVERY_MS) return;
  endpoint.lastPrune = now;
  try {
    endpoint.store.pruneRequests(new Date(now - durationToMs(endpoint.settings.keepResults)).toISOString());
  } catch {
    // busy: the next push prunes
  }
}

/** A token limited to endpoints may push to a connector when it lists /api/v1/inbound/NAME or /api/v1/inbound. */
function authorize(caller: Caller, endpoint: Endpoint | undefined, connector: string): void {
  const path = `${INBOUND_PREFIX}/${endpoint?.name ?? connector}`;
  if (caller.endpoints.length > 0 && !caller.endpoints.some((e) => e === path || e === INBOUND_PREFIX)) {
    throw new AuthError(403, `token ${caller.name} may not use ${path}`, `Bearer ${REALM}, error="insufficient_scope"`);
  }
  const scope = endpoint?.settings.scope;
  if (endpoint && scope && caller.scopes && !caller.scopes.includes(scope)) {
    throw new AuthError(403, `the access token lacks the scope or role ${scope}`, `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`);
  }
}

function checkMediaType(header: string | undefined): void {
  const type = (header ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/scim+json' || type === 'application/json') return;
  throw new InboundError(415, 'INBOUND_MEDIA_TYPE', `send the BulkRequest with Content-Type: application/scim+json${type ? ` (not ${type})` : ''}`);
}

function readEnvelope(body: unknown, maxOperations: number): unknown[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InboundError(400, 'INBOUND_REQUEST_INVALID', 'the body must be a SCIM BulkRequest: { "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [...] }');
  }
  const message = body as Record<string, unknown>;
  const operations = message.Operations ?? message.operations;
  if (!Array.isArray(operations)) throw new InboundError(400, 'INBOUND_REQUEST_INVALID', 'Operations must be a list of operations', { path: 'Operations' });
  if (operations.length === 0) throw new InboundError(400, 'INBOUND_REQUEST_INVALID', 'Operations is empty: send 1 to ' + maxOperations + ' records', { path: 'Operations' });
  if (operations.length > maxOperations) {
    throw new InboundError(413, 'INBOUND_TOO_MANY_OPERATIONS', `a push may hold at most ${maxOperations} operations, this one has ${operations.length}: split it`, { path: 'Operations' });
  }
  return operations;
}

function toInboundError(err: Error & { statusCode?: number; code?: string }, limit: number | undefined): InboundError {
  if (err instanceof InboundError) return err;
  if (err instanceof AuthError) {
    return new InboundError(err.status, err.status === 401 ? 'INBOUND_UNAUTHORIZED' : 'INBOUND_FORBIDDEN', err.detail, { challenge: err.challenge });
  }
  if (err instanceof ScimError) return new InboundError(err.status, err.status === 400 ? 'INBOUND_REQUEST_INVALID' : 'INBOUND_FAILED', err.detail);
  const status = err.statusCode ?? 500;
  if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new InboundError(413, 'INBOUND_TOO_LARGE', `the body is larger than this endpoint accepts${limit === undefined ? '' : ` (${limit} bytes)`}`);
  }
  if (status >= 400 && status < 500) return new InboundError(status, 'INBOUND_REQUEST_INVALID', redact(err.message));
  return new InboundError(500, 'INBOUND_FAILED', 'the server failed to handle the push; the problem is logged', { retryable: true });
}
