/**
 * Notifications: after each cycle (the engine's cycle listener) and on each change of an agent group's
 * connections, decide which events happened, and send each one once to every channel that wants it.
 *
 * Once per event, across restarts: what was notified is kept in the store's meta (`notifications`): the
 * `since` of each connector's hold and quarantine, the connectors over the error rate, the agent groups
 * without agents. A second held cycle finds the same hold and sends nothing; a recovery is sent once and
 * forgets the quarantine. The meta is written only from the cycle listener, between cycles (the engine is the
 * store's only writer, and a write in the middle of one of its transactions would join it); an agent event
 * changes the state in memory and is written with the next cycle's, or when the service stops.
 *
 * Deliveries run beside the cycles, never inside them: each is retried with growing waits, and a failure is
 * logged (redacted) and dropped. Nothing here throws into a cycle.
 */
import { randomUUID } from 'node:crypto';
import { durationMs, type NotificationEvent, type NotificationsConfig } from '../config/schema.js';
import { redact } from '../core/redact.js';
import type { CycleReport } from '../engine/engine.js';
import { readHolds } from '../engine/engine.js';
import { readQuarantine } from '../engine/quarantine.js';
import type { Store } from '../store/types.js';
import { type Channel, channelsOf } from './channels.js';
import type { AgentConnectionSink, NewEvent, OpsEvent } from './events.js';

/** waits between attempts: 1 s, 5 s, 30 s, 2 min, then 10 min for each further one */
export const RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000];

const META_KEY = 'notifications';

/** characters below which a webhook secret is reported as weak (32 hex characters are 128 bits) */
const WEAK_SECRET = 32;

export interface OpsLog {
  info(message: string): void;
  warn(message: string): void;
}

/** What was notified, so that it is not notified again (kept in the store's meta). */
interface SentState {
  /** connector → the `since` of the hold notified */
  held: Record<string, string>;
  /** connector → the `since` of the quarantine notified */
  quarantined: Record<string, string>;
  /** connectors over the error rate (notified, not yet back at half of it) */
  errorRate: Record<string, string>;
  /** agent groups whose last agent went (notified) */
  agentGroupsLost: Record<string, string>;
}

export interface NotifierOptions {
  config: NotificationsConfig;
  store: Store;
  connectors: string[];
  log: OpsLog;
  /** a test seam: the channels (default: those of the config) */
  channels?: Channel[];
  /** a test seam: the waits between attempts */
  retryDelaysMs?: number[];
}

