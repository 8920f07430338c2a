/**
 * Names, not UUIDs: every command shows objects by names a person knows (userName, DN, displayName, table
 * key), references by the name of what they refer to, and multi-valued changes as what is added and removed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

async function idsync(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--config', join(dir, 'idsync.yaml')], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

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
    expect(plan.out).toContain(`~ update user ${leaver.email}`);
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
});
