/**
 * An `idsync serve` for admin API tests, in this process: the sample config (HR CSV → built-in directory),
 * the engine running serve's loop (one cycle at start, then on request), the HTTP server on an ephemeral
 * port, and accounts of each role. `call` makes real HTTP requests, as a bearer-token script or with a
 * session cookie.
 */
import { loadConfig } from '../../src/config/load.js';
import { createAccount } from '../../src/api/accounts.js';
import { ProgressFeed } from '../../src/api/progress.js';
import type { AuthOptions } from '../../src/api/auth.js';
import { Engine } from '../../src/engine/engine.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { AccountStore, type Role } from '../../src/store/accounts.js';
import { type Workspace, workspace } from '../helpers/workspace.js';

export const PASSWORD = 'correct horse battery staple';

export interface Harness {
  ws: Workspace;
  engine: Engine;
  server: RunningServer;
  feed: ProgressFeed;
  base: string;
  /** an API token per role */
  tokens: Record<Role, string>;
  /** the first cycle (serve's loop runs one at start) has finished */
  firstCycle: Promise<void>;
  call(method: string, path: string, options?: { token?: string; cookie?: string; csrf?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  login(username: string, password?: string): Promise<{ cookie: string; csrf: string; status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startHarness(options: { people?: number; config?: string; auth?: AuthOptions; beforeStart?: (ws: Workspace) => void | Promise<void> } = {}): Promise<Harness> {
  const ws = workspace({ people: options.people ?? 12, ...(options.config !== undefined && { config: options.config }) });
  await options.beforeStart?.(ws);
  const config = loadConfig(ws.configPath);
  const accounts = await AccountStore.open(config);
  for (const role of ['reader', 'operator', 'admin'] as const) await createAccount(accounts, role, role, PASSWORD);
  const tokens = {
    reader: await accounts.createToken('script-reader', 'reader'),
    operator: await accounts.createToken('script-operator', 'operator'),
    admin: await accounts.createToken('script-admin', 'admin'),
  };
  await accounts.close();
  const feed = new ProgressFeed(undefined, [...config.connectors.keys()]);
  const engine = await Engine.open(config, { progress: feed, command: 'idsync serve' });
  const server = await startServer(config, { engine, port: 0, progress: feed, ...(options.auth && { apiAuth: options.auth }) });
  const stop = new AbortController();
  let firstDone!: () => void;
  const firstCycle = new Promise<void>((r) => (firstDone = r));
  const serving = engine.serve({ intervalMs: 3_600_000, signal: stop.signal, debounceMs: 0 }, () => firstDone());
  const base = `${server.url}/api/v1`;
  const h: Harness = {
    ws,
    engine,
    server,
    feed,
    base,
    tokens,
    firstCycle,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      if (o.cookie) headers.cookie = o.cookie;
      if (o.csrf) headers['x-idsync-csrf'] = o.csrf;
      const body = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body }) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    async login(username, password = PASSWORD) {
      const res = await h.call('POST', '/session', { body: { username, password } });
      const setCookie = res.headers.get('set-cookie') ?? '';
      return { cookie: setCookie.split(';')[0]!, csrf: res.body?.csrfToken, status: res.status, body: res.body };
    },
    async stop() {
      stop.abort();
      await serving.catch(() => {});
      await server.close();
      await engine.close();
      ws.cleanup();
    },
  };
  return h;
}
