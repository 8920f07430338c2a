/**
 * One handler per route of routes.ts: thin, as the SCIM routes are. Input arrives validated; the answer is
 * checked against the route's response schema by register.ts.
 */
import { readFileSync } from 'node:fs';
import { plannedChangeJson } from '../cli/json.js';
import { parseConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/model.js';
import { ConfigError, IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { displayValue, type Value } from '../core/values.js';
import { VERSION } from '../core/version.js';
import { hashPassword } from '../directory/password.js';
import type { CycleReport, Explanation } from '../engine/engine.js';
import type { PlannedChange } from '../engine/export.js';
import { previewPlan } from '../preview/plan.js';
import { agentState } from '../store/agents.js';
import { createAccount, checkPassword } from './accounts.js';
import { redactedYaml, withSecretsKept } from './config-text.js';
import { SESSION_COOKIE } from './auth.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { type Input, type Output, type Replied, reply } from './route.js';
import type { ROUTES, RouteId } from './routes.js';
import { connectorView, logView, runView } from './views.js';

export { redactedYaml };

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
      await ctx.accounts.audit({ actor, action: 'session.create', target: session.account, result: 'ok', status: 200 });
      return { username: session.account, role, csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() };
    } catch (err) {
      if (err instanceof ApiError) await ctx.accounts.audit({ actor, action: 'session.create', target: null, result: err.code, status: err.status });
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
    return { items: await ctx.accounts.accounts() };
  },

  async 'accounts.create'({ body }, ctx) {
    const { account, password } = await createAccount(ctx.accounts, body.name, body.role, body.password);
    return reply(201, { ...account, ...(password !== undefined && { password }) });
  },

  async 'accounts.update'({ params, body }, ctx) {
    if (!(await ctx.accounts.account(params.name))) throw new ApiError('ACCOUNT_UNKNOWN', `no account named ${params.name}`, { path: ['params', 'name'] });
    if (body.password !== undefined) {
      checkPassword(body.password);
      await ctx.accounts.setPassword(params.name, await hashPassword(body.password));
      ctx.auth.endSessionsOf(params.name);
    }
    if (body.role !== undefined) await ctx.accounts.setRole(params.name, body.role);
    return (await ctx.accounts.account(params.name))!;
  },

  async 'accounts.delete'({ params }, ctx) {
    await ctx.accounts.deleteAccount(params.name);
    ctx.auth.endSessionsOf(params.name);
    return { ok: true };
  },

  async 'audit.list'({ query }, ctx) {
    const rows = await ctx.accounts.auditEntries({
      ...(query.actor !== undefined && { actor: query.actor }),
      ...(query.action !== undefined && { action: query.action }),
      ...(query.cursor !== undefined && { before: Number(query.cursor) }),
      // stored as UTC ISO strings: a time given with an offset is compared as the same instant in UTC
      ...(query.since !== undefined && { since: new Date(query.since).toISOString() }),
      ...(query.until !== undefined && { until: new Date(query.until).toISOString() }),
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    return { items: page, ...(rows.length > query.limit && { next: String(page[page.length - 1]!.id) }) };
  },
  async progress(_input, ctx) {
    streamProgress(ctx);
    return '';
  },

  async 'objects.search'({ query }, ctx) {
    const { found, more } = await ctx.engine.find(query.q, query.limit);
    return {
      items: found.map((f) => ({
        id: f.metaverse ? `mv:${f.metaverse.id}` : `cs:${f.objects[0]!.csId}`,
        name: f.metaverse?.name ?? f.objects[0]!.name,
        objectType: f.metaverse?.objectType ?? f.objects[0]!.objectType,
        deleted: f.metaverse?.deleted ?? false,
        matched: f.matched,
        objects: f.objects,
      })),
      more,
    };
  },

  async 'objects.get'({ params }, ctx) {
    return ctx.engine.object(params.id);
  },

  async 'objects.explain'({ params, query }, ctx) {
    const { connector, name } = await startingPoint(ctx, params.id, query.connector);
    return explanationView(await ctx.engine.explain(connector, name));
  },

  async 'objects.provision'({ params, body }, ctx) {
    const { connector, name } = await startingPoint(ctx, params.id, body?.connector);
    const { explanation, report, reread } = await ctx.engine.provision(connector, name);
    return { explanation: explanationView(explanation), result: resultView(report), reread };
  },

  async 'objects.retry'({ params, body }, ctx) {
    knownConnector(ctx, body.connector, ['body', 'connector']);
    const { name } = await startingPoint(ctx, params.id, body.connector);
    return resultView(await ctx.engine.retryExport(body.connector, name));
  },

  async 'plan.create'({ body }, ctx) {
    const report = await ctx.engine.requestCycle({ mode: 'plan', ...(body?.full && { full: true }) });
    const changes = planned(report.planned);
    return { runId: report.runId, status: report.status, holds: report.holds, changes, held: [...changes.filter((c) => c.held), ...planned(report.heldChanges)] };
  },

  async 'actions.run'({ body }, ctx) {
    if (body?.connector !== undefined) knownConnector(ctx, body.connector, ['body', 'connector']);
    const connectors = body?.connector ? [body.connector] : [];
    // answered at once; the run is seen on /progress and /runs. A failure is the run's, recorded as such.
    ctx.engine.requestCycle({ ...(connectors.length > 0 && { connectors }), ...(body?.full && { full: true }) }).catch((err) => ctx.request.log.warn({ err: { code: (err as { code?: string }).code } }, 'a cycle asked for through the API failed'));
    return reply(202, { queued: true as const, connectors: connectors.length > 0 ? connectors : [...ctx.config.connectors.keys()], full: body?.full === true });
  },

  async 'connectors.approve'({ params }, ctx) {
    knownConnector(ctx, params.name, ['params', 'name']);
    await ctx.engine.approve(params.name);
    return { ok: true };
  },

  async 'connectors.lift'({ params }, ctx) {
    knownConnector(ctx, params.name, ['params', 'name']);
    await ctx.engine.liftQuarantine(params.name);
    return { ok: true };
  },

  async 'agents.list'(_input, ctx) {
    return {
      items: ((await ctx.agents?.list()) ?? []).map(({ publicKey: _key, ...a }) => ({ ...a, state: agentState(a), outdated: a.version !== VERSION })),
    };
  },

  async 'agents.token'({ body }, ctx) {
    if (!ctx.agents) throw new ApiError('API_NOT_FOUND', 'this service has no agent store');
    const { token, expires } = await ctx.agents.createToken(body.group, body.ttlMinutes * 60_000);
    return reply(201, { group: body.group, token, expires });
  },

  async 'agents.revoke'({ params }, ctx) {
    if (!ctx.agents) throw new ApiError('API_NOT_FOUND', 'this service has no agent store');
    await ctx.agents.revoke(params.id);
    return { ok: true };
  },

  async 'tokens.list'(_input, ctx) {
    return {
      items: [
        ...((await ctx.tokens?.list()) ?? []).map((t) => ({ name: t.name, kind: 'scim' as const, endpoints: t.endpoints, created: t.created })),
        ...(await ctx.accounts.tokens()).map((t) => ({ name: t.name, kind: 'api' as const, role: t.role, created: t.created, ...(t.lastUsed && { lastUsed: t.lastUsed }) })),
      ],
    };
  },

  async 'tokens.create'({ body }, ctx) {
    const taken = ((await ctx.tokens?.list()) ?? []).some((t) => t.name === body.name) || (await ctx.accounts.tokens()).some((t) => t.name === body.name);
    if (taken) throw new ApiError('API_CONFLICT', `a token named ${body.name} exists: revoke it first`, { path: ['body', 'name'] });
    if (body.kind === 'api') {
      if (!body.role) throw new ApiError('API_INVALID', 'an API token needs a role', { issues: [{ code: 'invalid_value', path: ['body', 'role'], message: 'required for kind api' }] });
      return reply(201, { name: body.name, kind: 'api' as const, token: await ctx.accounts.createToken(body.name, body.role) });
    }
    if (body.role) throw new ApiError('API_INVALID', 'a SCIM token has no role', { issues: [{ code: 'invalid_value', path: ['body', 'role'], message: 'only for kind api' }] });
    if (!ctx.tokens) throw new ApiError('API_NOT_FOUND', 'this service has no SCIM token store');
    return reply(201, { name: body.name, kind: 'scim' as const, token: await ctx.tokens.create(body.name, body.endpoints ?? []) });
  },

  async 'tokens.revoke'({ params }, ctx) {
    if (!((await ctx.tokens?.revoke(params.name)) ?? false) && !(await ctx.accounts.revokeToken(params.name))) {
      throw new ApiError('API_NOT_FOUND', `no token named ${params.name}`, { path: ['params', 'name'] });
    }
    return { ok: true };
  },

  async 'config.get'(_input, ctx) {
    return {
      file: ctx.config.file,
      yaml: redactedYaml(readFileSync(ctx.config.file, 'utf8')),
      connectors: [...ctx.config.connectors.keys()],
      rules: [...ctx.config.inbound, ...ctx.config.outbound].map((r) => r.name),
    };
  },

  async 'config.validate'({ body }, ctx) {
    let proposed: LoadedConfig;
    try {
      proposed = parseConfig(withSecretsKept(body.yaml, readFileSync(ctx.config.file, 'utf8')), ctx.config.file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return {
        valid: false,
        issues: err.problems.map((p) => ({ code: p.code, path: p.path, message: redact(p.message), ...(p.location && { location: p.location }) })),
        changes: null,
        plan: null,
        planError: null,
      };
    }
    const changes = configChanges(ctx.config, proposed);
    if (!body.plan) return { valid: true, issues: [], changes, plan: null, planError: null };
    try {
      return { valid: true, issues: [], changes, plan: configPlanView(await previewPlan(ctx.engine, proposed)), planError: null };
    } catch (err) {
      if (err instanceof IdsyncError && err.code === 'PREVIEW_BUSY') throw err;
      if (err instanceof IdsyncError) return { valid: true, issues: [], changes, plan: null, planError: { code: err.code, message: redact(err.message) } };
      ctx.request.log.error({ err: { message: redact((err as Error).message) } }, 'the plan of a proposed config failed');
      return { valid: true, issues: [], changes, plan: null, planError: { code: 'PREVIEW_FAILED', message: "the plan failed; the problem is in the service's log" } };
    }
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

/** The object's starting point for explain and provision: its anchor (or name) in `connector`, by default its first source's. */
async function startingPoint(ctx: ApiContext, id: string, connector?: string): Promise<{ connector: string; name: string }> {
  if (connector !== undefined) knownConnector(ctx, connector, ['query', 'connector']);
  const view = await ctx.engine.object(id);
  const sources = new Set(ctx.config.inbound.map((r) => r.connector));
  const candidates = connector !== undefined ? view.objects.filter((o) => o.connector === connector) : [...view.objects.filter((o) => sources.has(o.connector)), ...view.objects];
  const chosen = candidates.find((o) => o.anchor !== null || o.object !== null);
  if (!chosen) {
    throw new ApiError(
      'API_CONFLICT',
      connector !== undefined ? `${view.name} has no object in ${connector} yet (it is not created there): start from a source connector` : `${view.name} has no object that exists in a connector yet`,
    );
  }
  return { connector: chosen.connector, name: chosen.anchor ?? chosen.object! };
}

function planned(list: PlannedChange[]) {
  return list.map((p) => ({ connector: p.connector, ...plannedChangeJson(p) }));
}

/** changes a config plan lists at most (the counts cover all) */
const PLAN_LISTED = 1000;

function configPlanView(r: CycleReport) {
  const counts = new Map<string, { connector: string; create: number; update: number; delete: number; held: number }>();
  for (const p of r.planned) {
    const c = counts.get(p.connector) ?? { connector: p.connector, create: 0, update: 0, delete: 0, held: 0 };
    counts.set(p.connector, c);
    c[p.op]++;
    if (p.held) c.held++;
  }
  return {
    runId: r.runId,
    status: r.status,
    durationMs: r.durationMs,
    phases: r.stats.map((s) => ({ ...s })),
    holds: r.holds,
    connectors: [...counts.values()],
    changes: planned(r.planned.slice(0, PLAN_LISTED)),
    held: planned(r.heldChanges.slice(0, PLAN_LISTED)),
    truncated: r.planned.length > PLAN_LISTED || r.heldChanges.length > PLAN_LISTED,
  };
}

function resultView(r: CycleReport) {
  return { runId: r.runId, status: r.status, durationMs: r.durationMs, phases: r.stats.map((s) => ({ ...s })), changes: planned(r.planned) };
}

function explanationView(x: Explanation) {
  const shown = (a: Record<string, Value[]>) => Object.fromEntries(Object.entries(a).map(([k, vs]) => [k, vs.map(displayValue)]));
  return {
    connector: x.connector,
    anchor: x.anchor,
    name: x.name,
    label: x.label,
    attributes: shown(x.attributes as Record<string, Value[]>),
    ...(x.situation !== undefined && { situation: x.situation }),
    ...(x.action !== undefined && { action: x.action }),
    steps: x.steps.map((e) => ({
      connector: e.connector,
      object: e.object,
      name: e.name ?? null,
      phase: e.phase,
      situation: e.situation,
      action: e.action,
      status: e.status,
      steps: e.steps,
      changes: e.changes,
      ...(e.names && { names: e.names }),
      error: e.error ? { code: e.error.code, message: e.error.message } : null,
    })),
    metaverse: x.metaverse && { ...x.metaverse, attributes: shown(x.metaverse.attributes as Record<string, Value[]>) },
    exports: planned(x.exports),
  };
}

function configChanges(current: LoadedConfig, proposed: LoadedConfig) {
  const diff = <T>(a: Map<string, T>, b: Map<string, T>, same: (x: T, y: T) => boolean) => ({
    added: [...b.keys()].filter((k) => !a.has(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    changed: [...b.keys()].filter((k) => a.has(k) && !same(a.get(k)!, b.get(k)!)),
  });
  const rules = (c: LoadedConfig) => new Map([...c.inbound, ...c.outbound].map((r) => [r.name, JSON.stringify(r, (_k, v) => (typeof v === 'function' ? undefined : v))] as const));
  return {
    connectors: diff(current.connectors, proposed.connectors, (x, y) => x.type === y.type && x.settingsHash === y.settingsHash),
    rules: diff(rules(current), rules(proposed), (x, y) => x === y),
  };
}

/** Server-Sent Events of the engine's progress until the client goes. */
function streamProgress(ctx: ApiContext): void {
  const { reply, request, progress } = ctx;
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  raw.write(': idsync progress\n\n');
  if (progress.running) send('run', progress.running);
  if (progress.last) send('progress', progress.last);
  const stop = progress.on({ progress: (e) => send('progress', e), run: (e) => send('run', e) });
  const beat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
  beat.unref();
  const end = () => {
    clearInterval(beat);
    stop();
  };
  request.raw.on('close', end);
  raw.on('close', end);
}
