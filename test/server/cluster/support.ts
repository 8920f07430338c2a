/**
 * Several `idsync serve` nodes on one PostgreSQL state, as separate processes in folders of their own (the
 * compiled CLI from dist/), exporting to one shared SCIM target: a test idsync SCIM server behind a counting
 * HTTP proxy, so a test can say how many times each user was really created.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GROUPS_HEADER,
  groupRow,
  PEOPLE_HEADER,
  personRow,
  sampleGroups,
  samplePeople,
} from '../../../src/samples/people.js';
import { startCli } from '../../helpers/cli.js';
import type { TestDatabase } from '../../helpers/postgres.js';
import { startTestServer, type TestServer } from '../../helpers/scim-server.js';
import { snapshot } from '../../helpers/workspace.js';

export interface Target {
  /** the SCIM base URL the nodes export to (the proxy) */
  url: string;
  token: string;
  server: TestServer;
  /** userName → how many POST /Users the server answered 201 */
  created: Map<string, number>;
  counts(): { users: number; groups: number; memberships: number };
  snapshot(): ReturnType<typeof snapshot>;
  close(): Promise<void>;
}

export async function startTarget(): Promise<Target> {
  const server = await startTestServer();
  const created = new Map<string, number>();
  const proxy: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length')
        headers[k] = v;
    try {
      const answer = await fetch(`${server.server.url}${req.url}`, {
        method: req.method!,
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const text = await answer.text();
      const path = req.url!.split('?')[0]!;
      const count = (userName: unknown) =>
        created.set(String(userName), (created.get(String(userName)) ?? 0) + 1);
      if (req.method === 'POST' && answer.status === 201 && path.endsWith('/Users'))
        count(JSON.parse(body.toString()).userName);
      // creates sent in a Bulk request: each POST to /Users the server answered 201
      if (req.method === 'POST' && path.endsWith('/Bulk') && answer.status === 200) {
        const sent = (JSON.parse(body.toString()).Operations ?? []) as {
          method: string;
          path: string;
          bulkId?: string;
          data?: { userName?: string };
        }[];
        const got = (JSON.parse(text).Operations ?? []) as { bulkId?: string; status: string | number }[];
        for (const op of sent) {
          if (op.method !== 'POST' || op.path !== '/Users') continue;
          const answered = got.find((g) => g.bulkId === op.bulkId);
          if (answered && String(answered.status) === '201') count(op.data?.userName);
        }
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      });
      res.writeHead(answer.status, out).end(text);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/scim/v2`,
    token: server.token,
    server,
    created,
    counts: () => server.directory().counts(),
    snapshot: () => snapshot(server.directory()),
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await server.close();
    },
  };
}

export function clusterConfig(stateUrl: string, target: Target, interval = '1h'): string {
  return `
version: 1
state:
  path: .idsync
  url: ${stateUrl}
schedule:
  interval: ${interval}
safety:
  deleteThreshold: { count: 100000, percent: 100 }
connectors:
  hr: { type: csv, path: data/hr.csv, objectType: person, anchor: employeeId, references: { managerId: true } }
  hr-groups: { type: csv, path: data/groups.csv, objectType: group, anchor: groupId, multiValued: { members: ";" }, references: { members: true } }
  cloud:
    type: scim
    url: ${target.url}
    auth: { type: bearer, token: ${target.token} }
  directory: { type: builtin }
serve:
  port: 0
rules:
  - name: hr-people
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: givenName, source: firstName }
      - { target: familyName, source: lastName }
      - { target: displayName, expression: 'Join(" ", [firstName], [lastName])' }
      - { target: email, expression: 'ToLower([email])' }
      - { target: department, source: department }
      - { target: title, source: title }
      - { target: manager, source: managerId }
  - name: hr-groups
    connector: hr-groups
    direction: inbound
    objectType: group
    metaverseType: group
    join: [[{ source: groupId, metaverse: groupId }]]
    project: true
    flows:
      - { target: groupId, source: groupId }
      - { target: displayName, source: name }
      - { target: members, source: members, referencesIn: hr }
  - name: cloud-users
    connector: cloud
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: userName }]]
    provision: true
    deprovision: disable
    flows:
      - { target: userName, source: email }
      - { target: externalId, source: employeeId }
      - { target: active, constant: true }
      - { target: displayName, source: displayName }
      - { target: name.givenName, source: givenName }
      - { target: name.familyName, source: familyName }
      - { target: title, source: title }
  - name: cloud-groups
    connector: cloud
    direction: outbound
    metaverseType: group
    objectType: group
    join: [[{ target: externalId }]]
    provision: true
    deprovision: delete
    flows:
      - { target: displayName, source: displayName }
      - { target: externalId, source: groupId }
      - { target: members, source: members }
`;
}

export interface Node {
  dir: string;
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** the cycle reports it printed (JSON lines) */
  reports(): {
    status: string;
    connectors: { connector: string; phase: string; status: string; detail?: string }[];
  }[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** A node folder of its own (its idsync.yaml, its copy of the feeds, its state folder) and `idsync serve` in it. */
export function startNode(config: string, people: number, groups: number): Node {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-node-'));
  mkdirSync(join(dir, 'data'));
  writeFeeds(dir, people, groups);
  writeFileSync(join(dir, 'idsync.yaml'), config);
  const { child, done } = startCli(['serve', '--config', join(dir, 'idsync.yaml'), '--json', '--quiet'], {
    compiled: true,
    cwd: dir,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = done.then((r) => ({ code: r.code, signal: r.signal }));
  return {
    dir,
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    reports: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes('"connectors"'))
        .map((l) => JSON.parse(l)),
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function writeFeeds(dir: string, people: number, groups: number): void {
  const list = [...samplePeople(people)];
  writeFileSync(join(dir, 'data', 'hr.csv'), `${[PEOPLE_HEADER, ...list.map(personRow)].join('\n')}\n`);
  writeFileSync(
    join(dir, 'data', 'groups.csv'),
    `${[GROUPS_HEADER, ...sampleGroups(people, groups, 50).map(groupRow)].join('\n')}\n`,
  );
}

export interface LeaseRowView {
  unit: string;
  owner: string | null;
  pid: number | null;
  token: number;
  live: boolean;
}

export async function leases(db: TestDatabase): Promise<LeaseRowView[]> {
  const rows = await db
    .exec(
      'SELECT unit, owner, pid, token::int AS token, owner IS NOT NULL AND expires > clock_timestamp() AS live FROM leases ORDER BY unit',
    )
    .catch(() => []);
  return rows as unknown as LeaseRowView[];
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Pending exports not yet done, and whether any lease is live: 0 and false once the cluster is idle. */
export async function work(db: TestDatabase): Promise<{ pending: number; live: number }> {
  const [p] = await db
    .exec("SELECT count(*)::int AS n FROM pending WHERE state <> 'held'")
    .catch(() => [{ n: -1 }]);
  const [l] = await db
    .exec('SELECT count(*)::int AS n FROM leases WHERE owner IS NOT NULL AND expires > clock_timestamp()')
    .catch(() => [{ n: -1 }]);
  return { pending: Number(p!.n), live: Number(l!.n) };
}
