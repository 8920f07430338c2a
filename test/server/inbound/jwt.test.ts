/**
 * Pushes authenticated by OAuth 2 access tokens (JWT), as an HR client registered in Entra gets them: the
 * token must carry the app role SynchronizationData-User.Upload (Entra's bulkUpload permission) unless the
 * connector's `scope` says otherwise; a wrong audience or key is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { type RunningServer, startServer } from '../../../src/server/serve.js';
import { bulk, inboundConfig, person, push } from '../../helpers/inbound.js';

let dir: string;
let server: RunningServer;
let sign: (claims: Record<string, unknown>, options?: { audience?: string; other?: boolean }) => Promise<string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-inbound-jwt-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  sign = (claims, options = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer('https://login.example.test/tenant/v2.0')
      .setAudience(options.audience ?? 'api://idsync')
      .setSubject('hr-client')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(options.other ? other.privateKey : privateKey);
  const config = inboundConfig('  hr-open: { type: api, scope: false }').replace(
    'serve:\n  port: 0\n',
    'serve:\n  port: 0\n  auth:\n    jwt: { issuer: "https://login.example.test/tenant/v2.0", audience: "api://idsync", jwksFile: jwks.json }\n',
  );
  writeFileSync(join(dir, 'idsync.yaml'), config);
  server = await startServer(loadConfig(join(dir, 'idsync.yaml')), { port: 0 });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const upload = (connector: string) => `${server.url}/api/v1/inbound/${connector}/bulkUpload`;

describe('OAuth 2 access tokens', () => {
  it("takes a token with Entra's SynchronizationData-User.Upload role", async () => {
    const r = await push(upload('hr'), await sign({ roles: ['SynchronizationData-User.Upload'] }), bulk([person(1)]));
    expect(r.status).toBe(202);
  });

  it('refuses a token without the role (403), and one for another audience or key (401)', async () => {
    const noRole = await push(upload('hr'), await sign({ roles: ['User.Read.All'] }), bulk([person(2)]));
    expect(noRole.status).toBe(403);
    expect(noRole.body).toMatchObject({ code: 'INBOUND_FORBIDDEN', message: expect.stringContaining('SynchronizationData-User.Upload') });
    expect(noRole.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect((await push(upload('hr'), await sign({ roles: ['SynchronizationData-User.Upload'] }, { audience: 'https://graph.microsoft.com' }), bulk([person(3)]))).status).toBe(401);
    expect((await push(upload('hr'), await sign({ roles: ['SynchronizationData-User.Upload'] }, { other: true }), bulk([person(4)]))).status).toBe(401);
  });

  it('scope: false takes any token the server accepts', async () => {
    expect((await push(upload('hr-open'), await sign({ scp: 'openid' }), bulk([person(5)]))).status).toBe(202);
  });
});
