/**
 * The agent's configuration poll (every 10 minutes; 500 ms here), the fallback should a pushed configuration
 * not arrive: the service's config changes without a push (the hub's config source changed in place, as no
 * reload does), a real agent process polls, the service answers that its revision is not current and sends
 * the configuration, and the agent's next import reads the other feed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportClose, ImportNext, ImportOpen } from '../../src/agent/protocol/methods.js';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/model.js';
import { PEOPLE_HEADER, personRow, samplePeople } from '../../src/samples/people.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { type Proc, register, startAgent } from './support.js';

let root: string;
let config: LoadedConfig;
let server: RunningServer | undefined;
let agent: Proc | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'idsync-poll-'));
  const serviceDir = join(root, 'service');
  const agentDir = join(root, 'agent');
  mkdirSync(serviceDir);
  writeFileSync(join(serviceDir, 'idsync.yaml'), SAMPLE_CONFIG.replace(/^ {4}type: csv$/gm, '    type: csv\n    agent: onprem'));
  config = loadConfig(join(serviceDir, 'idsync.yaml'));
  server = await startServer(config, { port: 0 });
  await register(join(serviceDir, 'idsync.yaml'), server.url, 'onprem', agentDir);
  mkdirSync(join(agentDir, 'data'));
  writeFileSync(join(agentDir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...[...samplePeople(5)].map(personRow)].join('\n')}\n`);
  writeFileSync(join(agentDir, 'data', 'other.csv'), `${[PEOPLE_HEADER, ...[...samplePeople(3)].map(personRow)].join('\n')}\n`);
  agent = startAgent(agentDir, { IDSYNC_AGENT_CONFIG_POLL_MS: '500' });
  await agent.waitFor(/configuration revision \w+ applied/);
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

async function rowsRead(): Promise<number> {
  const hub = server!.agentHub;
  const { result, via } = await hub.call('onprem', ImportOpen, { connector: 'hr', mode: 'full', watermark: null, pageSize: 100 });
  let rows = 0;
  for (;;) {
    const next = await hub.callOn(via, ImportNext, { session: result.session });
    if (next.done) break;
    rows += next.page.changes.filter((c) => c.kind === 'upsert').length;
  }
  await hub.callOn(via, ImportClose, { session: result.session });
  return rows;
}

describe('the agent polls for its configuration', () => {
  it('a configuration the service did not push reaches the agent at its next poll', async () => {
    expect(await rowsRead()).toBe(5);
    const from = agent!.stderr().length;
    const hr = config.connectors.get('hr')!;
    hr.agent = { ...hr.agent!, settings: { ...(hr.agent!.settings as Record<string, unknown>), path: 'data/other.csv' } };
    await agent!.waitFor(/configuration poll: revision \w+ is not the service's/, 30_000, from);
    await agent!.waitFor(/configuration revision \w+ applied/, 30_000, from);
    expect(await rowsRead()).toBe(3);
    // the same connection all along: no reconnect brought it
    expect(agent!.stderr().slice(from)).not.toMatch(/connected to ws:/);
  }, 120_000);
});
