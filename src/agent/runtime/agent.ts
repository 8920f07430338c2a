/**
 * `idsync agent start`: the agent's connection to the service, kept up until stopped. It connects out (a
 * WebSocket over the service's HTTP(S) port, the agent listens on nothing), authenticates with a fresh
 * credential signed by its key, says hello (protocol major, capabilities, its version), receives its
 * group's connector configuration, serves the service's requests, and sends heartbeats. A lost connection is
 * retried with exponential backoff and jitter (a restarting service is not stormed by all its agents at
 * once); a refusal no retry can fix (revoked, unknown, another protocol major) stops the agent with its code.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import WebSocket from 'ws';
import { IdsyncError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import { VERSION } from '../../core/version.js';
import { CHANNEL_PATH, signConnect } from '../channel/token.js';
import { bindWebSocket } from '../channel/websocket.js';
import { loadIdentity } from '../identity.js';
import { AgentProtocolError } from '../protocol/errors.js';
import { DEFAULT_FRAME_LIMIT } from '../protocol/framing.js';
import { CAPABILITIES, PROTOCOL_MAJOR, PROTOCOL_MINOR } from '../protocol/hello.js';
import {
  ConfigPoll,
  Configure,
  ExportBatch,
  Hello,
  ImportClose,
  ImportNext,
  ImportOpen,
  Lookup,
  Ping,
  ReadSchema,
  TestConnector,
  WatchChanged,
} from '../protocol/methods.js';
import type { Peer } from '../protocol/peer.js';
import { ConnectorHost } from './host.js';

export interface AgentLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface AgentRunOptions {
  dir: string;
  /** a CA file for the service's certificate, instead of the one stored at registration */
  ca?: string;
  signal: AbortSignal;
  log: AgentLog;
  env?: NodeJS.ProcessEnv;
  /** reconnect delays: the first, and the most (before jitter) */
  backoff?: { initialMs: number; maxMs: number };
  /** how often the agent asks the service whether its configuration is current (default 10 minutes) */
  configPollMs?: number;
  /** what the agent says its protocol is (tests: an older minor) */
  protocol?: { major: number; minor: number; capabilities: readonly string[] };
}

export const DEFAULT_CONFIG_POLL_MS = 10 * 60_000;

/** close codes the service uses that no retry fixes */
const PERMANENT_CLOSE: Record<number, string> = { 4003: 'AGENT_REVOKED', 1002: 'AGENT_PROTOCOL_VERSION' };
const PERMANENT_REFUSAL = new Set(['AGENT_REVOKED', 'AGENT_UNKNOWN', 'AGENT_PROTOCOL_VERSION']);

interface Outcome {
  /** the service accepted the hello */
  established: boolean;
  /** a refusal no retry fixes */
  fatal?: IdsyncError;
  /** what to say about the end of the connection */
  reason: string;
}

export async function runAgent(options: AgentRunOptions): Promise<void> {
  const { identity, privateKey } = loadIdentity(options.dir);
  const caFile = options.ca ?? identity.ca;
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new IdsyncError('AGENT_SERVICE_UNREACHABLE', `cannot read the CA file ${caFile}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  const url = channelUrl(identity.service);
  const backoff = options.backoff ?? { initialMs: 1000, maxMs: 60_000 };
  let current: Peer | undefined;
  const host = new ConnectorHost(
    options.dir,
    { debug() {}, info: (m) => options.log.info(m), warn: (m) => options.log.warn(m) },
    (connector) => {
      try {
        current?.notify(WatchChanged, { connector });
      } catch {
        // not connected: the service's next cycle finds the change anyway
      }
    },
    options.env,
  );
  let serial = 0;
  let attempt = 0;
  options.log.info(`agent ${identity.id} (group ${identity.group}) connecting to ${identity.service}`);
  try {
    while (!options.signal.aborted) {
      const started = Date.now();
      const mine = ++serial;
      const outcome = await connectOnce(url, identity.id, privateKey, ca, options, host, mine, (p) => (current = p));
      current = undefined;
      await host.dropSessions(mine);
      if (outcome.fatal) throw outcome.fatal;
      if (options.signal.aborted) break;
      // a connection that held for a while starts the backoff again
      if (outcome.established && Date.now() - started > 30_000) attempt = 0;
      if (outcome.established) attempt = Math.min(attempt, 1);
      const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt);
      const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      attempt++;
      options.log.warn(`${outcome.reason}; connecting again in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, options.signal);
    }
  } finally {
    await host.close();
  }
}

