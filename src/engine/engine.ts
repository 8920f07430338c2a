/**
 * The engine: runs cycles (import → inbound sync → outbound sync → export) over the configured connectors,
 * and answers plan, apply, explain and status. One Engine per state folder; it is the only writer.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ConnectorConfig, LoadedConfig } from '../config/model.js';
import type { Connector, ConnectorSchema, ImportChange } from '../connectors/contract.js';
import { ConfigError, errorMessage, IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import {
  connectorUnit,
  describeHolder,
  holderGone,
  type LeaseHolder,
  METAVERSE_UNIT,
  RENEW_MS,
  thisProcess,
  type UnitLease,
  type UnitLeases,
  type UnitPhase,
} from '../store/lease.js';
import { isDue, mergeTriggers, stopping, type Trigger, underLease } from './cluster.js';
import { copyStateToFile, openStore } from '../store/index.js';
import type { CsObject, Hold, LogEntry, LogQuery, ObjectError, RunStats, Store, StoredLogEntry } from '../store/types.js';
import { type EngineContext, flushLog } from './context.js';
import { type ExportOutcome, exportConnector, type PlannedChange, secretsOfPlanned } from './export.js';
import { blankStats, importConnector, importOne } from './import.js';
import { syncCsObject, syncInbound } from './inbound.js';
import { syncMvObject, syncOutbound } from './outbound.js';
import { type Found, findObjects } from './find.js';
import { describeObject, type ObjectView } from './object.js';
import { csLabel, idsIn, mvLabel, nameLogEntries, namesOfIds } from './names.js';
import { type Progress, silentProgress } from './progress.js';
import { redactAttributes, SecretAttributes, scrub } from './secrets.js';
import { withoutSecrets } from './unresolved.js';
import { activeQuarantine, cycleFailure, liftQuarantine, type QuarantineState, readQuarantine, recordCycle } from './quarantine.js';

/** objects (and log entries) a name resolves to at most, for `log --object` and `explain` */
const NAMED_LIMIT = 1000;

/** log entries removed per transaction when pruning (each a short hold of the write lock) */
const LOG_PRUNE_BATCH = 10_000;

export interface CycleOptions {
  /** full import and full sync (a full sync also follows any change of rules) */
  full?: boolean;
  /** limit import and export to these connectors; sync always covers what changed */
  connectors?: string[];
  /** 'export' sends; 'plan' computes what would be sent and sends nothing */
  mode?: 'export' | 'plan';
}

export interface CycleReport {
  runId: number;
  /**
   * failed: a connector could not be imported or exported; held: a safety rule holds changes; incomplete: a
   * quarantined connector was skipped; errors: object errors stand (this cycle's or earlier ones still waiting
   * for their retry); ok: none of these. The first that applies, in this order (exit codes 1, 4, 5, 3, 0).
   */
  status: 'ok' | 'errors' | 'incomplete' | 'held' | 'failed';
  staging: boolean;
  fullSync: boolean;
  stats: RunStats[];
  planned: PlannedChange[];
  /** what the deletion thresholds held in this run, and why */
  holds: Hold[];
  /**
   * Plans only: what approving a held full import would do (the deletes, disables and other changes that
   * follow from marking its unseen objects gone), each `held`. Not in `planned`: apply never sends them.
   */
  heldChanges: PlannedChange[];
  durationMs: number;
}

export interface EngineOptions {
  progress?: Progress;
  /** who runs cycles, as the lease names it to a second process ("idsync serve"); default "idsync" */
  command?: string;
  /** a test seam: replaces the store (defaults to SQLite in the state folder) */
  store?: Store;
}

class ClosingRollback extends Error {}

interface CycleRequest {
  options: CycleOptions;
  resolve(report: CycleReport): void;
  reject(err: unknown): void;
}

export class Engine {
  private readonly connectors = new Map<string, Connector>();
  private readonly schemas = new Map<string, ConnectorSchema>();
  private readonly progress: Progress;
  private readonly command: string;

  private current: LoadedConfig;

  private constructor(
    config: LoadedConfig,
    readonly store: Store,
    options: EngineOptions,
  ) {
    this.current = config;
    this.progress = options.progress ?? silentProgress;
    this.command = options.command ?? 'idsync';
  }

  /** the config the engine runs on: the one it was opened with, or the last one reload() gave it */
  get config(): LoadedConfig {
    return this.current;
  }

  static async open(config: LoadedConfig, options: EngineOptions = {}): Promise<Engine> {
    const store = options.store ?? (await openStore(config));
    const engine = new Engine(config, store, options);
    await Engine.prepareStore(store, config);
    return engine;
  }

  /**
   * Runs on `config` from the next cycle on (`idsync serve` reloading idsync.yaml): waits for the cycle or
   * operation in progress, then closes the connectors whose configuration changed or went (the others stay
   * open, their watches too), indexes what the new rules read, and restarts serve's watches. The state and
   * its folder are the ones the engine was opened with: a new `state:` needs a restart. A change of rules is
   * met as at any start: the next cycle is a full sync.
   */
  reload(config: LoadedConfig): Promise<void> {
    return this.serially(async () => {
      const before = this.current;
      this.current = config;
      for (const [name, connector] of [...this.connectors]) {
        const was = before.connectors.get(name);
        const now = config.connectors.get(name);
        if (was && now && connectorIdentity(was) === connectorIdentity(now)) continue;
        this.connectors.delete(name);
        this.schemas.delete(name);
        await connector.close().catch(() => {});
      }
      await Engine.prepareStore(this.store, config);
      this.watchesChanged?.();
    });
  }

  /** set while serve runs: restarts its watches on the connectors of the current config */
  private watchesChanged: (() => void) | undefined;

  private static async prepareStore(store: Store, config: LoadedConfig): Promise<void> {
    await store.setIndexedAttributes(
      [...new Set(config.inbound.flatMap((r) => r.join.flatMap((g) => g.map((c) => c.metaverse!))))],
      dedupe(
        config.outbound.flatMap((r) => [
          // Per object type: matching users by userName indexes no group, matching groups by externalId no user.
          ...r.join.flatMap((g) => g.map((c) => ({ connector: r.connector, objectType: r.objectType, attribute: c.attribute }))),
          // SelectUniqueValue asks the target whether a value is taken: its attribute is indexed too.
          ...r.flows.filter((f) => f.picksUnique).map((f) => ({ connector: r.connector, objectType: r.objectType, attribute: f.target })),
        ]),
      ),
    );
    // Referrers are looked up only to sync them inbound again: a connector no inbound rule reads needs none.
    await store.setIndexedReferences(config.inbound.map((r) => r.connector));
  }

  /** the cycle lease while this engine holds it: its owner id, the timer renewing it, how many hold it */
  private lease: { owner: string; renew: NodeJS.Timeout; depth: number } | undefined;

