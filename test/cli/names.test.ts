/**
 * Names, not UUIDs: every command shows objects by names a person knows (userName, DN, displayName, table
 * key), references by the name of what they refer to, and multi-valued changes as what is added and removed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runMain } from '../helpers/main.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

const idsync = (...args: string[]) => runMain([...args, '--config', join(dir, 'idsync.yaml')]);

/** The sample workspace (`idsync init`), run once: 200 people and 12 groups in the built-in directory. */
async function sample() {
  dir = mkdtempSync(join(tmpdir(), 'idsync-names-'));
  expect((await main(['init', dir], { out() {}, err() {} }))).toBe(0);
  expect((await idsync('run', '--once')).code).toBe(0);
}

/** Rewrites rows of the sample HR feed: employeeId → the row's fields changed. */
function editPeople(edit: Record<string, (fields: string[]) => string[] | null>) {
  const file = join(dir, 'data', 'hr.csv');
  const rows = readFileSync(file, 'utf8').split('\n');
  const out: string[] = [];
  for (const row of rows) {
    const fields = row.split(',');
    const change = edit[fields[0]!];
    if (!change) out.push(row);
    else {
      const next = change(fields);
      if (next) out.push(next.join(','));
    }
  }
  writeFileSync(file, out.join('\n'));
}

const field = { email: 3, department: 4, managerId: 6 };

function person(id: string) {
  const row = readFileSync(join(dir, 'data', 'hr.csv'), 'utf8').split('\n').find((r) => r.startsWith(`${id},`))!.split(',');
  return { email: row[field.email]!.toLowerCase(), department: row[field.department]!, managerId: row[field.managerId]! };
}

