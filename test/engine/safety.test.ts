/** The deletion threshold, approval, and plan/apply. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Directory } from '../../src/directory/index.js';
import { Engine } from '../../src/engine/engine.js';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

const DELETE_CONFIG = SAMPLE_CONFIG.replace('deleteThreshold: { count: 500, percent: 10 }', 'deleteThreshold: 5').replace(
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

/** The directory's user ids → userNames (the built-in directory names its objects by id). */
function userNames(ws: Workspace): Map<string, string> {
  const dir = ws.directory();
  const users = dir.list({ limit: 100_000 }).filter((o) => o.type === 'user');
  dir.close();
  return new Map(users.map((u) => [u.id, String(u.attributes.userName?.[0])]));
}

/** The directory's users that are active (not disabled), by userName. */
function activeUsers(ws: Workspace): string[] {
  const dir = ws.directory();
  const users = snapshot(dir).users;
  dir.close();
  return Object.keys(users).filter((u) => users[u]!.active === true);
}

describe('the default threshold counts disables and protects small installations', () => {
  it('holds 30 disables out of 200 accounts (more than 10%), shows them in the plan, and lets them through once approved', async () => {
    ws = workspace({ people: 200, groups: 0 });
    await ws.cycle();
    const active = activeUsers(ws);
    const people = ws.people.map((p) => ({ ...p }));
    const leaving = people.filter((p) => p.status === 'active').slice(0, 30);
    for (const p of leaving) p.status = 'terminated';
    ws.writePeople(people);

    const held = await ws.cycle();
    expect(held.status).toBe('held');
    const exportStats = held.stats.find((s) => s.connector === 'directory' && s.phase === 'export')!;
    expect(exportStats.hold).toMatchObject({ connector: 'directory', phase: 'export', count: 30, limit: 20 });
    expect(exportStats.hold!.message).toContain('30 disables');
    expect(activeUsers(ws)).toEqual(active);

    const engine = await ws.engine();
    const plan = await engine.cycle({ mode: 'plan' });
    const disables = plan.planned.filter((p) => p.disable);
    const names = userNames(ws);
    expect(disables.map((p) => names.get(p.anchor!)).sort()).toEqual(leaving.map((p) => p.email.toLowerCase()).sort());
    expect(disables.every((p) => p.held && p.heldBy?.connector === 'directory' && p.heldBy.phase === 'export')).toBe(true);
    expect(disables[0]!.changes).toEqual([{ attribute: 'active', old: ['true'], new: ['false'] }]);
    const status = await engine.status();
    expect(status.connectors.find((c) => c.name === 'directory')!.holds).toMatchObject([{ phase: 'export', count: 30, limit: 20 }]);
    await engine.approve('directory');
    await engine.close();

    const approved = await ws.cycle();
    expect(approved.status).toBe('ok');
    expect(activeUsers(ws)).toHaveLength(active.length - 30);
    const after = await ws.engine();
    expect((await after.status()).connectors.find((c) => c.name === 'directory')!.holds).toEqual([]);
    await after.close();
  });

  it('holds a 200-row feed cut to 10, and the plan lists every disable that approving it would bring', async () => {
    ws = workspace({ people: 200, groups: 2, groupSize: 20 });
    await ws.cycle();
    const active = activeUsers(ws);
    ws.writePeople(ws.people.slice(0, 10));

    const held = await ws.cycle();
    expect(held.status).toBe('held');
    expect(held.holds).toMatchObject([{ connector: 'hr', phase: 'import', count: 190, limit: 20, population: 200 }]);
    expect(activeUsers(ws)).toEqual(active);

    const engine = await ws.engine();
    const plan = await engine.cycle({ mode: 'plan' });
    expect(plan.status).toBe('held');
    expect(plan.holds).toMatchObject([{ connector: 'hr', phase: 'import', count: 190 }]);
    // what approving would do: every remaining active account of the 190 disabled, by name, held by hr's import
    const wouldDisable = plan.heldChanges.filter((p) => p.connector === 'directory' && p.disable);
    const gone = ws.people.slice(10).filter((p) => p.status === 'active').map((p) => p.email.toLowerCase());
    const names = userNames(ws);
    expect(wouldDisable.map((p) => names.get(p.anchor!)).sort()).toEqual(gone.sort());
    expect(plan.heldChanges.every((p) => p.held && p.heldBy?.connector === 'hr' && p.heldBy.phase === 'import')).toBe(true);
    // and nothing of that is pending: the plan left the state as it was
    const status = await engine.status();
    expect(status.metaverse.person).toBe(200);
    expect(status.connectors.find((c) => c.name === 'hr')!.holds).toMatchObject([{ phase: 'import', count: 190, limit: 20, population: 200 }]);
    await engine.close();
    expect(activeUsers(ws)).toEqual(active);
  });
});