function connectOnce(
  url: string,
  agentId: string,
  privateKey: Parameters<typeof signConnect>[0],
  ca: Buffer | undefined,
  options: AgentRunOptions,
  host: ConnectorHost,
  serial: number,
  setPeer: (p: Peer | undefined) => void,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let established = false;
    let settled = false;
    let heartbeat: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearInterval(heartbeat);
      clearInterval(poll);
      options.signal.removeEventListener('abort', onAbort);
      setPeer(undefined);
      resolve(o);
    };
    const onAbort = () => ws?.close(1000, 'agent stopping');
    let ws: WebSocket | undefined;
    void signConnect(privateKey, agentId).then((jwt) => {
      ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${jwt}` },
        ...(ca && { ca }),
        maxPayload: DEFAULT_FRAME_LIMIT,
        handshakeTimeout: 30_000,
        perMessageDeflate: false,
      });
      options.signal.addEventListener('abort', onAbort, { once: true });
      let lastError = '';
      ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d.slice(0, 4096)));
        res.on('end', () => {
          req.destroy();
          let error: { code?: string; message?: string } | undefined;
          try {
            error = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
          } catch {
            error = undefined;
          }
          if (error?.code && error.message) {
            const refusal = new IdsyncError(error.code, error.message);
            if (PERMANENT_REFUSAL.has(error.code)) return finish({ established, fatal: refusal, reason: error.message });
            return finish({ established, reason: `the service refused the connection (${error.code}: ${error.message})` });
          }
          finish({ established, reason: `the service answered HTTP ${res.statusCode} instead of opening the agent channel` });
        });
      });
      ws.on('error', (err) => {
        const e = err as NodeJS.ErrnoException;
        lastError = e.code ?? e.message;
      });
      ws.on('close', (code, reasonBuffer) => {
        const reason = reasonBuffer.toString();
        const permanent = PERMANENT_CLOSE[code];
        if (permanent && (reason === permanent || code === 4003)) {
          return finish({
            established,
            fatal: new IdsyncError(
              permanent,
              permanent === 'AGENT_REVOKED'
                ? `agent ${agentId} was revoked on the service: register it again with a new token`
                : 'the service speaks another protocol major: upgrade the agent (or the service) so both share it',
            ),
            reason,
          });
        }
        finish({
          established,
          reason: established
            ? `the connection to the service closed (${code}${reason ? ` ${reason}` : ''})`
            : `cannot reach the service at ${url} (${lastError || `closed ${code}`})`,
        });
      });
      ws.on('open', () => {
        const socket = ws!;
        const bound = bindWebSocket(socket);
        const peer = bound.peer;
        serve(peer, host, serial);
        const protocol = options.protocol ?? { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR, capabilities: CAPABILITIES };
        peer
          .request(Hello, {
            protocol: { major: protocol.major, minor: protocol.minor },
            agent: { id: agentId, version: VERSION, host: hostname() },
            capabilities: [...protocol.capabilities],
          })
          .then(
            (answer) => {
              established = true;
              setPeer(peer);
              options.log.info(
                `connected to ${url} (protocol ${answer.protocol.major}.${answer.protocol.minor}, heartbeat ${answer.heartbeatMs / 1000} s)`,
              );
              heartbeat = setInterval(() => {
                if (Date.now() - bound.lastReceived() > 3 * answer.heartbeatMs) {
                  options.log.warn('no heartbeat from the service: dropping the connection');
                  socket.terminate();
                  return;
                }
                void peer.request(Ping, {}).catch(() => {});
              }, answer.heartbeatMs);
              // the fallback of a configuration pushed on a change: ask whether ours is still the current one
              if (answer.capabilities.includes('config.poll')) {
                poll = setInterval(() => {
                  void peer.request(ConfigPoll, { revision: host.revision }).then(
                    (r) => {
                      if (!r.current) options.log.info(`configuration poll: revision ${host.revision} is not the service's; it sends the current one`);
                    },
                    () => {},
                  );
                }, options.configPollMs ?? DEFAULT_CONFIG_POLL_MS);
              }
            },
            (err: unknown) => {
              const e = err instanceof AgentProtocolError ? err : new IdsyncError('AGENT_HANDLER_FAILED', String(err));
              if (PERMANENT_REFUSAL.has(e.code)) finish({ established, fatal: e, reason: e.message });
              socket.close(1000);
            },
          );
      });
    }, (err: unknown) => finish({ established, fatal: new IdsyncError('AGENT_NOT_REGISTERED', redact(String(err))), reason: '' }));
  });
}

/** The requests the service sends an agent. */
function serve(peer: Peer, host: ConnectorHost, serial: number): void {
  peer.handle(Ping, async () => ({ now: new Date().toISOString() }));
  peer.handle(Configure, async (p) => ({ revision: p.revision, capabilities: await host.configure(p.revision, p.connectors) }));
  peer.handle(TestConnector, async (p) => {
    await host.connector(p.connector).test();
    return {};
  });
  peer.handle(ReadSchema, async (p) => host.connector(p.connector).schema());
  peer.handle(ImportOpen, async (p) => ({ session: await host.openImport(serial, p.connector, p) }));
  peer.handle(ImportNext, async (p) => host.nextPage(p.session));
  peer.handle(ImportClose, async (p) => {
    await host.closeImport(p.session);
    return {};
  });
  peer.handle(ExportBatch, async (p) => ({ results: await host.exportBatch(p.connector, p.changes) }));
  peer.handle(Lookup, async (p) => ({ objects: await host.lookup(p.connector, p.objectType, p.attribute, p.values) }));
}

/** The channel's ws:// or wss:// URL under the service's base URL (a path prefix kept). */
export function channelUrl(service: string): string {
  const url = new URL(service);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/$/, '')}${CHANNEL_PATH}`;
  return url.toString();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
