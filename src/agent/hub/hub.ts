/**
 * The service's side of the agent channel: every live agent connection, by group. A connection is accepted
 * only with a fresh credential signed by a registered, unrevoked agent's key (channel/token.ts); its first
 * request must be the hello (protocol major, capabilities); then the service sends the group's connector
 * configuration and the connection is ready for operations. Heartbeats run both ways (a connection silent for
 * three heartbeats is dropped); a revoked agent's connections are closed within `revokeCheckMs`.
 *
 * Events (for notifications and metrics): 'group-empty' (group, lastAgentId) when a group loses its last
 * ready connection, 'group-restored' (group, agentId) when a group that had none gets one, 'connected' and
 * 'disconnected' (ConnectedAgent), and 'watch' (group, connector) when an agent reports a change.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { JWK } from 'jose';
import type { z } from 'zod';
import { WebSocketServer, type WebSocket } from 'ws';
import { IdsyncError } from '../../core/errors.js';
import type { AgentStore } from '../../store/agents.js';
import { bindWebSocket } from '../channel/websocket.js';
import { CHANNEL_PATH, claimedAgent, verifyConnect } from '../channel/token.js';
import { AgentProtocolError } from '../protocol/errors.js';
import { DEFAULT_FRAME_LIMIT } from '../protocol/framing.js';
import { CAPABILITIES, negotiate, PROTOCOL_MAJOR, PROTOCOL_MINOR, type Capability } from '../protocol/hello.js';
import { ConfigPoll, Configure, Hello, Ping, type RequestType, WatchChanged, type wireCapabilities } from '../protocol/methods.js';
import type { Peer } from '../protocol/peer.js';
import type { ScopeFilter } from '../../rules/types.js';

type WireCapabilities = z.infer<typeof wireCapabilities>;

export const DEFAULT_HEARTBEAT_MS = 10_000;

/** The configuration of one group's connectors as the agents receive it. */
export interface GroupConfig {
  connectors: { name: string; type: string; settings: unknown; scope?: Record<string, ScopeFilter[]> }[];
}

export interface HubOptions {
  store: AgentStore;
  /** idsync's version on the service: agents reporting another are shown as outdated */
  version: string;
  /** the connectors of a group, with their settings as idsync.yaml has them (agent secrets unresolved) */
  configFor(group: string): GroupConfig;
  heartbeatMs?: number;
  revokeCheckMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void };
}

export interface ConnectedAgent {
  id: string;
  group: string;
  host: string;
  version: string;
  /** the agent's version differs from the service's */
  outdated: boolean;
  connectedSince: string;
  lastSeen: string;
  protocol: { major: number; minor: number };
  capabilities: Capability[];
  /** requests of the service in flight on this connection */
  inFlight: number;
}

interface Connection {
  /** unique per connection (an agent may have two for a moment while it reconnects) */
  serial: number;
  agentId: string;
  group: string;
  host: string;
  version: string;
  since: Date;
  lastSeenWritten: number;
  protocol: { major: number; minor: number };
  capabilities: Capability[];
  ws: WebSocket;
  peer: Peer;
  lastReceived(): number;
  ready: boolean;
  revision?: string;
}

const REFUSAL_STATUS: Record<string, number> = {
  AGENT_UNKNOWN: 403,
  AGENT_REVOKED: 403,
  AGENT_PROOF_INVALID: 401,
  AGENT_CLOCK_SKEW: 401,
  AGENT_REPLAYED: 401,
};

