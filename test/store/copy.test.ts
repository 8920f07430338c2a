/**
 * Moving a state between stores: a SQLite state after real cycles, copied to PostgreSQL and back, verified,
 * and the engine goes on from the copy as if nothing happened.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateState } from '../../src/store/index.js';
import { thisProcess } from '../../src/store/lease.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
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
