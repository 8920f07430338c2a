/**
 * Export and the target's next import: when nothing but the export wrote to the target, the engine records
 * what the target now holds and moves its watermark past its own writes, so the next cycle does not read them
 * back; anything another client wrote is still imported.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CycleReport } from '../../src/engine/engine.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

function stat(report: CycleReport, connector: string, phase: string) {
  const s = report.stats.find((x) => x.connector === connector && x.phase === phase)!;
  return { added: s.added, updated: s.updated, deleted: s.deleted, unchanged: s.unchanged, errors: s.errors };
}

async function watermark(w: Workspace, connector: string): Promise<string | null> {
  const engine = await w.engine();
  try {
    return await engine.store.getWatermark(connector);
  } finally {
    await engine.close();
  }
}

describe('the watermark after an export', () => {
  it('moves past the export’s own writes: the next cycle reads nothing back and changes nothing', async () => {
    ws = workspace({ people: 30, groups: 3, groupSize: 6 });
    const first = await ws.cycle();
    expect(stat(first, 'directory', 'export')).toMatchObject({ added: 30 + ws.groups.length, errors: 0 });
    const dir = ws.directory();
    const sequence = dir.currentSequence();
    dir.close();
    expect(await watermark(ws, 'directory')).toBe(String(sequence));

    const second = await ws.cycle();
    expect(stat(second, 'directory', 'import')).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: 0, errors: 0 });
    expect(stat(second, 'directory', 'export')).toMatchObject({ added: 0, updated: 0, deleted: 0 });
  });

  it('still imports what another client wrote, and puts back what the rules own', async () => {
    ws = workspace({ people: 10, groups: 1, groupSize: 4 });
    await ws.cycle();
    const dir = ws.directory();
    const user = dir.list({ type: 'user', limit: 1 })[0]!;
    const title = user.attributes.title;
    dir.update(user.id, { title: { replace: ['Changed Elsewhere'] }, nickName: { replace: ['kept'] } });
    dir.close();

    const second = await ws.cycle();
    expect(stat(second, 'directory', 'import')).toMatchObject({ updated: 1 });
    expect(stat(second, 'directory', 'export')).toMatchObject({ updated: 1, errors: 0 });
    const after = ws.directory();
    expect(after.get(user.id)!.attributes).toMatchObject({ title, nickName: ['kept'] });
    after.close();
    // the correction was this cycle's only write: the third cycle reads nothing back
    const third = await ws.cycle();
    expect(stat(third, 'directory', 'import')).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: 0, errors: 0 });
  });

  it('reads back a batch that deleted: a delete also changes the groups the object was in', async () => {
    ws = workspace({ people: 10, groups: 1, groupSize: 4 });
    await ws.cycle();
    ws.writeGroups(ws.groups.slice(1));
    const second = await ws.cycle();
    expect(stat(second, 'directory', 'export')).toMatchObject({ deleted: 1, errors: 0 });
    const dir = ws.directory();
    const sequence = dir.currentSequence();
    dir.close();
    // the delete batch is not skipped: the next import reads it (and whatever the delete cascaded to)
    expect(Number(await watermark(ws, 'directory'))).toBeLessThan(sequence);
    const third = await ws.cycle();
    expect(stat(third, 'directory', 'export')).toMatchObject({ added: 0, updated: 0, deleted: 0, errors: 0 });
    expect(await watermark(ws, 'directory')).toBe(String(sequence));
  });
});
