/**
 * The engine end to end over real connectors: HR CSV files → metaverse → the built-in directory; the cycles
 * over each store (SQLite, and PostgreSQL at the test server in a database of the test's own).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import type { CycleReport } from '../../src/engine/engine.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';
import { snapshot, type Workspace, workspace as newWorkspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

function exported(report: CycleReport, connector = 'directory') {
  const s = report.stats.find((x) => x.connector === connector && x.phase === 'export');
  return { added: s?.added ?? 0, updated: s?.updated ?? 0, deleted: s?.deleted ?? 0, errors: s?.errors ?? 0 };
}

describe.each(['SQLite', 'PostgreSQL'])('a cycle, the state in %s', (store) => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });
  /** a workspace whose state is in this store */
  const workspace = async (options: Parameters<typeof newWorkspace>[0]) => {
    if (store === 'PostgreSQL') db = await createDatabase('cycle');
    return newWorkspace({ ...options, ...(db && { stateUrl: db.url }) });
  };

  it('provisions every person and group, with managers and members resolved', async () => {
    ws = await workspace({ people: 30, groups: 2, groupSize: 6 });
    const report = await ws.cycle();
    expect(report.status).toBe('ok');
    // the state is where the config puts it: nothing written to SQLite when it is in PostgreSQL
    expect(existsSync(join(ws.dir, '.idsync', 'state.db'))).toBe(store === 'SQLite' && process.env.IDSYNC_TEST_STATE !== 'postgres');
    // each object is created once with its references: managers and groups in the same page as the people
    // they reference are sent first, so nothing needs a follow-up update
    expect(exported(report)).toEqual({ added: 30 + 8 + 2, updated: 0, deleted: 0, errors: 0 });

    const dir = ws.directory();
    const snap = snapshot(dir);
    dir.close();
    expect(Object.keys(snap.users)).toHaveLength(30);
    const p = ws.people[12]!;
    const manager = ws.people.find((m) => m.employeeId === p.managerId)!;
    expect(snap.users[p.email]).toMatchObject({
      userName: p.email,
      displayName: `${p.firstName} ${p.lastName}`,
      department: p.department,
      externalId: p.employeeId,
      active: true,
      manager: `→${manager.email}`,
    });
    const project = ws.groups.find((g) => g.name === 'Project 1')!;
    const emailOf = new Map(ws.people.map((x) => [x.employeeId, x.email]));
    expect(snap.groups['Project 1']).toEqual(project.members.map((m) => `→${emailOf.get(m)}`).sort());
  });

  it('a second run with no source change exports nothing', async () => {
    ws = await workspace({ people: 25 });
    await ws.cycle();
    const second = await ws.cycle();
    expect(second.status).toBe('ok');
    expect(exported(second)).toEqual({ added: 0, updated: 0, deleted: 0, errors: 0 });
    const third = await ws.cycle();
    expect(exported(third)).toEqual({ added: 0, updated: 0, deleted: 0, errors: 0 });
    // nothing pending either: a plan now shows no change
    const engine = await ws.engine();
    const plan = await engine.cycle({ mode: 'plan' });
    await engine.close();
    expect(plan.planned).toEqual([]);
  });

  it('carries modifications, renames and deletions to the target', async () => {
    ws = await workspace({ people: 20, groups: 1, groupSize: 5 });
    await ws.cycle();
    const people = ws.people.map((p) => ({ ...p }));
    const moved = people[9]!;
    moved.department = 'Legal';
    moved.title = 'Counsel';
    const renamed = people[10]!;
    const oldEmail = renamed.email;
    renamed.lastName = 'Renamed';
    renamed.email = 'renamed.person@example.com';
    const leaver = people[11]!;
    ws.writePeople(people.filter((p) => p !== leaver));
    const groups = ws.groups.map((g) => ({ ...g, members: [...g.members] }));
    const project = groups.find((g) => g.name === 'Project 1')!;
    const removedMember = project.members.find((m) => m !== leaver.employeeId)!;
    project.members = project.members.filter((m) => m !== removedMember && m !== leaver.employeeId).concat([people[15]!.employeeId]);
    ws.writeGroups(groups);

    const report = await ws.cycle();
    expect(report.status).toBe('ok');
    const dir = ws.directory();
    const snap = snapshot(dir);
    dir.close();
    expect(snap.users[moved.email]).toMatchObject({ department: 'Legal', title: 'Counsel' });
    expect(snap.users[oldEmail]).toBeUndefined();
    expect(snap.users['renamed.person@example.com']).toMatchObject({ familyName: 'Renamed', externalId: renamed.employeeId });
    // the sample rules disable leavers rather than delete them
    expect(snap.users[leaver.email]).toMatchObject({ active: false });
    const emailOf = new Map(people.map((x) => [x.employeeId, x.email]));
    expect(snap.groups['Project 1']).toEqual([...new Set(project.members)].map((m) => `→${emailOf.get(m)}`).sort());
    expect(Object.keys(snap.users)).toHaveLength(20);
  });

  it('writes the provisioning log with each attribute old and new value', async () => {
    ws = await workspace({ people: 12 });
    await ws.cycle();
    const people = ws.people.map((p) => ({ ...p }));
    people[9]!.title = 'Principal';
    ws.writePeople(people);
    const report = await ws.cycle();
    const engine = await ws.engine();
    const entries = await engine.store.log({ runId: report.runId });
    await engine.close();
    const exportEntry = entries.find((e) => e.phase === 'export' && e.connector === 'directory' && e.action === 'update');
    expect(exportEntry?.changes).toEqual([{ attribute: 'title', old: [ws.people[9]!.title], new: ['Principal'] }]);
    expect(exportEntry?.status).toBe('success');
    const syncEntry = entries.find((e) => e.phase === 'sync' && e.connector === 'hr');
    expect(syncEntry?.situation).toBe('linked');
    expect(syncEntry?.steps.map((s) => s.step)).toContain('scope');
  });

});

describe('a cycle', () => {
  it('removes provisioning-log entries older than log.retentionDays after each cycle', async () => {
    ws = newWorkspace({ people: 6, groups: 0, config: SAMPLE_CONFIG.replace('retentionDays: 30', 'retentionDays: 7') });
    await ws.cycle();
    const state = join(ws.dir, '.idsync', 'state.db');
    const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();
    const db = new Database(state);
    const ids = db.prepare('SELECT id FROM log ORDER BY id').pluck().all() as number[];
    expect(ids.length).toBeGreaterThan(6);
    // half the entries are backdated past the retention, the rest to just inside it
    const half = ids.slice(0, ids.length >> 1);
    db.prepare('UPDATE log SET at = ? WHERE id IN (SELECT value FROM json_each(?))').run(daysAgo(10), JSON.stringify(half));
    db.prepare('UPDATE log SET at = ? WHERE id NOT IN (SELECT value FROM json_each(?))').run(daysAgo(6), JSON.stringify(half));
    db.close();

    await ws.cycle();
    const check = new Database(state, { readonly: true });
    const left = check.prepare('SELECT id FROM log ORDER BY id').pluck().all() as number[];
    check.close();
    expect(left).toEqual(ids.filter((id) => !half.includes(id)));
  });
});
