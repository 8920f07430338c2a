/**
 * The engine on both stores in one run: 100,000 people and 2,000 groups from HR CSV files into the built-in
 * directory, the state in SQLite and then in PostgreSQL (a database of its own at 127.0.0.1:5432, or
 * IDSYNC_BENCH_PGURL's server; dropped afterwards). Reports the initial full cycle, a cycle with no change and
 * one with 1,000 changes on each, and PostgreSQL's time as a multiple of SQLite's (issue 19's target: within 2×).
 *
 *   node --import tsx bench/postgres.ts [people]
 *
 * Not measured yet: SCIM creates/s with 1, 2 and 3 nodes (several nodes are not built yet, docs/scale-out.md).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { writeSample } from '../src/cli/init.js';
import { GROUPS_HEADER, groupRow, sampleGroups } from '../src/samples/people.js';
import { build, type CycleResult, cpu, cycle, seconds } from './engine-cycle.js';
import { machine } from './machine.js';

const PEOPLE = Number(process.argv[2] ?? 100_000);
const GROUPS = 2_000;
const GROUP_SIZE = 50;
const SERVER = process.env.IDSYNC_BENCH_PGURL ?? 'postgres://postgres@127.0.0.1:5432';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A workspace of the sample data; `url`: its state in that database. */
async function setUp(url?: string): Promise<{ dir: string; config: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-bench-pg-'));
  await writeSample(dir, PEOPLE);
  const groups = sampleGroups(PEOPLE, Math.max(1, Math.min(GROUPS - 8, Math.floor(PEOPLE / 50))), GROUP_SIZE);
  writeFileSync(join(dir, 'data', 'groups.csv'), `${[GROUPS_HEADER, ...groups.map(groupRow)].join('\n')}\n`);
  const config = join(dir, 'idsync.yaml');
  if (url) writeFileSync(config, readFileSync(config, 'utf8').replace(/^state:\n/m, `state:\n  url: ${url}\n`));
  return { dir, config };
}

function changeTitles(dir: string): void {
  const hrPath = join(dir, 'data', 'hr.csv');
  const lines = readFileSync(hrPath, 'utf8').split('\n');
  for (let i = 1; i <= 1000; i++) {
    const idx = 1 + Math.floor((i * (lines.length - 2)) / 1000);
    lines[idx] = lines[idx]!.replace(/,(Analyst|Engineer|Specialist|Coordinator|Consultant|Associate|Head of Department),/, ',Benchmark Title,');
  }
  writeFileSync(hrPath, lines.join('\n'));
}

function run(config: string, dir: string): { initial: CycleResult; noChange: CycleResult; changed: CycleResult } {
  // counting wraps each store method once: no measurable cost, and the counts do not depend on the load
  const initial = cycle(config, false, { count: true });
  const noChange = cycle(config, false, { count: true });
  changeTitles(dir);
  const changed = cycle(config, false, { count: true });
  return { initial, noChange, changed };
}

build();
const database = `idsync_bench_${randomBytes(4).toString('hex')}`;
const dirs: string[] = [];
await admin(`CREATE DATABASE ${database}`);
try {
  const lite = await setUp();
  const pgSpace = await setUp(`${SERVER}/${database}`);
  dirs.push(lite.dir, pgSpace.dir);
  const sqlite = run(lite.config, lite.dir);
  const postgres = run(pgSpace.config, pgSpace.dir);
  const ratio = (a: CycleResult, b: CycleResult) => `${(b.ms / a.ms).toFixed(1)}×`;
  console.log(`Machine: ${machine()}\n`);
  console.log(`| ${PEOPLE.toLocaleString('en')} people, CSV → built-in directory | SQLite | CPU | PostgreSQL | CPU (idsync) | PostgreSQL / SQLite |`);
  console.log('|---|---|---|---|---|---|');
  for (const [label, key] of [['initial full cycle', 'initial'], ['cycle with no change', 'noChange'], ['cycle with 1,000 changes', 'changed']] as const) {
    const [a, b] = [sqlite[key], postgres[key]];
    console.log(`| ${label} | ${seconds(a.ms)} | ${cpu(a)} | ${seconds(b.ms)} | ${cpu(b)} | ${ratio(a, b)} |`);
  }
  console.log('\nTarget (issue 19): PostgreSQL within 2× SQLite. CPU is idsync\'s own; PostgreSQL\'s server time is the rest of its wall time.');
  // Deterministic: the engine's calls into the store (the outermost, by method) and PostgreSQL's round trips.
  const calls = (r: CycleResult) => Object.values(r.counts?.calls ?? {}).reduce((a, b) => a + b, 0);
  console.log('\n| store calls per cycle | SQLite | PostgreSQL | PostgreSQL statements |');
  console.log('|---|---|---|---|');
  for (const [label, key] of [['initial full cycle', 'initial'], ['cycle with no change', 'noChange'], ['cycle with 1,000 changes', 'changed']] as const) {
    console.log(`| ${label} | ${calls(sqlite[key]).toLocaleString('en')} | ${calls(postgres[key]).toLocaleString('en')} | ${(postgres[key].counts?.statements ?? 0).toLocaleString('en')} |`);
  }
  const top = Object.entries(postgres.initial.counts?.calls ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.log(`\nInitial cycle's most frequent store calls (PostgreSQL): ${top.map(([name, n]) => `${name} ${n.toLocaleString('en')}`).join(', ')}.`);
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
