/** Human-readable rendering of engine reports. The --json shapes are in json.ts and docs/cli.md. */
import type { ConnectorSchema } from '../connectors/contract.js';
import type { CycleReport, Explanation, StatusReport } from '../engine/engine.js';
import type { PlannedChange } from '../engine/export.js';
import type { Found } from '../engine/find.js';
import { idsIn, withNames } from '../engine/names.js';
import type { Hold, LogEntry, RunRecord, RunStats, StoredLogEntry } from '../store/types.js';

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
  // imports say how: "import delta (RFC 4533 syncrepl)", "import full"
  const how = s.mode ? ` ${s.mode}${s.method ? ` (${s.method})` : ''}` : '';
  return [s.connector, s.phase + how + status, n(s.added), n(s.updated), n(s.deleted), n(s.unchanged), n(s.errors), `${(s.durationMs / 1000).toFixed(2)} s`];
}

/** Changes of each kind (target, operation, object type) a plan lists, unless `--all`. */
export const PLAN_SHOWN = 10;
/** Values of a multi-valued change listed by name; the rest are counted. */
const VALUES_SHOWN = 10;
const OPS = ['create', 'update', 'delete'] as const;

export interface PlanFormat {
  /** every change, however many */
  all?: boolean;
  /** counts per target, object type and operation only */
  summary?: boolean;
  /** what the deletion thresholds hold, and why: said first */
  holds?: Hold[];
}

/**
 * A plan as a person reads it: counts per target, object type and operation, then the changes, each object
 * by its name and each reference by the name of what it refers to; at most PLAN_SHOWN of each kind unless
 * `all`, so that a plan of 100,000 creates stays a page.
 */
export function formatPlan(planned: PlannedChange[], options: PlanFormat = {}): string {
  const holds = options.holds ?? [];
  const lines: string[] = [];
  if (holds.length > 0) {
    lines.push('Held by the deletion threshold:');
    for (const h of holds) lines.push(`  ${h.connector} ${h.phase}: ${h.message}`);
    if (planned.length > 0) lines.push('');
  }
  if (planned.length === 0) return holds.length > 0 ? lines.join('\n') : 'No changes: every target is as the rules want it.';
  // connector → object type → the changes, in plan order
  const groups = new Map<string, Map<string, PlannedChange[]>>();
  for (const p of planned) {
    const byType = groups.get(p.connector) ?? new Map<string, PlannedChange[]>();
    groups.set(p.connector, byType);
    const list = byType.get(p.objectType) ?? [];
    byType.set(p.objectType, list);
    list.push(p);
  }
  if (options.summary || planned.length > PLAN_SHOWN) {
    const rows: string[][] = [];
    for (const [connector, byType] of groups) {
      for (const [type, list] of byType) {
        rows.push([connector, type, ...OPS.map((op) => n(list.filter((c) => c.op === op).length)), n(list.filter((c) => c.held).length)]);
      }
    }
    lines.push(table(['target', 'type', 'create', 'update', 'delete', 'held'], rows));
    if (options.summary) return lines.join('\n');
    lines.push('');
  }
  let hidden = false;
  for (const [connector, byType] of groups) {
    const all = [...byType.values()].flat();
    const count = (op: string) => n(all.filter((c) => c.op === op).length);
    const disables = all.filter((c) => c.disable).length;
    const held = all.filter((c) => c.held).length;
    lines.push(
      `${connector}: ${count('create')} to create, ${count('update')} to update${disables > 0 ? ` (${n(disables)} to disable)` : ''}, ${count('delete')} to delete${held > 0 ? `; ${n(held)} held` : ''}`,
    );
    for (const op of OPS) {
      for (const [type, list] of byType) {
        const ofKind = list.filter((c) => c.op === op);
        const shown = options.all ? ofKind : ofKind.slice(0, PLAN_SHOWN);
        for (const c of shown) lines.push(...plannedLines(c));
        if (shown.length < ofKind.length) {
          lines.push(`  … and ${n(ofKind.length - shown.length)} more ${type} objects to ${op}`);
          hidden = true;
        }
      }
    }
  }
  if (hidden) lines.push('', `Not every change is listed: \`idsync plan --all\` lists them all, \`idsync plan --json\` writes them for scripts.`);
  return lines.join('\n');
}

