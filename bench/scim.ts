/**
 * The SCIM connector benchmark (issue 6): initial provisioning of 100,000 users and 2,000 groups of 50 members
 * into idsync's own SCIM service over loopback HTTP, and the write requests of a cycle with no change
 * (target: none).
 *
 * The service is `idsync serve`'s HTTP server (src/server/) in a child process: real HTTP on 127.0.0.1, an
 * ephemeral port, a bearer token made with the token store, the built-in directory in a temporary folder. It is
 * set up as an administrator would for a bulk load: request log off, no rate limit, body and Bulk payload
 * limits raised to 16 MB (the defaults, 1 MB, are not reached by the connector's Bulk requests of 50 either).
 * The server runs without the engine beside it (its config has no rules: there would be nothing to run).
 *
 * Measurements:
 *  - the connector alone (export() fed as the engine feeds it, 500 changes a call), with Bulk and without
 *    (`compat.bulk: false`: one POST per object);
 *  - the same with Bulk but without the look-up before each create (`matchBeforeCreate: false`): the writes alone;
 *  - the same against idsync's in-test SCIM server (test/connectors/scim/server.ts, in memory), the same-run
 *    reference: a server that costs almost nothing, so the gap is the SCIM service's cost;
 *  - the engine end to end: HR CSV → metaverse → SCIM connector → idsync serve, the initial cycle, then a
 *    cycle with no change and its write requests.
 * CPU seconds of each side show which one is the bottleneck (the machine has 2 cores).
 *
 *   node --import tsx bench/scim.ts [people]
 *   SCIM_BENCH_PROFILE=/tmp/prof node --import tsx bench/scim.ts 5000   # CPU profiles of the servers
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSample } from '../src/cli/init.js';
import type { ExportChange } from '../src/connectors/contract.js';
import { scimConnectorFactory } from '../src/connectors/scim/index.js';
import { scimSettingsSchema } from '../src/connectors/scim/settings.js';
import { GROUPS_HEADER, groupRow, samplePeople, sampleGroups } from '../src/samples/people.js';
import { TokenStore } from '../src/store/tokens.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv[2] ?? 100_000);
const GROUPS = 2_000;
const GROUP_SIZE = 50;
const SERVE = fileURLToPath(new URL('./scim-serve-child.ts', import.meta.url));
const MEMORY = fileURLToPath(new URL('./scim-target-child.ts', import.meta.url));
const ENGINE = fileURLToPath(new URL('./engine-child.ts', import.meta.url));
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/** bodies an administrator allows for a bulk load (the defaults are 1 MB) */
const LIMIT = 16 * 2 ** 20;
/** the environment variable the engine's config reads the token from (as a real config would) */
const TOKEN_VARIABLE = 'IDSYNC_BENCH_SCIM_TOKEN';

interface Stats {
  requests: number;
  writes: number;
  users: number;
  groups: number;
  /** requests by kind (idsync serve only): `GET /Groups/{id}` → count */
  routes?: Record<string, number>;
  /** CPU time the server process has used since it started */
  cpuMs: number;
}

type Kind = 'idsync' | 'memory';

interface Target {
  url: string;
  token?: string;
  stats(): Promise<Stats>;
  stop(): Promise<void>;
}

/** idsync serve over a fresh built-in directory in a temporary folder, with a token. */
async function startIdsync(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-bench-scim-serve-'));
  mkdirSync(join(dir, '.idsync'), { recursive: true });
  const configPath = join(dir, 'idsync.yaml');
  writeFileSync(
    configPath,
    `connectors:\n  directory: { type: builtin }\nserve:\n  port: 0\n  bodyLimit: ${LIMIT}\n  scim:\n    - { path: /scim/v2, bulk: { maxOperations: 1000, maxPayloadSize: ${LIMIT} } }\n`,
  );
  const tokens = TokenStore.file(join(dir, '.idsync', 'tokens.db'));
  const token = await tokens.create('bench');
  await tokens.close();
  const target = await fork_(SERVE, [configPath, token]);
  return {
    ...target,
    token,
    stop: async () => {
      await target.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startTarget(kind: Kind): Promise<Target> {
  return kind === 'idsync' ? startIdsync() : fork_(MEMORY, ['bulk']);
}

async function fork_(module: string, args: string[]): Promise<Target> {
  // SCIM_BENCH_PROFILE=DIR: the servers write CPU profiles there (open them in Chrome's DevTools)
  const profile = process.env.SCIM_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.SCIM_BENCH_PROFILE] : [];
  const child: ChildProcess = fork(module, args, {
    execArgv: ['--import', 'tsx', ...profile],
    // the servers' output goes to stderr: stdout is the table npm run bench records
    stdio: ['ignore', 2, 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`the SCIM server ${module} exited with ${code}`)));
  });
  return {
    url,
    stats: () =>
      new Promise<Stats>((resolve) => {
        child.once('message', (m: { stats: Stats }) => resolve(m.stats));
        child.send({ ask: 'stats' });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.send({ ask: 'stop' });
      }),
  };
}

