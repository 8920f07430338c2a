/**
 * Moving a state between stores: a SQLite state after real cycles, copied to PostgreSQL and back, verified,
 * and the engine goes on from the copy as if nothing happened.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/store/accounts.js';
import { AgentStore } from '../../src/store/agents.js';
import { migrateState } from '../../src/store/index.js';
import { thisProcess } from '../../src/store/lease.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { TokenStore } from '../../src/store/tokens.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace | undefined;
const databases: TestDatabase[] = [];
afterEach(async () => {
  ws?.cleanup();
  ws = undefined;
  for (const db of databases.splice(0)) await db.drop();
});

const exported = (report: { stats: { connector: string; phase: string; added: number; updated: number; deleted: number }[] }) =>
  report.stats.filter((s) => s.phase === 'export').reduce((n, s) => n + s.added + s.updated + s.deleted, 0);

describe('moving a state', () => {
  it('copies a SQLite state to PostgreSQL, verified, and the engine goes on from the copy', async () => {
    ws = workspace({ people: 25, groups: 2, groupSize: 5 });
    await ws.cycle();
    const db = await createDatabase('copy');
    databases.push(db);
    const from = { stateDir: join(ws.dir, '.idsync') };

    const report = await migrateState(from, db.url);
    const count = (name: string) => report.tables.find((t) => t.table === name)!.rows;
    expect(count('cs')).toBeGreaterThan(50); // people and groups in the HR feeds and in the directory
    expect(count('mv')).toBe(25 + 8 + 2); // people, the managers' groups and the two project groups, as the cycle test counts them
    expect(count('log')).toBeGreaterThan(0);
    expect(report.rows).toBe(report.tables.reduce((n, t) => n + t.rows, 0));
    expect((await db.exec('SELECT COUNT(*)::int AS n FROM cs'))[0]!.n).toBe(count('cs'));

    // the engine on the copy: the same state, so a cycle with no source change exports nothing, and a
    // change goes out (new ids continue after the copied ones)
    ws = reconfigure(ws, db.url);
    expect(exported(await ws.cycle())).toBe(0);
    const people = ws.people.map((p) => ({ ...p }));
    people[3]!.title = 'Moved Title';
    ws.writePeople(people);
    const changed = await ws.cycle();
    expect(changed.status).toBe('ok');
    expect(exported(changed)).toBe(1);
  });

  it('refuses a target that holds a state unless forced, and copies back to a SQLite file', async () => {
    ws = workspace({ people: 8, groups: 1, groupSize: 3 });
    await ws.cycle();
    const db = await createDatabase('copy_force');
    databases.push(db);
    const from = { stateDir: join(ws.dir, '.idsync') };
    await migrateState(from, db.url);
    await expect(migrateState(from, db.url)).rejects.toMatchObject({
      code: 'STATE_TARGET_NOT_EMPTY',
      message: expect.stringMatching(/holds a state already \(rows in meta, watermarks, cs.*give --force/),
    });
    const forced = await migrateState(from, db.url, { force: true });
    expect(forced.tables.find((t) => t.table === 'cs')!.rows).toBeGreaterThan(0);

    // and back: PostgreSQL → a SQLite file, the same rows and checksums
    const back = join(ws.dir, 'back.db');
    const returned = await migrateState({ stateDir: ws.dir, stateUrl: db.url }, back);
    expect(existsSync(back)).toBe(true);
    expect(returned.tables).toEqual(forced.tables);
  });

  it('moves the SCIM tokens, agents, accounts and audit log with the state, and back', async () => {
    ws = workspace({ people: 3, groups: 0 });
    await ws.cycle();
    const stateDir = join(ws.dir, '.idsync');
    const tokens = await TokenStore.open({ stateDir });
    const scim = await tokens.create('entra', ['/scim/v2']);
    await tokens.close();
    const agents = await AgentStore.open({ stateDir });
    const agent = await agents.register((await agents.createToken('onprem', 60_000)).token, {
      host: 'h',
      version: '1',
      thumbprint: 't1',
      publicKey: '{}',
    });
    await agents.close();
    const accounts = await AccountStore.open({ stateDir });
    await accounts.createAccount('Root', 'admin', 'hash');
    await accounts.createAccount('alice', 'reader', 'hash');
    const api = await accounts.createToken('ci', 'operator');
    for (let i = 0; i < 3; i++)
      await accounts.audit({
        actor: 'account Root',
        action: `a.${i}`,
        target: null,
        result: 'ok',
        status: 200,
      });
    await accounts.close();

    const db = await createDatabase('copy_records');
    databases.push(db);
    const report = await migrateState({ stateDir }, db.url);
    const rows = (name: string) => report.tables.find((t) => t.table === name)?.rows;
    expect([
      rows('tokens.scim_tokens'),
      rows('agents.agents'),
      rows('agents.registration_tokens'),
      rows('accounts.accounts'),
      rows('accounts.api_tokens'),
      rows('accounts.audit'),
    ]).toEqual([1, 1, 0, 2, 1, 3]);

    // in the database: the same tokens verify, the same agent and accounts; new audit ids follow the copied ones
    const location = { stateDir: join(ws.dir, 'unused'), stateUrl: db.url };
    const pgTokens = await TokenStore.open(location);
    expect((await pgTokens.verify(scim))?.name).toBe('entra');
    await pgTokens.close();
    const pgAgents = await AgentStore.open(location);
    expect((await pgAgents.get(agent.id))?.thumbprint).toBe('t1');
    await pgAgents.close();
    const pgAccounts = await AccountStore.open(location);
    expect((await pgAccounts.verifyToken(api))?.role).toBe('operator');
    expect((await pgAccounts.accountWithHash('root'))?.name).toBe('Root');
    await pgAccounts.audit({
      actor: 'account Root',
      action: 'after',
      target: null,
      result: 'ok',
      status: 200,
    });
    const audit = await pgAccounts.auditEntries({ limit: 10 });
    expect(audit.map((e) => e.action)).toEqual(['after', 'a.2', 'a.1', 'a.0']);
    expect(audit[0]!.id).toBeGreaterThan(audit[1]!.id);
    await pgAccounts.close();
    expect(existsSync(join(ws.dir, 'unused'))).toBe(false);

    // a second copy is refused for the record tables too, then forced; and back to SQLite files beside the target
    await expect(migrateState({ stateDir }, db.url)).rejects.toMatchObject({
      code: 'STATE_TARGET_NOT_EMPTY',
      message: expect.stringContaining('tokens.scim_tokens'),
    });
    const back = await migrateState(location, join(ws.dir, 'back', 'state.db'));
    // the same rows, but for the audit entry and the token's last use written in PostgreSQL
    const changed = new Set(['accounts.audit', 'accounts.api_tokens']);
    expect(back.tables.filter((t) => t.table.includes('.'))).toEqual(
      report.tables
        .filter((t) => t.table.includes('.'))
        .map((t) =>
          changed.has(t.table)
            ? {
                ...t,
                rows: t.table === 'accounts.audit' ? 4 : 1,
                sha256: expect.not.stringMatching(t.sha256),
              }
            : t,
        ),
    );
    const returned = await AccountStore.open({ stateDir: join(ws.dir, 'back') });
    expect((await returned.accounts()).map((a) => a.name)).toEqual(['alice', 'Root']);
    await returned.close();
  });

  it('refuses while a process holds the state, naming it', async () => {
    ws = workspace({ people: 3, groups: 0 });
    await ws.cycle();
    const db = await createDatabase('copy_busy');
    databases.push(db);
    const target = await PostgresStore.open(db.url);
    const holder = thisProcess('idsync serve');
    await target.acquireLease(holder, () => false);
    await expect(migrateState({ stateDir: join(ws.dir, '.idsync') }, db.url)).rejects.toMatchObject({
      code: 'STATE_BUSY',
      message: expect.stringContaining(`idsync serve (pid ${process.pid}`),
    });
    await target.releaseLease(holder.owner);
    await target.close();
  });
});

/** the same workspace, its config now naming the PostgreSQL state */
function reconfigure(from: Workspace, url: string): Workspace {
  const text = readFileSync(from.configPath, 'utf8');
  from.writeConfig(text.replace(/^state:\n/m, `state:\n  url: ${url}\n`));
  return from;
}
