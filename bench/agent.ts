/**
 * A connector through an agent against the same connector in the service, same run: the sample HR feed of N
 * people (CSV, the `idsync init` configuration) into the built-in directory, once in one process (`idsync
 * run --once`'s engine, compiled) and once with the feed on an agent (`idsync serve` and `idsync agent
 * start` as separate processes on loopback, the feed in the agent's folder). Prints both import rates,
 * their ratio and the overhead per page the channel adds.
 *
 *   node --import tsx bench/agent.ts [people]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_CONFIG } from '../src/cli/init.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, sampleGroups, samplePeople } from '../src/samples/people.js';
import { freePort, register, startAgent, startService, waitForCycle } from '../test/agent/support.js';
import { build, cycle, seconds } from './engine-cycle.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const PAGE = 1000;

function writeFeeds(dir: string): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...[...samplePeople(PEOPLE)].map(personRow)].join('\n')}\n`);
  writeFileSync(join(dir, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...sampleGroups(PEOPLE, 200, 50).map(groupRow)].join('\n')}\n`);
}

build();
const work = mkdtempSync(join(tmpdir(), 'idsync-bench-agent-'));
try {
  // in-process
  const local = join(work, 'local');
  mkdirSync(local);
  writeFileSync(join(local, 'idsync.yaml'), SAMPLE_CONFIG);
  writeFeeds(local);
  const inProcess = cycle(join(local, 'idsync.yaml'));
  const localImport = inProcess.stats.find((s) => s.connector === 'hr' && s.phase === 'import')!;

  // through an agent on loopback
  const serviceDir = join(work, 'service');
  const agentDir = join(work, 'agent');
  mkdirSync(serviceDir);
  writeFileSync(
    join(serviceDir, 'idsync.yaml'),
    SAMPLE_CONFIG.replace(/interval: 30m/, 'interval: 1s').replace(/^ {4}type: csv$/gm, '    type: csv\n    agent: onprem'),
  );
  const port = await freePort();
  const service = await startService(serviceDir, port);
  const agent = { stop: async () => {} } as { stop(): Promise<unknown> };
  try {
    await register(join(serviceDir, 'idsync.yaml'), `http://127.0.0.1:${port}`, 'onprem', agentDir);
    writeFeeds(agentDir);
    const running = startAgent(agentDir);
    agent.stop = () => running.stop();
    await running.waitFor(/connected to ws:/);
    const remote = await waitForCycle(service, (c) => c.status === 'ok', 0, 1_800_000);
    const remoteImport = remote.connectors.find((s) => s.connector === 'hr' && s.phase === 'import') as unknown as { durationMs: number };
    const remoteCycle = (remote as unknown as { durationMs: number }).durationMs;
    const pages = Math.ceil(PEOPLE / PAGE);
    const rate = (ms: number) => Math.round(PEOPLE / (ms / 1000));
    console.log(`Machine: ${machine()}\n`);
    console.log(`| ${PEOPLE.toLocaleString('en')} people (CSV) → built-in directory | hr import | import rate | whole first cycle |`);
    console.log('|---|---|---|---|');
    console.log(`| in the service (one process) | ${seconds(localImport.durationMs)} | ${rate(localImport.durationMs).toLocaleString('en')} rows/s | ${seconds(inProcess.ms)} |`);
    console.log(`| through an agent (loopback WebSocket) | ${seconds(remoteImport.durationMs)} | ${rate(remoteImport.durationMs).toLocaleString('en')} rows/s | ${seconds(remoteCycle)} |`);
    console.log(
      `\nThrough an agent: ${Math.round((100 * localImport.durationMs) / remoteImport.durationMs)}% of the in-process import rate; ` +
        `${((remoteImport.durationMs - localImport.durationMs) / pages).toFixed(1)} ms more per page of ${PAGE} rows (${pages} pages). ` +
        'Target (issue 17): at least 80% of the in-process rate.',
    );
  } finally {
    await agent.stop();
    await service.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
