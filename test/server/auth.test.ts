/**
 * Authentication and its neighbours over real HTTP: stored bearer tokens (401 with a challenge, revocation,
 * endpoint limits → 403), JWTs checked against a JWKS served on loopback (issuer, audience, expiry, scope),
 * per-token rate limits (429 + Retry-After), HTTPS, and logs that never hold a token or a password.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/store/tokens.js';
import { send, startTestServer, type TestServer, user } from '../helpers/scim-server.js';

describe('bearer tokens', () => {
  let t: TestServer;
  const logs: string[] = [];
  beforeAll(async () => {
    t = await startTestServer({
      config: `
connectors:
  directory: { type: builtin }
  other: { type: builtin, path: other.db }
serve:
  port: 0
  scim:
    - { path: /scim/v2, connector: directory }
    - { path: /other/v2, connector: other }
`,
      logStream: new Writable({
        write(chunk, _enc, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers a missing, malformed or unknown token with 401 and a Bearer challenge', async () => {
    for (const headers of [
      {},
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer idsync_not-a-real-token' },
    ] as Record<string, string>[]) {
      const res = await fetch(`${t.base}/Users`, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="idsync"/);
      const body = (await res.json()) as { status: string };
      expect(body.status).toBe('401');
    }
    expect((await t.request('GET', '/Users')).status).toBe(200);
  });

  it('stops accepting a revoked token', async () => {
    const store = await TokenStore.open(t.config);
    const token = await store.create('short-lived');
    expect((await send(t.base, token, 'GET', '/Users')).status).toBe(200);
    expect((await store.list()).map((r) => r.name)).toEqual(['short-lived', 'test']);
    expect(await store.revoke('short-lived')).toBe(true);
    await store.close();
    // revocation reaches the server within its 2-second cache
    await new Promise((r) => setTimeout(r, 2100));
    expect((await send(t.base, token, 'GET', '/Users')).status).toBe(401);
  });

  it('answers 403 when a token limited to one endpoint calls another', async () => {
    const store = await TokenStore.open(t.config);
    const token = await store.create('other-only', ['/other/v2']);
    await store.close();
    const base = t.base.replace('/scim/v2', '');
    expect((await send(`${base}/other/v2`, token, 'GET', '/Users')).status).toBe(200);
    const refused = await send(t.base, token, 'GET', '/Users');
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('/scim/v2');
  });

  it('keeps tokens and passwords out of the log', async () => {
    await t.request('POST', '/Users', user('logged@example.com', { password: 'Sup3r-Secret-Pass' }));
    await send(t.base, 'idsync_wrong-token-value', 'GET', '/Users');
    const text = logs.join('');
    expect(text).toContain('/scim/v2/Users');
    expect(text).not.toContain(t.token);
    expect(text).not.toContain('idsync_wrong-token-value');
    expect(text).not.toContain('Sup3r-Secret-Pass');
  });

  it('never logs a credential sent in the query string, refused or not', async () => {
    const before = logs.length;
    const inQuery = await send(t.base, undefined, 'GET', `/Users?access_token=${t.token}&count=1`);
    expect(inQuery.status).toBe(401);
    await send(t.base, t.token, 'GET', '/Users?count=1&client_secret=Cl13nt-S3cret-Value&api_key=K3y-Value-1234');
    const text = logs.slice(before).join('');
    expect(text).toContain('access_token=[redacted]');
    expect(text).toContain('count=1');
    for (const secret of [t.token, t.token.slice('idsync_'.length), 'Cl13nt-S3cret-Value', 'K3y-Value-1234'])
      expect(text).not.toContain(secret);
  });

  it('asks for authentication before saying whether a path under the endpoint exists', async () => {
    for (const path of ['/Widgets', '/Users/x/y', '/Bulk/x', '/.well-known/secret']) {
      const anonymous = await send(t.base, undefined, 'GET', path);
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.headers.get('www-authenticate'), path).toMatch(/^Bearer realm="idsync"/);
      expect((await send(t.base, 'idsync_not-a-real-token', 'DELETE', path)).status, path).toBe(401);
      const known = await t.request('GET', path);
      expect(known.status, path).toBe(404);
      expect(known.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    }
    // outside every endpoint there is nothing to protect: 404 as before
    expect((await send(t.base.replace('/scim/v2', ''), undefined, 'GET', '/nothing-here')).status).toBe(404);
  });

  it('stores only a hash of each token', async () => {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(t.config.stateDir, 'tokens.db'), { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
    db.close();
    expect(dump).not.toContain(t.token.slice('idsync_'.length));
  });
});

describe('JWT access tokens', () => {
  let t: TestServer;
  let jwks: Server;
  let sign: (claims: Record<string, unknown>, expires?: string) => Promise<string>;
  let foreign: (claims: Record<string, unknown>) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const port = (jwks.address() as AddressInfo).port;
    const token = (key: Parameters<SignJWT['sign']>[0], claims: Record<string, unknown>, expires = '5m') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer('https://idp.example.test/')
        .setAudience('idsync-scim')
        .setSubject('entra-provisioning')
        .setIssuedAt()
        .setExpirationTime(expires)
        .sign(key);
    sign = (claims, expires) => token(privateKey, claims, expires);
    foreign = (claims) => token(other.privateKey, claims);
    t = await startTestServer({
      config: `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  auth:
    jwt: { issuer: "https://idp.example.test/", audience: idsync-scim, jwksUrl: "http://127.0.0.1:${port}/keys" }
  scim:
    - { path: /scim/v2, scope: scim.write }
`,
    });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((r) => jwks.close(r));
  });

  it('accepts a token from the identity provider with the scope', async () => {
    const r = await send(t.base, await sign({ scp: 'scim.read scim.write' }), 'GET', '/Users');
    expect(r.status).toBe(200);
    const roles = await send(t.base, await sign({ roles: ['scim.write'] }), 'GET', '/Users');
    expect(roles.status).toBe(200);
  });

  it('refuses a wrong audience or issuer, a foreign signature and an expired token with 401', async () => {
    const wrongAudience = await new SignJWT({ scp: 'scim.write' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('x')
      .sign(new TextEncoder().encode('a-symmetric-key-of-enough-length!!'));
    for (const token of [
      wrongAudience,
      await foreign({ scp: 'scim.write' }),
      await sign({ scp: 'scim.write' }, '-1m'),
    ]) {
      const r = await send(t.base, token, 'GET', '/Users');
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('invalid_token');
    }
  });

  it('answers 403 insufficient_scope without the endpoint scope', async () => {
    const r = await send(t.base, await sign({ scp: 'scim.read' }), 'GET', '/Users');
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toContain('insufficient_scope');
  });

  it('still accepts stored tokens beside JWTs', async () => {
    expect((await t.request('GET', '/Users')).status).toBe(200);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After once a token exceeds its rate, and serves other tokens', async () => {
    const t = await startTestServer({
      config: `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  rateLimit: { perSecond: 2, burst: 3 }
`,
    });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await t.request('GET', '/Users')).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses).toContain(429);
      const limited = await t.request('GET', '/Users');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const store = await TokenStore.open(t.config);
      const other = await store.create('other');
      await store.close();
      expect((await send(t.base, other, 'GET', '/Users')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('HTTPS', () => {
  it('serves SCIM over TLS with the configured certificate', async () => {
    const files: Record<string, string> = {};
    const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const { readFileSync } = await import('node:fs');
    files['cert.pem'] = readFileSync(join(dir, 'cert.pem'), 'utf8');
    files['key.pem'] = readFileSync(join(dir, 'key.pem'), 'utf8');
    const t = await startTestServer({
      files,
      config: `
connectors:
  directory: { type: builtin }
serve:
  port: 0
  tls: { cert: cert.pem, key: key.pem }
`,
    });
    try {
      expect(t.base).toMatch(/^https:\/\//);
      const dispatcher = new Agent({ connect: { ca: files['cert.pem'] } });
      const res = await fetch(`${t.base}/ServiceProviderConfig`, {
        headers: { authorization: `Bearer ${t.token}` },
        dispatcher,
      } as unknown as RequestInit);
      expect(res.status).toBe(200);
      const created = await fetch(`${t.base}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(user('tls@example.com')),
        dispatcher,
      } as unknown as RequestInit);
      expect(created.status).toBe(201);
      expect(((await created.json()) as { meta: { location: string } }).meta.location).toMatch(/^https:\/\//);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
