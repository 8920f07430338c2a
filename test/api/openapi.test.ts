/**
 * The OpenAPI document: generated from the route list, committed as docs/openapi.json (stale: run
 * `npm run openapi`), served at /api/v1/openapi.json without authentication, and describing every route with
 * its role, parameters and error body.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/openapi.js';
import { ROUTES } from '../../src/api/routes.js';
import { type Harness, startHarness } from './harness.js';

describe('the OpenAPI document', () => {
  it('is what the code generates (run `npm run openapi` after changing a route)', () => {
    const shipped = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('describes every route once, with its role, path parameters and error answers', () => {
    const doc = openApiDocument() as any;
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([path, methods]: [string, any]) => Object.entries(methods).map(([m, op]: [string, any]) => ({ path, m, op })));
    expect(ops.map((o) => o.op.operationId).sort()).toEqual(Object.keys(ROUTES).sort());
    for (const { path, op } of ops) {
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        expect(op.parameters.some((p: any) => p.in === 'path' && p.name === name && p.required)).toBe(true);
      }
      if (op.security.length > 0) {
        expect(['reader', 'operator', 'admin']).toContain(op['x-idsync-role']);
        expect(op.responses['401'].content['application/json'].schema.$ref).toBe('#/components/schemas/Error');
        expect(op.responses['403']).toBeDefined();
      }
      expect(op.responses['400']).toBeDefined();
    }
    expect(doc.paths['/api/v1/session'].post.security).toEqual([]);
  });
});

describe('GET /api/v1/openapi.json', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  }, 60_000);
  afterAll(() => h?.stop());

  it('is served without authentication', async () => {
    const res = await h.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });
});
