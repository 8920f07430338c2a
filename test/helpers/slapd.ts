/**
 * A throwaway OpenLDAP server for tests and benchmarks: its own config, data and port in a temp dir, started as
 * an ordinary process on loopback (syncprov, accesslog and memberof overlays, like a production provider), and
 * removed again by `stop()`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { type SamplePerson, samplePeople } from '../../src/samples/people.js';

const run = promisify(execFile);

export interface SlapdOptions {
  /** LDIF loaded with slapadd before the server starts (no overlays run: memberOf stays empty) */
  ldif?: string;
  /** a file loaded with slapadd, for large generated data */
  ldifFile?: string;
  /** leave out the syncprov overlay, to exercise the fallbacks */
  syncprov?: boolean;
  accesslog?: boolean;
  /**
   * memberof keeps groups' member values in step when a member is renamed or deleted (memberof-refint);
   * false leaves them as they are, like a directory without referential integrity
   */
  memberofRefint?: boolean;
}

export interface Slapd {
  url: string;
  port: number;
  bindDN: string;
  password: string;
  baseDN: string;
  dir: string;
  /** stops the process (SIGKILL when `hard`), keeping the data */
  kill(hard?: boolean): Promise<void>;
  /** starts the process again on the same port and data */
  restart(): Promise<void>;
  /** stops the process and removes everything */
  stop(): Promise<void>;
  /** runs ldapmodify/ldapadd with this LDIF as the admin */
  modify(ldif: string): Promise<void>;
}

export const BASE_DN = 'dc=example,dc=test';

/** server binaries live in /usr/sbin, which is not on every PATH */
/** A sample person's DN under ou=people of BASE_DN. */
export const personDN = (id: string): string => `uid=${id},ou=people,${BASE_DN}`;

/** A sample person (src/samples/people.ts) as an inetOrgPerson LDIF entry, without a trailing newline. */
export function personEntry(p: SamplePerson): string {
  return [
    `dn: ${personDN(p.employeeId)}`,
    'objectClass: inetOrgPerson',
    `uid: ${p.employeeId}`,
    `cn: ${p.firstName} ${p.lastName}`,
    `sn: ${p.lastName}`,
    `givenName: ${p.firstName}`,
    `displayName: ${p.firstName} ${p.lastName}`,
    `mail: ${p.email}`,
    `title: ${p.title}`,
    `employeeNumber: ${p.employeeId}`,
    `departmentNumber: ${p.department}`,
    ...(p.managerId ? [`manager: ${personDN(p.managerId)}`] : []),
  ].join('\n');
}

/** BASE_LDIF and the first `count` sample people under ou=people. */
export function samplePeopleLdif(count: number): string {
  return `${BASE_LDIF}\n${[...samplePeople(count)].map(personEntry).join('\n\n')}\n`;
}

export function sbin(name: string): string {
  const path = `/usr/sbin/${name}`;
  return existsSync(path) ? path : name;
}
const ADMIN_DN = `cn=admin,${BASE_DN}`;
const ADMIN_PASSWORD = 'test-admin-secret';

export const BASE_LDIF = `dn: ${BASE_DN}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,${BASE_DN}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${BASE_DN}
objectClass: organizationalUnit
ou: groups

dn: ou=archive,${BASE_DN}
objectClass: organizationalUnit
ou: archive
`;

