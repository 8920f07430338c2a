/**
 * A small SCIM 2.0 service provider for tests (and the benchmark), on node:http with an in-memory store:
 * RFC 7644 listing (startIndex/count, cursors), filters (eq ne co sw ew gt ge lt le pr, and/or/not,
 * value paths), PATCH (add/replace/remove with paths, filters and value objects), PUT, DELETE, Bulk, ETags,
 * uniqueness of userName. Capabilities can be switched off, and faults injected per request: a status with
 * Retry-After, a delay past the client's timeout, a connection dropped after the write was applied.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as TlsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CORE_SCHEMAS } from '../../../src/connectors/scim/discovery.js';

export interface ServerOptions {
  patch?: boolean;
  bulk?: boolean;
  filter?: boolean;
  etag?: boolean;
  cursor?: boolean;
  /** claims filter support but answers every listing unfiltered (a server bug seen in the wild) */
  ignoreFilter?: boolean;
  /** sortBy/sortOrder on listings */
  sort?: boolean;
  /** answer /ServiceProviderConfig, /Schemas, /ResourceTypes (false: 404, as some servers do) */
  discovery?: boolean;
  /** meta.lastModified to the second (default), so several objects share a timestamp */
  secondPrecision?: boolean;
  /** required bearer token; absent: no authentication */
  token?: string;
  maxResults?: number;
  /** Bulk limits advertised and enforced (413 beyond them); default 100 operations, 4 MiB */
  bulkMaxOperations?: number;
  bulkMaxPayloadSize?: number;
  fault?: (request: RequestInfo) => Fault | undefined;
}

export interface RequestInfo {
  method: string;
  path: string;
  /** requests so far, this one included */
  count: number;
  body: any;
  /** the Authorization header as received */
  authorization?: string;
}

export type Fault =
  /** `detail`: the error body's detail (default "injected fault") */
  | { kind: 'status'; status: number; retryAfter?: string; detail?: string }
  | { kind: 'drop-before' }
  /** the request is applied, then the connection is destroyed without an answer */
  | { kind: 'drop-after' }
  /** the request is applied, and the answer sent only after this delay */
  | { kind: 'delay'; ms: number };

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  body: any;
}

type Resource = Record<string, any> & { id: string; meta: { resourceType: string; created: string; lastModified: string; version: string; location: string } };

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const INDEXED = ['username', 'externalid', 'displayname', 'emails'];
const MULTI = new Set(['emails', 'phonenumbers', 'ims', 'photos', 'addresses', 'entitlements', 'roles', 'x509certificates', 'members', 'groups']);

class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class TestScimServer {
  readonly users = new Map<string, Resource>();
  readonly groups = new Map<string, Resource>();
  readonly log: RequestRecord[] = [];
  private server: Server | null = null;
  private count = 0;
  private version = 0;
  url = '';
  /** keep the request log (off for the benchmark: 100,000 entries of bodies) */
  keepLog = true;
  /** every request and every write request (anything but GET), log or not */
  readonly counts = { requests: 0, writes: 0 };

  constructor(public options: ServerOptions = {}) {}

