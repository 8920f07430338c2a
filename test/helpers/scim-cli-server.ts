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

// ---- the black-box suites' vocabulary: the RFCs' URNs written out, not taken from src/scim, so that a wrong
// constant in the library cannot hide behind the same constant in its test

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

let made = 0;
/** a name no other test has used in this server's life */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++made}`;
export const patchBody = (...ops: Record<string, unknown>[]) => ({ schemas: [PATCH_OP], Operations: ops });
/** a filter as a query-string value */
export const q = (filter: string) => encodeURIComponent(filter);
