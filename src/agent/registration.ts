/**
 * The registration message, made on the agent and checked by the service, with no I/O. The agent signs a
 * short-lived JWT with the private key it just made, carrying the one-time token, and puts the public key in
 * the JWT's header: a valid signature proves the sender holds the private key of the key it asks the service
 * to record. The token is consumed by the registration, so a replayed message finds it used; `iat` within
 * MAX_SKEW of the service's clock bounds how long a captured message could be tried at all.
 */
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, errors, exportJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { IdsyncError } from '../core/errors.js';

export const REGISTRATION_TYPE = 'idsync-agent-registration+jwt';
export const REGISTRATION_AUDIENCE = 'idsync-agent-registration';
/** how far the agent's clock may be from the service's */
export const MAX_SKEW_SECONDS = 300;
/** the path on the service's HTTP(S) port */
export const REGISTER_PATH = '/agent/v1/register';

const claims = z.object({
  token: z.string().min(1),
  host: z.string().max(255),
  version: z.string().min(1).max(64),
});

export const registerResponse = z.object({ id: z.string(), group: z.string(), thumbprint: z.string() });
export type RegisterResponse = z.infer<typeof registerResponse>;

export async function signRegistration(
  privateKey: KeyObject,
  publicKey: KeyObject,
  body: z.infer<typeof claims>,
): Promise<string> {
  const jwk = await exportJWK(publicKey);
  return new SignJWT(body)
    .setProtectedHeader({ alg: 'EdDSA', typ: REGISTRATION_TYPE, jwk })
    .setAudience(REGISTRATION_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${MAX_SKEW_SECONDS}s`)
    .sign(privateKey);
}

export interface VerifiedRegistration {
  token: string;
  host: string;
  version: string;
  publicKey: JWK;
  thumbprint: string;
}

/** Checks the signature against the key in the header, the type, audience and time; throws a coded error. */
export async function verifyRegistration(jwt: string, now = new Date()): Promise<VerifiedRegistration> {
  try {
    const { payload, protectedHeader } = await jwtVerify(jwt, EmbeddedJWK, {
      typ: REGISTRATION_TYPE,
      audience: REGISTRATION_AUDIENCE,
      algorithms: ['EdDSA', 'Ed25519'],
      maxTokenAge: `${MAX_SKEW_SECONDS}s`,
      clockTolerance: MAX_SKEW_SECONDS,
      currentDate: now,
      requiredClaims: ['iat', 'exp'],
    });
    const body = claims.safeParse(payload);
    if (!body.success) throw new IdsyncError('AGENT_PROOF_INVALID', 'the registration does not carry a token, host and version');
    const jwk = protectedHeader.jwk!;
    const publicKey: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JWK;
    return { ...body.data, publicKey, thumbprint: await calculateJwkThumbprint(publicKey) };
  } catch (err) {
    if (err instanceof IdsyncError) throw err;
    if (err instanceof errors.JWTExpired || (err instanceof errors.JWTClaimValidationFailed && err.claim === 'iat')) {
      throw new IdsyncError(
        'AGENT_CLOCK_SKEW',
        `the registration was signed more than ${MAX_SKEW_SECONDS} s from the service's time (${now.toISOString()}): check the agent's clock`,
      );
    }
    throw new IdsyncError('AGENT_PROOF_INVALID', 'the registration is not signed by the key it presents, or is not a registration');
  }
}
