import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectorError } from '../../../src/core/errors.js';
import { registerSecret } from '../../../src/core/redact.js';
import { AgentProtocolError } from '../../../src/agent/protocol/errors.js';
import { ExportBatch, Ping, type RequestType } from '../../../src/agent/protocol/methods.js';
import { Peer } from '../../../src/agent/protocol/peer.js';

/** two peers joined by an in-memory transport that delivers frames asynchronously, as a socket does */
function pair(options: { maxParallel?: number } = {}) {
  const errors: AgentProtocolError[] = [];
  const frames: string[] = [];
  const service: Peer = new Peer({
    send: (f) => {
      frames.push(f);
      setImmediate(() => agent.receive(f));
    },
    onProtocolError: (e) => errors.push(e),
  });
  const agent: Peer = new Peer({
    send: (f) => {
      frames.push(f);
      setImmediate(() => service.receive(f));
    },
    onProtocolError: (e) => errors.push(e),
    ...options,
  });
  return { service, agent, errors, frames };
}

const Echo: RequestType<{ text: string }, { text: string }> = {
  method: 'test.echo',
  servedBy: 'both',
  params: z.object({ text: z.string() }),
  result: z.object({ text: z.string() }),
};

const Wait: RequestType<{ ms: number }, { waited: boolean }> = {
  method: 'test.wait',
  servedBy: 'agent',
  params: z.object({ ms: z.number() }),
  result: z.object({ waited: z.boolean() }),
};

function waitHandler(aborts: string[]) {
  return (p: { ms: number }, signal: AbortSignal) =>
    new Promise<{ waited: boolean }>((resolve) => {
      const t = setTimeout(() => resolve({ waited: true }), p.ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        aborts.push((signal.reason as AgentProtocolError).code);
        resolve({ waited: false });
      });
    });
}

describe('agent protocol peer', () => {
  it('each side numbers its own requests: both sides sending request 1 at once get their own answers', async () => {
    const { service, agent, frames } = pair();
    service.handle(Echo, async (p) => ({ text: `service:${p.text}` }));
    agent.handle(Echo, async (p) => ({ text: `agent:${p.text}` }));
    const [a, b] = await Promise.all([service.request(Echo, { text: 'x' }), agent.request(Echo, { text: 'y' })]);
    expect(a).toEqual({ text: 'agent:x' });
    expect(b).toEqual({ text: 'service:y' });
    const requests = frames.map((f) => JSON.parse(f)).filter((m) => m.kind === 'request');
    expect(requests.map((m) => m.id)).toEqual([1, 1]);
  });

  it('refuses unknown methods, params and results that do not match the schema, each with its code', async () => {
    const { service, agent } = pair();
    await expect(service.request(Echo, { text: 'x' })).rejects.toMatchObject({ code: 'AGENT_METHOD_UNKNOWN' });
    let ran = false;
    agent.handle(Echo, async (p) => {
      ran = true;
      return p;
    });
    await expect(service.request(Echo, { text: 5 } as never)).rejects.toMatchObject({
      code: 'AGENT_PARAMS_INVALID',
      retryable: false,
    });
    expect(ran).toBe(false);
    agent.handle(Ping, async () => ({ now: 42 }) as never);
    await expect(service.request(Ping, {})).rejects.toMatchObject({ code: 'AGENT_RESULT_INVALID' });
  });

  it('a cancelled request aborts the handler on the other side, and its late answer is dropped quietly', async () => {
    const { service, agent, errors } = pair();
    const aborts: string[] = [];
    agent.handle(Wait, waitHandler(aborts));
    const controller = new AbortController();
    const call = service.request(Wait, { ms: 5000 }, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'AGENT_CANCELLED' });
    await new Promise((r) => setTimeout(r, 20));
    expect(aborts).toEqual(['AGENT_CANCELLED']);
    expect(errors).toEqual([]);
    expect(service.inFlight).toBe(0);
  });

  it('a lost connection fails pending requests with a retryable code and aborts running handlers', async () => {
    const { service, agent } = pair();
    const aborts: string[] = [];
    agent.handle(Wait, waitHandler(aborts));
    const call = service.request(Wait, { ms: 5000 });
    await new Promise((r) => setTimeout(r, 20));
    service.close();
    agent.close();
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentProtocolError);
    expect(err).toMatchObject({ code: 'AGENT_CONNECTION_LOST', retryable: true });
    expect(aborts).toEqual(['AGENT_CONNECTION_LOST']);
    await expect(service.request(Wait, { ms: 1 })).rejects.toMatchObject({ code: 'AGENT_CONNECTION_LOST' });
  });

  it('caps the handlers running at once: the one beyond is answered AGENT_BUSY, retryable', async () => {
    const { service, agent } = pair({ maxParallel: 2 });
    agent.handle(Wait, waitHandler([]));
    const calls = [1, 2, 3].map(() => service.request(Wait, { ms: 50 }).then((r) => r, (e: unknown) => e));
    const [a, b, c] = await Promise.all(calls);
    expect(a).toEqual({ waited: true });
    expect(b).toEqual({ waited: true });
    expect(c).toMatchObject({ code: 'AGENT_BUSY', retryable: true });
  });

  it("keeps a handler's code, place and retryable; an uncoded error crosses redacted", async () => {
    const { service, agent } = pair();
    agent.handle(ExportBatch, async (p) => {
      throw new ConnectorError('LDAP_BIND_FAILED', 'bind refused', { connector: p.connector }, true);
    });
    await expect(service.request(ExportBatch, { connector: 'corp', changes: [] })).rejects.toMatchObject({
      code: 'LDAP_BIND_FAILED',
      retryable: true,
      place: { connector: 'corp' },
    });
    registerSecret('s3cret-Passw0rd');
    agent.handle(Echo, async () => {
      throw new Error('login failed for password s3cret-Passw0rd');
    });
    const err = (await service.request(Echo, { text: 'x' }).catch((e: unknown) => e)) as AgentProtocolError;
    expect(err.code).toBe('AGENT_HANDLER_FAILED');
    expect(err.message).not.toContain('s3cret-Passw0rd');
  });

  it('reports a response to a request that was never sent', async () => {
    const { service, errors } = pair();
    service.receive(JSON.stringify({ kind: 'response', id: 99, result: {} }));
    expect(errors.map((e) => e.code)).toEqual(['AGENT_RESPONSE_UNEXPECTED']);
  });
});
