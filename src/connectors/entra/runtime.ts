/**
 * What import, export and lookup share: the transport, the object models, reading references (manager,
 * members) in JSON batches, finding objects by attribute, and the clock of eventual consistency.
 *
 * Graph is eventually consistent: an object just created or changed may not be readable, filterable or
 * referenceable for a few seconds (https://learn.microsoft.com/graph/best-practices-concept#handling-expected-errors
 * and "Processing delays" in https://learn.microsoft.com/graph/delta-query-overview). So an empty lookup is
 * trusted only `consistencyWait` seconds after this connector's last create (and after it started: a create
 * may have been made just before a crash), and a write that names an object created moments ago is retried
 * on 404 until that object has had `consistencyWait` seconds to replicate.
 */
import { ConnectorError } from '../../core/errors.js';
import type { Attributes, Reference, Value } from '../../core/values.js';
import type { ConnectorLogger, ConnectorObject } from '../contract.js';
import type { EntraErrorCode } from './errors.js';
import { sleep } from '../../core/http-retry.js';
import { type BatchRequest, GraphHttp, type GraphResponse, GraphTransportError, graphDetail } from './http.js';
import { type Model, models, type ObjectKind, ON_PREM_EXT, toAttributes } from './model.js';
import type { EntraSettings } from './settings.js';

const MEMBER_TYPES = new Set(['#microsoft.graph.user', '#microsoft.graph.group', '#microsoft.graph.orgContact']);

export class Runtime {
  readonly http: GraphHttp;
  readonly models: Record<ObjectKind, Model>;
  /** when this connector last created or restored an object (it started: a create may precede a crash) */
  private lastCreateAt = Date.now();
  /** objects this connector created or restored, and when */
  private readonly created = new Map<string, number>();
  /** lookups that waited for replication (for tests and the stats detail) */
  consistencyWaits = 0;

  constructor(
    readonly connector: string,
    readonly settings: EntraSettings,
    configDir: string,
    readonly log: ConnectorLogger,
  ) {
    this.http = new GraphHttp(connector, settings, configDir);
    this.models = models(settings);
  }

  model(objectType: string): Model | undefined {
    return objectType === 'user' || objectType === 'group' ? this.models[objectType] : undefined;
  }

  noteCreated(id: string): void {
    const now = Date.now();
    this.lastCreateAt = now;
    this.created.set(id, now);
    if (this.created.size > 100_000) {
      for (const [k, at] of this.created) if (now - at > this.settings.consistencyWait * 1000) this.created.delete(k);
    }
  }

  /** An object this connector deleted: a 404 for it now means gone, not "not replicated yet". */
  forget(id: string): void {
    this.created.delete(id);
  }

  /** Milliseconds `id` may still be unreplicated (0: old enough, or not made here). */
  replicationLeft(id: string): number {
    const at = this.created.get(id);
    if (at === undefined) return 0;
    return Math.max(0, at + this.settings.consistencyWait * 1000 - Date.now());
  }

  /** Until when an empty lookup may be a replication delay rather than an absence. */
  emptyTrustedAt(): number {
    return this.lastCreateAt + this.settings.consistencyWait * 1000;
  }

  fail(code: EntraErrorCode, message: string, retryable: boolean, options: { cause?: unknown; remoteCode?: number; fullImportRequired?: boolean; connection?: boolean } = {}): ConnectorError {
    return new ConnectorError(code, message, { connector: this.connector }, retryable, options);
  }

  /** A response that is not what a read expected, as a ConnectorError. */
  readError(res: GraphResponse, what: string): ConnectorError {
    const code: EntraErrorCode = res.status === 401 || res.status === 403 ? 'ENTRA_UNAUTHORIZED' : 'ENTRA_REQUEST_REFUSED';
    return this.fail(code, `${what}: HTTP ${res.status}${graphDetail(res.body)}`, res.status >= 500 || res.status === 429, { remoteCode: res.status, connection: code === 'ENTRA_UNAUTHORIZED' });
  }

  toObject(model: Model, item: Record<string, unknown>, refs?: Attributes): ConnectorObject {
    return { anchor: String(item.id), objectType: model.kind, attributes: { ...toAttributes(model, item), ...refs } };
  }

  /** $select of a model, for users with the manager expanded to its id. */
  listQuery(model: Model, top: number): string {
    const q = `$select=${model.select.join(',')}&$top=${Math.min(999, Math.max(1, top))}`;
    return model.kind === 'user' ? `${q}&$expand=manager($select=id)` : q;
  }

