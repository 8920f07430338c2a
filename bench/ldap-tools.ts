/**
 * What the LDAP benchmarks share: the reference reader (`ldapsearch`, paged, on the same server and data) and
 * a timer. Not a benchmark itself (bench/run.ts skips it).
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { promisify } from 'node:util';
import { BASE_DN } from '../test/helpers/slapd.js';

const run = promisify(execFile);

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

export /** ldapsearch paged, output to /dev/null (timed) or counted (not timed: counting would slow it down) */
async function ldapsearchPaged(
  url: string,
  bindDN: string,
  password: string,
  attributes: string[],
  count = false,
): Promise<number> {
  const args = [
    '-x',
    '-LLL',
    '-o',
    'ldif-wrap=no',
    '-H',
    url,
    '-D',
    bindDN,
    '-w',
    password,
    '-b',
    BASE_DN,
    '-E',
    'pr=1000/noprompt',
    '(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))',
    ...attributes,
  ];
  if (count) {
    const { stdout } = await run('ldapsearch', args, { maxBuffer: 1 << 30 });
    return stdout.split('\ndn: ').length;
  }
  const devnull = openSync('/dev/null', 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ldapsearch', args, { stdio: ['ignore', devnull, 'ignore'] });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ldapsearch exited ${code}`))));
    });
  } finally {
    closeSync(devnull);
  }
  return 0;
}
