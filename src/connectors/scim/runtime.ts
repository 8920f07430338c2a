/**
 * What import and export share: the transport, what discovery found, and the per-type translation between
 * SCIM resources and flat attributes, plus finding resources by attribute (filter, or a listing when the
 * server cannot filter).
 */
import { ConnectorError, isConnectionFailure } from '../../core/errors.js';
import { isReference, type Value } from '../../core/values.js';
import type { ConnectorLogger, ConnectorObject, ObjectTypeSchema } from '../contract.js';
import { type Discovered, discover, objectTypeSchema } from './discovery.js';
import { ScimHttp, type ScimResponse, scimDetail, TransportError } from './http.js';
import { type AttrPath, equalityFilter, type FlattenOptions, flatten, isFilterable, parsePath, type ScimResource } from './paths.js';
import type { ScimObjectTypeSettings, ScimSettings } from './settings.js';

const INDEX_TTL_MS = 5 * 60_000;

export interface TypeInfo {
  name: 'user' | 'group';
  cfg: ScimObjectTypeSettings;
  isGroup: boolean;
  schema: ObjectTypeSchema;
  flatten: FlattenOptions;
}

export class Runtime {
  readonly http: ScimHttp;
  private found: Promise<Discovered> | null = null;
  private types: Map<string, TypeInfo> | null = null;
  /** resources that could not be found by filter: a listing indexed by match attribute, kept for one call */
  private indexes = new Map<string, Map<string, string[]>>();
  /** attributes the server refused to filter on (400 invalidFilter): found by listing from then on */
  private readonly unfilterable = new Set<string>();

  constructor(
    readonly connector: string,
    readonly settings: ScimSettings,
    configDir: string,
    readonly log: ConnectorLogger,
  ) {
    this.http = new ScimHttp(connector, settings, configDir, (msg) => log.warn(msg, { connector }));
  }

  /** Discovery runs once per connector instance; a failure is retried at the next call. */
  async discovered(): Promise<Discovered> {
    this.found ??= discover(this.http, this.settings).catch((err) => {
      this.found = null;
      throw asConnectorError(this.connector, err, 'reading /ServiceProviderConfig');
    });
    return this.found;
  }

  async typeInfo(objectType: string): Promise<TypeInfo | undefined> {
    if (!this.types) {
      const d = await this.discovered();
      const importPaths = this.settings.importPaths.map(parsePath).filter((p): p is AttrPath => p !== null);
      const make = (name: 'user' | 'group', cfg: ScimObjectTypeSettings): TypeInfo => {
        const schema = objectTypeSchema(d, cfg.schema, name === 'group');
        const references = new Set(Object.entries(schema.attributes).filter(([, a]) => a.type === 'reference').map(([n]) => n));
        const booleans = new Set(Object.entries(schema.attributes).filter(([, a]) => a.type === 'boolean').map(([n]) => n));
        return { name, cfg, isGroup: name === 'group', schema, flatten: { references, booleans, extraPaths: importPaths } };
      };
      this.types = new Map([
        ['user', make('user', this.settings.userType)],
        ['group', make('group', this.settings.groupType)],
      ]);
    }
    return this.types.get(objectType);
  }

  toObject(type: TypeInfo, resource: ScimResource): ConnectorObject {
    return { anchor: String(resource.id), objectType: type.name, attributes: flatten(resource, type.flatten) };
  }

  resourcePath(type: TypeInfo, id: string): string {
    return `${type.cfg.endpoint}/${encodeURIComponent(id)}`;
  }

  /**
   * Starts an import or export call. Listings made for matching (servers without filter) are kept for a few
   * minutes: an export arrives in calls of a few hundred changes, and listing a large target for each call
   * would cost more than the creates. Objects this connector creates are added as it goes; one made by
   * someone else meanwhile shows as a 409 on create, which links it.
   */
  resetCall(): void {
    if (Date.now() - this.indexedAt > INDEX_TTL_MS) this.indexes.clear();
    this.http.resetCycle();
  }

  private indexedAt = 0;

