/**
 * Registration over HTTPS: the agent verifies the service's certificate with the CA file it is given
 * (--ca), and a service whose certificate that CA did not sign is refused before any token is sent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent } from '../../src/agent/identity.js';
import { AgentStore } from '../../src/store/agents.js';
import { startTestServer } from '../helpers/scim-server.js';

let dir: string;
let server: Awaited<ReturnType<typeof startTestServer>>;
let origin: string;

function selfSigned(name: string): void {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${name}-key.pem`), '-out', join(dir, `${name}.pem`),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
}

async function registrationToken(): Promise<string> {
  const store = await AgentStore.open(server.config);
  try {
    return (await store.createToken('onprem', 60_000)).token;
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-agent-tls-'));
  selfSigned('service');
  selfSigned('other');
  server = await startTestServer({
    files: { 'cert.pem': readFileSync(join(dir, 'service.pem'), 'utf8'), 'key.pem': readFileSync(join(dir, 'service-key.pem'), 'utf8') },
    config: 'connectors:\n  directory: { type: builtin }\nserve:\n  port: 0\n  tls: { cert: cert.pem, key: key.pem }\n',
  });
  origin = new URL(server.base).origin;
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent registration over HTTPS', () => {
  it("refuses a service whose certificate the CA file did not sign, and registers with the right CA", async () => {
    expect(origin).toMatch(/^https:/);
    const token = await registrationToken();
    const wrong = join(dir, 'wrong');
    await expect(registerAgent({ service: origin, token, dir: wrong, ca: join(dir, 'other.pem') })).rejects.toMatchObject({
      code: 'AGENT_SERVICE_UNREACHABLE',
      message: expect.stringMatching(/cannot reach the service .*(CERT|SIGNATURE|SELF_SIGNED)/),
    });
    expect(existsSync(wrong)).toBe(false);
    // the refused attempt never reached the service: the same token still registers
    const identity = await registerAgent({ service: origin, token, dir: join(dir, 'agent'), ca: join(dir, 'service.pem') });
    expect(identity).toMatchObject({ group: 'onprem', ca: join(dir, 'service.pem') });
  });

  it('a service that is down is a clear error naming the cause', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    await expect(
      registerAgent({ service: `http://127.0.0.1:${port}`, token: 'idsync_agentreg_x', dir: join(dir, 'down') }),
    ).rejects.toMatchObject({ code: 'AGENT_SERVICE_UNREACHABLE', message: expect.stringContaining('ECONNREFUSED') });
  });
});
