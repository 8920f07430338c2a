/** Human-readable rendering of engine reports. The --json shapes are in json.ts and docs/cli.md. */
import type { CycleReport, Explanation, StatusReport } from '../engine/engine.js';
import type { PlannedChange } from '../engine/export.js';
import type { RunRecord, RunStats, StoredLogEntry } from '../store/types.js';

export function formatCycle(report: CycleReport): string {
  const lines: string[] = [];
  const title = report.staging ? 'Cycle (staging mode: nothing exported)' : `Cycle ${report.runId}`;
  lines.push(`${title}${report.fullSync ? ', full sync' : ''}: ${report.status} in ${(report.durationMs / 1000).toFixed(2)} s`);
  lines.push(table(['connector', 'phase', 'added', 'updated', 'deleted', 'unchanged', 'errors', 'time'], report.stats.map(statRow)));
  for (const s of report.stats) if (s.detail) lines.push(`  ${s.connector} ${s.phase}: ${s.detail}`);
  return lines.join('\n');
}

function statRow(s: RunStats): string[] {
  const status = s.status === 'ok' ? '' : ` (${s.status})`;
  return [s.connector, s.phase + status, n(s.added), n(s.updated), n(s.deleted), n(s.unchanged), n(s.errors), `${(s.durationMs / 1000).toFixed(2)} s`];
}

export function formatPlan(planned: PlannedChange[]): string {
  if (planned.length === 0) return 'No changes: every target is as the rules want it.';
  const lines: string[] = [];
  const byConnector = new Map<string, PlannedChange[]>();
  for (const p of planned) byConnector.set(p.connector, [...(byConnector.get(p.connector) ?? []), p]);
  for (const [connector, changes] of byConnector) {
    const count = (op: string) => changes.filter((c) => c.op === op).length;
    lines.push(`${connector}: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete`);
    for (const c of changes) {
      const sign = c.op === 'create' ? '+' : c.op === 'delete' ? '-' : '~';
      lines.push(`  ${sign} ${c.op} ${c.objectType} ${c.object}${c.newName ? ` → ${c.newName}` : ''}${c.held ? '  [held: deletion threshold]' : ''}`);
      for (const ch of c.changes) {
        if (c.op === 'create') lines.push(`      ${ch.attribute}: ${ch.new.join(', ')}`);
        else lines.push(`      ${ch.attribute}: ${ch.old.join(', ') || '(none)'} → ${ch.new.join(', ') || '(none)'}`);
      }
    }
  }
  return lines.join('\n');
}

export function formatStatus(s: StatusReport): string {
  const lines: string[] = [];
  if (s.staging) lines.push('Staging mode: cycles run, nothing is exported.');
  const mv = Object.entries(s.metaverse).map(([t, c]) => `${n(c)} ${t}`).join(', ') || 'empty';
  lines.push(`Metaverse: ${mv}`);
  lines.push(
    table(
      ['connector', 'type', 'objects', 'linked', 'pending exports', 'held', 'errors'],
      s.connectors.map((c) => [c.name, c.type, n(c.objects), n(c.linked), n(c.pendingExports), n(c.heldExports), n(c.errors)]),
    ),
  );
  for (const c of s.connectors) {
    if (c.quarantine?.until) lines.push(`Quarantined: ${c.name} until ${c.quarantine.until} (level ${c.quarantine.level}, failing since ${c.quarantine.since}): ${c.quarantine.reason}`);
  }
  if (s.lastRuns.length > 0) lines.push(`Last runs:\n${formatRuns(s.lastRuns)}`);
  if (s.errors.length > 0) {
    lines.push(`Object errors (${s.errors.length}):`);
    for (const e of s.errors.slice(0, 20)) {
      lines.push(`  ${e.connector} ${e.location ?? e.key} [${e.phase}] ${e.code}: ${e.message}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ''}`);
    }
    if (s.errors.length > 20) lines.push(`  … and ${s.errors.length - 20} more (idsync status --json)`);
  }
  return lines.join('\n');
}

/**
 * Runs newest first, one line each: what was imported and exported (+added ~updated -deleted, summed over
 * connectors), object errors, how long it took and how it ended.
 */
export function formatRuns(runs: RunRecord[]): string {
  if (runs.length === 0) return 'No runs yet.';
  const sum = (r: RunRecord, phase: RunStats['phase']) => {
    const of = r.stats.filter((x) => x.phase === phase);
    const total = (k: 'added' | 'updated' | 'deleted') => n(of.reduce((a, x) => a + x[k], 0));
    return of.length === 0 ? '-' : `+${total('added')} ~${total('updated')} -${total('deleted')}`;
  };
  return table(
    ['run', 'kind', 'started', 'took', 'result', 'imported', 'exported', 'errors'],
    runs.map((r) => [
      `#${r.id}`,
      r.kind,
      r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      r.finishedAt ? `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(2)} s` : '-',
      r.status,
      sum(r, 'import'),
      sum(r, 'export'),
      n(r.stats.reduce((a, x) => a + x.errors, 0)),
    ]),
  );
}

export function formatLog(entries: StoredLogEntry[]): string {
  if (entries.length === 0) return 'No log entries.';
  return entries
    .map((e) => {
      const head = `${e.at} #${e.runId} ${e.connector} ${e.object}: ${e.phase} ${e.situation} → ${e.action} (${e.status})`;
      const changes = e.changes.map((c) => `    ${c.attribute}: ${c.old.join(', ') || '(none)'} → ${c.new.join(', ') || '(none)'}`);
      const error = e.error ? [`    error ${e.error.code}: ${e.error.message}`] : [];
      return [head, ...changes, ...error].join('\n');
    })
    .join('\n');
}

export function formatExplanation(x: Explanation): string {
  const lines: string[] = [`${x.connector} object ${x.anchor ?? x.name}${x.name && x.name !== x.anchor ? ` (${x.name})` : ''}`];
  lines.push(`Situation: ${x.situation ?? 'n/a'} → ${x.action ?? 'n/a'}`);
  for (const entry of x.steps) {
    lines.push(`[${entry.connector} ${entry.phase}] ${entry.situation} → ${entry.action}`);
    for (const s of entry.steps) lines.push(`  ${s.step}: ${s.detail}`);
    for (const c of entry.changes) lines.push(`  ${c.attribute}: ${c.old.join(', ') || '(none)'} → ${c.new.join(', ') || '(none)'}`);
    if (entry.error) lines.push(`  error ${entry.error.code}: ${entry.error.message}`);
  }
  if (x.metaverse) {
    lines.push(`Metaverse ${x.metaverse.objectType} ${x.metaverse.id}${x.metaverse.deleted ? ' (deleted)' : ''}`);
  }
  lines.push(x.exports.length > 0 ? 'Would export:' : 'Would export nothing.');
  if (x.exports.length > 0) lines.push(formatPlan(x.exports).replace(/^/gm, '  '));
  return lines.join('\n');
}

function n(x: number): string {
  return x.toLocaleString('en');
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}
