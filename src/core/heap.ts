import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what survived its last full collection, in percent.
 *
 * idsync's live heap is small (about 30 MB in a 100,000-object load) but it promotes a lot of short-lived
 * page data; by its own heuristics V8 lets the old generation reach 130–170 MB between full collections, most
 * of it garbage, and that was most of the process's peak memory. Growing by half instead took a
 * 100,000-object cycle from 280–310 MB to about 220 MB, for no measurable time: a full collection of a 30 MB
 * heap takes a few milliseconds (`npm run bench engine`, docs/benchmarks.md).
 */
const HEAP_GROWING_PERCENT = 50;

/** Applied by the `idsync` command before it does anything else (and by the benchmarks, which measure it). */
export function limitHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