  async start(port = 0, tls?: TlsOptions): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = tls ? createTlsServer(tls, handler) : createServer(handler);
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const { port: p } = this.server.address() as AddressInfo;
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${p}/scim/v2`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Write requests (anything but GET) since the log was last cleared. */
  writes(): RequestRecord[] {
    return this.log.filter((r) => r.method !== 'GET');
  }

  clearLog(): void {
    this.log.length = 0;
  }

  userByName(userName: string): Resource | undefined {
    const id = this.index.get('username')?.get(`User:${userName.toLowerCase()}`)?.values().next().value;
    return id ? this.users.get(id) : undefined;
  }

  /** userName, externalId, displayName → ids: uniqueness and equality filters without a scan (100,000 users). */
  private readonly index = new Map<string, Map<string, Set<string>>>(INDEXED.map((a) => [a, new Map()]));

  private put(kind: 'User' | 'Group', r: Resource): void {
    const store = kind === 'User' ? this.users : this.groups;
    const before = store.get(r.id);
    if (before) this.unindex(kind, before);
    store.set(r.id, r);
    for (const attr of INDEXED) {
      for (const v of indexValues(kind, attr, r)) {
        const byValue = this.index.get(attr)!;
        const ids = byValue.get(v);
        if (ids) ids.add(r.id);
        else byValue.set(v, new Set([r.id]));
      }
    }
  }

  private unindex(kind: 'User' | 'Group', r: Resource): void {
    for (const attr of INDEXED) for (const v of indexValues(kind, attr, r)) this.index.get(attr)!.get(v)?.delete(r.id);
  }

  private drop(kind: 'User' | 'Group', id: string): void {
    const store = kind === 'User' ? this.users : this.groups;
    const r = store.get(id);
    if (r) this.unindex(kind, r);
    store.delete(id);
  }

  groupByName(displayName: string): Resource | undefined {
    for (const g of this.groups.values()) if (g.displayName === displayName) return g;
    return undefined;
  }

  // ---- the HTTP layer ------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/scim\/v2/, '');
    const method = req.method ?? 'GET';
    let body: any = null;
    const info: RequestInfo = {
      method,
      path: path + url.search,
      count: ++this.count,
      body: null,
      ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }),
    };
    this.counts.requests++;
    if (method !== 'GET') this.counts.writes++;
    const record = (status: number) => {
      if (this.keepLog) this.log.push({ method, path: info.path, status, body });
    };
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      record(400);
      return send(res, 400, error(400, 'invalidSyntax', 'the body is not JSON'));
    }
    info.body = body;
    const fault = this.options.fault?.(info);
    if (fault?.kind === 'status') {
      record(fault.status);
      const headers: Record<string, string> = fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
      return send(res, fault.status, error(fault.status, undefined, fault.detail ?? 'injected fault'), headers);
    }
    if (fault?.kind === 'drop-before') {
      record(0);
      req.socket.destroy();
      return;
    }
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}` && req.headers.authorization !== this.options.token) {
      record(401);
      return send(res, 401, error(401, undefined, 'authentication required'));
    }
    let status = 500;
    let out: unknown;
    let headers: Record<string, string> = {};
    try {
      ({ status, body: out, headers = {} } = this.route(method, path, url.searchParams, body, req.headers));
    } catch (err) {
      if (err instanceof ScimError) {
        status = err.status;
        out = error(err.status, err.scimType, err.message);
      } else {
        status = 500;
        out = error(500, undefined, (err as Error).message);
      }
    }
    record(status);
    if (fault?.kind === 'drop-after') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (res.destroyed) return;
    send(res, status, out, headers);
  }

  private route(method: string, path: string, query: URLSearchParams, body: any, headers: IncomingMessage['headers']): { status: number; body?: unknown; headers?: Record<string, string> } {
    const o = this.options;
    if (path === '/ServiceProviderConfig' || path === '/Schemas' || path === '/ResourceTypes') {
      if (o.discovery === false || method !== 'GET') throw new ScimError(404, undefined, 'not found');
      if (path === '/ServiceProviderConfig') return { status: 200, body: this.spc() };
      if (path === '/Schemas') return { status: 200, body: listResponse(CORE_SCHEMAS.map((s) => ({ ...s, schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'] })), 1, CORE_SCHEMAS.length) };
      return {
        status: 200,
        body: listResponse(
          [
            { id: 'User', name: 'User', endpoint: '/Users', schema: USER, schemaExtensions: [{ schema: ENTERPRISE, required: false }] },
            { id: 'Group', name: 'Group', endpoint: '/Groups', schema: GROUP },
          ],
          1,
          2,
        ),
      };
    }
    if (path === '/Bulk' && method === 'POST') {
      if (!o.bulk) throw new ScimError(501, undefined, 'bulk is not supported');
      if (Buffer.byteLength(JSON.stringify(body)) > (o.bulkMaxPayloadSize ?? 4_194_304)) throw new ScimError(413, undefined, 'the Bulk request is larger than maxPayloadSize');
      if (Array.isArray(body?.Operations) && body.Operations.length > (o.bulkMaxOperations ?? 100)) throw new ScimError(413, undefined, 'the Bulk request has more than maxOperations operations');
      return { status: 200, body: this.bulk(body) };
    }
    const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new ScimError(404, undefined, `no endpoint ${path}`);
    const kind = m[1] === 'Users' ? 'User' : 'Group';
    const store = kind === 'User' ? this.users : this.groups;
    const id = m[2] ? decodeURIComponent(m[2]) : undefined;
    if (!id) {
      if (method === 'GET') return { status: 200, body: this.list(store, query) };
      if (method === 'POST') {
        const created = this.create(kind, body);
        return { status: 201, body: created, headers: this.etagHeader(created, true) };
      }
      throw new ScimError(405, undefined, 'method not allowed');
    }
    const current = store.get(id);
    if (!current) throw new ScimError(404, undefined, `${kind} ${id} not found`);
    if (method === 'GET') return { status: 200, body: project(current, query), headers: this.etagHeader(current) };
    const ifMatch = headers['if-match'];
    if (o.etag && typeof ifMatch === 'string' && ifMatch !== '*' && ifMatch !== current.meta.version) {
      throw new ScimError(412, undefined, 'the resource changed (ETag mismatch)');
    }
    if (method === 'DELETE') {
      this.drop(kind, id);
      if (kind === 'User') for (const g of this.groups.values()) this.dropMember(g, id);
      return { status: 204 };
    }
    if (method === 'PUT') {
      const replaced = this.validate(kind, { ...body, id, meta: current.meta }, id);
      this.touch(replaced);
      this.put(kind, replaced);
      return { status: 200, body: replaced, headers: this.etagHeader(replaced) };
    }
    if (method === 'PATCH') {
      if (o.patch === false) throw new ScimError(501, undefined, 'PATCH is not supported');
      const patched = this.patch(kind, current, body);
      return patched ? { status: 200, body: patched, headers: this.etagHeader(patched) } : { status: 204 };
    }
    throw new ScimError(405, undefined, 'method not allowed');
  }

  private spc() {
    const o = this.options;
    return {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: o.patch !== false },
      bulk: { supported: Boolean(o.bulk), maxOperations: o.bulkMaxOperations ?? 100, maxPayloadSize: o.bulkMaxPayloadSize ?? 4_194_304 },
      filter: { supported: o.filter !== false, maxResults: o.maxResults ?? 1000 },
      changePassword: { supported: false },
      sort: { supported: Boolean(o.sort) },
      etag: { supported: Boolean(o.etag) },
      authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token', description: 'bearer token' }],
      ...(o.cursor ? { pagination: { cursor: true, index: true, defaultPaginationMethod: 'index', defaultPageSize: 100, maxPageSize: 1000, cursorTimeout: 3600 } } : {}),
    };
  }

  private etagHeader(r: Resource, created = false): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.options.etag) h.etag = r.meta.version;
    if (created) h.location = r.meta.location;
    return h;
  }

  private now(): string {
    const t = Date.now();
    return new Date(this.options.secondPrecision === false ? t : Math.floor(t / 1000) * 1000).toISOString();
  }

  private touch(r: Resource): void {
    r.meta = { ...r.meta, lastModified: this.now(), version: `W/"${++this.version}"` };
  }

  // ---- resources -------------------------------------------------------------------------------------------

  private create(kind: 'User' | 'Group', body: any): Resource {
    if (!body || typeof body !== 'object') throw new ScimError(400, 'invalidSyntax', 'a resource object is required');
    const id = randomUUID();
    const now = this.now();
    const resource = this.validate(kind, { ...body, id, meta: { resourceType: kind, created: now, lastModified: now, version: `W/"${++this.version}"`, location: `${this.url}/${kind}s/${id}` } }, id);
    this.put(kind, resource);
    return resource;
  }

  /** Checks a whole resource as it would be stored; throws a SCIM error for bad input. */
  private validate(kind: 'User' | 'Group', r: any, id: string): Resource {
    delete r.groups;
    if (kind === 'User') {
      if (typeof r.userName !== 'string' || r.userName.trim() === '') throw new ScimError(400, 'invalidValue', 'userName is required');
      const other = this.userByName(r.userName);
      if (other && other.id !== id) throw new ScimError(409, 'uniqueness', `userName ${r.userName} is taken`);
      if (typeof r.active === 'string') r.active = r.active.toLowerCase() === 'true';
    } else {
      if (typeof r.displayName !== 'string' || r.displayName === '') throw new ScimError(400, 'invalidValue', 'displayName is required');
      const members = Array.isArray(r.members) ? r.members : [];
      const seen = new Set<string>();
      r.members = [];
      for (const m of members) {
        if (!m || typeof m.value !== 'string') throw new ScimError(400, 'invalidValue', 'a member needs a value');
        if (!this.users.has(m.value) && !this.groups.has(m.value)) throw new ScimError(400, 'invalidValue', `member ${m.value} does not exist`);
        if (seen.has(m.value)) continue;
        seen.add(m.value);
        r.members.push({ value: m.value });
      }
    }
    return r as Resource;
  }

  private dropMember(group: Resource, id: string): void {
    const members = group.members as { value: string }[] | undefined;
    if (!members?.some((m) => m.value === id)) return;
    group.members = members.filter((m) => m.value !== id);
    this.touch(group);
  }

  /** Ids that may match: from the indexes when every branch of the filter pins an indexed attribute; else undefined (scan). */
  private candidates(kind: string, f: Filter): Set<string> | undefined {
    if (f.kind === 'or') {
      const left = this.candidates(kind, f.left);
      const right = left && this.candidates(kind, f.right);
      return left && right ? new Set([...left, ...right]) : undefined;
    }
    if (f.kind === 'and') return this.candidates(kind, f.left) ?? this.candidates(kind, f.right);
    const eq = indexedEquality(f);
    if (!eq) return undefined;
    return this.index.get(eq.attr)!.get(`${kind}:${eq.value.toLowerCase()}`) ?? new Set();
  }

  private list(store: Map<string, Resource>, query: URLSearchParams) {
    const filterText = this.options.ignoreFilter ? null : query.get('filter');
    let all: Resource[];
    if (filterText) {
      if (this.options.filter === false) throw new ScimError(400, 'invalidFilter', 'filtering is not supported');
      const f = parseFilter(filterText);
      const kind = store === this.users ? 'User' : 'Group';
      const ids = this.candidates(kind, f);
      if (ids) {
        all = [...ids].map((id) => store.get(id)!).filter((r) => r && evaluate(f, r));
      } else {
        all = [...store.values()].filter((r) => evaluate(f, r));
      }
    } else {
      all = [...store.values()];
    }
    const sortBy = query.get('sortBy');
    if (sortBy && this.options.sort) {
      const key = (r: Resource) => String(valuesAt(r, sortBy)[0] ?? '');
      const descending = query.get('sortOrder') === 'descending';
      all = [...all].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (descending ? -1 : 1));
    }
    const max = this.options.maxResults ?? 1000;
    const count = Math.min(Math.max(0, Number(query.get('count') ?? max) || 0), max);
    if (this.options.cursor && query.has('cursor')) {
      const start = query.get('cursor') ? Number(Buffer.from(query.get('cursor')!, 'base64url').toString()) : 0;
      const page = all.slice(start, start + count).map((r) => project(r, query));
      const next = start + count < all.length ? Buffer.from(String(start + count)).toString('base64url') : undefined;
      return { ...listResponse(page, undefined, all.length), ...(next ? { nextCursor: next } : {}) };
    }
    const startIndex = Math.max(1, Number(query.get('startIndex') ?? 1) || 1);
    const page = all.slice(startIndex - 1, startIndex - 1 + count).map((r) => project(r, query));
    return listResponse(page, startIndex, all.length);
  }

  // ---- PATCH (RFC 7644 section 3.5.2) -----------------------------------------------------------------------

  private patch(kind: 'User' | 'Group', current: Resource, body: any): Resource {
    if (!body || !Array.isArray(body.Operations)) throw new ScimError(400, 'invalidSyntax', 'Operations is required');
    const r = structuredClone(current) as Resource;
    for (const op of body.Operations) {
      const name = String(op?.op ?? '').toLowerCase();
      if (name !== 'add' && name !== 'replace' && name !== 'remove') throw new ScimError(400, 'invalidSyntax', `unknown op ${op?.op}`);
      if (op.path === undefined || op.path === null || op.path === '') {
        if (name === 'remove') throw new ScimError(400, 'noTarget', 'remove needs a path');
        if (!op.value || typeof op.value !== 'object') throw new ScimError(400, 'invalidValue', 'a value object is required');
        for (const [k, v] of Object.entries(op.value)) {
          if (/^urn:/i.test(k) && v && typeof v === 'object' && !Array.isArray(v)) {
            for (const [ek, ev] of Object.entries(v)) this.applyPath(r, name, `${k}:${ek}`, ev);
          } else this.applyPath(r, name, k, v);
        }
        continue;
      }
      this.applyPath(r, name, String(op.path), op.value);
    }
    const validated = this.validate(kind, r, r.id);
    if (JSON.stringify(validated) !== JSON.stringify(current)) this.touch(validated);
    this.put(kind, validated);
    return validated;
  }

  private applyPath(r: Resource, op: string, pathText: string, value: any): void {
    const p = parsePath(pathText);
    if (['id', 'meta', 'schemas'].includes(p.attr.toLowerCase()) && !p.urn) throw new ScimError(400, 'mutability', `${p.attr} cannot be changed`);
    let container: Record<string, any> = r;
    if (p.urn) {
      container = r[p.urn] ??= {};
      if (!r.schemas?.includes(p.urn)) r.schemas = [...(r.schemas ?? []), p.urn];
    }
    const key = findKey(container, p.attr);
    const multi = MULTI.has(p.attr.toLowerCase());
    if (p.filter) {
      const list: any[] = Array.isArray(container[key]) ? container[key] : [];
      const matching = list.filter((el) => evaluate(p.filter!, el));
      if (op === 'remove') {
        if (matching.length === 0 && !(value && p.attr === 'members')) throw new ScimError(400, 'noTarget', `${pathText} matches nothing`);
        if (p.sub) for (const el of matching) delete el[findKey(el, p.sub)];
        else container[key] = list.filter((el) => !matching.includes(el));
        return;
      }
      if (matching.length === 0) throw new ScimError(400, 'noTarget', `${pathText} matches nothing`);
      for (const el of matching) {
        if (p.sub) el[findKey(el, p.sub)] = value;
        else Object.assign(el, value);
      }
      return;
    }
    if (op === 'remove') {
      if (multi && Array.isArray(value) && Array.isArray(container[key])) {
        // Entra's form: remove the listed values (path members, value [{value}]).
        const gone = new Set(value.map((v: any) => JSON.stringify(v?.value ?? v)));
        container[key] = container[key].filter((el: any) => !gone.has(JSON.stringify(el?.value ?? el)));
        return;
      }
      if (p.sub) {
        if (container[key] && typeof container[key] === 'object') delete container[key][findKey(container[key], p.sub)];
      } else delete container[key];
      return;
    }
    if (p.sub) {
      if (multi) throw new ScimError(400, 'invalidPath', `${pathText}: a sub-attribute of a multi-valued attribute needs a filter`);
      const complex = container[key] && typeof container[key] === 'object' ? container[key] : {};
      complex[findKey(complex, p.sub)] = value;
      container[key] = complex;
      return;
    }
    if (multi) {
      const values = Array.isArray(value) ? value : [value];
      if (op === 'replace') container[key] = values;
      else {
        const list: any[] = Array.isArray(container[key]) ? container[key] : [];
        for (const v of values) if (!list.some((el) => JSON.stringify(el?.value ?? el) === JSON.stringify(v?.value ?? v))) list.push(v);
        container[key] = list;
      }
      return;
    }
    if (value && typeof value === 'object' && !Array.isArray(value) && container[key] && typeof container[key] === 'object' && op === 'add') {
      Object.assign(container[key], value);
      return;
    }
    container[key] = value;
  }

  // ---- Bulk (RFC 7644 section 3.7) -----------------------------------------------------------------------

  private bulk(body: any) {
    const ops: any[] = Array.isArray(body?.Operations) ? body.Operations : [];
    if (ops.length > 100) throw new ScimError(413, 'tooMany', 'more than 100 operations');
    const results: any[] = [];
    const bulkIds = new Map<string, string>();
    let errors = 0;
    for (const op of ops) {
      const method = String(op.method).toUpperCase();
      const rewritten = JSON.parse(JSON.stringify(op.data ?? null).replace(/"bulkId:([^"]+)"/g, (s, b) => (bulkIds.has(b) ? JSON.stringify(bulkIds.get(b)) : s)));
      try {
        const path = String(op.path);
        const out = this.route(method, path, new URLSearchParams(), rewritten, {});
        const resource = out.body as Resource | undefined;
        if (op.bulkId && resource?.id) bulkIds.set(op.bulkId, resource.id);
        results.push({ method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), ...(resource?.meta ? { location: resource.meta.location, version: resource.meta.version } : {}), status: String(out.status) });
      } catch (err) {
        errors++;
        const e = err instanceof ScimError ? err : new ScimError(500, undefined, (err as Error).message);
        results.push({ method, ...(op.bulkId ? { bulkId: op.bulkId } : {}), status: String(e.status), response: error(e.status, e.scimType, e.message) });
        if (body.failOnErrors && errors >= body.failOnErrors) break;
      }
    }
    return { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkResponse'], Operations: results };
  }
}