  /**
   * Resources of `type` whose attribute `name` equals `value`, complete (with members for groups).
   * By filter where the server offers it, else from a listing indexed once per call.
   */
  async find(type: TypeInfo, name: string, value: Value): Promise<ScimResource[]> {
    if (!isFilterable(value)) return [];
    const path = parsePath(name);
    if (!path) return [];
    const d = await this.discovered();
    const key = `${type.name}\u0000${name}`;
    if (d.features.filter.supported && !this.unfilterable.has(key)) {
      const params: Record<string, string> = { filter: equalityFilter(path, value), count: '10' };
      // a group's members are read on their own (complete): a match must not pull 50,000 members per candidate
      if (type.isGroup) params.excludedAttributes = 'members';
      const res = await this.http.request('GET', `${type.cfg.endpoint}?${queryString(params)}`, { retry: 'safe' });
      if (res.status === 200) {
        // Checked here too: a server that ignores a filter it cannot apply answers with everything.
        const wanted = String(value).toLowerCase();
        const found = resourcesOf(res.body).filter(
          (r) => typeof r.id === 'string' && (flatten(r, type.flatten)[name] ?? []).some((v) => !isReference(v) && String(v).toLowerCase() === wanted),
        );
        if (!type.isGroup) return found;
        return this.complete(type, found);
      }
      if (res.status !== 400 && res.status !== 403 && res.status !== 501) throw responseError(res, `looking up ${name}`);
      // The server cannot filter on this attribute: find it in a listing instead.
      this.unfilterable.add(key);
      this.log.info('the server cannot filter on this attribute; matching by listing', { connector: this.connector, attribute: name });
    }
    const index = await this.index(type, name);
    const ids = index.get(String(value).toLowerCase()) ?? [];
    const out: ScimResource[] = [];
    for (const id of ids) {
      const r = await this.get(type, id);
      if (r) out.push(r);
    }
    return out;
  }

  /** Records an object this call created, so a listing-based match sees it without listing again. */
  remember(type: TypeInfo, id: string, attributes: Record<string, Value[]>): void {
    for (const [key, index] of this.indexes) {
      const [typeName, name] = key.split('\u0000') as [string, string];
      if (typeName !== type.name) continue;
      for (const v of attributes[name] ?? []) {
        if (isReference(v)) continue;
        const k = String(v).toLowerCase();
        index.set(k, [...(index.get(k) ?? []), id]);
      }
    }
  }

  async get(type: TypeInfo, id: string): Promise<(ScimResource & { etag?: string }) | null> {
    const res = await this.http.request('GET', this.resourcePath(type, id), { retry: 'safe' });
    if (res.status === 404) return null;
    if (res.status !== 200 || !res.body || typeof res.body !== 'object') throw responseError(res, `reading ${type.name} ${id}`);
    return res.etag ? { ...res.body, etag: res.etag } : res.body;
  }

  /** Groups listed without members get them read one group at a time (SCIM has no paging of members). */
  async complete(type: TypeInfo, resources: ScimResource[]): Promise<ScimResource[]> {
    if (!type.isGroup) return resources;
    return Promise.all(
      resources.map(async (r) => {
        if (Array.isArray(r.members)) return r;
        const res = await this.http.request('GET', `${this.resourcePath(type, String(r.id))}?attributes=members`, { retry: 'safe' });
        if (res.status === 404) return r;
        if (res.status !== 200) throw responseError(res, `reading the members of group ${r.id}`);
        return { ...r, members: Array.isArray(res.body?.members) ? res.body.members : [] };
      }),
    );
  }

  /** Lists every resource of a type, page by page (startIndex/count, or RFC 9865 cursors where offered). */
  async *list(
    type: TypeInfo,
    options: {
      filter?: string;
      pageSize: number;
      withMembers: boolean;
      attributes?: string[];
      /** sort by this attribute where the server can sort (ignored where it cannot) */
      sortBy?: string;
      /** told each page's totalResults, to notice a listing that changed while it was read */
      onTotal?: (total: number) => void;
      signal?: AbortSignal;
    },
  ): AsyncIterable<ScimResource[]> {
    const d = await this.discovered();
    const count = Math.max(1, Math.min(options.pageSize, d.features.filter.maxResults));
    const base: Record<string, string> = {};
    if (options.filter) base.filter = options.filter;
    if (options.attributes) base.attributes = options.attributes.join(',');
    else if (type.isGroup && !options.withMembers) base.excludedAttributes = 'members';
    if (options.sortBy && d.features.sort) {
      base.sortBy = options.sortBy;
      base.sortOrder = 'ascending';
    }
    let cursor: string | null = d.features.cursor ? '' : null;
    let startIndex = 1;
    for (;;) {
      options.signal?.throwIfAborted();
      // RFC 9865: the first page is asked for with a bare `cursor`.
      const paging: Record<string, string | null> = cursor === null ? { startIndex: String(startIndex) } : { cursor: cursor === '' ? null : cursor };
      const query = queryString({ ...base, ...paging, count: String(count) });
      const res = await this.http.request('GET', `${type.cfg.endpoint}?${query}`, { retry: 'safe', ...(options.signal ? { signal: options.signal } : {}) });
      if (res.status !== 200) throw responseError(res, `listing ${type.cfg.endpoint}`);
      const resources = resourcesOf(res.body);
      const total = Number(res.body?.totalResults);
      // told before the page is handed over: a caller may stop reading once it knows the size
      if (cursor === null && Number.isFinite(total)) options.onTotal?.(total);
      if (resources.length > 0) yield resources;
      if (cursor !== null) {
        const next = res.body?.nextCursor;
        if (typeof next !== 'string' || next === '' || resources.length === 0) return;
        cursor = next;
        continue;
      }
      startIndex += resources.length;
      if (resources.length === 0) return;
      if (Number.isFinite(total) ? startIndex > total : resources.length < count) return;
    }
  }