interface Run {
  ms: number;
  clientCpuMs: number;
  stats: Stats;
}

/** The connector alone: creates in calls of 500, as the engine's export sends them. */
async function connectorOnly(kind: Kind, bulk: boolean, matchBeforeCreate = true): Promise<Run> {
  const server = await startTarget(kind);
  const settings = scimSettingsSchema.parse({
    url: server.url,
    concurrency: 4,
    ...(server.token && { auth: { type: 'bearer', token: server.token } }),
    compat: { bulk: bulk ? 'auto' : false },
    matchBeforeCreate,
  });
  const connector = scimConnectorFactory.create('bench', settings, { configDir: '.', stateDir: '.', log: { debug() {}, info() {}, warn() {} } });
  const before = await server.stats();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const ids = new Map<string, string>();
  const send = async (changes: ExportChange[]) => {
    for await (const r of connector.export!(changes)) {
      if (!r.ok) throw new Error(`${r.id}: ${r.error.message}`);
      ids.set(r.id, r.anchor!);
    }
  };
  let batch: ExportChange[] = [];
  for (const p of samplePeople(PEOPLE)) {
    batch.push({
      op: 'create',
      id: p.employeeId,
      objectType: 'user',
      attributes: {
        userName: [p.email],
        externalId: [p.employeeId],
        active: [true],
        displayName: [`${p.firstName} ${p.lastName}`],
        'name.givenName': [p.firstName],
        'name.familyName': [p.lastName],
        'emails[type eq "work"].value': [p.email],
        [`${ENT}:department`]: [p.department],
      },
    });
    if (batch.length === 500) {
      await send(batch);
      batch = [];
    }
  }
  for (const g of sampleGroups(PEOPLE, GROUPS - 8, GROUP_SIZE).slice(0, GROUPS)) {
    batch.push({ op: 'create', id: `g-${g.groupId}`, objectType: 'group', attributes: { displayName: [g.name], externalId: [g.groupId], members: g.members.slice(0, GROUP_SIZE).map((m) => ({ ref: ids.get(m)! })) } });
    if (batch.length === 500) {
      await send(batch);
      batch = [];
    }
  }
  await send(batch);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await connector.close();
  const after = await server.stats();
  await server.stop();
  return { ms, clientCpuMs: (used.user + used.system) / 1000, stats: { ...after, requests: after.requests - before.requests, writes: after.writes - before.writes, cpuMs: after.cpuMs - before.cpuMs } };
}

function config(url: string): string {
  return `
connectors:
  hr: { type: csv, path: data/hr.csv, objectType: person, anchor: employeeId, references: { managerId: true } }
  hr-groups: { type: csv, path: data/groups.csv, objectType: group, anchor: groupId, multiValued: { members: ";" }, references: { members: true } }
  cloud: { type: scim, url: "${url}", auth: { type: bearer, token: "\${env:${TOKEN_VARIABLE}}" } }
rules:
  - { name: hr-people, connector: hr, direction: inbound, objectType: person, metaverseType: person, project: true,
      join: [[{ source: employeeId, metaverse: employeeId }]],
      flows: [ { target: employeeId, source: employeeId }, { target: givenName, source: firstName }, { target: familyName, source: lastName },
               { target: email, expression: 'ToLower([email])' }, { target: department, source: department }, { target: manager, source: managerId } ] }
  - { name: hr-groups, connector: hr-groups, direction: inbound, objectType: group, metaverseType: group, project: true,
      join: [[{ source: groupId, metaverse: groupId }]],
      flows: [ { target: groupId, source: groupId }, { target: displayName, source: name }, { target: members, source: members, referencesIn: hr } ] }
  - { name: cloud-users, connector: cloud, direction: outbound, metaverseType: person, objectType: user, join: [[{ target: userName }]],
      flows: [ { target: userName, source: email }, { target: externalId, source: employeeId }, { target: active, constant: true },
               { target: name.givenName, source: givenName }, { target: name.familyName, source: familyName },
               { target: 'emails[type eq "work"].value', source: email }, { target: '${ENT}:department', source: department },
               { target: '${ENT}:manager', source: manager } ] }
  - { name: cloud-groups, connector: cloud, direction: outbound, metaverseType: group, objectType: group, join: [[{ target: externalId }]],
      flows: [ { target: displayName, source: displayName }, { target: externalId, source: groupId }, { target: members, source: members } ] }
`;
}

interface CycleResult {
  ms: number;
  status: string;
  stats: { connector: string; phase: string; added: number; updated: number; errors: number; durationMs: number }[];
  maxRssKb: number;
  cpuMs: number;
}

