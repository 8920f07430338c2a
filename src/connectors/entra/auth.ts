/**
 * OAuth 2.0 client credentials against the Microsoft identity platform, for app-only Graph calls.
 *
 * - With a client secret: client_id + client_secret in the form body.
 *   https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
 * - With a certificate: a client-assertion JWT (RS256, header x5t / x5t#S256 = the certificate's thumbprints,
 *   claims aud = the token endpoint, iss = sub = client id, jti, nbf, exp), signed with jose.
 *   https://learn.microsoft.com/entra/identity-platform/certificate-credentials
 *
 * Tokens are cached until a minute before they expire and fetched once for all the requests waiting; a 401
 * from Graph drops the cached token (the transport asks for a new one). The secret, the assertion and the
 * token are registered for redaction, so an echo in an error body never reaches a log.
 */
import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { type Dispatcher, request as undiciRequest } from 'undici';
import { ConnectorError } from '../../core/errors.js';
import { redact, registerSecret } from '../../core/redact.js';
import type { EntraErrorCode } from './errors.js';
import { type EntraSettings, endpoints } from './settings.js';

interface Signer {
  assertion(audience: string): Promise<string>;
}

export class TokenSource {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;
  private signer: Signer | null = null;
  private readonly tokenUrl: string;
  private readonly scope: string;
  /** token requests made (for tests and the stats detail) */
  requests = 0;

  constructor(
    private readonly connector: string,
    private readonly settings: EntraSettings,
    private readonly configDir: string,
    private readonly dispatcher: Dispatcher,
  ) {
    const e = endpoints(settings);
    this.tokenUrl = e.tokenUrl;
    this.scope = e.scope;
    if (settings.clientSecret) {
      registerSecret(settings.clientSecret);
      registerSecret(encodeURIComponent(settings.clientSecret));
      registerSecret(new URLSearchParams({ s: settings.clientSecret }).toString().slice(2));
    }
  }

  invalidate(): void {
    this.token = null;
  }

  async header(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return `Bearer ${this.token.value}`;
    this.pending ??= this.fetch().finally(() => (this.pending = null));
    return `Bearer ${await this.pending}`;
  }

  private fail(code: EntraErrorCode, message: string, retryable: boolean, extra: { cause?: unknown; remoteCode?: number } = {}): ConnectorError {
    return new ConnectorError(code, redact(message), { connector: this.connector }, retryable, { ...extra, connection: true });
  }

  private async fetch(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.settings.clientId, scope: this.scope });
    if (this.settings.clientSecret) {
      form.set('client_secret', this.settings.clientSecret);
    } else {
      if (!this.signer) this.signer = this.loadSigner();
      const assertion = await this.signer.assertion(this.tokenUrl);
      registerSecret(assertion);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', assertion);
    }
    let status: number;
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown; error_codes?: unknown };
    this.requests++;
    try {
      const res = await undiciRequest(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        dispatcher: this.dispatcher,
        headersTimeout: this.settings.timeout * 1000,
        bodyTimeout: this.settings.timeout * 1000,
      });
      status = res.statusCode;
      body = (await res.body.json().catch(() => ({}))) as typeof body;
    } catch (err) {
      throw this.fail('ENTRA_TOKEN_UNREACHABLE', `the token endpoint ${new URL(this.tokenUrl).origin} cannot be reached: ${(err as Error).message}`, true, { cause: err });
    }
    if (status !== 200 || typeof body.access_token !== 'string') {
      // AADSTS errors: error (invalid_client, unauthorized_client ...) and error_description (AADSTS7000215: Invalid client secret ...)
      const description = typeof body.error_description === 'string' ? `: ${body.error_description.split(/\r?\n/)[0]!.slice(0, 300)}` : '';
      const why = typeof body.error === 'string' ? `${body.error}${description}` : `HTTP ${status}`;
      throw this.fail('ENTRA_TOKEN_REFUSED', `the token endpoint refused the ${this.settings.clientSecret ? 'client secret' : 'certificate'} of app ${this.settings.clientId} in tenant ${this.settings.tenantId} (${why})`, status >= 500 || status === 429, { remoteCode: status });
    }
    registerSecret(body.access_token);
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3599) || 3599;
    // renewed a minute early (or at half-life for short tokens), so no request leaves with a token about to expire
    this.token = { value: body.access_token, expiresAt: Date.now() + Math.max(lifetime * 500, (lifetime - 60) * 1000) };
    return body.access_token;
  }

  private loadSigner(): Signer {
    const cert = this.settings.certificate!;
    let keyPem: string;
    let x5t: string;
    let x5tS256: string;
    try {
      const certPem = readFileSync(resolve(this.configDir, cert.cert), 'utf8');
      const der = new X509Certificate(certPem).raw;
      x5t = createHash('sha1').update(der).digest('base64url');
      x5tS256 = createHash('sha256').update(der).digest('base64url');
      const keyObject = createPrivateKey({ key: readFileSync(resolve(this.configDir, cert.key)), ...(cert.passphrase ? { passphrase: cert.passphrase } : {}) });
      keyPem = keyObject.export({ type: 'pkcs8', format: 'pem' }).toString();
    } catch (err) {
      throw new ConnectorError('ENTRA_CERTIFICATE_INVALID', `the certificate credential cannot be read (${cert.cert}, ${cert.key}): ${(err as Error).message}`, { connector: this.connector }, false, { cause: err, connection: true });
    }
    const key = importPKCS8(keyPem, 'RS256');
    const clientId = this.settings.clientId;
    return {
      async assertion(audience: string): Promise<string> {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({})
          .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t, 'x5t#S256': x5tS256 })
          .setAudience(audience)
          .setIssuer(clientId)
          .setSubject(clientId)
          .setJti(randomUUID())
          .setNotBefore(now)
          .setIssuedAt(now)
          .setExpirationTime(now + 600)
          .sign(await key);
      },
    };
  }
}
