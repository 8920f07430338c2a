import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentStore, agentState } from '../../src/store/agents.js';

let dir: string;
let store: AgentStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-agents-'));
  store = new AgentStore(join(dir, 'state', 'agents.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const key = (n: number) => ({ host: `host${n}`, version: '0.1.0', thumbprint: `thumb${n}`, publicKey: `{"x":"${n}"}` });

describe('agent store', () => {
  it('a registration token is stored only as a hash, in a private file, and registers one agent once', () => {
    const { token } = store.createToken('onprem', 60_000);
    expect(token).toMatch(/^idsync_agentreg_[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(dir, 'state', 'agents.db')).mode & 0o077).toBe(0);
    const agent = store.register(token, key(1));
    expect(agent).toMatchObject({ group: 'onprem', host: 'host1', thumbprint: 'thumb1' });
    expect(() => store.register(token, key(2))).toThrow(expect.objectContaining({ code: 'AGENT_TOKEN_INVALID' }));
    expect(store.list().map((a) => a.id)).toEqual([agent.id]);
  });

  it('an expired token is refused as expired and registers nothing', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const { token } = store.createToken('onprem', 60_000, now);
    expect(() => store.register(token, key(1), new Date('2026-01-01T00:01:00Z'))).toThrow(
      expect.objectContaining({ code: 'AGENT_TOKEN_EXPIRED', message: expect.stringContaining('idsync agents token onprem') }),
    );
    expect(store.list()).toEqual([]);
  });

  it('a key registered already is refused and the token stays usable for the agent it was meant for', () => {
    store.register(store.createToken('a', 60_000).token, key(1));
    const { token } = store.createToken('a', 60_000);
    expect(() => store.register(token, key(1))).toThrow(expect.objectContaining({ code: 'AGENT_PROOF_INVALID' }));
    expect(store.register(token, key(2)).host).toBe('host2');
  });

  it('revokes an agent once; an unknown id is a coded error; bad group names are refused', () => {
    const agent = store.register(store.createToken('a', 60_000).token, key(1));
    expect(store.revoke(agent.id)).toBe(true);
    expect(store.revoke(agent.id)).toBe(false);
    expect(store.get(agent.id)?.revoked).toEqual(expect.any(String));
    expect(() => store.revoke('agent-nope')).toThrow(expect.objectContaining({ code: 'AGENT_UNKNOWN' }));
    expect(() => store.createToken('on prem', 1000)).toThrow(expect.objectContaining({ code: 'AGENT_GROUP_INVALID' }));
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
