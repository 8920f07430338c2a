/**
 * A Microsoft Graph v1.0 emulator for the `entra` connector's tests: a real HTTP server on loopback that
 * behaves as Microsoft's published documentation says Graph and the identity platform behave. Each
 * behaviour names the page it follows (learn.microsoft.com; sources in microsoftgraph/microsoft-graph-docs-contrib
 * and MicrosoftDocs/entra-docs) and answers with the shapes of that page's example responses.
 *
 * What it is not: Graph. It keeps users and groups in memory, understands the queries the connector sends
 * (and a few more), and has knobs the tests turn: throttling, a read-after-write delay, expired delta
 * tokens, a create whose answer is lost. Counters prove that a behaviour fired.
 */
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importX509, jwtVerify, decodeProtectedHeader } from 'jose';

type Json = Record<string, unknown>;

export interface EmulatorOptions {
  tenantId?: string;
  /** client id → secret, and/or the PEM of the certificate registered for the app */
  clients?: Record<string, { secret?: string; certPem?: string }>;
  /** seconds an access token lives (expires_in) */
  tokenLifetime?: number;
  /** an object created (or restored) is not readable, filterable, listable or referenceable this long */
  readAfterWriteMs?: number;
  /** requests per second per tenant before 429 (a token bucket); 0: none */
  rateLimit?: number;
  /** Retry-After seconds sent with a rate-limit 429 */
  retryAfter?: number;
  /** objects per page of a delta round (Graph chooses; small here to exercise nextLink) */
  deltaPageSize?: number;
  /** default page size of lists without $top (Graph: 100) */
  defaultPageSize?: number;
  /** app ids whose directory extensions exist, with their names: extension_<appId>_<name> */
  extensions?: string[];
}

export interface Counters {
  requests: number;
  graphRequests: number;
  writes: number;
  tokenRequests: number;
  tokensRefused: number;
  unauthorized: number;
  throttled: number;
  /** reads that did not see an object because it was younger than readAfterWriteMs */
  hiddenReads: number;
  batches: number;
  batchedRequests: number;
  creates: number;
  restores: number;
  droppedResponses: number;
  deltaGone: number;
}

interface DirObject {
  id: string;
  kind: 'user' | 'group';
  props: Json;
  manager?: string;
  members?: Set<string>;
  visibleAt: number;
  /** change sequence of the last property change, and of the last reference change */
  seq: number;
  refSeq: number;
  deletedAt?: string;
  /** hard-deleted: gone from deletedItems too */
  purged?: boolean;
}

interface MemberChange {
  group: string;
  member: string;
  added: boolean;
  seq: number;
}

interface Ctx {
  method: string;
  url: URL;
  path: string[];
  headers: Record<string, string>;
  body: unknown;
  /** inside a $batch */
  batched: boolean;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** destroy the connection instead of answering (after applying the request) */
  drop?: boolean;
}

const USER_TYPE = '#microsoft.graph.user';
const GROUP_TYPE = '#microsoft.graph.group';

/** Properties Graph lets an application write on users (https://learn.microsoft.com/graph/api/user-update). */
const USER_WRITABLE = new Set([
  'accountEnabled', 'userPrincipalName', 'displayName', 'givenName', 'surname', 'mail', 'mailNickname', 'otherMails', 'jobTitle',
  'department', 'companyName', 'employeeId', 'employeeType', 'employeeHireDate', 'officeLocation', 'businessPhones', 'mobilePhone',
  'faxNumber', 'streetAddress', 'city', 'state', 'postalCode', 'country', 'usageLocation', 'preferredLanguage', 'userType',
  'onPremisesImmutableId', 'onPremisesExtensionAttributes', 'passwordProfile', 'passwordPolicies', 'ageGroup',
]);
/** Read-only on users through Graph (https://learn.microsoft.com/graph/api/resources/user: "Read-only"). */
const USER_READONLY = new Set([
  'proxyAddresses', 'onPremisesSamAccountName', 'onPremisesSecurityIdentifier', 'onPremisesDistinguishedName', 'onPremisesDomainName',
  'onPremisesUserPrincipalName', 'onPremisesSyncEnabled', 'createdDateTime', 'id', 'deletedDateTime',
]);
/** https://learn.microsoft.com/graph/api/group-update */
const GROUP_WRITABLE = new Set(['displayName', 'description', 'mailNickname', 'mailEnabled', 'securityEnabled', 'groupTypes', 'visibility']);
const GROUP_READONLY = new Set(['mail', 'proxyAddresses', 'onPremisesSamAccountName', 'onPremisesSecurityIdentifier', 'onPremisesSyncEnabled', 'createdDateTime', 'id']);
/** user properties returned when no $select is given (https://learn.microsoft.com/graph/api/user-list) */
const USER_DEFAULT_SELECT = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];

export class GraphEmulator {
  readonly options: Required<Omit<EmulatorOptions, 'clients'>> & { clients: Record<string, { secret?: string; certPem?: string }> };
  readonly counters: Counters = {
    requests: 0, graphRequests: 0, writes: 0, tokenRequests: 0, tokensRefused: 0, unauthorized: 0, throttled: 0, hiddenReads: 0,
    batches: 0, batchedRequests: 0, creates: 0, restores: 0, droppedResponses: 0, deltaGone: 0,
  };
  /** every Graph request (method and path, no query), batched ones included */
  readonly log: { method: string; path: string; batched: boolean }[] = [];
  /** token request form fields seen (client_assertion and secrets included: tests check what was sent) */
  readonly tokenForms: Record<string, string>[] = [];
  private server: Server | null = null;
  private readonly objects = new Map<string, DirObject>();
  private readonly memberChanges: MemberChange[] = [];
  private seq = 0;
  private epoch = 1;
  private readonly tokens = new Map<string, number>();
  private bucket: { tokens: number; at: number } | null = null;
  private forced: { status: 429 | 503; retryAfter: number; remaining: number; paths?: RegExp } | null = null;
  private dropCreates = 0;
  url = '';

