/**
 * The connectors an agent runs for its group, as the service configured them, and the operations on them:
 * import sessions (reading ahead one page while the service commits the last), export batches deduplicated
 * by change id (a batch re-sent after a lost connection is answered from what was already done), lookups,
 * schema, test, and watch loops that report changes. The host outlives a connection: a reconnect keeps the
 * connectors, the sessions of the old connection are dropped.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectorError, errorMessage } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import type { Connector, ConnectorLogger, ImportPage } from '../../connectors/contract.js';
import { connectorFactory } from '../../connectors/registry.js';
import { parseSettings } from '../../config/issues.js';
import { type WireExportChange, type WireExportResult, type WireImportPage, fromWireExportChange, toWireExportResult, toWireObject, toWirePage } from '../protocol/convert.js';
import type { wireCapabilities } from '../protocol/methods.js';
import { fromWireValue, toWireAttributes, type WireValue } from '../protocol/values.js';
import { resolveAgentSecrets } from './secrets.js';
import { AgentScopeFilter, type ScopedImport } from '../scope/filter.js';
import type { ScopeFilter } from '../../rules/types.js';
import type { z } from 'zod';

/** remembered export results, for changes re-sent after a lost connection */
const MAX_REMEMBERED = 200_000;

interface Configured {
  type: string;
  /** the settings as the service sent them, to see whether a new configuration changes this connector */
  text: string;
  connector: Connector;
}

interface Session {
  connector: string;
  iterator: AsyncIterator<ImportPage>;
  ahead?: Promise<IteratorResult<ImportPage>>;
  abort: AbortController;
  owner: number;
  mode: 'full' | 'delta';
  /** the rules' scoping on this agent (agent/scope/), as configured when the import began */
  scoped?: ScopedImport;
}

export class ConnectorHost {
  private readonly connectors = new Map<string, Configured>();
  private readonly sessions = new Map<string, Session>();
  private readonly done = new Map<string, WireExportResult>();
  private readonly scopes = new Map<string, AgentScopeFilter>();
  private watchers = new AbortController();
  revision = '';

