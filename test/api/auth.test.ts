/**
 * The admin API's authentication over real HTTP: session login with its cookie and CSRF token, lock-out
 * after repeated failures, API bearer tokens with a role, 401 and 403, and the audit entries they leave.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, PASSWORD, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ auth: { maxFailures: 3, lockMs: 60_000 } });
  await h.firstCycle;
}, 60_000);
afterAll(() => h?.stop());

describe('admin API sessions', () => {
  it('logs in with a password: an HttpOnly SameSite=Strict cookie and a CSRF token; no password in the answer', async () => {
    const res = await h.call('POST', '/session', { body: { username: 'operator', password: PASSWORD } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ username: 'operator', role: 'operator', csrfToken: expect.any(String), expiresAt: expect.any(String) });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^idsync_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Secure'); // no TLS here
    expect(res.text).not.toContain(PASSWORD);
  });

  it('answers GET /session with the account, and 401 without a session or with a forged one', async () => {
    const { cookie, csrf } = await h.login('reader');
    const me = await h.call('GET', '/session', { cookie });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'reader', role: 'reader', kind: 'account', csrfToken: csrf });
    const none = await h.call('GET', '/session');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ code: 'API_UNAUTHENTICATED', retryable: false });
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await h.call('GET', '/session', { cookie: 'idsync_session=forged' })).status).toBe(401);
  });

  it('requires the CSRF header for writes made with the cookie, and ends the session on logout', async () => {
    const { cookie, csrf } = await h.login('admin');
    const without = await h.call('DELETE', '/session', { cookie });
    expect(without.status).toBe(403);
    expect(without.body.code).toBe('API_CSRF');
    const wrong = await h.call('DELETE', '/session', { cookie, csrf: 'x'.repeat(csrf.length) });
    expect(wrong.status).toBe(403);
    const out = await h.call('DELETE', '/session', { cookie, csrf });
    expect(out.status).toBe(200);
    expect((await h.call('GET', '/session', { cookie })).status).toBe(401);
  });

  it('refuses a wrong password without telling which part was wrong, then locks the username out with 429 and Retry-After', async () => {
    const unknown = await h.call('POST', '/session', { body: { username: 'nobody', password: 'whatever-it-is' } });
    expect(unknown.status).toBe(401);
    const wrong = await h.call('POST', '/session', { body: { username: 'admin', password: 'not the password' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe(unknown.body.code);
    expect(wrong.body.message).toBe(unknown.body.message);
    // a fresh account for the lock-out, so the other tests keep theirs
    const created = await h.call('POST', '/accounts', { token: h.tokens.admin, body: { name: 'locked', role: 'reader', password: PASSWORD } });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await h.call('POST', '/session', { body: { username: 'locked', password: 'wrong password' } })).status).toBe(401);
    const locked = await h.call('POST', '/session', { body: { username: 'locked', password: PASSWORD } });
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ code: 'API_LOCKED', retryable: true });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // the audit log has the failures and the lock-out, under the name tried
    const audit = await h.call('GET', '/audit?actor=login%20locked', { token: h.tokens.admin });
    expect(audit.body.items.map((e: any) => e.result)).toEqual(['API_LOCKED', 'API_LOGIN_FAILED', 'API_LOGIN_FAILED', 'API_LOGIN_FAILED']);
  });

  it('validates the login body: 400 with every issue', async () => {
    const res = await h.call('POST', '/session', { body: { username: '', extra: 1 } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('API_INVALID');
    expect(res.body.issues.map((i: any) => i.path.join('.'))).toEqual(expect.arrayContaining(['body.username', 'body.password']));
    const bad = await h.call('POST', '/session', { raw: '{"username": "a", "password": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('API_BAD_JSON');
  });
});

describe('admin API tokens and roles', () => {
  it('accepts an API token with its role; refuses an unknown one with 401 and a lower role with 403', async () => {
    const me = await h.call('GET', '/session', { token: h.tokens.operator });
    expect(me.body).toEqual({ username: 'script-operator', role: 'operator', kind: 'token' });
    expect((await h.call('GET', '/connectors', { token: 'idsync_api_unknown' })).status).toBe(401);
    const forbidden = await h.call('GET', '/accounts', { token: h.tokens.operator });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('API_FORBIDDEN');
    expect(forbidden.body.message).toContain('admin');
    // no CSRF header for a bearer token
    const created = await h.call('POST', '/accounts', { token: h.tokens.admin, body: { name: 'tokenmade', role: 'operator' } });
    expect(created.status).toBe(201);
    expect(created.body.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect((await h.login('tokenmade', created.body.password)).status).toBe(200);
  });

  it('answers an unknown route under /api/v1 with a JSON error, not a SCIM one', async () => {
    const res = await h.call('GET', '/nothing-here', { token: h.tokens.reader });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'API_NO_ROUTE', retryable: false });
    expect(res.body.schemas).toBeUndefined();
  });
});
