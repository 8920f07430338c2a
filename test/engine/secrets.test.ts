/**
 * No password value in any output of the engine: the provisioning log, plan (human and --json), explain
 * (human and --json, verbose flows), status and object errors, apply. The set-up is the gateway's: a built-in
 * directory holding a clear password (as a SCIM client wrote it) is a source, a SQL application a target.
 * The metaverse attribute is named `initialCode` on purpose: it is secret because the schema marks its source
 * (`password` of the directory) secret, not because of its name. Each test greps the whole output.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExplanation, formatLog, formatPlan, formatStatus } from '../../src/cli/format.js';
import { planJson, statusJson } from '../../src/cli/json.js';
import { loadConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/model.js';
import { Directory } from '../../src/directory/index.js';
import { isPasswordHash, verifyPassword } from '../../src/directory/password.js';
import { Engine } from '../../src/engine/engine.js';
import { SecretAttributes, scrub } from '../../src/engine/secrets.js';

const PASSWORD = 'Tr0ub4dor-zebra-91';
const FAILING_PASSWORD = 'Correct-Horse-77';
const NEW_PASSWORD = 'Second-Secret-55';

const CONFIG = `
schedule: { interval: 1h }
connectors:
  src: { type: builtin, path: src.db }
  app:
    type: sql
    driver: sqlite
    file: app.db
    objectTypes:
      account:
        table: accounts
        anchor: id
        attributes: { id: id, login: login, pw: userPassword, note: note }
rules:
  - name: src-in
    connector: src
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: userName, metaverse: login }]]
    project: true
    flows:
      - { target: login, source: userName }
      - { target: initialCode, source: password }
      - target: note
        expression: 'IIF([userName]="bad.user", Error(Append("refused: ", [password])), "ok")'
  - name: app-out
    connector: app
    direction: outbound
    metaverseType: person
    objectType: account
    join: [[{ target: login }]]
    flows:
      - { target: login, source: login }
      - { target: userPassword, source: initialCode }
      - { target: note, source: note }
`;

let dir: string;
let engine: Engine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-secrets-'));
  writeFileSync(join(dir, 'idsync.yaml'), CONFIG);
  const app = new Database(join(dir, 'app.db'));
  app.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, login TEXT NOT NULL UNIQUE, pw TEXT, note TEXT)');
  app.close();
  const directory = new Directory(join(dir, 'src.db'));
  directory.create('user', { userName: ['ann.lee'], password: [PASSWORD] });
  directory.create('user', { userName: ['bad.user'], password: [FAILING_PASSWORD] });
  directory.close();
  engine = await Engine.open(loadConfig(join(dir, 'idsync.yaml')));
});

afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

function expectNoSecret(output: string): void {
  expect(output).not.toContain(PASSWORD);
  expect(output).not.toContain(FAILING_PASSWORD);
  expect(output).not.toContain(NEW_PASSWORD);
}

describe('secret attribute values never leave the engine', () => {
  it('plan, human and --json, shows the password change as [redacted]', async () => {
    const report = await engine.cycle({ mode: 'plan' });
    const create = report.planned.find((p) => p.object === 'ann.lee');
    expect(create?.changes.find((c) => c.attribute === 'userPassword')?.new).toEqual(['[redacted]']);
    expectNoSecret(formatPlan(report.planned));
    expectNoSecret(JSON.stringify(planJson(report.planned, report.status)));
    expectNoSecret(JSON.stringify(report));
  });

  it('explain, human and --json, with verbose flows, hides the secret in the object, the metaverse and the flows', async () => {
    const anchor = new Directory(join(dir, 'src.db')).findBy('userName', 'ann.lee')[0]!.id;
    const x = await engine.explain('src', anchor);
    expect(x.attributes.password).toEqual(['[redacted]']);
    expect(x.metaverse?.attributes.initialCode).toEqual(['[redacted]']);
    expect(x.steps.flatMap((e) => e.steps.map((s) => s.detail)).join('\n')).toContain('initialCode = [password] → [redacted]');
    expectNoSecret(JSON.stringify(x));
    expectNoSecret(formatExplanation(x));
  });

  it('an expression error that echoes the password is recorded without it (log, status, explain)', async () => {
    const anchor = new Directory(join(dir, 'src.db')).findBy('userName', 'bad.user')[0]!.id;
    const x = await engine.explain('src', anchor);
    expect(x.action).toBe('error');
    expect(JSON.stringify(x)).toContain('refused: [redacted]');
    expectNoSecret(JSON.stringify(x));
    const status = await engine.status();
    expect(status.errors.some((e) => e.message.includes('refused: [redacted]'))).toBe(true);
    expectNoSecret(JSON.stringify(statusJson(status)));
    expectNoSecret(formatStatus(status));
  });

  it('apply sends the password to the target, and the provisioning log holds it only as [redacted]', async () => {
    await engine.cycle({ mode: 'plan' });
    const report = await engine.apply();
    expect(report.stats.find((s) => s.connector === 'app')?.added).toBe(1);
    const app = new Database(join(dir, 'app.db'), { readonly: true });
    expect(app.prepare('SELECT pw FROM accounts WHERE login = ?').get('ann.lee')).toEqual({ pw: PASSWORD });
    app.close();
    const entries = await engine.store.log({ limit: 1000 });
    expect(entries.some((e) => e.changes.some((c) => c.attribute === 'userPassword' && c.new[0] === '[redacted]'))).toBe(true);
    expectNoSecret(JSON.stringify(entries));
    expectNoSecret(formatLog(entries));
  });

  it('the target connector space keeps a fingerprint of the sent password, enough to send it only once', async () => {
    const cs = [...(await engine.store.csByAnchors('app', ['1'])).values()][0]!;
    expect(String(cs.attributes.userPassword?.[0])).toMatch(/^\{idsync-hmac\}/);
    expectNoSecret(JSON.stringify(cs));
    const again = await engine.cycle({ mode: 'plan' });
    expect(again.planned.filter((p) => p.object !== 'bad.user')).toEqual([]);
  });

  it('a changed password makes the last plan stale, though the plan shows both as [redacted]', async () => {
    const directory = new Directory(join(dir, 'src.db'));
    const ann = directory.findBy('userName', 'ann.lee')[0]!;
    directory.update(ann.id, { password: { replace: [NEW_PASSWORD] } });
    directory.close();
    const plan = await engine.cycle({ mode: 'plan' });
    const change = plan.planned.find((p) => p.object !== 'bad.user' && p.op === 'update');
    expect(change?.changes).toEqual([{ attribute: 'userPassword', old: ['[redacted]'], new: ['[redacted]'] }]);
    const stored = String(await engine.store.getMeta('plan'));
    expect(stored).toMatch(/^[0-9a-f]{32}:[0-9a-f]{64}$/);
    expectNoSecret(stored);
    // Something changes the password to send after the plan was shown: the plan looks the same, but is stale.
    const pending = (await engine.store.pendingByCs(change!.csId))!;
    await engine.store.setPending({ ...pending, desired: { ...pending.desired, userPassword: ['Another-One-33'] } });
    await expect(engine.apply()).rejects.toMatchObject({ code: 'PLAN_STALE' });
  });

  it('a password the source no longer holds is left in the target, never cleared', async () => {
    await engine.cycle({ mode: 'plan' });
    await engine.apply();
    const directory = new Directory(join(dir, 'src.db'));
    const ann = directory.findBy('userName', 'ann.lee')[0]!;
    directory.update(ann.id, { password: { replace: [] } });
    directory.close();
    const plan = await engine.cycle({ mode: 'plan' });
    expect(plan.planned.filter((p) => p.object !== 'bad.user')).toEqual([]);
  });
});

describe('a password exported to the built-in directory', () => {
  it('is stored there as a scrypt hash, and is not sent again by the next cycles', async () => {
    const root = mkdtempSync(join(tmpdir(), 'idsync-secrets-home-'));
    try {
      writeFileSync(
        join(root, 'idsync.yaml'),
        `
connectors:
  src: { type: builtin, path: src.db }
  home: { type: builtin, path: home.db }
rules:
  - { name: in, connector: src, direction: inbound, objectType: user, metaverseType: person, project: true,
      join: [[{ source: userName, metaverse: login }]],
      flows: [{ target: login, source: userName }, { target: initialCode, source: password }] }
  - { name: out, connector: home, direction: outbound, metaverseType: person, objectType: user,
      join: [[{ target: userName }]],
      flows: [{ target: userName, source: login }, { target: password, source: initialCode }] }
`,
      );
      const source = new Directory(join(root, 'src.db'));
      source.create('user', { userName: ['home.user'], password: [PASSWORD] });
      source.close();
      const e = await Engine.open(loadConfig(join(root, 'idsync.yaml')));
      try {
        const first = await e.cycle();
        expect(first.stats.find((s) => s.connector === 'home' && s.phase === 'export')?.added).toBe(1);
        for (let i = 0; i < 2; i++) {
          const next = await e.cycle({ full: i === 1 });
          const exported = next.stats.find((s) => s.connector === 'home' && s.phase === 'export');
          expect(exported?.added ?? 0).toBe(0);
          expect(exported?.updated ?? 0).toBe(0);
        }
      } finally {
        await e.close();
      }
      const home = new Directory(join(root, 'home.db'));
      const stored = String(home.findBy('userName', 'home.user')[0]?.attributes.password?.[0]);
      home.close();
      expect(isPasswordHash(stored)).toBe(true);
      expect(await verifyPassword(PASSWORD, stored)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('which attributes are secret', () => {
  const schema = { objectTypes: { user: { attributes: { pin: { type: 'string' as const, multiValued: false, secret: true } } } } };
  const secrets = new SecretAttributes({ inbound: [], outbound: [] } as unknown as LoadedConfig, () => schema);

  it('output hides credential-like names, but only password attributes are kept as fingerprints', () => {
    expect(secrets.inConnector('c', 'user', 'tokenGroups')).toBe(true);
    expect(secrets.isCredential('c', 'user', 'tokenGroups')).toBe(false);
    expect(secrets.isCredential('c', 'user', 'passportNumber')).toBe(false);
    expect(secrets.isCredential('c', 'user', 'PIN')).toBe(true);
    expect(secrets.isCredential('c', 'user', 'unicodePwd')).toBe(true);
    expect(secrets.inConnector('c', 'user', 'department')).toBe(false);
  });

  it('scrub replaces every value, also where a message quotes it JSON-escaped', () => {
    expect(scrub('bad value "p\\"w-1234" for x; p"w-1234 again', ['p"w-1234'])).toBe('bad value "[redacted]" for x; [redacted] again');
    expect(scrub('nothing here', [])).toBe('nothing here');
  });
});
