/**
 * Crash safety: a sync of 100,000 people killed with SIGKILL at random moments, then run to the end, leaves
 * exactly the state an uninterrupted run leaves: no duplicate, nothing lost.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { seeded } from '../../src/samples/people.js';
import { startCli } from '../helpers/cli.js';
import { snapshot, type Workspace, workspace } from '../helpers/workspace.js';

const PEOPLE = 100_000;
const KILLS = 3;
const spaces: Workspace[] = [];
afterAll(() => {
  for (const w of spaces) w.cleanup();
});

async function run(ws: Workspace, killAfterMs?: number) {
  const { child, done } = startCli(['run', '--once', '--config', ws.configPath], { compiled: true });
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const result = await done;
  clearTimeout(timer);
  return result;
}

async function state(ws: Workspace) {
  const engine = await ws.engine();
  const status = await engine.status();
  await engine.close();
  const dir = ws.directory();
  const snap = snapshot(dir);
  const counts = dir.counts();
  dir.close();
  return {
    snap,
    users: counts.users,
    groups: counts.groups,
    memberships: counts.memberships,
    metaverse: status.metaverse,
    connectors: status.connectors.map((c) => ({ ...c, watermark: undefined })),
    errors: status.errors.length,
  };
}

describe('crash safety', () => {
  it(`a ${PEOPLE.toLocaleString('en')}-person sync killed ${KILLS} times ends identical to an uninterrupted one`, async () => {
    const reference = workspace({ people: PEOPLE, groups: 20, groupSize: 50 });
    const crashed = workspace({ people: PEOPLE, groups: 20, groupSize: 50 });
    spaces.push(reference, crashed);

    const started = Date.now();
    const ok = await run(reference);
    expect(ok.code, ok.stderr).toBe(0);
    const fullRunMs = Date.now() - started;

    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
    const rnd = seeded(seed);
    const kills: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      // somewhere between start-up and the end of a full run: import, sync or export
      const at = Math.round(300 + rnd() * fullRunMs * 0.9);
      kills.push(at);
      const r = await run(crashed, at);
      expect(r.signal === 'SIGKILL' || r.code === 0, `seed ${seed}: ${r.stderr}`).toBe(true);
    }
    const last = await run(crashed);
    expect(last.code, `seed ${seed}, kills at ${kills.join(', ')} ms: ${last.stderr}`).toBe(0);

    const [want, got] = [await state(reference), await state(crashed)];
    expect(got.users, `seed ${seed}`).toBe(PEOPLE);
    expect(got.users).toBe(want.users);
    expect(got.groups).toBe(want.groups);
    expect(got.memberships).toBe(want.memberships);
    expect(got.metaverse).toEqual(want.metaverse);
    expect(got.connectors).toEqual(want.connectors);
    expect(got.errors).toBe(0);
    expect(got.snap).toEqual(want.snap);
  }, 600_000);
});
