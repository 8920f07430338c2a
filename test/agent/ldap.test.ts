/**
 * OpenLDAP behind an agent: `idsync serve` in a folder with idsync.yaml and the state, `idsync agent start`
 * in another holding the LDAP password (`${agent:LDAP_PASSWORD}`, its secrets folder). The people reach the
 * service's built-in directory as an in-process run puts them there; the password is nowhere in the
 * service's folder or output; a change in OpenLDAP is seen by the agent's watch (persistent search) and
 * reaches the directory through a cycle the notification starts (the schedule is hourly): the test prints
 * how long each of five changes took from the LDAP modify to the directory (docs/agent.md records it).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Directory } from '../../src/directory/index.js';
import { samplePeople } from '../../src/samples/people.js';
import { personDN, type Slapd, samplePeopleLdif, startSlapd } from '../helpers/slapd.js';
import { cycleIn, snapshot } from '../helpers/workspace.js';
import { freePort, lastRun, ldapSourceConfig, type Proc, register, startAgent, startService, waitForCycle } from './support.js';

const PEOPLE = 60;
/** changes made one after the other, each timed from the LDAP modify to its arrival in the directory */
const LATENCY_CHANGES = 5;
let slapd: Slapd;
let root: string;
let serviceDir: string;
let agentDir: string;
let service: Proc | undefined;
let agent: Proc | undefined;

beforeAll(async () => {
  slapd = await startSlapd({ ldif: samplePeopleLdif(PEOPLE) });
  root = mkdtempSync(join(tmpdir(), 'idsync-agent-ldap-'));
  serviceDir = join(root, 'service');
  agentDir = join(root, 'agent');
  mkdirSync(serviceDir);
  writeFileSync(join(serviceDir, 'idsync.yaml'), ldapSourceConfig(slapd, `\${agent:LDAP_PASSWORD}`, 'onprem'));
  const port = await freePort();
  service = await startService(serviceDir, port);
  await register(join(serviceDir, 'idsync.yaml'), `http://127.0.0.1:${port}`, 'onprem', agentDir);
  mkdirSync(join(agentDir, 'secrets'), { mode: 0o700 });
  writeFileSync(join(agentDir, 'secrets', 'LDAP_PASSWORD'), `${slapd.password}\n`, { mode: 0o600 });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await service?.stop();
  await slapd?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('OpenLDAP through an agent', () => {
  it('imports with the password only the agent holds, and a change notification reaches the directory', async () => {
    const before = lastRun(service!);
    agent = startAgent(agentDir);
    await agent.waitFor(/connected to ws:/);
    // the group's agent coming back starts a cycle (the schedule is hourly)
    const first = await waitForCycle(service!, (c) => c.status === 'ok', before, 120_000);
    expect(first.connectors.find((s) => s.connector === 'corp' && s.phase === 'import')).toMatchObject({ status: 'ok', added: PEOPLE });

    // changes in OpenLDAP: the agent's persistent search sees each, its notification starts a cycle, and the
    // directory (read beside the running service) has the new title; how long that took is printed
    const directory = new Database(join(serviceDir, '.idsync', 'directory.db'), { readonly: true, fileMustExist: true });
    const has = directory.prepare('SELECT count(*) AS n FROM objects WHERE attributes LIKE ?');
    const people = [...samplePeople(LATENCY_CHANGES)];
    const latencies: number[] = [];
    try {
      for (const [i, p] of people.entries()) {
        const title = i === 0 ? 'Changed Through The Agent' : `Changed Through The Agent ${i}`;
        const from = lastRun(service!);
        const started = performance.now();
        await slapd.modify(`dn: ${personDN(p.employeeId)}\nchangetype: modify\nreplace: title\ntitle: ${title}\n`);
        const deadline = started + 10_000; // generous: the figure is printed, not asserted
        while ((has.get(`%"${title}"%`) as { n: number }).n === 0) {
          if (performance.now() > deadline) throw new Error(`the change of ${p.employeeId} did not reach the directory within 10 s`);
          await new Promise((r) => setTimeout(r, 10));
        }
        latencies.push(performance.now() - started);
        const after = await waitForCycle(
          service!,
          (c) => (c.connectors.find((s) => s.connector === 'directory' && s.phase === 'export')?.updated ?? 0) >= 1,
          from,
          120_000,
        );
        expect(after.status).toBe('ok');
      }
    } finally {
      directory.close();
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `change notification through the agent, OpenLDAP modify to the directory: ${latencies.map((ms) => ms.toFixed(0)).join(', ')} ms` +
        ` (median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`,
    );
    await agent.stop();
    agent = undefined;
    const output = service!.stdout() + service!.stderr();
    await service!.stop();
    service = undefined;

    // the password is nowhere on the service's side
    expect(output).not.toContain(slapd.password);
    for (const f of readdirSync(serviceDir, { recursive: true }) as string[]) {
      const path = join(serviceDir, f);
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch {
        continue; // a folder
      }
      expect(bytes.includes(Buffer.from(slapd.password)), f).toBe(false);
    }

    // the same directory as an in-process run over the same OpenLDAP
    const reference = join(root, 'reference');
    mkdirSync(reference);
    writeFileSync(join(reference, 'idsync.yaml'), ldapSourceConfig(slapd, slapd.password));
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
    expect(Object.values(remote.users).some((u) => u.title === 'Changed Through The Agent')).toBe(true);
    expect(remote).toEqual(read(reference));
  }, 400_000);
});
