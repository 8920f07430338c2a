/**
 * The idsync command line. Each command loads the config, opens the engine, does one thing and returns an
 * exit code (exit-codes.ts). Errors are printed as one line per problem, with their place.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_AGENT_DIR, registerAgent } from '../agent/identity.js';
import { runAgent } from '../agent/runtime/agent.js';
import { loadConfig } from '../config/load.js';
import { durationMs } from '../config/schema.js';
import { triggerDdl } from '../connectors/sql/index.js';
import type { LoadedConfig } from '../config/model.js';
import { ConfigError, errorMessage, IdsyncError, SafetyHold } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { VERSION } from '../core/version.js';
import { Engine, type CycleReport } from '../engine/engine.js';
import { terminalProgress } from '../engine/progress.js';
import { opsLines } from '../ops/index.js';
import { ProgressFeed } from '../api/progress.js';
import { type ConfigReloader, watchConfig } from '../server/config-reload.js';
import { startServer } from '../server/serve.js';
import { AccountStore, type Role, ROLES } from '../store/accounts.js';
import { AgentStore, agentState } from '../store/agents.js';
import { TokenStore } from '../store/tokens.js';
import type { LogEntry } from '../store/types.js';
import { adminCommands } from './admin.js';
import { runDemo } from './demo.js';
import { ExitCode } from './exit-codes.js';
import { formatCycle, formatExplanation, formatFound, formatLog, formatPlan, formatRuns, formatSchema, formatStatus } from './format.js';
import { templateNames, writeSample, writeTemplate } from './init.js';
import { requestLog } from './serve-log.js';
import { stateMigrate } from './state.js';
import { parseSince } from './time.js';
import { validate } from './validate.js';
import { cycleJson, planJson, statusJson } from './json.js';

interface Io {
  out(text: string): void;
  err(text: string): void;
  /** out is a terminal (a person reads it): `serve` then writes human lines, else JSON lines */
  outIsTerminal?: boolean;
}

