/**
 * HTTP to one SCIM target: keep-alive connections (undici Pool), bounded concurrency, a request-rate limit,
 * timeouts, authentication, and retries where a retry cannot do harm.
 *
 * What may be retried is decided by the caller: a GET, PUT, PATCH or DELETE is retried on 429, 5xx,
 * timeouts and dropped connections; a POST that may have reached the server is not (a second one could
 * create a second user) — the caller gets an `ambiguous` failure and looks the object up first.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Agent, Pool, request as undiciRequest } from 'undici';
import { ConnectorError } from '../../core/errors.js';
import { redact, registerSecret } from '../../core/redact.js';
import { backoffMs, CONNECT_ERRORS, RequestPacer, retryAfterMs, Semaphore, sleep, TIMEOUT_ERRORS } from '../../core/http-retry.js';
import { readErrorResponse } from '../../scim/index.js';
import type { ScimSettings } from './settings.js';

export interface ScimResponse {
  status: number;
  body: any;
  etag?: string;
  location?: string;
}

export interface RequestOptions {
  body?: unknown;
  /** headers such as If-Match */
  headers?: Record<string, string>;
  /** 'safe': retried on transient failures; 'once': a POST, never resent by the transport */
  retry: 'safe' | 'once';
  signal?: AbortSignal;
}

/** A request that failed for good inside this call (after its attempts) or could not be sent at all. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: string,
    message: string,
    /** a later attempt (next cycle) may succeed */
    readonly retryable: boolean,
    /** the request may have been applied by the server (sent, then the connection failed) */
    readonly ambiguous: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Failure counts of the current cycle, for the quarantine decision and the stats detail. */
export interface TransportStats {
  requests: number;
  failures: number;
  writes: number;
  retries: number;
  connectionFailures: number;
}

/** consecutive requests that could not connect after which the rest of the call fails fast */
const BREAKER_THRESHOLD = 3;

export class ScimHttp {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly limiter: RequestPacer | null;
  private readonly slots: Semaphore;
  private readonly auth: Authenticator;
  private consecutiveConnectFailures = 0;
  readonly stats: TransportStats = { requests: 0, failures: 0, writes: 0, retries: 0, connectionFailures: 0 };

  constructor(
    connector: string,
    private readonly settings: ScimSettings,
    configDir: string,
    warn: (msg: string) => void,
  ) {
    const url = new URL(settings.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    const connect = tlsOptions(settings, configDir, warn);
    this.pool = new Pool(this.origin, {
      connections: settings.concurrency,
      keepAliveTimeout: 30_000,
      connect: { ...connect, timeout: settings.timeout * 1000 },
      headersTimeout: settings.timeout * 1000,
      bodyTimeout: settings.timeout * 1000,
    });
    this.limiter = settings.rateLimit > 0 ? new RequestPacer(settings.rateLimit) : null;
    this.slots = new Semaphore(settings.concurrency);
    this.auth = new Authenticator(settings, connect, connector);
  }

  /** Counters and the fast-fail breaker start afresh for each import or export call. */
  resetCycle(): void {
    this.consecutiveConnectFailures = 0;
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {});
    await this.auth.close();
  }

  async request(method: string, path: string, options: RequestOptions): Promise<ScimResponse> {
    if (this.consecutiveConnectFailures >= BREAKER_THRESHOLD) {
      throw new TransportError('SCIM_UNREACHABLE', `${this.origin} refused the last ${BREAKER_THRESHOLD} connections; not trying again in this run`, true, false);
    }
    let refreshedAuth = false;
    for (let attempt = 1; ; attempt++) {
      let failure: TransportError;
      let waitMs: number | undefined;
      try {
        const response = await this.once(method, path, options);
        this.consecutiveConnectFailures = 0;
        if (response.status === 401 && !refreshedAuth && this.auth.canRefresh) {
          // An expired or revoked token: fetch a new one and try once more.
          refreshedAuth = true;
          this.auth.invalidate();
          attempt--;
          continue;
        }
        if (!isRetryableStatus(response.status)) {
          if (response.status >= 400) this.stats.failures++;
          return response;
        }
        waitMs = retryAfterMs(response.retryAfter);
        failure = new TransportError(
          response.status === 429 ? 'SCIM_THROTTLED' : 'SCIM_SERVER_ERROR',
          `${method} ${path}: HTTP ${response.status}${scimDetail(response.body)}`,
          true,
          false,
          response.status,
        );
        if (options.retry === 'once' && (response.status === 502 || response.status === 504)) {
          // A gateway gave up waiting: the server behind it may still have made the object.
          this.stats.failures++;
          throw new TransportError(failure.code, failure.message, true, true, response.status);
        }
        if (waitMs !== undefined && waitMs > this.settings.maxRetryAfter * 1000) {
          this.stats.failures++;
          throw new TransportError(failure.code, `${failure.message} (Retry-After ${Math.round(waitMs / 1000)} s: left for a later run)`, true, false, response.status);
        }
      } catch (err) {
        if (err instanceof TransportError) throw err;
        if (err instanceof ConnectorError) {
          this.stats.failures++;
          throw new TransportError(err.code, err.message, err.retryable, false);
        }
        failure = networkFailure(method, path, err);
        if (CONNECT_ERRORS.has(failure.code)) {
          this.stats.connectionFailures++;
        } else if (options.retry === 'once') {
          this.stats.failures++;
          throw failure;
        }
      }
      if (attempt >= this.settings.maxAttempts || options.signal?.aborted) {
        this.stats.failures++;
        if (CONNECT_ERRORS.has(failure.code)) this.consecutiveConnectFailures++;
        throw failure;
      }
      this.stats.retries++;
      await sleep(waitMs ?? backoffMs(attempt), options.signal);
    }
  }

