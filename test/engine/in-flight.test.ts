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
