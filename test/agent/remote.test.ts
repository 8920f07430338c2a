/**
 * Connectors on agents, with real processes as an administrator deploys them: `idsync serve` in a folder
 * holding idsync.yaml and the state only, and two `idsync agent start` in folders of their own holding the
 * CSV feeds. The HR feeds (`agent: onprem`) are read by the agents and reach the service's built-in
 * directory exactly as an in-process run puts them there; an agent SIGKILLed in the middle of a
 * 20,000-row import leaves the import to the other one, which goes on after the last committed page, and the
 * result is what an uninterrupted run gives.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { Directory } from '../../src/directory/index.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, sampleGroups, samplePeople } from '../../src/samples/people.js';
import { cycleIn, snapshot } from '../helpers/workspace.js';
import { freePort, idsync, lastRun, listeningPorts, type Proc, register, startAgent, startService, waitForCycle } from './support.js';

const PEOPLE = 20_000;
const GROUPS = 20;

let root: string;
let serviceDir: string;
let agentDirs: string[];
let service: Proc | undefined;
const agents: (Proc | undefined)[] = [];
let port: number;

/** the sample configuration with the HR feeds on agents of group onprem, small pages, cycles every 2 s */
function remoteConfig(): string {
  return SAMPLE_CONFIG.replace(/interval: 30m/, 'interval: 2s').replace(/^ {4}type: csv$/gm, '    type: csv\n    agent: onprem\n    pageSize: 250');
}

function writeFeeds(dir: string, people: number): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const list = [...samplePeople(people)];
  writeFileSync(join(dir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...list.map(personRow)].join('\n')}\n`);
  writeFileSync(join(dir, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...sampleGroups(people, GROUPS, 25).map(groupRow)].join('\n')}\n`);
}

const agentActive = async () =>
  (JSON.parse((await idsync(['--config', join(serviceDir, 'idsync.yaml'), 'agents', 'list', '--json'])).out).agents as { state: string }[]).filter(
    (a) => a.state === 'active',
  ).length;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'idsync-remote-'));
  serviceDir = join(root, 'service');
  agentDirs = [join(root, 'agent-a'), join(root, 'agent-b')];
  mkdirSync(serviceDir);
  writeFileSync(join(serviceDir, 'idsync.yaml'), remoteConfig());
  port = await freePort();
  service = await startService(serviceDir, port);
  for (const dir of agentDirs) {
    await register(join(serviceDir, 'idsync.yaml'), `http://127.0.0.1:${port}`, 'onprem', dir);
    writeFeeds(dir, 10);
  }
}, 120_000);

afterAll(async () => {
  for (const a of agents) await a?.stop();
  await service?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('connectors on agents', () => {
  it('skips the group while no agent is connected: the cycle is incomplete, the others go on', async () => {
    const c = await waitForCycle(service!, () => true);
    expect(c.status).toBe('incomplete');
    expect(c.connectors.find((s) => s.connector === 'hr' && s.phase === 'import')).toMatchObject({
      status: 'skipped',
      detail: expect.stringContaining('no agent of group onprem is connected'),
    });
    expect(c.connectors.find((s) => s.connector === 'directory' && s.phase === 'import')?.status).toBe('ok');
  }, 60_000);

  it('runs the feeds on the agents, which listen on no port; the service folder holds no feed', async () => {
    for (const dir of agentDirs) agents.push(startAgent(dir));
    for (const a of agents) await a!.waitFor(/connected to ws:/);
    for (const a of agents) expect(listeningPorts(a!.child.pid!)).toEqual([]);
    const from = lastRun(service!);
    const c = await waitForCycle(service!, (r) => r.status === 'ok', from);
    expect(c.connectors.find((s) => s.connector === 'hr' && s.phase === 'import')?.status).toBe('ok');
    for (let i = 0; i < 300 && (await agentActive()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await agentActive()).toBe(2);
    const files = readdirSync(serviceDir, { recursive: true }) as string[];
    expect(files.filter((f) => f.endsWith('.csv'))).toEqual([]);
  }, 120_000);

  it('an agent killed in the middle of an import: the other finishes it, and the result is an uninterrupted run', async () => {
    const logLength = agents.map((a) => a!.stderr().length);
    // the feeds grow to 20,000 people on both agents' machines: the next cycle imports them in 80 pages
    for (const dir of agentDirs) writeFeeds(dir, PEOPLE);
    const started = await Promise.race(
      agents.map((a, i) => a!.waitFor(/import of hr \(full\) started/, 120_000, logLength[i]).then(() => i)),
    );
    // let some pages be committed (the service's connector space of hr grows past its 10 first rows), then
    // kill the agent serving the import
    const state = new Database(join(serviceDir, '.idsync', 'state.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = state.prepare("SELECT count(*) AS n FROM cs WHERE connector = 'hr'");
      for (let i = 0; (rows.get() as { n: number }).n < 1000; i++) {
        if (i > 6000) throw new Error('the import committed no page within 5 minutes');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      state.close();
    }
    const from = lastRun(service!);
    agents[started]!.child.kill('SIGKILL');
    await agents[started]!.done;
    agents[started] = undefined;
    const survivor = agents[1 - started]!;
    // it goes on after the last page the service committed (the CSV connector gives a position with each page)
    await survivor.waitFor(/import of hr \(full\) started for the service, resuming where another agent stopped/, 60_000, logLength[1 - started]);
    // the cycle in flight, or the next, ends with every row imported; then one with nothing left to do
    const finished = await waitForCycle(service!, (r) => r.status === 'ok', from, 300_000);
    await waitForCycle(service!, (r) => r.status === 'ok', finished.runId, 120_000);
    await service!.stop();
    service = undefined;

    // the same feeds, in one process, never interrupted
    const reference = join(root, 'reference');
    mkdirSync(reference);
    writeFileSync(join(reference, 'idsync.yaml'), SAMPLE_CONFIG);
    cpSync(join(agentDirs[0]!, 'data'), join(reference, 'data'), { recursive: true });
    expect((await cycleIn(reference)).status).toBe('ok');

    const read = (dir: string) => {
      const d = new Directory(join(dir, '.idsync', 'directory.db'));
      try {
        return snapshot(d);
      } finally {
        d.close();
      }
    };
    const remote = read(serviceDir);
    const local = read(reference);
    expect(Object.keys(remote.users)).toHaveLength(Object.keys(local.users).length);
    expect(Object.keys(local.users).length).toBeGreaterThan(PEOPLE * 0.9);
    expect(remote).toEqual(local);
    expect(existsSync(join(serviceDir, 'data'))).toBe(false);
  }, 600_000);
});
