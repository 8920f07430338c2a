/**
 * One handler per route of routes.ts: thin, as the SCIM routes are. Input arrives validated; the answer is
 * checked against the route's response schema by register.ts.
 */
import { hashPassword } from '../directory/password.js';
import { createAccount, checkPassword } from './accounts.js';
import { SESSION_COOKIE } from './auth.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { type Input, type Output, type Replied, reply } from './route.js';
import type { ROUTES, RouteId } from './routes.js';
import { connectorView, logView, runView } from './views.js';

type Handlers = {
  [K in RouteId]: (input: Input<(typeof ROUTES)[K]>, ctx: ApiContext) => Promise<Output<(typeof ROUTES)[K]> | Replied<Output<(typeof ROUTES)[K]>>>;
};

/** runs read to find each connector's last run and recent runs */
const RECENT_RUNS = 50;

export const HANDLERS: Handlers = {
  async 'session.create'({ body }, ctx) {
    const actor = `login ${body.username.slice(0, 64)}`;
    try {
      const { id, session, role } = await ctx.auth.login(body.username, body.password, ctx.request.ip);
      ctx.reply.setCookie(SESSION_COOKIE, id, {
        httpOnly: true,
        sameSite: 'strict',
        secure: ctx.secureCookie,
        path: '/',
        maxAge: Math.floor((session.expiresAt - Date.now()) / 1000),
      });
      ctx.accounts.audit({ actor, action: 'session.create', target: session.account, result: 'ok', status: 200 });
      return { username: session.account, role, csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() };
    } catch (err) {
      if (err instanceof ApiError) ctx.accounts.audit({ actor, action: 'session.create', target: null, result: err.code, status: err.status });
      throw err;
    }
  },

  async 'session.get'(_input, ctx) {
    const c = ctx.caller!;
    return {
      username: c.name,
      role: c.role,
      kind: c.kind,
      ...(c.session && { csrfToken: c.session.csrfToken, expiresAt: new Date(c.session.expiresAt).toISOString() }),
    };
  },

  async 'session.delete'(_input, ctx) {
    const cookie = ctx.request.cookies[SESSION_COOKIE];
    if (cookie) ctx.auth.logout(cookie);
    ctx.reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  },

  async openapi() {
    return openApiDocument();
  },

  async 'connectors.list'(_input, ctx) {
    const status = await ctx.engine.status({ runs: RECENT_RUNS });
    const next = nextRun(ctx);
    return { items: status.connectors.map((c) => connectorView(ctx, c, status.lastRuns, next)) };
  },

  async 'connectors.get'({ params }, ctx) {
    const status = await ctx.engine.status({ runs: RECENT_RUNS });
    const c = status.connectors.find((x) => x.name === params.name);
    if (!c) throw new ApiError('API_NOT_FOUND', `no connector named ${params.name}`, { path: ['params', 'name'] });
    return {
      ...connectorView(ctx, c, status.lastRuns, nextRun(ctx)),
      runs: status.lastRuns.filter((r) => r.stats.some((s) => s.connector === c.name)).slice(0, 20).map((r) => runView(r, c.name)),
      objectErrors: status.errors
        .filter((e) => e.connector === c.name)
        .map((e) => ({
          connector: e.connector,
          key: e.key,
          name: e.name,
          phase: e.phase,
          code: e.code,
          message: e.message,
          ...(e.attribute !== undefined && { attribute: e.attribute }),
          ...(e.retryable !== undefined && { retryable: e.retryable }),
          attempts: e.attempts,
          firstAt: e.firstAt,
          lastAt: e.lastAt,
        })),
    };
  },

  async 'runs.list'({ query }, ctx) {
    if (query.connector !== undefined) knownConnector(ctx, query.connector, ['query', 'connector']);
    // the store lists the newest runs; a connector's are among them (a cycle of a few connectors covers all)
    const runs = await ctx.engine.store.runs(query.connector ? Math.min(query.limit * 4, 2000) : query.limit);
    const mine = query.connector ? runs.filter((r) => r.stats.length === 0 || r.stats.some((s) => s.connector === query.connector)) : runs;
    return { items: mine.slice(0, query.limit).map((r) => runView(r, query.connector)) };
  },

  async 'runs.get'({ params }, ctx) {
    const [run] = await ctx.engine.store.runsByIds([params.id]);
    if (!run) throw new ApiError('API_NOT_FOUND', `no run ${params.id}`, { path: ['params', 'id'] });
    return runView(run);
  },

  async 'log.list'({ query }, ctx) {
    if (query.connector !== undefined) knownConnector(ctx, query.connector, ['query', 'connector']);
    const entries = await ctx.engine.log({
      ...(query.object !== undefined && { object: query.object }),
      ...(query.connector !== undefined && { connector: query.connector }),
      ...(query.action !== undefined && { action: query.action }),
      ...(query.status !== undefined && { status: query.status }),
      ...(query.since !== undefined && { since: new Date(query.since).toISOString() }),
      ...(query.until !== undefined && { until: new Date(query.until).toISOString() }),
      ...(query.runId !== undefined && { runId: query.runId }),
      ...(query.cursor !== undefined && { beforeId: Number(query.cursor) }),
      limit: query.limit + 1,
    });
    // the store returns the newest, oldest first: one more than asked says whether there is a next page
    const newest = entries.reverse();
    const page = newest.slice(0, query.limit);
    return { items: page.map(logView), ...(newest.length > query.limit && { next: String(page[page.length - 1]!.id) }) };
  },

  async 'log.get'({ params }, ctx) {
    const [entry] = await ctx.engine.log({ beforeId: params.id + 1, limit: 1 });
    if (!entry || entry.id !== params.id) throw new ApiError('API_NOT_FOUND', `no log entry ${params.id} (entries older than log.retentionDays are pruned)`, { path: ['params', 'id'] });
    return logView(entry);
  },

  async 'accounts.list'(_input, ctx) {
    return { items: ctx.accounts.accounts() };
  },

  async 'accounts.create'({ body }, ctx) {
    const { account, password } = await createAccount(ctx.accounts, body.name, body.role, body.password);
    return reply(201, { ...account, ...(password !== undefined && { password }) });
  },

  async 'accounts.update'({ params, body }, ctx) {
    if (!ctx.accounts.account(params.name)) throw new ApiError('ACCOUNT_UNKNOWN', `no account named ${params.name}`, { path: ['params', 'name'] });
    if (body.password !== undefined) {
      checkPassword(body.password);
      ctx.accounts.setPassword(params.name, await hashPassword(body.password));
      ctx.auth.endSessionsOf(params.name);
    }
    if (body.role !== undefined) ctx.accounts.setRole(params.name, body.role);
    return ctx.accounts.account(params.name)!;
  },

  async 'accounts.delete'({ params }, ctx) {
    ctx.accounts.deleteAccount(params.name);
    ctx.auth.endSessionsOf(params.name);
    return { ok: true };
  },

  async 'audit.list'({ query }, ctx) {
    const rows = ctx.accounts.auditEntries({
      ...(query.actor !== undefined && { actor: query.actor }),
      ...(query.action !== undefined && { action: query.action }),
      ...(query.cursor !== undefined && { before: Number(query.cursor) }),
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    return { items: page, ...(rows.length > query.limit && { next: String(page[page.length - 1]!.id) }) };
  },
};

function knownConnector(ctx: ApiContext, name: string, path: string[]): void {
  if (!ctx.config.connectors.has(name)) throw new ApiError('API_NOT_FOUND', `no connector named ${name}`, { path });
}

/** When the schedule runs the next cycle, when serve runs one. */
function nextRun(ctx: ApiContext): string | null {
  const at = ctx.engine.nextScheduledCycle?.();
  return at ? new Date(at).toISOString() : null;
}
