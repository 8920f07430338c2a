/**
 * previewPlan's bounds on a real engine over the sample: one plan at a time in a process (a second is refused
 * at once with PREVIEW_BUSY), a plan longer than its timeout stopped with PREVIEW_TIMEOUT, and the state the
 * engine holds unchanged either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Engine } from '../../src/engine/engine.js';
import { previewPlan, previewRunning } from '../../src/preview/plan.js';
import { stateDigest } from '../../src/store/copy.js';
import type { SqlStore } from '../../src/store/sql/store.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

let ws: Workspace;
let engine: Engine;
beforeAll(async () => {
  ws = workspace({ people: 40 });
  engine = await ws.engine();
  await engine.cycle();
}, 60_000);
afterAll(async () => {
  await engine?.close();
  ws?.cleanup();
});

async function idle(): Promise<void> {
  for (let i = 0; i < 200 && previewRunning(); i++) await new Promise((r) => setTimeout(r, 20));
}

describe('previewPlan', () => {
  it('plans one proposed config at a time and leaves the state as it was', async () => {
    const before = await stateDigest(engine.store as unknown as SqlStore);
    const proposed = loadConfig(ws.configPath);
    const first = previewPlan(engine, proposed);
    await expect(previewPlan(engine, proposed)).rejects.toMatchObject({ code: 'PREVIEW_BUSY' });
    const report = await first;
    expect(report.status).toBe('ok');
    // the same config, nothing changed since the cycle: nothing to export
    expect(report.planned).toEqual([]);
    await idle();
    expect(await stateDigest(engine.store as unknown as SqlStore)).toEqual(before);
  }, 60_000);

  it('stops a plan that takes longer than its timeout', async () => {
    await idle();
    const before = await stateDigest(engine.store as unknown as SqlStore);
    await expect(previewPlan(engine, loadConfig(ws.configPath), { timeoutMs: 1 })).rejects.toMatchObject({ code: 'PREVIEW_TIMEOUT' });
    await idle();
    expect(previewRunning()).toBe(false);
    expect(await stateDigest(engine.store as unknown as SqlStore)).toEqual(before);
  }, 60_000);
});
