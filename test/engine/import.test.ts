/**
 * Import: a delta page applies each change on top of the ones before it in the same page, so the connector
 * space ends as the system is, not as it was before the page with only the last change applied.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('a delta page holding a group as it is now and a later membership change of it', () => {
  it('records the group as the directory holds it, so removed members are put back', async () => {
    ws = workspace({ people: 300, groups: 1, groupSize: 150 });
    const project = ws.groups.find((g) => g.name === 'Project 1')!;
    await ws.cycle();

    // Someone else (a SCIM client) removes 120 members in one request, which re-stamps the group (a delta
    // reader gets the whole group), then one more, which is logged as one membership change.
    const dir = ws.directory();
    const group = dir.findBy('externalId', project.groupId, 'group')[0]!;
    const members = dir.memberIds(group.id);
    dir.removeMembers(group.id, members.slice(0, 120));
    dir.removeMembers(group.id, [members[120]!]);
    expect(dir.memberIds(group.id)).toHaveLength(29);
    dir.close();

    // The next cycle sees both in one page and must put all 121 back: the group in its rules has 150.
    const report = await ws.cycle();
    expect(report.status).toBe('ok');
    const after = ws.directory();
    const snap = snapshot(after);
    after.close();
    expect(snap.groups[project.name]).toHaveLength(150);
  });
});
