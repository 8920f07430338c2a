/**
 * Gateway mode end to end: a SCIM client writes to idsync, the rules carry each write to a SQL application
 * (SQLite through the sql connector) at once, and the SCIM response reports what the target did — a
 * created row, or the target's refusal as a SCIM error (400 for a check constraint, 409 for a unique key).
 * The same in front of a throwaway OpenLDAP (slapd): entries created and modified before the answer, a schema
 * violation as 400, a taken DN as 409.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { patch, startTestServer, type TestServer, user } from '../helpers/scim-server.js';
import { BASE_DN, BASE_LDIF, type Slapd, startSlapd } from '../helpers/slapd.js';

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
      - { target: password, source: password }
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
/** engine cycles run by the SQL gateway's serve loop */
let cycles = 0;

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
    () => {
      cycles++;
      void t.server.cycleDone();
    },
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
      user('ann', {
        displayName: 'Ann Example',
        emails: [{ value: 'ann@example.com', type: 'work' }],
        password: 'Ann-s3cret-pw',
      }),
    );
    expect(r.status).toBe(201);
    expect(row('ann')).toEqual({ login: 'ann', email: 'ann@example.com', displayName: 'Ann Example' });
    // the password flowed into the metaverse, and the provisioning log shows it redacted
    const log = JSON.stringify(await t.engine!.store.log({ limit: 1000 }));
    expect(log).toContain('"attribute":"password"');
    expect(log).not.toContain('Ann-s3cret-pw');
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

  it('runs a Bulk request in shared cycles, each operation answered with its own target outcome', async () => {
    const ok = Array.from({ length: 20 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `ok${i}`,
      data: user(`bulk${i}`, { displayName: `Bulk ${i}` }),
    }));
    const before = cycles;
    const r = await t.request('POST', '/Bulk', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
      Operations: [
        ...ok.slice(0, 10),
        { method: 'POST', path: '/Users', bulkId: 'long', data: user('dave', { displayName: 'A display name far too long for the application' }) },
        { method: 'POST', path: '/Users', bulkId: 'taken', data: user('erin', { emails: [{ value: 'taken@example.com', type: 'work' }] }) },
        ...ok.slice(10),
        { method: 'PATCH', path: '/Users/bulkId:ok3', bulkId: 'rename', data: patch({ op: 'replace', path: 'displayName', value: 'Bulk Three' }) },
      ],
    });
    expect(r.status).toBe(200);
    const ops = r.body.Operations as { bulkId: string; status: string; response?: { detail: string; scimType?: string } }[];
    const byId = new Map(ops.map((o) => [o.bulkId, o]));
    expect(ops).toHaveLength(23);
    for (const o of ok) expect(byId.get(o.bulkId)?.status).toBe('201');
    expect(byId.get('rename')?.status).toBe('200');
    // the target's own refusals, each on its operation, and nothing of them kept
    expect(byId.get('long')).toMatchObject({ status: '400', response: { detail: expect.stringMatching(/^app: .*CHECK/i) } });
    expect(byId.get('taken')).toMatchObject({ status: '409', response: { scimType: 'uniqueness' } });
    expect(row('dave')).toBeUndefined();
    expect((await t.request('GET', `/Users?filter=${encodeURIComponent('userName eq "dave"')}`)).body.totalResults).toBe(0);
    // answered after the target had them all
    for (let i = 0; i < 20; i++) expect(row(`bulk${i}`)?.displayName).toBe(i === 3 ? 'Bulk Three' : `Bulk ${i}`);
    // One cycle per operation before (23, and one more per refused create, which the gateway takes back out
    // of the directory); now the operations share them. How many depends on when the cycles start while the
    // operations are written (one every 20 ms of debounce at most): a few.
    expect(cycles - before).toBeLessThan(12);
  });

  it('deletes the account in the target before answering 204', async () => {
    const found = await t.request('GET', `/Users?filter=${encodeURIComponent('userName eq "ann"')}`);
    const r = await t.request('DELETE', `/Users/${found.body.Resources[0].id}`);
    expect(r.status).toBe(204);
    expect(row('ann')).toBeUndefined();
  });
});

