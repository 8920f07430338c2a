/**
 * One engine cycle in a child process (bench/engine-child.mjs, compiled code as the idsync command runs it),
 * so that its time and peak memory are the product's alone. Shared by the engine benchmarks; not a benchmark
 * itself (bench/run.ts skips it).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./engine-child.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CycleResult {
  ms: number;
  /** closing the engine afterwards: the WAL checkpoints, which `idsync run --once` pays too */
  closeMs: number;
  cpuMs: number;
  status: string;
  stats: { connector: string; phase: string; mode?: string; added: number; updated: number; deleted: number; durationMs: number }[];
  maxRssKb: number;
  /** with `count`: the engine's store calls by method, and the statements sent to PostgreSQL (round trips) */
  counts?: { calls: Record<string, number>; statements: number };
}

/** Compiles src/ to dist/, which the child runs. */
export function build(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

export function cycle(config: string, full = false, options: { count?: boolean } = {}): CycleResult {
  const out = execFileSync(process.execPath, [CHILD, config, full ? 'full' : 'delta'], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    env: options.count ? { ...process.env, IDSYNC_BENCH_COUNT: '1' } : process.env,
  });
  return JSON.parse(out) as CycleResult;
}

export const seconds = (ms: number, digits = 1) => `${(ms / 1000).toFixed(digits)} s`;
export const cpu = (r: CycleResult) => seconds(r.cpuMs);
export const rss = (r: CycleResult) => `${(r.maxRssKb / 1024).toFixed(0)} MB`;
export const phases = (r: CycleResult) => r.stats.map((s) => `${s.connector} ${s.phase} ${seconds(s.durationMs)}`).join('; ');
/** A cycle's writes reach the database files when the WAL is checkpointed: within the cycle once the WAL
 * holds 10,000 pages, else when the engine closes. `idsync run --once` pays both; figures show both. */
export const closing = (r: CycleResult) => seconds(r.closeMs, 2);