  /**
   * Runs `fn` holding the state's cycle lease (store/lease.ts): one process runs cycles on a state at a time.
   * Refuses, naming the holder, when another process has it. Reentrant: serve holds it across its cycles.
   */
  private async exclusively<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.lease) {
      const me = thisProcess(this.command);
      const holder = await this.store.acquireLease(me, (h) => holderGone(h));
      if (holder) {
        throw new IdsyncError(
          'STATE_BUSY',
          `the state in ${this.config.stateDir} is in use by ${describeHolder(holder)}: one process runs cycles on a state at a time. Wait for it to finish or stop it; status, log, explain, approve and token work beside it.`,
        );
      }
      // a shared store's leases expire sooner (lease.ts): renewed as often as they ask
      const every = this.store.units?.renewMs ?? RENEW_MS;
      const renew = setInterval(() => void this.store.renewLease(me.owner, new Date().toISOString()).catch(() => {}), every);
      renew.unref();
      this.lease = { owner: me.owner, renew, depth: 0 };
    }
    const lease = this.lease;
    lease.depth++;
    try {
      return await fn();
    } finally {
      if (--lease.depth === 0) {
        clearInterval(lease.renew);
        this.lease = undefined;
        await this.store.releaseLease(lease.owner);
      }
    }
  }

  async close(): Promise<void> {
    if (this.lease) {
      clearInterval(this.lease.renew);
      await this.store.releaseLease(this.lease.owner);
      this.lease = undefined;
    }
    for (const c of this.connectors.values()) await c.close().catch(() => {});
    this.connectors.clear();
    await this.store.close();
  }

  connector(name: string): Connector {
    let c = this.connectors.get(name);
    if (!c) {
      const cfg = this.config.connectors.get(name);
      if (!cfg) throw new IdsyncError('CONNECTOR_UNKNOWN', `no connector named "${name}" in ${this.config.file}`);
      const context = { configDir: this.config.dir, stateDir: this.config.stateDir, log: { debug() {}, info() {}, warn() {} } };
      // Without its secrets a connector serves what reads state (capabilities for explain), and fails where it would connect.
      const unresolved = cfg.offlineSettings !== undefined && cfg.unresolvedSecrets.length > 0;
      c = unresolved
        ? withoutSecrets(cfg.factory.create(name, cfg.offlineSettings, context), new ConfigError(cfg.unresolvedSecrets))
        : cfg.factory.create(name, cfg.settings, context);
      this.connectors.set(name, c);
    }
    return c;
  }

  private async context(runId: number, verbose = false): Promise<EngineContext> {
    for (const name of this.config.connectors.keys()) {
      if (!this.schemas.has(name)) {
        try {
          this.schemas.set(name, await this.connector(name).schema());
        } catch {
          // A connector that cannot tell its schema now still imports; the engine then infers multi-values.
        }
      }
    }
    return {
      config: this.config,
      store: this.store,
      runId,
      now: new Date(),
      connector: (n) => this.connector(n),
      schema: (n) => this.schemas.get(n),
      progress: this.progress,
      secrets: new SecretAttributes(this.config, (n) => this.schemas.get(n)),
      verbose,
      log: [],
      claimed: new Map(),
      unreachable: new Map(),
      // nothing is sent to a target under a lease this node may have lost (a shared store's leases)
      fence: () => this.store.units?.assertHeld(),
    };
  }

  /** One cycle. In staging mode, or with mode 'plan', nothing is exported. */
  async cycle(options: CycleOptions = {}): Promise<CycleReport> {
    return this.exclusively(async () => this.told(await this.serially(() => this.runCycle(options))));
  }

  /** Tells the cycle listeners (metrics, notifications) of a finished cycle or apply; returns the report. */
  private async told(report: CycleReport): Promise<CycleReport> {
    for (const listener of this.cycleListeners) {
      try {
        await listener(report);
      } catch {
        // what listens (metrics, notifications) never fails a cycle; listeners log their own problems
      }
    }
    return report;
  }

  private readonly cycleListeners = new Set<(report: CycleReport) => void | Promise<void>>();

  /**
   * Calls `listener` after each cycle this engine runs (scheduled, notified or asked for by the admin API)
   * and after each apply, before the next one starts; returns the function that stops it. A listener's error is swallowed.
   */
  onCycle(listener: (report: CycleReport) => void | Promise<void>): () => void {
    this.cycleListeners.add(listener);
    return () => this.cycleListeners.delete(listener);
  }

  /** the last of the engine's operations queued (see serially) */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` after the engine's operations queued before it. Within one process (serve, where the admin API
   * explains, approves and provisions beside the scheduled cycles) two operations must not interleave: the
   * store's transactions are per connection, and an explain's rolled-back transaction would join a cycle's.
   */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async runCycle(options: CycleOptions): Promise<CycleReport> {
    const started = Date.now();
    const selected = this.selected(options.connectors);
    requireSecrets(selected);
    const planOnly = options.mode === 'plan' || this.config.staging;
    // A run that never finished (the process was killed) may have left derived state half-made: pending
    // exports computed before a crash, references waiting for objects. A full sync re-derives all of it from
    // the connector spaces; the export then sends only what the targets really lack.
    const interrupted = (await this.store.runs(1))[0]?.status === 'running';
    if (interrupted) await this.store.finishRun((await this.store.runs(1))[0]!.id, 'interrupted', []);
    const rulesChanged = (await this.store.getMeta('rules-hash')) !== this.config.rulesHash;
    const fullSync = Boolean(options.full) || rulesChanged || interrupted;
    // The run is recorded as what it is: a full sync however it came about (--full, new rules, a crash).
    const kind = planOnly ? 'plan' : fullSync ? 'full' : 'delta';
    const runId = await this.startRun(kind);
    const ctx = await this.context(runId);
    const stats: RunStats[] = [];
    let planned: PlannedChange[] = [];
    // Quarantined connectors are neither imported nor exported until their time; the others go on.
    const quarantined = new Map<string, QuarantineState>();
    for (const cfg of selected) {
      const q = await activeQuarantine(this.store, cfg.name, ctx.now);
      if (q) quarantined.set(cfg.name, q);
    }
    // A connector that cannot run now (on an agent whose group has none connected) is skipped the same way.
    const offline = new Map<string, string>();
    for (const cfg of selected) {
      const reason = quarantined.has(cfg.name) ? undefined : this.connector(cfg.name).unavailable?.();
      if (reason) offline.set(cfg.name, reason);
    }
    const active = selected.filter((c) => !quarantined.has(c.name) && !offline.has(c.name));
    let standingErrors = 0;
    try {
      for (const cfg of selected) {
        const q = quarantined.get(cfg.name);
        const why = offline.get(cfg.name);
        stats.push(
          q
            ? quarantinedStats(cfg.name, 'import', q)
            : why
              ? skippedStats(cfg.name, 'import', why)
              : await importConnector(ctx, cfg, options.full ? 'full' : 'delta', rulesChanged),
        );
      }
      stats.push(...(await syncInbound(ctx, fullSync)).values());
      stats.push(...(await syncOutbound(ctx, fullSync)).values());
      if (rulesChanged) await this.store.setMeta('rules-hash', this.config.rulesHash);
      const outcome = await this.exportAll(ctx, active.map((c) => c.name), planOnly);
      stats.push(...outcome.map((o) => o.stats));
      planned = outcome.flatMap((o) => o.planned);
      const targets = new Set(this.config.outbound.map((r) => r.connector));
      for (const [name, q] of quarantined) if (targets.has(name)) stats.push(quarantinedStats(name, 'export', q));
      for (const [name, why] of offline) if (targets.has(name)) stats.push(skippedStats(name, 'export', why));
      if (!planOnly) await this.recordQuarantines(ctx, active.map((c) => c.name), stats);
      standingErrors = await this.reportStandingErrors(stats);
    } catch (err) {
      await this.finishRun(runId, kind, 'failed', stats);
      throw err;
    }
    const holds = holdsOf(stats);
    const heldChanges = planOnly && ctx.unseenHeld ? await this.whatApprovalWouldDo(ctx, active.map((c) => c.name), planned) : [];
    const status = overallStatus(stats, { quarantined: quarantined.size > 0 || offline.size > 0, standingErrors });
    await this.finishRun(runId, kind, status, stats);
    await this.recordHolds(active.map((c) => c.name), holds, ctx.now);
    if (planOnly) await this.store.setMeta('plan', planDigest(planned, randomBytes(16).toString('hex')));
    await this.pruneLog(ctx.now);
    return { runId, status, staging: this.config.staging, fullSync, stats, planned, holds, heldChanges, durationMs: Date.now() - started };
  }

  /**
   * What approving the held full imports would do: their unseen objects marked gone, synced, and the exports
   * that follow, computed in a transaction that is rolled back. Changes the plan already has are left out.
   */
  private async whatApprovalWouldDo(ctx: EngineContext, targets: string[], planned: PlannedChange[]): Promise<PlannedChange[]> {
    const unseen = ctx.unseenHeld!;
    const heldBy = { connector: [...unseen.keys()].join(', '), phase: 'import' as const };
    const known = new Set(planned.map(changeKey));
    let out: PlannedChange[] = [];
    try {
      await this.store.transaction(async () => {
        for (const ids of unseen.values()) await this.store.markCsGone(ids);
        await syncInbound(ctx, false);
        await syncOutbound(ctx, false);
        const outcome = await this.exportAll(ctx, targets, true);
        out = outcome.flatMap((o) => o.planned).filter((p) => !known.has(changeKey(p)));
        throw new ClosingRollback();
      });
    } catch (err) {
      if (!(err instanceof ClosingRollback)) throw err;
    } finally {
      ctx.log.splice(0);
    }
    return out.map((p) => ({ ...p, held: true, heldBy }));
  }

  /** Each connector's holds, for status: kept while its runs are held (since the first), cleared by one that is not. */
  private async recordHolds(connectors: string[], holds: Hold[], now: Date): Promise<void> {
    for (const name of connectors) {
      const before = await readHolds(this.store, name);
      const mine = holds
        .filter((h) => h.connector === name)
        .map((h) => ({ ...h, since: before.find((b) => b.phase === h.phase)?.since ?? now.toISOString() }));
      if (mine.length > 0 || before.length > 0) await this.store.setMeta(HOLDS(name), mine.length > 0 ? JSON.stringify(mine) : null);
    }
  }

  /**
   * Removes provisioning-log entries older than the retention (log.retentionDays, 30 by default, as long as
   * Entra keeps its provisioning logs), in batches that each commit, so a first prune of a large backlog
   * never holds the write lock for long.
   */
  private async pruneLog(now: Date): Promise<void> {
    const before = new Date(now.getTime() - this.config.logRetentionDays * 86_400_000).toISOString();
    while ((await this.store.transaction(() => this.store.pruneLog(before, LOG_PRUNE_BATCH))) === LOG_PRUNE_BATCH) {
      // a backlog: go on until a batch comes back short
    }
  }

  /** Exports exactly what the last `plan` showed; refuses when the pending changes differ from it. */
  async apply(): Promise<CycleReport> {
    // its exports, errors and holds reach metrics and notifications as a cycle's do
    return this.exclusively(async () => this.told(await this.serially(() => this.runApply())));
  }

  private async runApply(): Promise<CycleReport> {
    if (this.config.staging) {
      throw new IdsyncError('STAGING_MODE', 'this installation is in staging mode (staging: true): nothing is exported');
    }
    const expected = await this.store.getMeta('plan');
    if (expected === null) throw new IdsyncError('PLAN_MISSING', 'there is no plan to apply: run `idsync plan` first');
    const started = Date.now();
    const targets = new Set(this.config.outbound.map((r) => r.connector));
    requireSecrets([...this.config.connectors.values()].filter((c) => targets.has(c.name)));
    const runId = await this.startRun('apply');
    const ctx = await this.context(runId);
    const names = [...this.config.connectors.keys()];
    const preview = await this.exportAll(ctx, names, true);
    if (planDigest(preview.flatMap((o) => o.planned), expected.split(':')[0]!) !== expected) {
      await this.finishRun(runId, 'apply', 'failed', []);
      throw new IdsyncError('PLAN_STALE', 'the pending changes differ from the last plan (something ran since): run `idsync plan` again and review it');
    }
    const outcome = await this.exportAll(ctx, names, false, true);
    const stats = outcome.map((o) => o.stats);
    const status = overallStatus(stats, { quarantined: false, standingErrors: await this.reportStandingErrors(stats) });
    await this.finishRun(runId, 'apply', status, stats);
    await this.store.setMeta('plan', null);
    const planned = outcome.flatMap((o) => o.planned);
    const holds = holdsOf(stats);
    return { runId, status, staging: false, fullSync: false, stats, planned, holds, heldChanges: [], durationMs: Date.now() - started };
  }

  /** Records a run's start, and tells the progress listener (the admin API's live view). */
  private async startRun(kind: string): Promise<number> {
    const runId = await this.store.startRun(kind);
    this.progress.run?.({ runId, kind, state: 'started', at: new Date().toISOString() });
    return runId;
  }

  private async finishRun(runId: number, kind: string, status: string, stats: RunStats[]): Promise<void> {
    await this.store.finishRun(runId, status, stats);
    this.progress.run?.({ runId, kind, state: 'finished', status, at: new Date().toISOString() });
  }

  /**
   * Object errors that stand after the cycle though it did not meet them (exports waiting for their retry, a
   * row still unreadable in a feed nothing re-read) are said in the connector's last stats: a cycle does not
   * report ok while they wait. Returns how many object errors stand in all.
   */
  private async reportStandingErrors(stats: RunStats[]): Promise<number> {
    let total = 0;
    for (const [connector, standing] of Object.entries(await this.store.countErrors())) {
      total += standing;
      const mine = stats.filter((s) => s.connector === connector);
      const earlier = standing - mine.reduce((n, s) => n + s.errors, 0);
      const s = mine.find((x) => x.phase === 'export') ?? mine.find((x) => x.phase === 'import') ?? mine[0];
      if (earlier <= 0 || !s) continue;
      const note = `${earlier} object error${earlier === 1 ? '' : 's'} from earlier cycles still stand${earlier === 1 ? 's' : ''} (\`idsync status\` lists them)`;
      s.detail = s.detail ? `${s.detail}. ${note}` : note;
    }
    return total;
  }

  /** Each connector's outcome in this cycle feeds its quarantine state; a new quarantine is said in its stats. */
  private async recordQuarantines(ctx: EngineContext, names: string[], stats: RunStats[]): Promise<void> {
    for (const name of names) {
      const q = await recordCycle(this.store, name, cycleFailure(stats, name), ctx.now);
      if (!q) continue;
      const detail = `quarantined (level ${q.level}) until ${q.until}: ${q.reason}; skipped until then, \`idsync approve ${name} --quarantine\` lifts it`;
      const s = stats.find((x) => x.connector === name && x.phase === 'export') ?? stats.find((x) => x.connector === name && x.phase === 'import');
      if (s) s.detail = `${s.detail ? `${s.detail}. ` : ''}Q${detail.slice(1)}`;
      await this.store.appendLog([
        { runId: ctx.runId, connector: name, object: name, phase: 'export', situation: 'quarantine', action: 'quarantine', status: 'skipped', steps: [{ step: 'export', detail }], changes: [] },
      ]);
    }
  }

  private async exportAll(ctx: EngineContext, names: string[], dryRun: boolean, collect = false): Promise<ExportOutcome[]> {
    const out: ExportOutcome[] = [];
    const targets = new Set(this.config.outbound.map((r) => r.connector));
    for (const name of names) {
      if (!targets.has(name)) continue;
      out.push(await exportConnector(ctx, this.config.connectors.get(name)!, { dryRun, collect }));
    }
    return out;
  }

  private selected(names?: string[]) {
    if (!names || names.length === 0) return [...this.config.connectors.values()];
    return names.map((n) => {
      const cfg = this.config.connectors.get(n);
      if (!cfg) throw new IdsyncError('CONNECTOR_UNKNOWN', `no connector named "${n}"`, { connector: n });
      return cfg;
    });
  }

  /**
   * Runs cycles until `signal` aborts: one at start, one every `intervalMs`, and one shortly after any
   * connector that can notify (LDAP persistent search, the built-in directory) reports a change, so that a
   * change reaches its targets in seconds instead of at the next scheduled cycle. Cycles never overlap.
   */
  async serve(
    options: { intervalMs: number; signal: AbortSignal; debounceMs?: number },
    onCycle: (report: CycleReport) => void,
  ): Promise<void> {
    // a state several nodes share: each unit of work under its own lease, on whichever node takes it
    if (this.store.units) return this.serveCluster(this.store.units, options, onCycle);
    // held from the start, not per cycle: a `run --once` between two scheduled cycles is refused too
    return this.exclusively(() => this.serveCycles(options, onCycle));
  }

  /**
   * serve on a state shared by several nodes (docs/scale-out.md): no lease is held between passes. A pass
   * runs, in order, the imports, the sync and the exports that are due and that no other node runs, each
   * under its unit lease; a pass that met a due unit busy elsewhere tries again when a lease is released
   * (NOTIFY) or a second later, so a dead node's leases are taken once they expire. A connector's watch that
   * fires on this node is told to every node (NOTIFY): whichever takes the connector's lease imports it.
   */
  private async serveCluster(
    units: UnitLeases,
    options: { intervalMs: number; signal: AbortSignal; debounceMs?: number },
    onCycle: (report: CycleReport) => void,
  ): Promise<void> {
    const { signal } = options;
    const me = thisProcess(this.command);
    const targets = [...new Set(this.config.outbound.map((r) => r.connector))];
    let pending: Trigger | undefined;
    let retryAt = 0;
    let wake: (() => void) | undefined;
    const nudge = () => wake?.();
    const requests: CycleRequest[] = [];
    const clock = async () => {
      try {
        return await units.clock();
      } catch {
        return new Date();
      }
    };
    const scheduled = async () => {
      // not run again by this node's schedule when another node ran it within most of an interval
      pending = mergeTriggers(pending, {
        at: new Date((await clock()).getTime() - options.intervalMs * 0.9),
      });
      nudge();
    };
    this.schedule = {
      start: Date.now(),
      intervalMs: options.intervalMs,
      request: (r) => {
        requests.push(r);
        nudge();
      },
    };
    const stopListening = await units.listen((message) => {
      if (message.kind === 'changed')
        pending = mergeTriggers(pending, {
          at: new Date(message.at),
          connectors: [message.connector, ...targets],
        });
      // a lease released: what waited for it is tried now
      else retryAt = 0;
      nudge();
    });
    const sources = new Set(this.config.inbound.map((r) => r.connector));
    const watchers = [...this.config.connectors.keys()]
      .filter(
        (name) => sources.has(name) && this.connector(name).capabilities.watch && this.connector(name).watch,
      )
      .map(async (name) => {
        try {
          for await (const _ of this.connector(name).watch!(signal)) {
            // told to every node, this one too: the node that takes the connector's lease imports it
            const at = (await clock()).toISOString();
            await units.notify({ kind: 'changed', connector: name, at }).catch(() => {
              pending = mergeTriggers(pending, { at: new Date(at), connectors: [name, ...targets] });
              nudge();
            });
          }
        } catch {
          // A watch that fails leaves the schedule to pick up changes.
        }
      });
    const timer = setInterval(() => void scheduled(), options.intervalMs);
    const poll = setInterval(() => {
      if (pending && Date.now() >= retryAt) nudge();
    }, 1000);
    signal.addEventListener('abort', nudge);
    await scheduled();
    try {
      while (!signal.aborted) {
        if (requests.length === 0 && (!pending || Date.now() < retryAt))
          await new Promise<void>((r) => (wake = r));
        if (signal.aborted) break;
        const request = requests.shift();
        if (request) {
          // asked for (the admin API's "run now"): every unit it names is due from now. A plan computes
          // everything and sends nothing, so it needs the whole state (STATE_BUSY while a node works).
          try {
            if (request.options.mode === 'plan') {
              request.resolve(await this.cycle(request.options));
              continue;
            }
            const { connectors, full } = request.options;
            const asked: Trigger = {
              at: await clock(),
              ...(connectors ? { connectors } : {}),
              ...(full ? { full } : {}),
            };
            const report = await this.clusterPass(units, me, asked, signal);
            request.resolve(report.report ?? emptyReport(this.config.staging));
            if (report.report) onCycle(report.report);
          } catch (err) {
            request.reject(err);
          }
          continue;
        }
        await new Promise((r) => setTimeout(r, options.debounceMs ?? 100));
        const trigger = pending!;
        pending = undefined;
        const { report, waiting, failed } = await this.clusterPass(units, me, trigger, signal);
        if (report) onCycle(report);
        // units that were busy elsewhere: tried again on the next release, or within a second; after a
        // failure (the database unreachable, a lease lost), in a few seconds
        if (waiting || failed) {
          pending = mergeTriggers(pending, trigger);
          retryAt = Date.now() + (failed ? units.renewMs : 1000);
        }
      }
    } finally {
      clearInterval(timer);
      clearInterval(poll);
      this.schedule = undefined;
      for (const r of requests.splice(0))
        r.reject(
          new IdsyncError('ENGINE_STOPPING', 'the service is stopping: the cycle asked for did not run'),
        );
      await stopListening();
      await Promise.allSettled(watchers);
    }
  }

  /**
   * One pass of a cluster node (serveCluster): the due imports, the sync and the due exports that no other
   * node runs, each under its unit lease, recorded as one run of this node. `waiting`: a due unit was busy on
   * another node. A lease lost on the way (STATE_LEASE_LOST) ends the pass: what it did under that lease was
   * rolled back, and the node that took it goes on.
   */
  private clusterPass(
    units: UnitLeases,
    me: LeaseHolder,
    trigger: Trigger,
    signal: AbortSignal,
  ): Promise<{ report?: CycleReport; waiting: boolean; failed?: boolean }> {
    return this.serially(async () => {
      const started = Date.now();
      const selected = this.selected(trigger.connectors);
      const names = [...this.config.connectors.keys()];
      const targets = [...new Set(this.config.outbound.map((r) => r.connector))].filter(
        (t) => trigger.connectors === undefined || trigger.connectors.includes(t),
      );
      const planOnly = this.config.staging;
      const stats: RunStats[] = [];
      let waiting = false;
      let fullSync = false;
      let run: { id: number; ctx: EngineContext; kind: string } | undefined;
      const rulesChanged = (await this.store.getMeta('rules-hash')) !== this.config.rulesHash;
      const begin = async () => {
        if (!run) {
          const kind = planOnly ? 'plan' : trigger.full || rulesChanged ? 'full' : 'delta';
          const id = await this.startRun(kind);
          run = { id, ctx: await this.context(id), kind };
        }
        return run.id;
      };
      const lease = <T>(unit: string, phase: UnitPhase, work: (l: UnitLease) => Promise<T>) =>
        underLease(units, me, unit, phase, (state) => isDue(state, trigger, unit, phase, names), work, {
          runId: begin,
        });
      const note = (r: { ran: boolean; why?: string }) => {
        if (!r.ran && r.why === 'busy') waiting = true;
      };
      const skipped = async (cfg: ConnectorConfig, phase: 'import' | 'export', ctx: EngineContext) => {
        const q = await activeQuarantine(this.store, cfg.name, ctx.now);
        if (q) return quarantinedStats(cfg.name, phase, q);
        const why = this.connector(cfg.name).unavailable?.();
        return why ? skippedStats(cfg.name, phase, why) : undefined;
      };
      let failure: unknown;
      try {
        requireSecrets(selected);
        // every node starts with another connector, so that nodes woken together spread the work
        for (const cfg of rotate(selected, me.owner)) {
          note(
            await lease(connectorUnit(cfg.name), 'import', async () => {
              const ctx = run!.ctx;
              stats.push(
                (await skipped(cfg, 'import', ctx)) ??
                  (await importConnector(ctx, cfg, trigger.full ? 'full' : 'delta', rulesChanged)),
              );
            }),
          );
          if (signal.aborted) throw stopping();
        }
        note(
          await lease(METAVERSE_UNIT, 'sync', async (l) => {
            // no connector phase runs beside the sync: wait for those running (or expiring) to end
            while (!(await units.drain(l))) {
              if (signal.aborted) throw stopping();
              await new Promise((r) => setTimeout(r, 250));
            }
            const ctx = run!.ctx;
            const changed = (await this.store.getMeta('rules-hash')) !== this.config.rulesHash;
            // a holder that died in the middle of a sync may have left derived state half-made: derived again
            const full = Boolean(trigger.full) || changed || l.interrupted;
            fullSync ||= full;
            stats.push(...(await syncInbound(ctx, full)).values());
            stats.push(...(await syncOutbound(ctx, full)).values());
            if (changed) await this.store.setMeta('rules-hash', this.config.rulesHash);
            await this.pruneLog(ctx.now);
          }),
        );
        for (const name of rotate(targets, me.owner)) {
          if (signal.aborted) throw stopping();
          const cfg = this.config.connectors.get(name)!;
          note(
            await lease(connectorUnit(name), 'export', async () => {
              const ctx = run!.ctx;
              const skip = await skipped(cfg, 'export', ctx);
              if (skip) return void stats.push(skip);
              const outcome = await exportConnector(ctx, cfg, { dryRun: planOnly, collect: false });
              stats.push(outcome.stats);
              if (!planOnly) await this.recordQuarantines(ctx, [name], stats);
              await this.recordHolds([name], holdsOf(stats), ctx.now);
            }),
          );
        }
      } catch (err) {
        failure = err;
      }
      if (!run) {
        if (failure && !(failure instanceof IdsyncError && failure.code === 'ENGINE_STOPPING')) {
          // failed before anything ran (the database unreachable, a secret missing): tried again later
          return {
            report: failedReport(this.config.staging, failure, Date.now() - started),
            waiting,
            failed: true,
          };
        }
        return { waiting };
      }
      const r = run as { id: number; ctx: EngineContext; kind: string };
      if (failure)
        stats.push({
          ...blankStats(unitOf(failure), 'export'),
          status: 'failed',
          detail: describeFailure(failure),
        });
      const standingErrors = failure ? 0 : await this.reportStandingErrors(stats).catch(() => 0);
      const status = failure
        ? 'failed'
        : overallStatus(stats, { quarantined: stats.some((s) => s.status === 'skipped'), standingErrors });
      await this.finishRun(r.id, r.kind, status, stats).catch(() => {});
      const holds = holdsOf(stats);
      const report: CycleReport = {
        runId: r.id,
        status,
        staging: this.config.staging,
        fullSync,
        stats,
        planned: [],
        holds,
        heldChanges: [],
        durationMs: Date.now() - started,
      };
      for (const listener of this.cycleListeners) {
        try {
          await listener(report);
        } catch {
          // as in cycle()
        }
      }
      return { report, waiting, failed: failure !== undefined };
    });
  }


  private async serveCycles(
    options: { intervalMs: number; signal: AbortSignal; debounceMs?: number },
    onCycle: (report: CycleReport) => void,
  ): Promise<void> {
    const { signal } = options;
    let wake: (() => void) | undefined;
    let changed = new Set<string>();
    let scheduled = true;
    const nudge = () => {
      scheduled = true;
      wake?.();
    };
    const requests: CycleRequest[] = [];
    this.schedule = {
      start: Date.now(),
      intervalMs: options.intervalMs,
      request: (r) => {
        requests.push(r);
        wake?.();
      },
    };
    const watchers: Promise<void>[] = [];
    // the watches of the current config's sources; a reload stops them and starts those of the new one
    let watching = new AbortController();
    const watch = () => {
      watching.abort();
      const mine = new AbortController();
      watching = mine;
      const stop = AbortSignal.any([signal, mine.signal]);
      const sources = new Set(this.config.inbound.map((r) => r.connector));
      for (const name of this.config.connectors.keys()) {
        if (!sources.has(name) || !this.connector(name).capabilities.watch || !this.connector(name).watch) continue;
        watchers.push(
          (async () => {
            try {
              for await (const _ of this.connector(name).watch!(stop)) {
                changed.add(name);
                nudge();
              }
            } catch {
              // A watch that fails leaves the schedule to pick up changes; the next cycle reports the connector.
            }
          })(),
        );
      }
    };
    watch();
    this.watchesChanged = watch;
    const timer = setInterval(nudge, options.intervalMs);
    signal.addEventListener('abort', () => wake?.());
    try {
      while (!signal.aborted) {
        if (!scheduled && requests.length === 0) await new Promise<void>((r) => (wake = r));
        if (signal.aborted) break;
        const request = requests.shift();
        if (request) {
          // asked for (the admin API's "run now"): run as asked, between the scheduled cycles
          try {
            const report = await this.cycle(request.options);
            request.resolve(report);
            onCycle(report);
          } catch (err) {
            request.reject(err);
          }
          continue;
        }
        // Let a burst of notifications settle into one cycle.
        await new Promise((r) => setTimeout(r, options.debounceMs ?? 100));
        scheduled = false;
        const names = changed;
        changed = new Set();
        // A notified change needs only the notifying sources imported; the schedule imports everything.
        const targets = [...new Set(this.config.outbound.map((r) => r.connector))];
        const only = names.size > 0 && !this.timerDue(options.intervalMs) ? [...names, ...targets] : undefined;
        onCycle(await this.cycle({ ...(only ? { connectors: [...new Set(only)] } : {}) }));
        this.lastFullScheduleAt = only ? this.lastFullScheduleAt : Date.now();
      }
    } finally {
      clearInterval(timer);
      this.schedule = undefined;
      this.watchesChanged = undefined;
      watching.abort();
      for (const r of requests.splice(0)) r.reject(new IdsyncError('ENGINE_STOPPING', 'the service is stopping: the cycle asked for did not run'));
      await Promise.allSettled(watchers);
    }
  }

  /** while serve runs: its schedule, and how to ask its loop for a cycle */
  private schedule: { start: number; intervalMs: number; request(r: CycleRequest): void } | undefined;

  /** While serve runs: when its schedule runs the next cycle (ms since the epoch); else null. */
  nextScheduledCycle(): number | null {
    if (!this.schedule) return null;
    const { start, intervalMs } = this.schedule;
    return start + (Math.floor((Date.now() - start) / intervalMs) + 1) * intervalMs;
  }

  /**
   * A cycle as asked (all connectors or some, delta or full): while serve runs, its loop runs it next, between
   * the scheduled cycles (one process, one cycle at a time); else it runs here. Resolves with its report.
   */
  requestCycle(options: CycleOptions = {}): Promise<CycleReport> {
    this.selected(options.connectors);
    const schedule = this.schedule;
    if (!schedule) return this.cycle(options);
    return new Promise<CycleReport>((resolve, reject) => schedule.request({ options, resolve, reject }));
  }

  private lastFullScheduleAt = 0;

  private timerDue(intervalMs: number): boolean {
    return Date.now() - this.lastFullScheduleAt >= intervalMs;
  }

  /**
   * A copy of the state in a new SQLite file, made in the engine's queue of operations (no cycle, provision
   * or explain of this process writes meanwhile), for a plan of a proposed config (preview/plan.ts). The
   * caller closes and deletes it.
   */
  async snapshot(file: string): Promise<Store> {
    return this.serially(() => copyStateToFile(this.store, file));
  }

  /** Approves what a safety rule holds for this connector, once. */
  async approve(connector: string): Promise<void> {
    this.selected([connector]);
    await this.serially(() => this.store.approve(connector));
  }

  /** Ends a connector's quarantine: the next cycle imports and exports it again. */
  async liftQuarantine(connector: string): Promise<void> {
    this.selected([connector]);
    await this.serially(() => liftQuarantine(this.store, connector));
  }

  /**
   * What the engine would do with one object, step by step, from its connector-space state: scope, join,
   * flows, the metaverse result, and the export each target would get. Runs the real code paths inside a
   * transaction that is rolled back, so nothing is written.
   */
  async explain(connector: string, id: string): Promise<Explanation> {
    return this.serially(() => this.explainNow(connector, id));
  }

  private async explainNow(connector: string, id: string): Promise<Explanation> {
    this.selected([connector]);
    const ctx = await this.context(0, true);
    const cs = await this.objectIn(connector, id);
    const secrets = ctx.secrets;
    // Every secret value met on the way: a step or a message that echoes one (an expression's error, a
    // remote system's) is scrubbed whatever attribute it came through.
    const seen = secrets.valuesInConnector(connector, cs.objectType, cs.attributes);
    const result: Explanation = {
      connector,
      anchor: cs.anchor,
      name: cs.name,
      label: csLabel(cs),
      attributes: redactAttributes(cs.attributes, (a) => secrets.inConnector(connector, cs.objectType, a)),
      steps: [],
      metaverse: null,
      exports: [],
    };
    try {
      await this.store.transaction(async () => {
        const decision = await syncCsObject(ctx, cs, { connector, phase: 'inbound', added: 0, updated: 0, deleted: 0, unchanged: 0, errors: 0, durationMs: 0, status: 'ok' });
        result.steps.push(...ctx.log.splice(0));
        result.situation = decision.situation;
        result.action = decision.action;
        const mvId = decision.mvId ?? cs.mvId;
        if (mvId) {
          const mv = (await this.store.mvByIds([mvId])).get(mvId);
          if (mv) {
            seen.push(...secrets.valuesInMetaverse(mv.attributes));
            const attributes = redactAttributes(mv.attributes, (a) => secrets.inMetaverse(a));
            result.metaverse = { id: mv.id, name: mvLabel(mv), objectType: mv.objectType, attributes, deleted: mv.deleted };
            await syncMvObject(ctx, mv, await this.store.csByMv([mvId]), new Map());
            result.steps.push(...ctx.log.splice(0));
            for (const outcome of await this.exportAll(ctx, [...this.config.connectors.keys()], true)) {
              const mine = outcome.planned.filter((p) => p.mvId === mvId || (p.op === 'delete' && p.mvId === null));
              for (const p of mine) seen.push(...secretsOfPlanned(p));
              result.exports.push(...mine);
            }
          }
        }
        throw new ClosingRollback();
      });
    } catch (err) {
      if (!(err instanceof ClosingRollback)) throw err;
    }
    result.steps = await nameLogEntries(this.store, this.config.connectors.keys(), result.steps);
    return scrubExplanation(result, seen);
  }

  /** One identity by its key (mv:<id> or cs:<id>), with its objects in every connector and their attributes, secrets redacted. */
  async object(key: string): Promise<ObjectView> {
    return describeObject(this.store, this.secretAttributes(), key);
  }

  /**
   * Provisioning on demand (as Entra's "provision on demand"): what the engine would do with one object
   * (explain), then that done for it alone: its connector-space state synced inbound, its metaverse object
   * synced outbound, and only its objects' pending exports sent, to every target that is not quarantined.
   * Nothing is imported: the object is taken as the last import left it. Recorded as a run of kind provision.
   */
  async provision(connector: string, name: string): Promise<{ explanation: Explanation; report: CycleReport; reread: Reread }> {
    return this.exclusively(() =>
      this.serially(async () => {
        this.selected([connector]);
        if (this.config.staging) throw new IdsyncError('STAGING_MODE', 'this installation is in staging mode (staging: true): nothing is exported');
        const started = Date.now();
        const targets = [...new Set(this.config.outbound.map((r) => r.connector))];
        requireSecrets(targets.map((t) => this.config.connectors.get(t)!));
        const before = await this.objectIn(connector, name);
        const runId = await this.startRun('provision');
        const ctx = await this.context(runId);
        const stats: RunStats[] = [];
        try {
          const reread = await this.rereadOne(ctx, connector, before, stats);
          const explanation = await this.explainNow(connector, before.anchor ?? name);
          const cs = await this.objectIn(connector, before.anchor ?? name);
          const inbound = { ...blankStats(connector, 'inbound'), phase: 'inbound' as const };
          let mvId: string | null = cs.mvId;
          // the objects linked before the sync too: a deprovisioned one (its source gone) is unlinked by it
          const linked = cs.mvId ? (await this.store.csByMv([cs.mvId], { attributes: false })).map((o) => o.id) : [];
          await this.store.transaction(async () => {
            mvId = (await syncCsObject(ctx, cs, inbound)).mvId ?? cs.mvId;
            stats.push(inbound);
            const mv = mvId ? (await this.store.mvByIds([mvId])).get(mvId) : undefined;
            if (mv) {
              const outbound = new Map<string, RunStats>();
              await syncMvObject(ctx, mv, await this.store.csByMv([mv.id]), outbound);
              stats.push(...outbound.values());
            }
            await flushLog(ctx);
          });
          const only = new Set([...linked, ...(mvId ? (await this.store.csByMv([mvId], { attributes: false })).map((o) => o.id) : [])]);
          const planned: PlannedChange[] = [];
          for (const target of targets) {
            if (await activeQuarantine(this.store, target, ctx.now)) continue;
            const outcome = await exportConnector(ctx, this.config.connectors.get(target)!, { dryRun: false, collect: true, only });
            stats.push(outcome.stats);
            planned.push(...outcome.planned);
          }
          const status = overallStatus(stats, { quarantined: false, standingErrors: 0 });
          await this.finishRun(runId, 'provision', status, stats);
          const holds = holdsOf(stats);
          return {
            explanation,
            reread,
            report: { runId, status, staging: false, fullSync: false, stats, planned, holds, heldChanges: [], durationMs: Date.now() - started },
          };
        } catch (err) {
          await this.finishRun(runId, 'provision', 'failed', stats);
          throw err;
        }
      }),
    );
  }

  /**
   * Provision on demand's first step, as Entra's: the object read again from its connector's system alone
   * (Connector.read) and imported as a one-object delta page (no watermark moves), so what is provisioned is
   * the object as it is now. A connector that cannot read one object, or an object not in its system yet,
   * is not re-read: the answer says so. A read that fails fails the provision (nothing stale is sent).
   */
  private async rereadOne(ctx: EngineContext, connector: string, cs: CsObject, stats: RunStats[]): Promise<Reread> {
    const c = this.connector(connector);
    if (!c.read) return { connector, status: 'not-read', detail: `not re-read: connector ${connector} (${c.type}) cannot read one object; provisioned as the last import left it` };
    if (cs.anchor === null) return { connector, status: 'not-read', detail: `not re-read: ${csLabel(cs)} is not in ${connector} yet` };
    const started = Date.now();
    let object: Awaited<ReturnType<NonNullable<Connector['read']>>>;
    try {
      object = await c.read(cs.objectType, cs.anchor, cs.name ?? undefined);
    } catch (err) {
      stats.push({ ...blankStats(connector, 'import'), mode: 'delta', method: 'one object read', status: 'failed', detail: redact(errorMessage(err)), durationMs: Date.now() - started });
      throw err;
    }
    const change: ImportChange = object ? { kind: 'upsert', object } : { kind: 'delete', anchor: cs.anchor, objectType: cs.objectType };
    const imported = await importOne(ctx, connector, change);
    stats.push(imported);
    const detail = object
      ? `re-read from ${connector}: ${imported.updated > 0 ? 'changed since the last import, imported' : imported.added > 0 ? 'imported' : 'as the last import left it'}`
      : `re-read from ${connector}: no longer there, imported as deleted`;
    return { connector, status: object ? 'read' : 'gone', detail };
  }

  /**
   * Sends one object's failed (or waiting) export now, whatever its back-off: the admin's "retry". Throws
   * EXPORT_NOT_PENDING when the object has no export waiting.
   */
  async retryExport(connector: string, name: string): Promise<CycleReport> {
    return this.exclusively(() =>
      this.serially(async () => {
        if (this.config.staging) throw new IdsyncError('STAGING_MODE', 'this installation is in staging mode (staging: true): nothing is exported');
        const cfg = this.selected([connector])[0]!;
        requireSecrets([cfg]);
        const cs = await this.objectIn(connector, name);
        if (!(await this.store.pendingByCs(cs.id))) {
          throw new IdsyncError('EXPORT_NOT_PENDING', `${csLabel(cs)} has no export waiting in ${connector}: nothing to retry`, { connector });
        }
        const started = Date.now();
        const runId = await this.startRun('retry');
        const ctx = await this.context(runId);
        try {
          const outcome = await exportConnector(ctx, cfg, { dryRun: false, collect: true, only: new Set([cs.id]) });
          const status = overallStatus([outcome.stats], { quarantined: false, standingErrors: 0 });
          await this.finishRun(runId, 'retry', status, [outcome.stats]);
          return { runId, status, staging: false, fullSync: false, stats: [outcome.stats], planned: outcome.planned, holds: holdsOf([outcome.stats]), heldChanges: [], durationMs: Date.now() - started };
        } catch (err) {
          await this.finishRun(runId, 'retry', 'failed', []);
          throw err;
        }
      }),
    );
  }

  /**
   * The object of `connector` that `name` names: by its anchor or name there, else by any name of it or of an
   * object linked to the same metaverse object, in any connector (a userName, an email, a DN, a displayName).
   */
  private async objectIn(connector: string, name: string): Promise<CsObject> {
    const direct = (await this.store.csByAnchors(connector, [name])).get(name) ?? (await this.store.csByNames(connector, [name])).get(name);
    if (direct) return direct;
    const { found } = await findObjects(this.store, this.secretAttributes(), name, { mode: 'name', limit: NAMED_LIMIT });
    const mine = found.flatMap((f) => f.objects.filter((o) => o.connector === connector));
    if (mine.length === 1) return (await this.store.csByIds([mine[0]!.csId]))[0]!;
    if (mine.length > 1) {
      const listed = mine.slice(0, 10).map((o) => `${o.name}${o.anchor && o.anchor !== o.name ? ` (${o.anchor})` : ''}`);
      throw new IdsyncError('OBJECT_AMBIGUOUS', `"${name}" names ${mine.length} objects of connector ${connector}: ${listed.join(', ')}${mine.length > 10 ? ', …' : ''}; give one of their anchors`, { connector });
    }
    const elsewhere = found.flatMap((f) => f.objects.map((o) => o.connector)).filter((c) => c !== connector);
    throw new IdsyncError(
      'OBJECT_UNKNOWN',
      elsewhere.length > 0
        ? `"${name}" names no object of connector ${connector}, only of ${[...new Set(elsewhere)].join(', ')} (not linked to one of ${connector})`
        : `no object of connector ${connector} (nor any object linked to one) has the anchor or name "${name}" (run an import first)`,
      { connector, anchor: name },
    );
  }

  /** `runs`: how many of the last runs to list (5 by default) */
  async status(options: { runs?: number } = {}): Promise<StatusReport> {
    const connectors: StatusReport['connectors'] = [];
    const errorCounts = await this.store.countErrors();
    for (const name of this.config.connectors.keys()) {
      const counts = await this.store.countCs(name);
      const pending = await this.store.countPending(name);
      const watermark = await this.store.getWatermark(name);
      connectors.push({
        name,
        type: this.config.connectors.get(name)!.type,
        objects: counts.present,
        linked: counts.linked,
        pendingExports: pending.pending + pending['in-flight'] + pending.error,
        heldExports: pending.held,
        errors: errorCounts[name] ?? 0,
        watermark: watermark !== null,
        deltaMethod: this.connector(name).deltaMethod?.(watermark) ?? null,
        quarantine: await readQuarantine(this.store, name),
        holds: await readHolds(this.store, name),
      });
    }
    return {
      staging: this.config.staging,
      metaverse: await this.store.countMv(),
      connectors,
      lastRuns: await this.store.runs(options.runs ?? 5),
      errors: await this.namedErrors(await this.store.errors()),
    };
  }

  /**
   * Object errors with the name of their object (an error is keyed by an anchor, which may be an opaque id),
   * and `names` for the ids their messages show ("userName … is already used by <id>").
   */
  private async namedErrors(errors: ObjectError[]): Promise<NamedError[]> {
    const byConnector = new Map<string, string[]>();
    for (const e of errors) {
      const ids = byConnector.get(e.connector) ?? [];
      byConnector.set(e.connector, ids);
      ids.push(e.key, ...idsIn(e.message));
    }
    const names = new Map<string, string>();
    for (const [connector, ids] of byConnector) {
      for (const [id, name] of await namesOfIds(this.store, [connector], ids)) names.set(`${connector}\0${id}`, name);
    }
    return errors.map((e) => {
      const inMessage = idsIn(e.message).filter((id) => names.has(`${e.connector}\0${id}`));
      return {
        ...e,
        name: names.get(`${e.connector}\0${e.key}`) ?? e.key,
        ...(inMessage.length > 0 ? { names: Object.fromEntries(inMessage.map((id) => [id, names.get(`${e.connector}\0${id}`)!])) } : {}),
      };
    });
  }

  /**
   * The provisioning log, each entry completed with the names of the ids it shows. `object` is any name of
   * an object (an anchor, a DN, a userName, an email, a displayName, a metaverse id): every entry of the life
   * of every object it names, in any connector, is returned (entries written under another of its names too).
   */
  async log(query: LogQuery): Promise<StoredLogEntry[]> {
    const objects = query.object ? await this.objectsNamed(query.object) : undefined;
    const entries = await this.store.log({ ...query, ...(objects ? { objects } : {}) });
    return importsOf(this.store, await nameLogEntries(this.store, this.config.connectors.keys(), entries));
  }

  /**
   * The ids of every object `name` names: those of the connector spaces and the metaverse today, and those
   * its log entries were written under (an object deleted since has no other trace).
   */
  private async objectsNamed(name: string): Promise<{ csIds: number[]; mvIds: string[] }> {
    const csIds = new Set<number>();
    const mvIds = new Set<string>();
    const { found } = await findObjects(this.store, this.secretAttributes(), name, { mode: 'name', limit: NAMED_LIMIT });
    for (const f of found) {
      if (f.metaverse) mvIds.add(f.metaverse.id);
      for (const o of f.objects) csIds.add(o.csId);
    }
    for (const e of await this.store.log({ object: name, limit: NAMED_LIMIT })) {
      if (e.csId) csIds.add(e.csId);
      if (e.mvId) mvIds.add(e.mvId);
    }
    return { csIds: [...csIds], mvIds: [...mvIds] };
  }

  /** Objects whose anchor, name or values contain `text`, across the metaverse and every connector space. */
  async find(text: string, limit = 50): Promise<{ found: Found[]; more: boolean }> {
    return findObjects(this.store, this.secretAttributes(), text, { mode: 'contains', limit });
  }

  /** Which attributes hold secrets, from the schemas known so far: read-only commands connect to nothing. */
  private secretAttributes(): SecretAttributes {
    return new SecretAttributes(this.config, (n) => this.schemas.get(n));
  }
}

