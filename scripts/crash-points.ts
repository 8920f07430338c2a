/**
 * Crash points, exhaustively: runs a cycle killed at its Nth commit, for every N (or a sample), then a run to
 * the end, and compares the directory with an uninterrupted run's. A "commit" is every write the engine makes
 * to its store outside a transaction, every store transaction, and every write transaction of the built-in
 * directory, in this thread or sent to the connector's writer thread; a kill there is what SIGKILL does at
 * that moment (the transaction rolls back, nothing after it runs). Deterministic where
 * test/engine/crash.test.ts is random, and much smaller.
 *
 *   npx tsx scripts/crash-points.ts                          every single kill point, 1,500 people
 *   PEOPLE=5000 GROUPS=20 GROUP_SIZE=50 STEP=3 npx tsx scripts/crash-points.ts
 *   FROM=20 TO=40 THEN=10,20,30 npx tsx scripts/crash-points.ts   a first kill, then a second in the next run
 *
 * The export sends batches of 500, so fewer than ~1,000 people never puts a group and its members in
 * different batches: the windows that needs stay out of reach. Exit code 1 when any case differs.
 */
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { DirectoryWriter } from '../src/connectors/builtin/writer.js';
import type { ExportChange } from '../src/connectors/contract.js';
import { Directory } from '../src/directory/index.js';
import { Engine } from '../src/engine/engine.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/types.js';
import { snapshot, type Workspace, workspace } from '../test/helpers/workspace.js';

class Killed extends Error {}

const READS = new Set([
  'getMeta', 'getWatermark', 'csByAnchors', 'csByNames', 'csByIds', 'csByMv', 'mvByIds', 'pendingPage', 'pending',
  'pendingByCs', 'countCs', 'countPending', 'countPendingOps', 'dirtyCs', 'dirtyMv', 'runs', 'errors', 'log',
  'hasApproval', 'unseenCs', 'csMatch', 'mvMatch', 'csMatchMany', 'mvMatchMany', 'mvReferencing', 'mvReferencingSettled', 'csReferencing', 'countMv',
]);

/** The kill switch of the run in progress: counts commits, throws at the chosen one and at everything after. */
let commitPoint = (): void => {};

const directoryTransaction = Directory.prototype.transaction;
Directory.prototype.transaction = function <T>(this: Directory, fn: () => T): T {
  commitPoint();
  return directoryTransaction.call(this, fn) as T;
};
// Large export batches are written by the connector's writer thread: the same kill point, on this side of it.
const threadedWrite = DirectoryWriter.prototype.write;
DirectoryWriter.prototype.write = function (this: DirectoryWriter, changes: ExportChange[]) {
  commitPoint();
  return threadedWrite.call(this, changes);
};

function killingStore(inner: SqliteStore, killAt: number): { store: Store; commits: () => number } {
  let depth = 0;
  let count = 0;
  let killed = false;
  commitPoint = () => {
    if (killed) throw new Killed();
    if (++count === killAt) {
      killed = true;
      throw new Killed();
    }
  };
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        // close, and the lease's release: SIGKILL frees a dead process's lease (its pid is gone), which a kill
        // simulated in this process cannot show otherwise.
        if (prop === 'close' || prop === 'releaseLease') return value.apply(target, args);
        if (killed) throw new Killed();
        if (depth === 0 && !READS.has(String(prop))) commitPoint();
        if (prop === 'transaction') {
          const fn = args[0] as () => Promise<unknown>;
          return value.call(target, async () => {
            depth++;
            try {
              return await fn();
            } finally {
              depth--;
            }
          });
        }
        return value.apply(target, args);
      };
    },
  }) as Store;
  return { store, commits: () => count };
}

/** One cycle, killed at its `killAt`th commit; returns the number of commits it reached. */
async function run(ws: Workspace, killAt = Number.POSITIVE_INFINITY): Promise<number> {
  const config = loadConfig(ws.configPath);
  const inner = new SqliteStore(join(config.stateDir, 'state.db'));
  const killing = killingStore(inner, killAt);
  let engine: Engine | undefined;
  try {
    engine = await Engine.open(config, { store: killing.store });
    await engine.cycle();
  } catch (err) {
    if (!(err instanceof Killed)) throw err;
  }
  if (engine) await engine.close();
  else await inner.close();
  return killing.commits();
}

async function outcome(ws: Workspace): Promise<string> {
  const engine = await ws.engine();
  const status = await engine.status();
  await engine.close();
  const dir = ws.directory();
  const state = { snapshot: snapshot(dir), memberships: dir.counts().memberships };
  dir.close();
  const pending = status.connectors.map((c) => `${c.name}:${c.pendingExports}`);
  return canonical({ ...state, pending, errors: status.errors.length });
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const shape = { people: env('PEOPLE', 1500), groups: env('GROUPS', 4), groupSize: env('GROUP_SIZE', 150) };

const reference = workspace(shape);
const total = await run(reference);
const want = await outcome(reference);
reference.cleanup();
console.log(`${shape.people} people, ${shape.groups} extra groups of ${shape.groupSize}: ${total} kill points`);

const then = process.env.THEN ? process.env.THEN.split(',').map(Number) : [undefined];
let cases = 0;
let differ = 0;
for (let n = env('FROM', 1); n <= env('TO', total); n += env('STEP', 1)) {
  for (const m of then) {
    const kills = m === undefined ? [n] : [n, m];
    const ws = workspace(shape);
    for (const k of kills) await run(ws, k);
    await run(ws);
    const got = await outcome(ws);
    ws.cleanup();
    cases++;
    if (got !== want) {
      differ++;
      console.log(`kills at ${kills.join(', ')}: the final state differs from an uninterrupted run's`);
    }
  }
}
console.log(`${cases} cases, ${differ} differ`);
process.exitCode = differ > 0 ? 1 : 0;
