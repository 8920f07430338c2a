/**
 * Authentication and TLS over real loopback servers: bearer, basic, OAuth 2 client credentials (token cached,
 * fetched again on a 401), https with a private CA and a client certificate. Secrets never in messages.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import { redact } from '../../../src/core/redact.js';
import { TestScimServer } from './server.js';
import { exportOne, scimConnector } from './support.js';

let server: TestScimServer;
let connector: ScimConnector | undefined;
let tokenServer: Server | undefined;
afterEach(async () => {
  await connector?.close();
  connector = undefined;
  await server?.stop();
  await new Promise<void>((r) => (tokenServer ? tokenServer.close(() => r()) : r()));
  tokenServer = undefined;
});

const create = (c: ScimConnector, n: string) => exportOne(c, { op: 'create', id: n, objectType: 'user', attributes: { userName: [`${n}@example.com`] } });

describe('bearer and basic', () => {
  it('sends the bearer token; a wrong one is refused with no token in the message', async () => {
    server = new TestScimServer({ token: 'right-token-abcdef' });
    await server.start();
    connector = scimConnector(server.url, { auth: { type: 'bearer', token: 'right-token-abcdef' } });
    expect((await create(connector, 'a')).ok).toBe(true);
    await connector.close();
    connector = scimConnector(server.url, { auth: { type: 'bearer', token: 'wrong-token-123456' } });
    await expect(connector.test()).rejects.toMatchObject({ code: 'SCIM_UNAUTHORIZED' });
    const r = await create(connector, 'b').catch((e: Error) => e);
    expect(JSON.stringify(r, Object.getOwnPropertyNames(r))).not.toContain('wrong-token-123456');
  });

  it('sends HTTP Basic credentials', async () => {
    const expected = `Basic ${Buffer.from('svc:pa55:word').toString('base64')}`;
    server = new TestScimServer({ token: expected });
    await server.start();
    connector = scimConnector(server.url, { auth: { type: 'basic', username: 'svc', password: 'pa55:word' } });
    expect((await create(connector, 'a')).ok).toBe(true);
  });
});

describe('OAuth 2 client credentials', () => {
  async function startTokenServer(): Promise<{ url: string; requests: { auth?: string; body: string }[] }> {
    const requests: { auth?: string; body: string }[] = [];
    tokenServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        requests.push({ ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), body });
        const form = new URLSearchParams(body);
        const basic = req.headers.authorization === `Basic ${Buffer.from('client-1:s3cret-value').toString('base64')}`;
        const posted = form.get('client_id') === 'client-1' && form.get('client_secret') === 's3cret-value';
        if (form.get('grant_type') !== 'client_credentials' || !(basic || posted)) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'invalid_client', error_description: 'bad client credentials' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `issued-token-${requests.length}`, token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((r) => tokenServer!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(tokenServer!.address() as AddressInfo).port}/token`, requests };
  }

  it('fetches a token once, reuses it, and fetches a new one after a 401', async () => {
    const token = await startTokenServer();
    server = new TestScimServer({ token: 'issued-token-1' });
    await server.start();
    connector = scimConnector(server.url, { auth: { type: 'oauth2', tokenUrl: token.url, clientId: 'client-1', clientSecret: 's3cret-value', scope: 'scim' } });
    for (const n of ['a', 'b', 'c']) expect((await create(connector, n)).ok).toBe(true);
    expect(token.requests).toHaveLength(1);
    expect(new URLSearchParams(token.requests[0]!.body).get('scope')).toBe('scim');
    expect(token.requests[0]!.auth).toMatch(/^Basic /);
    // the token is revoked: the server now wants the next one
    server.options.token = 'issued-token-2';
    expect((await create(connector, 'd')).ok).toBe(true);
    expect(token.requests).toHaveLength(2);
    expect(server.users.size).toBe(4);
    // issued tokens are registered as secrets
    expect(redact('echo issued-token-2')).toBe('echo [redacted]');
  });

  it('refused client credentials are a clear error without the secret', async () => {
    const token = await startTokenServer();
    server = new TestScimServer({ token: 'x' });
    await server.start();
    connector = scimConnector(server.url, { auth: { type: 'oauth2', tokenUrl: token.url, clientId: 'client-1', clientSecret: 'not-the-secret', clientAuth: 'post' } });
    const err = (await connector.test().catch((e) => e)) as Error & { code: string };
    expect(err.code).toBe('SCIM_TOKEN_REFUSED');
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain('not-the-secret');
  });
});

describe('TLS', () => {
  it('talks https to a server with a private CA, presenting a client certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idsync-scim-tls-'));
    try {
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca');
      writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
      for (const name of ['server', 'client']) {
        ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
        ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext.cnf');
      }
      const read = (f: string) => readFileSync(join(dir, f));
      server = new TestScimServer();
      await server.start(0, { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true });
      connector = scimConnector(server.url, { tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client.key') } });
      expect((await create(connector, 'a')).ok).toBe(true);
      await connector.close();
      // without the CA the server's certificate is not trusted
      connector = scimConnector(server.url, { maxAttempts: 1 });
      await expect(connector.test()).rejects.toMatchObject({ place: { connector: 'cloud' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
