/**
 * The SCIM server under load (issue 5's benchmark): with 10,000 and with 100,000 users stored, POST /Users,
 * GET /Users?filter=userName eq "…" and PATCH /Users/{id}, each as requests per second with p50 and p99
 * latency. The server runs in a child process; autocannon drives it over loopback from this one.
 * Targets on 2 cores: ≥ 3,000 creates/s and ≥ 10,000 filtered reads/s, the same at both sizes.
 *
 * Reference, measured first in the same run: a bare fastify answering a user-sized JSON, driven the same way.
 * It is the most this machine and load generator allow (they share the cores), whatever the server does.
 *
 *   node --import tsx bench/scim-server.ts [seconds=10] [connections=16]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Directory } from '../src/directory/index.js';
import { TokenStore } from '../src/store/tokens.js';
import { machine } from './machine.js';

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const SIZES = [10_000, 100_000];
const here = fileURLToPath(new URL('.', import.meta.url));

interface Figure {
  size: number;
  operation: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function main(): Promise<void> {
  console.log(
    `${machine()}; autocannon ${CONNECTIONS} connections, ${SECONDS} s per operation, server in a child process\n`,
  );
  const figures: Figure[] = [await measureReference()];
  for (const size of SIZES) figures.push(...(await measure(size)));
  console.log('| users stored | operation | requests/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---:|---|---:|---:|---:|---:|');
  for (const f of figures) {
    console.log(
      `| ${f.size === 0 ? '—' : f.size.toLocaleString('en')} | ${f.operation} | ${Math.round(f.rps).toLocaleString('en')} | ${f.p50} | ${f.p99} | ${f.errors} |`,
    );
  }
}

/** A bare fastify with a user-sized answer, measured the same way: what this machine allows at best. */
async function measureReference(): Promise<Figure> {
  const { child, url } = await startChild('--reference');
  try {
    return await run(0, 'reference: bare fastify GET', `${url}/scim/v2`, {}, 'GET', () => ({
      path: '/scim/v2/Users',
    }));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function measure(size: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-bench-scim-'));
  try {
    mkdirSync(join(dir, '.idsync'), { recursive: true });
    writeFileSync(
      join(dir, 'idsync.yaml'),
      'connectors:\n  directory: { type: builtin }\nserve:\n  port: 0\n',
    );
    const ids = load(join(dir, '.idsync', 'directory.db'), size);
    const tokens = TokenStore.file(join(dir, '.idsync', 'tokens.db'));
    const token = await tokens.create('bench');
    await tokens.close();
    const { child, url } = await startChild(join(dir, 'idsync.yaml'));
    try {
      const base = `${url}/scim/v2`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };
      const out: Figure[] = [];
      const random = () => Math.floor(Math.random() * size);
      let created = 0;
      out.push(
        await run(size, 'POST /Users', base, headers, 'POST', () => ({
          path: '/scim/v2/Users',
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: `new${size}-${process.pid}-${created++}@example.com`,
            name: { givenName: 'New', familyName: 'User' },
            emails: [{ value: `new${created}@example.com`, type: 'work', primary: true }],
            active: true,
          }),
        })),
      );
      out.push(
        await run(size, 'GET /Users?filter=userName eq', base, headers, 'GET', () => ({
          path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "user${random()}@example.com"`)}`,
        })),
      );
      out.push(
        await run(size, 'PATCH /Users/{id}', base, headers, 'PATCH', () => ({
          path: `/scim/v2/Users/${ids[random()]}`,
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', path: 'title', value: `Title ${Math.random()}` }],
          }),
        })),
      );
      return out;
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Users loaded with the Directory API in one transaction: the bench measures the server, not the load. */
function load(path: string, size: number): string[] {
  const directory = new Directory(path);
  const ids: string[] = [];
  const started = Date.now();
  directory.transaction(() => {
    for (let i = 0; i < size; i++) {
      ids.push(
        directory.create('user', {
          userName: [`user${i}@example.com`],
          displayName: [`User ${i}`],
          givenName: [`Given${i}`],
          familyName: [`Family${i % 1000}`],
          email: [`user${i}@example.com`],
          department: [`Department ${i % 50}`],
          title: [`Title ${i % 20}`],
          employeeNumber: [String(100000 + i)],
          externalId: [`E${i}`],
          active: [true],
        }).id,
      );
    }
  });
  directory.close();
  console.error(`loaded ${size.toLocaleString('en')} users in ${Date.now() - started} ms`);
  return ids;
}

async function startChild(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'scim-server-child.ts'), config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
  return { child, url };
}

async function run(
  size: number,
  operation: string,
  base: string,
  headers: Record<string, string>,
  method: 'GET' | 'POST' | 'PATCH',
  next: () => { path: string; body?: string },
): Promise<Figure> {
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers,
    method,
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, ...next() }) }],
  } as autocannon.Options);
  const errors = result.non2xx + result.errors + result.timeouts;
  console.error(
    `${size} ${operation}: ${Math.round(result.requests.average)}/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${errors}`,
  );
  return {
    size,
    operation,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
  };
}

await main();
