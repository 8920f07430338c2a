// One engine cycle in a process of its own, from the compiled code (dist/) the idsync command runs, so that
// its time and peak memory are the product's, without a TypeScript loader. Prints JSON.
// (bench/engine-child.ts does the same from the sources, for profiling with --cpu-prof.)
// IDSYNC_BENCH_COUNT=1: also counts the engine's store calls by method (the outermost call, not the calls a
// store method makes itself) and the statements sent to PostgreSQL (round trips): deterministic, unlike times.
import { loadConfig } from '../dist/config/load.js';
import { limitHeapGrowth } from '../dist/core/heap.js';
import { Engine } from '../dist/engine/engine.js';

limitHeapGrowth(); // as bin/idsync.js does

const counts = process.env.IDSYNC_BENCH_COUNT ? await countCalls() : undefined;
const [configPath, full] = process.argv.slice(2);
const engine = await Engine.open(loadConfig(configPath));
counts?.reset();
const started = performance.now();
const cpu = process.cpuUsage();
const report = await engine.cycle({ full: full === 'full' });
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const counted = counts?.take();
const closing = performance.now();
await engine.close(); // checkpoints the WALs: timed apart, since a cycle of `idsync run` does not close
const closeMs = performance.now() - closing;
// CPU seconds beside wall seconds: on a shared machine the wall time stretches with the neighbours' load
const cpuMs = (used.user + used.system) / 1000;
process.stdout.write(
  JSON.stringify({ ms, closeMs, cpuMs, status: report.status, stats: report.stats, maxRssKb: process.resourceUsage().maxRSS, counts: counted }),
);

/** Wraps the store classes' methods and pg's query to count calls. */
async function countCalls() {
  const { SqlStore } = await import('../dist/store/sql/store.js');
  const { SqliteStore } = await import('../dist/store/sqlite.js');
  const { PostgresStore } = await import('../dist/store/postgres/store.js');
  const pg = (await import('pg')).default;
  const { AsyncLocalStorage } = await import('node:async_hooks');
  let calls = {};
  let statements = 0;
  // a call made by a store method (in its async context) is not the engine's: only the outermost counts
  const inside = new AsyncLocalStorage();
  for (const proto of [SqlStore.prototype, SqliteStore.prototype, PostgresStore.prototype]) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value;
      if (name === 'constructor' || typeof method !== 'function' || method.counted) continue;
      const wrapped = function (...args) {
        if (inside.getStore()) return method.apply(this, args);
        calls[name] = (calls[name] ?? 0) + 1;
        // the engine's calls inside a transaction are its own
        if (name === 'transaction') return method.apply(this, args);
        return inside.run(true, () => method.apply(this, args));
      };
      wrapped.counted = true;
      proto[name] = wrapped;
    }
  }
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (...args) {
    statements++;
    return query.apply(this, args);
  };
  return {
    reset() {
      calls = {};
      statements = 0;
    },
    take() {
      return { calls, statements };
    },
  };
}