  /**
   * The complete member lists of groups: the first page of each by JSON $batch (20 groups a request), the
   * rest by following @odata.nextLink (https://learn.microsoft.com/graph/paging). null: the group is gone.
   */
  async members(groupIds: string[], signal?: AbortSignal): Promise<Map<string, Reference[] | null>> {
    const out = new Map<string, Reference[] | null>();
    const ids = [...new Set(groupIds)];
    for (let i = 0; i < ids.length; i += this.settings.batchSize) {
      const chunk = ids.slice(i, i + this.settings.batchSize);
      const responses = await this.http.batch(
        chunk.map((id) => ({ method: 'GET', url: `/groups/${encodeURIComponent(id)}/members?$select=id&$top=999` }) satisfies BatchRequest),
        signal,
      );
      for (let j = 0; j < chunk.length; j++) {
        const id = chunk[j]!;
        let res = responses[j]!;
        if (res.status === 404) {
          out.set(id, null);
          continue;
        }
        const refs: Reference[] = [];
        for (;;) {
          if (res.status !== 200) throw this.readError(res, `reading the members of group ${id}`);
          for (const m of (res.body?.value ?? []) as { id?: unknown; '@odata.type'?: unknown }[]) {
            if (typeof m.id === 'string' && (m['@odata.type'] === undefined || MEMBER_TYPES.has(String(m['@odata.type'])))) refs.push({ ref: m.id });
          }
          const next = res.body?.['@odata.nextLink'];
          if (typeof next !== 'string') break;
          res = await this.http.request('GET', next, { retry: 'safe', ...(signal ? { signal } : {}) });
        }
        out.set(id, refs);
      }
    }
    return out;
  }

  /** The managers of users, by JSON $batch. A user without a manager (404) maps to null. */
  async managers(userIds: string[], signal?: AbortSignal): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    const ids = [...new Set(userIds)];
    for (let i = 0; i < ids.length; i += this.settings.batchSize) {
      const chunk = ids.slice(i, i + this.settings.batchSize);
      const responses = await this.http.batch(chunk.map((id) => ({ method: 'GET', url: `/users/${encodeURIComponent(id)}/manager?$select=id` }) satisfies BatchRequest), signal);
      chunk.forEach((id, j) => {
        const res = responses[j]!;
        if (res.status === 200 && typeof res.body?.id === 'string') out.set(id, res.body.id);
        else if (res.status === 404) out.set(id, null);
        else throw this.readError(res, `reading the manager of user ${id}`);
      });
    }
    return out;
  }

  /**
   * Objects whose attribute equals `value`, complete. `waitUntil`: an empty answer before that instant may be
   * a replication delay, so the query is repeated until then.
   */
  async find(model: Model, attribute: string, value: Value, waitUntil = 0): Promise<ConnectorObject[]> {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return [];
    const property = attribute.startsWith(`${ON_PREM_EXT}.`) ? attribute.replace('.', '/') : attribute;
    const literal = typeof value === 'string' ? `'${value.replace(/'/g, "''")}'` : String(value);
    // Filters on onPremisesExtensionAttributes and directory extensions are "advanced queries": they need
    // ConsistencyLevel: eventual and $count=true (https://learn.microsoft.com/graph/aad-advanced-queries).
    const advanced = property.startsWith(`${ON_PREM_EXT}/`) || property.startsWith('extension_');
    const query = `${model.collection}?$filter=${encodeURIComponent(`${property} eq ${literal}`)}&${this.listQuery(model, 10)}${advanced ? '&$count=true' : ''}`;
    for (let round = 0; ; round++) {
      const res = await this.http.request('GET', query, { retry: 'safe', ...(advanced ? { headers: { consistencylevel: 'eventual' } } : {}) });
      if (res.status !== 200) throw this.readError(res, `looking up ${model.kind} by ${attribute}`);
      const items = (res.body?.value ?? []) as Record<string, unknown>[];
      const wanted = String(value).toLowerCase();
      const found = items.filter((item) => {
        const attrs = toAttributes(model, item);
        return (attrs[attribute] ?? []).some((v) => String(v).toLowerCase() === wanted);
      });
      if (found.length > 0 || Date.now() >= waitUntil) {
        if (round > 0) this.log.debug('a lookup waited for replication', { connector: this.connector, attribute, rounds: round });
        return this.complete(model, found);
      }
      this.consistencyWaits++;
      await sleep(Math.min(1000, Math.max(50, waitUntil - Date.now())));
    }
  }

  /** Graph objects as connector objects with their references (manager expanded; members read). */
  async complete(model: Model, items: Record<string, unknown>[], signal?: AbortSignal): Promise<ConnectorObject[]> {
    if (model.kind === 'user') {
      return items.map((item) => {
        const manager = (item.manager as { id?: unknown } | null | undefined)?.id;
        return this.toObject(model, item, typeof manager === 'string' ? { manager: [{ ref: manager }] } : {});
      });
    }
    const members = await this.members(items.map((i) => String(i.id)), signal);
    const out: ConnectorObject[] = [];
    for (const item of items) {
      const m = members.get(String(item.id));
      if (m === null) continue;
      out.push(this.toObject(model, item, m && m.length > 0 ? { members: m } : {}));
    }
    return out;
  }

  asConnectorError(err: unknown, what: string): ConnectorError {
    if (err instanceof ConnectorError) return err;
    if (err instanceof GraphTransportError) {
      return this.fail(err.code, `${what}: ${err.message}`, err.retryable, { cause: err, ...(err.status !== undefined ? { remoteCode: err.status } : {}), connection: err.connection });
    }
    return this.fail('ENTRA_IMPORT_FAILED', `${what}: ${(err as Error).message ?? String(err)}`, true, { cause: err });
  }
}