function cycle(configPath: string, token: string): CycleResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', ENGINE, configPath, 'delta'], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, [TOKEN_VARIABLE]: token },
  });
  return JSON.parse(out) as CycleResult;
}

const count = (n: number) => n.toLocaleString('en');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rate = (n: number, ms: number) => count(Math.round(n / (ms / 1000)));
const total = PEOPLE + GROUPS;
const rows: string[] = [];

function connectorRow(label: string, r: Run): string {
  return `| ${label}: ${count(r.stats.users)} users + ${count(r.stats.groups)} groups | ${seconds(r.ms)} | ${rate(total, r.ms)} objects/s | ${count(r.stats.requests)} requests (${count(r.stats.writes)} writes) | ${seconds(r.stats.cpuMs)} / ${seconds(r.clientCpuMs)} |`;
}

const load = machine();
if (!process.env.SCIM_BENCH_SKIP_CONNECTOR) {
  for (const bulk of [true, false]) {
    const how = bulk ? 'Bulk' : 'no Bulk (one POST per object)';
    rows.push(connectorRow(`connector alone → idsync serve, ${how}`, await connectorOnly('idsync', bulk)));
    rows.push(connectorRow(`reference: connector alone → in-memory test server, ${how}`, await connectorOnly('memory', bulk)));
  }
  // The look-up before each create (an `or` filter of 50 objects' match attributes) apart from the writes
  rows.push(connectorRow('connector alone → idsync serve, Bulk, `matchBeforeCreate: false` (writes only)', await connectorOnly('idsync', true, false)));
}

const work = mkdtempSync(join(tmpdir(), 'idsync-bench-scim-'));
const server = await startIdsync();
try {
  await writeSample(work, PEOPLE);
  const groups = sampleGroups(PEOPLE, GROUPS - 8, GROUP_SIZE);
  writeFileSync(join(work, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...groups.map(groupRow)].join('\n')}\n`);
  const configPath = join(work, 'idsync.yaml');
  writeFileSync(configPath, config(server.url));
  const before = await server.stats();
  const initial = cycle(configPath, server.token!);
  const afterInitial = await server.stats();
  const exported = initial.stats.find((s) => s.connector === 'cloud' && s.phase === 'export');
  const objects = afterInitial.users + afterInitial.groups;
  rows.push(
    `| engine end to end → idsync serve, initial cycle (${count(objects)} objects; Bulk) | ${seconds(initial.ms)} | ${rate(objects, initial.ms)} objects/s (export phase ${exported ? rate(objects, exported.durationMs) : '?'} objects/s) | ${count(afterInitial.requests - before.requests)} requests (${count(afterInitial.writes - before.writes)} writes), ${(initial.maxRssKb / 1024).toFixed(0)} MB peak RSS | ${seconds(afterInitial.cpuMs - before.cpuMs)} / ${seconds(initial.cpuMs)} |`,
  );
  rows.push(`| (initial cycle by phase: ${initial.stats.map((s) => `${s.connector} ${s.phase} ${seconds(s.durationMs)}`).join('; ')}) | | | | |`);
  const noChange = cycle(configPath, server.token!);
  const afterNoChange = await server.stats();
  rows.push(
    `| engine → idsync serve, cycle with no change | ${seconds(noChange.ms)} | | **${count(afterNoChange.writes - afterInitial.writes)} write requests**, ${count(afterNoChange.requests - afterInitial.requests)} requests in all | ${seconds(afterNoChange.cpuMs - afterInitial.cpuMs)} / ${seconds(noChange.cpuMs)} |`,
  );
  const kinds = Object.entries(afterNoChange.routes ?? {})
    .map(([route, n]) => [route, n - (afterInitial.routes?.[route] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([route, n]) => `${count(n)} × ${route}`);
  rows.push(`| (no-change cycle's requests: ${kinds.join('; ')}) | | | | |`);
  const errors = [...initial.stats, ...noChange.stats].reduce((n, s) => n + s.errors, 0);
  if (errors > 0) rows.push(`| (errors reported by the cycles: ${errors}) | | | | |`);
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

console.log(`Machine: ${load} (at the start); load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
console.log(
  `Service: idsync serve (src/server/, the built-in directory in a temporary folder) in a child process, over loopback HTTP with a bearer token; request log off, no rate limit, body and Bulk payload limits 16 MB, no engine beside it. ` +
    `Reference rows: the same connector against the in-memory test server (test/connectors/scim/server.ts), whose own cost is near nothing: the gap is the service's cost. ` +
    `CPU: seconds used by the server process / by the client (the connector's process, or the engine's cycle) during the measurement.\n`,
);
console.log('| SCIM provisioning | time | rate | requests | CPU server / client |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('\nTargets (issue 6): at least 2,000 objects/s on 2 cores; a no-change cycle sends 0 write requests.');
