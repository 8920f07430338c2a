/**
 * The portal's static serving (src/portal/serve.ts): the built files, index.html for client routes only,
 * security headers, a clear page when the build is missing, and SCIM, the agent route and unknown paths
 * answered as before (the portal shadows none of them).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPortal } from '../../src/portal/serve.js';
import { startTestServer, type TestServer } from '../helpers/scim-server.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-portal-serve-'));
  mkdirSync(join(dir, 'built', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'built', 'index.html'), '<!doctype html><title>idsync</title><div id="app"></div>');
  writeFileSync(join(dir, 'built', 'assets', 'index-abc123.js'), 'console.log("portal")');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function portalApp(root: string, reserved: string[] = []): Promise<FastifyInstance> {
  const app = Fastify();
  await registerPortal(app, { root, reserved });
  app.get('/scim/v2/Users', async () => ({ scim: true }));
  await app.ready();
  return app;
}

describe('the portal served at /', () => {
  it('serves index.html at / and at every client route, with a CSP that allows nothing from elsewhere', async () => {
    const app = await portalApp(join(dir, 'built'));
    try {
      for (const url of [
        '/',
        '/login',
        '/connectors/hr',
        '/log/42?object=Ada',
        '/objects/abc',
        '/holds',
        '/config',
      ]) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['content-type'], url).toMatch(/^text\/html/);
        expect(res.body, url).toContain('<div id="app">');
        expect(res.headers['cache-control'], url).toBe('no-cache');
        expect(res.headers['content-security-policy'], url).toContain("default-src 'self'");
        expect(res.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
        expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      }
      const asset = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['content-type']).toMatch(/javascript/);
      expect(asset.headers['cache-control']).toContain('immutable');
    } finally {
      await app.close();
    }
  });

  it('falls back to index.html for client routes only: other paths keep their own answers and 404s', async () => {
    const app = await portalApp(join(dir, 'built'), ['log']);
    try {
      expect((await app.inject({ method: 'GET', url: '/scim/v2/Users' })).json()).toEqual({ scim: true });
      for (const url of [
        '/api/v1/nothing',
        '/agent/v1/x',
        '/metrics',
        '/favicon.ico',
        '/assets/missing.js',
        '/log',
      ]) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(404);
        expect(res.body, url).not.toContain('<div id="app">');
      }
      // a write to a client route is not a page
      expect((await app.inject({ method: 'POST', url: '/connectors/hr' })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('says how to build the portal when its build is missing, instead of a blank page', async () => {
    const app = await portalApp(join(dir, 'nothing-here'));
    try {
      for (const url of ['/', '/connectors/hr']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.body).toContain('The idsync portal is not built');
        expect(res.body).toContain('npm run build');
      }
    } finally {
      await app.close();
    }
  });
});

describe('idsync serve with the portal', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('mounts the portal at / and leaves SCIM (authentication first, its own 404s) and /health as they were', async () => {
    const root = server.server.url;
    const page = await fetch(`${root}/`);
    expect([200, 503]).toContain(page.status); // 503: the test runs without a build of the portal
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/<div id="app">|The idsync portal is not built/);
    expect((await fetch(`${server.base}/Users`)).status).toBe(401);
    expect((await fetch(`${server.base}/NoSuchThing`)).status).toBe(401);
    expect((await server.request('GET', '/NoSuchThing')).status).toBe(404);
    expect((await server.request('GET', '/Users')).status).toBe(200);
    expect((await fetch(`${root}/health`)).status).toBe(200);
    const unknown = await fetch(`${root}/no-such-page`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/scim\+json|json/);
  });
});
