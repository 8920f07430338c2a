/**
 * The rules' scoping filters run on the agent (src/agent/scope/), with real processes: `idsync serve` in a
 * folder without the feed and `idsync agent start` in one holding it. Two inbound rules read the HR feed
 * with different scopes (departments Engineering and Sales; heads of department): only people outside both
 * stay on the agent, which says how many it sent and kept. A person moves out of scope and another into it
 * between cycles; the built-in directory equals an in-process run of the same rules and the same two feeds.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { Directory } from '../../src/directory/index.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, type SamplePerson, sampleGroups, samplePeople } from '../../src/samples/people.js';
import { cycleIn, snapshot } from '../helpers/workspace.js';
import { freePort, lastRun, type Proc, register, startAgent, startService, waitForCycle } from './support.js';

const PEOPLE = 120;

/** two inbound rules on the HR feed, scoped differently; hr-groups unscoped (every group crosses) */
function scopedConfig(base: string): string {
  const people = base.match(/ {2}- name: hr-people\n[\s\S]*?(?=\n\n {2}- name: hr-groups)/)![0];
  const heads = people
    .replace('name: hr-people', 'name: hr-heads')
    .replace('    join:', '    scope:\n      - [{ attribute: title, operator: EQUALS, value: Head of Department }]\n    join:');
  const scoped = people.replace('    join:', '    scope:\n      - [{ attribute: department, operator: IS IN, value: [Engineering, Sales] }]\n    join:');
  return base.replace(people, `${scoped}\n\n${heads}`);
}

const inScope = (p: SamplePerson) => ['Engineering', 'Sales'].includes(p.department) || p.title === 'Head of Department';

function feeds(change: boolean): { people: SamplePerson[]; hr: string; groups: string } {
  const people = [...samplePeople(PEOPLE)];
  if (change) {
    // one engineer leaves scope (to Legal), one person of Legal enters it (to Sales)
    const leaving = people.find((p) => p.department === 'Engineering' && p.title !== 'Head of Department')!;
    const entering = people.find((p) => p.department === 'Legal' && p.title !== 'Head of Department')!;
    leaving.department = 'Legal';
    entering.department = 'Sales';
  }
  return {
    people,
    hr: `${[PEOPLE_HEADER, ...people.map(personRow)].join('\n')}\n`,
    groups: `${[GROUPS_HEADER, ...sampleGroups(PEOPLE, 4, 12).map(groupRow)].join('\n')}\n`,
  };
}

function writeFeeds(dir: string, change: boolean): SamplePerson[] {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const f = feeds(change);
  writeFileSync(join(dir, 'data', 'hr.csv'), f.hr);
  writeFileSync(join(dir, 'data', 'groups.csv'), f.groups);
  return f.people;
}

function directoryOf(dir: string) {
  const d = new Directory(join(dir, '.idsync', 'directory.db'));
  try {
    return snapshot(d);
  } finally {
    d.close();
  }
}

/** the counts the agent logged for the hr import that finished after log offset `from` */
async function importCounts(agent: Proc, from: number): Promise<{ sent: number; kept: number; anchors: number; same: number }> {
  const m = await agent.waitFor(
    /import of hr \(full\) finished: (\d+) objects sent, (\d+) out of scope kept here, (\d+) out of scope sent as their anchor only, (\d+) unchanged sent as their anchor only/,
    120_000,
    from,
  );
  return { sent: Number(m[1]), kept: Number(m[2]), anchors: Number(m[3]), same: Number(m[4]) };
}

let root: string;
let serviceDir: string;
let agentDir: string;
let service: Proc | undefined;
let agent: Proc | undefined;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'idsync-scope-'));
  serviceDir = join(root, 'service');
  agentDir = join(root, 'agent');
  mkdirSync(serviceDir);
  const remote = scopedConfig(SAMPLE_CONFIG)
    .replace(/interval: 30m/, 'interval: 2s')
    .replace(/^ {4}type: csv$/gm, '    type: csv\n    agent: onprem\n    pageSize: 50');
  writeFileSync(join(serviceDir, 'idsync.yaml'), remote);
  const port = await freePort();
  service = await startService(serviceDir, port);
  await register(join(serviceDir, 'idsync.yaml'), `http://127.0.0.1:${port}`, 'onprem', agentDir);
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await service?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('scoping filters on the agent', () => {
  it('keeps people outside every rule on the premises, and the directory equals an in-process run', async () => {
    const first = writeFeeds(agentDir, false);
    agent = startAgent(agentDir);
    await agent.waitFor(/connected to ws:/);
    const counts = await importCounts(agent, 0);
    // only those outside both rules stay: heads of Finance, Legal… cross for the second rule
    expect(counts).toEqual({ sent: first.filter(inScope).length, kept: first.filter((p) => !inScope(p)).length, anchors: 0, same: 0 });
    expect(counts.kept).toBeGreaterThan(PEOPLE / 2);
    expect(first.filter((p) => !inScope(p) && p.title === 'Head of Department')).toEqual([]);
    expect(first.filter((p) => inScope(p) && !['Engineering', 'Sales'].includes(p.department)).length).toBeGreaterThan(0);
    let run = await waitForCycle(service!, (r) => r.status === 'ok');

    // between cycles, one person leaves scope and one enters it
    const offset = agent.stderr().length;
    const second = writeFeeds(agentDir, true);
    const again = await importCounts(agent, offset);
    // the feed's unchanged rows come as `same`: those in scope cross as their anchor, those out of it
    // (remembered from the first import) stay; of the two changed rows only the one entering scope crosses
    expect(again).toEqual({ sent: 1, kept: second.filter((p) => !inScope(p)).length, anchors: 0, same: second.filter(inScope).length - 1 });
    run = await waitForCycle(service!, (r) => r.status === 'ok', lastRun(service!));
    await waitForCycle(service!, (r) => r.status === 'ok', run.runId);
    await service!.stop();
    service = undefined;

    // the same rules and the same two feeds in one process
    const reference = join(root, 'reference');
    mkdirSync(reference);
    writeFileSync(join(reference, 'idsync.yaml'), scopedConfig(SAMPLE_CONFIG));
    writeFeeds(reference, false);
    expect((await cycleIn(reference)).status).toBe('ok');
    writeFeeds(reference, true);
    expect((await cycleIn(reference)).status).toBe('ok');

    const remote = directoryOf(serviceDir);
    const local = directoryOf(reference);
    expect(remote).toEqual(local);
    // the one who left scope is deprovisioned (disabled, as the rule says), the one who entered is there
    const changed = second.filter((p, i) => p.department !== first[i]!.department);
    expect(changed).toHaveLength(2);
    const byId = (id: string) => Object.values(remote.users).find((u) => u.externalId === id);
    const left = changed.find((p) => p.department === 'Legal')!;
    const entered = changed.find((p) => p.department === 'Sales')!;
    expect(byId(left.employeeId)?.active).toBe(false);
    expect(byId(entered.employeeId)).toMatchObject({ active: true, department: 'Sales' });
    expect(Object.values(remote.users).filter((u) => u.active === true)).toHaveLength(second.filter(inScope).length);
  }, 300_000);
});