describe('names, not UUIDs', () => {
  it('plan names each updated object, a reference by its target, and a group change as +added/-removed with a count', async () => {
    await sample();
    const leaver = person('E100010');
    const mover = person('E100012');
    const newManager = person('E100001');
    const oldManager = person(mover.managerId);
    editPeople({ E100010: () => null, E100012: (f) => Object.assign([...f], { [field.managerId]: 'E100001' }) });
    const plan = await idsync('plan');
    expect(plan.code).toBe(0);
    expect(plan.out).not.toMatch(UUID);
    expect(plan.out).toContain(`~ disable user ${leaver.email}`);
    expect(plan.out).toContain(`~ update user ${mover.email}\n      manager: ${oldManager.email} → ${newManager.email}`);
    // the leaver's department group loses one member out of 25: one name, not two lists of 25
    expect(plan.out).toContain(`~ update group ${leaver.department}\n      members: +0, -1; 24 in all: -${leaver.email}`);

    const json = JSON.parse((await idsync('plan', '--json')).out);
    const managerChange = json.targets.directory.changes.find((c: any) => c.name === mover.email);
    // ids stay (machines need them); names come beside them
    expect(managerChange.anchor).toMatch(UUID);
    expect(managerChange.object).toMatch(UUID);
    const [manager] = managerChange.attributes.find((a: any) => a.attribute === 'manager').new;
    expect(manager).toMatch(UUID);
    expect(managerChange.names[manager]).toBe(newManager.email);
  });

  it('plan of 212 creates is a summary and the first changes of each kind; --summary counts, --all lists every change', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-names-'));
    await main(['init', dir], { out() {}, err() {} });
    const plan = await idsync('plan');
    expect(plan.code).toBe(0);
    const lines = plan.out.split('\n');
    expect(lines.length).toBeLessThan(200);
    expect(plan.out).toMatch(/target +type +create +update +delete +held\n +directory +user +200 +0 +0 +0\n +directory +group +12 +0 +0 +0/);
    expect(lines.filter((l) => l.startsWith('  + create user'))).toHaveLength(10);
    expect(lines.filter((l) => l.startsWith('  + create group'))).toHaveLength(10);
    expect(plan.out).toContain('… and 190 more user objects to create');
    expect(plan.out).toContain('idsync plan --all');

    const summary = await idsync('plan', '--summary');
    expect(summary.out).not.toContain('+ create');
    expect(summary.out).toMatch(/directory +user +200/);

    const all = await idsync('plan', '--all');
    expect(all.out.split('\n').filter((l) => /^ {2}\+ create (user|group) /.test(l))).toHaveLength(212);
    expect(all.out).not.toContain('more user objects');
  });

  it('log --object takes any name of an object and finds every entry of its life, in every connector', async () => {
    await sample();
    const mover = person('E100012');
    editPeople({ E100012: (f) => Object.assign([...f], { [field.department]: 'Legal' }) });
    expect((await idsync('run', '--once')).code).toBe(0);
    // the directory's update is recorded under the user's id, not under the userName asked for
    const life = (entries: any[]) => entries.map((e) => `${e.connector} ${e.phase}:${e.action}`);
    const byUserName = JSON.parse((await idsync('log', '--object', mover.email, '--json')).out).entries;
    expect(life(byUserName)).toEqual(['hr sync:project', 'directory export:create', 'hr sync:update', 'directory export:update']);
    expect(byUserName.at(-1).changes).toEqual([{ attribute: 'department', old: [mover.department], new: ['Legal'] }]);
    expect(byUserName.at(-1).name).toBe(mover.email);
    expect(byUserName.at(-1).object).toMatch(UUID);
    // the same life by the HR anchor, by the display name, and by the email in another case
    for (const name of ['E100012', 'Uma Haddad', mover.email.toUpperCase()]) {
      const entries = JSON.parse((await idsync('log', '--object', name, '--json')).out).entries;
      expect(life(entries), name).toEqual(life(byUserName));
    }
    const human = await idsync('log', '--object', mover.email);
    expect(human.out).not.toMatch(UUID);
    expect(human.out).toContain(`directory ${mover.email}: export linked → update (success)\n    department: ${mover.department} → Legal`);
  });

  it('explain takes any name of the object, in any connector, and says so when a name is ambiguous', async () => {
    await sample();
    const p = person('E100012');
    const byHrAnchor = JSON.parse((await idsync('explain', 'hr', 'E100012', '--json')).out);
    for (const [connector, name] of [['hr', p.email], ['directory', 'Uma Haddad'], ['directory', 'E100012']]) {
      const x = await idsync('explain', connector!, name!, '--json');
      expect(x.code, `${connector} ${name}`).toBe(0);
      const parsed = JSON.parse(x.out);
      expect(parsed.connector).toBe(connector);
      expect(parsed.metaverse.id).toBe(byHrAnchor.metaverse.id);
      expect(parsed.label).toBe(p.email);
    }
    const human = await idsync('explain', 'directory', p.email);
    expect(human.out.split('\n')[0]).toBe(`directory object ${p.email}`);
    expect(human.out).toContain('Metaverse person Uma Haddad');
    expect(human.out).not.toMatch(UUID);
    // two people share a display name: the name is refused with both candidates, not one picked at random
    editPeople({ E100013: (f) => Object.assign([...f], { 1: 'Uma', 2: 'Haddad' }) });
    await idsync('run', '--once');
    const twice = await idsync('explain', 'directory', 'Uma Haddad');
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('"Uma Haddad" names 2 objects of connector directory');
    expect(twice.err).toContain(p.email);
    const unknown = await idsync('explain', 'hr', 'nobody@example.com');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('nobody@example.com');
  });

  it('find lists matching objects across the metaverse and every connector space with their links', async () => {
    await sample();
    const p = person('E100012');
    const found = await idsync('find', 'uma.haddad');
    expect(found.code).toBe(0);
    expect(found.out).not.toMatch(UUID);
    expect(found.out.split('\n')).toEqual([
      'person Uma Haddad — matched metaverse email, hr email, directory email, directory userName',
      expect.stringMatching(new RegExp(`^ {2}directory +user +${p.email.replace(/\./g, '\\.')}$`)),
      expect.stringMatching(new RegExp(`^ {2}hr +person +${p.email.replace(/\./g, '\\.')} +E100012$`)),
    ]);
    const json = JSON.parse((await idsync('find', 'Human Resources', '--json')).out);
    // the group named so comes first, before the people whose department is called so
    expect(json.objects[0].metaverse).toMatchObject({ objectType: 'group', name: 'Human Resources' });
    expect(json.objects[0].objects.map((o: any) => `${o.connector}:${o.name}`).sort()).toEqual(['directory:Human Resources', 'hr-groups:Human Resources']);
    expect(json.objects[0].metaverse.id).toMatch(UUID);
    expect(json.objects.slice(1).every((o: any) => o.matched.includes('hr department'))).toBe(true);
    expect((await idsync('find', 'no-such-thing')).out).toBe('Nothing found for "no-such-thing".');
  });

  it('plan, apply, log, status and explain on the sample workspace show no UUID where the object has a name', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-names-'));
    await main(['init', dir], { out() {}, err() {} });
    const outputs: Record<string, string> = {};
    outputs.plan = (await idsync('plan', '--all')).out;
    outputs.apply = (await idsync('apply')).out;
    editPeople({ E100010: () => null, E100011: (f) => Object.assign([...f], { [field.department]: 'Legal' }), E100012: (f) => Object.assign([...f], { [field.managerId]: 'E100001' }) });
    outputs.plan2 = (await idsync('plan', '--all')).out;
    outputs.apply2 = (await idsync('apply')).out;
    outputs.run = (await idsync('run', '--once', '--full')).out;
    // an export the directory refuses: the error names the user it is about and the user holding the userName
    const taken = person('E100015').email;
    const clashing = person('E100014').email;
    editPeople({ E100014: (f) => Object.assign([...f], { [field.email]: taken }) });
    outputs.errors = (await idsync('run', '--once')).out;
    outputs.log = (await idsync('log', '--limit', '100000')).out;
    outputs.status = (await idsync('status')).out;
    expect(outputs.status).toContain(`directory ${clashing} [export] DIRECTORY_UNIQUENESS: userName "${taken}" is already used by ${taken}`);
    for (const [connector, name] of [['hr', 'E100012'], ['directory', person('E100012').email], ['hr-groups', 'G0001'], ['directory', 'Engineering']]) {
      outputs[`explain ${connector} ${name}`] = (await idsync('explain', connector!, name!)).out;
    }
    expect(outputs.plan2).toContain('manager:');
    expect(outputs.log).toContain('members:');
    for (const [command, out] of Object.entries(outputs)) {
      expect(out.length, command).toBeGreaterThan(0);
      expect(out.split('\n').filter((l) => UUID.test(l)), command).toEqual([]);
    }
  });
});
