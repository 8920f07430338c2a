/**
 * Quarantine: a connector failing cycle after cycle is skipped on an escalating schedule while the others
 * go on; status shows why and until when; a working cycle or `approve` lifts it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/format.js';
import { statusJson } from '../../src/cli/json.js';
import { openStore } from '../../src/store/index.js';
import { cycleFailure, readQuarantine, recordCycle } from '../../src/engine/quarantine.js';
import type { RunStats } from '../../src/store/types.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

const stat = (connector: string, phase: RunStats['phase'], over: Partial<RunStats> = {}): RunStats => ({
  connector, phase, added: 0, updated: 0, deleted: 0, unchanged: 0, errors: 0, durationMs: 0, status: 'ok', ...over,
});

describe('the failure rule', () => {
  it('counts a failed import, or most of at least ten exports failing', () => {
    expect(cycleFailure([stat('a', 'import', { status: 'failed', detail: 'ECONNREFUSED' })], 'a')).toContain('ECONNREFUSED');
    expect(cycleFailure([stat('a', 'export', { errors: 9, added: 1 })], 'a')).toBe('9 of 10 exports failed');
    expect(cycleFailure([stat('a', 'export', { errors: 7, added: 3 })], 'a')).toBeNull();
    expect(cycleFailure([stat('a', 'export', { errors: 5 })], 'a')).toBeNull();
    expect(cycleFailure([stat('b', 'import', { status: 'failed' })], 'a')).toBeNull();
  });

  it('quarantines at the second failing cycle in a row, doubling the wait up to a day', async () => {
    ws = workspace({ people: 1, groups: 0 });
    const store = await openStore({ stateDir: ws.dir });
    const t0 = new Date('2026-01-01T00:00:00Z');
    expect(await recordCycle(store, 'x', 'down', t0)).toBeNull();
    const waits: number[] = [];
    for (let i = 1; i <= 9; i++) {
      const q = (await recordCycle(store, 'x', 'down', t0))!;
      expect(q.level).toBe(i);
      waits.push((Date.parse(q.until!) - t0.getTime()) / 60_000);
    }
    expect(waits).toEqual([15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
    expect((await readQuarantine(store, 'x'))!.since).toBe(t0.toISOString());
    expect(await recordCycle(store, 'x', null, t0)).toBeNull();
    expect(await readQuarantine(store, 'x')).toBeNull();
    await store.close();
  });
});

describe('a cycle with a failing connector', () => {
  it('skips it while quarantined, goes on with the others, shows it in status, and lifting it lets it run', async () => {
    ws = workspace({ people: 6, groups: 1, groupSize: 3 });
    await ws.cycle();
    rmSync(join(ws.dir, 'data', 'hr.csv'));
    const first = await ws.cycle();
    expect(first.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!.status).toBe('failed');
    const second = await ws.cycle();
    expect(second.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!.detail).toMatch(/Quarantined \(level 1\) until /);

    const logged = await ws.engine();
    const entries = (await logged.store.log({ limit: 100 })).filter((e) => e.action === 'quarantine');
    await logged.close();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ connector: 'hr', status: 'skipped' });
    expect(entries[0]!.steps[0]!.detail).toMatch(/^quarantined \(level 1\) until .*: import failed/);

    ws.writePeople(ws.people);
    const third = await ws.cycle();
    const skipped = third.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!;
    expect(skipped.status).toBe('skipped');
    expect(skipped.detail).toMatch(/^quarantined \(level 1\) until .*import failed: /);
    // the other connectors still run
    expect(third.stats.find((s) => s.connector === 'hr-groups' && s.phase === 'import')!.status).toBe('ok');

    const engine = await ws.engine();
    const status = await engine.status();
    const hr = statusJson(status).connectors.hr!;
    expect(hr.quarantine).toMatchObject({ level: 1, reason: expect.stringContaining('import failed') });
    expect(formatStatus(status)).toMatch(/Quarantined: hr until \S+ \(level 1/);
    // approving deletions does not lift it; lifting does
    await engine.approve('hr');
    expect(statusJson(await engine.status()).connectors.hr!.quarantine).not.toBeNull();
    await engine.liftQuarantine('hr');
    expect(statusJson(await engine.status()).connectors.hr!.quarantine).toBeNull();
    await engine.close();

    const fourth = await ws.cycle();
    expect(fourth.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!.status).toBe('ok');
  });
});
