/** Run statistics say what happened: a phase counts as updated only what really changes. */
import { afterEach, describe, expect, it } from 'vitest';
import type { CycleReport } from '../../src/engine/engine.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

function phase(report: CycleReport, p: 'outbound' | 'export', connector = 'directory') {
  const s = report.stats.find((x) => x.connector === connector && x.phase === p)!;
  return { added: s.added, updated: s.updated, deleted: s.deleted, unchanged: s.unchanged, errors: s.errors };
}

describe('run statistics', () => {
  it('a full cycle that exports nothing reports outbound updated 0, every object unchanged', async () => {
    ws = workspace({ people: 25, groups: 2, groupSize: 5 });
    const first = await ws.cycle();
    const objects = first.stats.find((x) => x.connector === 'directory' && x.phase === 'export')!.added;
    expect(objects).toBe(25 + 8 + 2);

    const full = await ws.cycle({ full: true });
    expect(full.fullSync).toBe(true);
    expect(phase(full, 'export')).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: 0, errors: 0 });
    expect(phase(full, 'outbound')).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: objects, errors: 0 });

    // the same in a plan: it re-evaluates everything and finds nothing to send
    const engine = await ws.engine();
    try {
      const plan = await engine.cycle({ mode: 'plan', full: true });
      expect(plan.planned).toEqual([]);
      expect(phase(plan, 'outbound')).toMatchObject({ updated: 0, unchanged: objects });
    } finally {
      await engine.close();
    }
  });

  it('a full cycle with one change counts that one as updated, in outbound and export alike', async () => {
    ws = workspace({ people: 25, groups: 2, groupSize: 5 });
    await ws.cycle();
    ws.people[3] = { ...ws.people[3]!, title: 'Chief Cartographer' };
    ws.writePeople(ws.people);
    const full = await ws.cycle({ full: true });
    expect(phase(full, 'export')).toMatchObject({ updated: 1, errors: 0 });
    expect(phase(full, 'outbound')).toMatchObject({ updated: 1, unchanged: 25 + 8 + 2 - 1 });
  });
});
