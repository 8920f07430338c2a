/**
 * The SCIM connector benchmark: initial provisioning of 100,000 users and 2,000 groups of 50 members into a
 * SCIM service over loopback HTTP, and the write requests of a cycle with no change (target: none).
 *
 * The service is idsync's in-test SCIM server (test/connectors/scim/server.ts, in-memory) in a child process
 * of its own, until idsync's own SCIM service lands. Three measurements:
 *  - the connector alone (export() fed as the engine feeds it, 500 changes a call), with Bulk and without;
 *  - the engine end to end: HR CSV → metaverse → SCIM, the initial cycle, then a cycle with no change.
 *
 *   node --import tsx bench/scim.ts [people]
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSample } from '../src/cli/init.js';
import type { ExportChange } from '../src/connectors/contract.js';
import { scimConnectorFactory } from '../src/connectors/scim/index.js';
import { scimSettingsSchema } from '../src/connectors/scim/settings.js';
import { GROUPS_HEADER, groupRow, samplePeople, sampleGroups } from '../src/samples/people.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv[2] ?? 100_000);
const GROUPS = 2_000;
const GROUP_SIZE = 50;
const SERVER = fileURLToPath(new URL('./scim-target-child.ts', import.meta.url));
const ENGINE = fileURLToPath(new URL('./engine-child.ts', import.meta.url));
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

interface Stats {
  requests: number;
  writes: number;
  users: number;
  groups: number;
}

async function startServer(bulk: boolean): Promise<{ child: ChildProcess; url: string; stats(): Promise<Stats>; stop(): Promise<void> }> {
  const child = fork(SERVER, [bulk ? 'bulk' : 'nobulk'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  return {
    child,
    url,
    stats: () =>
      new Promise<Stats>((resolve) => {
        child.once('message', (m: { stats: Stats }) => resolve(m.stats));
        child.send({ ask: 'stats' });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send({ ask: 'stop' });
      }),
  };
}

/** The connector alone: creates in calls of 500, as the engine's export sends them. */
async function connectorOnly(bulk: boolean): Promise<{ ms: number; stats: Stats }> {
  const server = await startServer(bulk);
  const connector = scimConnectorFactory.create('bench', scimSettingsSchema.parse({ url: server.url, concurrency: 4 }), { configDir: '.', stateDir: '.', log: { debug() {}, info() {}, warn() {} } });
  const started = performance.now();
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
  await connector.close();
  const stats = await server.stats();
  await server.stop();
  return { ms, stats };
}

function config(url: string): string {
  return `
connectors:
  hr: { type: csv, path: data/hr.csv, objectType: person, anchor: employeeId, references: { managerId: true } }
  hr-groups: { type: csv, path: data/groups.csv, objectType: group, anchor: groupId, multiValued: { members: ";" }, references: { members: true } }
  cloud: { type: scim, url: "${url}" }
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
}

function cycle(configPath: string): CycleResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', ENGINE, configPath, 'delta'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return JSON.parse(out) as CycleResult;
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en');
const total = PEOPLE + GROUPS;
const rows: string[] = [];

for (const bulk of process.env.SCIM_BENCH_SKIP_CONNECTOR ? [] : [true, false]) {
  const r = await connectorOnly(bulk);
  rows.push(`| connector alone, ${bulk ? 'Bulk offered' : 'no Bulk (one POST per object)'}: ${r.stats.users.toLocaleString('en')} users + ${r.stats.groups.toLocaleString('en')} groups | ${(r.ms / 1000).toFixed(1)} s | ${rate(total, r.ms)} objects/s | ${r.stats.requests.toLocaleString('en')} requests (${r.stats.writes.toLocaleString('en')} writes) |`);
}

const work = mkdtempSync(join(tmpdir(), 'idsync-bench-scim-'));
const server = await startServer(true);
try {
  await writeSample(work, PEOPLE);
  const groups = sampleGroups(PEOPLE, GROUPS - 8, GROUP_SIZE);
  writeFileSync(join(work, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...groups.map(groupRow)].join('\n')}\n`);
  const configPath = join(work, 'idsync.yaml');
  writeFileSync(configPath, config(server.url));
  const initial = cycle(configPath);
  const afterInitial = await server.stats();
  const exported = initial.stats.find((s) => s.connector === 'cloud' && s.phase === 'export');
  const objects = afterInitial.users + afterInitial.groups;
  rows.push(`| engine end to end, initial cycle (${objects.toLocaleString('en')} objects; Bulk offered) | ${(initial.ms / 1000).toFixed(1)} s | ${rate(objects, initial.ms)} objects/s (export phase ${exported ? rate(objects, exported.durationMs) : '?'} objects/s) | ${afterInitial.requests.toLocaleString('en')} requests (${afterInitial.writes.toLocaleString('en')} writes), ${(initial.maxRssKb / 1024).toFixed(0)} MB peak RSS |`);
  rows.push(`| (initial cycle by phase: ${initial.stats.map((s) => `${s.connector} ${s.phase} ${(s.durationMs / 1000).toFixed(1)} s`).join('; ')}) | | | |`);
  const noChange = cycle(configPath);
  const afterNoChange = await server.stats();
  rows.push(`| engine, cycle with no change | ${(noChange.ms / 1000).toFixed(1)} s | | **${(afterNoChange.writes - afterInitial.writes).toLocaleString('en')} write requests**, ${(afterNoChange.requests - afterInitial.requests).toLocaleString('en')} reads |`);
  const errors = [...initial.stats, ...noChange.stats].reduce((n, s) => n + s.errors, 0);
  if (errors > 0) rows.push(`| (errors reported by the cycles: ${errors}) | | | |`);
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

console.log(`Machine: ${machine()}\n`);
console.log(`Service: idsync's in-test SCIM server (test/connectors/scim/server.ts, in memory) in a child process, over loopback HTTP.\n`);
console.log('| SCIM provisioning | time | rate | requests |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('\nTargets (issue 6): at least 2,000 objects/s on 2 cores; a no-change cycle sends 0 write requests.');
