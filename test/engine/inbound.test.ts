/**
 * Inbound sync of objects that reference each other: whatever order the source lists them in, one cycle
 * resolves every reference (a report listed before its manager, a group before its members).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('references in any order', () => {
  it('resolves a manager listed after the report within the same page, in one cycle', async () => {
    ws = workspace({ people: 40, groups: 1, groupSize: 5 });
    // reports first, managers last: each manager is synced after the objects that reference it
    const reversed = [...ws.people].reverse();
    ws.writePeople(reversed);
    const report = await ws.cycle();
    expect(report.status).toBe('ok');
    const dir = ws.directory();
    const users = dir.list({ type: 'user', limit: 1000 });
    const idByEmployee = new Map(users.map((u) => [String(u.attributes.externalId![0]), u.id]));
    const withManager = ws.people.filter((p) => p.managerId);
    expect(withManager.length).toBeGreaterThan(10);
    for (const p of withManager) {
      const user = users.find((u) => u.attributes.externalId?.[0] === p.employeeId)!;
      expect(user.attributes.manager, `manager of ${p.employeeId}`).toEqual([{ ref: idByEmployee.get(p.managerId!) }]);
    }
    dir.close();
    // and nothing is left for a second cycle to do
    const second = await ws.cycle();
    const exported = second.stats.find((s) => s.connector === 'directory' && s.phase === 'export')!;
    expect(exported).toMatchObject({ added: 0, updated: 0, deleted: 0 });
  });
});
