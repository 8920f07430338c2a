/**
 * A throwaway Samba AD DC for tests and benchmarks: provisioned in a temp dir, started in the foreground on
 * loopback, removed by `stop()`. Samba listens on the standard ports (389, 636, 88, 445…), so only one can
 * run on a machine at a time: keep every AD test in one file.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sbin, waitForPort } from './slapd.js';

const run = promisify(execFile);

export interface SambaDc {
  /** ldap://127.0.0.1 (simple binds allowed over plain LDAP) */
  url: string;
  ldapsUrl: string;
  baseDN: string;
  bindDN: string;
  password: string;
  /** PEM of the CA that signed the DC's certificate */
  caPem: string;
  dir: string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export const AD_BASE_DN = 'DC=example,DC=test';
const ADMIN_PASSWORD = 'Adm1n-Test-Pa55!';

export async function startSamba(options: { allowPlainBind?: boolean } = {}): Promise<SambaDc> {
  // another DC (a leftover of a killed run, or a system service) would answer instead of ours
  // (a DC this process stopped a moment ago may still be closing its listeners: give it a little while)
  if (!(await portClosed(389, 30_000))) throw new Error('port 389 is in use: stop the other LDAP server or Samba before the AD tests');
  const dir = await mkdtemp(join(tmpdir(), 'idsync-samba-'));
  await run(
    'samba-tool',
    [
      'domain',
      'provision',
      '--use-rfc2307',
      '--realm=EXAMPLE.TEST',
      '--domain=EXAMPLE',
      '--server-role=dc',
      '--dns-backend=NONE',
      `--adminpass=${ADMIN_PASSWORD}`,
      `--targetdir=${dir}`,
      '--option=interfaces=lo',
      '--option=bind interfaces only=yes',
    ],
    { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const confPath = join(dir, 'etc', 'smb.conf');
  let conf = await readFile(confPath, 'utf8');
  const extra = [
    `log file = ${dir}/log.%m`,
    `pid directory = ${dir}/run`,
    `ncalrpc dir = ${dir}/ncalrpc`,
    `winbindd socket directory = ${dir}/winbindd`,
    // the tests need none of these, and they slow the start
    'server services = -dns -nbt -wrepl -kcc -drepl -winbindd -ntp_signd -dnsupdate -rpc -smb',
    'dsdb password event notification = no',
  ];
  if (options.allowPlainBind !== false) extra.push('ldap server require strong auth = no');
  conf = conf.replace('[global]', `[global]\n\t${extra.join('\n\t')}`);
  await writeFile(confPath, conf);

  // its own process group: samba forks its servers (ldap, kdc...), and stopping it must stop them all
  const child: ChildProcess = spawn(sbin('samba'), ['-s', confPath, '-F', '--debug-stdout', '-d', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`samba exited (${code}): ${stderr}`))),
  );
  exited.catch(() => {});
  await Promise.race([waitForPort(389, 60_000), exited]);
  await Promise.race([waitForPort(636, 30_000), exited]);
  const caPem = await readFile(join(dir, 'private', 'tls', 'ca.pem'), 'utf8');

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    // the next DC of this run needs port 389: wait for the forked servers to let go of it
    if (!(await portClosed(389, 15_000))) {
      signalGroup('SIGKILL');
      await portClosed(389, 15_000);
    }
  };
  return {
    url: 'ldap://127.0.0.1',
    ldapsUrl: 'ldaps://127.0.0.1',
    baseDN: AD_BASE_DN,
    bindDN: `CN=Administrator,CN=Users,${AD_BASE_DN}`,
    password: ADMIN_PASSWORD,
    caPem,
    dir,
    kill,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}

/** Whether nothing answers on 127.0.0.1:`port`, waiting up to `timeoutMs` for that. */
async function portClosed(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await waitForPort(port, 0).then(
      () => true,
      () => false,
    );
    if (!open) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}
