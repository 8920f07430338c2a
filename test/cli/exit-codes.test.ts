/**
 * Exit codes and the cycle's summary tell the truth: a run that skipped a quarantined connector, or that
 * leaves object errors waiting for their retry, never exits 0 nor says "ok".
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { type Workspace, workspace } from '../helpers/workspace.js';
import { runMain } from '../helpers/main.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

const idsync = (...args: string[]) => runMain([...args, '--config', ws.configPath]);

describe('run --once exit codes', () => {
  it('a connector skipped for quarantine: exit 5 and the summary says incomplete, naming it', async () => {
    ws = workspace({ people: 6, groups: 1, groupSize: 3 });
    expect((await idsync('run', '--once')).code).toBe(ExitCode.ok);
    rmSync(join(ws.dir, 'data', 'hr.csv'));
    expect((await idsync('run', '--once')).code).toBe(ExitCode.failure);
    expect((await idsync('run', '--once')).code).toBe(ExitCode.failure); // the second failure quarantines hr
    ws.writePeople(ws.people);

    const skipped = await idsync('run', '--once');
    expect(skipped.code).toBe(ExitCode.incomplete);
    expect(skipped.out).toMatch(/^Cycle \d+: incomplete/);
    expect(skipped.out).not.toMatch(/: ok in/);
    expect(skipped.out).toMatch(/hr import: quarantined \(level 1\) until /);
    const json = JSON.parse((await idsync('run', '--once', '--json')).out);
    expect(json.status).toBe('incomplete');
  });

  it('exports still waiting for their retry after errors: exit 3 and the summary says so', async () => {
    ws = workspace({ people: 3, groups: 0 });
    expect((await idsync('run', '--once')).code).toBe(ExitCode.ok);
    const dir = ws.directory();
    dir.create('user', { userName: ['taken@example.com'], active: [true] });
    dir.close();
    ws.writePeople(ws.people.map((p, i) => (i === 1 ? { ...p, email: 'taken@example.com' } : p)));
    const failed = await idsync('run', '--once');
    expect(failed.code).toBe(ExitCode.objectErrors);

    // The failed export backs off: this cycle does not try it again, and meets no error of its own.
    const waiting = await idsync('run', '--once');
    expect(waiting.code).toBe(ExitCode.objectErrors);
    expect(waiting.out).toMatch(/^Cycle \d+: errors/);
    expect(waiting.out).toContain('directory export: 1 object error from earlier cycles still stands');
  });
});
