/**
 * Import: a delta page applies each change on top of the ones before it in the same page, so the connector
 * space ends as the system is, not as it was before the page with only the last change applied.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

describe('a full import of a changed feed whose unchanged rows the connector vouches for', () => {
  it('applies the changed and new rows, keeps the others, and marks the removed ones gone', async () => {
    ws = workspace({ people: 60 });
    await ws.cycle();
    const people = ws.people.map((p) => ({ ...p }));
    people[5]!.title = 'Chief Digest Officer';
    const [removed] = people.splice(10, 1);
    people.push({ ...people[0]!, employeeId: 'E-NEW-1', email: 'new.person@example.com', managerId: '' });
    ws.writePeople(people);

    const report = await ws.cycle();
    const hr = report.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!;
    expect({ added: hr.added, updated: hr.updated, deleted: hr.deleted, unchanged: hr.unchanged }).toEqual({
      added: 1,
      updated: 1,
      deleted: 1,
      unchanged: 58,
    });
    // the row digests the second import compared against, and those it left for the next
    expect(readdirSync(join(ws.dir, '.idsync', 'csv', 'hr')).filter((f) => f.endsWith('.rows'))).toHaveLength(2);
    const dir = ws.directory();
    const users = snapshot(dir).users;
    dir.close();
    expect(users[people[5]!.email.toLowerCase()]?.title).toBe('Chief Digest Officer');
    expect(users[removed!.email.toLowerCase()]?.active).toBe(false);
    expect(users['new.person@example.com']?.active).toBe(true);
    expect(Object.values(users).filter((u) => u.active === true)).toHaveLength(
      people.filter((p) => p.status === 'active').length,
    );
  });

  it('clears the error of a duplicate row once it is gone, though the row it duplicated is unchanged', async () => {
    ws = workspace({ people: 10 });
    const duplicate = { ...ws.people[3]!, firstName: 'Twin' };
    ws.writePeople([...ws.people, duplicate]);
    await ws.cycle();
    const errorsOf = async () => {
      const engine = await ws.engine();
      try {
        return (await engine.store.errors('hr')).map((e) => [e.key, e.code]);
      } finally {
        await engine.close();
      }
    };
    expect(await errorsOf()).toEqual([[duplicate.employeeId, 'CSV_DUPLICATE_ANCHOR']]);

    ws.writePeople(ws.people);
    expect((await ws.cycle()).status).toBe('ok');
    expect(await errorsOf()).toEqual([]);
  });

  it('compares every row after an import that was cut short, though the feed is back to that of the last complete one', async () => {
    ws = workspace({ people: 30 });
    ws.writeConfig(readFileSync(ws.configPath, 'utf8').replace(/(\n {2}hr:[^\n]*\n {4}type: csv\n)/, '$1    pageSize: 5\n'));
    await ws.cycle();
    const original = ws.people;
    // One title changed near the top, and a quote never closed at the end: the pages before it commit, then
    // the import fails.
    const changed = original.map((p, i) => (i === 1 ? { ...p, title: 'Interim Title' } : p));
    ws.writePeople(changed);
    appendFileSync(join(ws.dir, 'data', 'hr.csv'), 'E9999999,"never closed\n');
    const failed = await ws.cycle();
    expect(failed.stats.find((s) => s.connector === 'hr' && s.phase === 'import')?.status).toBe('failed');

    // Byte for byte the feed of the last complete import: neither its watermark nor its row digests describe
    // the connector space now, which holds the interim title.
    ws.writePeople(original);
    expect((await ws.cycle()).status).toBe('ok');
    const dir = ws.directory();
    const users = snapshot(dir).users;
    dir.close();
    expect(users[original[1]!.email.toLowerCase()]?.title).toBe(original[1]!.title);
  });
});