export class AgentHub extends EventEmitter {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: DEFAULT_FRAME_LIMIT });
  private readonly connections = new Map<number, Connection>();
  private serial = 0;
  private readonly heartbeatMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly groupsWithAgents = new Set<string>();
  private closed = false;
  private readonly started: Promise<void>;
  /** round-robin position per group */
  private readonly turn = new Map<string, number>();
  private readonly capabilities = new Map<string, WireCapabilities>();

  constructor(private readonly options: HubOptions) {
    super();
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    // connections recorded before any of this process's own (closed with the process that held them)
    this.started = options.store.disconnectAll().catch((err: unknown) => this.storeFailed(err));
    const heartbeat = setInterval(() => this.heartbeat(), this.heartbeatMs);
    const revocations = setInterval(
      () => void this.checkRevocations().catch((err: unknown) => this.storeFailed(err)),
      options.revokeCheckMs ?? 2000,
    );
    heartbeat.unref();
    revocations.unref();
    this.timers.push(heartbeat, revocations);
  }

  /** For the HTTP server's 'upgrade' event: true when the request was the channel's (handled here). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (request.url ?? '').split('?')[0];
    if (path !== CHANNEL_PATH) return false;
    socket.on('error', () => {}); // a peer that vanished mid-handshake: nothing to report
    void this.accept(request, socket, head);
    return true;
  }

  /** The live connections that said hello and received their configuration. */
  connectedAgents(): ConnectedAgent[] {
    return [...this.connections.values()].filter((c) => c.ready).map((c) => this.describe(c));
  }

  /** Whether at least one agent of `group` is ready. */
  hasAgent(group: string): boolean {
    return [...this.connections.values()].some((c) => c.ready && c.group === group);
  }

  /**
   * Sends one request to one ready agent of `group` (the least busy; round-robin among equals), skipping the
   * connections in `exclude`. Throws AGENT_GROUP_OFFLINE when none is left. Returns the answer and the
   * connection's serial (to exclude it when the operation has to move to another agent).
   */
  async call<P, R>(
    group: string,
    type: RequestType<P, R>,
    params: P,
    options: { exclude?: ReadonlySet<number>; signal?: AbortSignal } = {},
  ): Promise<{ result: R; via: number }> {
    const c = this.pick(group, options.exclude);
    const result = await c.peer.request(type, params, options.signal ? { signal: options.signal } : {});
    return { result, via: c.serial };
  }

  /** Sends one request on the connection `via` (an import session lives on one agent). */
  async callOn<P, R>(via: number, type: RequestType<P, R>, params: P): Promise<R> {
    const c = this.connections.get(via);
    if (!c) throw new AgentProtocolError('AGENT_CONNECTION_LOST', 'the agent holding this operation is no longer connected');
    return c.peer.request(type, params);
  }

  /** A connector's capabilities as an agent of its group reported them (undefined: no agent said yet). */
  capabilitiesOf(group: string, connector: string): WireCapabilities | undefined {
    return this.capabilities.get(`${group}\u0000${connector}`);
  }

  /**
   * Sends the configuration to the connected agents whose revision is not the current one (after a config
   * reload); resolves when each has answered or failed (a failure is logged: its 10-minute poll, or its next
   * connection, brings the configuration again).
   */
  async reconfigure(): Promise<void> {
    const sent = [...this.connections.values()]
      .filter((c) => c.ready && c.revision !== revisionOf(this.options.configFor(c.group)))
      .map((c) =>
        this.configure(c).catch((err: unknown) =>
          this.options.log?.warn(`agent ${c.agentId}: the new configuration was not accepted (${(err as IdsyncError).code ?? 'error'}: ${(err as Error).message})`),
        ),
      );
    await Promise.all(sent);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.connections.values()) c.ws.close(1001, 'service stopping');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const c of this.connections.values()) c.ws.terminate();
  }

  private pick(group: string, exclude?: ReadonlySet<number>): Connection {
    const ready = [...this.connections.values()].filter((c) => c.ready && c.group === group && !exclude?.has(c.serial));
    if (ready.length === 0) {
      throw new AgentProtocolError(
        'AGENT_GROUP_OFFLINE',
        `no agent of group ${group} is connected${exclude && exclude.size > 0 ? ' (besides those that failed)' : ''}: start one with \`idsync agent start\` on a machine of that group`,
        true,
      );
    }
    const least = Math.min(...ready.map((c) => c.peer.inFlight));
    const candidates = ready.filter((c) => c.peer.inFlight === least);
    const n = (this.turn.get(group) ?? 0) + 1;
    this.turn.set(group, n);
    return candidates[n % candidates.length]!;
  }

  private describe(c: Connection): ConnectedAgent {
    return {
      id: c.agentId,
      group: c.group,
      host: c.host,
      version: c.version,
      outdated: c.version !== this.options.version,
      connectedSince: c.since.toISOString(),
      lastSeen: new Date(c.lastReceived()).toISOString(),
      protocol: c.protocol,
      capabilities: c.capabilities,
      inFlight: c.peer.inFlight,
    };
  }

  private async accept(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let agent: { id: string; group: string; host: string };
    try {
      if (this.closed) throw new IdsyncError('AGENT_SERVICE_UNREACHABLE', 'the service is stopping');
      agent = await this.authenticate(request.headers.authorization);
    } catch (err) {
      const e = err instanceof IdsyncError ? err : new IdsyncError('AGENT_PROOF_INVALID', 'the connection could not be authenticated');
      this.options.log?.warn(`agent connection refused (${e.code}) from ${request.socket.remoteAddress ?? 'unknown'}`);
      refuse(socket, REFUSAL_STATUS[e.code] ?? 503, e);
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.open(ws, agent));
  }

  private async authenticate(authorization: string | undefined): Promise<{ id: string; group: string; host: string }> {
    const jwt = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    if (!jwt) throw new IdsyncError('AGENT_PROOF_INVALID', 'an agent connection needs its credential (Authorization: Bearer)');
    const id = claimedAgent(jwt);
    const record = await this.options.store.get(id);
    if (!record) throw new IdsyncError('AGENT_UNKNOWN', `no agent ${id} is registered with this service: register it again with a new token`);
    if (record.revoked) throw new IdsyncError('AGENT_REVOKED', `agent ${id} was revoked at ${record.revoked}: register it again with a new token`);
    const verified = await verifyConnect(jwt, JSON.parse(record.publicKey) as JWK);
    if (
      verified.agentId !== id ||
      !(await this.options.store.useCredential(verified.jti, verified.validUntil))
    ) {
      throw new IdsyncError('AGENT_REPLAYED', 'this connection credential was used before: each connection signs a new one');
    }
    return { id, group: record.group, host: record.host };
  }

  private open(ws: WebSocket, agent: { id: string; group: string; host: string }): void {
    const bound = bindWebSocket(ws);
    const c: Connection = {
      serial: ++this.serial,
      agentId: agent.id,
      group: agent.group,
      host: agent.host,
      version: 'unknown',
      since: new Date(),
      lastSeenWritten: 0,
      protocol: { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR },
      capabilities: [],
      ws,
      peer: bound.peer,
      lastReceived: bound.lastReceived,
      ready: false,
    };
    this.connections.set(c.serial, c);
    let helloDone = false;
    // Until the hello, no other request is served.
    bound.peer.handle(Hello, async (params) => {
      if (helloDone) throw new AgentProtocolError('AGENT_HELLO_EXPECTED', 'a second hello on one connection');
      if (params.agent.id !== agent.id) throw new AgentProtocolError('AGENT_HELLO_EXPECTED', 'the hello names another agent than the credential');
      let negotiated: ReturnType<typeof negotiate>;
      try {
        negotiated = negotiate(
          { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR, capabilities: CAPABILITIES },
          { major: params.protocol.major, minor: params.protocol.minor, capabilities: params.capabilities },
        );
      } catch (err) {
        setTimeout(() => ws.close(1002, 'AGENT_PROTOCOL_VERSION'), 100).unref();
        throw err;
      }
      helloDone = true;
      c.version = params.agent.version;
      c.host = params.agent.host;
      c.protocol = { major: PROTOCOL_MAJOR, minor: negotiated.minor };
      c.capabilities = negotiated.capabilities;
      setImmediate(() => void this.ready(c));
      return { protocol: { major: PROTOCOL_MAJOR, minor: negotiated.minor }, capabilities: negotiated.capabilities, heartbeatMs: this.heartbeatMs };
    });
    bound.peer.handle(Ping, async () => ({ now: new Date().toISOString() }));
    bound.peer.handle(ConfigPoll, async (p) => {
      if (!c.ready || p.revision === revisionOf(this.options.configFor(c.group))) return { current: true };
      setImmediate(() => void this.configure(c).catch(() => {}));
      return { current: false };
    });
    bound.peer.onNotification(WatchChanged, (p) => {
      if (c.ready) this.emit('watch', c.group, p.connector);
    });
    ws.on('close', () => this.closeConnection(c));
    // an agent that does not say hello in time is not one
    setTimeout(() => {
      if (!helloDone && ws.readyState === ws.OPEN) ws.close(1008, 'AGENT_HELLO_EXPECTED');
    }, 30_000).unref();
  }

  private async ready(c: Connection): Promise<void> {
    try {
      await this.configure(c);
    } catch (err) {
      this.options.log?.warn(`agent ${c.agentId}: its configuration was not accepted (${(err as IdsyncError).code ?? 'error'}); closing the connection`);
      c.ws.close(1011, 'configure failed');
      return;
    }
    if (!this.connections.has(c.serial)) return;
    await this.started;
    await this.options.store
      .connected(c.agentId, c.version, c.host, c.since)
      .catch((err: unknown) => this.storeFailed(err));
    // closed while its connection was being recorded: recorded as gone again, unless another one of it is up
    if (!this.connections.has(c.serial)) {
      const stillConnected = [...this.connections.values()].some((o) => o.agentId === c.agentId && o.ready);
      if (!stillConnected && !this.closed)
        void this.options.store.disconnected(c.agentId).catch((err: unknown) => this.storeFailed(err));
      return;
    }
    c.ready = true;
    const restored = !this.groupsWithAgents.has(c.group);
    this.groupsWithAgents.add(c.group);
    this.options.log?.info(`agent ${c.agentId} (group ${c.group}, host ${c.host}, idsync ${c.version}) connected`);
    this.emit('connected', this.describe(c));
    if (restored) this.emit('group-restored', c.group, c.agentId);
  }

  private async configure(c: Connection): Promise<void> {
    const config = this.options.configFor(c.group);
    const revision = revisionOf(config);
    const answer = await c.peer.request(Configure, { revision, connectors: config.connectors });
    c.revision = answer.revision;
    for (const [name, caps] of Object.entries(answer.capabilities ?? {})) this.capabilities.set(`${c.group}\u0000${name}`, caps);
  }

  private closeConnection(c: Connection): void {
    if (!this.connections.delete(c.serial)) return;
    c.peer.close();
    if (!c.ready) return;
    const stillConnected = [...this.connections.values()].some((o) => o.agentId === c.agentId && o.ready);
    if (!stillConnected && !this.closed)
      void this.options.store.disconnected(c.agentId).catch((err: unknown) => this.storeFailed(err));
    this.options.log?.info(`agent ${c.agentId} (group ${c.group}) disconnected`);
    this.emit('disconnected', this.describe(c));
    if (!this.hasAgent(c.group)) {
      this.groupsWithAgents.delete(c.group);
      this.emit('group-empty', c.group, c.agentId);
    }
  }

  private heartbeat(): void {
    const now = Date.now();
    for (const c of this.connections.values()) {
      if (now - c.lastReceived() > 3 * this.heartbeatMs) {
        this.options.log?.warn(`agent ${c.agentId}: no heartbeat for ${Math.round((now - c.lastReceived()) / 1000)} s; dropping the connection`);
        c.ws.terminate();
        this.closeConnection(c);
        continue;
      }
      if (!c.ready) continue;
      void c.peer.request(Ping, {}).catch(() => {});
      if (now - c.lastSeenWritten >= this.heartbeatMs) {
        c.lastSeenWritten = now;
        void this.options.store
          .seen(c.agentId, c.version, new Date(c.lastReceived()))
          .catch((err: unknown) => this.storeFailed(err));
      }
    }
  }

  /** A write of the agent store that failed (the database unreachable a moment): logged; the next heartbeat writes again. */
  private storeFailed(err: unknown): void {
    this.options.log?.warn(`the agent store could not be written: ${(err as Error).message}`);
  }

  private async checkRevocations(): Promise<void> {
    const ids = new Set([...this.connections.values()].map((c) => c.agentId));
    for (const id of ids) {
      const record = await this.options.store.get(id);
      if (record && !record.revoked) continue;
      for (const c of this.connections.values()) {
        if (c.agentId !== id) continue;
        this.options.log?.info(`agent ${id} was revoked: closing its connection`);
        c.ws.close(4003, 'AGENT_REVOKED');
        setTimeout(() => c.ws.terminate(), 2000).unref();
      }
    }
  }
}

/** The revision of a group's configuration: what an agent that has it echoes. */
function revisionOf(config: GroupConfig): string {
  return createHash('sha256').update(JSON.stringify(config.connectors)).digest('hex').slice(0, 16);
}

/** Answers the Upgrade request with an HTTP error the agent reads: { error: { code, message, retryable } }. */
function refuse(socket: Duplex, status: number, err: IdsyncError): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message, retryable: status >= 500 } });
  const reason = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service Unavailable';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
