/**
 * The crash window of an export: the target applied a create, the process died before recording it.
 * The next run must find the object it made and link it, not create a second one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('an export interrupted after the target applied it', () => {
  it('links the object the lost create made instead of creating a duplicate', async () => {
    ws = workspace({ people: 6, groups: 0 });
    const engine = await ws.engine();
    await engine.cycle({ mode: 'plan' });
    const pending = await engine.store.pending('directory');
    expect(pending.filter((p) => p.op === 'create' && p.rule === 'directory-users')).toHaveLength(6);

    // What a crash between "sent" and "recorded" leaves: rows marked in-flight, objects in the target.
    const victim = ws.people[2]!;
    const dir = ws.directory();
    dir.create('user', { userName: [victim.email], displayName: ['made before the crash'], active: [true] });
    dir.close();
    await engine.store.transaction(() => engine.store.setPendingState(pending.map((p) => p.csId), 'in-flight'));

    const report = await engine.cycle();
    await engine.close();
    expect(report.status).toBe('ok');
    const after = ws.directory();
    const snap = snapshot(after);
    expect(after.counts().users).toBe(6);
    after.close();
    // linked, then brought to the desired state by an update
    expect(snap.users[victim.email]).toMatchObject({ displayName: `${victim.firstName} ${victim.lastName}`, externalId: victim.employeeId });
  });
});

describe('a run that never finished', () => {
  it('makes the next run a full sync, which re-derives every pending export', async () => {
    ws = workspace({ people: 5, groups: 0 });
    await ws.cycle();
    const engine = await ws.engine();
    // what a killed process leaves: a run still marked running, and derived state missing (here: a pending
    // export dropped although the target lacks the change)
    await engine.store.startRun('delta');
    const dir = ws.directory();
    const victim = dir.findBy('userName', ws.people[1]!.email)[0]!;
    dir.update(victim.id, { title: { replace: ['Changed behind idsync'] } });
    dir.close();
    const report = await engine.cycle();
    await engine.close();
    expect(report.fullSync).toBe(true);
    const after = ws.directory();
    expect(after.findBy('userName', ws.people[1]!.email)[0]!.attributes.title).toEqual([ws.people[1]!.title]);
    after.close();
    const again = await ws.cycle();
    expect(again.fullSync).toBe(false);
  });
});

describe('a group whose create reached the target before a crash, before its members existed there', () => {
  it('gets every member in the run after the crash, once the members are created in that run', async () => {
    ws = workspace({ people: 20, groups: 1, groupSize: 10 });
    const project = ws.groups.find((g) => g.name === 'Project 1')!;
    const engine = await ws.engine();
    await engine.cycle({ mode: 'plan' });
    const pending = await engine.store.pending('directory');
    const group = pending.find((p) => p.rule === 'directory-groups' && p.desired.externalId?.[0] === project.groupId)!;
    expect(group.op).toBe('create');

    // What a kill leaves when the group's batch went before its members' batches: the create reached the
    // directory with none of its members (they had no target object yet), the row is in-flight, the run is
    // still marked running, and the members' creates were never sent.
    const dir = ws.directory();
    dir.create('group', { displayName: [project.name], externalId: [project.groupId] });
    dir.close();
    await engine.store.transaction(() => engine.store.setPendingState([group.csId], 'in-flight'));
    await engine.store.startRun('delta');

    // The run after the crash is a full sync; it links the group, creates the members, and must then send the
    // group's members in the same run: a later pass, not the next scheduled cycle.
    const report = await engine.cycle();
    expect(report.fullSync).toBe(true);
    expect(report.status).toBe('ok');
    const status = await engine.status();
    await engine.close();
    const after = ws.directory();
    const snap = snapshot(after);
    after.close();
    const emails = new Map(ws.people.map((p) => [p.employeeId, p.email]));
    expect(snap.groups[project.name]).toEqual(project.members.map((id) => `→${emails.get(id)}`).sort());
    expect(status.connectors.find((c) => c.name === 'directory')!.pendingExports).toBe(0);
  });
});
