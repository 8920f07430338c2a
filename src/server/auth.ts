/**
 * Who is calling: bearer tokens made with `idsync token create` (stored hashed), or OAuth 2 access tokens
 * (JWT) from an identity provider, checked against its issuer, audience and keys. Used as a fastify hook.
 *
 * Failures answer 401 with a WWW-Authenticate challenge (RFC 6750 §3); a valid token that may not use an
 * endpoint answers 403 (insufficient_scope). Nothing here logs or echoes a token.
 */

import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { IdsyncError } from '../core/errors.js';
import { TokenBucket } from '../core/token-bucket.js';
import { ScimError } from '../scim/errors.js';
import type { TokenStore } from '../store/tokens.js';

export interface JwtSettings {
  issuer: string;
  audience: string | string[];
  jwksUrl?: string | undefined;
  jwksFile?: string | undefined;
  algorithms?: string[] | undefined;
}

export interface Caller {
  /** the token's name, or the JWT's subject */
  name: string;
  /** endpoint paths a stored token is limited to (empty: all) */
  endpoints: string[];
  /** the JWT's scopes; undefined for stored tokens */
  scopes: string[] | undefined;
}

/** A 401 or 403 with its challenge. */
export class AuthError extends ScimError {
  constructor(
    status: 401 | 403,
    detail: string,
    readonly challenge: string,
  ) {
    super(status, undefined, detail);
  }
}

const REALM = 'realm="idsync"';
/** a verified token is not looked up again for this long; a revoked one stops working within it */
const CACHE_MS = 2_000;
const CACHE_MAX = 10_000;

export class Authenticator {
  private readonly cache = new Map<string, { caller: Caller; until: number }>();
  private readonly jwks:
    | ReturnType<typeof createRemoteJWKSet>
    | ReturnType<typeof createLocalJWKSet>
    | undefined;

  constructor(
    private readonly tokens: TokenStore | undefined,
    private readonly jwt: JwtSettings | undefined,
  ) {
    if (jwt?.jwksUrl) this.jwks = createRemoteJWKSet(new URL(jwt.jwksUrl));
    else if (jwt?.jwksFile) {
      let keys: unknown;
      try {
        keys = JSON.parse(readFileSync(jwt.jwksFile, 'utf8'));
      } catch (err) {
        throw new IdsyncError(
          'SERVE_JWKS_UNREADABLE',
          `cannot read the key set ${jwt.jwksFile}: ${(err as Error).message}`,
        );
      }
      this.jwks = createLocalJWKSet(keys as Parameters<typeof createLocalJWKSet>[0]);
    }
  }

  /** The caller of a request with this Authorization header; throws AuthError. */
  async authenticate(header: string | undefined): Promise<Caller> {
    if (!header)
      throw new AuthError(
        401,
        'authentication required: send Authorization: Bearer <token>',
        `Bearer ${REALM}`,
      );
    const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
    if (!match) throw invalidToken('the Authorization header must be "Bearer <token>"');
    const token = match[1]!;
    const cached = this.cache.get(token);
    if (cached && cached.until > Date.now()) return cached.caller;
    const caller = await this.verify(token);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    // a JWT is cached no longer than it is valid
    this.cache.set(token, { caller, until: Date.now() + CACHE_MS });
    return caller;
  }

  private async verify(token: string): Promise<Caller> {
    const looksLikeJwt = token.split('.').length === 3;
    if (this.jwks && this.jwt && looksLikeJwt) return this.verifyJwt(token);
    const record = await this.tokens?.verify(token);
    if (!record) throw invalidToken('the token is not valid (unknown or revoked)');
    return { name: record.name, endpoints: record.endpoints, scopes: undefined };
  }

  private async verifyJwt(token: string): Promise<Caller> {
    const jwt = this.jwt!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks!, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        ...(jwt.algorithms && { algorithms: jwt.algorithms }),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError)
        throw invalidToken(`the access token was refused: ${jwtReason(err)}`);
      throw invalidToken('the access token could not be checked');
    }
    return {
      name: String(payload.sub ?? payload.client_id ?? 'jwt'),
      endpoints: [],
      scopes: scopesOf(payload),
    };
  }

  /** 403 unless the caller may use the endpoint at `path` (needing `scope` when one is configured). */
  authorize(caller: Caller, path: string, scope: string | undefined): void {
    if (caller.endpoints.length > 0 && !caller.endpoints.includes(path)) {
      throw new AuthError(
        403,
        `token ${caller.name} may not use ${path}`,
        `Bearer ${REALM}, error="insufficient_scope"`,
      );
    }
    if (scope && caller.scopes && !caller.scopes.includes(scope)) {
      throw new AuthError(
        403,
        `the access token lacks the scope ${scope}`,
        `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`,
      );
    }
  }
}

function invalidToken(detail: string): AuthError {
  return new AuthError(401, detail, `Bearer ${REALM}, error="invalid_token"`);
}

function jwtReason(err: InstanceType<typeof joseErrors.JOSEError>): string {
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim ${(err as InstanceType<typeof joseErrors.JWTClaimValidationFailed>).claim} is not as required`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no matching key';
    default:
      return err.code;
  }
}

/** OAuth `scope` (space-separated), `scp` (Entra: string or list) and `roles` (Entra app roles). */
function scopesOf(payload: JWTPayload): string[] {
  const out: string[] = [];
  for (const claim of ['scope', 'scp', 'roles']) {
    const v = payload[claim];
    if (typeof v === 'string') out.push(...v.split(' ').filter(Boolean));
    else if (Array.isArray(v)) out.push(...v.filter((s): s is string => typeof s === 'string'));
  }
  return out;
}

/** Token buckets per caller: `perSecond` refill, `burst` capacity. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly burst: number;

  constructor(
    private readonly perSecond: number,
    burst?: number,
  ) {
    this.burst = burst ?? Math.max(1, Math.ceil(perSecond));
  }

  /** 0 when the request may go; otherwise the seconds to wait */
  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.perSecond, this.burst);
      this.buckets.set(key, bucket);
    }
    const waitMs = bucket.take();
    return waitMs === 0 ? 0 : Math.max(1, Math.ceil(waitMs / 1000));
  }
}
