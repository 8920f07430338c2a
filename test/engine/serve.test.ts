/**
 * Continuous running: a source that notifies (here the built-in directory as a source) gets its changes to
 * the target within seconds, not at the next scheduled cycle.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSharedDirectory } from '../../src/directory/index.js';
import type { CycleReport } from '../../src/engine/engine.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

const CONFIG = `
schedule: { interval: 1h }
connectors:
  source: { type: builtin, path: source.db }
  directory: { type: builtin }
rules:
  - name: in
    connector: source
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: externalId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: externalId }
      - { target: email, source: userName }
      - { target: displayName, source: displayName }
  - name: out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: userName }]]
    flows:
      - { target: userName, source: email }
      - { target: displayName, source: displayName }
`;

let ws: Workspace;
afterEach(() => ws?.cleanup());

describe('idsync run (continuous)', () => {
  it('carries a change from a notifying source to the target in under 2 seconds', async () => {
    ws = workspace({ people: 0, groups: 0, config: CONFIG });
    const source = openSharedDirectory(join(ws.dir, 'source.db'));
    const { id } = source.directory.create('user', { userName: ['ann@example.com'], externalId: ['E1'], displayName: ['Ann'] });

    const engine = await ws.engine();
    const stop = new AbortController();
    const cycles: CycleReport[] = [];
    const serving = engine.serve({ intervalMs: 3_600_000, signal: stop.signal, debounceMs: 50 }, (r) => cycles.push(r));
    try {
      await waitFor(() => cycles.length >= 1, 10_000);
      const target = openSharedDirectory(join(ws.dir, '.idsync', 'directory.db'));
      expect(target.directory.findBy('userName', 'ann@example.com')[0]?.attributes.displayName).toEqual(['Ann']);

      const changedAt = Date.now();
      source.directory.update(id, { displayName: { replace: ['Ann Changed'] } });
      await waitFor(() => target.directory.findBy('userName', 'ann@example.com')[0]?.attributes.displayName?.[0] === 'Ann Changed', 5_000);
      const latency = Date.now() - changedAt;
      expect(latency).toBeLessThan(2_000);
      target.release();
    } finally {
      stop.abort();
      await serving;
      await engine.close();
      source.release();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
