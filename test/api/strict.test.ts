/**
 * Request bodies and query strings are strict over real HTTP: a field or parameter a route does not take
 * answers 400 API_INVALID naming it (a misspelt `full` would otherwise run a delta cycle and say nothing),
 * each unknown one its own issue, and nothing is done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ people: 5 });
  await h.firstCycle;
}, 60_000);
afterAll(() => h?.stop());

describe('unknown fields', () => {
  it('refuse a body field the route does not take, naming it, and do nothing', async () => {
    const runs = (await h.call('GET', '/runs?limit=1', { token: h.tokens.reader })).body.items;
    const res = await h.call('POST', '/actions/run', { token: h.tokens.operator, body: { connector: 'hr', fulll: true, why: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('API_INVALID');
    expect(res.body.issues).toEqual([
      { code: 'unrecognized_keys', path: ['body', 'fulll'], message: expect.stringContaining('"fulll"') },
      { code: 'unrecognized_keys', path: ['body', 'why'], message: expect.stringContaining('"why"') },
    ]);
    expect(res.body.message).toContain('fulll');
    await new Promise((r) => setTimeout(r, 200));
    expect((await h.call('GET', '/runs?limit=1', { token: h.tokens.reader })).body.items).toEqual(runs);
    const audit = (await h.call('GET', '/audit?action=actions.run', { token: h.tokens.reader })).body.items;
    expect(audit[0]).toMatchObject({ result: 'API_INVALID', status: 400 });
  });

  it('refuse a query parameter the route does not take, and a login or account change with an extra field', async () => {
    const q = await h.call('GET', '/runs?limit=5&conector=hr', { token: h.tokens.reader });
    expect(q.status).toBe(400);
    expect(q.body.issues).toEqual([{ code: 'unrecognized_keys', path: ['query', 'conector'], message: expect.stringContaining('"conector"') }]);
    expect((await h.call('GET', '/runs?limit=5&connector=hr', { token: h.tokens.reader })).status).toBe(200);
    const login = await h.call('POST', '/session', { body: { username: 'admin', password: PASSWORD, remember: true } });
    expect(login.status).toBe(400);
    expect(login.body.issues[0].path).toEqual(['body', 'remember']);
    const patch = await h.call('PATCH', '/accounts/reader', { token: h.tokens.admin, body: { role: 'operator', admin: true } });
    expect(patch.status).toBe(400);
    expect((await h.call('GET', '/accounts', { token: h.tokens.admin })).body.items.find((a: any) => a.name === 'reader').role).toBe('reader');
    // a route that takes no query or body takes no field in them
    const approve = await h.call('POST', '/connectors/hr/approve?force=1', { token: h.tokens.operator, body: { all: true } });
    expect(approve.status).toBe(400);
    expect(approve.body.issues.map((i: any) => i.path)).toEqual([['query', 'force'], ['body', 'all']]);
    expect((await h.call('POST', '/connectors/hr/approve', { token: h.tokens.operator, body: {} })).status).toBe(200);
    const validate = await h.call('POST', '/config/validate', { token: h.tokens.admin, body: { yaml: 'version: 1', save: true } });
    expect(validate.body.issues).toEqual([expect.objectContaining({ path: ['body', 'save'] })]);
  });
});
