/**
 * Passwords where the built-in directory is the user's home: a salted scrypt hash, never the clear value.
 *
 * Stored form: `$scrypt$N=16384,r=8,p=1$<salt, base64>$<key, base64>`. The parameters travel in the string, so
 * raising them later leaves existing hashes verifiable. N=2^14, r=8 (16 MiB, ~60 ms here) is RFC 7914's figure
 * for interactive logins: slow enough to make guessing costly, fast enough for a provisioning burst, and the
 * asynchronous form runs on libuv's thread pool, so the server keeps answering meanwhile.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const PREFIX = '$scrypt$';
const PARAMS = { N: 16_384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Limits for stored strings read back: a forged hash must not make verification allocate gigabytes. */
const MAX_N = 2 ** 20;
const MAX_RP = 16;

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** Whether a stored value is already a hash (so it is never hashed twice). */
export function isPasswordHash(value: unknown): value is string {
  return typeof value === 'string' && parse(value) !== undefined;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { ...PARAMS, maxmem: memoryFor(PARAMS.N, PARAMS.r) }, (err, k) =>
      err ? reject(err) : resolve(k),
    ),
  );
  return format(salt, key);
}

/** For the rare write that cannot wait (a password set inside a transaction); blocks for one hash. */
export function hashPasswordSync(password: string): string {
  const salt = randomBytes(SALT_BYTES);
  const key = scryptSync(password.normalize('NFC'), salt, KEY_BYTES, { ...PARAMS, maxmem: memoryFor(PARAMS.N, PARAMS.r) });
  return format(salt, key);
}

/** Whether `password` is the one `stored` was made from; false for anything that is not a hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parse(stored);
  if (!h) return false;
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFC'), h.salt, h.key.length, { N: h.N, r: h.r, p: h.p, maxmem: memoryFor(h.N, h.r) }, (err, k) =>
      err ? reject(err) : resolve(k),
    ),
  );
  return timingSafeEqual(key, h.key);
}

function format(salt: Buffer, key: Buffer): string {
  return `${PREFIX}N=${PARAMS.N},r=${PARAMS.r},p=${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function memoryFor(N: number, r: number): number {
  return 128 * N * r * 2;
}

function parse(value: string): Parsed | undefined {
  if (!value.startsWith(PREFIX)) return undefined;
  const [params, salt, key, ...rest] = value.slice(PREFIX.length).split('$');
  if (!params || !salt || !key || rest.length > 0) return undefined;
  const m = /^N=(\d+),r=(\d+),p=(\d+)$/.exec(params);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N must be a power of two above 1 (scrypt's rule); r and p small enough to bound the work.
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > MAX_RP || p < 1 || p > MAX_RP) return undefined;
  const s = Buffer.from(salt, 'base64');
  const k = Buffer.from(key, 'base64');
  if (s.length < 8 || k.length < 16) return undefined;
  return { N, r, p, salt: s, key: k };
}
