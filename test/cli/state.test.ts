/** `idsync state migrate`: the command moves the state, says how to use it, and exits 1 on a refusal. */
import { afterEach, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/main.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace | undefined;
let db: TestDatabase | undefined;
afterEach(async () => {
  ws?.cleanup();
  await db?.drop();
  ws = db = undefined;
});

describe('idsync state migrate', () => {
  it('copies the state to PostgreSQL, lists what it verified, and refuses a second time without --force', async () => {
    ws = workspace({ people: 5, groups: 0 });
    await ws.cycle();
    db = await createDatabase('cli_state');
    const url = db.url.replace('postgres@', 'postgres:sekret-pw-123@'); // trust ignores it; it must not be shown
    const first = await runMain(['state', 'migrate', '--to', url, '--config', ws.configPath]);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/^Copied the state from .*state\.db to postgres:\/\/postgres:\*\*\*@.* verified table by table:/);
    expect(first.out).toMatch(/^ {2}cs +\d+ rows {2}sha256 [0-9a-f]{16}…$/m);
    expect(first.out).toContain('set state.url in idsync.yaml');
    expect(first.out).not.toContain('sekret-pw-123');

    const again = await runMain(['state', 'migrate', '--to', url, '--config', ws.configPath, '--json']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('holds a state already');
    expect(again.err).toContain('--force');
    expect(again.err).not.toContain('sekret-pw-123');

    const forced = await runMain(['state', 'migrate', '--to', url, '--config', ws.configPath, '--force', '--json']);
    expect(forced.code, forced.err).toBe(0);
    const report = JSON.parse(forced.out);
    expect(report.tables.map((t: { table: string }) => t.table)).toContain('pending');
    expect(report.to).not.toContain('sekret-pw-123');
  });
});
