/** Rows as both stores read them, and how they become the interface's objects. */
import { type Attributes, decodeAttributes, isReference } from '../../core/values.js';
import { matchKey } from '../match.js';
import { type CsObject, EXPORT_RANK, type ExportOp, type LogEntry, type MvObject, type PendingExport, type PendingState, type RunRecord } from '../types.js';

export interface CsRow {
  id: number;
  connector: string;
  object_type: string;
  anchor: string | null;
  name: string | null;
  attributes: string;
  present: number;
  mv_id: string | null;
}

export type MvRow = { id: string; object_type: string; attributes: string; deleted: number };

export function toMv(row: MvRow): MvObject {
  return { id: row.id, objectType: row.object_type, attributes: decodeAttributes(row.attributes), deleted: row.deleted === 1 };
}

export function toCs(row: CsRow): CsObject {
  // Most reads only need the link or the hash; attributes are decoded the first time they are read.
  let decoded: Attributes | undefined;
  return {
    id: row.id,
    connector: row.connector,
    objectType: row.object_type,
    anchor: row.anchor,
    name: row.name,
    get attributes() {
      decoded ??= decodeAttributes(row.attributes);
      return decoded;
    },
    present: row.present === 1,
    mvId: row.mv_id,
    hash: row.attributes,
  };
}

/** What indexCs writes for these attributes (references if `refs`, and the values of `indexed`), as one string to compare. */
export function csIndexKeys(indexed: Set<string> | undefined, refs: boolean, attributes: Attributes): string {
  const keys: string[] = [];
  for (const [attr, values] of Object.entries(attributes)) {
    const index = indexed?.has(attr);
    for (const v of values) {
      if (refs && isReference(v)) keys.push(`r${v.ref}`);
      if (index) keys.push(`i${attr}\0${matchKey(v)}`);
    }
  }
  return keys.sort().join('\n');
}

/** The text as it appears inside stored JSON (quotes and backslashes escaped), lower-cased like SQL's lower(). */
export function searchNeedle(text: string): string {
  return JSON.stringify(text).slice(1, -1).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export const CHUNK = 500;

export function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function now(): string {
  return new Date().toISOString();
}

/*
 * The provisioning log is most of what a cycle writes: entries are stored as arrays, not objects, which
 * halves them ([step, detail] and [attribute, old, new]). Rows written before, as objects, still read.
 */
type StepRow = [string, string] | LogEntry['steps'][number];
type ChangeRow = [string, string[], string[]] | LogEntry['changes'][number];

export function packSteps(steps: LogEntry['steps']): string {
  return JSON.stringify(steps.map((s) => [s.step, s.detail]));
}

export function packChanges(changes: LogEntry['changes']): string {
  return JSON.stringify(changes.map((c) => [c.attribute, c.old, c.new]));
}

export function unpackSteps(json: string): LogEntry['steps'] {
  return (JSON.parse(json) as StepRow[]).map((s) => (Array.isArray(s) ? { step: s[0], detail: s[1] } : s));
}

export function unpackChanges(json: string): LogEntry['changes'] {
  return (JSON.parse(json) as ChangeRow[]).map((c) => (Array.isArray(c) ? { attribute: c[0], old: c[1], new: c[2] } : c));
}

export function exportRank(op: ExportOp, desired: Attributes): number {
  if (op === 'create') return Object.values(desired).some((vs) => vs.some(isReference)) ? EXPORT_RANK.createWithReferences : EXPORT_RANK.create;
  return op === 'update' ? EXPORT_RANK.update : EXPORT_RANK.delete;
}

export interface PendingRow {
  cs_id: number;
  connector: string;
  op: PendingExport['op'];
  desired: string;
  create_only: string;
  desired_name: string | null;
  rule: string;
  state: PendingState;
  attempts: number;
  last_error: string | null;
  not_before: number;
  rank: number;
  disable: number;
}

export function toPending(r: PendingRow): PendingExport {
  return {
    csId: r.cs_id,
    connector: r.connector,
    op: r.op,
    desired: decodeAttributes(r.desired),
    createOnly: JSON.parse(r.create_only),
    desiredName: r.desired_name,
    rule: r.rule,
    state: r.state,
    attempts: r.attempts,
    lastError: r.last_error ? JSON.parse(r.last_error) : null,
    notBefore: r.not_before,
    rank: r.rank,
    disable: r.disable === 1,
  };
}

export interface ErrorRow {
  connector: string;
  key: string;
  phase: string;
  code: string;
  message: string;
  location: string | null;
  remote_code: string | null;
  attribute: string | null;
  attempts: number;
  first_at: string;
  last_at: string;
}

export interface LogRow {
  id: number;
  run_id: number;
  at: string;
  connector: string;
  object: string;
  cs_id: number | null;
  mv_id: string | null;
  phase: string;
  situation: string;
  action: string;
  status: string;
  steps: string;
  changes: string;
  error: string | null;
  name: string | null;
  names: string | null;
}

export interface RunRow {
  id: number;
  kind: string;
  started_at: string;
  finished_at: string | null;
  status: string;
  stats: string;
}

export function toRun(r: RunRow): RunRecord {
  return { id: r.id, kind: r.kind, startedAt: r.started_at, finishedAt: r.finished_at, status: r.status, stats: JSON.parse(r.stats) };
}
