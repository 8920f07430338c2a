/**
 * The engine's answers (status, runs, log) as the admin API shows them (schemas.ts). The CLI's --json shapes
 * (cli/json.ts) are the model: the same fields under the same names, arranged per resource.
 */
import type { StatusReport } from '../engine/engine.js';
import type { RunRecord, RunStats, StoredLogEntry } from '../store/types.js';
import type { ApiDeps } from './context.js';

export type ConnectorStatus = StatusReport['connectors'][number];

export function runView(r: RunRecord, connector?: string) {
  const phases: RunStats[] = connector ? r.stats.filter((s) => s.connector === connector) : r.stats;
  return {
    id: r.id,
    kind: r.kind,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    status: r.status,
    durationMs: r.finishedAt ? Date.parse(r.finishedAt) - Date.parse(r.startedAt) : null,
    phases: phases.map((s) => ({ ...s })),
  };
}

/** Whether rules read (source) or write (target) the connector. */
function roleOf(deps: ApiDeps, name: string): 'source' | 'target' | 'both' | 'none' {
  const source = deps.config.inbound.some((r) => r.connector === name);
  const target = deps.config.outbound.some((r) => r.connector === name);
  return source && target ? 'both' : source ? 'source' : target ? 'target' : 'none';
}

export function connectorView(deps: ApiDeps, c: ConnectorStatus, runs: RunRecord[], nextRun: string | null) {
  const last = runs.find((r) => r.stats.some((s) => s.connector === c.name));
  const lastPhases = last?.stats.filter((s) => s.connector === c.name) ?? [];
  const quarantined = c.quarantine?.until ? c.quarantine : null;
  const health = quarantined
    ? 'quarantined'
    : c.holds.length > 0
      ? 'held'
      : lastPhases.some((s) => s.status === 'failed')
        ? 'error'
        : c.errors > 0
          ? 'warning'
          : lastPhases.length > 0 && lastPhases.every((s) => s.status === 'skipped')
            ? 'skipped'
            : 'ok';
  return {
    name: c.name,
    type: c.type,
    role: roleOf(deps, c.name),
    health,
    objects: c.objects,
    linked: c.linked,
    pendingExports: c.pendingExports,
    heldExports: c.heldExports,
    errors: c.errors,
    deltaMethod: c.deltaMethod,
    lastRun: last ? runView(last, c.name) : null,
    nextRun,
    quarantine: quarantined ? { reason: quarantined.reason, since: quarantined.since, until: quarantined.until!, level: quarantined.level } : null,
    failedCycles: c.quarantine?.strikes ?? 0,
    holds: c.holds,
    agentGroup: deps.config.connectors.get(c.name)?.agent?.group ?? null,
  } as const;
}

export function logView(e: StoredLogEntry) {
  return {
    id: e.id,
    at: e.at,
    runId: e.runId,
    connector: e.connector,
    object: e.object,
    name: e.name ?? e.object,
    mvId: e.mvId ?? null,
    phase: e.phase,
    situation: e.situation,
    action: e.action,
    status: e.status,
    steps: e.steps,
    changes: e.changes,
    ...(e.names && Object.keys(e.names).length > 0 ? { names: e.names } : {}),
    error: e.error ? { code: e.error.code, message: e.error.message, ...(e.error.attribute ? { attribute: e.error.attribute } : {}) } : null,
    ...(e.importedBy ? { importedBy: e.importedBy } : {}),
  };
}