  constructor(options: EmulatorOptions = {}) {
    this.options = {
      tenantId: options.tenantId ?? 'contoso.onmicrosoft.com',
      clients: options.clients ?? { 'app-1': { secret: 'emulator-secret-value' } },
      tokenLifetime: options.tokenLifetime ?? 3599,
      readAfterWriteMs: options.readAfterWriteMs ?? 0,
      rateLimit: options.rateLimit ?? 0,
      retryAfter: options.retryAfter ?? 1,
      deltaPageSize: options.deltaPageSize ?? 50,
      defaultPageSize: options.defaultPageSize ?? 100,
      extensions: options.extensions ?? [],
    };
  }

  get graphBase(): string {
    return `${this.url}/v1.0`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(graphError('generalException', String((err as Error).message))));
        }
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- knobs ------------------------------------------------------------------------------------------------

  /** The next `count` Graph requests (matching `paths`) are answered 429 or 503 with Retry-After. */
  throttleNext(count: number, options: { status?: 429 | 503; retryAfter?: number; paths?: RegExp } = {}): void {
    this.forced = { status: options.status ?? 429, retryAfter: options.retryAfter ?? 1, remaining: count, ...(options.paths ? { paths: options.paths } : {}) };
  }

  /** The next `count` creates (POST /users, /groups) are applied, then the connection drops unanswered. */
  dropCreateResponses(count: number): void {
    this.dropCreates = count;
  }

  /** Every delta token issued so far is invalid: the next use answers 410 Gone (a synchronization reset). */
  resetDeltaTokens(): void {
    this.epoch++;
  }

  /** Every access token issued so far is invalid (as after a revocation or expiry). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  // ---- direct access for tests (what an administrator does in the portal) -----------------------------------

  users(): Json[] {
    return [...this.objects.values()].filter((o) => o.kind === 'user' && !o.deletedAt).map((o) => this.view(o));
  }

  groups(): Json[] {
    return [...this.objects.values()].filter((o) => o.kind === 'group' && !o.deletedAt).map((o) => this.view(o));
  }

  deletedUsers(): Json[] {
    return [...this.objects.values()].filter((o) => o.kind === 'user' && o.deletedAt && !o.purged).map((o) => this.view(o));
  }

  object(id: string): Json | undefined {
    const o = this.objects.get(id);
    return o ? this.view(o) : undefined;
  }

  membersOf(id: string): string[] {
    return [...(this.objects.get(id)?.members ?? [])];
  }

  managerOf(id: string): string | undefined {
    return this.objects.get(id)?.manager;
  }

  /** Adds a user as someone else would (visible at once unless `hidden`). */
  addUser(props: Json, options: { hidden?: boolean } = {}): string {
    const o = this.insert('user', { accountEnabled: true, ...props }, options.hidden ? Date.now() + this.options.readAfterWriteMs : 0);
    return o.id;
  }

  addGroup(props: Json, members: string[] = []): string {
    const o = this.insert('group', { mailEnabled: false, securityEnabled: true, groupTypes: [], ...props }, 0);
    for (const m of members) this.addMember(o, m);
    return o.id;
  }

  patchObject(id: string, props: Json): void {
    const o = this.objects.get(id)!;
    Object.assign(o.props, props);
    o.seq = ++this.seq;
  }

  deleteObject(id: string, hard = false): void {
    this.remove(this.objects.get(id)!, hard);
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    const send = (reply: Reply) => {
      if (reply.drop) {
        this.counters.droppedResponses++;
        req.socket.destroy();
        return;
      }
      const h: Record<string, string> = { ...reply.headers };
      if (reply.body !== undefined) h['content-type'] ??= 'application/json';
      res.writeHead(reply.status, h);
      res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    };
    const tokenPath = url.pathname.match(/^\/([^/]+)\/oauth2\/v2\.0\/token$/);
    if (tokenPath && req.method === 'POST') {
      send(await this.token(decodeURIComponent(tokenPath[1]!), new URLSearchParams(raw)));
      return;
    }
    if (!url.pathname.startsWith('/v1.0/')) {
      send({ status: 404, body: graphError('BadRequest', `Resource not found for the segment '${url.pathname.split('/')[1]}'.`) });
      return;
    }
    // https://learn.microsoft.com/graph/auth-v2-service: every call carries the app-only access token
    const auth = headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const expires = this.tokens.get(token);
    if (expires === undefined || expires < Date.now()) {
      this.counters.unauthorized++;
      // https://learn.microsoft.com/graph/errors: 401 InvalidAuthenticationToken
      send({ status: 401, body: graphError('InvalidAuthenticationToken', token ? 'Access token has expired or is not yet valid.' : 'Access token is empty.') });
      return;
    }
    let body: unknown = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        send({ status: 400, body: graphError('BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.') });
        return;
      }
    }
    const path = url.pathname.slice('/v1.0/'.length).split('/').filter(Boolean).map(decodeURIComponent);
    send(await this.route({ method: req.method ?? 'GET', url, path, headers, body, batched: false }));
  }

  /**
   * The token endpoint of the client credentials grant: client_secret, or a client_assertion JWT signed with
   * the registered certificate (header x5t/x5t#S256 its thumbprint; aud the token endpoint; iss = sub =
   * client id). https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow and
   * https://learn.microsoft.com/entra/identity-platform/certificate-credentials. Errors use the documented
   * error / error_description (AADSTS...) shape.
   */
  private async token(tenant: string, form: URLSearchParams): Promise<Reply> {
    this.counters.tokenRequests++;
    this.tokenForms.push(Object.fromEntries(form.entries()));
    const refuse = (status: number, error: string, description: string): Reply => {
      this.counters.tokensRefused++;
      return { status, body: { error, error_description: description, error_codes: [Number(description.slice(5, 12)) || 0], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() } };
    };
    if (tenant !== this.options.tenantId) return refuse(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.');
    const scope = form.get('scope') ?? '';
    if (!scope.endsWith('/.default')) return refuse(400, 'invalid_scope', `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    const clientId = form.get('client_id') ?? '';
    const client = this.options.clients[clientId];
    if (!client) return refuse(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (secret !== client.secret) return refuse(401, 'invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !client.certPem) {
        return refuse(401, 'invalid_client', 'AADSTS700027: Client assertion failed signature validation.');
      }
      try {
        const header = decodeProtectedHeader(assertion);
        const der = new X509Certificate(client.certPem).raw;
        const x5t = createHash('sha1').update(der).digest('base64url');
        const x5tS256 = createHash('sha256').update(der).digest('base64url');
        if (header.x5t !== x5t && header['x5t#S256'] !== x5tS256) throw new Error('thumbprint');
        const key = await importX509(client.certPem, 'RS256');
        await jwtVerify(assertion, key, { audience: `${this.url}/${tenant}/oauth2/v2.0/token`, issuer: clientId, subject: clientId, maxTokenAge: '1h' });
      } catch {
        return refuse(401, 'invalid_client', 'AADSTS700027: Client assertion failed signature validation.');
      }
    } else {
      return refuse(401, 'invalid_client', "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    const accessToken = `emu.${randomBytes(24).toString('base64url')}`;
    this.tokens.set(accessToken, Date.now() + this.options.tokenLifetime * 1000);
    return { status: 200, body: { token_type: 'Bearer', expires_in: this.options.tokenLifetime, ext_expires_in: this.options.tokenLifetime, access_token: accessToken } };
  }

  /**
   * Throttling (https://learn.microsoft.com/graph/throttling): 429 Too Many Requests with Retry-After in
   * seconds and the documented error body; 503 Service Unavailable the same way. Requests inside a $batch
   * are evaluated one by one (https://learn.microsoft.com/graph/json-batching#throttling).
   */
  private throttle(ctx: Ctx): Reply | null {
    if (ctx.path[0] === '$batch') return null;
    const f = this.forced;
    if (f && f.remaining > 0 && (!f.paths || f.paths.test(`/${ctx.path.join('/')}`))) {
      f.remaining--;
      this.counters.throttled++;
      return f.status === 429 ? tooMany(f.retryAfter) : { status: 503, headers: { 'retry-after': String(f.retryAfter) }, body: graphError('serviceNotAvailable', 'Service is temporarily unavailable. Please retry later.') };
    }
    const rate = this.options.rateLimit;
    if (rate > 0) {
      const now = Date.now();
      if (!this.bucket) this.bucket = { tokens: rate, at: now };
      const b = this.bucket;
      b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
      if (b.tokens < 1) {
        this.counters.throttled++;
        return tooMany(this.options.retryAfter);
      }
      b.tokens -= 1;
    }
    return null;
  }

  private async route(ctx: Ctx): Promise<Reply> {
    this.counters.graphRequests++;
    this.log.push({ method: ctx.method, path: `/${ctx.path.join('/')}`, batched: ctx.batched });
    if (ctx.method !== 'GET') this.counters.writes++;
    const throttled = this.throttle(ctx);
    if (throttled) return throttled;
    const [head, id, sub, subId, ref] = ctx.path;
    const m = ctx.method;
    if (head === '$batch' && m === 'POST' && !ctx.batched) return this.batch(ctx);
    if (head === 'directory' && id === 'deletedItems') {
      if (m === 'GET' && sub === 'microsoft.graph.user') return this.listDeleted(ctx);
      if (m === 'POST' && sub && subId === 'restore') return this.restore(sub);
    }
    if (head === 'users' || head === 'groups') {
      const kind = head === 'users' ? 'user' : 'group';
      if (!id) {
        if (m === 'GET') return this.list(ctx, kind);
        if (m === 'POST') return this.create(ctx, kind);
      } else if (id === 'delta' || id === 'microsoft.graph.delta') {
        if (m === 'GET') return this.delta(ctx, kind);
      } else if (!sub) {
        if (m === 'GET') return this.get(ctx, kind, id);
        if (m === 'PATCH') return this.update(ctx, kind, id);
        if (m === 'DELETE') return this.delete(kind, id);
      } else if (kind === 'user' && sub === 'manager') {
        if (!subId && m === 'GET') return this.getManager(ctx, id);
        if (subId === '$ref' && m === 'PUT') return this.putManager(ctx, id);
        if (subId === '$ref' && m === 'DELETE') return this.deleteManager(id);
      } else if (kind === 'group' && sub === 'members') {
        if (!subId && m === 'GET') return this.listMembers(ctx, id);
        if (subId === '$ref' && m === 'POST') return this.postMemberRef(ctx, id);
        if (subId && ref === '$ref' && m === 'DELETE') return this.deleteMember(id, subId);
      }
    }
    return { status: 400, body: graphError('BadRequest', `Resource not found for the segment '${ctx.path.at(-1) ?? ''}'.`) };
  }

  // ---- $batch -----------------------------------------------------------------------------------------------------

  /**
   * JSON batching (https://learn.microsoft.com/graph/json-batching): at most 20 requests; each has an id,
   * method, url relative to the version, optional headers and body; the answer lists one response per
   * request with id, status, headers and body, in any order.
   */
  private async batch(ctx: Ctx): Promise<Reply> {
    this.counters.batches++;
    const requests = (ctx.body as { requests?: unknown })?.requests;
    if (!Array.isArray(requests)) return { status: 400, body: graphError('BadRequest', 'Invalid batch payload format.') };
    if (requests.length > 20) return { status: 400, body: graphError('BadRequest', 'The number of batch requests exceeds the limit of 20.') };
    const responses: Json[] = [];
    for (const r of requests as { id?: unknown; method?: unknown; url?: unknown; headers?: Record<string, string>; body?: unknown }[]) {
      this.counters.batchedRequests++;
      const url = new URL(`/v1.0${String(r.url).startsWith('/') ? '' : '/'}${String(r.url)}`, this.url);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
      const reply = await this.route({
        method: String(r.method).toUpperCase(),
        url,
        path: url.pathname.slice('/v1.0/'.length).split('/').filter(Boolean).map(decodeURIComponent),
        headers,
        body: r.body ?? null,
        batched: true,
      });
      responses.push({ id: String(r.id), status: reply.status, headers: { ...(reply.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...(reply.headers?.['retry-after'] ? { 'Retry-After': reply.headers['retry-after'] } : {}) }, ...(reply.body !== undefined ? { body: reply.body } : {}) });
    }
    return { status: 200, body: { responses } };
  }

  // ---- reads ------------------------------------------------------------------------------------------------------

  /** An object as a read sees it: undefined while younger than the read-after-write delay (counted). */
  private visible(id: string | undefined, kind?: 'user' | 'group'): DirObject | undefined {
    if (!id) return undefined;
    const o = this.objects.get(id);
    if (!o || o.deletedAt || (kind && o.kind !== kind)) return undefined;
    if (o.visibleAt > Date.now()) {
      this.counters.hiddenReads++;
      return undefined;
    }
    return o;
  }

  private get(ctx: Ctx, kind: 'user' | 'group', id: string): Reply {
    const o = this.visible(id, kind);
    if (!o) return notFound(id);
    return { status: 200, body: { '@odata.context': `${this.graphBase}/$metadata#${kind}s/$entity`, ...this.render(o, ctx.url.searchParams) } };
  }

  /**
   * List users / groups (https://learn.microsoft.com/graph/api/user-list, group-list) with $select, $top
   * (1..999), $filter (eq on a property; on onPremisesExtensionAttributes/* and extension_* only as an
   * advanced query with ConsistencyLevel: eventual and $count=true, https://learn.microsoft.com/graph/aad-advanced-queries),
   * $expand=manager($select=id), and paging by @odata.nextLink with a $skiptoken (https://learn.microsoft.com/graph/paging).
   */
  private list(ctx: Ctx, kind: 'user' | 'group'): Reply {
    const q = ctx.url.searchParams;
    const top = Number(q.get('$top') ?? this.options.defaultPageSize);
    if (!Number.isInteger(top) || top < 1 || top > 999) return { status: 400, body: graphError('Request_UnsupportedQuery', `Invalid page size specified: '${q.get('$top')}'. Must be between 1 and 999 inclusive.`) };
    let predicate: ((o: DirObject) => boolean) | null = null;
    const filter = q.get('$filter');
    if (filter) {
      const f = /^\s*([A-Za-z0-9_/]+)\s+eq\s+(?:'((?:[^']|'')*)'|(true|false|-?\d+))\s*$/.exec(filter);
      if (!f) return { status: 400, body: graphError('Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${filter.split(' ')[0]}' of resource '${kind === 'user' ? 'User' : 'Group'}'.`) };
      const property = f[1]!;
      const advanced = property.includes('/') || property.startsWith('extension_');
      if (advanced && (ctx.headers.consistencylevel !== 'eventual' || q.get('$count') !== 'true')) {
        return { status: 400, body: graphError('Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${property}' of resource '${kind === 'user' ? 'User' : 'Group'}'.`) };
      }
      const wanted = f[2] !== undefined ? f[2].replace(/''/g, "'").toLowerCase() : f[3]!;
      predicate = (o) => {
        const v = property.includes('/') ? (o.props[property.split('/')[0]!] as Json | undefined)?.[property.split('/')[1]!] : property === 'id' ? o.id : o.props[property];
        const list = Array.isArray(v) ? v : [v];
        return list.some((x) => x !== null && x !== undefined && String(x).toLowerCase() === wanted);
      };
    }
    const all = [...this.objects.values()].filter((o) => o.kind === kind && !o.deletedAt && (!predicate || predicate(o)));
    const shown = all.filter((o) => {
      if (o.visibleAt > Date.now()) {
        this.counters.hiddenReads++;
        return false;
      }
      return true;
    });
    const skip = Number(q.get('$skiptoken') ? Buffer.from(q.get('$skiptoken')!, 'base64url').toString() : 0);
    const page = shown.slice(skip, skip + top);
    const body: Json = { '@odata.context': `${this.graphBase}/$metadata#${kind}s`, value: page.map((o) => this.render(o, q)) };
    if (q.get('$count') === 'true') body['@odata.count'] = shown.length;
    if (skip + top < shown.length) {
      const next = new URL(ctx.url.toString());
      next.searchParams.set('$skiptoken', Buffer.from(String(skip + top)).toString('base64url'));
      body['@odata.nextLink'] = `${this.url}${next.pathname}${next.search}`;
    }
    return { status: 200, body };
  }

  /** An object with the $select-ed properties (or the defaults), and the manager when $expand asks. */
  private render(o: DirObject, q: URLSearchParams): Json {
    const select = q.get('$select')?.split(',').map((s) => s.trim()).filter(Boolean);
    const props = select ?? (o.kind === 'user' ? USER_DEFAULT_SELECT : Object.keys(o.props));
    const out: Json = { id: o.id };
    for (const p of props) {
      if (p === 'id' || p === 'manager' || p === 'members') continue;
      out[p] = o.props[p] ?? null;
    }
    const expand = q.get('$expand') ?? '';
    if (o.kind === 'user' && /^manager\b/.test(expand)) {
      const manager = o.manager ? this.visible(o.manager) : undefined;
      if (manager) out.manager = { '@odata.type': manager.kind === 'user' ? USER_TYPE : GROUP_TYPE, id: manager.id };
    }
    return out;
  }

  /** https://learn.microsoft.com/graph/api/user-list-manager: 404 when the user has none. */
  private getManager(ctx: Ctx, id: string): Reply {
    const o = this.visible(id, 'user');
    if (!o) return notFound(id);
    const manager = o.manager ? this.visible(o.manager) : undefined;
    if (!manager) return notFound(id, "Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
    return { status: 200, body: { '@odata.context': `${this.graphBase}/$metadata#directoryObjects/$entity`, '@odata.type': USER_TYPE, ...this.render(manager, ctx.url.searchParams) } };
  }

  /** https://learn.microsoft.com/graph/api/group-list-members: paged, $select, $top up to 999. */
  private listMembers(ctx: Ctx, id: string): Reply {
    const o = this.visible(id, 'group');
    if (!o) return notFound(id);
    const q = ctx.url.searchParams;
    const top = Math.min(999, Number(q.get('$top') ?? 100));
    const members = [...o.members!].map((m) => this.visible(m)).filter((m): m is DirObject => m !== undefined);
    const skip = Number(q.get('$skiptoken') ? Buffer.from(q.get('$skiptoken')!, 'base64url').toString() : 0);
    const body: Json = {
      '@odata.context': `${this.graphBase}/$metadata#directoryObjects`,
      value: members.slice(skip, skip + top).map((m) => ({ '@odata.type': m.kind === 'user' ? USER_TYPE : GROUP_TYPE, id: m.id })),
    };
    if (skip + top < members.length) {
      const next = new URL(ctx.url.toString());
      next.searchParams.set('$skiptoken', Buffer.from(String(skip + top)).toString('base64url'));
      body['@odata.nextLink'] = `${this.url}${next.pathname}${next.search}`;
    }
    return { status: 200, body };
  }

  /** https://learn.microsoft.com/graph/api/directory-deleteditems-list: GET /directory/deletedItems/microsoft.graph.user */
  private listDeleted(ctx: Ctx): Reply {
    const q = ctx.url.searchParams;
    const value = [...this.objects.values()].filter((o) => o.kind === 'user' && o.deletedAt && !o.purged).map((o) => ({ ...this.render(o, q), deletedDateTime: o.deletedAt }));
    return { status: 200, body: { '@odata.context': `${this.graphBase}/$metadata#directoryObjects(microsoft.graph.user)`, value } };
  }

  // ---- delta ------------------------------------------------------------------------------------------------------

  /**
   * Delta query (https://learn.microsoft.com/graph/delta-query-overview, user-delta, group-delta,
   * delta-query-groups): a round of pages linked by @odata.nextLink ($skiptoken) ending in an
   * @odata.deltaLink ($deltatoken); `$deltatoken=latest` answers only a deltaLink ("sync from now");
   * $select is encoded in the tokens; removed objects come as { id, "@removed": { reason } }; group
   * membership changes as members@delta (removed members with "@removed"), a user's manager as
   * manager@delta; changes not yet replicated are left for a later round ("Processing delays"); an
   * invalidated token answers 410 Gone with a Location of a fresh round ("Synchronization reset").
   */
  private delta(ctx: Ctx, kind: 'user' | 'group'): Reply {
    const q = ctx.url.searchParams;
    const base = `${this.graphBase}/${kind}s/delta`;
    const deltaToken = q.get('$deltatoken') ?? q.get('$deltaToken');
    const skipToken = q.get('$skiptoken') ?? q.get('$skipToken');
    let state: { e: number; since: number; upto: number; offset: number; select: string[] | null };
    if (skipToken || (deltaToken && deltaToken !== 'latest')) {
      try {
        state = JSON.parse(Buffer.from((skipToken ?? deltaToken)!, 'base64url').toString());
      } catch {
        return { status: 400, body: graphError('Request_BadRequest', 'Invalid delta token.') };
      }
      if (state.e !== this.epoch) {
        this.counters.deltaGone++;
        const select = state.select ? `?$select=${state.select.join(',')}` : '';
        return { status: 410, headers: { location: `${base}${select}` }, body: graphError('ResyncRequired', 'The delta token is no longer valid; restart with a full synchronization.') };
      }
      if (!skipToken) state = { ...state, since: state.upto, upto: this.replicatedSeq(), offset: 0 };
    } else {
      const select = q.get('$select')?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
      state = { e: this.epoch, since: 0, upto: this.replicatedSeq(), offset: 0, select };
      if (deltaToken === 'latest') {
        return { status: 200, body: { '@odata.context': `${this.graphBase}/$metadata#${kind}s`, '@odata.deltaLink': `${base}?$deltatoken=${encodeToken(state)}`, value: [] } };
      }
    }
    const initial = state.since === 0;
    const changed = [...this.objects.values()].filter((o) => {
      if (o.kind !== kind) return false;
      if (initial) return !o.deletedAt && o.seq <= state.upto;
      const last = Math.max(o.seq, o.refSeq);
      return last > state.since && last <= state.upto && (!o.deletedAt || o.seq > state.since);
    });
    // a group also appears when only its members changed
    const page = changed.slice(state.offset, state.offset + this.options.deltaPageSize);
    const sel = state.select;
    const value = page.map((o) => {
      if (o.deletedAt) return { id: o.id, '@removed': { reason: o.purged ? 'deleted' : 'changed' } };
      const item: Json = {};
      for (const p of sel ?? Object.keys(o.props)) {
        if (p === 'id' || p === 'manager' || p === 'members') continue;
        if (o.props[p] !== undefined && o.props[p] !== null) item[p] = o.props[p];
        else if (!initial && p in o.props) item[p] = null;
      }
      item.id = o.id;
      if (kind === 'user' && (!sel || sel.includes('manager')) && (initial ? o.manager : o.refSeq > state.since)) {
        item['manager@delta'] = o.manager ? [{ '@odata.type': USER_TYPE, id: o.manager }] : [];
      }
      if (kind === 'group' && (!sel || sel.includes('members'))) {
        const entries = initial
          ? [...o.members!].map((m) => ({ '@odata.type': this.objects.get(m)?.kind === 'group' ? GROUP_TYPE : USER_TYPE, id: m }))
          : this.memberChanges.filter((c) => c.group === o.id && c.seq > state.since && c.seq <= state.upto).map((c) => ({ '@odata.type': this.objects.get(c.member)?.kind === 'group' ? GROUP_TYPE : USER_TYPE, id: c.member, ...(c.added ? {} : { '@removed': { reason: 'deleted' } }) }));
        if (entries.length > 0) item['members@delta'] = entries;
      }
      return item;
    });
    const body: Json = { '@odata.context': `${this.graphBase}/$metadata#${kind}s`, value };
    if (state.offset + this.options.deltaPageSize < changed.length) {
      body['@odata.nextLink'] = `${base}?$skiptoken=${encodeToken({ ...state, offset: state.offset + this.options.deltaPageSize })}`;
    } else {
      body['@odata.deltaLink'] = `${base}?$deltatoken=${encodeToken({ ...state, offset: 0 })}`;
    }
    return { status: 200, body };
  }

  /** The newest change every reader sees: changes of objects still inside the read-after-write delay wait. */
  private replicatedSeq(): number {
    let upto = this.seq;
    const now = Date.now();
    for (const o of this.objects.values()) if (o.visibleAt > now) upto = Math.min(upto, o.seq - 1);
    return upto;
  }

  // ---- writes -----------------------------------------------------------------------------------------------------

  /**
   * Create user (https://learn.microsoft.com/graph/api/user-post-users): accountEnabled, displayName,
   * mailNickname, passwordProfile and userPrincipalName are required; 201 Created with the object (the
   * example response, never the password). Create group (group-post-groups): displayName, mailEnabled,
   * mailNickname, securityEnabled required; up to 20 members@odata.bind. Uniqueness conflicts answer 400
   * "Another object with the same value for property X already exists." (the message Graph uses; see also
   * group-validateproperties' example).
   */
  private create(ctx: Ctx, kind: 'user' | 'group'): Reply {
    const body = (ctx.body ?? {}) as Json;
    const required = kind === 'user' ? ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName'] : ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled'];
    for (const p of required) {
      if (body[p] === undefined || body[p] === null) return badRequest(`Property '${p}' is required when creating the resource.`, 'Request_BadRequest');
    }
    const problem = this.validate(kind, body, null);
    if (problem) return problem;
    const binds = (body['members@odata.bind'] as string[] | undefined) ?? [];
    if (binds.length > 20) return badRequest('The request exceeds the limit of 20 members@odata.bind references.');
    const memberIds: string[] = [];
    for (const b of binds) {
      const mid = String(b).split('/').pop()!;
      if (!this.visible(mid)) return notFound(mid);
      memberIds.push(mid);
    }
    if (kind === 'user') {
      const pw = (body.passwordProfile as { password?: unknown }).password;
      // https://learn.microsoft.com/entra/identity/authentication/concept-password-ban-bad-combined-policy: 8+ characters
      if (typeof pw !== 'string' || pw.length < 8) return badRequest('The specified password does not comply with password complexity requirements. Please provide a different password.', 'Request_BadRequest');
    }
    const props: Json = {};
    for (const [k, v] of Object.entries(body)) if (k !== 'passwordProfile' && k !== 'members@odata.bind') props[k] = v;
    if (kind === 'user') props.mail ??= null;
    props.createdDateTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const o = this.insert(kind, props, Date.now() + this.options.readAfterWriteMs);
    for (const m of memberIds) this.addMember(o, m);
    this.counters.creates++;
    if (this.dropCreates > 0) {
      this.dropCreates--;
      return { status: 201, drop: true };
    }
    return { status: 201, headers: { location: `${this.graphBase}/directoryObjects/${o.id}/Microsoft.DirectoryServices.${kind === 'user' ? 'User' : 'Group'}` }, body: { '@odata.context': `${this.graphBase}/$metadata#${kind}s/$entity`, id: o.id, ...this.render(o, new URLSearchParams()) } };
  }

  /**
   * Update (https://learn.microsoft.com/graph/api/user-update, group-update): 204 No Content. On a group,
   * members@odata.bind adds up to 20 members in one request ("Example 2: Add multiple members to a group
   * in a single request"); if a condition fails no member is added; a member already present answers 400
   * "One or more added object references already exist for the following modified properties: 'members'.".
   */
  private update(ctx: Ctx, kind: 'user' | 'group', id: string): Reply {
    const o = this.visible(id, kind);
    if (!o) return notFound(id);
    const body = (ctx.body ?? {}) as Json;
    const problem = this.validate(kind, body, o);
    if (problem) return problem;
    const binds = (body['members@odata.bind'] as string[] | undefined) ?? [];
    if (binds.length > 20) return badRequest('The request exceeds the limit of 20 members@odata.bind references.');
    const memberIds: string[] = [];
    for (const b of binds) {
      const mid = String(b).split('/').pop()!;
      if (!this.visible(mid)) return notFound(mid);
      if (o.members!.has(mid)) return badRequest("One or more added object references already exist for the following modified properties: 'members'.");
      memberIds.push(mid);
    }
    let changed = false;
    for (const [k, v] of Object.entries(body)) {
      if (k === 'members@odata.bind' || k === 'passwordProfile') continue;
      if (k === 'onPremisesExtensionAttributes') {
        o.props[k] = { ...((o.props[k] as Json) ?? {}), ...(v as Json) };
      } else {
        o.props[k] = v;
      }
      changed = true;
    }
    if (changed) o.seq = ++this.seq;
    for (const m of memberIds) this.addMember(o, m);
    return { status: 204 };
  }

  /** 400 bodies that name the property (https://learn.microsoft.com/graph/errors: error.code and error.message). */
  private validate(kind: 'user' | 'group', body: Json, existing: DirObject | null): Reply | null {
    const writable = kind === 'user' ? USER_WRITABLE : GROUP_WRITABLE;
    const readOnly = kind === 'user' ? USER_READONLY : GROUP_READONLY;
    const type = kind === 'user' ? 'User' : 'Group';
    for (const [k, v] of Object.entries(body)) {
      if (k === 'members@odata.bind' && kind === 'group') continue;
      if (k.startsWith('extension_')) {
        if (!this.options.extensions.includes(k)) return badRequest(`Property '${k}' does not exist on type 'microsoft.graph.${kind}'.`);
        continue;
      }
      if (readOnly.has(k)) return badRequest(`Property '${k}' is read-only and cannot be set.`);
      if (!writable.has(k)) return badRequest(`Property '${k}' does not exist on type 'microsoft.graph.${kind}'.`);
      if (k === 'usageLocation' && v !== null && !/^[A-Z]{2}$/.test(String(v))) return badRequest(`Invalid value specified for property 'usageLocation' of resource '${type}'.`);
      if (k === 'mailNickname' && (typeof v !== 'string' || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}$/.test(v))) return badRequest(`Invalid value specified for property 'mailNickname' of resource '${type}'.`);
      if (k === 'userPrincipalName' && (typeof v !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v))) return badRequest(`Invalid value specified for property 'userPrincipalName' of resource '${type}'.`);
      if (k === 'displayName' && (typeof v !== 'string' || v.length === 0 || v.length > 256)) return badRequest(`Invalid value specified for property 'displayName' of resource '${type}'.`);
      if (k === 'onPremisesExtensionAttributes' && v !== null) {
        for (const name of Object.keys(v as Json)) if (!/^extensionAttribute([1-9]|1[0-5])$/.test(name)) return badRequest(`Property '${name}' does not exist on type 'microsoft.graph.onPremisesExtensionAttributes'.`);
      }
      for (const unique of ['userPrincipalName', 'onPremisesImmutableId']) {
        if (kind === 'user' && k === unique && typeof v === 'string') {
          const holder = [...this.objects.values()].find((o) => o.kind === 'user' && !o.deletedAt && o !== existing && String(o.props[unique] ?? '').toLowerCase() === v.toLowerCase());
          if (holder) return badRequest(`Another object with the same value for property ${unique} already exists.`);
        }
      }
    }
    return null;
  }

  /** https://learn.microsoft.com/graph/api/user-delete: 204; the user stays 30 days in deletedItems. Groups (security) are deleted for good. */
  private delete(kind: 'user' | 'group', id: string): Reply {
    const o = this.visible(id, kind);
    if (!o) return notFound(id);
    this.remove(o, kind === 'group');
    return { status: 204 };
  }

  /** https://learn.microsoft.com/graph/api/directory-deleteditems-restore: 200 OK with the restored object. */
  private restore(id: string): Reply {
    const o = this.objects.get(id);
    if (!o?.deletedAt || o.purged) return notFound(id);
    const upn = String(o.props.userPrincipalName ?? '').toLowerCase();
    if ([...this.objects.values()].some((x) => x.kind === 'user' && !x.deletedAt && String(x.props.userPrincipalName ?? '').toLowerCase() === upn)) {
      return badRequest('Another object with the same value for property userPrincipalName already exists.');
    }
    delete o.deletedAt;
    o.visibleAt = Date.now() + this.options.readAfterWriteMs;
    o.seq = ++this.seq;
    this.counters.restores++;
    return { status: 200, body: { '@odata.context': `${this.graphBase}/$metadata#directoryObjects/$entity`, '@odata.type': USER_TYPE, ...this.render(o, new URLSearchParams()) } };
  }

  /** https://learn.microsoft.com/graph/api/user-post-manager: PUT /users/{id}/manager/$ref { "@odata.id": ... } → 204. */
  private putManager(ctx: Ctx, id: string): Reply {
    const o = this.visible(id, 'user');
    if (!o) return notFound(id);
    const target = String((ctx.body as Json)?.['@odata.id'] ?? '').split('/').pop()!;
    if (!this.visible(target)) return notFound(target);
    if (o.manager !== target) {
      o.manager = target;
      o.refSeq = ++this.seq;
    }
    return { status: 204 };
  }

  /** https://learn.microsoft.com/graph/api/user-delete-manager: 204, 404 when there is none. */
  private deleteManager(id: string): Reply {
    const o = this.visible(id, 'user');
    if (!o) return notFound(id);
    if (!o.manager) return notFound(id, "Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
    delete o.manager;
    o.refSeq = ++this.seq;
    return { status: 204 };
  }

  /** https://learn.microsoft.com/graph/api/group-post-members: POST /groups/{id}/members/$ref → 204. */
  private postMemberRef(ctx: Ctx, id: string): Reply {
    const o = this.visible(id, 'group');
    if (!o) return notFound(id);
    const target = String((ctx.body as Json)?.['@odata.id'] ?? '').split('/').pop()!;
    if (!this.visible(target)) return notFound(target);
    if (o.members!.has(target)) return badRequest("One or more added object references already exist for the following modified properties: 'members'.");
    this.addMember(o, target);
    return { status: 204 };
  }

  /** https://learn.microsoft.com/graph/api/group-delete-members: DELETE /groups/{id}/members/{member}/$ref → 204. */
  private deleteMember(id: string, member: string): Reply {
    const o = this.visible(id, 'group');
    if (!o) return notFound(id);
    if (!o.members!.has(member)) return notFound(member);
    o.members!.delete(member);
    o.refSeq = ++this.seq;
    this.memberChanges.push({ group: o.id, member, added: false, seq: o.refSeq });
    return { status: 204 };
  }

  // ---- store ------------------------------------------------------------------------------------------------------

  private insert(kind: 'user' | 'group', props: Json, visibleAt: number): DirObject {
    const o: DirObject = { id: randomUUID(), kind, props: { ...props }, visibleAt, seq: ++this.seq, refSeq: 0, ...(kind === 'group' ? { members: new Set<string>() } : {}) };
    this.objects.set(o.id, o);
    return o;
  }

  private addMember(group: DirObject, member: string): void {
    if (group.members!.has(member)) return;
    group.members!.add(member);
    group.refSeq = ++this.seq;
    this.memberChanges.push({ group: group.id, member, added: true, seq: group.refSeq });
  }

  private remove(o: DirObject, hard: boolean): void {
    o.deletedAt = new Date().toISOString();
    o.purged = hard;
    o.seq = ++this.seq;
    // memberships and manager links of a deleted object go with it
    for (const g of this.objects.values()) {
      if (g.members?.has(o.id)) {
        g.members.delete(o.id);
        g.refSeq = ++this.seq;
        this.memberChanges.push({ group: g.id, member: o.id, added: false, seq: g.refSeq });
      }
      if (g.manager === o.id) {
        delete g.manager;
        g.refSeq = ++this.seq;
      }
    }
  }

  private view(o: DirObject): Json {
    return { id: o.id, ...o.props, ...(o.manager ? { manager: o.manager } : {}), ...(o.members ? { members: [...o.members] } : {}), ...(o.deletedAt ? { deletedDateTime: o.deletedAt } : {}) };
  }
}

function encodeToken(state: object): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

/** The error body of https://learn.microsoft.com/graph/errors: { error: { code, message, innerError: { date, request-id, client-request-id } } }. */
export function graphError(code: string, message: string): Json {
  const id = randomUUID();
  return { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': id, 'client-request-id': id } } };
}

function badRequest(message: string, code = 'Request_BadRequest'): Reply {
  return { status: 400, body: graphError(code, message) };
}

function notFound(id: string, message?: string): Reply {
  return { status: 404, body: graphError('Request_ResourceNotFound', message ?? `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`) };
}

/** The 429 of https://learn.microsoft.com/graph/throttling ("Sample response"). */
function tooMany(retryAfter: number): Reply {
  return {
    status: 429,
    headers: { 'retry-after': String(retryAfter) },
    body: { error: { code: 'TooManyRequests', message: 'Please retry again later.', innerError: { code: '429', date: new Date().toISOString().replace(/\.\d+Z$/, ''), message: 'Please retry after', 'request-id': randomUUID(), status: '429' } } },
  };
}