export interface Explanation {
  connector: string;
  anchor: string | null;
  name: string | null;
  /** the name a person knows the object by (names.ts) */
  label: string;
  attributes: Record<string, unknown>;
  situation?: string;
  action?: string;
  steps: LogEntry[];
  metaverse: { id: string; name: string; objectType: string; attributes: Record<string, unknown>; deleted: boolean } | null;
  exports: PlannedChange[];
}

/** Whether provision on demand read its object again from its connector first (Engine.provision). */
export interface Reread {
  connector: string;
  /** read: re-read and imported; gone: the system no longer has it (imported as deleted); not-read: see detail */
  status: 'read' | 'gone' | 'not-read';
  detail: string;
}

/** An object error with the name of its object, and the names of the ids its message shows. */
export type NamedError = ObjectError & { name: string; names?: Record<string, string> };

export interface StatusReport {
  staging: boolean;
  metaverse: Record<string, number>;
  connectors: {
    name: string;
    type: string;
    objects: number;
    linked: number;
    pendingExports: number;
    heldExports: number;
    errors: number;
    watermark: boolean;
    /** how the connector finds changes (its deltaMethod), null when it has none or has not picked one yet */
    deltaMethod: string | null;
    /** failing cycles in a row, and the quarantine when `until` is set (connector skipped until then) */
    quarantine: QuarantineState | null;
    /** what the deletion threshold holds for this connector since its last run, until `idsync approve` */
    holds: StoredHold[];
  }[];
  lastRuns: Awaited<ReturnType<Store['runs']>>;
  errors: NamedError[];
}

