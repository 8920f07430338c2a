/**
 * Operations for `idsync serve`: the metrics (metrics.ts, served by http.ts) and the notifications
 * (notifier.ts over channels.ts), fed by the engine's cycle listener and the agent hub. startServer builds one
 * Ops per server; docs/operations.md is the user's view.
 */
import type { LoadedConfig } from '../config/model.js';
import { redact } from '../core/redact.js';
import type { CycleReport } from '../engine/engine.js';
import type { AgentStore } from '../store/agents.js';
import type { Store } from '../store/types.js';
import type { AgentConnectionSink } from './events.js';
import { Metrics } from './metrics.js';
import { Notifier, type NotifierOptions, type OpsLog } from './notifier.js';

export type { AgentConnectionSink } from './events.js';
export type { OpsLog } from './notifier.js';

export interface OpsOptions {
  config: LoadedConfig;
  /** the engine's store: state for metrics, and what notifications remember; without it only HTTP and process metrics */
  store?: Store;
  agents?: AgentStore;
  log: OpsLog;
  /** test seams of the notifier */
  notifier?: Pick<NotifierOptions, 'channels' | 'retryDelaysMs'>;
}

export class Ops implements AgentConnectionSink {
  private constructor(
    readonly metrics: Metrics,
    readonly notifier: Notifier | undefined,
    private readonly log: OpsLog,
  ) {}

  static async start(options: OpsOptions): Promise<Ops> {
    const connectors = [...options.config.connectors.keys()];
    const agents = options.agents;
    const metrics = new Metrics({ connectors, ...(options.store && { store: options.store }), ...(agents && { agents: () => agents.list() }) });
    await metrics.seed();
    const { notifications } = options.config;
    let notifier: Notifier | undefined;
    if (notifications && options.store) {
      notifier = new Notifier({ config: notifications, store: options.store, connectors, log: options.log, ...options.notifier });
      await notifier.start();
    }
    return new Ops(metrics, notifier, options.log);
  }

  /** The engine's cycle listener: metrics, then notifications; never throws. */
  async observeCycle(report: CycleReport): Promise<void> {
    try {
      this.metrics.observeCycle(report);
      await this.notifier?.observeCycle(report);
    } catch (err) {
      this.log.warn(`metrics and notifications after run ${report.runId}: ${redact((err as Error).message)}`);
    }
  }

  agentConnections(group: string, connected: number): void {
    this.metrics.setAgentConnections(group, connected);
    this.notifier?.agentConnections(group, connected);
  }

  async close(): Promise<void> {
    await this.notifier?.close();
  }
}

/** What `idsync serve` says at start about metrics and notifications (docs/operations.md). */
export function opsLines(config: LoadedConfig, url: string): string[] {
  const lines: string[] = [];
  const metrics = config.serve?.metrics;
  if (metrics?.enabled) {
    lines.push(`Metrics at ${url}/metrics (${metrics.token ? 'bearer token serve.metrics.token' : 'clients on this machine only; set serve.metrics.token for a remote Prometheus'})`);
  }
  const n = config.notifications;
  if (n) {
    const to = [...(n.email ? [`email to ${n.email.to.join(', ')}`] : []), ...(n.webhooks.length > 0 ? [`${n.webhooks.length} webhook${n.webhooks.length === 1 ? '' : 's'}`] : [])];
    lines.push(`Notifications: ${to.length > 0 ? to.join(' and ') : 'none configured (no email, no webhook)'}`);
  }
  return lines;
}