describe('rows that cannot be read', () => {
  it('a blank anchor is an object error, not a leaver: nobody is disabled and no membership removed', async () => {
    // a threshold far above the count: the rows themselves must not count as leavers
    ws = workspace({ people: 40, groups: 2, groupSize: 15, config: SAMPLE_CONFIG.replace('deleteThreshold: { count: 500, percent: 10 }', 'deleteThreshold: 1000') });
    await ws.cycle();
    const dir = ws.directory();
    const before = snapshot(dir);
    dir.close();
    ws.writePeople(ws.people.map((p, i) => (i >= 5 && i < 15 ? { ...p, employeeId: '' } : p)));

    const report = await ws.cycle();
    expect(report.status).toBe('errors');
    const hr = report.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!;
    expect(hr).toMatchObject({ errors: 10, deleted: 0 });
    expect(hr.detail).toContain('10 records could not be read');
    const after = ws.directory();
    expect(snapshot(after)).toEqual(before);
    after.close();
    const engine = await ws.engine();
    const status = await engine.status();
    expect(status.metaverse.person).toBe(40);
    expect(status.errors.filter((e) => e.code === 'CSV_ANCHOR_MISSING')).toHaveLength(10);
    await engine.close();

    // the anchors filled in again: the errors (keyed by line) go, nothing changed
    ws.writePeople(ws.people);
    expect((await ws.cycle()).status).toBe('ok');
    const fixed = await ws.engine();
    expect((await fixed.status()).errors).toEqual([]);
    await fixed.close();
  });
});

