import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentStore, agentState } from '../../src/store/agents.js';
import { RECORD_HARNESSES } from './records/harness.js';

const key = (n: number) => ({
  host: `host${n}`,
  version: '0.1.0',
  thumbprint: `thumb${n}`,
  publicKey: `{"x":"${n}"}`,
});

describe.each(RECORD_HARNESSES)('agent store in $name', (harness) => {
  let state: Awaited<ReturnType<typeof harness.create>>;
  let store: AgentStore;
  beforeEach(async () => {
    state = await harness.create();
    store = await AgentStore.open(state.location);
  });
  afterEach(async () => {
    await store.close();
    await state.cleanup();
  });

  it('a registration token is stored only as a hash and registers one agent once', async () => {
    const { token } = await store.createToken('onprem', 60_000);
    expect(token).toMatch(/^idsync_agentreg_[A-Za-z0-9_-]{43}$/);
    if (harness.name === 'SQLite')
      expect(statSync(join(state.location.stateDir, 'agents.db')).mode & 0o077).toBe(0);
    else
      expect(
        (await state.exec('SELECT encode(hash, $1) AS h FROM registration_tokens', ['hex']))[0]!.h,
      ).not.toContain(Buffer.from(token).toString('hex'));
    const agent = await store.register(token, key(1));
    expect(agent).toMatchObject({ group: 'onprem', host: 'host1', thumbprint: 'thumb1' });
    await expect(store.register(token, key(2))).rejects.toThrow(
      expect.objectContaining({ code: 'AGENT_TOKEN_INVALID' }),
    );
    expect((await store.list()).map((a) => a.id)).toEqual([agent.id]);
  });

  it('an expired token is refused as expired and registers nothing', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const { token } = await store.createToken('onprem', 60_000, now);
    await expect(store.register(token, key(1), new Date('2026-01-01T00:01:00Z'))).rejects.toThrow(
      expect.objectContaining({
        code: 'AGENT_TOKEN_EXPIRED',
        message: expect.stringContaining('idsync agents token onprem'),
      }),
    );
    expect(await store.list()).toEqual([]);
  });

  it('a key registered already is refused and the token stays usable for the agent it was meant for', async () => {
    await store.register((await store.createToken('a', 60_000)).token, key(1));
    const { token } = await store.createToken('a', 60_000);
    await expect(store.register(token, key(1))).rejects.toThrow(
      expect.objectContaining({ code: 'AGENT_PROOF_INVALID' }),
    );
    expect((await store.register(token, key(2))).host).toBe('host2');
  });

  it('revokes an agent once; an unknown id is a coded error; bad group names are refused', async () => {
    const agent = await store.register((await store.createToken('a', 60_000)).token, key(1));
    expect(await store.revoke(agent.id)).toBe(true);
    expect(await store.revoke(agent.id)).toBe(false);
    expect((await store.get(agent.id))?.revoked).toEqual(expect.any(String));
    await expect(store.revoke('agent-nope')).rejects.toThrow(
      expect.objectContaining({ code: 'AGENT_UNKNOWN' }),
    );
    await expect(store.createToken('on prem', 1000)).rejects.toThrow(
      expect.objectContaining({ code: 'AGENT_GROUP_INVALID' }),
    );
  });

  it('two registrations racing with one token through two openings (two nodes) make one agent', async () => {
    const other = await AgentStore.open(state.location);
    try {
      const { token } = await store.createToken('a', 60_000);
      const results = await Promise.allSettled([
        store.register(token, key(1)),
        other.register(token, key(2)),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({
        reason: expect.objectContaining({ code: 'AGENT_TOKEN_INVALID' }),
      });
      expect(await other.list()).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('a connection credential is used once, seen from every opening; connection state is recorded', async () => {
    const other = await AgentStore.open(state.location);
    try {
      const until = Math.floor(Date.now() / 1000) + 60;
      expect(await store.useCredential('jti-1', until)).toBe(true);
      expect(await other.useCredential('jti-1', until)).toBe(false);
      const agent = await store.register((await store.createToken('a', 60_000)).token, key(1));
      const now = new Date();
      await store.connected(agent.id, '0.2.0', 'hostX', now);
      expect(await other.get(agent.id)).toMatchObject({
        version: '0.2.0',
        host: 'hostX',
        connectedSince: now.toISOString(),
        lastSeen: now.toISOString(),
      });
      await other.disconnected(agent.id);
      expect((await store.get(agent.id))?.connectedSince).toBeUndefined();
    } finally {
      await other.close();
    }
  });
});

describe('agent state', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  it('is active while connected and heard from within a minute, inactive otherwise, revoked above all', () => {
    const connected = { connectedSince: '2026-12-07T11:00:00Z', lastSeen: '2026-12-07T11:59:30Z' };
    expect(agentState(connected, now)).toBe('active');
    expect(agentState({ ...connected, lastSeen: '2026-12-07T11:58:30Z' }, now)).toBe('inactive');
    expect(agentState({ lastSeen: '2026-12-07T11:59:59Z' }, now)).toBe('inactive');
    expect(agentState({ ...connected, revoked: '2026-12-07T11:59:00Z' }, now)).toBe('revoked');
  });
});
