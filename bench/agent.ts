/**
 * A connector through an agent against the same connector in the service, same run: N people into the
 * built-in directory, once in one process (`idsync run --once`'s engine, compiled) and once with the source on
 * an agent (`idsync serve` and `idsync agent start` as separate processes on loopback). Prints both import
 * rates, their ratio and the overhead per page the channel adds.
 *
 * The source is the sample HR feed (CSV, the `idsync init` configuration; the feed in the agent's folder), or
 * with `ldap` a throwaway OpenLDAP (test/helpers/slapd.ts) holding the same people, read by the ldap
 * connector in the service and, through the agent, with the password only the agent holds.
 *
 *   node --import tsx bench/agent.ts [ldap] [people]      npm run bench agent:ldap:20000 (recorded in docs/benchmarks.md)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_CONFIG } from '../src/cli/init.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, sampleGroups, samplePeople } from '../src/samples/people.js';
import { samplePeopleLdif, startSlapd } from '../test/helpers/slapd.js';
import { freePort, ldapSourceConfig, register, startAgent, startService, waitForCycle } from '../test/agent/support.js';
import { build, cycle, seconds } from './engine-cycle.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const LDAP = process.argv.slice(2).includes('ldap');
const PAGE = 1000;
const SOURCE = LDAP ? 'corp' : 'hr';

function writeFeeds(dir: string): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...[...samplePeople(PEOPLE)].map(personRow)].join('\n')}\n`);
  writeFileSync(join(dir, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...sampleGroups(PEOPLE, 200, 50).map(groupRow)].join('\n')}\n`);
}

build();
const work = mkdtempSync(join(tmpdir(), 'idsync-bench-agent-'));
const slapd = LDAP ? await startSlapd({ ldif: samplePeopleLdif(PEOPLE) }) : undefined;
try {
  // in-process
  const local = join(work, 'local');
  mkdirSync(local);
  writeFileSync(join(local, 'idsync.yaml'), slapd ? ldapSourceConfig(slapd, slapd.password) : SAMPLE_CONFIG);
  if (!slapd) writeFeeds(local);
  const loadBefore = loadavg()[0]!;
  const inProcess = cycle(join(local, 'idsync.yaml'));
  const localImport = inProcess.stats.find((s) => s.connector === SOURCE && s.phase === 'import')!;

  // through an agent on loopback
  const serviceDir = join(work, 'service');
  const agentDir = join(work, 'agent');
  mkdirSync(serviceDir);
  writeFileSync(
    join(serviceDir, 'idsync.yaml'),
    slapd
      ? ldapSourceConfig(slapd, `\${agent:LDAP_PASSWORD}`, 'onprem')
      : SAMPLE_CONFIG.replace(/interval: 30m/, 'interval: 1s').replace(/^ {4}type: csv$/gm, '    type: csv\n    agent: onprem'),
  );
  const port = await freePort();
  const service = await startService(serviceDir, port);
  const agent = { stop: async () => {} } as { stop(): Promise<unknown> };
  try {
    await register(join(serviceDir, 'idsync.yaml'), `http://127.0.0.1:${port}`, 'onprem', agentDir);
    if (slapd) {
      mkdirSync(join(agentDir, 'secrets'), { mode: 0o700 });
      writeFileSync(join(agentDir, 'secrets', 'LDAP_PASSWORD'), `${slapd.password}\n`, { mode: 0o600 });
    } else {
      writeFeeds(agentDir);
    }
    const running = startAgent(agentDir);
    agent.stop = () => running.stop();
    await running.waitFor(/connected to ws:/);
    const remote = await waitForCycle(service, (c) => c.status === 'ok', 0, 1_800_000);
    const loadAfter = loadavg()[0]!;
    const remoteImport = remote.connectors.find((s) => s.connector === SOURCE && s.phase === 'import') as unknown as { durationMs: number };
    const remoteCycle = (remote as unknown as { durationMs: number }).durationMs;
    const pages = Math.ceil(PEOPLE / PAGE);
    const rate = (ms: number) => Math.round(PEOPLE / (ms / 1000));
    console.log(`Machine: ${machine()}; load average (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after\n`);
    const source = slapd ? 'OpenLDAP' : 'CSV';
    console.log(`| ${PEOPLE.toLocaleString('en')} people (${source}) → built-in directory | ${SOURCE} import | import rate | whole first cycle |`);
    console.log('|---|---|---|---|');
    console.log(`| in the service (one process) | ${seconds(localImport.durationMs)} | ${rate(localImport.durationMs).toLocaleString('en')} rows/s | ${seconds(inProcess.ms)} |`);
    console.log(`| through an agent (loopback WebSocket) | ${seconds(remoteImport.durationMs)} | ${rate(remoteImport.durationMs).toLocaleString('en')} rows/s | ${seconds(remoteCycle)} |`);
    console.log(
      `\nThrough an agent: ${Math.round((100 * localImport.durationMs) / remoteImport.durationMs)}% of the in-process import rate; ` +
        `${((remoteImport.durationMs - localImport.durationMs) / pages).toFixed(1)} ms more per page of ${PAGE} ${slapd ? 'entries' : 'rows'} (${pages} pages). ` +
        'Target (issue 17): at least 80% of the in-process rate.',
    );
  } finally {
    await agent.stop();
    await service.stop();
  }
} finally {
  await slapd?.stop();
  rmSync(work, { recursive: true, force: true });
}