/** Index keys carry the kind, so a user and a group with one displayName stay apart. */
function indexValues(kind: string, attr: string, r: Resource): string[] {
  const v = r[findKey(r, attr)];
  if (typeof v === 'string') return [`${kind}:${v.toLowerCase()}`];
  if (Array.isArray(v)) return v.filter((e) => typeof e?.value === 'string').map((e) => `${kind}:${e.value.toLowerCase()}`);
  return [];
}

/** An equality the filter requires, on an indexed attribute: the candidates are read from the index. */
function indexedEquality(f: Filter): { attr: string; value: string } | undefined {
  if (f.kind === 'cmp' && f.op === 'eq' && typeof f.value === 'string' && INDEXED.includes(f.path.toLowerCase())) return { attr: f.path.toLowerCase(), value: f.value };
  if (f.kind === 'and') return indexedEquality(f.left) ?? indexedEquality(f.right);
  if (f.kind === 'valuePath' && INDEXED.includes(f.attr.toLowerCase())) {
    const inner = findValueEq(f.inner);
    if (inner !== undefined) return { attr: f.attr.toLowerCase(), value: inner };
  }
  return undefined;
}

function findValueEq(f: Filter): string | undefined {
  if (f.kind === 'cmp' && f.op === 'eq' && f.path.toLowerCase() === 'value' && typeof f.value === 'string') return f.value;
  if (f.kind === 'and') return findValueEq(f.left) ?? findValueEq(f.right);
  return undefined;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function error(status: number, scimType: string | undefined, detail: string) {
  return { schemas: [ERROR], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

function listResponse(resources: unknown[], startIndex: number | undefined, total: number) {
  return { schemas: [LIST], totalResults: total, itemsPerPage: resources.length, ...(startIndex !== undefined ? { startIndex } : {}), Resources: resources };
}

function project(r: Resource, query: URLSearchParams): Record<string, unknown> {
  const attributes = query.get('attributes');
  const excluded = query.get('excludedAttributes');
  if (attributes) {
    const wanted = attributes.split(',').map((a) => a.trim().split('.')[0]!.toLowerCase());
    const out: Record<string, unknown> = { id: r.id, schemas: r.schemas, meta: r.meta };
    for (const [k, v] of Object.entries(r)) if (wanted.includes(k.toLowerCase())) out[k] = v;
    return out;
  }
  if (excluded) {
    const gone = excluded.split(',').map((a) => a.trim().toLowerCase());
    return Object.fromEntries(Object.entries(r).filter(([k]) => !gone.includes(k.toLowerCase())));
  }
  return r;
}

function findKey(obj: Record<string, unknown>, name: string): string {
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower) ?? name;
}

// ---- paths and filters ----------------------------------------------------------------------------------------

interface Path {
  urn?: string;
  attr: string;
  filter?: Filter;
  sub?: string;
}

function parsePath(text: string): Path {
  let rest = text;
  let urn: string | undefined;
  if (/^urn:/i.test(text)) {
    const bracket = text.indexOf('[');
    const head = bracket === -1 ? text : text.slice(0, bracket);
    const colon = head.lastIndexOf(':');
    urn = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  const m = /^([A-Za-z$][\w$-]*)(?:\[(.*)\])?(?:\.([A-Za-z$][\w$-]*))?$/.exec(rest);
  if (!m) throw new ScimError(400, 'invalidPath', `cannot parse the path ${text}`);
  return { ...(urn ? { urn } : {}), attr: m[1]!, ...(m[2] ? { filter: parseFilter(m[2]) } : {}), ...(m[3] ? { sub: m[3] } : {}) };
}

type Filter =
  | { kind: 'and' | 'or'; left: Filter; right: Filter }
  | { kind: 'not'; inner: Filter }
  | { kind: 'cmp'; path: string; op: string; value: unknown }
  | { kind: 'pr'; path: string }
  | { kind: 'valuePath'; attr: string; inner: Filter };

export function parseFilter(text: string): Filter {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|\(|\)|\[|\]|[^\s()[\]]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const fail = (): never => {
    throw new ScimError(400, 'invalidFilter', `cannot parse the filter ${text}`);
  };
  const expr = (): Filter => {
    let left = term();
    while (peek()?.toLowerCase() === 'or') {
      i++;
      left = { kind: 'or', left, right: term() };
    }
    return left;
  };
  const term = (): Filter => {
    let left = factor();
    while (peek()?.toLowerCase() === 'and') {
      i++;
      left = { kind: 'and', left, right: factor() };
    }
    return left;
  };
  const factor = (): Filter => {
    const t = tokens[i++] ?? fail();
    if (t === '(') {
      const inner = expr();
      if (tokens[i++] !== ')') fail();
      return inner;
    }
    if (t.toLowerCase() === 'not') {
      if (tokens[i++] !== '(') fail();
      const inner = expr();
      if (tokens[i++] !== ')') fail();
      return { kind: 'not', inner };
    }
    if (peek() === '[') {
      i++;
      const inner = expr();
      if (tokens[i++] !== ']') fail();
      return { kind: 'valuePath', attr: t, inner };
    }
    const op = (tokens[i++] ?? fail()).toLowerCase();
    if (op === 'pr') return { kind: 'pr', path: t };
    if (!['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'].includes(op)) fail();
    const raw = tokens[i++] ?? fail();
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      fail();
    }
    return { kind: 'cmp', path: t, op, value };
  };
  const f = expr();
  if (i !== tokens.length) fail();
  return f;
}

function valuesAt(r: any, path: string): unknown[] {
  let obj = r;
  let rest = path;
  if (/^urn:/i.test(path)) {
    const colon = path.lastIndexOf(':');
    obj = r?.[path.slice(0, colon)];
    rest = path.slice(colon + 1);
  }
  let current: unknown[] = [obj];
  for (const part of rest.split('.')) {
    const next: unknown[] = [];
    for (const c of current) {
      if (c === null || typeof c !== 'object') continue;
      const v = (c as Record<string, unknown>)[findKey(c as Record<string, unknown>, part)];
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined) next.push(v);
    }
    current = next;
  }
  // A multi-valued attribute of complex values compares by its `value` sub-attribute.
  return current.map((v) => (v && typeof v === 'object' && 'value' in (v as object) ? (v as { value: unknown }).value : v));
}

function evaluate(f: Filter, r: any): boolean {
  switch (f.kind) {
    case 'and':
      return evaluate(f.left, r) && evaluate(f.right, r);
    case 'or':
      return evaluate(f.left, r) || evaluate(f.right, r);
    case 'not':
      return !evaluate(f.inner, r);
    case 'pr':
      return valuesAt(r, f.path).some((v) => v !== null && v !== '' && !(Array.isArray(v) && v.length === 0));
    case 'valuePath': {
      const list = r?.[findKey(r ?? {}, f.attr)];
      return Array.isArray(list) && list.some((el) => evaluate(f.inner, el));
    }
    case 'cmp':
      return valuesAt(r, f.path).some((v) => compare(v, f.op, f.value, f.path));
  }
}

function compare(actual: unknown, op: string, wanted: unknown, path: string): boolean {
  if (/lastmodified|created/i.test(path) && typeof actual === 'string' && typeof wanted === 'string') {
    const a = Date.parse(actual);
    const b = Date.parse(wanted);
    return op === 'gt' ? a > b : op === 'ge' ? a >= b : op === 'lt' ? a < b : op === 'le' ? a <= b : op === 'eq' ? a === b : a !== b;
  }
  const norm = (x: unknown) => (typeof x === 'string' ? x.toLowerCase() : x);
  const a = norm(actual) as any;
  const b = norm(wanted) as any;
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'co':
      return typeof a === 'string' && a.includes(b);
    case 'sw':
      return typeof a === 'string' && a.startsWith(b);
    case 'ew':
      return typeof a === 'string' && a.endsWith(b);
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
  }
  return false;
}