describe('a NULL key in a SQL source', () => {
  it('is an object error, not a leaver: the people whose keys went NULL keep their accounts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idsync-null-key-'));
    try {
      const db = new Database(join(dir, 'hr.db'));
      db.exec('CREATE TABLE staff (emp_no TEXT, name TEXT NOT NULL)'); // no primary key: a view or an export table
      for (let i = 1; i <= 10; i++) db.prepare('INSERT INTO staff VALUES (?, ?)').run(`E${i}`, `person${i}`);
      writeFileSync(
        join(dir, 'idsync.yaml'),
        `safety: { deleteThreshold: 1000 }
connectors:
  hr:
    type: sql
    driver: sqlite
    file: hr.db
    objectTypes:
      person: { table: staff, anchor: emp_no, attributes: { emp_no: employeeId, name: login } }
  directory: { type: builtin }
rules:
  - { name: in, connector: hr, direction: inbound, objectType: person, metaverseType: person, project: true,
      join: [[{ source: employeeId, metaverse: employeeId }]],
      flows: [{ target: employeeId, source: employeeId }, { target: login, source: login }] }
  - { name: out, connector: directory, direction: outbound, metaverseType: person, objectType: user, deprovision: disable,
      join: [[{ target: userName }]],
      flows: [{ target: userName, source: login }, { target: active, constant: true }] }
`,
      );
      const cycle = async () => {
        const engine = await Engine.open(loadConfig(join(dir, 'idsync.yaml')));
        try {
          return { report: await engine.cycle(), status: await engine.status() };
        } finally {
          await engine.close();
        }
      };
      const active = () => {
        const directory = new Directory(join(dir, '.idsync', 'directory.db'));
        const users = directory.list({ limit: 100 }).filter((o) => o.type === 'user' && o.attributes.active?.[0] === true);
        directory.close();
        return users.length;
      };
      expect((await cycle()).report.status).toBe('ok');
      expect(active()).toBe(10);
      db.exec("UPDATE staff SET emp_no = NULL WHERE emp_no IN ('E2', 'E5', 'E7')");
      db.close();
      const { report, status } = await cycle();
      expect(report.status).toBe('errors');
      expect(report.stats.find((s) => s.connector === 'hr' && s.phase === 'import')).toMatchObject({ deleted: 0, errors: 1 });
      expect(status.errors).toMatchObject([{ code: 'SQL_ANCHOR_NULL', message: '3 rows have NULL in anchor column(s) emp_no' }]);
      expect(status.metaverse.person).toBe(10);
      expect(active()).toBe(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a duplicate anchor', () => {
  it('changes neither object: an earlier bogus row does not win over the real one, and a new anchor creates nothing', async () => {
    ws = workspace({ people: 20, groups: 0 });
    await ws.cycle();
    const dir = ws.directory();
    const before = snapshot(dir);
    dir.close();
    const real = ws.people[7]!;
    const bogus = { ...real, firstName: 'Bogus', lastName: 'Row', email: 'bogus.row@example.com', title: 'Impostor' };
    const fresh = { ...ws.people[0]!, employeeId: 'E-NEW-1', email: 'new.one@example.com', managerId: '' };
    const other = { ...fresh, email: 'new.two@example.com' };
    // the bogus row comes first (line 2), the real one stays on its line (line 10); two rows for one new anchor
    ws.writePeople([bogus, ...ws.people, fresh, other]);

    const report = await ws.cycle();
    expect(report.status).toBe('errors');
    const after = ws.directory();
    expect(snapshot(after)).toEqual(before);
    after.close();
    const engine = await ws.engine();
    const errors = (await engine.status()).errors.filter((e) => e.code === 'CSV_DUPLICATE_ANCHOR');
    // one error per object, naming both lines: the later row as the duplicate
    expect(errors.map((e) => [e.key, e.location, e.message])).toEqual([
      ['E-NEW-1', 'data/hr.csv:24', 'anchor E-NEW-1 already on data/hr.csv:23: no row of it is applied until only one is left'],
      [real.employeeId, 'data/hr.csv:10', `anchor ${real.employeeId} already on data/hr.csv:2: no row of it is applied until only one is left`],
    ]);
    await engine.close();

    // the bogus row removed: the error goes, the person is as before
    ws.writePeople(ws.people);
    expect((await ws.cycle()).status).toBe('ok');
    const fixed = ws.directory();
    expect(snapshot(fixed)).toEqual(before);
    fixed.close();
  });
});

describe('plan = apply', () => {
  it('a first plan shows the manager of each new user and the members of each new group, as apply sends them', async () => {
    ws = workspace({ people: 30, groups: 2, groupSize: 6 });
    const engine = await ws.engine();
    const plan = await engine.cycle({ mode: 'plan' });
    const creates = new Map(plan.planned.filter((p) => p.op === 'create').map((p) => [p.object, p]));
    const emailOf = new Map(ws.people.map((p) => [p.employeeId, p.email.toLowerCase()]));
    for (const person of ws.people.filter((p) => p.status === 'active' && p.managerId !== '')) {
      const manager = creates.get(person.email.toLowerCase())!.changes.find((c) => c.attribute === 'manager');
      expect(manager?.new, person.email).toEqual([emailOf.get(person.managerId)]);
    }
    for (const group of ws.groups) {
      const members = creates.get(group.name)!.changes.find((c) => c.attribute === 'members');
      const active = group.members.filter((m) => ws.people.find((p) => p.employeeId === m)?.status === 'active');
      expect(members?.new.slice().sort(), group.name).toEqual(active.map((m) => emailOf.get(m)).sort());
    }

    const applied = await engine.apply();
    await engine.close();
    // apply sent the same attributes for every create; the references as the directory's ids
    const sent = new Map(applied.planned.filter((p) => p.op === 'create').map((p) => [p.object, p.changes.map((c) => c.attribute)]));
    expect(sent).toEqual(new Map([...creates].map(([object, p]) => [object, p.changes.map((c) => c.attribute)])));
    const dir = ws.directory();
    const snap = snapshot(dir);
    dir.close();
    for (const person of ws.people.filter((p) => p.status === 'active' && p.managerId !== '')) {
      expect(snap.users[person.email.toLowerCase()]!.manager).toBe(`→${emailOf.get(person.managerId)}`);
    }
  });
});
