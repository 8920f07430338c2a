/**
 * Authentication against the emulator's token endpoint: a certificate credential (client-assertion JWT
 * signed with jose, checked by the emulator against the registered certificate), national-cloud endpoints,
 * and no credential in any log line or error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints, entraSettingsSchema } from '../../../src/connectors/entra/settings.js';
import { GraphEmulator } from './emulator/graph.js';
import { entraConnector, type LogLine } from './support.js';

let dir: string;
let certPem: string;
let otherCertPem: string;

function selfSigned(name: string): string {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '2', '-subj', `/CN=${name}`], { stdio: 'ignore' });
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-entra-cert-'));
  certPem = selfSigned('idsync');
  otherCertPem = selfSigned('other');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('certificate credential', () => {
  it('signs a client assertion (RS256, x5t of the certificate, aud = token endpoint) that the token endpoint accepts', async () => {
    const emu = new GraphEmulator({ clients: { 'app-cert': { certPem } } });
    await emu.start();
    const log: LogLine[] = [];
    const c = entraConnector({ tenantId: emu.options.tenantId, clientId: 'app-cert', certificate: { key: 'idsync.key', cert: 'idsync.pem' }, authority: emu.url, graphUrl: emu.url }, log, dir);
    try {
      await c.test();
      expect(emu.counters.tokenRequests).toBe(1);
      const form = emu.tokenForms[0]!;
      expect(form.client_secret).toBeUndefined();
      expect(form.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(form.scope).toBe(`${emu.url}/.default`);
      const header = decodeProtectedHeader(form.client_assertion!);
      const claims = decodeJwt(form.client_assertion!);
      expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', x5t: expect.any(String), 'x5t#S256': expect.any(String) });
      expect(claims).toMatchObject({ aud: `${emu.url}/${emu.options.tenantId}/oauth2/v2.0/token`, iss: 'app-cert', sub: 'app-cert', jti: expect.any(String) });
      expect(claims.exp! - claims.nbf!).toBeLessThanOrEqual(600);
      expect(JSON.stringify(log)).not.toContain(form.client_assertion!);
    } finally {
      await c.close();
      await emu.stop();
    }
  });

  it('an assertion signed with a key the app does not know is refused (AADSTS700027), as a connection error', async () => {
    const emu = new GraphEmulator({ clients: { 'app-cert': { certPem: otherCertPem } } });
    await emu.start();
    const c = entraConnector({ tenantId: emu.options.tenantId, clientId: 'app-cert', certificate: { key: 'idsync.key', cert: 'idsync.pem' }, authority: emu.url, graphUrl: emu.url }, [], dir);
    try {
      const err = await c.test().catch((e) => e);
      expect(err).toMatchObject({ code: 'ENTRA_TOKEN_REFUSED', connection: true });
      expect(String(err.message)).toContain('AADSTS700027');
    } finally {
      await c.close();
      await emu.stop();
    }
  });

  it('an unreadable key file is ENTRA_CERTIFICATE_INVALID, naming the files', async () => {
    const c = entraConnector({ tenantId: 't', clientId: 'a', certificate: { key: 'missing.key', cert: 'idsync.pem' }, authority: 'http://127.0.0.1:9', graphUrl: 'http://127.0.0.1:9' }, [], dir);
    try {
      const err = await c.test().catch((e) => e);
      expect(err).toMatchObject({ code: 'ENTRA_CERTIFICATE_INVALID' });
      expect(String(err.message)).toContain('missing.key');
    } finally {
      await c.close();
    }
  });
});

describe('settings', () => {
  const base = { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 's3cret-value' };

  it('national clouds: sign-in authority, Graph host and scope of each (learn.microsoft.com/graph/deployments)', () => {
    const e = (extra: Record<string, unknown>) => endpoints(entraSettingsSchema.parse({ ...base, ...extra }));
    expect(e({})).toMatchObject({ graphBase: 'https://graph.microsoft.com/v1.0', tokenUrl: `https://login.microsoftonline.com/${base.tenantId}/oauth2/v2.0/token`, scope: 'https://graph.microsoft.com/.default' });
    expect(e({ cloud: 'usgov' })).toMatchObject({ graphBase: 'https://graph.microsoft.us/v1.0', tokenUrl: `https://login.microsoftonline.us/${base.tenantId}/oauth2/v2.0/token`, scope: 'https://graph.microsoft.us/.default' });
    expect(e({ cloud: 'usgov-dod' })).toMatchObject({ graphBase: 'https://dod-graph.microsoft.us/v1.0' });
    expect(e({ cloud: 'china' })).toMatchObject({ graphBase: 'https://microsoftgraph.chinacloudapi.cn/v1.0', tokenUrl: `https://login.chinacloudapi.cn/${base.tenantId}/oauth2/v2.0/token` });
    expect(e({ authority: 'https://login.example.test/', graphUrl: 'https://graph.example.test' })).toMatchObject({ graphBase: 'https://graph.example.test/v1.0', tokenUrl: `https://login.example.test/${base.tenantId}/oauth2/v2.0/token` });
  });

  it('exactly one credential; extensions need their app id; limits of Graph are limits here', () => {
    const issues = (s: Record<string, unknown>) => entraSettingsSchema.safeParse(s).error?.issues.map((i) => i.message) ?? [];
    expect(issues({ tenantId: 't', clientId: 'c' })).toContain('give exactly one credential: clientSecret or certificate');
    expect(issues({ ...base, certificate: { key: 'k', cert: 'c' } })).toContain('give exactly one credential: clientSecret or certificate');
    expect(issues({ ...base, extensions: ['costCenter'] })).toContain('extensions need extensionAppId (the app that registered them)');
    expect(entraSettingsSchema.safeParse({ ...base, batchSize: 21 }).success).toBe(false);
    expect(entraSettingsSchema.safeParse({ ...base, memberBatchSize: 21 }).success).toBe(false);
    expect(entraSettingsSchema.parse({ ...base, extensionAppId: '0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0' }).extensionAppId).toBe('0f1e2d3c4b5a69788796a5b4c3d2e1f0');
  });
});
