/**
 * Real processes as an administrator deploys them: `idsync serve` in the service's folder and `idsync agent
 * start` in each agent's own folder (compiled from dist/, so a SIGKILL cannot break a compile cache), plus
 * what the tests ask of them: the port, the cycle reports on the service's stdout, the agent's log, and the
 * TCP ports a process listens on (from /proc).
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { SAMPLE_CONFIG } from '../../src/cli/init.js';
import { main } from '../../src/cli/main.js';
import { type CliResult, startCli } from '../helpers/cli.js';
import { BASE_DN, type Slapd } from '../helpers/slapd.js';

export { freePort } from '../helpers/slapd.js';


/** The idsync CLI in this process (the service-side admin commands). */
export async function idsync(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

export interface Proc {
  child: ChildProcess;
  done: Promise<CliResult>;
  stdout(): string;
  stderr(): string;
  /** waits until `pattern` shows in stdout+stderr (from `from` on), up to `ms` */
  waitFor(pattern: RegExp, ms?: number, from?: number): Promise<RegExpExecArray>;
  stop(): Promise<CliResult>;
}

function proc(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Proc {
  const { child, done } = startCli(args, { cwd, env, compiled: true });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  let exited = false;
  void done.then(() => (exited = true));
  return {
    child,
    done,
    stdout: () => out,
    stderr: () => err,
    async waitFor(pattern, ms = 60_000, from = 0) {
      const deadline = Date.now() + ms;
      for (;;) {
        const text = (out + err).slice(from);
        const m = pattern.exec(text);
        if (m) return m;
        if (exited) throw new Error(`exited before ${pattern}:\n${out}\n${err}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms} ms:\n${out.slice(-3000)}\n${err.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const r = await done;
      clearTimeout(t);
      return r;
    },
  };
}

export async function startService(dir: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const p = proc(['--config', join(dir, 'idsync.yaml'), 'serve', '--port', String(port), '--quiet', '--json'], dir, env);
  await p.waitFor(/SCIM (gateway )?endpoint http/);
  return p;
}

export function startAgent(dir: string, env: NodeJS.ProcessEnv = {}): Proc {
  return proc(['agent', 'start', '--dir', dir], dir, env);
}

/** The cycle reports the service printed (JSON lines with a runId). */
export function cycles(service: Proc): { runId: number; status: string; connectors: { connector: string; phase: string; status: string; added: number; updated?: number; detail?: string }[] }[] {
  return service
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{"runId"'))
    .map((l) => JSON.parse(l));
}

/** Waits for a cycle report after `afterRun` that `accept` takes. */
export async function waitForCycle(
  service: Proc,
  accept: (c: ReturnType<typeof cycles>[number]) => boolean,
  afterRun = 0,
  ms = 120_000,
): Promise<ReturnType<typeof cycles>[number]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = cycles(service).find((c) => c.runId > afterRun && accept(c));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no such cycle within ${ms} ms; last: ${JSON.stringify(cycles(service).slice(-2))}\n${service.stderr().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function lastRun(service: Proc): number {
  return cycles(service).at(-1)?.runId ?? 0;
}

/** Registers an agent of `group` in `agentDir` with the service whose config is `serviceConfig`. */
export async function register(serviceConfig: string, base: string, group: string, agentDir: string): Promise<string> {
  const t = await idsync(['--config', serviceConfig, 'agents', 'token', group]);
  if (t.code !== 0) throw new Error(t.err);
  const r = await idsync(['agent', 'register', base, t.out.trim(), '--dir', agentDir]);
  if (r.code !== 0) throw new Error(r.err);
  return JSON.parse(readFileSync(join(agentDir, 'agent.json'), 'utf8')).id as string;
}

/** The TCP ports process `pid` listens on: its socket inodes matched against /proc/net/tcp{,6} LISTEN rows. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      // st 0A = LISTEN
      if (f[3] === '0A' && inodes.has(f[9]!)) ports.push(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** The sample config's outbound rules, with OpenLDAP as the source of people (on an agent when `group`). */
export function ldapSourceConfig(slapd: Slapd, password: string, group?: string): string {
  const sample = parse(SAMPLE_CONFIG) as { schedule: unknown; connectors: Record<string, unknown>; rules: { direction: string; objectType?: string }[] };
  sample.schedule = { interval: '1h' };
  sample.connectors = {
    corp: {
      type: 'ldap',
      ...(group && { agent: group }),
      flavor: 'openldap',
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password,
      baseDN: BASE_DN,
      objectTypes: {
        user: { objectClasses: ['inetOrgPerson'], attributes: ['uid', 'cn', 'sn', 'givenName', 'displayName', 'mail', 'title', 'employeeNumber', 'departmentNumber', 'manager'], rdnAttribute: 'uid', container: `ou=people,${BASE_DN}` },
      },
    },
    directory: sample.connectors.directory,
  };
  const inbound = {
    name: 'people-in',
    connector: 'corp',
    direction: 'inbound',
    objectType: 'user',
    metaverseType: 'person',
    join: [[{ source: 'employeeNumber', metaverse: 'employeeId' }]],
    project: true,
    flows: [
      { target: 'employeeId', source: 'employeeNumber' },
      { target: 'givenName', source: 'givenName' },
      { target: 'familyName', source: 'sn' },
      { target: 'displayName', source: 'displayName' },
      { target: 'email', expression: 'ToLower([mail])' },
      { target: 'title', source: 'title' },
      { target: 'department', source: 'departmentNumber' },
      { target: 'manager', source: 'manager' },
      { target: 'status', constant: 'active' },
    ],
  };
  sample.rules = [inbound, ...sample.rules.filter((r) => r.direction === 'outbound' && r.objectType !== 'group')];
  return stringify(sample);
}
