/**
 * What `GET /metrics` shows (Prometheus text format, prom-client): cycles and their phases as they end (the
 * engine's cycle listener), the state that outlives a cycle read from the store when scraped (pending
 * exports, standing errors, holds, quarantine), agent connections as the agent hub reports them, the HTTP
 * server's requests (a fastify onResponse hook, labelled by route pattern), and the process (prom-client's
 * default metrics). Each server has its own registry: nothing global, so two servers in one process (tests)
 * do not mix. docs/operations.md lists every metric.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from '../core/version.js';
import type { CycleReport } from '../engine/engine.js';
import { readHolds } from '../engine/engine.js';
import { readQuarantine } from '../engine/quarantine.js';
import type { AgentRecord } from '../store/agents.js';
import type { RunStats, Store } from '../store/types.js';

/** seconds: from a quick delta cycle to a large initial load */
const CYCLE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600];
/** seconds: SCIM requests are milliseconds; a gateway write waits for its export (up to its timeout) */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** runs read at start to know each connector's last success before this process ran a cycle */
const SEED_RUNS = 200;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const PENDING_STATES = ['pending', 'in-flight', 'error', 'held'] as const;

export interface MetricsSources {
  /** the engine's store: pending exports, errors, holds and quarantine are read from it when scraped */
  store?: Store;
  /** the configured connectors, so that each has its series (at 0) before anything happens */
  connectors: string[];
  /** registered agents (src/store/agents.ts): idsync_agents_registered */
  agents?: () => Promise<AgentRecord[]>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly cycles: Counter<'status'>;
  private readonly cycleDuration: Histogram<'status'>;
  private readonly phaseDuration: Histogram<'connector' | 'phase'>;
  private readonly imported: Counter<'connector' | 'change'>;
  private readonly exported: Counter<'connector' | 'change'>;
  private readonly objectErrors: Counter<'connector' | 'phase'>;
  private readonly lastCycle: Gauge;
  private readonly lastSuccess: Gauge<'connector'>;
  private readonly pending: Gauge<'connector' | 'state'>;
  private readonly standingErrors: Gauge<'connector'>;
  private readonly heldDeletes: Gauge<'connector'>;
  private readonly quarantined: Gauge<'connector'>;
  private readonly quarantineLevel: Gauge<'connector'>;
  private readonly failingCycles: Gauge<'connector'>;
  private readonly agentConnections: Gauge<'group'>;
  private readonly agentsRegistered: Gauge<'group'>;
  private readonly stateReadErrors: Counter;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'idsync_info', help: 'idsync version (always 1)', labelNames: ['version'], registers }).set({ version: VERSION }, 1);
    this.cycles = new Counter({ name: 'idsync_cycles_total', help: 'cycles run by this process, by outcome (ok, errors, incomplete, held, failed)', labelNames: ['status'], registers });
    this.cycleDuration = new Histogram({ name: 'idsync_cycle_duration_seconds', help: 'duration of whole cycles', labelNames: ['status'], buckets: CYCLE_BUCKETS, registers });
    this.phaseDuration = new Histogram({
      name: 'idsync_phase_duration_seconds',
      help: "duration of one connector's phase in a cycle (import, inbound sync, outbound sync, export); skipped phases are not observed",
      labelNames: ['connector', 'phase'],
      buckets: CYCLE_BUCKETS,
      registers,
    });
    this.imported = new Counter({ name: 'idsync_objects_imported_total', help: 'objects an import found added, updated or deleted in the connected system', labelNames: ['connector', 'change'], registers });
    this.exported = new Counter({ name: 'idsync_objects_exported_total', help: 'objects an export added, updated or deleted in the connected system', labelNames: ['connector', 'change'], registers });
    this.objectErrors = new Counter({ name: 'idsync_object_errors_total', help: 'object errors met by cycles (each failed attempt counts)', labelNames: ['connector', 'phase'], registers });
    this.lastCycle = new Gauge({ name: 'idsync_last_cycle_timestamp_seconds', help: 'when the last cycle of this process ended (Unix time)', registers });
    this.lastSuccess = new Gauge({
      name: 'idsync_last_success_timestamp_seconds',
      help: "when a cycle last ended with every phase of the connector ok (Unix time; from the run history at start)",
      labelNames: ['connector'],
      registers,
    });
    this.pending = new Gauge({ name: 'idsync_pending_exports', help: 'exports waiting, by state (pending, in-flight, error: waiting for a retry, held)', labelNames: ['connector', 'state'], registers });
    this.standingErrors = new Gauge({ name: 'idsync_object_errors', help: 'object errors standing now (as `idsync status` lists them)', labelNames: ['connector'], registers });
    this.heldDeletes = new Gauge({ name: 'idsync_held_deletes', help: 'deletes and disables the deletion threshold holds until `idsync approve`', labelNames: ['connector'], registers });
    this.quarantined = new Gauge({ name: 'idsync_quarantined', help: '1 while the connector is quarantined (skipped), else 0', labelNames: ['connector'], registers });
    this.quarantineLevel = new Gauge({ name: 'idsync_quarantine_level', help: 'the quarantine level (each level doubles the wait), 0 when not quarantined', labelNames: ['connector'], registers });
    this.failingCycles = new Gauge({ name: 'idsync_failing_cycles', help: "the connector's failing cycles in a row", labelNames: ['connector'], registers });
    this.agentConnections = new Gauge({ name: 'idsync_agent_connections', help: 'agents connected now, per agent group', labelNames: ['group'], registers });
    this.agentsRegistered = new Gauge({ name: 'idsync_agents_registered', help: 'registered agents not revoked, per agent group', labelNames: ['group'], registers });
    this.stateReadErrors = new Counter({ name: 'idsync_metrics_state_errors_total', help: 'scrapes that could not read the state (its gauges kept their last values)', registers });
    this.httpRequests = new Counter({ name: 'idsync_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.httpDuration = new Histogram({ name: 'idsync_http_request_duration_seconds', help: 'time to answer HTTP requests, by method and route pattern', labelNames: ['method', 'route'], buckets: HTTP_BUCKETS, registers });
    for (const connector of sources.connectors) {
      for (const change of ['added', 'updated', 'deleted']) {
        this.imported.inc({ connector, change }, 0);
        this.exported.inc({ connector, change }, 0);
      }
    }
  }

  /** The last success of each connector from the run history, so a restart does not reset it. */
  async seed(): Promise<void> {
    if (!this.sources.store) return;
    const runs = await this.sources.store.runs(SEED_RUNS);
    const known = new Set<string>();
    for (const run of runs) {
      if (!run.finishedAt) continue;
      for (const connector of succeeded(run.stats)) {
        if (known.has(connector)) continue;
        known.add(connector);
        this.lastSuccess.set({ connector }, Date.parse(run.finishedAt) / 1000);
      }
    }
  }

  /** A cycle ended: its counts, durations, and each connector's success. */
  observeCycle(report: CycleReport, now = new Date()): void {
    const at = now.getTime() / 1000;
    this.cycles.inc({ status: report.status });
    this.cycleDuration.observe({ status: report.status }, report.durationMs / 1000);
    this.lastCycle.set(at);
    for (const s of report.stats) {
      if (s.status !== 'skipped') this.phaseDuration.observe({ connector: s.connector, phase: s.phase }, s.durationMs / 1000);
      const counter = s.phase === 'import' ? this.imported : s.phase === 'export' && !report.staging ? this.exported : undefined;
      if (counter) {
        counter.inc({ connector: s.connector, change: 'added' }, s.added);
        counter.inc({ connector: s.connector, change: 'updated' }, s.updated);
        counter.inc({ connector: s.connector, change: 'deleted' }, s.deleted);
      }
      if (s.errors > 0) this.objectErrors.inc({ connector: s.connector, phase: s.phase }, s.errors);
    }
    for (const connector of succeeded(report.stats)) this.lastSuccess.set({ connector }, at);
  }

  /** The agent hub's count of a group's connected agents. */
  setAgentConnections(group: string, connected: number): void {
    this.agentConnections.set({ group }, connected);
  }

  /** The fastify onResponse hook: one count and one duration per request, by route pattern (never the raw URL). */
  readonly onResponse = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const route = request.routeOptions.url ?? '(no route)';
    const method = METHODS.has(request.method) ? request.method : 'OTHER';
    this.httpRequests.inc({ method, route, status: String(reply.statusCode) });
    this.httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
  };

  /** The text a scrape gets: the state read now, then every metric. */
  async render(now = new Date()): Promise<string> {
    try {
      await this.refresh(now);
    } catch {
      // the state could not be read now (the store is busy or gone): the gauges keep their last values
      this.stateReadErrors.inc();
    }
    return this.registry.metrics();
  }

  private async refresh(now: Date): Promise<void> {
    const { store, connectors, agents } = this.sources;
    if (agents) {
      this.agentsRegistered.reset();
      for (const a of await agents()) {
        if (!a.revoked) this.agentsRegistered.inc({ group: a.group });
      }
    }
    if (!store) return;
    const errors = await store.countErrors();
    for (const connector of connectors) {
      const pending = await store.countPending(connector);
      for (const state of PENDING_STATES) this.pending.set({ connector, state }, pending[state] ?? 0);
      this.standingErrors.set({ connector }, errors[connector] ?? 0);
      const holds = await readHolds(store, connector);
      this.heldDeletes.set({ connector }, holds.reduce((n, h) => n + h.count, 0));
      const q = await readQuarantine(store, connector);
      const active = q?.until ? Date.parse(q.until) > now.getTime() : false;
      this.quarantined.set({ connector }, active ? 1 : 0);
      this.quarantineLevel.set({ connector }, q?.until ? q.level : 0);
      this.failingCycles.set({ connector }, q?.strikes ?? 0);
    }
  }
}

/** The connectors whose every phase in these stats was ok (none failed, held or skipped). */
function succeeded(stats: RunStats[]): string[] {
  const outcome = new Map<string, boolean>();
  for (const s of stats) outcome.set(s.connector, (outcome.get(s.connector) ?? true) && s.status === 'ok');
  return [...outcome].filter(([, ok]) => ok).map(([c]) => c);
}