const stdio: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${redact(t)}\n`),
  outIsTerminal: process.stdout.isTTY === true,
};

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let code: number = ExitCode.ok;
  const program = new Command('idsync')
    .description('Identity synchronization: HR feeds, directories, SQL and SCIM kept in step')
    .option('-c, --config <file>', 'the config file', 'idsync.yaml')
    .version(VERSION, '-V, --version', "idsync's version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const configFile = () => program.opts<{ config: string }>().config;
  // what the state's cycle lease names to a second process: "idsync serve", "idsync run --once"
  let commandLine = 'idsync';
  program.hook('preAction', (_program, action) => {
    commandLine = `idsync ${action.name()}${action.opts().once ? ' --once' : ''}`;
  });
  const withEngine = async (fn: (engine: Engine, config: LoadedConfig, progress: ProgressFeed) => Promise<number>) => {
    const config = loadConfig(configFile());
    // the terminal's progress line, and the admin API's live view of it (serve)
    const progress = new ProgressFeed(terminalProgress(), [...config.connectors.keys()]);
    const engine = await Engine.open(config, { progress, command: commandLine });
    try {
      return await fn(engine, config, progress);
    } finally {
      await engine.close();
    }
  };

  program
    .command('version')
    .description("idsync's version (as --version)")
    .action(() => io.out(VERSION));

  program
    .command('init [dir]')
    .description('write a commented sample config (idsync.yaml) and sample HR data, ready to run; or a rule template')
    .option('--template <name>', `a shipped rule template instead of the sample (${templateNames().join(', ')}): edit its connections, then validate and plan`)
    .action(async (dir: string | undefined, opts: { template?: string }) => {
      if (opts.template) {
        const written = await writeTemplate(resolve(dir ?? '.'), opts.template);
        io.out(`Wrote ${written.join(', ')} from the ${opts.template} template.\nNext: edit its connectors (servers, tenant, credentials), then ${dir ? `cd ${dir} && ` : ''}idsync validate && idsync plan`);
        return;
      }
      const written = await writeSample(resolve(dir ?? '.'));
      io.out(`Wrote ${written.join(', ')}.\nNext: ${dir ? `cd ${dir} && ` : ''}idsync validate && idsync run --once`);
    });

  program
    .command('validate')
    .description("check the config: every problem with file:line:column, and the attributes rules name against the connectors' schemas")
    .option('--offline', 'read no schema from a server: check only what is known locally (CSV headers, the built-in directory)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean; offline?: boolean }) => {
      code = await validate(configFile(), opts, io);
    });

  program
    .command('run')
    .description('run cycles: on the schedule in the config, or one with --once')
    .option('--once', 'run one cycle and exit')
    .option('--full', 'full import and full sync')
    .option('--connector <name...>', 'import and export only these connectors')
    .option('--json', 'machine-readable output')
    .action(async (opts: { once?: boolean; full?: boolean; connector?: string[]; json?: boolean }) => {
      code = await withEngine(async (engine, config) => {
        const once = async () => {
          const report = await engine.cycle({ full: opts.full, connectors: opts.connector });
          io.out(opts.json ? JSON.stringify(cycleJson(report)) : formatCycle(report));
          return exitFor(report);
        };
        if (opts.once) return once();
        return runContinuously(engine, config.scheduleMs, io, opts.json);
      });
    });

  program
    .command('plan')
    .description('import and sync, then show exactly what would be exported, without exporting')
    .option('--full', 'full import and full sync')
    .option('--summary', 'counts per target and operation only')
    .option('--all', 'every change (by default at most 20 of each kind are listed)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { full?: boolean; summary?: boolean; all?: boolean; json?: boolean }) => {
      code = await withEngine(async (engine) => {
        const report = await engine.cycle({ mode: 'plan', full: opts.full });
        const shown = [...report.planned, ...report.heldChanges];
        if (opts.json) io.out(JSON.stringify(planJson(shown, report.status, report.holds)));
        else io.out(`${formatPlan(shown, { ...opts, holds: report.holds })}\n\n${planAdvice(report)}`.trimEnd());
        // object errors do not fail a plan: it shows what would be sent, errors or not
        return report.status === 'errors' ? ExitCode.ok : exitFor(report);
      });
    });

  program
    .command('apply')
    .description('export what the last `idsync plan` showed')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      code = await withEngine(async (engine) => {
        const report = await engine.apply();
        io.out(opts.json ? JSON.stringify(cycleJson(report)) : formatCycle(report));
        return exitFor(report);
      });
    });

  program
    .command('approve <connector>')
    .description('let the next run exceed the deletion threshold of this connector, once')
    .option('--quarantine', "lift the connector's quarantine instead (deletions stay held)")
    .action(async (connector: string, opts: { quarantine?: boolean }) => {
      code = await withEngine(async (engine) => {
        if (opts.quarantine) {
          await engine.liftQuarantine(connector);
          io.out(`Lifted: the next cycle imports and exports ${connector} again.`);
          return ExitCode.ok;
        }
        await engine.approve(connector);
        io.out(`Approved: the next run may delete beyond ${connector}'s threshold once. Run \`idsync plan\` to review, then \`idsync run --once\`.`);
        return ExitCode.ok;
      });
    });

  program
    .command('status')
    .description('objects per connector, pending exports, object errors and the last runs')
    .option('--runs <n>', 'list this many of the last runs', count, 5)
    .option('--json', 'machine-readable output')
    .action(async (opts: { runs: number; json?: boolean }) => {
      code = await withEngine(async (engine) => {
        const s = await engine.status({ runs: opts.runs });
        io.out(opts.json ? JSON.stringify(statusJson(s)) : formatStatus(s));
        return ExitCode.ok;
      });
    });

  program
    .command('runs')
    .description('the last runs: kind, when, how long, result, what was imported and exported')
    .option('--limit <n>', 'at most this many runs (newest)', count, 20)
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit: number; json?: boolean }) => {
      code = await withEngine(async (engine) => {
        const runs = await engine.store.runs(opts.limit);
        io.out(opts.json ? JSON.stringify({ runs }) : formatRuns(runs));
        return ExitCode.ok;
      });
    });

  program
    .command('explain <connector> <object>')
    .description('what the engine would do with one object (any name of it: anchor, DN, userName, email, displayName), step by step, without writing anything')
    .option('--json', 'machine-readable output')
    .action(async (connector: string, id: string, opts: { json?: boolean }) => {
      code = await withEngine(async (engine) => {
        const x = await engine.explain(connector, id);
        io.out(opts.json ? JSON.stringify(x, jsonReplacer) : formatExplanation(x));
        return ExitCode.ok;
      });
    });

  program
    .command('log')
    .description('the provisioning log')
    .option('--object <object>', "every entry of one object's life: any name of it (anchor, DN, userName, email, displayName) or its metaverse id")
    .option('--since <time>', 'entries at or after this time: ISO (2026-05-01, 2026-05-01T09:00Z) or ago (30m, 1h, 2d)', (t: string) => parseSince(t, new Date()))
    .option('--connector <name>', 'entries of this connector')
    .option('--action <action>', 'entries with this action (create, update, delete, disable, join, project, disconnect, skip, error, ...)')
    .addOption(new Option('--status <status>', 'entries with this status').choices(LOG_STATUSES))
    .option('--limit <n>', 'at most this many entries (newest)', count, 200)
    .option('--json', 'machine-readable output')
    .action(async (opts: { object?: string; since?: Date; connector?: string; action?: string; status?: LogEntry['status']; limit: number; json?: boolean }) => {
      code = await withEngine(async (engine, config) => {
        const entries = await engine.log({
          object: opts.object,
          since: opts.since?.toISOString(),
          connector: opts.connector,
          action: opts.action,
          status: opts.status,
          limit: opts.limit,
        });
        // A misspelt connector would read as "nothing happened": say it instead (a removed one's entries still show).
        if (entries.length === 0 && opts.connector !== undefined && !config.connectors.has(opts.connector)) {
          throw new IdsyncError('CONNECTOR_UNKNOWN', `no connector named "${opts.connector}" in ${config.file}, and no log entries of one`, { connector: opts.connector });
        }
        io.out(opts.json ? JSON.stringify({ entries }) : formatLog(entries));
        return ExitCode.ok;
      });
    });

  program
    .command('find <text>')
    .description('objects whose names or values contain TEXT, in the metaverse and every connector space, with their links')
    .option('--limit <n>', 'at most this many objects', count, 50)
    .option('--json', 'machine-readable output')
    .action(async (text: string, opts: { limit: number; json?: boolean }) => {
      code = await withEngine(async (engine) => {
        const result = await engine.find(text, opts.limit);
        io.out(opts.json ? JSON.stringify({ objects: result.found, more: result.more }) : formatFound(text, result));
        return ExitCode.ok;
      });
    });

  program
    .command('serve')
    .description('run the service: cycles on the schedule and on change notifications, and the SCIM 2.0 server')
    .option('--port <n>', 'listen on this port instead of serve.port')
    .option('--quiet', 'no request log')
    .option('--json', 'JSON lines on stdout (request log and cycle reports), as when stdout is not a terminal')
    .action(async (opts: { port?: string; quiet?: boolean; json?: boolean }) => {
      // One kind of line on stdout: human lines for a person at a terminal, JSON lines for anything else.
      const json = opts.json === true || io.outIsTerminal !== true;
      // SIGINT/SIGTERM are caught from before the server starts: a signal sent as soon as the endpoint is
      // printed must stop the service cleanly, not kill it mid-write
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let reloader: ConfigReloader | undefined;
      code = await withEngine(async (engine, config, progress) => {
        const port = opts.port === undefined ? undefined : Number(opts.port);
        if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new IdsyncError('CLI_BAD_PORT', `--port ${opts.port}: not a port number`);
        const server = await startServer(config, {
          engine,
          log: !opts.quiet,
          logStream: requestLog((line) => io.out(line), !json),
          progress,
          ...(port !== undefined && { port }),
        });
        try {
          // what a newcomer needs next: a SCIM client needs a token, the portal an account; a fresh state has
          // neither (signals are caught from before the server started).
          const noToken = await closing(await TokenStore.open(config), async (tokens) => (await tokens.list()).length === 0);
          const noAdmin = await closing(await AccountStore.open(config), async (accounts) => (await accounts.adminCount()) === 0);
          for (const e of config.serve?.scim ?? []) io.err(`SCIM ${e.gateway === false ? '' : 'gateway '}endpoint ${server.url}${e.path} (connector ${e.connector})`);
          for (const [name, c] of config.connectors) if (c.type === 'api') io.err(`HR push endpoint ${server.url}/api/v1/inbound/${name}/bulkUpload (connector ${name}; docs/inbound-api.md)`);
          for (const line of opsLines(config, server.url)) io.err(line);
          io.err(`Admin API ${server.url}/api/v1 (OpenAPI: ${server.url}/api/v1/openapi.json); portal ${server.url}/`);
          if (noAdmin) io.err('No admin account yet: run `idsync admin create NAME --role admin` beside this service (the password is shown once), then log in to the portal.');
          if (noToken) io.err(`No SCIM token yet: run \`idsync token create NAME\` beside this service (the token is shown once) and give it to the SCIM client as a bearer token.`);
          // idsync.yaml changed or SIGHUP: validated, then to the engine between cycles and to the agents
          reloader = watchConfig({
            engine,
            hub: server.agentHub,
            log: { info: (m) => io.err(m), warn: (m) => io.err(m) },
          });
          return await runContinuously(engine, config.scheduleMs, io, json, () => server.cycleDone(), stop);
        } finally {
          reloader?.close();
          await server.close();
        }
      }).finally(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      });
    });

  const token = program.command('token').description('bearer tokens for the SCIM endpoints and the admin API of `idsync serve`');
  const withTokens = async (fn: (tokens: TokenStore) => Promise<number>) => closing(await TokenStore.open(loadConfig(configFile())), fn);
  const withAccounts = async <T = number>(fn: (accounts: AccountStore) => Promise<T>) => closing(await AccountStore.open(loadConfig(configFile())), fn);
  token
    .command('create <name>')
    .description('make a token and print it once (only its hash is kept); with --role, an admin API token')
    .option('--endpoint <path...>', 'limit the token to these SCIM endpoint paths (default: all)')
    .addOption(new Option('--role <role>', 'an admin API token with this role instead of a SCIM token').choices([...ROLES]))
    .action(async (name: string, opts: { endpoint?: string[]; role?: Role }) => {
      code = await withTokens((tokens) =>
        withAccounts(async (accounts) => {
          // one name space for both kinds, so that `token revoke NAME` names one token
          if (opts.role ? (await tokens.list()).some((t) => t.name === name) : (await accounts.tokens()).some((t) => t.name === name)) {
            throw new IdsyncError('TOKEN_EXISTS', `a token named ${name} exists: revoke it first (idsync token revoke ${name})`);
          }
          if (opts.role) {
            if (opts.endpoint) throw new IdsyncError('CLI_BAD_OPTION', '--endpoint limits a SCIM token: an admin API token (--role) has none');
            io.out(await accounts.createToken(name, opts.role));
            io.err(`Admin API token ${name} (${opts.role}) created. It is shown only this once: send it as Authorization: Bearer to ${'/api/v1'}.`);
          } else {
            io.out(await tokens.create(name, opts.endpoint ?? []));
            io.err(`Token ${name} created. It is shown only this once: store it in the SCIM client now.`);
          }
          return ExitCode.ok;
        }),
      );
    });
  token
    .command('revoke <name>')
    .description('revoke a token (the server refuses it within 2 seconds)')
    .action(async (name: string) => {
      code = await withTokens(async (tokens) => {
        if (!(await tokens.revoke(name)) && !(await withAccounts((accounts) => accounts.revokeToken(name)))) throw new IdsyncError('TOKEN_UNKNOWN', `no token named ${name}`);
        io.out(`Token ${name} revoked.`);
        return ExitCode.ok;
      });
    });
  token
    .command('list')
    .description('the tokens: names, endpoints and creation times (never the tokens)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      code = await withTokens(async (tokens) => {
        const list = await tokens.list();
        const apiTokens = await withAccounts((accounts) => accounts.tokens());
        if (opts.json) io.out(JSON.stringify({ tokens: list, apiTokens }));
        else
          io.out(
            list.length + apiTokens.length === 0
              ? 'No tokens. Make one with `idsync token create NAME`.'
              : [
                  ...list.map((t) => `${t.name}  ${t.created}  SCIM, ${t.endpoints.length > 0 ? t.endpoints.join(' ') : 'all endpoints'}`),
                  ...apiTokens.map((t) => `${t.name}  ${t.created}  admin API, ${t.role}${t.lastUsed ? `, last used ${t.lastUsed}` : ''}`),
                ].join('\n'),
          );
        return ExitCode.ok;
      });
    });

  adminCommands(program, io, configFile, async (fn) => {
    code = await fn();
  });

  const agents = program.command('agents').description('on-premises agents of `idsync serve` (docs/agent.md): registration tokens, list, revoke');
  const withAgents = async (fn: (store: AgentStore) => Promise<number>) => closing(await AgentStore.open(loadConfig(configFile())), fn);
  agents
    .command('token <group>')
    .description('make a one-time registration token for an agent of GROUP and print it once (only its hash is kept)')
    .option('--ttl <time>', 'how long the token is valid (30m, 1h, ...; at most 24h)', '1h')
    .action(async (group: string, opts: { ttl: string }) => {
      if (!/^\d+(ms|s|m|h)$/.test(opts.ttl) || durationMs(opts.ttl) > 86_400_000 || durationMs(opts.ttl) === 0) {
        throw new IdsyncError('CLI_BAD_TTL', `--ttl ${opts.ttl}: a duration such as 30m or 1h, at most 24h`);
      }
      code = await withAgents(async (store) => {
        const { token, expires } = await store.createToken(group, durationMs(opts.ttl));
        io.out(token);
        io.err(`Registration token for group ${group}, valid until ${expires} and for one registration. On the agent's machine: idsync agent register SERVICE_URL TOKEN`);
        return ExitCode.ok;
      });
    });
  agents
    .command('list')
    .description('registered agents: id, group, host, version, registered, last seen, state')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      code = await withAgents(async (store) => {
        const list = (await store.list()).map(({ publicKey: _key, ...a }) => ({
          ...a,
          state: agentState(a),
          outdated: a.version !== VERSION,
        }));
        if (opts.json) io.out(JSON.stringify({ agents: list }));
        else if (list.length === 0) io.out('No agents. Make a registration token with `idsync agents token GROUP`.');
        else {
          io.out(
            list
              .map((a) =>
                [
                  a.id,
                  `group ${a.group}`,
                  `host ${a.host}`,
                  `idsync ${a.version}${a.outdated ? ` (service ${VERSION})` : ''}`,
                  `registered ${a.registered}`,
                  a.connectedSince && a.state === 'active' ? `connected since ${a.connectedSince}` : '',
                  a.lastSeen ? `last seen ${a.lastSeen}` : 'never connected',
                  a.revoked ? `revoked ${a.revoked}` : a.state,
                ]
                  .filter(Boolean)
                  .join('  '),
              )
              .join('\n'),
          );
        }
        return ExitCode.ok;
      });
    });
  agents
    .command('revoke <id>')
    .description('revoke an agent: its key is refused from then on; it must register again with a new token')
    .action(async (id: string) => {
      code = await withAgents(async (store) => {
        io.out((await store.revoke(id)) ? `Agent ${id} revoked.` : `Agent ${id} was already revoked.`);
        return ExitCode.ok;
      });
    });

  const agent = program.command('agent').description("the on-premises agent's side (docs/agent.md)");
  agent
    .command('register <service-url> <token>')
    .description("make this agent's private key in DIR (it never leaves), prove it to the service with the one-time token, and store the identity the service issues")
    .option('--dir <dir>', "the agent's folder", DEFAULT_AGENT_DIR)
    .option('--ca <file>', "verify the service's TLS certificate with this CA file (default: the system's CAs)")
    .action(async (service: string, token: string, opts: { dir: string; ca?: string }) => {
      const identity = await registerAgent({ service, token, dir: resolve(opts.dir), ...(opts.ca !== undefined && { ca: opts.ca }) });
      io.out(`Agent ${identity.id} registered in group ${identity.group} with ${service}; its key and identity are in ${resolve(opts.dir)}.`);
    });

  agent
    .command('start')
    .description('run the agent in the foreground: connect out to the service, run its group\'s connectors, reconnect when the connection drops (until SIGINT/SIGTERM)')
    .option('--dir <dir>', "the agent's folder", DEFAULT_AGENT_DIR)
    .option('--ca <file>', "verify the service's TLS certificate with this CA file (default: the one given at registration, or the system's CAs)")
    .action(async (opts: { dir: string; ca?: string }) => {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const line = (level: string, msg: string) => io.err(`${new Date().toISOString()} ${level} ${redact(msg)}`);
      try {
        await runAgent({
          dir: resolve(opts.dir),
          ...(opts.ca !== undefined && { ca: resolve(opts.ca) }),
          signal: stop.signal,
          log: { info: (m) => line('info', m), warn: (m) => line('warn', m) },
          ...(Number(process.env.IDSYNC_AGENT_CONFIG_POLL_MS) > 0 && { configPollMs: Number(process.env.IDSYNC_AGENT_CONFIG_POLL_MS) }),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program
    .command('schema <connector>')
    .description("the connector's schema as it discovers it: object types and their attributes (a CSV's header, an LDAP server's schema)")
    .option('--object-type <type>', 'only this object type')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { objectType?: string; json?: boolean }) => {
      const config = loadConfig(configFile());
      const cfg = config.connectors.get(name);
      if (!cfg) throw new IdsyncError('CONNECTOR_UNKNOWN', `no connector named "${name}" in ${config.file}`, { connector: name });
      const connector = cfg.factory.create(name, cfg.settings, { configDir: config.dir, stateDir: config.stateDir, log: { debug() {}, info() {}, warn() {} } });
      try {
        const schema = await connector.schema();
        if (opts.objectType !== undefined && !schema.objectTypes[opts.objectType]) {
          throw new IdsyncError('OBJECT_TYPE_UNKNOWN', `connector ${name} has no object type "${opts.objectType}" (it has: ${Object.keys(schema.objectTypes).join(', ')})`, { connector: name });
        }
        const shown = opts.objectType === undefined ? schema : { objectTypes: { [opts.objectType]: schema.objectTypes[opts.objectType]! } };
        io.out(opts.json ? JSON.stringify({ connector: name, type: cfg.type, ...shown }) : formatSchema(name, cfg.type, shown));
      } finally {
        await connector.close();
      }
    });

  program
    .command('state')
    .description('the state: move it to PostgreSQL and back (docs/scale-out.md)')
    .command('migrate')
    .description('copy the state to a PostgreSQL database (or a SQLite file), verified by counts and checksums')
    .requiredOption('--to <target>', 'postgres://user@host:5432/database, or the path of a SQLite file')
    .option('--force', 'replace a state the target holds already')
    .option('--json', 'machine-readable output')
    .action(async (opts: { to: string; force?: boolean; json?: boolean }) => {
      await stateMigrate(loadConfig(configFile()), opts.to, opts, io.out);
    });

  const sql = program.command('sql').description('SQL connector tools');
  sql
    .command('triggers <connector>')
    .description('print the trigger DDL that fills the change-log table of a SQL connector, to review and apply')
    .option('--object-type <type>', 'only this object type')
    .action(async (connector: string, opts: { objectType?: string }) => {
      const config = loadConfig(configFile());
      const cfg = config.connectors.get(connector);
      if (!cfg) throw new IdsyncError('CONNECTOR_UNKNOWN', `no connector named "${connector}" in ${config.file}`, { connector });
      if (cfg.type !== 'sql') throw new IdsyncError('CLI_NOT_SQL', `connector ${connector} is of type ${cfg.type}, not sql`, { connector });
      io.out(triggerDdl(cfg.offlineSettings ?? cfg.settings, opts.objectType).trimEnd());
    });

  program
    .command('demo')
    .description('the main job on embedded defaults: sample HR data into the built-in directory')
    .option('--dir <dir>', 'where to write the demo (default: a new folder idsync-demo)')
    .action(async (opts: { dir?: string }) => {
      code = await runDemo(resolve(opts.dir ?? 'idsync-demo'), io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return reportError(err, io);
  }
}

const LOG_STATUSES: LogEntry['status'][] = ['success', 'error', 'skipped', 'held', 'planned'];


/** `fn`'s result with `store`, which is closed after it whatever happens (tokens, agents, accounts). */
async function closing<S extends { close(): Promise<void> }, T = number>(store: S, fn: (store: S) => Promise<T>): Promise<T> {
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A count option (--limit, --runs): a whole number of at least 1, or a usage error that says so. */
function count(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return n;
}

/** What to do after a plan: apply what is not held; approve what is, once reviewed. */
function planAdvice(report: CycleReport): string {
  const sendable = report.planned.filter((p) => !p.held).length;
  const lines = sendable > 0 ? [`Run \`idsync apply\` to export the ${sendable === 1 ? 'change' : `${sendable} changes`} not held.`] : [];
  for (const name of new Set(report.holds.map((h) => h.connector))) {
    lines.push(`If the held changes of ${name} are expected, run \`idsync approve ${name}\`, then \`idsync run --once\` (or plan and apply).`);
  }
  return lines.join('\n');
}

function exitFor(report: CycleReport): number {
  switch (report.status) {
    case 'ok':
      return ExitCode.ok;
    case 'errors':
      return ExitCode.objectErrors;
    case 'held':
      return ExitCode.held;
    case 'incomplete':
      return ExitCode.incomplete;
    default:
      return ExitCode.failure;
  }
}

/** Cycles on the schedule and on change notifications until SIGINT or SIGTERM. */
async function runContinuously(
  engine: Engine,
  intervalMs: number,
  io: Io,
  json?: boolean,
  afterCycle?: () => Promise<void>,
  /** a stop the caller already wired to the signals */
  given?: AbortController,
): Promise<number> {
  const stop = given ?? new AbortController();
  const onSignal = () => stop.abort();
  if (!given) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let last: number = ExitCode.ok;
  if (!json) io.err(`Running a cycle every ${Math.round(intervalMs / 1000)} s and on change notifications; Ctrl-C stops.`);
  await engine.serve({ intervalMs, signal: stop.signal }, (report) => {
    io.out(json ? JSON.stringify(cycleJson(report)) : formatCycle(report));
    last = exitFor(report);
    void afterCycle?.();
  });
  return last;
}

function reportError(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.config;
  }
  if (err instanceof ConfigError) {
    io.err(`Configuration error${err.problems.length > 1 ? `s (${err.problems.length})` : ''}:`);
    for (const line of err.message.split('\n')) io.err(`  ${line}`);
    return ExitCode.config;
  }
  if (err instanceof SafetyHold) {
    io.err(err.describe());
    return ExitCode.held;
  }
  io.err(`error: ${errorMessage(err)}`);
  if (process.env.IDSYNC_DEBUG && err instanceof Error && err.stack) io.err(err.stack);
  return ExitCode.failure;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b64: Buffer.from(value).toString('base64') };
  return value;
}
