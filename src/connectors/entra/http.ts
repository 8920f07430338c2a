/**
 * HTTP to Microsoft Graph for one connector: keep-alive connections, bounded concurrency, a token bucket per
 * tenant, app-only tokens, retries where they do no harm, and JSON $batch.
 *
 * Throttling (https://learn.microsoft.com/graph/throttling): a 429 or 503 carries Retry-After (seconds);
 * the request is sent again after it, never earlier. Below that, a token bucket per tenant (shared by every
 * entra connector of the tenant in this process) keeps the rate under the documented identity limits, so
 * throttling is the exception. Inside a $batch each request is throttled on its own
 * (https://learn.microsoft.com/graph/json-batching): those answered 429/503 are sent again in a later batch.
 *
 * A POST that may have reached Graph (timeout, dropped connection, 502/504) is never resent by the
 * transport: the caller gets an `ambiguous` failure and looks the object up (export.ts).
 */
import { Agent } from 'undici';
import { ConnectorError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import { backoffMs, CONNECT_ERRORS, RequestPacer, retryAfterMs, Semaphore, sleep, TIMEOUT_ERRORS } from '../../core/http-retry.js';
import { TokenSource } from './auth.js';
import type { EntraErrorCode } from './errors.js';
import { type EntraSettings, endpoints } from './settings.js';

export interface GraphResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: Graph JSON, read defensively field by field
  body: any;
  headers: Record<string, string>;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** 'safe': retried on transient failures; 'once': a create, never resent by the transport */
  retry: 'safe' | 'once';
  signal?: AbortSignal;
}

/** One request of a JSON $batch: a URL relative to the version (/users/{id}). */
export interface BatchRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A request that failed for good inside this call, or could not be sent. */
export class GraphTransportError extends Error {
  override readonly name = 'GraphTransportError';
  constructor(
    readonly code: EntraErrorCode,
    message: string,
    readonly retryable: boolean,
    /** the request may have been applied (sent, then the connection failed or a gateway gave up) */
    readonly ambiguous: boolean,
    readonly status?: number,
    /** the connection or the credentials failed, not the object */
    readonly connection = false,
  ) {
    super(message);
  }
}

export interface GraphStats {
  requests: number;
  /** requests inside $batch calls */
  batched: number;
  batches: number;
  writes: number;
  retries: number;
  throttled: number;
  failures: number;
}

const BREAKER_THRESHOLD = 3;

/** One pacer per tenant and Graph host in this process: Graph's limits are per tenant. */
const tenantPacers = new Map<string, RequestPacer>();

export class GraphHttp {
  readonly base: string;
  readonly origin: string;
  readonly tokens: TokenSource;
  readonly stats: GraphStats = { requests: 0, batched: 0, batches: 0, writes: 0, retries: 0, throttled: 0, failures: 0 };
  private readonly agent: Agent;
  private readonly pacer: RequestPacer | null;
  private readonly slots: Semaphore;
  private consecutiveConnectFailures = 0;

  constructor(
    connector: string,
    private readonly settings: EntraSettings,
    configDir: string,
  ) {
    const e = endpoints(settings);
    this.base = e.graphBase;
    this.origin = e.graphOrigin;
    this.agent = new Agent({
      connections: settings.concurrency,
      keepAliveTimeout: 30_000,
      headersTimeout: settings.timeout * 1000,
      bodyTimeout: settings.timeout * 1000,
      connect: { timeout: settings.timeout * 1000 },
    });
    this.tokens = new TokenSource(connector, settings, configDir, this.agent);
    this.slots = new Semaphore(settings.concurrency);
    if (settings.rateLimit > 0) {
      const key = `${e.graphOrigin}|${settings.tenantId.toLowerCase()}`;
      let pacer = tenantPacers.get(key);
      if (!pacer) {
        pacer = new RequestPacer(settings.rateLimit);
        tenantPacers.set(key, pacer);
      }
      this.pacer = pacer;
    } else {
      this.pacer = null;
    }
  }

  resetCall(): void {
    this.consecutiveConnectFailures = 0;
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
  }

