/**
 * The credential of one agent connection: a short-lived JWT the agent signs with its private key for each
 * connection it opens (sent as `Authorization: Bearer` on the WebSocket's HTTP Upgrade request), checked by
 * the service against the public key it recorded at registration. `jti` is unique per connection and `iat`
 * within MAX_SKEW_SECONDS of the service's clock, so a captured credential is refused when replayed (the
 * service remembers the ids it accepted for as long as they could be valid). No I/O.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { decodeJwt, errors, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { IdsyncError } from '../../core/errors.js';
import { MAX_SKEW_SECONDS } from '../registration.js';

export const CONNECT_TYPE = 'idsync-agent-connect+jwt';
export const CONNECT_AUDIENCE = 'idsync-agent-channel';
/** the path of the channel on the service's HTTP(S) port */
export const CHANNEL_PATH = '/agent/v1/channel';
/** how long a connection credential is valid after it is issued (plus the clock skew allowed) */
export const CONNECT_TTL_SECONDS = 60;

export async function signConnect(privateKey: KeyObject, agentId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: CONNECT_TYPE })
    .setSubject(agentId)
    .setAudience(CONNECT_AUDIENCE)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${CONNECT_TTL_SECONDS}s`)
    .sign(privateKey);
}

/** The agent id the credential claims, unverified: only to find the key to verify it with. */
export function claimedAgent(jwt: string): string {
  try {
    const sub = decodeJwt(jwt).sub;
    if (typeof sub === 'string' && sub.length > 0 && sub.length <= 128) return sub;
  } catch {
    // below
  }
  throw new IdsyncError('AGENT_PROOF_INVALID', 'the connection credential is not a signed JWT naming an agent');
}

export interface VerifiedConnect {
  agentId: string;
  jti: string;
  /** seconds since the epoch until which the credential could be valid: remember its jti until then */
  validUntil: number;
}

/** Checks the signature against the agent's recorded key, the type, audience, iat/exp and jti; throws a coded error. */
export async function verifyConnect(jwt: string, publicKey: JWK, now = new Date()): Promise<VerifiedConnect> {
  try {
    const key = await importJWK(publicKey, 'EdDSA');
    const { payload } = await jwtVerify(jwt, key, {
      typ: CONNECT_TYPE,
      audience: CONNECT_AUDIENCE,
      algorithms: ['EdDSA', 'Ed25519'],
      maxTokenAge: `${MAX_SKEW_SECONDS}s`,
      clockTolerance: MAX_SKEW_SECONDS,
      currentDate: now,
      requiredClaims: ['iat', 'exp', 'jti', 'sub'],
    });
    return {
      agentId: payload.sub!,
      jti: payload.jti!,
      validUntil: Math.max(payload.exp!, payload.iat!) + MAX_SKEW_SECONDS,
    };
  } catch (err) {
    if (err instanceof errors.JWTExpired || (err instanceof errors.JWTClaimValidationFailed && err.claim === 'iat')) {
      throw new IdsyncError(
        'AGENT_CLOCK_SKEW',
        `the connection credential was signed more than ${MAX_SKEW_SECONDS} s from the service's time (${now.toISOString()}): check the agent's clock (NTP)`,
      );
    }
    throw new IdsyncError('AGENT_PROOF_INVALID', "the connection credential is not signed by the agent's registered key");
  }
}
