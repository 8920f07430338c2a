/** Bad input: clear errors at their place, and nothing lost. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('bad input', () => {
  it('a corrupt row is an object error naming file:line; the person it was stays; the rest syncs', async () => {
    ws = workspace({ people: 10, groups: 0 });
    await ws.cycle();
    const path = join(ws.dir, 'data', 'hr.csv');
    const lines = readFileSync(path, 'utf8').split('\n');
    const victim = ws.people[4]!;
    // line 6 (header is line 1): a row with too few columns
    lines[5] = `${victim.employeeId},Broken,Row`;
    lines[7] = lines[7]!.replace(ws.people[6]!.title, 'Updated Title');
    writeFileSync(path, lines.join('\n'));

    const report = await ws.cycle();
    expect(report.status).toBe('errors');
    const engine = await ws.engine();
    const errors = await engine.store.errors('hr');
    await engine.close();
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]!.location ?? errors[0]!.key).toMatch(/hr\.csv:6/);
    const dir = ws.directory();
    const snap = snapshot(dir);
    dir.close();
    expect(snap.users[victim.email]).toMatchObject({ active: true, displayName: `${victim.firstName} ${victim.lastName}` });
    expect(Object.keys(snap.users)).toHaveLength(10);
  });

  it('a missing file fails that import cleanly: nothing is deleted', async () => {
    ws = workspace({ people: 8, groups: 0 });
    await ws.cycle();
    rmSync(join(ws.dir, 'data', 'hr.csv'));
    const report = await ws.cycle();
    expect(report.status).toBe('failed');
    const importStats = report.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!;
    expect(importStats.status).toBe('failed');
    expect(importStats.detail).toContain('hr.csv');
    const dir = ws.directory();
    expect(Object.values(snapshot(dir).users).every((u) => u.active === true)).toBe(true);
    dir.close();
  });

  it('the CLI reports a bad config with file:line:column and exit code 2', async () => {
    ws = workspace({ people: 1, groups: 0 });
    writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace("expression: 'ToLower([email])'", "expression: 'ToLower([email]'"));
    const r = await runCli(['validate', '--config', ws.configPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/idsync\.yaml:\d+:\d+: /);
    const json = await runCli(['validate', '--json', '--config', ws.configPath]);
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.valid).toBe(false);
    expect(parsed.problems[0].location).toMatch(/idsync\.yaml:\d+:\d+$/);
  });
});

describe('an export error of a target object', () => {
  it('stays listed after a full sync re-reads the object, while the export waits for its retry', async () => {
    ws = workspace({ people: 3, groups: 0 });
    await ws.cycle();
    const dir = ws.directory();
    dir.create('user', { userName: ['taken@example.com'], active: [true] });
    dir.close();
    ws.writePeople(ws.people.map((p, i) => (i === 1 ? { ...p, email: 'taken@example.com' } : p)));

    const failed = await ws.cycle();
    expect(failed.status).toBe('errors');
    const errorsOf = async () => {
      const engine = await ws.engine();
      const status = await engine.status();
      await engine.close();
      const directory = status.connectors.find((c) => c.name === 'directory')!;
      return { errors: status.errors.map((e) => e.code), pending: directory.pendingExports };
    };
    expect(await errorsOf()).toEqual({ errors: ['DIRECTORY_UNIQUENESS'], pending: 1 });

    // A full sync re-imports every target object; the export is not due yet (it backs off), so nothing would
    // record the error again: the import must not have cleared it.
    await ws.cycle({ full: true });
    expect(await errorsOf()).toEqual({ errors: ['DIRECTORY_UNIQUENESS'], pending: 1 });

    // Once the conflict is gone and the export goes through, the error goes with it.
    ws.writePeople(ws.people);
    await ws.cycle({ full: true });
    expect(await errorsOf()).toEqual({ errors: [], pending: 0 });
  });
});
