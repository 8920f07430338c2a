/**
 * Per-record results of one push, as a Location answers them (Entra reports them through its provisioning
 * logs: https://learn.microsoft.com/graph/api/resources/provisioningobjectsummary). Each operation says what
 * the push did to the connector's records (created, updated, deleted, skipped with why, failed with its
 * errors) and, once the engine's import has covered it, what the sync made of it: the rule's action and the
 * targets' exports, or the object error that stopped it.
 */
import type { RecordIssue } from '../../connectors/api/errors.js';
import { redact } from '../../core/redact.js';
import type { Engine } from '../../engine/engine.js';
import type { ObjectError, StoredLogEntry } from '../../store/types.js';

export interface OperationResult {
  index: number;
  bulkId?: string;
  method: string;
  /** the record's anchor (externalId by default), when it could be read */
  anchor?: string;
  status: 'created' | 'updated' | 'deleted' | 'skipped' | 'failed';
  /** why it was skipped */
  reason?: string;
  errors?: RecordIssue[];
  /** attributes sent that no schema defines: accepted, not kept */
  ignored?: string[];
  /** the record store's sequence number of this change (the engine's watermark passes it once imported) */
  seq?: number;
}

export interface SyncResult {
  state: 'pending' | 'synced' | 'failed';
  detail?: string;
  runId?: number;
  situation?: string;
  action?: string;
  error?: { code: string; message: string; path?: string; retryable: boolean };
  exports?: { connector: string; action: string; status: string; error?: { code: string; message: string; path?: string; retryable: boolean } }[];
}

export async function withSync(
  engine: Engine | undefined,
  connector: string,
  received: string,
  operations: OperationResult[],
): Promise<(OperationResult & { sync?: SyncResult })[]> {
  const waiting = operations.filter((o) => o.seq !== undefined);
  if (waiting.length === 0) return operations;
  if (!engine) return operations.map((o) => (o.seq === undefined ? o : { ...o, sync: { state: 'pending', detail: 'no engine runs beside this server' } }));
  const store = engine.store;
  const watermark = await store.getWatermark(connector);
  const reached = watermark !== null && /^\d+$/.test(watermark) ? Number(watermark) : -1;
  let errors: ObjectError[] | undefined;
  const out: (OperationResult & { sync?: SyncResult })[] = [];
  for (const o of operations) {
    if (o.seq === undefined || o.anchor === undefined) {
      out.push(o);
      continue;
    }
    if (reached < o.seq) {
      out.push({ ...o, sync: { state: 'pending', detail: 'not imported yet' } });
      continue;
    }
    errors ??= await store.errors(connector);
    const own = errors.find((e) => e.key === o.anchor);
    if (own) {
      out.push({ ...o, sync: { state: 'failed', error: wire(own) } });
      continue;
    }
    out.push({ ...o, sync: await syncOf(engine, connector, o.anchor, received) });
  }
  return out;
}

async function syncOf(engine: Engine, connector: string, anchor: string, received: string): Promise<SyncResult> {
  const entries = await engine.store.log({ connector, object: anchor, since: received, limit: 20 });
  const inbound = entries.find((e) => e.phase === 'sync');
  if (!inbound) return { state: 'synced', detail: 'imported; the rules had nothing to change for it' };
  const result: SyncResult = { state: inbound.status === 'error' ? 'failed' : 'synced', runId: inbound.runId, situation: inbound.situation, action: inbound.action };
  if (inbound.error) result.error = wire(inbound.error);
  if (inbound.mvId) {
    const targets = (await engine.store.log({ object: inbound.mvId, since: received, limit: 50 })).filter((e: StoredLogEntry) => e.connector !== connector && e.phase === 'export');
    if (targets.length > 0) {
      result.exports = targets.map((e) => ({ connector: e.connector, action: e.action, status: e.status, ...(e.error ? { error: wire(e.error) } : {}) }));
    }
  }
  return result;
}

function wire(e: { code: string; message: string; attribute?: string; retryable?: boolean }) {
  return { code: e.code, message: redact(e.message), ...(e.attribute !== undefined && { path: e.attribute }), retryable: e.retryable ?? false };
}

export function summary(operations: (OperationResult & { sync?: SyncResult })[]): Record<string, number> {
  const counts: Record<string, number> = { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, pending: 0, synced: 0, syncFailed: 0 };
  for (const o of operations) {
    counts[o.status]!++;
    if (o.sync?.state === 'pending') counts.pending!++;
    else if (o.sync?.state === 'synced') counts.synced!++;
    else if (o.sync?.state === 'failed') counts.syncFailed!++;
  }
  return counts;
}