  constructor(
    private readonly dir: string,
    private readonly log: ConnectorLogger,
    private readonly onChanged: (connector: string) => void,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Applies the group's configuration: new and changed connectors are (re)made, removed ones closed. */
  async configure(
    revision: string,
    connectors: { name: string; type: string; settings: unknown; scope?: Record<string, ScopeFilter[]> }[],
  ): Promise<Record<string, z.infer<typeof wireCapabilities>>> {
    const wanted = new Map(connectors.map((c) => [c.name, c]));
    this.configureScopes(connectors);
    for (const [name, c] of this.connectors) {
      const w = wanted.get(name);
      if (w && w.type === c.type && JSON.stringify(w.settings) === c.text) continue;
      this.connectors.delete(name);
      await c.connector.close().catch(() => {});
    }
    const problems: string[] = [];
    for (const c of connectors) {
      if (this.connectors.has(c.name)) continue;
      try {
        this.connectors.set(c.name, { type: c.type, text: JSON.stringify(c.settings), connector: this.make(c.name, c.type, c.settings) });
      } catch (err) {
        problems.push(redact(errorMessage(err)));
      }
    }
    if (revision !== this.revision) this.log.info(`configuration revision ${revision} applied (${connectors.map((c) => c.name).join(', ') || 'no connectors'})`);
    this.revision = revision;
    for (const p of problems) this.log.warn(p);
    this.restartWatchers();
    const caps: Record<string, z.infer<typeof wireCapabilities>> = {};
    for (const [name, c] of this.connectors) {
      const { disableAttributes, ...rest } = c.connector.capabilities;
      caps[name] = { ...rest, ...(disableAttributes && { disableAttributes: toWireAttributes(disableAttributes) }) };
    }
    return caps;
  }

  /** The scoping filters of each connector (agent/scope/), replaced whole by each configuration. */
  private configureScopes(connectors: { name: string; scope?: Record<string, ScopeFilter[]> }[]): void {
    this.scopes.clear();
    for (const c of connectors) {
      if (!c.scope) continue;
      const filter = new AgentScopeFilter(c.scope);
      for (const p of filter.problems) this.log.warn(`connector ${c.name}: ${p}`);
      this.scopes.set(c.name, filter);
    }
  }

  connector(name: string): Connector {
    const c = this.connectors.get(name);
    if (!c) {
      throw new ConnectorError(
        'AGENT_CONNECTOR_UNKNOWN',
        `connector ${name} is not configured on this agent (its settings did not build here, or the configuration has not arrived: see the agent's log)`,
        { connector: name },
        true,
      );
    }
    return c.connector;
  }

  async openImport(
    owner: number,
    name: string,
    request: { mode: 'full' | 'delta'; watermark: string | null; pageSize: number; resume?: string },
  ): Promise<string> {
    const connector = this.connector(name);
    const resumed = request.mode === 'full' && request.resume !== undefined ? ', resuming where another agent stopped' : '';
    this.log.info(`import of ${name} (${request.mode}) started for the service${resumed}`);
    const abort = new AbortController();
    const iterator = connector.import({ ...request, signal: abort.signal })[Symbol.asyncIterator]();
    const id = randomUUID();
    const scoped = this.scopes.get(name)?.open(request.mode, connector.capabilities.nameAttribute, join(this.dir, 'state', 'scope', name), request.watermark);
    this.sessions.set(id, { connector: name, iterator, abort, owner, mode: request.mode, ...(scoped && { scoped }) });
    return id;
  }

  /** The next page; the one after it is read meanwhile (at most one page ahead of the service). */
  async nextPage(id: string): Promise<{ done: true } | { done: false; page: WireImportPage }> {
    const s = this.sessions.get(id);
    if (!s) throw new ConnectorError('AGENT_SESSION_UNKNOWN', `no import session ${id} on this agent`, {}, true);
    const result = await (s.ahead ?? s.iterator.next());
    s.ahead = undefined;
    if (result.done) {
      this.sessions.delete(id);
      if (s.scoped) {
        s.scoped.finish();
        const c = s.scoped.counts;
        this.log.info(
          `import of ${s.connector} (${s.mode}) finished: ${c.sent} objects sent, ${c.kept} out of scope kept here, ${c.anchorsOnly} out of scope sent as their anchor only, ${c.same} unchanged sent as their anchor only`,
        );
      }
      return { done: true };
    }
    const ahead = s.iterator.next();
    ahead.catch(() => {}); // reported when asked for
    s.ahead = ahead;
    const page = s.scoped ? s.scoped.apply(result.value) : result.value;
    return { done: false, page: toWirePage(page) };
  }

  async closeImport(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.abort.abort();
    await s.iterator.return?.().catch(() => {});
  }

  /** The sessions of a connection that closed: the service resumes elsewhere. */
  async dropSessions(owner: number): Promise<void> {
    for (const [id, s] of this.sessions) if (s.owner === owner) await this.closeImport(id);
  }

  async exportBatch(name: string, changes: WireExportChange[]): Promise<WireExportResult[]> {
    const connector = this.connector(name);
    if (!connector.export) throw new ConnectorError('AGENT_EXPORT_UNSUPPORTED', `connector ${name} cannot export`, { connector: name }, false);
    const results: WireExportResult[] = [];
    const fresh = [];
    for (const c of changes) {
      const known = this.done.get(`${name}\u0000${c.id}`);
      if (known) results.push(known);
      else fresh.push(fromWireExportChange(c));
    }
    if (fresh.length > 0) {
      for await (const r of connector.export(fresh)) {
        const wire = toWireExportResult(r);
        if (wire.ok) this.remember(`${name}\u0000${wire.id}`, wire);
        results.push(wire);
      }
    }
    return results;
  }

  async lookup(name: string, objectType: string, attribute: string, values: WireValue[]) {
    const connector = this.connector(name);
    if (!connector.lookup) return [];
    return (await connector.lookup(objectType, attribute, values.map(fromWireValue))).map(toWireObject);
  }

  async close(): Promise<void> {
    this.watchers.abort();
    for (const id of [...this.sessions.keys()]) await this.closeImport(id);
    for (const c of this.connectors.values()) await c.connector.close().catch(() => {});
    this.connectors.clear();
  }

  private make(name: string, type: string, settings: unknown): Connector {
    const factory = connectorFactory(type);
    if (!factory) throw new ConnectorError('AGENT_CONNECTOR_UNKNOWN', `connector ${name}: type ${type} is not known to this agent's idsync (upgrade the agent)`, { connector: name }, false);
    const resolved = resolveAgentSecrets(settings, name, this.dir, this.env);
    const parsed = parseSettings(factory.settings, resolved);
    if (!parsed.success) {
      throw new ConnectorError(
        'AGENT_SETTINGS_INVALID',
        `connector ${name}: ${parsed.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ')}`,
        { connector: name },
        false,
      );
    }
    const stateDir = join(this.dir, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    return factory.create(name, parsed.data, { configDir: this.dir, stateDir, log: this.log });
  }

  private remember(key: string, result: WireExportResult): void {
    if (this.done.size >= MAX_REMEMBERED) this.done.delete(this.done.keys().next().value!);
    this.done.set(key, result);
  }

  private restartWatchers(): void {
    this.watchers.abort();
    const controller = new AbortController();
    this.watchers = controller;
    for (const [name, c] of this.connectors) {
      if (!c.connector.capabilities.watch || !c.connector.watch) continue;
      void (async () => {
        while (!controller.signal.aborted) {
          try {
            for await (const _ of c.connector.watch!(controller.signal)) this.onChanged(name);
          } catch (err) {
            this.log.warn(`connector ${name}: watch failed (${redact(errorMessage(err))}); trying again in 10 s`);
          }
          await new Promise((r) => setTimeout(r, 10_000).unref());
        }
      })();
    }
  }
}