/** Each node's own order of `items` (from its owner id), so that nodes woken together start with different ones. */
function rotate<T>(items: T[], owner: string): T[] {
  if (items.length < 2) return items;
  const at = Number.parseInt(owner.replace(/[^0-9a-f]/g, '').slice(0, 8), 16) % items.length;
  return [...items.slice(at), ...items.slice(0, at)];
}

/** what a failed cluster pass says: the code and message (a lost lease names its unit) */
function describeFailure(err: unknown): string {
  const message = redact(errorMessage(err));
  return err instanceof IdsyncError && !message.startsWith(err.code) ? `${err.code}: ${message}` : message;
}

function unitOf(err: unknown): string {
  const m = /lease of (connector:\S+|metaverse|the state)/.exec(err instanceof Error ? err.message : '');
  return m ? m[1]!.replace(/^connector:/, '') : 'cluster';
}

function emptyReport(staging: boolean): CycleReport {
  return {
    runId: 0,
    status: 'ok',
    staging,
    fullSync: false,
    stats: [],
    planned: [],
    holds: [],
    heldChanges: [],
    durationMs: 0,
  };
}

function failedReport(staging: boolean, err: unknown, durationMs: number): CycleReport {
  const stats: RunStats[] = [
    { ...blankStats(unitOf(err), 'import'), status: 'failed', detail: describeFailure(err) },
  ];
  return { ...emptyReport(staging), status: 'failed', stats, durationMs };
}

