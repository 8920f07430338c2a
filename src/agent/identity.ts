/**
 * The agent's identity in its folder (`--dir`): agent-key.pem, the Ed25519 private key made at registration
 * (0600; it never leaves this machine, and the service holds only its public half), and agent.json, what the
 * service answered (the agent's id and group) and where the service is.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { IdsyncError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { REGISTER_PATH, type RegisterResponse, registerResponse, signRegistration } from './registration.js';

export const DEFAULT_AGENT_DIR = '.idsync-agent';
export const KEY_FILE = 'agent-key.pem';
export const IDENTITY_FILE = 'agent.json';

export interface AgentIdentity extends RegisterResponse {
  /** the service's base URL, as given to `idsync agent register` */
  service: string;
  /** a CA file the agent verifies the service's TLS certificate with (absent: the system's CAs) */
  ca?: string;
  registered: string;
}

export interface RegisterOptions {
  service: string;
  token: string;
  dir: string;
  ca?: string;
}

/**
 * Makes the key, proves possession of it to the service with the one-time token, and writes the key and the
 * identity the service issued into `dir`. Nothing is written unless the service accepted the registration.
 */
export async function registerAgent(options: RegisterOptions): Promise<AgentIdentity> {
  const identityPath = join(options.dir, IDENTITY_FILE);
  if (existsSync(identityPath) || existsSync(join(options.dir, KEY_FILE))) {
    throw new IdsyncError(
      'AGENT_ALREADY_REGISTERED',
      `${options.dir} already holds an agent registration: use another --dir, or remove it after \`idsync agents revoke\` on the service`,
    );
  }
  let base: URL;
  try {
    base = new URL(options.service);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new IdsyncError('AGENT_SERVICE_UNREACHABLE', `${options.service} is not an http:// or https:// URL of an idsync service`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const registration = await signRegistration(privateKey, publicKey, {
    token: options.token,
    host: hostname(),
    version: VERSION,
  });
  const answer = await post(new URL(REGISTER_PATH.slice(1), withSlash(base)), { registration }, options.ca);
  const identity: AgentIdentity = {
    ...answer,
    service: options.service,
    ...(options.ca !== undefined && { ca: options.ca }),
    registered: new Date().toISOString(),
  };
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const keyPath = join(options.dir, KEY_FILE);
  try {
    // 'wx': never over another key; the mode is given at creation, so the key is never readable by others
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(identityPath, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    rmSync(keyPath, { force: true });
    throw err;
  }
  return identity;
}

async function post(url: URL, body: unknown, caFile: string | undefined): Promise<RegisterResponse> {
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new IdsyncError('AGENT_SERVICE_UNREACHABLE', `cannot read the CA file ${caFile}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  const dispatcher = ca ? new Agent({ connect: { ca } }) : undefined;
  let status: number;
  let text: string;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
      ...(dispatcher && { dispatcher }),
    });
    status = response.status;
    text = await response.text();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new IdsyncError(
      'AGENT_SERVICE_UNREACHABLE',
      `cannot reach the service at ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  } finally {
    await dispatcher?.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status < 200 || status > 299) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (typeof error?.code === 'string' && typeof error.message === 'string') throw new IdsyncError(error.code, error.message);
    throw new IdsyncError('AGENT_SERVICE_UNREACHABLE', `${url.origin} answered HTTP ${status}: is it an idsync service?`);
  }
  const parsed = registerResponse.safeParse(json);
  if (!parsed.success) throw new IdsyncError('AGENT_SERVICE_UNREACHABLE', `${url.origin} did not answer as an idsync service`);
  return parsed.data;
}

/** so that a service behind a path prefix (https://host/idsync) keeps its prefix */
function withSlash(url: URL): URL {
  const copy = new URL(url);
  if (!copy.pathname.endsWith('/')) copy.pathname += '/';
  return copy;
}

/** The identity and private key in `dir`, as `idsync agent register` wrote them; AGENT_NOT_REGISTERED otherwise. */
export function loadIdentity(dir: string): { identity: AgentIdentity; privateKey: KeyObject } {
  let identity: AgentIdentity;
  let privateKey: KeyObject;
  try {
    identity = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8')) as AgentIdentity;
    privateKey = createPrivateKey(readFileSync(join(dir, KEY_FILE)));
  } catch (err) {
    throw new IdsyncError(
      'AGENT_NOT_REGISTERED',
      `${dir} holds no readable agent registration (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}): run \`idsync agent register SERVICE_URL TOKEN --dir ${dir}\` first`,
    );
  }
  if (typeof identity.id !== 'string' || typeof identity.service !== 'string') {
    throw new IdsyncError('AGENT_NOT_REGISTERED', `${join(dir, IDENTITY_FILE)} is not an agent identity`);
  }
  return { identity, privateKey };
}
