/**
 * A watermark the connector can no longer use (the directory file was replaced by an older copy): the engine
 * runs a full import in the same cycle, finds what is missing, and provisions it again.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('an unusable watermark', () => {
  it('falls back to a full import and re-provisions what the target lost', async () => {
    // the directory loses all 21 objects: a threshold of 500 lets that through (the default's 10% would hold it)
    ws = workspace({ people: 12, groups: 1, groupSize: 4, config: SAMPLE_CONFIG.replace('deleteThreshold: { count: 500, percent: 10 }', 'deleteThreshold: 500') });
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

describe('fullImportInterval', () => {
  const config = (interval: string) => `
connectors:
  source: { type: builtin, path: source.db, fullImportInterval: ${interval} }
  directory: { type: builtin }
rules:
  - name: in
    connector: source
    direction: inbound
    objectType: user
    metaverseType: person
    project: true
    flows: [{ target: email, source: userName }]
  - name: out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    flows: [{ target: userName, source: email }]
`;
  const modes = async () => (await ws.cycle()).stats.find((s) => s.connector === 'source' && s.phase === 'import')?.mode;

  it('turns a delta into a full import once the last full one is older than the interval', async () => {
    ws = workspace({ people: 0, groups: 0, config: config('1h') });
    expect([await modes(), await modes()]).toEqual(['full', 'delta']);
    ws.writeConfig(config('1ms'));
    expect(await modes()).toBe('full');
  });
});