/** A cycle opens its connectors: one whose secret cannot be resolved stops it before anything starts. */
function requireSecrets(connectors: ConnectorConfig[]): void {
  const unresolved = connectors.flatMap((c) => c.unresolvedSecrets);
  if (unresolved.length > 0) throw new ConfigError(unresolved);
}

/** A hold as status shows it: since when the connector's runs are held. */
export interface StoredHold extends Hold {
  since: string;
}

const HOLDS = (connector: string) => `holds:${connector}`;

export async function readHolds(store: Store, connector: string): Promise<StoredHold[]> {
  const raw = await store.getMeta(HOLDS(connector));
  return raw === null ? [] : (JSON.parse(raw) as StoredHold[]);
}

function holdsOf(stats: RunStats[]): Hold[] {
  return stats.flatMap((s) => (s.hold ? [s.hold] : []));
}

/** One planned change as the plan digest sees it: the same object, operation and changes. */
function changeKey(p: PlannedChange): string {
  return JSON.stringify([p.connector, p.csId, p.op, p.newName ?? null, p.changes]);
}

function quarantinedStats(connector: string, phase: 'import' | 'export', q: QuarantineState): RunStats {
  return { ...blankStats(connector, phase), status: 'skipped', detail: `quarantined (level ${q.level}) until ${q.until}: ${q.reason}` };
}

