/**
 * The agent channel with real processes: `idsync serve` in the service's folder and `idsync agent start` in
 * the agent's. The agent connects out and listens on no TCP port; `agents list` shows it active and
 * connected; each connection needs a fresh credential signed by the registered key (a replay, a forgery or a
 * revoked agent is refused, with its code); the hello negotiates the protocol (another major is refused, a
 * subset of capabilities is kept to); after a restart of the service the agent connects again; a revoked
 * agent is disconnected within seconds and stops.
 */
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { CHANNEL_PATH, CONNECT_AUDIENCE, CONNECT_TYPE, signConnect } from '../../src/agent/channel/token.js';
import { bindWebSocket } from '../../src/agent/channel/websocket.js';
import { Configure, Hello } from '../../src/agent/protocol/methods.js';
import { freePort, idsync, listeningPorts, type Proc, register, startAgent, startService } from './support.js';

let serviceDir: string;
let agentDir: string;
let port: number;
let base: string;
let service: Proc | undefined;
let agent: Proc | undefined;
let agentId: string;
const configFile = () => join(serviceDir, 'idsync.yaml');

beforeAll(async () => {
  serviceDir = mkdtempSync(join(tmpdir(), 'idsync-service-'));
  agentDir = join(mkdtempSync(join(tmpdir(), 'idsync-agent-')), 'agent');
  writeFileSync(configFile(), 'schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  service = await startService(serviceDir, port);
  agentId = await register(configFile(), base, 'onprem', agentDir);
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  await service?.stop();
  rmSync(serviceDir, { recursive: true, force: true });
  rmSync(join(agentDir, '..'), { recursive: true, force: true });
});

async function listed(): Promise<{ id: string; state: string; connectedSince?: string; lastSeen?: string; version: string; outdated: boolean }[]> {
  return JSON.parse((await idsync(['--config', configFile(), 'agents', 'list', '--json'])).out).agents;
}

/** An Upgrade to the channel with `jwt`; resolves with the HTTP refusal or 'open'. */
function tryConnect(jwt: string): Promise<{ status: number; code?: string } | { open: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${CHANNEL_PATH}`, { headers: { authorization: `Bearer ${jwt}` } });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, code: JSON.parse(body).error?.code }));
    });
    ws.on('open', () => resolve({ open: ws }));
    ws.on('error', (e) => reject(e));
  });
}

/** the service records the connection once the agent took its configuration, just after the hello */
async function eventually(state: string): Promise<void> {
  for (let i = 0; i < 300 && (await listed())[0]?.state !== state; i++) await new Promise((r) => setTimeout(r, 100));
  expect((await listed())[0]!.state).toBe(state);
}

const agentKey = () => createPrivateKey(readFileSync(join(agentDir, 'agent-key.pem')));

describe('the agent channel', () => {
  it('connects out, listens on no port, and shows as active in agents list', async () => {
    agent = startAgent(agentDir);
    await agent.waitFor(/connected to ws:\/\/127\.0\.0\.1:\d+\/agent\/v1\/channel \(protocol 1\.0/);
    expect(listeningPorts(agent.child.pid!)).toEqual([]);
    // the service does listen: the check sees listening sockets where there are some
    expect(listeningPorts(service!.child.pid!)).toContain(port);
    await eventually('active');
    const [a] = await listed();
    expect(a).toMatchObject({ id: agentId, state: 'active', outdated: false, connectedSince: expect.any(String) });
  }, 90_000);

  it('refuses a replayed credential, a forged one and one signed far from the service clock, each with its code', async () => {
    const jwt = await signConnect(agentKey(), agentId);
    const first = await tryConnect(jwt);
    expect('open' in first).toBe(true);
    if ('open' in first) first.open.close();
    expect(await tryConnect(jwt)).toEqual({ status: 401, code: 'AGENT_REPLAYED' });
    const forged = await signConnect(generateKeyPairSync('ed25519').privateKey, agentId);
    expect(await tryConnect(forged)).toEqual({ status: 401, code: 'AGENT_PROOF_INVALID' });
    expect(await tryConnect(await signConnect(agentKey(), 'agent-00000000'))).toEqual({ status: 403, code: 'AGENT_UNKNOWN' });
    expect(await tryConnect('garbage')).toEqual({ status: 401, code: 'AGENT_PROOF_INVALID' });
    const past = Math.floor(Date.now() / 1000) - 600;
    const stale = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', typ: CONNECT_TYPE })
      .setSubject(agentId)
      .setAudience(CONNECT_AUDIENCE)
      .setJti('stale-1')
      .setIssuedAt(past)
      .setExpirationTime(past + 60)
      .sign(agentKey());
    expect(await tryConnect(stale)).toEqual({ status: 401, code: 'AGENT_CLOCK_SKEW' });
    // the real agent is still connected
    expect((await listed())[0]!.state).toBe('active');
  }, 60_000);

  it('negotiates: another protocol major is refused; a client naming fewer capabilities gets only those', async () => {
    const open = async () => {
      const r = await tryConnect(await signConnect(agentKey(), agentId));
      if (!('open' in r)) throw new Error(JSON.stringify(r));
      const bound = bindWebSocket(r.open);
      return { ws: r.open, peer: bound.peer };
    };
    const old = await open();
    const refused = old.peer.request(Hello, { protocol: { major: 0, minor: 9 }, agent: { id: agentId, version: '0.0.1', host: 'h' }, capabilities: [] });
    await expect(refused).rejects.toMatchObject({ code: 'AGENT_PROTOCOL_VERSION' });
    await new Promise<void>((resolve) => old.ws.once('close', () => resolve()));

    const older = await open();
    let configured: unknown;
    older.peer.handle(Configure, async (p) => {
      configured = p;
      return { revision: p.revision };
    });
    const answer = await older.peer.request(Hello, {
      protocol: { major: 1, minor: 0 },
      agent: { id: agentId, version: '0.0.9', host: 'older' },
      capabilities: ['import.pages', 'export.batch', 'some-future-flag'],
    });
    expect(answer.capabilities).toEqual(['import.pages', 'export.batch']);
    expect(answer.heartbeatMs).toBeGreaterThan(0);
    for (let i = 0; i < 100 && configured === undefined; i++) await new Promise((r) => setTimeout(r, 100));
    expect(configured).toMatchObject({ connectors: [] });
    older.ws.close();
  }, 60_000);

  it('connects again after the service restarts', async () => {
    const from = agent!.stdout().length + agent!.stderr().length;
    await service!.stop();
    await agent!.waitFor(/connecting again in/, 30_000, from);
    service = await startService(serviceDir, port);
    await agent!.waitFor(/connected to ws:/, 90_000, from);
    await eventually('active');
  }, 150_000);

  it('a revoked agent is disconnected within seconds, stops, and cannot connect again', async () => {
    const r = await idsync(['--config', configFile(), 'agents', 'revoke', agentId]);
    expect(r.code, r.err).toBe(0);
    const ended = await agent!.done;
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain('was revoked');
    expect(await tryConnect(await signConnect(agentKey(), agentId))).toEqual({ status: 403, code: 'AGENT_REVOKED' });
    const restarted = startAgent(agentDir);
    const again = await restarted.done;
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/agent-[0-9a-f]+ was revoked/);
    expect((await listed())[0]!.state).toBe('revoked');
  }, 60_000);
});