export class Notifier implements AgentConnectionSink {
  private readonly channels: Channel[];
  private readonly enabled: ReadonlySet<NotificationEvent> | undefined;
  private readonly retryDelaysMs: number[];
  private readonly windowMs: number;
  private state: SentState = { held: {}, quarantined: {}, errorRate: {}, agentGroupsLost: {} };
  /** the state has changes not written to the meta yet (agent events) */
  private dirty = false;
  /** per connector: the object errors of recent cycles, oldest first */
  private readonly errors = new Map<string, { at: number; errors: number }[]>();
  private readonly connected = new Map<string, number>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: NotifierOptions) {
    this.channels = options.channels ?? channelsOf(options.config);
    this.enabled = options.config.events && new Set(options.config.events);
    this.retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.windowMs = durationMs(options.config.errorRate.within);
  }

  /** Reads what was notified before this process, and the recent runs' errors for the error rate. */
  async start(now = new Date()): Promise<void> {
    for (const w of this.options.config.webhooks) {
      if (w.secret.length < WEAK_SECRET) this.options.log.warn(`the secret of webhook ${new URL(w.url).origin} has fewer than ${WEAK_SECRET} characters: anyone who sees a signed request can guess it offline; use a random one (openssl rand -hex 32)`);
    }
    const raw = await this.options.store.getMeta(META_KEY);
    if (raw) {
      try {
        this.state = { ...this.state, ...(JSON.parse(raw) as Partial<SentState>) };
      } catch {
        // an unreadable state: start afresh (at worst an event is notified again)
      }
    }
    const since = now.getTime() - this.windowMs;
    for (const run of [...(await this.options.store.runs(500))].reverse()) {
      const at = run.finishedAt ? Date.parse(run.finishedAt) : Number.NaN;
      if (!(at >= since)) continue;
      this.addErrors(run.stats, at);
    }
  }

  /** The cycle listener: the events of this cycle, remembered, then sent (not awaited). */
  async observeCycle(report: CycleReport, now = new Date()): Promise<void> {
    const events: NewEvent[] = [];
    const { store } = this.options;
    const at = now.getTime();
    this.addErrors(report.stats, at);
    for (const connector of this.options.connectors) {
      const holds = await readHolds(store, connector);
      if (holds.length > 0) {
        const since = holds.map((h) => h.since).sort()[0]!;
        if (this.state.held[connector] !== since) {
          this.state.held[connector] = since;
          events.push({
            type: 'run.held',
            summary: `${connector}: ${holds.reduce((n, h) => n + h.count, 0)} deletions held by the deletion threshold`,
            connector,
            since,
            holds: holds.map(({ phase, count, limit, population, threshold, message }) => ({ phase, count, limit, population, threshold, message })),
          });
        }
      } else {
        delete this.state.held[connector];
      }

      const q = await readQuarantine(store, connector);
      if (q?.until && this.state.quarantined[connector] !== q.since) {
        this.state.quarantined[connector] = q.since;
        events.push({ type: 'connector.quarantined', summary: `${connector} is quarantined until ${q.until}`, connector, reason: q.reason, level: q.level, since: q.since, until: q.until });
      } else if (q === null && this.state.quarantined[connector] !== undefined) {
        events.push({ type: 'connector.recovered', summary: `${connector} recovered from its quarantine`, connector, quarantinedSince: this.state.quarantined[connector]! });
        delete this.state.quarantined[connector];
      }

      const { errors: threshold, within } = this.options.config.errorRate;
      const count = this.errorsWithin(connector, at);
      if (count > threshold && this.state.errorRate[connector] === undefined) {
        this.state.errorRate[connector] = now.toISOString();
        events.push({ type: 'errors.rate', summary: `${connector}: ${count} object errors within ${within}`, connector, errors: count, within: typeof within === 'number' ? `${within}s` : within, threshold });
      } else if (count <= threshold / 2 && this.state.errorRate[connector] !== undefined) {
        delete this.state.errorRate[connector];
      }
    }
    await this.save();
    for (const e of events) this.dispatch(e, now);
  }

  /** The agent hub's report: a group's connected agents now (see /work/notes/events.md). */
  agentConnections(group: string, connected: number): void {
    const before = this.connected.get(group) ?? 0;
    this.connected.set(group, connected);
    const now = new Date();
    if (connected === 0 && before > 0 && this.state.agentGroupsLost[group] === undefined) {
      this.state.agentGroupsLost[group] = now.toISOString();
      this.dirty = true;
      this.dispatch({ type: 'agent-group.lost', summary: `agent group ${group} has no connected agent`, group }, now);
    } else if (connected > 0 && this.state.agentGroupsLost[group] !== undefined) {
      delete this.state.agentGroupsLost[group];
      this.dirty = true;
      this.dispatch({ type: 'agent-group.restored', summary: `agent group ${group} has connected agents again`, group, connected }, now);
    }
  }

  /** Resolves when every delivery under way has ended (sent or given up). */
  async idle(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
  }

  /** Stops waiting retries (each is logged as given up), lets attempts under way end, and writes the state. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.idle();
    if (this.dirty) await this.save().catch(() => {});
    for (const c of this.channels) c.close();
  }

  private async save(): Promise<void> {
    await this.options.store.setMeta(META_KEY, JSON.stringify(this.state));
    this.dirty = false;
  }

  private addErrors(stats: CycleReport['stats'], at: number): void {
    const byConnector = new Map<string, number>();
    for (const s of stats) if (s.errors > 0) byConnector.set(s.connector, (byConnector.get(s.connector) ?? 0) + s.errors);
    for (const [connector, errors] of byConnector) {
      const list = this.errors.get(connector) ?? [];
      this.errors.set(connector, list);
      list.push({ at, errors });
    }
  }

  private errorsWithin(connector: string, now: number): number {
    const list = this.errors.get(connector);
    if (!list) return 0;
    while (list.length > 0 && list[0]!.at < now - this.windowMs) list.shift();
    return list.reduce((n, e) => n + e.errors, 0);
  }

  private dispatch(event: NewEvent, now: Date): void {
    if (this.enabled && !this.enabled.has(event.type)) return;
    const full = { ...event, id: randomUUID(), at: now.toISOString() } as OpsEvent;
    for (const channel of this.channels) {
      if (channel.events && !channel.events.has(full.type)) continue;
      const delivery = this.deliver(channel, full).finally(() => this.deliveries.delete(delivery));
      this.deliveries.add(delivery);
    }
  }

  private async deliver(channel: Channel, event: OpsEvent): Promise<void> {
    const { log } = this.options;
    const attempts = this.options.config.retries + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        await channel.send(event);
        log.info(`notification ${event.type} (${event.id}) sent by ${channel.name}`);
        return;
      } catch (err) {
        const e = err as Error & { code?: string; retryable?: boolean };
        const why = redact(`${e.code ?? 'NOTIFY_FAILED'}: ${e.message}`);
        const wait = this.retryDelaysMs[Math.min(attempt - 1, this.retryDelaysMs.length - 1)] ?? 0;
        if (attempt >= attempts || e.retryable === false || this.stopping.signal.aborted) {
          log.warn(`notification ${event.type} (${event.id}) by ${channel.name} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}, given up: ${why}`);
          return;
        }
        log.warn(`notification ${event.type} (${event.id}) by ${channel.name} failed (attempt ${attempt} of ${attempts}): ${why}; next attempt in ${Math.round(wait / 1000)} s`);
        if (!(await sleep(wait, this.stopping.signal))) {
          log.warn(`notification ${event.type} (${event.id}) by ${channel.name} given up: the service is stopping`);
          return;
        }
      }
    }
  }
}

/** false when `signal` aborted the wait */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
