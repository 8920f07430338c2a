/** The deletion threshold, approval, and plan/apply. */
import { afterEach, describe, expect, it } from 'vitest';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

const DELETE_CONFIG = SAMPLE_CONFIG.replace('deleteThreshold: 500', 'deleteThreshold: 5').replace(
  '    deprovision: disable   # leaving HR, or terminated: the account is disabled (active = false)',
  '    deprovision: delete',
);

describe('deletion threshold', () => {
  it('holds a mass delete beyond the threshold until it is approved', async () => {
    ws = workspace({ people: 40, groups: 0, config: DELETE_CONFIG.replace('deleteThreshold: 5', 'deleteThreshold: "50%"') });
    await ws.cycle();
    ws.writePeople(ws.people.slice(0, 30)); // 10 leave: within HR's 50%, beyond the directory's own threshold below
    ws.writeConfig(DELETE_CONFIG.replace('deleteThreshold: 5', 'deleteThreshold: "50%"').replace('  directory:               # idsync', '  directory:\n    safety: { deleteThreshold: 5 }\n    # idsync'));
    const held = await ws.cycle();
    expect(held.status).toBe('held');
    const exportStats = held.stats.find((s) => s.connector === 'directory' && s.phase === 'export')!;
    expect(exportStats.status).toBe('held');
    expect(exportStats.detail).toContain('idsync approve directory');
    let dir = ws.directory();
    expect(Object.keys(snapshot(dir).users)).toHaveLength(40);
    dir.close();

    // Still held on the next run: nothing was approved.
    expect((await ws.cycle()).status).toBe('held');

    const engine = await ws.engine();
    await engine.approve('directory');
    await engine.close();
    const approved = await ws.cycle();
    expect(approved.status).toBe('ok');
    expect(approved.stats.find((s) => s.connector === 'directory' && s.phase === 'export')?.deleted).toBe(10);
    dir = ws.directory();
    expect(Object.keys(snapshot(dir).users)).toHaveLength(30);
    dir.close();
  });

  it('treats a source feed that suddenly lost most rows as suspect, not as leavers', async () => {
    ws = workspace({ people: 30, groups: 0, config: DELETE_CONFIG });
    await ws.cycle();
    ws.writePeople(ws.people.slice(0, 2));
    const report = await ws.cycle();
    expect(report.status).toBe('held');
    const importStats = report.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!;
    expect(importStats.status).toBe('held');
    expect(importStats.deleted).toBe(0);
    const engine = await ws.engine();
    expect((await engine.status()).metaverse.person).toBe(30);
    await engine.close();
    const dir = ws.directory();
    expect(Object.keys(snapshot(dir).users)).toHaveLength(30);
    dir.close();
  });
});

describe('plan and apply', () => {
  it('plan exports nothing and shows exactly what apply then does', async () => {
    ws = workspace({ people: 15, groups: 1, groupSize: 3 });
    await ws.cycle();
    const people = ws.people.map((p) => ({ ...p }));
    people[8]!.department = 'Finance';
    ws.writePeople([...people, { ...people[0]!, employeeId: 'E300000', email: 'new.person@example.com', managerId: '' }]);

    const engine = await ws.engine();
    const plan = await engine.cycle({ mode: 'plan' });
    const before = snapshot(ws.directory());
    expect(before.users['new.person@example.com']).toBeUndefined();
    const creates = plan.planned.filter((p) => p.op === 'create');
    const updates = plan.planned.filter((p) => p.op === 'update');
    expect(creates.map((c) => c.object)).toEqual(['new.person@example.com']);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.changes).toEqual([{ attribute: 'department', old: [ws.people[8]!.department], new: ['Finance'] }]);

    const applied = await engine.apply();
    await engine.close();
    expect(applied.planned.map((p) => [p.op, p.object, p.changes])).toEqual(plan.planned.map((p) => [p.op, p.object, p.changes]));
    const dir = ws.directory();
    const after = snapshot(dir);
    dir.close();
    expect(after.users['new.person@example.com']).toBeDefined();
    expect(after.users[people[8]!.email]).toMatchObject({ department: 'Finance' });
  });

  it('apply refuses a plan that no longer matches the pending changes', async () => {
    ws = workspace({ people: 5, groups: 0 });
    const engine = await ws.engine();
    await engine.cycle({ mode: 'plan' });
    const people = ws.people.map((p) => ({ ...p }));
    people[1]!.title = 'Changed after the plan';
    ws.writePeople(people);
    // a run limited to the HR connector imports and syncs, and exports nothing to the directory
    await engine.cycle({ connectors: ['hr'] });
    await expect(engine.apply()).rejects.toMatchObject({ code: 'PLAN_STALE' });
    const dir = ws.directory();
    expect(Object.keys(snapshot(dir).users)).toHaveLength(0);
    dir.close();
    await engine.close();
  });
});

describe('staging mode', () => {
  it('runs import and sync, exports nothing, and reports what it would export', async () => {
    ws = workspace({ people: 7, groups: 0, config: SAMPLE_CONFIG.replace('staging: false', 'staging: true') });
    const report = await ws.cycle();
    expect(report.staging).toBe(true);
    expect(report.planned.filter((p) => p.op === 'create' && p.objectType === 'user')).toHaveLength(7);
    const dir = ws.directory();
    expect(dir.counts().users).toBe(0);
    dir.close();
    const engine = await ws.engine();
    await expect(engine.apply()).rejects.toMatchObject({ code: 'STAGING_MODE' });
    await engine.close();
  });
});