  private async once(method: string, path: string, options: RequestOptions): Promise<ScimResponse & { retryAfter?: string }> {
    await this.limiter?.take(options.signal);
    await this.slots.acquire();
    try {
      this.stats.requests++;
      if (method !== 'GET') this.stats.writes++;
      const headers: Record<string, string> = {
        accept: 'application/scim+json, application/json',
        ...options.headers,
      };
      const authorization = await this.auth.header();
      if (authorization) headers.authorization = authorization;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/scim+json';
      }
      const res = await this.pool.request({
        method: method as 'GET',
        path: path.startsWith('/') ? this.basePath + path : path,
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
          // redacted before it is cut: a credential cut in half would no longer be recognised
          parsed = { detail: redact(text).slice(0, 200) };
        }
      }
      const header = (name: string) => {
        const v = res.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const etag = header('etag');
      const location = header('location');
      const retryAfter = header('retry-after');
      return {
        status: res.statusCode,
        body: parsed,
        ...(etag ? { etag } : {}),
        ...(location ? { location } : {}),
        ...(retryAfter ? { retryAfter } : {}),
      };
    } finally {
      this.slots.release();
    }
  }
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status === 500 || status === 502 || status === 503 || status === 504;
}

function networkFailure(method: string, path: string, err: unknown): TransportError {
  const e = err as { code?: string; cause?: { code?: string }; message?: string; name?: string };
  const code = e.cause?.code ?? e.code ?? 'UNKNOWN';
  if (e.name === 'AbortError') return new TransportError('SCIM_ABORTED', `${method} ${path}: aborted`, true, true);
  const connect = CONNECT_ERRORS.has(code);
  const timeout = TIMEOUT_ERRORS.has(code);
  const what = connect ? 'cannot connect' : timeout ? 'timed out' : 'connection failed';
  // Refused connections never carried the request; anything later may have been applied.
  return new TransportError(connect ? code : timeout ? 'SCIM_TIMEOUT' : 'SCIM_CONNECTION_LOST', `${method} ${path}: ${what} (${code})`, true, !connect);
}

/** The SCIM error's detail (RFC 7644 section 3.12), for messages. */
export function scimDetail(body: unknown): string {
  const error = readErrorResponse(body);
  if (!error) return '';
  // redacted before it is cut: a credential cut in half would no longer be recognised
  const parts = [error.scimTypeText ?? '', error.detail === undefined ? '' : redact(error.detail).slice(0, 300)].filter(Boolean);
  return `: ${parts.join(': ')}`;
}

