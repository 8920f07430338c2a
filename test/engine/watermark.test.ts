/**
 * A watermark the connector can no longer use (the directory file was replaced by an older copy): the engine
 * runs a full import in the same cycle, finds what is missing, and provisions it again.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('an unusable watermark', () => {
  it('falls back to a full import and re-provisions what the target lost', async () => {
    ws = workspace({ people: 12, groups: 1, groupSize: 4 });
    await ws.cycle();
    await ws.cycle(); // its import moves the directory's watermark past the first cycle's exports
    const state = join(ws.dir, '.idsync');
    for (const f of ['directory.db', 'directory.db-wal', 'directory.db-shm']) rmSync(join(state, f), { force: true });

    const report = await ws.cycle();
    const imported = report.stats.find((s) => s.connector === 'directory' && s.phase === 'import')!;
    expect(imported.detail).toMatch(/ahead of the directory.*a full import ran instead/);
    expect(imported.deleted).toBe(12 + 8 + 1);
    expect(report.stats.find((s) => s.connector === 'directory' && s.phase === 'export')).toMatchObject({ added: 21, errors: 0 });
    const dir = ws.directory();
    expect(dir.counts()).toMatchObject({ users: 12, groups: 9 });
    dir.close();
  });
});