function config(dir: string, options: SlapdOptions): string {
  const syncprov = options.syncprov !== false;
  const accesslog = options.accesslog !== false;
  const lines = [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/nis.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'moduleload memberof',
    syncprov || accesslog ? 'moduleload syncprov' : '',
    accesslog ? 'moduleload accesslog' : '',
    `pidfile ${dir}/slapd.pid`,
    `argsfile ${dir}/slapd.args`,
    'sizelimit unlimited',
    'threads 4',
    '',
  ];
  if (accesslog) {
    lines.push(
      'database mdb',
      'suffix cn=accesslog',
      `rootdn ${ADMIN_DN}`,
      `directory ${dir}/accesslog`,
      'maxsize 1073741824',
      'index default eq',
      'index entryCSN,objectClass,reqEnd,reqResult,reqStart,reqDN eq',
      'overlay syncprov',
      'syncprov-nopresent TRUE',
      'syncprov-reloadhint TRUE',
      `access to * by dn.exact="${ADMIN_DN}" read by * none`,
      '',
    );
  }
  lines.push(
    'database mdb',
    `suffix ${BASE_DN}`,
    `rootdn ${ADMIN_DN}`,
    `rootpw ${ADMIN_PASSWORD}`,
    `directory ${dir}/data`,
    'maxsize 4294967296',
    'index objectClass,entryUUID,entryCSN,uid,cn,mail,member eq',
    'overlay memberof',
    'memberof-group-oc groupOfNames',
    'memberof-member-ad member',
    'memberof-memberof-ad memberOf',
    `memberof-refint ${options.memberofRefint === false ? 'FALSE' : 'TRUE'}`,
  );
  if (syncprov) lines.push('overlay syncprov', 'syncprov-checkpoint 100 10', 'syncprov-sessionlog 10000');
  if (accesslog) {
    lines.push(
      'overlay accesslog',
      'logdb cn=accesslog',
      'logops writes',
      'logsuccess TRUE',
      'logpurge 07+00:00 01+00:00',
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'idsync-slapd-'));
  await mkdir(join(dir, 'data'));
  await mkdir(join(dir, 'accesslog'));
  const conf = join(dir, 'slapd.conf');
  await writeFile(conf, config(dir, options));
  await writeFile(join(dir, 'base.ldif'), options.ldif ?? BASE_LDIF);
  await run(sbin('slapadd'), ['-q', '-f', conf, '-b', BASE_DN, '-l', join(dir, 'base.ldif')], {
    timeout: 60_000,
  });
  if (options.ldifFile) {
    await run(sbin('slapadd'), ['-q', '-f', conf, '-b', BASE_DN, '-l', options.ldifFile], {
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  }
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    // -d 0 keeps slapd in the foreground, so the process handle is the server itself
    const proc = spawn(sbin('slapd'), ['-f', conf, '-h', `${url}/`, '-d', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`slapd exited (${code}): ${stderr}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port, 15_000), exited]);
  };

  const kill = async (hard = false) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };

  await start();
  return {
    url,
    port,
    bindDN: ADMIN_DN,
    password: ADMIN_PASSWORD,
    baseDN: BASE_DN,
    dir,
    kill,
    restart: start,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
    async modify(ldif: string) {
      const file = join(dir, `change-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
      await writeFile(file, ldif);
      await run('ldapmodify', ['-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PASSWORD, '-f', file], {
        timeout: 30_000,
      });
    },
  };
}

/** A directory's entries as comparable data: DN → attribute → values; DNs and reference values lower-cased, values sorted. */
export type Entries = Record<string, Record<string, string[]>>;

/**
 * The people and groups of a directory (inetOrgPerson, groupOfNames) with the attributes asked for: what two
 * directories are compared by.
 */
export async function entriesOf(slapd: Slapd, attributes: string[], references = ['manager', 'member']): Promise<Entries> {
  const client = new Client({ url: slapd.url });
  try {
    await client.bind(slapd.bindDN, slapd.password);
    const { searchEntries } = await client.search(slapd.baseDN, {
      scope: 'sub',
      filter: '(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))',
      attributes,
    });
    const out: Entries = {};
    for (const e of searchEntries) {
      const attrs: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(e)) {
        if (k === 'dn') continue;
        const values = (Array.isArray(v) ? v : [v]).map(String);
        attrs[k] = (references.includes(k) ? values.map((x) => x.toLowerCase()) : values).sort();
      }
      out[e.dn.toLowerCase()] = attrs;
    }
    return out;
  } finally {
    await client.unbind();
  }
}

/** Reference values (manager, member) that name no entry of the directory: "referrer → value". */
export function danglingReferences(entries: Entries, references = ['manager', 'member']): string[] {
  return Object.entries(entries).flatMap(([dn, attrs]) =>
    references.flatMap((r) => attrs[r] ?? []).filter((ref) => !(ref in entries)).map((ref) => `${dn} → ${ref}`),
  );
}
