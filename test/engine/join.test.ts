/** Two sources joined into one metaverse person; precedence per attribute; ambiguous joins. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

const TWO_SOURCES = `
safety: { deleteThreshold: 500 }   # the badges feed loses 2 of its 3 rows below: more than 10%
connectors:
  hr: { type: csv, path: data/hr.csv, objectType: person, anchor: employeeId }
  badges: { type: csv, path: data/badges.csv, objectType: badge, anchor: badgeId }
  directory: { type: builtin }
rules:
  - name: hr-in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    precedence: 20
    flows:
      - { target: employeeId, source: employeeId }
      - { target: displayName, expression: 'Join(" ", [firstName], [lastName])' }
      - { target: title, source: title }
      - { target: email, source: email }
  - name: badges-in
    connector: badges
    direction: inbound
    objectType: badge
    metaverseType: person
    join:
      - [{ source: owner, metaverse: employeeId }]
      - [{ source: ownerEmail, metaverse: email }]
    project: false
    precedence: 10
    flows:
      - { target: displayName, source: preferredName }
      - { target: title, source: badgeTitle }
      - { target: phoneNumber, source: phone }
  - name: out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: userName }]]
    flows:
      - { target: userName, source: email }
      - { target: displayName, source: displayName }
      - { target: title, source: title }
      - { target: phoneNumber, source: phoneNumber }
`;

let ws: Workspace;
afterEach(() => ws?.cleanup());

function writeBadges(rows: string[]): void {
  writeFileSync(join(ws.dir, 'data', 'badges.csv'), `badgeId,owner,ownerEmail,preferredName,badgeTitle,phone\n${rows.join('\n')}\n`);
}

describe('joining two sources', () => {
  it('joins a second source to the person and lets the lower precedence number win per attribute', async () => {
    ws = workspace({ people: 10, config: TWO_SOURCES });
    const [a, b] = [ws.people[3]!, ws.people[4]!];
    writeBadges([
      // joins by employeeId; sets displayName, leaves title empty (HR's title stays), adds a phone
      `B1,${a.employeeId},,Annie,,+1 555 0100`,
      // no owner id: joins by email through the second join group
      `B2,,${b.email.toUpperCase()},Bee,Badge Title,`,
      // matches nobody and the rule does not project: a disconnector, nothing created
      'B3,E999999,nobody@example.com,Ghost,,',
    ]);
    const report = await ws.cycle();
    expect(report.status).toBe('ok');
    const dir = ws.directory();
    const snap = snapshot(dir);
    dir.close();
    expect(Object.keys(snap.users)).toHaveLength(10);
    expect(snap.users[a.email]).toMatchObject({ displayName: 'Annie', title: a.title, phoneNumber: '+1 555 0100' });
    expect(snap.users[b.email]).toMatchObject({ displayName: 'Bee', title: 'Badge Title' });
    expect(snap.users[b.email]?.phoneNumber).toBeUndefined();

    // The badge goes away: HR's values take over again.
    writeBadges([`B2,,${b.email},Bee,Badge Title,`]);
    await ws.cycle();
    const dir2 = ws.directory();
    const after = snapshot(dir2);
    dir2.close();
    expect(after.users[a.email]).toMatchObject({ displayName: `${a.firstName} ${a.lastName}`, title: a.title });
    expect(after.users[a.email]?.phoneNumber).toBeUndefined();
  });

  it('treats a join that matches two metaverse objects as an object error and changes nothing', async () => {
    ws = workspace({ people: 6, config: TWO_SOURCES });
    const people = ws.people.map((p) => ({ ...p }));
    people[1]!.email = 'shared@example.com';
    people[2]!.email = 'shared@example.com';
    people[2]!.employeeId = 'E200002';
    ws.writePeople(people.slice(0, 3));
    writeBadges(['B9,,shared@example.com,Ambiguous,,']);
    const report = await ws.cycle();
    expect(report.status).toBe('errors');
    const engine = await ws.engine();
    const errors = await engine.store.errors('badges');
    const entries = await engine.store.log({ object: 'B9' });
    await engine.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ key: 'B9', code: 'JOIN_AMBIGUOUS', phase: 'sync' });
    expect(entries.at(-1)).toMatchObject({ situation: 'ambiguous', action: 'error', status: 'error' });
    const dir = ws.directory();
    const snap = snapshot(dir);
    dir.close();
    expect(Object.values(snap.users).map((u) => u.displayName)).not.toContain('Ambiguous');
  });
});
