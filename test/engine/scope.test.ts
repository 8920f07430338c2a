/** Outbound scoping by metaverse group membership (IS MEMBER OF), and leaving the scope. */
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

const MEMBERS_ONLY = SAMPLE_CONFIG.replace(
  '      - [{ attribute: status, operator: NOT EQUALS, value: terminated }]',
  '      - [{ attribute: status, operator: NOT EQUALS, value: terminated }, { attribute: memberOf, operator: IS MEMBER OF, value: Project 1 }]',
);

describe('IS MEMBER OF', () => {
  it('provisions only members of the named metaverse group, and disables those who leave it', async () => {
    ws = workspace({ people: 30, groups: 2, groupSize: 4, config: MEMBERS_ONLY });
    const project = ws.groups.find((g) => g.name === 'Project 1')!;
    await ws.cycle();
    const emailOf = new Map(ws.people.map((p) => [p.employeeId, p.email]));
    let dir = ws.directory();
    let snap = snapshot(dir);
    dir.close();
    expect(Object.keys(snap.users).sort()).toEqual(project.members.map((m) => emailOf.get(m)!).sort());

    const leaving = project.members[0]!;
    ws.writeGroups(ws.groups.map((g) => (g === project ? { ...g, members: g.members.slice(1) } : g)));
    await ws.cycle();
    dir = ws.directory();
    snap = snapshot(dir);
    dir.close();
    expect(snap.users[emailOf.get(leaving)!]).toMatchObject({ active: false });
    expect(snap.users[emailOf.get(project.members[1]!)!]).toMatchObject({ active: true });
  });
});
