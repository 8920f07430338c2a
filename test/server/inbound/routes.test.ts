/**
 * The HR push endpoint over real HTTP, in process with the engine running continuously (engine.serve): full
 * 50-operation pushes reach the built-in directory through the rules, malformed records fail alone naming
 * their operation and attribute, the Graph-shaped path works, results are read at the Location, and the
 * limits (operations, body size, rate per token, media type, auth) answer as documented.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Directory } from '../../../src/directory/index.js';
import { Engine } from '../../../src/engine/engine.js';
import { type RunningServer, startServer } from '../../../src/server/serve.js';
import { TokenStore } from '../../../src/store/tokens.js';
import { bulk, CONTOSO, ENTERPRISE, eventually, get, inboundConfig, person, push } from '../../helpers/inbound.js';

let dir: string;
let server: RunningServer;
let engine: Engine;
let token: string;
let limited: string;
let unlimited: string;
let other: string;
let directory: Directory;
const stop = new AbortController();
let serving: Promise<void>;

const url = (path: string) => `${server.url}${path}`;
const upload = (connector = 'hr') => url(`/api/v1/inbound/${connector}/bulkUpload`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-inbound-'));
  writeFileSync(join(dir, 'idsync.yaml'), inboundConfig('  hr2: { type: api, maxOperations: 2, maxPayloadSize: 5000 }\n  hr3: { type: api, rateLimit: { requests: 3, per: 1h } }'));
  const config = loadConfig(join(dir, 'idsync.yaml'));
  const tokens = await TokenStore.open(config);
  token = await tokens.create('hr-system', ['/api/v1/inbound/hr']);
  limited = await tokens.create('rate-test', ['/api/v1/inbound/hr3']);
  unlimited = await tokens.create('rate-test-2');
  other = await tokens.create('scim-only', ['/scim/v2']);
  await tokens.create('hr2', ['/api/v1/inbound/hr2']);
  await tokens.close();
  engine = await Engine.open(config);
  server = await startServer(config, { port: 0, engine });
  serving = engine.serve({ intervalMs: 3_600_000, signal: stop.signal, debounceMs: 20 }, () => void server.cycleDone());
  directory = new Directory(join(dir, '.idsync', 'directory.db'));
});

afterAll(async () => {
  stop.abort();
  await serving;
  directory.close();
  await server.close();
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

const userByExternalId = (id: string) => directory.findBy('externalId', id, 'user')[0];

describe('POST /api/v1/inbound/{connector}/bulkUpload', () => {
  it('takes 50 records, answers 202 with a Location, and every record reaches the built-in directory', async () => {
    const people = Array.from({ length: 50 }, (_, i) => person(i + 1));
    const started = performance.now();
    const r = await push(upload(), token, bulk(people));
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(r.body.location);
    expect(r.body.summary).toMatchObject({ created: 50, failed: 0 });
    // arrives through the engine's watch, not a schedule (the schedule is an hour)
    await eventually(() => (people.every((p) => userByExternalId(String(p.externalId))) ? true : undefined));
    const latency = performance.now() - started;
    console.log(`inbound: 50-record push to directory in ${latency.toFixed(0)} ms`);
    const u = userByExternalId('700007')!;
    expect(u.attributes).toMatchObject({
      userName: ['user7@example.com'],
      givenName: ['Given7'],
      familyName: ['Family7'],
      email: ['user7@example.com'],
      department: ['Dept 2'],
      jobCode: ['JC-7'],
      active: [true],
    });
    // manager.value names the manager's externalId, and arrives as a reference to that user
    expect(u.attributes.manager).toEqual([{ ref: userByExternalId('700001')!.id }]);

    const results = await eventually(async () => {
      const g = await get(r.headers.get('location')!, token);
      return g.body.status === 'completed' ? g : undefined;
    });
    expect(results.status).toBe(200);
    expect(results.body.operations).toHaveLength(50);
    const first = results.body.operations[0];
    expect(first).toMatchObject({ index: 0, bulkId: '700001', method: 'POST', anchor: '700001', status: 'created' });
    expect(first.sync.state).toBe('synced');
    expect(first.sync.exports).toEqual(expect.arrayContaining([expect.objectContaining({ connector: 'directory', status: 'success' })]));
  });

  it('a partial record updates only what it sends; the same record again is skipped, saying why', async () => {
    const update = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE], externalId: '700003', active: false, [ENTERPRISE]: { department: 'Tour Ops' } };
    const r = await push(upload(), token, bulk([update]));
    expect(r.status).toBe(202);
    expect(r.body.summary).toMatchObject({ updated: 1 });
    await eventually(() => (userByExternalId('700003')?.attributes.department?.[0] === 'Tour Ops' ? true : undefined));
    const u = userByExternalId('700003')!;
    expect(u.attributes).toMatchObject({ active: [false], userName: ['user3@example.com'], jobCode: ['JC-3'] });
    const again = await push(upload(), token, bulk([update]));
    expect(again.status).toBe(202);
    const results = await get(again.headers.get('location')!, token);
    expect(results.body.operations[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('no change') });
  });

  it('a malformed record fails alone, named by its bulkId and attribute; the others are taken', async () => {
    const good = person(60);
    const bad = person(61, { name: 'not an object', active: 'maybe' });
    const noAnchor = person(62);
    delete noAnchor.externalId;
    const body = bulk([good, bad, noAnchor]);
    (body.Operations as Record<string, unknown>[])[2]!.bulkId = 'no-anchor';
    const r = await push(upload(), token, body);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INBOUND_RECORDS_INVALID');
    expect(r.body.message).toContain('2 of 3 records are malformed');
    expect(r.body.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ bulkId: '700061', path: 'name', code: 'API_ATTRIBUTE_INVALID' }),
        expect.objectContaining({ bulkId: '700061', path: 'active', code: 'API_ATTRIBUTE_INVALID' }),
        expect.objectContaining({ bulkId: 'no-anchor', path: 'externalId', code: 'API_ANCHOR_MISSING' }),
      ]),
    );
    expect(r.body.issues.find((i: { path: string }) => i.path === 'active').message).toContain('bulkId 700061');
    expect(r.headers.get('location')).toBeTruthy();
    await eventually(() => userByExternalId('700060'));
    expect(userByExternalId('700061')).toBeUndefined();
    const results = await get(r.headers.get('location')!, token);
    expect(results.body.operations.map((o: { status: string }) => o.status)).toEqual(['created', 'failed', 'failed']);
  });

  it('an attribute no schema defines is accepted and not kept, listed in the results', async () => {
    const r = await push(upload(), token, bulk([person(70, { favouriteColour: 'teal', 'urn:example:unknown': { x: 1 } })]));
    expect(r.status).toBe(202);
    const results = await get(r.headers.get('location')!, token);
    expect(results.body.operations[0].ignored).toEqual(['favouriteColour', 'urn:example:unknown']);
  });

  it('the Graph-shaped path takes the same body (a client built for Entra changes only its base URL)', async () => {
    for (const prefix of ['', '/v1.0']) {
      const n = prefix === '' ? 80 : 81;
      const started = performance.now();
      const r = await push(url(`${prefix}/servicePrincipals/3a1c0e8d-0000-4000-8000-000000000000/synchronization/jobs/hr/bulkUpload`), token, bulk([person(n)]));
      expect(r.status).toBe(202);
      await eventually(() => userByExternalId(String(700000 + n)));
      console.log(`inbound: 1-record push to directory in ${(performance.now() - started).toFixed(0)} ms`);
    }
  });

  it('refuses what Entra refuses: no token, a token for another endpoint, a wrong media type, too many operations, too large a body', async () => {
    expect((await push(upload(), 'idsync_nope', bulk([person(90)]))).status).toBe(401);
    const noAuth = await fetch(upload(), { method: 'POST', body: '{}', headers: { 'content-type': 'application/scim+json' } });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers.get('www-authenticate')).toContain('Bearer');
    const forbidden = await push(upload(), other, bulk([person(90)]));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('INBOUND_FORBIDDEN');
    const text = await push(upload(), token, bulk([person(90)]), { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.body.message).toContain('application/scim+json');
    const tokens = TokenStore.file(join(dir, '.idsync', 'tokens.db'));
    const hr2 = await tokens.create('hr2-b', ['/api/v1/inbound/hr2']);
    await tokens.close();
    const many = await push(upload('hr2'), hr2, bulk([person(91), person(92), person(93)]));
    expect(many.status).toBe(413);
    expect(many.body).toMatchObject({ code: 'INBOUND_TOO_MANY_OPERATIONS', message: expect.stringContaining('at most 2') });
    const large = await push(upload('hr2'), hr2, bulk([person(94, { displayName: 'x'.repeat(6000) })]));
    expect(large.status).toBe(413);
    expect(large.body.code).toBe('INBOUND_TOO_LARGE');
    // chunked, without a Content-Length: fastify holds it to the connector's own limit
    const text6k = JSON.stringify(bulk([person(96, { displayName: 'x'.repeat(6000) })]));
    const chunked = await fetch(upload('hr2'), {
      method: 'POST',
      headers: { authorization: `Bearer ${hr2}`, 'content-type': 'application/scim+json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text6k));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ code: 'INBOUND_TOO_LARGE', message: expect.stringContaining('5000 bytes') });
    const notJson = await push(upload(), token, '{"Operations": [');
    expect(notJson.status).toBe(400);
    expect((await push(upload('nobody'), token, bulk([person(95)]))).status).toBe(403);
    // a token for every endpoint learns that no such connector exists; a stranger does not
    expect((await push(upload('nobody'), unlimited, bulk([person(95)]))).body.code).toBe('INBOUND_NOT_FOUND');
    expect((await push(upload('nobody'), 'idsync_nope', bulk([person(95)]))).status).toBe(401);
    expect((await push(url('/servicePrincipals/x/synchronization/jobs/nobody/bulkUpload'), unlimited, bulk([person(95)]))).status).toBe(404);
    expect((await get(url('/api/v1/inbound/hr/requests/nope'), token)).body.code).toBe('INBOUND_NOT_FOUND');
  });

  it('answers 429 with Retry-After past the rate limit of a token', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await push(upload('hr3'), limited, bulk([person(100 + i)]));
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        expect(r.body).toMatchObject({ code: 'INBOUND_RATE_LIMITED', retryable: true });
      }
    }
    expect(statuses).toEqual([202, 202, 202, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // another token is not slowed by this one (a token without endpoint limits may push anywhere)
    expect((await push(upload('hr3'), unlimited, bulk([person(104)]))).status).toBe(202);
  });

  it('a custom extension attribute with a wrong type is named', async () => {
    const r = await push(upload(), token, bulk([person(110, { [CONTOSO]: { HireDate: 'yesterday' } })]));
    expect(r.status).toBe(400);
    expect(r.body.issues[0]).toMatchObject({ path: `${CONTOSO}:HireDate`, code: 'API_ATTRIBUTE_INVALID' });
  });
});