function plannedLines(c: PlannedChange): string[] {
  const sign = c.op === 'create' ? '+' : c.op === 'delete' ? '-' : '~';
  const held = c.held ? `  [held: ${c.heldBy ? `${c.heldBy.connector} ${c.heldBy.phase}` : 'deletion threshold'}]` : '';
  const lines = [`  ${sign} ${c.disable ? 'disable' : c.op} ${c.objectType} ${c.name}${c.newName ? ` → ${c.newName}` : ''}${held}`];
  for (const ch of c.changes) lines.push(...changeLines(ch, c.names, c.op === 'create', '      '));
  return lines;
}

/**
 * One attribute's change: `old → new` for a single value; for several, what is added and removed, counted,
 * and listed by name up to VALUES_SHOWN (a group of 5,000 members gaining one shows one name, not 10,000).
 */
export function changeLines(
  ch: { attribute: string; old: string[]; new: string[] },
  names: Readonly<Record<string, string>> | undefined,
  creating: boolean,
  indent: string,
): string[] {
  const show = (v: string) => shownValue(v, names);
  if (creating && ch.old.length === 0) {
    if (ch.new.length <= 1) return [`${indent}${ch.attribute}: ${ch.new.map(show).join('')}`];
    return [`${indent}${ch.attribute} (${n(ch.new.length)}): ${listed(ch.new, show)}`];
  }
  if (ch.old.length <= 1 && ch.new.length <= 1) {
    return [`${indent}${ch.attribute}: ${ch.old.map(show).join('') || '(none)'} → ${ch.new.map(show).join('') || '(none)'}`];
  }
  const before = new Set(ch.old);
  const after = new Set(ch.new);
  const added = ch.new.filter((v) => !before.has(v));
  const removed = ch.old.filter((v) => !after.has(v));
  const head = `${indent}${ch.attribute}: +${n(added.length)}, -${n(removed.length)}; ${n(ch.new.length)} in all`;
  if (added.length + removed.length <= VALUES_SHOWN) {
    const each = [...added.map((v) => `+${show(v)}`), ...removed.map((v) => `-${show(v)}`)];
    return [each.length > 0 ? `${head}: ${each.join(', ')}` : head];
  }
  return [
    head,
    ...(added.length > 0 ? [`${indent}  added: ${listed(added, show)}`] : []),
    ...(removed.length > 0 ? [`${indent}  removed: ${listed(removed, show)}`] : []),
  ];
}

function listed(values: string[], show: (v: string) => string): string {
  const first = values.slice(0, VALUES_SHOWN).map(show).join(', ');
  return values.length > VALUES_SHOWN ? `${first} … and ${n(values.length - VALUES_SHOWN)} more` : first;
}

/** A value as a person reads it: a reference as the name of what it refers to (without the → of a metaverse reference). */
function shownValue(v: string, names: Readonly<Record<string, string>> | undefined): string {
  const named = names?.[v];
  if (named !== undefined) return named;
  if (v.startsWith('→')) return names?.[v.slice(1)] ?? v;
  return withNames(v, names);
}

export function formatStatus(s: StatusReport): string {
  const lines: string[] = [];
  if (s.staging) lines.push('Staging mode: cycles run, nothing is exported.');
  const mv = Object.entries(s.metaverse).map(([t, c]) => `${n(c)} ${t}`).join(', ') || 'empty';
  lines.push(`Metaverse: ${mv}`);
  lines.push(
    table(
      ['connector', 'type', 'objects', 'linked', 'pending exports', 'held', 'errors', 'changes found by'],
      s.connectors.map((c) => [c.name, c.type, n(c.objects), n(c.linked), n(c.pendingExports), n(c.heldExports), n(c.errors), c.deltaMethod ?? '-']),
    ),
  );
  for (const c of s.connectors) {
    for (const h of c.holds) lines.push(`Held: ${c.name} ${h.phase} since ${h.since}: ${h.message}`);
    if (c.quarantine?.until) lines.push(`Quarantined: ${c.name} until ${c.quarantine.until} (level ${c.quarantine.level}, failing since ${c.quarantine.since}): ${c.quarantine.reason}`);
  }
  if (s.lastRuns.length > 0) lines.push(`Last runs:\n${formatRuns(s.lastRuns)}`);
  if (s.errors.length > 0) {
    lines.push(`Object errors (${s.errors.length}):`);
    for (const e of s.errors.slice(0, 20)) {
      lines.push(`  ${e.connector} ${e.location ?? e.name} [${e.phase}] ${e.code}: ${withNames(e.message, e.names)}${e.attempts > 1 ? ` (${e.attempts} attempts)` : ''}`);
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
      const [head, ...rest] = entryLines(e);
      const found = e.importedBy ? `, read by a ${e.importedBy.mode} import${e.importedBy.method ? ` (${e.importedBy.method})` : ''}` : '';
      return [`${e.at} #${e.runId} ${head}${found}`, ...rest].join('\n');
    })
    .join('\n');
}

