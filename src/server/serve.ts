/**
 * Assembles `idsync serve`: one SCIM service per configured endpoint (each over a built-in directory file,
 * shared with the engine's builtin connector so its watch() hears the server's writes), the gateways, and
 * the HTTP server.
 */
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AgentHub } from '../agent/hub/hub.js';
import type { LoadedConfig } from '../config/model.js';
import { durationMs, type ScimEndpointConfig, type ServeConfig } from '../config/schema.js';
import { ConfigError, IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { openSharedDirectory, type SharedDirectory } from '../directory/index.js';
import type { Engine } from '../engine/engine.js';
import { Ops, type OpsOptions } from '../ops/index.js';
import { registerPortal } from '../portal/serve.js';
import { buildSchemaSet } from '../scim/schemas.js';
import type { AuthOptions } from '../api/auth.js';
import { ProgressFeed } from '../api/progress.js';
import { AccountStore } from '../store/accounts.js';
import { AgentStore } from '../store/agents.js';
import { TokenStore } from '../store/tokens.js';
import { startAgentChannel, stopAgentChannel } from './agent-channel.js';
import { Gateway } from './gateway.js';
import { buildServer } from './http.js';
import { registerInbound } from './inbound/routes.js';
import { ResourceMapper } from './scim/resources.js';
import type { ScimEndpoint } from './scim/routes.js';
import { ScimService } from './scim/service.js';

/** how much of a served directory's file is read through a memory map (see Directory.useMemoryMap) */
const SERVED_DIRECTORY_MMAP_BYTES = 1024 ** 3;

export interface RunningServer {
  app: FastifyInstance;
  /** the agents connected to this service (agent/hub/hub.ts): connectedAgents(), 'group-empty' events */
  agentHub: AgentHub;
  /** the base URL the server listens on, e.g. http://127.0.0.1:7643 */
  url: string;
  gateways: Gateway[];
  /** metrics and notifications; the agent hub reports connections to `ops.agentConnections` */
  ops: Ops;
  /** for engine.serve: let waiting gateway writes see the cycle's outcome */
  cycleDone(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** the engine running continuously beside the server; needed for gateway endpoints */
  engine?: Engine;
  log?: boolean;
  logStream?: NodeJS.WritableStream;
  /** overrides serve.port (tests: 0 for an ephemeral port) */
  port?: number;
  /** test seams of the notifier (its channels, its retry waits) */
  notifier?: OpsOptions['notifier'];
  /** the engine's progress (the Progress it was opened with), for the admin API's live view */
  progress?: ProgressFeed;
  /** the admin API's session and lock-out settings (tests shorten them) */
  apiAuth?: AuthOptions;
}

export async function startServer(config: LoadedConfig, options: StartOptions = {}): Promise<RunningServer> {
  if (!config.serve) {
    throw new IdsyncError(
      'SERVE_NO_ENDPOINT',
      `${config.file} has no serve block and no builtin connector for the default SCIM endpoint: add a connector of type builtin, or a serve block naming one`,
    );
  }
  const serve: ServeConfig = config.serve;
  // the secrets of notifications and of /metrics are needed by the service only: it refuses to start without them
  if (config.opsSecrets && config.opsSecrets.length > 0) throw new ConfigError(config.opsSecrets);
  const opened: SharedDirectory[] = [];
  const gateways: Gateway[] = [];
  // SCIM tokens, agents, admin accounts: files beside state.db, or the state's PostgreSQL database (store/records/)
  const tokens = await TokenStore.open(config);
  const agents = await AgentStore.open(config).catch(async (err: unknown) => {
    await tokens.close();
    throw err;
  });
  const accounts = await AccountStore.open(config).catch(async (err: unknown) => {
    await Promise.all([tokens.close(), agents.close()]);
    throw err;
  });
  // the audit log keeps serve.audit.retentionDays: pruned now and once a day
  const pruneAudit = () =>
    accounts.pruneAudit(new Date(Date.now() - serve.audit.retentionDays * 86_400_000).toISOString()).catch(() => {
      // the audit table locked for longer than the busy timeout: the next day's prune takes it
    });
  await pruneAudit();
  const auditPruning = setInterval(() => void pruneAudit(), 86_400_000);
  auditPruning.unref();
  let app: FastifyInstance | undefined;
  let ops: Ops | undefined;
  let stopListening: (() => void) | undefined;
  // what ops says before the HTTP server (and so its log) exists
  const early: ['info' | 'warn', string][] = [];
  try {
    ops = await Ops.start({
      config,
      ...(options.engine && { store: options.engine.store }),
      agents,
      // the service's log (none with --quiet); a notification's failure is logged, never thrown
      log: {
        info: (m) => (app ? app.log.info(m) : early.push(['info', m])),
        warn: (m) => (app ? app.log.warn(m) : early.push(['warn', m])),
      },
      ...(options.notifier && { notifier: options.notifier }),
    });
    const started = ops;
    stopListening = options.engine?.onCycle((report) => started.observeCycle(report));
    const endpoints: ScimEndpoint[] = serve.scim.map((endpoint) => {
      const shared = openSharedDirectory(directoryPath(config, endpoint));
      opened.push(shared);
      shared.directory.useMemoryMap(SERVED_DIRECTORY_MMAP_BYTES);
      let gateway: Gateway | undefined;
      if (endpoint.gateway !== false) {
        if (!options.engine)
          throw new IdsyncError(
            'SERVE_GATEWAY_NO_ENGINE',
            `the gateway endpoint ${endpoint.path} needs the engine running`,
          );
        const timeout = endpoint.gateway === true ? 10_000 : durationMs(endpoint.gateway.timeout);
        gateway = new Gateway(options.engine, shared.directory, endpoint.connector!, timeout);
        gateways.push(gateway);
      } else if (options.engine && rulesCarryPassword(config, endpoint.connector!)) {
        // Not a gateway, but rules carry the password on to targets in the next cycle: it is kept until
        // delivered, then dropped, as a gateway does; the answer just does not wait for the delivery.
        gateway = new Gateway(options.engine, shared.directory, endpoint.connector!, 0);
        gateways.push(gateway);
      }
      const passwords = gateway || rulesCarryPassword(config, endpoint.connector!) ? 'clear' : 'hash';
      return { config: endpoint, service: createService(shared, endpoint, gateway, passwords) };
    });
    app = await buildServer({
      serve,
      endpoints,
      tokens,
      agents,
      ops,
      log: options.log ?? false,
      ...(options.logStream && { logStream: options.logStream }),
    });
    // the admin API (/api/v1) works on the running engine: no engine, no API
    if (options.engine) {
      // loaded here: every other command (and SCIM-only tests) would compile and load its routes for nothing
      const [{ registerApi }, { ApiAuth }] = await Promise.all([import('../api/register.js'), import('../api/auth.js')]);
      const engine = options.engine;
      await registerApi(app, {
        // read per request: a reload replaces it
        get config() {
          return engine.config;
        },
        engine,
        accounts,
        auth: new ApiAuth(accounts, options.apiAuth),
        tokens,
        agents,
        progress: options.progress ?? new ProgressFeed(),
        secureCookie: serve.tls !== undefined,
      });
    }
    // the web portal at / (src/portal): its client routes give way to a SCIM base path of the same name
    await registerPortal(app, { reserved: serve.scim.map((e) => e.path.split('/')[1]!) });
    for (const [level, message] of early) app.log[level](message);
    await registerInbound(app, { config, tokens, ...(options.engine && { engine: options.engine }) });
    // the config in force: the engine's, which a reload replaces (config-reload.ts)
    const current = () => options.engine?.config ?? config;
    const hub = startAgentChannel(app, current, agents);
    // metrics and notifications see each group's connected agents (docs/agent.md; /work/notes/events.md)
    const reportAgents = (a: { group: string }) =>
      started.agentConnections(a.group, hub.connectedAgents().filter((c) => c.group === a.group).length);
    hub.on('connected', reportAgents);
    hub.on('disconnected', reportAgents);
    const url = await app.listen({ host: serve.host, port: options.port ?? serve.port });
    const server = app;
    const running = ops;
    // Clear passwords left in a directory that is the users' home (written before idsync hashed them, or
    // while the endpoint was a gateway) are hashed beside the running server.
    const stopHashing = new AbortController();
    const hashing = Promise.all(
      endpoints.map(async (e) => {
        try {
          const n = await e.service.hashStoredPasswords(stopHashing.signal);
          if (n > 0) server.log.info(`${e.config.path}: ${n} password(s) stored in clear are now hashed`);
        } catch (err) {
          server.log.warn(`${e.config.path}: hashing stored passwords stopped: ${redact((err as Error).message)}`);
        }
      }),
    );
    return {
      app,
      agentHub: hub,
      url: url.replace('://[::1]', '://localhost'),
      gateways,
      ops: running,
      cycleDone: async () => {
        for (const g of gateways) await g.cycleDone();
      },
      close: async () => {
        for (const g of gateways) g.close();
        stopHashing.abort();
        clearInterval(auditPruning);
        stopListening?.();
        await stopAgentChannel(hub);
        await server.close();
        await running.close();
        await hashing;
        for (const d of opened) d.release();
        await Promise.all([tokens.close(), agents.close(), accounts.close()]);
      },
    };
  } catch (err) {
    clearInterval(auditPruning);
    stopListening?.();
    await app?.close();
    await ops?.close();
    for (const d of opened) d.release();
    await Promise.all([tokens.close(), agents.close(), accounts.close()]);
    throw err;
  }
}

/** Whether an inbound rule reads the password of the connector's users (to carry it to a target). */
function rulesCarryPassword(config: LoadedConfig, connector: string): boolean {
  return config.inbound.some(
    (r) => r.connector === connector && r.flows.some((f) => (f.reads ?? []).some((a) => a.toLowerCase() === 'password')),
  );
}

export function createService(
  shared: SharedDirectory,
  endpoint: ScimEndpointConfig,
  gateway?: Gateway,
  passwords: 'hash' | 'clear' = gateway ? 'clear' : 'hash',
): ScimService {
  const extensions = endpoint.extensions.map((e) => ({
    resourceType: e.resourceType,
    required: e.required,
    schema: {
      id: e.id,
      ...(e.name !== undefined && { name: e.name }),
      ...(e.description !== undefined && { description: e.description }),
      attributes: e.attributes,
    },
  }));
  return new ScimService({
    directory: shared.directory,
    schemas: buildSchemaSet({ extensions }),
    mapper: new ResourceMapper(endpoint.extensions),
    maxResults: endpoint.maxResults,
    ...(gateway && { afterWrite: gateway.afterWrite }),
    // Where rules carry the clear password to a target it is kept until delivered; elsewhere the directory
    // is its home and holds a hash.
    passwords,
  });
}

/** Where the endpoint's builtin connector keeps its directory (as connectors/builtin resolves it). */
function directoryPath(config: LoadedConfig, endpoint: ScimEndpointConfig): string {
  const connector = config.connectors.get(endpoint.connector!);
  const setting = (connector?.settings as { path?: string } | undefined)?.path;
  const path =
    setting === undefined
      ? join(config.stateDir, 'directory.db')
      : setting === ':memory:' || isAbsolute(setting)
        ? setting
        : resolve(config.dir, setting);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return path;
}
