/**
 * `idsync serve` started the way an administrator starts it, for black-box conformance tests: an idsync.yaml
 * in a temp folder, a token from `idsync token create`, then `idsync serve --port 0` as its own process on
 * 127.0.0.1. The tests know the server only through HTTP (and the URL it prints).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from './cli.js';
import { type ScimResponse, send } from './scim-server.js';

export const MINIMAL_CONFIG = `
connectors:
  directory: { type: builtin }
serve:
  port: 0
`;

export interface CliServer {
  /** the SCIM base URL the server printed, e.g. http://127.0.0.1:41234/scim/v2 */
  base: string;
  token: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ScimResponse>;
  close(): Promise<void>;
}

export async function startCliServer(config = MINIMAL_CONFIG): Promise<CliServer> {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-conformance-'));
  const file = join(dir, 'idsync.yaml');
  writeFileSync(file, config);
  const created = await runCli(['-c', file, 'token', 'create', 'conformance']);
  const token = created.stdout.trim().split('\n')[0]!;
  if (created.code !== 0 || !token.startsWith('idsync_'))
    throw new Error(`idsync token create failed (${created.code}): ${created.stderr}`);

  const { child, done } = startCli(['-c', file, 'serve', '--port', '0', '--quiet']);
  const base = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`idsync serve printed no endpoint in 30 s: ${err}`)),
      30_000,
    );
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /SCIM endpoint (http\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void done.then((r) => {
      clearTimeout(timer);
      reject(new Error(`idsync serve exited (${r.code}): ${r.stderr}`));
    });
  });
  return {
    base,
    token,
    request: (method, path, body, headers) => send(base, token, method, path, body, headers),
    async close() {
      // a server that crashed during the tests must fail them, not vanish quietly
      const crashed = child.exitCode !== null || child.signalCode !== null;
      if (!crashed) child.kill('SIGTERM');
      const result = await done;
      rmSync(dir, { recursive: true, force: true });
      if (crashed)
        throw new Error(`idsync serve stopped during the tests (${result.code}): ${result.stderr}`);
    },
  };
}

export type { ScimResponse };

/** a resource or message as the server sent it: parsed JSON, read freely by the assertions */
export type Resource = ScimResponse['body'];
