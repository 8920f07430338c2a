/**
 * `idsync serve` reloads idsync.yaml while it runs (src/server/config-reload.ts), with real processes: the
 * service in its folder, an agent in its own holding two HR feeds. A remote connector's path changed in
 * idsync.yaml reaches the connected agent without a restart (its next import reads the other feed); a rules
 * change does too (the agent's scoping filters); an invalid edit is refused at its file:line:column and the
 * service goes on; SIGHUP reloads; the agent asks for its configuration on its poll interval.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { Directory } from '../../src/directory/index.js';
import { GROUPS_HEADER, groupRow, PEOPLE_HEADER, personRow, sampleGroups, samplePeople } from '../../src/samples/people.js';
import { snapshot } from '../helpers/workspace.js';
import { freePort, lastRun, type Proc, register, startAgent, startService, waitForCycle } from '../agent/support.js';

let root: string;
let serviceDir: string;
let agentDir: string;
let service: Proc | undefined;
let agent: Proc | undefined;
let configFile: string;

const people = (n: number) => `${[PEOPLE_HEADER, ...[...samplePeople(n)].map(personRow)].join('\n')}\n`;

function users(): { total: number; active: number } {
  const d = new Directory(join(serviceDir, '.idsync', 'directory.db'));
  try {
    const all = Object.values(snapshot(d).users);
    return { total: all.length, active: all.filter((u) => u.active === true).length };
  } finally {
    d.close();
  }
}

async function until(test: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'idsync-reload-'));
  serviceDir = join(root, 'service');
  agentDir = join(root, 'agent');
  mkdirSync(serviceDir);
  configFile = join(serviceDir, 'idsync.yaml');
  writeFileSync(
    configFile,
    SAMPLE_CONFIG.replace(/interval: 30m/, 'interval: 2s')
      .replace(/^ {4}type: csv$/gm, '    type: csv\n    agent: onprem')
      .replace('path: data/hr.csv', 'path: data/hr-a.csv')
      .replace('deleteThreshold: { count: 500, percent: 10 }', 'deleteThreshold: { count: 500, percent: 100 }'),
  );
  const port = await freePort();
  service = await startService(serviceDir, port);
  await register(configFile, `http://127.0.0.1:${port}`, 'onprem', agentDir);
  mkdirSync(join(agentDir, 'data'));
  writeFileSync(join(agentDir, 'data', 'hr-a.csv'), people(20));
  writeFileSync(join(agentDir, 'data', 'hr-b.csv'), people(30));
  writeFileSync(join(agentDir, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...sampleGroups(20, 2, 5).map(groupRow)].join('\n')}\n`);
  agent = startAgent(agentDir, { IDSYNC_AGENT_CONFIG_POLL_MS: '1000' });
  await agent.waitFor(/connected to ws:/);
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await service?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('idsync serve reloads idsync.yaml', () => {
  it('a remote connector setting changed in idsync.yaml reaches the connected agent without a restart', async () => {
    await waitForCycle(service!, (r) => r.status === 'ok');
    await until(() => users().total === 20);
    const pid = agent!.child.pid;
    const from = { service: service!.stderr().length, agent: agent!.stderr().length };

    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('path: data/hr-a.csv', 'path: data/hr-b.csv'));
    await service!.waitFor(/idsync\.yaml reloaded \(the file changed\)/, 30_000, from.service);
    await agent!.waitFor(/configuration revision \w+ applied \(hr, hr-groups\)/, 30_000, from.agent);
    const run = lastRun(service!);
    // the next import of hr reads the other feed: ten more people
    const c = await waitForCycle(service!, (r) => r.connectors.some((s) => s.connector === 'hr' && s.phase === 'import' && s.added === 10), run);
    expect(c.status).toBe('ok');
    await until(() => users().total === 30);
    expect(agent!.child.pid).toBe(pid);
    expect(agent!.child.exitCode).toBeNull();
    expect(agent!.stderr().slice(from.agent)).not.toMatch(/connected to ws:/); // the same connection
  }, 180_000);

  it('an invalid edit is refused at its file:line:column and the service goes on with the running config', async () => {
    const good = readFileSync(configFile, 'utf8');
    const from = { service: service!.stderr().length, agent: agent!.stderr().length };
    const bad = good.replace('anchor: employeeId', 'anchor: employeeId\n    pageSize: many');
    writeFileSync(configFile, bad);
    try {
      const line = bad.split('\n').findIndex((l) => l.includes('pageSize: many')) + 1;
      const refused = await service!.waitFor(/not valid; the running configuration stays:\n\s+(\S+):(\d+):(\d+): (.*)/, 30_000, from.service);
      expect(refused[1]).toMatch(/idsync\.yaml$/);
      expect(Number(refused[2])).toBe(line);
      expect(Number(refused[3])).toBe(bad.split('\n')[line - 1]!.indexOf('many') + 1);
      expect(refused[4]).toMatch(/expected a number/);
      // cycles go on, on the running config (the 30 people of hr-b), and the agent got nothing new
      const run = lastRun(service!);
      await waitForCycle(service!, (r) => r.status === 'ok', run);
      expect(users().total).toBe(30);
      expect(agent!.stderr().slice(from.agent)).not.toMatch(/configuration revision/);
    } finally {
      writeFileSync(configFile, good);
    }
  }, 120_000);

  it('a rules change reaches the agent: its scoping filters apply at its next import; SIGHUP reloads too', async () => {
    const from = { service: service!.stderr().length, agent: agent!.stderr().length };
    const scoped = readFileSync(configFile, 'utf8').replace(
      '    connector: hr\n    direction: inbound\n',
      '    connector: hr\n    direction: inbound\n    scope:\n      - [{ attribute: department, operator: EQUALS, value: Engineering }]\n',
    );
    writeFileSync(configFile, scoped);
    await service!.waitFor(/idsync\.yaml reloaded/, 30_000, from.service);
    const engineers = [...samplePeople(30)].filter((p) => p.department === 'Engineering').length;
    const m = await agent!.waitFor(/import of hr \(full\) finished: (\d+) objects sent, (\d+) out of scope kept here/, 60_000, from.agent);
    expect([Number(m[1]), Number(m[2])]).toEqual([engineers, 30 - engineers]);
    await until(() => users().active === engineers);

    const hup = service!.stderr().length;
    service!.child.kill('SIGHUP');
    await service!.waitFor(/idsync\.yaml reloaded \(SIGHUP\)/, 30_000, hup);
    const run = lastRun(service!);
    await waitForCycle(service!, (r) => r.status === 'ok', run);
    expect(service!.child.exitCode).toBeNull();
  }, 180_000);
});
