import { ConnectorError } from '../../core/errors.js';
import { filterCompare } from '../../scim/index.js';
import type { Value } from '../../core/values.js';
import type {
  Capabilities,
  Connector,
  ConnectorContext,
  ConnectorObject,
  ConnectorSchema,
  ExportChange,
  ExportResult,
  ImportChange,
  ImportPage,
  ImportRequest,
} from '../contract.js';
import { Exporter } from './export.js';
import { TransportError } from './http.js';
import { asConnectorError, Runtime, type TypeInfo } from './runtime.js';
import type { ScimSettings } from './settings.js';

/**
 * A SCIM 2.0 service provider (RFC 7643/7644) as a target (and a source): cloud directories and SaaS
 * applications, provisioned the way Entra's provisioning service does it. Anchors are SCIM ids; references
 * (members, manager) are ids too.
 */
export class ScimConnector implements Connector {
  readonly type = 'scim';
  readonly capabilities: Capabilities = {
    deltaImport: true,
    export: true,
    watch: false,
    disableAttributes: { active: [false] },
  };
  private readonly rt: Runtime;
  private readonly exporter: Exporter;
  /** the watermark this instance last gave the engine (an import's, or an export span's end), if any */
  private position: { text: string; watermark: Watermark } | null = null;
  /** per type, the objects exported since `position` (deleted ones removed): what a span must account for */
  private written: Record<'user' | 'group', Set<string>> = { user: new Set(), group: new Set() };
  /** types with a failed export since the last import: a write may have half happened, no span for them */
  private readonly unproven = new Set<'user' | 'group'>();
  /** the span of the last export call, for exportSpan() */
  private span: { from: string; to: string } | undefined;

  constructor(
    readonly name: string,
    settings: ScimSettings,
    context: ConnectorContext,
  ) {
    this.rt = new Runtime(name, settings, context.configDir, context.log);
    this.exporter = new Exporter(this.rt);
  }

  /** Request counters of this connector instance (requests, writes, failures, retries). */
  get requestStats() {
    return { ...this.rt.http.stats };
  }

  async test(): Promise<void> {
    this.rt.resetCall();
    const type = await this.typeOrThrow('user');
    try {
      const res = await this.rt.http.request('GET', `${type.cfg.endpoint}?count=1`, { retry: 'safe' });
      if (res.status !== 200) {
        throw new ConnectorError(res.status === 401 || res.status === 403 ? 'SCIM_UNAUTHORIZED' : 'SCIM_REQUEST_REFUSED', `GET ${type.cfg.endpoint} answered HTTP ${res.status}`, { connector: this.name }, res.status >= 500, { remoteCode: res.status });
      }
    } catch (err) {
      throw asConnectorError(this.name, err, `testing ${this.rt.settings.url}`);
    }
  }

  deltaMethod(): string {
    return 'meta.lastModified filter';
  }

  async schema(): Promise<ConnectorSchema> {
    const user = await this.typeOrThrow('user');
    const group = await this.typeOrThrow('group');
    return { objectTypes: { user: structuredClone(user.schema), group: structuredClone(group.schema) } };
  }

  // ---- import ---------------------------------------------------------------------------------------------

