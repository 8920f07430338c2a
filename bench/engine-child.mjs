// One engine cycle in a process of its own, from the compiled code (dist/) the idsync command runs, so that
// its time and peak memory are the product's, without a TypeScript loader. Prints JSON.
// (bench/engine-child.ts does the same from the sources, for profiling with --cpu-prof.)
import { loadConfig } from '../dist/config/load.js';
import { limitHeapGrowth } from '../dist/core/heap.js';
import { Engine } from '../dist/engine/engine.js';

limitHeapGrowth(); // as bin/idsync.js does

const [configPath, full] = process.argv.slice(2);
const engine = await Engine.open(loadConfig(configPath));
const started = performance.now();
const cpu = process.cpuUsage();
const report = await engine.cycle({ full: full === 'full' });
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const closing = performance.now();
await engine.close(); // checkpoints the WALs: timed apart, since a cycle of `idsync run` does not close
const closeMs = performance.now() - closing;
// CPU seconds beside wall seconds: on a shared machine the wall time stretches with the neighbours' load
const cpuMs = (used.user + used.system) / 1000;
process.stdout.write(JSON.stringify({ ms, closeMs, cpuMs, status: report.status, stats: report.stats, maxRssKb: process.resourceUsage().maxRSS }));