  /** The absolute URL of a path under /v1.0, or a link Graph gave (nextLink, deltaLink) if it is on this host. */
  url(pathOrLink: string): string {
    if (pathOrLink.startsWith('/')) return this.base + pathOrLink;
    if (!pathOrLink.toLowerCase().startsWith(`${this.origin.toLowerCase()}/`)) {
      // never send the token to a host other than the configured Graph
      throw new GraphTransportError('ENTRA_WATERMARK_INVALID', `a link to ${safeOrigin(pathOrLink)} is not on ${this.origin}`, false, false);
    }
    return pathOrLink;
  }

  async request(method: string, pathOrLink: string, options: RequestOptions): Promise<GraphResponse> {
    if (this.consecutiveConnectFailures >= BREAKER_THRESHOLD) {
      throw new GraphTransportError('ENTRA_UNREACHABLE', `${this.origin} refused the last ${BREAKER_THRESHOLD} connections; not trying again in this call`, true, false, undefined, true);
    }
    const url = this.url(pathOrLink);
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let failure: GraphTransportError;
      let waitMs: number | undefined;
      try {
        const res = await this.once(method, url, options);
        this.consecutiveConnectFailures = 0;
        if (res.status === 401 && !refreshed) {
          // an expired or revoked token: one new token, one more try
          refreshed = true;
          this.tokens.invalidate();
          attempt--;
          continue;
        }
        if (!retryableStatus(res.status)) {
          if (res.status >= 400) this.stats.failures++;
          return res;
        }
        if (res.status === 429 || res.status === 503) this.stats.throttled++;
        waitMs = retryAfterMs(res.headers['retry-after']);
        failure = new GraphTransportError(
          res.status === 429 ? 'ENTRA_THROTTLED' : 'ENTRA_SERVER_ERROR',
          `${method} ${describePath(url)}: HTTP ${res.status}${graphDetail(res.body)}`,
          true,
          false,
          res.status,
        );
        if (options.retry === 'once' && (res.status === 502 || res.status === 504 || res.status === 500)) {
          this.stats.failures++;
          throw new GraphTransportError(failure.code, failure.message, true, true, res.status);
        }
        if (waitMs !== undefined && waitMs > this.settings.maxRetryAfter * 1000) {
          this.stats.failures++;
          throw new GraphTransportError(failure.code, `${failure.message} (Retry-After ${Math.round(waitMs / 1000)} s: left for a later run)`, true, false, res.status);
        }
      } catch (err) {
        if (err instanceof GraphTransportError || err instanceof ConnectorError) throw err;
        failure = networkFailure(method, url, err);
        if (CONNECT_ERRORS.has(failure.code)) {
          // refused before anything was sent: safe to retry
        } else if (options.retry === 'once') {
          this.stats.failures++;
          throw failure;
        }
      }
      if (attempt >= this.settings.maxAttempts || options.signal?.aborted) {
        this.stats.failures++;
        if (failure.connection) this.consecutiveConnectFailures++;
        throw failure;
      }
      this.stats.retries++;
      await sleep(waitMs ?? backoffMs(attempt), options.signal);
    }
  }

  /**
   * One JSON $batch of up to 20 requests (https://learn.microsoft.com/graph/json-batching). Returns one
   * response per request, in order. Requests answered 429/503/504 inside the batch are sent again (in a
   * smaller batch) after the longest Retry-After among them, up to maxAttempts.
   */
  async batch(requests: BatchRequest[], signal?: AbortSignal): Promise<GraphResponse[]> {
    if (requests.length > 20) throw new Error('a JSON batch holds at most 20 requests');
    const out: (GraphResponse | undefined)[] = new Array(requests.length);
    let todo = requests.map((_, i) => i);
    for (let attempt = 1; todo.length > 0; attempt++) {
      if (todo.length === 1) {
        // one request: no batch envelope
        const i = todo[0]!;
        const r = requests[i]!;
        out[i] = await this.request(r.method, r.url, { retry: 'safe', ...(r.body !== undefined ? { body: r.body } : {}), ...(r.headers ? { headers: r.headers } : {}), ...(signal ? { signal } : {}) });
        break;
      }
      this.stats.batches++;
      this.stats.batched += todo.length;
      const res = await this.request(
        'POST',
        '/$batch',
        {
          retry: 'safe',
          body: {
            requests: todo.map((i) => {
              const r = requests[i]!;
              const headers = { ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}), ...r.headers };
              return { id: String(i + 1), method: r.method, url: r.url, ...(Object.keys(headers).length > 0 ? { headers } : {}), ...(r.body !== undefined ? { body: r.body } : {}) };
            }),
          },
          ...(signal ? { signal } : {}),
        },
      );
      if (res.status !== 200 || !Array.isArray(res.body?.responses)) {
        throw new GraphTransportError(res.status === 401 || res.status === 403 ? 'ENTRA_UNAUTHORIZED' : 'ENTRA_REQUEST_REFUSED', `POST /$batch: HTTP ${res.status}${graphDetail(res.body)}`, res.status >= 500, false, res.status);
      }
      const again: number[] = [];
      let waitMs = 0;
      for (const item of res.body.responses as { id?: unknown; status?: unknown; headers?: Record<string, string>; body?: unknown }[]) {
        const i = Number(item.id) - 1;
        if (!Number.isInteger(i) || i < 0 || i >= requests.length) continue;
        const status = Number(item.status);
        const headers = lowerKeys(item.headers ?? {});
        if ((status === 429 || status === 503 || status === 504) && attempt < this.settings.maxAttempts) {
          this.stats.throttled++;
          const wait = retryAfterMs(headers['retry-after']) ?? backoffMs(attempt);
          if (wait > this.settings.maxRetryAfter * 1000) {
            out[i] = { status, body: item.body ?? null, headers };
            continue;
          }
          waitMs = Math.max(waitMs, wait);
          again.push(i);
          continue;
        }
        out[i] = { status, body: item.body ?? null, headers };
      }
      // a request the batch response forgot is sent again too
      for (const i of todo) if (out[i] === undefined && !again.includes(i)) again.push(i);
      todo = again;
      if (todo.length > 0) {
        this.stats.retries += todo.length;
        await sleep(waitMs || backoffMs(attempt), signal);
      }
      if (attempt >= this.settings.maxAttempts && todo.length > 0) {
        for (const i of todo) out[i] ??= { status: 429, body: { error: { code: 'TooManyRequests', message: 'throttled inside the batch on every attempt' } }, headers: {} };
        break;
      }
    }
    return out.map((r) => r!);
  }

  private async once(method: string, url: string, options: RequestOptions): Promise<GraphResponse> {
    await this.pacer?.take(options.signal);
    await this.slots.acquire();
    try {
      this.stats.requests++;
      if (method !== 'GET') this.stats.writes++;
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
      headers.authorization = await this.tokens.header();
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const res = await this.agent.request({
        origin: new URL(url).origin,
        path: url.slice(new URL(url).origin.length),
        method: method as 'GET',
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const text = await res.body.text();
      let parsed: unknown = null;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { error: { code: 'NotJson', message: redact(text).slice(0, 200) } };
        }
      }
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v[0]! : String(v);
      return { status: res.statusCode, body: parsed, headers: out };
    } finally {
      this.slots.release();
    }
  }
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = String(v);
  return out;
}

function retryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

function networkFailure(method: string, url: string, err: unknown): GraphTransportError {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  const code = e.cause?.code ?? e.code ?? 'UNKNOWN';
  const where = `${method} ${describePath(url)}`;
  if (e.name === 'AbortError') return new GraphTransportError('ENTRA_ABORTED', `${where}: aborted`, true, true);
  if (CONNECT_ERRORS.has(code)) return new GraphTransportError('ENTRA_UNREACHABLE', `${where}: cannot connect (${code})`, true, false, undefined, true);
  if (TIMEOUT_ERRORS.has(code)) return new GraphTransportError('ENTRA_TIMEOUT', `${where}: timed out`, true, true);
  return new GraphTransportError('ENTRA_CONNECTION_LOST', `${where}: connection failed (${code})`, true, true);
}

/** A path for messages: the query (which may hold a delta token) left out. */
export function describePath(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname;
  } catch {
    return url.split('?')[0]!;
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an unreadable URL';
  }
}

/** Graph's error body (https://learn.microsoft.com/graph/errors): ": code: message", redacted and cut. */
export function graphDetail(body: unknown): string {
  const e = graphErrorOf(body);
  if (!e) return '';
  return `: ${[e.code, redact(e.message).slice(0, 300)].filter(Boolean).join(': ')}`;
}

export function graphErrorOf(body: unknown): { code: string; message: string } | null {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!e || typeof e !== 'object') return null;
  return { code: typeof e.code === 'string' ? e.code : '', message: typeof e.message === 'string' ? e.message : '' };
}