  async *import(request: ImportRequest): AsyncIterable<ImportPage> {
    this.rt.resetCall();
    // what an export proves from here on is relative to what this import ends at
    this.position = null;
    this.span = undefined;
    this.written = { user: new Set(), group: new Set() };
    this.unproven.clear();
    const features = (await this.rt.discovered()).features;
    const overlap = this.rt.settings.deltaOverlap;
    const previous = request.watermark !== null ? parseWatermark(request.watermark, overlap) : null;
    if (request.mode === 'delta' && request.watermark !== null) {
      if (!previous) throw this.fullRequired('SCIM_WATERMARK_INVALID', `the watermark ${JSON.stringify(request.watermark)} is not one this connector wrote`);
      if (!features.filter.supported) throw this.fullRequired('SCIM_DELTA_UNSUPPORTED', 'the server cannot filter, so it cannot list what changed since the last import (meta.lastModified)');
      const every = this.rt.settings.fullImportEvery;
      // A schedule, not a position in the data: this machine's clock is right for it.
      if (every > 0 && (previous.fullAt === null || Date.now() - Date.parse(previous.fullAt) >= every * 3_600_000)) {
        throw this.fullRequired('SCIM_FULL_IMPORT_DUE', `the last full import is older than ${every} h (fullImportEvery), and only a full one notices objects deleted in the target`);
      }
    }
    const delta = request.mode === 'delta' && previous !== null;
    const watermark: Watermark = {
      user: delta ? previous!.user : NO_MARK,
      group: delta ? previous!.group : NO_MARK,
      fullAt: delta ? (previous?.fullAt ?? null) : new Date().toISOString(),
    };
    for (const name of ['user', 'group'] as const) {
      const type = await this.typeOrThrow(name);
      const mark = watermark[name];
      // A type that had nothing at the last import has no watermark: list all of it (there is little).
      const filter = delta && mark.since ? filterCompare('meta.lastModified', 'ge', mark.since) : undefined;
      let newest = mark.newest;
      let seen: string | null = null;
      const totals = new Set<number>();
      let received = 0;
      try {
        const listing = this.rt.list(type, {
          // A delta lists the groups that changed, members included: a group's members one request each
          // (as a full listing reads them, so that no page holds many large groups) cost a request per change.
          pageSize: filter && type.isGroup ? Math.min(request.pageSize, DELTA_GROUP_PAGE) : request.pageSize,
          withMembers: filter !== undefined,
          // oldest first where the server can sort: an object changed during the listing moves to the end, where it is still read
          ...(filter ? { filter, sortBy: 'meta.lastModified' } : {}),
          onTotal: (t) => totals.add(t),
          ...(request.signal ? { signal: request.signal } : {}),
        });
        for await (const page of listing) {
          received += page.length;
          const complete = await this.rt.complete(type, page);
          const changes: ImportChange[] = [];
          for (const resource of complete) {
            if (typeof resource.id !== 'string' || resource.id === '') {
              changes.push({ kind: 'error', location: `${type.cfg.endpoint}`, code: 'SCIM_NO_ID', message: `a ${name} without an id was listed` });
              continue;
            }
            const modified = resource.meta?.lastModified;
            if (typeof modified === 'string' && (seen === null || later(modified, seen))) seen = modified;
            changes.push({ kind: 'upsert', object: this.rt.toObject(type, resource) });
          }
          yield { changes };
        }
      } catch (err) {
        if (filter && err instanceof TransportError && err.status === 400) {
          throw this.fullRequired('SCIM_DELTA_UNSUPPORTED', `the server refused the filter on meta.lastModified (${err.message})`);
        }
        throw asConnectorError(this.name, err, `importing ${type.cfg.endpoint}`);
      }
      // startIndex paging over a result that changed while it was read may have skipped an object: then the
      // watermark stays where it was, and the next delta reads the same window again.
      const shifted = totals.size > 1 || (totals.size === 1 && received < [...totals][0]!);
      if (delta && shifted) continue;
      if (seen !== null && (newest === null || later(seen, newest))) newest = seen;
      // The next delta reads from the newest server timestamp this listing saw, less the overlap (changes a
      // server committed late, clocks of several server nodes); never back before where this one started.
      let since = delta ? mark.since : null;
      if (seen !== null) {
        const back = subtractSeconds(seen, overlap);
        if (since === null || later(back, since)) since = back;
      }
      watermark[name] = { since, newest };
    }
    // The watermark comes from the server's own meta.lastModified values, never from this machine's clock;
    // it is written only after the last page, so an import cut short is never resumed as a delta.
    const text = formatWatermark(watermark);
    this.position = { text, watermark };
    yield { changes: [], watermark: text };
  }

  // ---- export and lookup -------------------------------------------------------------------------------------

  async *export(changes: ExportChange[]): AsyncIterable<ExportResult> {
    this.rt.resetCall();
    this.span = undefined;
    try {
      await this.rt.discovered();
    } catch (err) {
      throw asConnectorError(this.name, err, 'discovering the server');
    }
    const types = new Map(changes.map((c) => [c.id, c]));
    const touched = new Set<'user' | 'group'>();
    for await (const result of this.exporter.run(changes)) {
      const change = types.get(result.id);
      const kind = change?.objectType === 'user' || change?.objectType === 'group' ? change.objectType : undefined;
      if (kind) {
        touched.add(kind);
        const anchor = result.ok ? (result.anchor ?? (change!.op === 'create' ? undefined : change!.anchor)) : undefined;
        if (!result.ok || anchor === undefined) this.unproven.add(kind);
        else if (change!.op === 'delete') this.written[kind].delete(anchor);
        else this.written[kind].add(anchor);
        // a deleted user leaves its groups (the server changes them): only a count tells
        if (change!.op === 'delete' && kind === 'user') touched.add('group');
      }
      yield result;
    }
    if (touched.size > 0) await this.proveSpan(touched);
  }