function skippedStats(connector: string, phase: 'import' | 'export', why: string): RunStats {
  return { ...blankStats(connector, phase), status: 'skipped', detail: `skipped: ${why}` };
}

function overallStatus(stats: RunStats[], after: { quarantined: boolean; standingErrors: number }): CycleReport['status'] {
  if (stats.some((s) => s.status === 'failed')) return 'failed';
  if (stats.some((s) => s.status === 'held')) return 'held';
  if (after.quarantined) return 'incomplete';
  if (after.standingErrors > 0 || stats.some((s) => s.errors > 0)) return 'errors';
  return 'ok';
}

/**
 * What `apply` compares with the last plan: "salt:sha256". The secret values a change would send are in the
 * hash (a new password makes the plan stale, though the plan shows both as [redacted]); the random salt of
 * each plan keeps the stored digest from being a plain hash anyone could test guesses against in bulk.
 */
function planDigest(planned: PlannedChange[], salt: string): string {
  const canonical = planned
    .map((p) => JSON.stringify([p.connector, p.csId, p.op, p.newName ?? null, p.changes, p.held, secretsOfPlanned(p)]))
    .sort();
  return `${salt}:${createHash('sha256').update(salt).update(canonical.join('\n')).digest('hex')}`;
}

/** The explanation with every secret value met on the way replaced, in steps, messages and planned changes. */
function scrubExplanation(x: Explanation, secrets: string[]): Explanation {
  if (secrets.length === 0) return x;
  const text = (s: string) => scrub(s, secrets);
  const changes = (list: { attribute: string; old: string[]; new: string[] }[]) =>
    list.map((c) => ({ attribute: c.attribute, old: c.old.map(text), new: c.new.map(text) }));
  return {
    ...x,
    steps: x.steps.map((e) => ({
      ...e,
      steps: e.steps.map((s) => ({ ...s, detail: text(s.detail) })),
      changes: changes(e.changes),
      error: e.error ? { ...e.error, message: text(e.error.message) } : (e.error ?? null),
    })),
    exports: x.exports.map((p) => ({ ...p, object: text(p.object), changes: changes(p.changes) })),
  };
}

