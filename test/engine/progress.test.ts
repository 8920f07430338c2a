/** The progress line: total, percent, rate and time left where a total is known; nothing when not a terminal. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Engine } from '../../src/engine/engine.js';
import { type Progress, progressLine, terminalProgress } from '../../src/engine/progress.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace | undefined;
afterEach(() => {
  ws?.cleanup();
  ws = undefined;
  vi.useRealTimers();
});

describe('progressLine', () => {
  it('shows count of total, percent, rate and the time left at that rate', () => {
    expect(progressLine('hr full import', 12_000, 100_000, 3)).toBe('hr full import: 12,000 of 100,000 (12%), 4,000/s, about 22 s left');
    expect(progressLine('directory export', 30_000, 100_000, 10)).toBe('directory export: 30,000 of 100,000 (30%), 3,000/s, about 24 s left');
    expect(progressLine('x', 1_000, 1_000_000, 10)).toBe('x: 1,000 of 1,000,000 (0%), 100/s, about 2 h 46 min left');
    expect(progressLine('x', 6_000, 100_000, 60)).toBe('x: 6,000 of 100,000 (6%), 100/s, about 15 min 40 s left');
  });

  it('without a total, or past an estimated one, the count and rate only', () => {
    expect(progressLine('outbound sync', 5_000, undefined, 2)).toBe('outbound sync: 5,000, 2,500/s');
    expect(progressLine('hr full import', 1_200, 1_000, 2)).toBe('hr full import: 1,200, 600/s');
  });
});

describe('terminalProgress', () => {
  it('writes to a terminal, at most every 200 ms, and clears the line when done', () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const writes: string[] = [];
    const p = terminalProgress({ isTTY: true, write: (s: string) => writes.push(s) > 0 });
    p.update('hr full import', 0, 100);
    vi.setSystemTime(1_000);
    p.update('hr full import', 50, 100);
    vi.setSystemTime(1_100);
    p.update('hr full import', 60, 100); // within 200 ms: not drawn
    p.done();
    expect(writes).toEqual(['\r\x1b[2Khr full import: 50 of 100 (50%), 50/s, about 1 s left', '\r\x1b[2K']);
  });

  it('says nothing when not a terminal', () => {
    const writes: string[] = [];
    const p = terminalProgress({ isTTY: false, write: (s: string) => writes.push(s) > 0 });
    p.update('x', 1, 2);
    p.done();
    expect(writes).toEqual([]);
  });
});

describe('the totals the engine gives', () => {
  it("a full import expects the previous run's count; an export its pending changes", async () => {
    ws = workspace({ people: 30, groups: 2, groupSize: 5 });
    const updates: { label: string; done: number; total?: number }[] = [];
    const recording: Progress = { update: (label, done, total) => updates.push({ label, done, total }), done() {} };
    const run = async (full: boolean) => {
      const engine = await Engine.open(loadConfig(ws!.configPath), { progress: recording });
      try {
        return await engine.cycle({ full });
      } finally {
        await engine.close();
      }
    };
    await run(false);
    expect(updates.find((u) => u.label === 'directory export')).toMatchObject({ done: 40, total: 40 });
    expect(updates.find((u) => u.label === 'hr full import')?.total).toBeUndefined(); // a first import: no idea yet
    updates.length = 0;
    await run(true);
    expect(updates.find((u) => u.label === 'hr full import')).toMatchObject({ done: 30, total: 30 });
  });
});