/** A log entry: its object by name, what happened, and each change with references by name. */
function entryLines(e: LogEntry): string[] {
  const object = e.name && e.name !== e.object ? e.name : withNames(e.object, e.names);
  const lines = [`${e.connector} ${object}: ${e.phase} ${e.situation} → ${e.action} (${e.status})`];
  for (const c of e.changes) lines.push(...changeLines(c, e.names, false, '    '));
  if (e.error) lines.push(`    error ${e.error.code}: ${withNames(e.error.message, e.names)}`);
  return lines;
}

/** What `idsync find` found: each identity with its metaverse object, its objects in every connector, and where the text matched. */
export function formatFound(text: string, result: { found: Found[]; more: boolean }): string {
  if (result.found.length === 0) return `Nothing found for "${text}".`;
  const lines: string[] = [];
  for (const f of result.found) {
    const head = f.metaverse
      ? `${f.metaverse.objectType} ${f.metaverse.name}${f.metaverse.deleted ? ' (deleted)' : ''}`
      : 'not in the metaverse';
    lines.push(`${head} — matched ${f.matched.join(', ')}`);
    lines.push(
      rows(
        f.objects.map((o) => [
          o.connector,
          o.objectType,
          o.name,
          o.anchor === null || o.anchor === o.name || idsIn(o.anchor).length > 0 ? '' : o.anchor,
          o.anchor === null ? 'to be created' : o.present ? '' : 'gone from its system',
        ]),
      ),
    );
  }
  if (result.more) lines.push(`… and more: give more of the name, or \`--limit N\` shows more.`);
  return lines.join('\n');
}

/** A connector's schema: per object type, its attributes with type, multi-valued, secret and read-only. */
export function formatSchema(connector: string, type: string, schema: ConnectorSchema): string {
  const types = Object.entries(schema.objectTypes);
  const lines = [`${connector} (${type}): ${types.length} object type${types.length === 1 ? '' : 's'}`];
  for (const [name, objectType] of types) {
    const attributes = Object.entries(objectType.attributes).sort(([a], [b]) => a.localeCompare(b));
    lines.push('', `${name} (${attributes.length} attributes)`);
    const flags = (a: (typeof attributes)[number][1]) => [a.multiValued && 'multi-valued', a.secret && 'secret', a.readOnly && 'read-only'].filter(Boolean).join(', ');
    lines.push(table(['attribute', 'type', 'flags'], attributes.map(([attr, a]) => [attr, a.type, flags(a)])).replace(/ +$/gm, ''));
  }
  return lines.join('\n');
}

export function formatExplanation(x: Explanation): string {
  const lines: string[] = [`${x.connector} object ${x.label}${x.anchor && x.anchor !== x.label && idsIn(x.anchor).length === 0 ? ` (${x.anchor})` : ''}`];
  lines.push(`Situation: ${x.situation ?? 'n/a'} → ${x.action ?? 'n/a'}`);
  for (const entry of x.steps) {
    lines.push(`[${entry.connector} ${entry.phase}] ${entry.situation} → ${entry.action}`);
    for (const s of entry.steps) lines.push(`  ${s.step}: ${withNames(s.detail, entry.names)}`);
    for (const c of entry.changes) lines.push(...changeLines(c, entry.names, false, '  '));
    if (entry.error) lines.push(`  error ${entry.error.code}: ${entry.error.message}`);
  }
  if (x.metaverse) {
    lines.push(`Metaverse ${x.metaverse.objectType} ${x.metaverse.name}${x.metaverse.deleted ? ' (deleted)' : ''}`);
  }
  lines.push(x.exports.length > 0 ? 'Would export:' : 'Would export nothing.');
  if (x.exports.length > 0) lines.push(formatPlan(x.exports, { all: true }).replace(/^/gm, '  '));
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

/** Rows of text in left-aligned columns, indented; empty cells at the end of a row are left out. */
function rows(cells: string[][]): string {
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`).join('\n');
}