describe('gateway mode in front of OpenLDAP', () => {
  let slapd: Slapd;
  let ldap: TestServer & { engine?: Engine };
  const stopLdap = new AbortController();
  let servingLdap: Promise<void>;

  beforeAll(async () => {
    slapd = await startSlapd({
      ldif: `${BASE_LDIF}
dn: uid=dan,ou=people,${BASE_DN}
objectClass: inetOrgPerson
uid: dan
cn: Dan Existing
sn: Existing
mail: dan.existing@example.test
`,
    });
    ldap = await startTestServer({
      config: `
schedule: { interval: 1h }
connectors:
  scim: { type: builtin, path: gateway.db }
  corp:
    type: ldap
    flavor: openldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: "${slapd.password}"
    baseDN: ${BASE_DN}
    objectTypes:
      user:
        objectClasses: [inetOrgPerson]
        attributes: [uid, cn, sn, givenName, mail, title]
        rdnAttribute: uid
        container: ou=people,${BASE_DN}
rules:
  - name: scim-in
    connector: scim
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: userName, metaverse: accountName }]]
    project: true
    flows:
      - { target: accountName, source: userName }
      - { target: mail, source: email }
      - { target: displayName, source: displayName }
      - { target: givenName, source: givenName }
      - { target: sn, source: familyName }
      - { target: title, source: title }
  - name: corp-out
    connector: corp
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: mail }]]
    deprovision: delete
    flows:
      - { target: uid, source: accountName }
      - { target: cn, source: displayName }
      - { target: sn, source: sn }
      - { target: givenName, source: givenName }
      - { target: mail, source: mail }
      - { target: title, source: title }
serve:
  port: 0
  scim:
    - { path: /scim/v2, connector: scim, gateway: { timeout: 20s } }
`,
      engine: (config) => Engine.open(config),
    });
    servingLdap = ldap.engine!.serve(
      { intervalMs: 3_600_000, signal: stopLdap.signal, debounceMs: 20 },
      () => void ldap.server.cycleDone(),
    );
  }, 60_000);

  afterAll(async () => {
    stopLdap.abort();
    await servingLdap;
    await ldap?.close();
    await slapd?.stop();
  });

  const entry = async (uid: string) => {
    const client = new Client({ url: slapd.url });
    try {
      await client.bind(slapd.bindDN, slapd.password);
      const { searchEntries } = await client.search(`ou=people,${BASE_DN}`, {
        filter: `(uid=${uid})`,
        attributes: ['uid', 'cn', 'sn', 'mail', 'title'],
      });
      return searchEntries[0];
    } finally {
      await client.unbind();
    }
  };

  it('creates the LDAP entry before answering 201, and carries a PATCH', async () => {
    const r = await ldap.request(
      'POST',
      '/Users',
      user('erin', {
        displayName: 'Erin Example',
        name: { givenName: 'Erin', familyName: 'Example' },
        emails: [{ value: 'erin@example.test', type: 'work' }],
      }),
    );
    expect(r.status).toBe(201);
    expect(await entry('erin')).toMatchObject({
      dn: `uid=erin,ou=people,${BASE_DN}`,
      cn: 'Erin Example',
      sn: 'Example',
      mail: 'erin@example.test',
    });
    const p = await ldap.request(
      'PATCH',
      `/Users/${r.body.id}`,
      patch({ op: 'replace', path: 'title', value: 'Engineer' }),
    );
    expect(p.status).toBe(200);
    expect((await entry('erin'))?.title).toBe('Engineer');
  });

  it('answers 400 with the directory’s message when the entry breaks its schema (no sn)', async () => {
    const r = await ldap.request(
      'POST',
      '/Users',
      user('fay', { displayName: 'Fay', emails: [{ value: 'fay@example.test', type: 'work' }] }),
    );
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/^corp: /);
    expect(r.body.detail).toMatch(/sn|object class/i);
    expect(await entry('fay')).toBeUndefined();
  });

  it('answers 409 uniqueness when the DN is taken by another entry', async () => {
    const r = await ldap.request(
      'POST',
      '/Users',
      user('dan', {
        displayName: 'Dan New',
        name: { familyName: 'New' },
        emails: [{ value: 'dan.new@example.test', type: 'work' }],
      }),
    );
    expect(r.status).toBe(409);
    expect(r.body.scimType).toBe('uniqueness');
    expect((await entry('dan'))?.cn).toBe('Dan Existing');
  });
});
