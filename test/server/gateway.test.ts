/**
 * Gateway mode end to end: a SCIM client writes to idsync, the rules carry each write to a SQL application
 * (SQLite through the sql connector) at once, and the SCIM response reports what the target did — a
 * created row, or the target's refusal as a SCIM error (400 for a check constraint, 409 for a unique key).
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
        attributes: { id: id, login: login, email: email, display_name: displayName }
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
      - { target: email, source: email }
      - { target: displayName, source: displayName }
  - name: app-out
    connector: app
    direction: outbound
    metaverseType: person
    objectType: account
    join: [[{ target: login }]]
    deprovision: delete
    flows:
      - { target: login, source: login }
      - { target: email, source: email }
      - { target: displayName, source: displayName }
serve:
  port: 0
  scim:
    - { path: /scim/v2, connector: scim, gateway: { timeout: 15s } }
`;

const APP_DDL = `CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  login TEXT NOT NULL UNIQUE,
  email TEXT UNIQUE,
  display_name TEXT CHECK (display_name IS NULL OR length(display_name) <= 30))`;

let t: TestServer & { engine?: Engine };
let app: Database.Database;
const stop = new AbortController();
let serving: Promise<void>;

beforeAll(async () => {
  t = await startTestServer({
    config: CONFIG,
    engine: async (config) => {
      const db = new Database(join(config.dir, 'app.db'));
      db.exec(APP_DDL);
      db.prepare(
        "INSERT INTO accounts (login, email, display_name) VALUES ('someone.else', 'taken@example.com', 'Someone Else')",
      ).run();
      db.close();
      return Engine.open(config);
    },
  });
  app = new Database(join(t.dir, 'app.db'), { readonly: true });
  serving = t.engine!.serve(
    { intervalMs: 3_600_000, signal: stop.signal, debounceMs: 20 },
    () => void t.server.cycleDone(),
  );
});

afterAll(async () => {
  stop.abort();
  await serving;
  app.close();
  await t.close();
});

const row = (login: string) =>
  app.prepare('SELECT login, email, display_name AS displayName FROM accounts WHERE login = ?').get(login) as
    | Record<string, string>
    | undefined;

describe('gateway mode', () => {
  it('creates the account in the target before answering 201', async () => {
    const r = await t.request(
      'POST',
      '/Users',
      user('ann', { displayName: 'Ann Example', emails: [{ value: 'ann@example.com', type: 'work' }] }),
    );
    expect(r.status).toBe(201);
    expect(row('ann')).toEqual({ login: 'ann', email: 'ann@example.com', displayName: 'Ann Example' });
  });

  it('carries a PATCH to the target before answering', async () => {
    const found = await t.request('GET', `/Users?filter=${encodeURIComponent('userName eq "ann"')}`);
    const r = await t.request(
      'PATCH',
      `/Users/${found.body.Resources[0].id}`,
      patch({ op: 'replace', path: 'displayName', value: 'Ann Changed' }),
    );
    expect(r.status).toBe(200);
    expect(row('ann')?.displayName).toBe('Ann Changed');
  });

  it('answers 400 with the target’s message when the target refuses a value, and keeps nothing', async () => {
    const r = await t.request(
      'POST',
      '/Users',
      user('bob', { displayName: 'A display name far too long for the application' }),
    );
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/^app: /);
    expect(r.body.detail).toMatch(/CHECK/i);
    expect(row('bob')).toBeUndefined();
    // the refused create left nothing behind: the client's retry is a clean create
    const again = await t.request('GET', `/Users?filter=${encodeURIComponent('userName eq "bob"')}`);
    expect(again.body.totalResults).toBe(0);
    const retry = await t.request('POST', '/Users', user('bob', { displayName: 'Bob' }));
    expect(retry.status).toBe(201);
    expect(row('bob')?.displayName).toBe('Bob');
  });

  it('answers 409 uniqueness when the target already holds the value', async () => {
    const r = await t.request(
      'POST',
      '/Users',
      user('carol', { emails: [{ value: 'taken@example.com', type: 'work' }] }),
    );
    expect(r.status).toBe(409);
    expect(r.body.scimType).toBe('uniqueness');
    expect(r.body.detail).toMatch(/UNIQUE/i);
  });

  it('deletes the account in the target before answering 204', async () => {
    const found = await t.request('GET', `/Users?filter=${encodeURIComponent('userName eq "ann"')}`);
    const r = await t.request('DELETE', `/Users/${found.body.Resources[0].id}`);
    expect(r.status).toBe(204);
    expect(row('ann')).toBeUndefined();
  });
});