  /**
   * How many resources of `type` the filter selects, and the newest `meta.lastModified` among them: one
   * request (count=1, newest first). Undefined where the server cannot sort (then the newest is not known).
   */
  async newest(type: TypeInfo, filter: string): Promise<{ total: number; newest: string | null } | undefined> {
    const d = await this.discovered();
    if (!d.features.sort) return undefined;
    const params: Record<string, string> = { filter, sortBy: 'meta.lastModified', sortOrder: 'descending', count: '1', attributes: 'meta.lastModified' };
    const res = await this.http.request('GET', `${type.cfg.endpoint}?${queryString(params)}`, { retry: 'safe' });
    if (res.status !== 200) throw responseError(res, `counting ${type.cfg.endpoint}`);
    const total = Number(res.body?.totalResults);
    if (!Number.isInteger(total)) return undefined;
    const modified = resourcesOf(res.body)[0]?.meta?.lastModified;
    if (total > 0 && typeof modified !== 'string') return undefined;
    return { total, newest: typeof modified === 'string' ? modified : null };
  }

  private async index(type: TypeInfo, name: string): Promise<Map<string, string[]>> {
    const key = `${type.name}\u0000${name}`;
    let index = this.indexes.get(key);
    if (index) return index;
    index = new Map();
    const path = parsePath(name)!;
    const top = path.urn ? path.urn : path.attr;
    for await (const page of this.list(type, { pageSize: 1000, withMembers: false, attributes: ['id', top] })) {
      for (const r of page) {
        const flat = flatten(r, type.flatten);
        for (const v of flat[name] ?? []) {
          const k = String(v).toLowerCase();
          index.set(k, [...(index.get(k) ?? []), String(r.id)]);
        }
      }
    }
    if (this.indexes.size === 0) this.indexedAt = Date.now();
    this.indexes.set(key, index);
    return index;
  }
}

/** A query string with spaces as %20 (some servers do not read `+` as a space in a filter). */
function queryString(params: Record<string, string | null>): string {
  return Object.entries(params)
    .map(([k, v]) => (v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
    .join('&');
}

export function resourcesOf(body: any): ScimResource[] {
  return body && Array.isArray(body.Resources) ? (body.Resources as ScimResource[]) : [];
}

/** An unexpected answer or a transport failure, as a ConnectorError naming the connector. */
export function responseError(res: ScimResponse, what: string): TransportError {
  const status = res.status;
  const retryable = status >= 500 || status === 429 || status === 408;
  const code = status === 401 || status === 403 ? 'SCIM_UNAUTHORIZED' : status === 404 ? 'SCIM_NOT_FOUND' : retryable ? 'SCIM_SERVER_ERROR' : 'SCIM_REQUEST_REFUSED';
  return new TransportError(code, `${what}: HTTP ${status}${scimDetail(res.body)}`, retryable, false, status);
}

export function asConnectorError(connector: string, err: unknown, what: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof TransportError) {
    // refused credentials are the connection's failure, not an object's
    const connection = err.code === 'SCIM_UNAUTHORIZED';
    return new ConnectorError(err.code, `${what}: ${err.message}`, { connector }, err.retryable, { ...(err.status !== undefined && { remoteCode: err.status }), connection });
  }
  return new ConnectorError('SCIM_FAILED', `${what}: ${(err as Error).message}`, { connector }, true, { cause: err, connection: isConnectionFailure(err) });
}
