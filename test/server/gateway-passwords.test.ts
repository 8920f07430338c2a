/**
 * Passwords through a gateway (the ECMA Connector Host's job): a SCIM client sets a password, the rules carry
 * it to a SQL application before the answer, and then nothing of it is left at rest in idsync — removed from
 * the gateway's directory once delivered, absent from the source connector space and the metaverse, only a
 * keyed fingerprint in the target's connector space, no pending export — while the target keeps it.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { patch, startTestServer, type TestServer, user } from '../helpers/scim-server.js';

const CONFIG = `
schedule: { interval: 1h }
connectors:
  scim: { type: builtin, path: gateway.db }
  app:
    type: sql
    driver: sqlite
    file: app.db
    objectTypes:
      account:
        table: accounts
        anchor: id
        attributes: { id: id, login: login, pw: userPassword }
rules:
  - name: scim-in
    connector: scim
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: userName, metaverse: login }]]
    project: true
    flows:
      - { target: login, source: userName }
      - { target: password, source: password }
  - name: app-out
    connector: app
    direction: outbound
    metaverseType: person
    objectType: account
    join: [[{ target: login }]]
    flows:
      - { target: login, source: login }
      - { target: userPassword, source: password }
serve:
  port: 0
  scim:
    - { path: /scim/v2, connector: scim, gateway: { timeout: 15s } }
`;

const FIRST = 'Gw-First-Pass-8181';
const SECOND = 'Gw-Second-Pass-9292';

let t: TestServer & { engine?: Engine };
let app: Database.Database;
const stop = new AbortController();
let serving: Promise<void>;

beforeAll(async () => {
  t = await startTestServer({
    config: CONFIG,
    engine: async (config) => {
      const db = new Database(join(config.dir, 'app.db'));
      db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, login TEXT NOT NULL UNIQUE, pw TEXT)');
      db.close();
      return Engine.open(config);
    },
  });
  app = new Database(join(t.dir, 'app.db'), { readonly: true });
  serving = t.engine!.serve({ intervalMs: 3_600_000, signal: stop.signal, debounceMs: 20 }, () => void t.server.cycleDone());
});

afterAll(async () => {
  stop.abort();
  await serving;
  app.close();
  await t.close();
});

const targetPassword = (login: string) => (app.prepare('SELECT pw FROM accounts WHERE login = ?').get(login) as { pw: string } | undefined)?.pw;

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Everything idsync's state holds about the user: both connector-space objects, the metaverse, pending exports. */
async function stateOf(id: string): Promise<string> {
  const store = t.engine!.store;
  const source = (await store.csByAnchors('scim', [id])).get(id);
  const linked = source?.mvId ? await store.csByMv([source.mvId]) : [];
  const mv = source?.mvId ? [...(await store.mvByIds([source.mvId])).values()] : [];
  const pending = await Promise.all(linked.map((cs) => store.pendingByCs(cs.id)));
  return JSON.stringify({ source, linked, mv, pending });
}

describe('passwords through a gateway', () => {
  let id: string;

  it('delivers the password to the target, then keeps nothing of it', async () => {
    const r = await t.request('POST', '/Users', user('gw.ann', { password: FIRST }));
    expect(r.status).toBe(201);
    id = r.body.id;
    expect(targetPassword('gw.ann')).toBe(FIRST);
    // removed from the gateway's directory once delivered, and the next cycle forgets it everywhere
    await until('the directory to drop the password', () => t.directory().get(id)?.attributes.password === undefined);
    await until('the source connector space to lose the password', async () => !(await stateOf(id)).includes(FIRST));
    const state = await stateOf(id);
    expect(state).toContain('{idsync-hmac}');
    expect(state).not.toContain(FIRST);
    // the target keeps the password it was given: a dropped source value never clears it
    expect(targetPassword('gw.ann')).toBe(FIRST);
  });

  it('carries a changed password before answering, then forgets it too', async () => {
    const r = await t.request('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'password', value: SECOND }));
    expect(r.status).toBe(200);
    expect(targetPassword('gw.ann')).toBe(SECOND);
    await until('the directory to drop the new password', () => t.directory().get(id)?.attributes.password === undefined);
    await until('the state to lose the new password', async () => !(await stateOf(id)).includes(SECOND));
    expect(targetPassword('gw.ann')).toBe(SECOND);
  });

  it('no password in the provisioning log', async () => {
    const log = JSON.stringify(await t.engine!.store.log({ limit: 1000 }));
    expect(log).toContain('"attribute":"userPassword"');
    expect(log).not.toContain(FIRST);
    expect(log).not.toContain(SECOND);
  });
});

describe('passwords through a non-gateway endpoint whose rules carry them', () => {
  it('keeps the password clear only until the next cycle delivered it (a hash would reach the target as a password)', async () => {
    const s = await startTestServer({
      config: CONFIG.replace('gateway: { timeout: 15s }', 'gateway: false'),
      engine: async (config) => {
        const db = new Database(join(config.dir, 'app.db'));
        db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, login TEXT NOT NULL UNIQUE, pw TEXT)');
        db.close();
        return Engine.open(config);
      },
    });
    const halt = new AbortController();
    const running = s.engine!.serve({ intervalMs: 3_600_000, signal: halt.signal, debounceMs: 20 }, () => void s.server.cycleDone());
    const target = new Database(join(s.dir, 'app.db'), { readonly: true });
    try {
      const r = await s.request('POST', '/Users', user('async.ann', { password: FIRST }));
      expect(r.status).toBe(201);
      const pw = () => (target.prepare('SELECT pw FROM accounts WHERE login = ?').get('async.ann') as { pw: string } | undefined)?.pw;
      await until('the target to get the password', () => pw() !== undefined);
      expect(pw()).toBe(FIRST);
      await until('the directory to drop it', () => s.directory().get(r.body.id)?.attributes.password === undefined);
      expect(pw()).toBe(FIRST);
    } finally {
      halt.abort();
      await running;
      target.close();
      await s.close();
    }
  });
});
