/**
 * An agent SIGKILLed in the middle of an export, with real processes: `idsync serve` (the HR feed in its
 * folder) and two `idsync agent start` of group onprem, both reaching a PostgreSQL accounts table (the
 * `app` connector runs on the agents). The table has no unique constraint on the login, as many
 * applications' tables have none: a create sent twice is a second row. A trigger makes each insert take a
 * couple of milliseconds so that an export batch (500 changes, committed by the agent in transactions of 25)
 * is surely in flight when the agent holding it is killed. The next cycles, on the other agent, must leave
 * the table as an uninterrupted run leaves it: every person once, nobody twice.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PEOPLE_HEADER, personRow, samplePeople } from '../../src/samples/people.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';
import { cycleIn } from '../helpers/workspace.js';
import { freePort, lastRun, type Proc, register, startAgent, startService, waitForCycle } from './support.js';

const PEOPLE = 3000;

const TABLE = `
  CREATE TABLE accounts (id SERIAL PRIMARY KEY, login TEXT NOT NULL, display_name TEXT, department TEXT);
  CREATE FUNCTION slow_insert() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$ LANGUAGE plpgsql;
  CREATE TRIGGER slow BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION slow_insert();`;

function config(db: TestDatabase, group?: string): string {
  return `version: 1
state: { path: .idsync }
schedule: { interval: 2s }
connectors:
  hr:
    type: csv
    path: data/hr.csv
    objectType: person
    anchor: employeeId
  app:
    type: sql
${group ? `    agent: ${group}\n` : ''}    driver: postgres
    url: ${db.url}
    exportBatchSize: 25
    objectTypes:
      account:
        table: accounts
        anchor: id
        attributes: { id: id, login: login, display_name: displayName, department: department }
  directory:
    type: builtin
rules:
  - name: hr-in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: email, expression: 'ToLower([email])' }
      - { target: displayName, expression: 'Join(" ", [firstName], [lastName])' }
      - { target: department, source: department }
  - name: app-out
    connector: app
    direction: outbound
    metaverseType: person
    objectType: account
    join: [[{ target: login }]]
    provision: true
    flows:
      - { target: login, source: email }
      - { target: displayName, source: displayName }
      - { target: department, source: department }
`;
}

function writeFeed(dir: string): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...[...samplePeople(PEOPLE)].map(personRow)].join('\n')}\n`);
}

/** The local TCP ports of process `pid`'s sockets (its connections' own ends). */
function localPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 10 && inodes.has(f[9]!)) ports.add(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

let root: string;
let target: TestDatabase;
let reference: TestDatabase;
let service: Proc | undefined;
const agents: (Proc | undefined)[] = [];

beforeAll(async () => {
  [target, reference] = await Promise.all([createDatabase('agent_export'), createDatabase('agent_export_ref')]);
  await Promise.all([target.exec(TABLE), reference.exec(TABLE)]);
  root = mkdtempSync(join(tmpdir(), 'idsync-agent-export-'));
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a?.stop();
  await service?.stop();
  await Promise.all([target?.drop(), reference?.drop()]);
  rmSync(root, { recursive: true, force: true });
});

const rows = async (db: TestDatabase) =>
  (await db.exec('SELECT login, display_name, department FROM accounts ORDER BY login, id')) as { login: string; display_name: string; department: string }[];

describe('an agent killed during an export', () => {
  it('leaves the target as an uninterrupted run does: nothing lost, nothing doubled', async () => {
    const serviceDir = join(root, 'service');
    mkdirSync(serviceDir);
    writeFileSync(join(serviceDir, 'idsync.yaml'), config(target, 'onprem'));
    writeFeed(serviceDir);
    const port = await freePort();
    service = await startService(serviceDir, port);
    const agentDirs = [join(root, 'agent-a'), join(root, 'agent-b')];
    for (const dir of agentDirs) {
      await register(join(serviceDir, 'idsync.yaml'), `http://127.0.0.1:${port}`, 'onprem', dir);
      agents.push(startAgent(dir));
    }
    for (const a of agents) await a!.waitFor(/connected to ws:/);
    const from = lastRun(service!);

    // an export batch in flight: committed rows in the table, and an INSERT running on one agent's connection
    let victim = -1;
    let atKill = 0;
    const deadline = Date.now() + 180_000;
    while (victim < 0) {
      if (Date.now() > deadline) throw new Error(`no export seen in flight; ${(await rows(target)).length} rows\n${service!.stderr().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
      const n = ((await target.exec('SELECT count(*)::int AS n FROM accounts')) as { n: number }[])[0]!.n;
      if (n < 600) continue;
      const busy = (await target.exec(
        `SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query ILIKE 'INSERT%'`,
      )) as { client_port: number }[];
      for (const [i, a] of agents.entries()) {
        const ports = localPorts(a!.child.pid!);
        if (busy.some((b) => ports.has(b.client_port))) {
          a!.child.kill('SIGKILL');
          victim = i;
          atKill = n;
          break;
        }
      }
    }
    await agents[victim]!.done;
    agents[victim] = undefined;
    // the kill landed mid-export: some accounts were there, not all
    console.log(`agent ${victim === 0 ? 'a' : 'b'} SIGKILLed with an INSERT running and ${atKill} of ${PEOPLE} accounts committed`);
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(PEOPLE);

    // the cycle in flight fails its export or not; a later one ends ok, and the one after has nothing to do
    const finished = await waitForCycle(service!, (c) => c.status === 'ok', from, 300_000);
    const quiet = await waitForCycle(service!, (c) => c.status === 'ok', finished.runId, 120_000);
    expect(quiet.connectors.find((s) => s.connector === 'app' && s.phase === 'export')?.added ?? 0).toBe(0);
    await service!.stop();
    service = undefined;

    // the same feed and rules, in one process, never interrupted
    const refDir = join(root, 'reference');
    mkdirSync(refDir);
    writeFileSync(join(refDir, 'idsync.yaml'), config(reference));
    writeFeed(refDir);
    expect((await cycleIn(refDir)).status).toBe('ok');

    const remote = await rows(target);
    const local = await rows(reference);
    const logins = remote.map((r) => r.login);
    expect(new Set(logins).size).toBe(logins.length); // nobody twice
    expect(local.length).toBe(PEOPLE);
    expect(remote).toEqual(local); // nobody missing, every attribute as an uninterrupted run wrote it
  }, 600_000);
});