function dedupe<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    const k = JSON.stringify(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Each inbound sync entry with the import of its run that read the change: full or delta, and the connector's delta method. */
async function importsOf(store: Store, entries: StoredLogEntry[]): Promise<StoredLogEntry[]> {
  // inbound sync records an object under its anchor or name, outbound sync under its metaverse id
  const inbound = (e: StoredLogEntry) => e.phase === 'sync' && e.object !== e.mvId;
  const syncs = entries.filter(inbound);
  if (syncs.length === 0) return entries;
  const imports = new Map<string, NonNullable<StoredLogEntry['importedBy']>>();
  for (const run of await store.runsByIds([...new Set(syncs.map((e) => e.runId))])) {
    for (const s of run.stats) {
      if (s.phase === 'import' && s.mode) imports.set(`${run.id}\0${s.connector}`, { mode: s.mode, ...(s.method ? { method: s.method } : {}) });
    }
  }
  return entries.map((e) => {
    const importedBy = inbound(e) ? imports.get(`${e.runId}\0${e.connector}`) : undefined;
    return importedBy ? { ...e, importedBy } : e;
  });
}

/** What makes a connector another one: its type, its settings as written, where it runs. */
function connectorIdentity(c: ConnectorConfig): string {
  return JSON.stringify([c.type, c.settingsHash, c.agent?.group ?? null, c.pageSize, c.fullImportIntervalMs, c.deleteThreshold]);
}