  /**
   * After an export call: when every object of a type that changed in the target since this connector last
   * read it is one this connector wrote (and recorded from its answers), says so through exportSpan(), and
   * the next delta starts after these writes instead of reading them back: a no-change cycle after a load of
   * 100,000 users then reads nothing. The proof is a count: the objects of the type changed after the
   * newest timestamp the import saw (one request, newest first) are as many as the objects written, each of
   * which changed after it. Any other write since (someone else's, or a group changed by a user's delete) makes
   * the count larger, and the type keeps its watermark: the next delta reads everything since, as before.
   */
  private async proveSpan(touched: Set<'user' | 'group'>): Promise<void> {
    const position = this.position;
    if (!position) return;
    const next: Watermark = { ...position.watermark };
    let moved = false;
    for (const name of touched) {
      if (this.unproven.has(name)) continue;
      const mark = position.watermark[name];
      const type = await this.rt.typeInfo(name);
      if (!type) continue;
      let answer: Awaited<ReturnType<Runtime['newest']>>;
      try {
        // (a type the import found empty: every object, by a filter a server answers from an index if any)
        answer = await this.rt.newest(type, filterCompare('meta.lastModified', mark.newest ? 'gt' : 'ge', mark.newest ?? EPOCH));
      } catch (err) {
        this.rt.log.debug('could not count the objects changed since the last import; the next delta reads them back', { connector: this.name, error: (err as Error).message });
        continue;
      }
      if (!answer || answer.total !== this.written[name].size || answer.newest === null) continue;
      // no overlap here: the count has just vouched for everything up to the newest of these writes
      next[name] = { since: answer.newest, newest: answer.newest };
      this.written[name] = new Set();
      moved = true;
    }
    if (!moved) return;
    const text = formatWatermark(next);
    this.span = { from: position.text, to: text };
    this.position = { text, watermark: next };
  }

  exportSpan(): { from: string; to: string } | undefined {
    const span = this.span;
    this.span = undefined;
    return span;
  }

  async lookup(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]> {
    const type = await this.rt.typeInfo(objectType);
    if (!type) return [];
    const found = new Map<string, ConnectorObject>();
    try {
      for (const value of values) {
        for (const resource of await this.rt.find(type, attribute, value)) found.set(String(resource.id), this.rt.toObject(type, resource));
      }
    } catch (err) {
      throw asConnectorError(this.name, err, `looking up ${objectType} by ${attribute}`);
    }
    return [...found.values()];
  }

  async close(): Promise<void> {
    await this.rt.http.close();
  }

  private async typeOrThrow(name: 'user' | 'group'): Promise<TypeInfo> {
    const type = await this.rt.typeInfo(name);
    if (!type) throw new ConnectorError('SCIM_UNKNOWN_OBJECT_TYPE', `no object type ${name}`, { connector: this.name }, false);
    return type;
  }

  private fullRequired(code: string, message: string): ConnectorError {
    return new ConnectorError(code, `${message}: a full import runs instead`, { connector: this.name }, false, { fullImportRequired: true });
  }
}

/** Where a type's delta starts: `since` is the filter's bound (ge), `newest` the newest timestamp known. */
interface Mark {
  since: string | null;
  newest: string | null;
}

const NO_MARK: Mark = { since: null, newest: null };

const EPOCH = '1970-01-01T00:00:00Z';

/** groups per page of a delta listing, which carries members */
const DELTA_GROUP_PAGE = 100;

interface Watermark {
  user: Mark;
  group: Mark;
  /** when the last full import ran (this machine's clock: it schedules the next one, it positions nothing) */
  fullAt: string | null;
}

function formatWatermark(w: Watermark): string {
  return JSON.stringify({ v: 2, user: w.user, group: w.group, fullAt: w.fullAt });
}

/** Version 2, or version 1 (one newest timestamp per type, the overlap taken off when read). */
function parseWatermark(text: string, overlap: number): Watermark | null {
  try {
    const w = JSON.parse(text) as { v?: unknown; user?: unknown; group?: unknown; fullAt?: unknown };
    const time = (x: unknown): x is string | null => x === null || (typeof x === 'string' && !Number.isNaN(Date.parse(x)));
    if (!time(w.fullAt ?? null)) return null;
    const fullAt = (w.fullAt as string | null) ?? null;
    if (w.v === 1) {
      if (!time(w.user ?? null) || !time(w.group ?? null)) return null;
      const v1 = (x: string | null): Mark => ({ since: x === null ? null : subtractSeconds(x, overlap), newest: x });
      return { user: v1((w.user as string | null) ?? null), group: v1((w.group as string | null) ?? null), fullAt };
    }
    if (w.v !== 2) return null;
    const mark = (x: unknown): Mark | null => {
      if (!x || typeof x !== 'object') return null;
      const { since, newest } = x as { since?: unknown; newest?: unknown };
      return time(since ?? null) && time(newest ?? null) ? { since: (since as string | null) ?? null, newest: (newest as string | null) ?? null } : null;
    };
    const user = mark(w.user);
    const group = mark(w.group);
    return user && group ? { user, group, fullAt } : null;
  } catch {
    return null;
  }
}

/** Compares two server timestamps as instants (they may differ in precision or offset). */
function later(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(ta)) return false;
  if (Number.isNaN(tb)) return true;
  return ta > tb || (ta === tb && a > b);
}

/**
 * The delta filter's lower bound: the newest server timestamp seen, minus the overlap. `ge` and the overlap
 * together re-read objects changed in the same second as the watermark (ties) and changes a server committed
 * late; objects read twice are unchanged for the engine and cost nothing but the transfer.
 */
function subtractSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) - seconds * 1000).toISOString();
}
