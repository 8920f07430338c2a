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
    const features = (await this.rt.discovered()).features;
    const previous = request.watermark !== null ? parseWatermark(request.watermark) : null;
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
    const watermark: Watermark = { user: previous?.user ?? null, group: previous?.group ?? null, fullAt: delta ? (previous?.fullAt ?? null) : new Date().toISOString() };
    for (const name of ['user', 'group'] as const) {
      const type = await this.typeOrThrow(name);
      const since = delta ? watermark[name] : null;
      // A type that had nothing at the last import has no watermark: list all of it (there is little).
      const filter = since ? filterCompare('meta.lastModified', 'ge', subtractSeconds(since, this.rt.settings.deltaOverlap)) : undefined;
      let newest = delta ? watermark[name] : null;
      const totals = new Set<number>();
      let received = 0;
      try {
        const listing = this.rt.list(type, {
          pageSize: request.pageSize,
          withMembers: false,
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
            if (typeof modified === 'string' && (newest === null || later(modified, newest))) newest = modified;
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
      if (!(delta && shifted)) watermark[name] = newest;
    }
    // The watermark comes from the server's own meta.lastModified values, never from this machine's clock;
    // it is written only after the last page, so an import cut short is never resumed as a delta.
    yield { changes: [], watermark: JSON.stringify({ v: 1, ...watermark }) };
  }

  // ---- export and lookup -------------------------------------------------------------------------------------

  async *export(changes: ExportChange[]): AsyncIterable<ExportResult> {
    this.rt.resetCall();
    try {
      await this.rt.discovered();
    } catch (err) {
      throw asConnectorError(this.name, err, 'discovering the server');
    }
    yield* this.exporter.run(changes);
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

interface Watermark {
  user: string | null;
  group: string | null;
  /** when the last full import ran (this machine's clock: it schedules the next one, it positions nothing) */
  fullAt: string | null;
}

function parseWatermark(text: string): Watermark | null {
  try {
    const w = JSON.parse(text) as { v?: unknown; user?: unknown; group?: unknown; fullAt?: unknown };
    if (w.v !== 1) return null;
    const ok = (x: unknown) => x === null || (typeof x === 'string' && !Number.isNaN(Date.parse(x)));
    if (!ok(w.user ?? null) || !ok(w.group ?? null) || !ok(w.fullAt ?? null)) return null;
    return { user: (w.user as string | null) ?? null, group: (w.group as string | null) ?? null, fullAt: (w.fullAt as string | null) ?? null };
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
