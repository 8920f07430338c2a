/**
 * Agent registration as an administrator deploys it: `idsync serve` in one folder, `idsync agent register`
 * run from another (the agent's machine), each a real process. The private key stays in the agent's folder;
 * a token works once and not after it expires; a registration not signed by the key it presents, or signed
 * at a time far from the service's, is refused with a code; revocation shows in `idsync agents list`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRATION_AUDIENCE, REGISTRATION_TYPE, REGISTER_PATH } from '../../src/agent/registration.js';
import { main } from '../../src/cli/main.js';
import { runCli, startCli } from '../helpers/cli.js';

let serviceDir: string;
let agentHome: string;
let base: string;
let stopService: () => Promise<void>;
const config = () => ['--config', join(serviceDir, 'idsync.yaml')];

/** the CLI in this process (the service-side admin commands; the agent side runs as its own process) */
async function idsync(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

async function token(ttl = '1h'): Promise<string> {
  const r = await idsync([...config(), 'agents', 'token', 'onprem', '--ttl', ttl]);
  expect(r.code, r.err).toBe(0);
  return r.out.trim();
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

async function postRegistration(jwt: string): Promise<{ status: number; body: { error?: { code: string } } }> {
  const res = await fetch(new URL(REGISTER_PATH, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ registration: jwt }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

beforeAll(async () => {
  serviceDir = mkdtempSync(join(tmpdir(), 'idsync-service-'));
  agentHome = mkdtempSync(join(tmpdir(), 'idsync-agent-'));
  writeFileSync(join(serviceDir, 'idsync.yaml'), 'schedule: { interval: 1h }\nconnectors:\n  directory: { type: builtin }\n');
  const { child, done } = startCli([...config(), 'serve', '--port', '0', '--quiet']);
  let stderr = '';
  base = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /endpoint (http:\/\/[^/\s]+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  stopService = async () => {
    child.kill('SIGTERM');
    await done;
  };
}, 60_000);

afterAll(async () => {
  await stopService?.();
  rmSync(serviceDir, { recursive: true, force: true });
  rmSync(agentHome, { recursive: true, force: true });
});

describe('idsync agent register and idsync agents', () => {
  it('registers an agent whose private key stays in its own folder; the token works once', async () => {
    const reg = await token();
    const r = await runCli(['agent', 'register', base, reg, '--dir', join(agentHome, 'agent')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Agent agent-[0-9a-f]{8} registered in group onprem/);

    const dir = join(agentHome, 'agent');
    expect(statSync(join(dir, 'agent-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
    const identity = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8'));
    expect(identity).toMatchObject({ group: 'onprem', service: base });

    // neither the private key (PEM body or raw seed) nor the registration token is anywhere in the service's folder
    const pem = readFileSync(join(dir, 'agent-key.pem'), 'utf8');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const seed = der.subarray(der.length - 32);
    const files = filesUnder(serviceDir);
    expect(files.some((f) => f.endsWith('agents.db'))).toBe(true);
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.includes(seed), f).toBe(false);
      expect(bytes.includes(Buffer.from(seed.toString('base64url'))), f).toBe(false);
      expect(bytes.includes(Buffer.from(reg)), f).toBe(false);
    }

    const listed = await idsync([...config(), 'agents', 'list', '--json']);
    const agents = JSON.parse(listed.out).agents;
    expect(agents).toEqual([
      expect.objectContaining({ id: identity.id, group: 'onprem', state: 'inactive', outdated: false }),
    ]);
    expect(agents[0].publicKey).toBeUndefined();

    // the same token again, from another folder: refused, and that folder gets no key
    const again = await idsync(['agent', 'register', base, reg, '--dir', join(agentHome, 'second')]);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain('unknown or was already used');
    expect(existsSync(join(agentHome, 'second', 'agent-key.pem'))).toBe(false);
    // and a folder that holds a registration is not overwritten
    const over = await idsync(['agent', 'register', base, await token(), '--dir', dir]);
    expect(over.err).toContain('already holds an agent registration');
    expect(readFileSync(join(dir, 'agent-key.pem'), 'utf8')).toBe(pem);
  }, 60_000);

  it('an expired token is refused as expired', async () => {
    const reg = await token('1s');
    await new Promise((r) => setTimeout(r, 1500));
    const r = await idsync(['agent', 'register', base, reg, '--dir', join(agentHome, 'late')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/registration token expired at .*idsync agents token onprem/);
  });

  it('a registration not signed by the key it presents is refused, and does not use up the token', async () => {
    const reg = await token();
    const signer = generateKeyPairSync('ed25519');
    const presented = generateKeyPairSync('ed25519');
    const forged = await new SignJWT({ token: reg, host: 'evil', version: '0.1.0' })
      .setProtectedHeader({ alg: 'EdDSA', typ: REGISTRATION_TYPE, jwk: await exportJWK(presented.publicKey) })
      .setAudience(REGISTRATION_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(signer.privateKey);
    expect(await postRegistration(forged)).toMatchObject({ status: 401, body: { error: { code: 'AGENT_PROOF_INVALID' } } });
    const garbage = await postRegistration('not.a.jwt');
    expect(garbage).toMatchObject({ status: 401, body: { error: { code: 'AGENT_PROOF_INVALID' } } });
    const r = await idsync(['agent', 'register', base, reg, '--dir', join(agentHome, 'honest')]);
    expect(r.code, r.err).toBe(0);
  });

  it("a registration signed ten minutes ago (a replay, or the agent's clock) is refused as clock skew", async () => {
    const reg = await token();
    const key = generateKeyPairSync('ed25519');
    const past = Math.floor(Date.now() / 1000) - 600;
    const old = await new SignJWT({ token: reg, host: 'h', version: '0.1.0' })
      .setProtectedHeader({ alg: 'EdDSA', typ: REGISTRATION_TYPE, jwk: await exportJWK(key.publicKey) })
      .setAudience(REGISTRATION_AUDIENCE)
      .setIssuedAt(past)
      .setExpirationTime(past + 300)
      .sign(key.privateKey);
    expect(await postRegistration(old)).toMatchObject({ status: 401, body: { error: { code: 'AGENT_CLOCK_SKEW' } } });
  });

  it('revokes an agent: the list shows it revoked; an unknown id is an error', async () => {
    const before = JSON.parse((await idsync([...config(), 'agents', 'list', '--json'])).out).agents;
    const id = before[0].id as string;
    const r = await idsync([...config(), 'agents', 'revoke', id]);
    expect(r.code, r.err).toBe(0);
    const after = JSON.parse((await idsync([...config(), 'agents', 'list', '--json'])).out).agents;
    expect(after.find((a: { id: string }) => a.id === id)).toMatchObject({ state: 'revoked', revoked: expect.any(String) });
    const human = await idsync([...config(), 'agents', 'list']);
    expect(human.out).toContain(`${id}  group onprem`);
    expect((await idsync([...config(), 'agents', 'revoke', 'agent-00000000'])).err).toContain('no agent agent-00000000');
  });
});
