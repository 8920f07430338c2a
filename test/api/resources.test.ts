/**
 * The admin API's read side over real HTTP after a cycle of the sample config: connectors with their health
 * and last run, runs with per-phase counts, the provisioning log searched by a person's name with old → new
 * values, paging, validation errors, and no secret in any answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, PASSWORD, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.firstCycle;
}, 60_000);
afterAll(() => h?.stop());

const get = (path: string, token = h.tokens.reader) => h.call('GET', path, { token });

describe('connectors', () => {
  it('lists every connector with health, counts, last run and next run', async () => {
    const res = await get('/connectors');
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.body.items.map((c: any) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['directory', 'hr', 'hr-groups']);
    expect(byName.hr).toMatchObject({ type: 'csv', role: 'source', health: 'ok', objects: 12, errors: 0, quarantine: null, holds: [], agentGroup: null });
    expect(byName.directory).toMatchObject({ type: 'builtin', role: 'target', pendingExports: 0 });
    expect(byName.hr.lastRun.phases.every((p: any) => p.connector === 'hr')).toBe(true);
    expect(byName.hr.lastRun.phases.find((p: any) => p.phase === 'import')).toMatchObject({ added: 12, status: 'ok' });
    expect(Date.parse(byName.hr.nextRun)).toBeGreaterThan(Date.now());
  });

  it('shows one connector with its runs and errors; 404 for an unknown one', async () => {
    const res = await get('/connectors/directory');
    expect(res.status).toBe(200);
    expect(res.body.runs.length).toBeGreaterThan(0);
    expect(res.body.objectErrors).toEqual([]);
    const missing = await get('/connectors/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'API_NOT_FOUND', path: ['params', 'name'] });
  });

  it('needs authentication', async () => {
    expect((await h.call('GET', '/connectors')).status).toBe(401);
    expect((await h.call('GET', '/connectors/hr')).status).toBe(401);
  });
});

describe('runs', () => {
  it('lists runs newest first with phases, and one run by id', async () => {
    const res = await get('/runs?limit=5');
    expect(res.status).toBe(200);
    const [run] = res.body.items;
    expect(run).toMatchObject({ kind: 'full', status: 'ok', finishedAt: expect.any(String) });
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    expect(run.phases.map((p: any) => `${p.connector} ${p.phase}`)).toContain('directory export');
    const one = await get(`/runs/${run.id}`);
    expect(one.body).toEqual(run);
    const hrOnly = await get('/runs?connector=hr');
    expect(hrOnly.body.items[0].phases.every((p: any) => p.connector === 'hr')).toBe(true);
    expect((await get('/runs/99999')).status).toBe(404);
    expect((await h.call('GET', '/runs')).status).toBe(401);
  });

  it('answers 400 with every issue of the query', async () => {
    const res = await get('/runs?limit=0&connector=');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('API_INVALID');
    expect(res.body.issues).toContainEqual(expect.objectContaining({ path: ['query', 'limit'], code: 'too_small' }));
    const id = await get('/runs/abc');
    expect(id.status).toBe(400);
    expect(id.body.issues[0].path).toEqual(['params', 'id']);
  });
});

describe('provisioning log', () => {
  it("finds a person's entries by name, each with per-attribute old → new", async () => {
    const person = h.ws.people[0]!;
    const res = await get(`/log?object=${encodeURIComponent(person.email)}`);
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    const created = res.body.items.find((e: any) => e.connector === 'directory' && e.phase === 'export');
    expect(created).toMatchObject({ status: 'success', action: 'create' });
    const email = created.changes.find((c: any) => c.attribute === 'emails' || c.attribute === 'email' || c.attribute === 'userName');
    expect(email.old).toEqual([]);
    expect(email.new.length).toBe(1);
    const one = await get(`/log/${created.id}`);
    expect(one.body).toEqual(created);
  });

  it('filters by connector, action, status and time, and pages with next', async () => {
    const page1 = await get('/log?connector=hr&limit=5');
    expect(page1.body.items).toHaveLength(5);
    expect(page1.body.items.every((e: any) => e.connector === 'hr')).toBe(true);
    const ids = page1.body.items.map((e: any) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const page2 = await get(`/log?connector=hr&limit=5&cursor=${page1.body.next}`);
    expect(Math.max(...page2.body.items.map((e: any) => e.id))).toBeLessThan(Math.min(...ids));
    const future = await get(`/log?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    expect(future.body.items).toEqual([]);
    const past = await get(`/log?until=${encodeURIComponent('2000-01-01T00:00:00Z')}`);
    expect(past.body.items).toEqual([]);
    const errors = await get('/log?status=error');
    expect(errors.body.items).toEqual([]);
    const bad = await get('/log?status=nope&since=yesterday&connector=ghost');
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i: any) => i.path.join('.')).sort()).toEqual(['query.since', 'query.status']);
    expect((await get('/log?connector=ghost')).status).toBe(404);
  });

  it('never returns a password: the sample flows none, and log values of a password attribute are redacted', async () => {
    for (const path of ['/connectors', '/connectors/directory', '/runs', '/log?limit=1000']) {
      const res = await get(path, h.tokens.admin);
      expect(res.text).not.toContain(PASSWORD);
      expect(res.text).not.toContain(h.tokens.admin);
    }
  });
});
