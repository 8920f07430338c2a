/**
 * A throwaway `idsync serve` for tests: a temp folder with a config, a bearer token, and the HTTP server on
 * 127.0.0.1 with an ephemeral port. `request` sends SCIM requests with the token over real HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/model.js';
import { type Directory, openSharedDirectory, type SharedDirectory } from '../../src/directory/index.js';
import type { Engine } from '../../src/engine/engine.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { TokenStore } from '../../src/store/tokens.js';

export const DEFAULT_CONFIG = `
connectors:
  directory: { type: builtin }
serve:
  port: 0
`;

export interface ScimResponse {
  status: number;
  headers: Headers;
  /** the parsed JSON body, or undefined for an empty body */
  body: any;
  text: string;
}

export interface TestServer {
  dir: string;
  config: LoadedConfig;
  server: RunningServer;
  /** the SCIM base URL, e.g. http://127.0.0.1:41234/scim/v2 */
  base: string;
  token: string;
  /** the endpoint's directory (the instance the server writes to) */
  directory(): Directory;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ScimResponse>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    config?: string;
    engine?: (config: LoadedConfig) => Promise<Engine>;
    files?: Record<string, string>;
    logStream?: NodeJS.WritableStream;
  } = {},
): Promise<TestServer & { engine?: Engine }> {
  const dir = mkdtempSync(join(tmpdir(), 'idsync-scim-'));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'idsync.yaml'), options.config ?? DEFAULT_CONFIG);
  const config = loadConfig(join(dir, 'idsync.yaml'));
  const tokens = await TokenStore.open(config);
  const token = await tokens.create('test');
  await tokens.close();
  const engine = options.engine ? await options.engine(config) : undefined;
  const server = await startServer(config, {
    port: 0,
    ...(engine && { engine }),
    ...(options.logStream && { log: true, logStream: options.logStream }),
  });
  const path = config.serve?.scim[0]?.path ?? '/scim/v2';
  const base = `${server.url}${path}`;
  let shared: SharedDirectory | undefined;
  return {
    dir,
    config,
    server,
    base,
    token,
    ...(engine && { engine }),
    request: (method, p, body, headers) => send(base, token, method, p, body, headers),
    directory() {
      if (!shared) {
        const endpoint = config.serve!.scim[0]!;
        const setting = (config.connectors.get(endpoint.connector!)!.settings as { path?: string }).path;
        shared = openSharedDirectory(setting ? join(dir, setting) : join(config.stateDir, 'directory.db'));
      }
      return shared.directory;
    },
    async close() {
      shared?.release();
      await server.close();
      await engine?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function send(
  base: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ScimResponse> {
  const init: RequestInit = {
    method,
    headers: {
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/scim+json' }),
      ...headers,
    },
  };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export function user(userName: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [USER_SCHEMA], userName, active: true, ...more };
}

export function group(displayName: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [GROUP_SCHEMA], displayName, ...more };
}

export function patch(...operations: Record<string, unknown>[]): Record<string, unknown> {
  return { schemas: [PATCH_OP], Operations: operations };
}
