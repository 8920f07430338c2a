/** SelectUniqueValue against the target: values taken there, and values two new objects want in one run. */
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

const UNIQUE = SAMPLE_CONFIG.replace(
  '      - { target: userName, source: email }',
  `      - target: userName
        applyOn: create
        expression: >-
          SelectUniqueValue(Join("@", ToLower([givenName]), "example.com"),
            Join("@", ToLower(Join(".", [givenName], [familyName])), "example.com"),
            Join("@", ToLower(Join(".", [givenName], [familyName], [employeeId])), "example.com"))`,
).replace('      - [{ target: userName }]   # an existing', '      - [{ target: externalId }]   # an existing');

describe('SelectUniqueValue', () => {
  it('skips values the target already has and values another new object took in the same run', async () => {
    ws = workspace({ people: 3, groups: 0, config: UNIQUE });
    const people = ws.people.map((p, i) => ({ ...p, firstName: 'Kim', lastName: i === 2 ? 'Other' : 'Lee' }));
    ws.writePeople(people);
    const dir = ws.directory();
    dir.create('user', { userName: ['kim@example.com'], displayName: ['Someone else'], externalId: ['X1'] });
    dir.close();

    const report = await ws.cycle();
    expect(report.status).toBe('ok');
    const after = ws.directory();
    const snap = snapshot(after);
    after.close();
    const byEmployee = Object.fromEntries(Object.values(snap.users).map((u) => [u.externalId, u.userName]));
    // kim@ is taken in the target; of the two Kim Lees (in whichever order they were synced) one gets the
    // second candidate and the other the third, which carries their own employee id
    const lees = [people[0]!.employeeId, people[1]!.employeeId];
    const second = lees.find((id) => byEmployee[id] === 'kim.lee@example.com');
    const third = lees.find((id) => id !== second)!;
    expect(second).toBeDefined();
    expect(byEmployee[third]).toBe(`kim.lee.${third.toLowerCase()}@example.com`);
    expect(byEmployee[people[2]!.employeeId]).toBe('kim.other@example.com');
    // stable on the next run: no value moves to another candidate
    const again = await ws.cycle();
    expect(again.stats.find((s) => s.connector === 'directory' && s.phase === 'export')).toMatchObject({ added: 0, updated: 0 });
    const later = ws.directory();
    expect(snapshot(later).users).toEqual(snap.users);
    later.close();
  });
});