function tlsOptions(settings: ScimSettings, configDir: string, warn: (msg: string) => void): Record<string, unknown> {
  const tls = settings.tls;
  if (!tls) return {};
  if (!tls.rejectUnauthorized) warn('tls.rejectUnauthorized is false: the server certificate is not checked');
  const read = (file: string) => readFileSync(resolve(configDir, file));
  return {
    ...(tls.ca ? { ca: read(tls.ca) } : {}),
    ...(tls.cert ? { cert: read(tls.cert) } : {}),
    ...(tls.key ? { key: read(tls.key) } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

// ---- authentication ----------------------------------------------------------------------------------------

class Authenticator {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;
  private readonly agent: Agent | null;

  constructor(
    private readonly settings: ScimSettings,
    connect: Record<string, unknown>,
    private readonly connector: string,
  ) {
    this.agent = settings.auth.type === 'oauth2' ? new Agent({ connect }) : null;
    registerSentCredentials(settings.auth);
  }

  get canRefresh(): boolean {
    return this.settings.auth.type === 'oauth2';
  }

  invalidate(): void {
    this.token = null;
  }

  async close(): Promise<void> {
    await this.agent?.close().catch(() => {});
  }

  async header(): Promise<string | undefined> {
    const auth = this.settings.auth;
    switch (auth.type) {
      case 'none':
        return undefined;
      case 'bearer':
        return `Bearer ${auth.token}`;
      case 'basic':
        return `Basic ${basicCredentials(auth.username, auth.password)}`;
      case 'oauth2': {
        if (this.token && this.token.expiresAt > Date.now()) return `Bearer ${this.token.value}`;
        // One token request for all the requests waiting for it.
        this.pending ??= this.fetchToken().finally(() => (this.pending = null));
        return `Bearer ${await this.pending}`;
      }
    }
  }

  private async fetchToken(): Promise<string> {
    const auth = this.settings.auth;
    if (auth.type !== 'oauth2') throw new Error('unreachable');
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    if (auth.audience) form.set('audience', auth.audience);
    if (auth.resource) form.set('resource', auth.resource);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (auth.clientAuth === 'basic') {
      headers.authorization = `Basic ${clientCredentials(auth.clientId, auth.clientSecret)}`;
    } else {
      form.set('client_id', auth.clientId);
      form.set('client_secret', auth.clientSecret);
    }
    let status: number;
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    try {
      const res = await undiciRequest(auth.tokenUrl, {
        method: 'POST',
        headers,
        body: form.toString(),
        dispatcher: this.agent!,
        headersTimeout: this.settings.timeout * 1000,
        bodyTimeout: this.settings.timeout * 1000,
      });
      status = res.statusCode;
      body = (await res.body.json().catch(() => ({}))) as typeof body;
    } catch (err) {
      throw new ConnectorError('SCIM_TOKEN_UNREACHABLE', `the token endpoint ${new URL(auth.tokenUrl).origin} cannot be reached: ${(err as Error).message}`, { connector: this.connector }, true, { cause: err });
    }
    if (status !== 200 || typeof body.access_token !== 'string') {
      const why = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` : `HTTP ${status}`;
      throw new ConnectorError('SCIM_TOKEN_REFUSED', `the token endpoint refused the client credentials (${why})`, { connector: this.connector }, status >= 500, { remoteCode: status });
    }
    registerSecret(body.access_token);
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600) || 3600;
    // Renew a minute early (or at half-life for short tokens), so a request never leaves with a token about to expire.
    this.token = { value: body.access_token, expiresAt: Date.now() + Math.max(lifetime * 500, (lifetime - 60) * 1000) };
    return body.access_token;
  }
}

/** HTTP Basic's credentials (RFC 7617): base64 of user:password. */
function basicCredentials(user: string, password: string): string {
  return Buffer.from(`${user}:${password}`).toString('base64');
}

/** OAuth 2's client credentials in a Basic header: each part form-encoded first (RFC 6749 §2.3.1). */
function clientCredentials(id: string, secret: string): string {
  return basicCredentials(encodeURIComponent(id), encodeURIComponent(secret));
}

/**
 * Every form in which the connector sends a credential, registered for redaction: a target that echoes the
 * Authorization header (or the token request's form) in an error body must not get the base64 of
 * user:password into state, status or log any more than the password itself. The plain values are registered
 * too: only `${env:}` and `${file:}` references are registered when the config is read, and a password may be
 * written into the config as it is.
 */
function registerSentCredentials(auth: ScimSettings['auth']): void {
  switch (auth.type) {
    case 'none':
      return;
    case 'bearer':
      registerSecret(auth.token);
      return;
    case 'basic':
      registerSecret(auth.password);
      registerSecret(basicCredentials(auth.username, auth.password));
      return;
    case 'oauth2':
      registerSecret(auth.clientSecret);
      // as sent in the token request's form body (client_secret=…) or in its Basic header
      registerSecret(new URLSearchParams({ s: auth.clientSecret }).toString().slice('s='.length));
      registerSecret(encodeURIComponent(auth.clientSecret));
      registerSecret(clientCredentials(auth.clientId, auth.clientSecret));
      return;
  }
}
