// One engine cycle in a process of its own, so that its peak memory is its own. Prints JSON.
import { loadConfig } from '../src/config/load.js';
import { limitHeapGrowth } from '../src/core/heap.js';
import { Engine } from '../src/engine/engine.js';

limitHeapGrowth(); // as bin/idsync.js does

const [configPath, full] = process.argv.slice(2);
const engine = await Engine.open(loadConfig(configPath!));
const started = performance.now();
const cpu = process.cpuUsage();
const report = await engine.cycle({ full: full === 'full' });
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const cycleCpu = (used.user + used.system) / 1000;
await engine.close();
process.stdout.write(JSON.stringify({ ms, status: report.status, stats: report.stats, maxRssKb: process.resourceUsage().maxRSS, cpuMs: cycleCpu }));
