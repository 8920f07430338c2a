/**
 * Who calls the admin API: an account logged in with a session cookie, or a script with an API bearer token.
 * Sessions live in the serve process's memory (a restart logs everyone out), keyed by a SHA-256 of the cookie
 * value; each has its CSRF token, which cookie-authenticated writes must echo in x-idsync-csrf. Failed logins
 * lock the username (and, more loosely, the client address) out for a while.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashPasswordSync, verifyPassword } from '../directory/password.js';
import type { AccountStore, Role } from '../store/accounts.js';
import { ApiError } from './errors.js';

export const SESSION_COOKIE = 'idsync_session';
export const CSRF_HEADER = 'x-idsync-csrf';

export interface ApiCaller {
  kind: 'account' | 'token';
  name: string;
  role: Role;
  /** authenticated by the session cookie: writes need the CSRF header */
  session?: Session;
}

export interface Session {
  account: string;
  /** a digest of the password hash at login: a new password ends the session */
  passwordTag: string;
  csrfToken: string;
  expiresAt: number;
  idleUntil: number;
}

export interface AuthOptions {
  /** a session ends this long after login (default 12 h) */
  sessionMs?: number;
  /** or after this long without a request (default 1 h) */
  idleMs?: number;
  /** failed logins in a row that lock a username (default 5) */
  maxFailures?: number;
  /** for how long (default 5 min); an address is locked after four times as many failures */
  lockMs?: number;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
/** verified when the username has no account, so that its answer takes as long as a wrong password's */
let dummyHash: string | undefined;
const dummy = () => (dummyHash ??= hashPasswordSync(randomBytes(16).toString('hex')));

export class ApiAuth {
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, { count: number; lockedUntil: number }>();
  private readonly sessionMs: number;
  private readonly idleMs: number;
  private readonly maxFailures: number;
  private readonly lockMs: number;

  constructor(
    private readonly accounts: AccountStore,
    options: AuthOptions = {},
  ) {
    this.sessionMs = options.sessionMs ?? 12 * 3_600_000;
    this.idleMs = options.idleMs ?? 3_600_000;
    this.maxFailures = options.maxFailures ?? 5;
    this.lockMs = options.lockMs ?? 5 * 60_000;
  }

  /** Checks the password; a session on success. Throws API_LOCKED (with retryAfter) or API_LOGIN_FAILED. */
  async login(username: string, password: string, address: string, now = Date.now()): Promise<{ id: string; session: Session; role: Role }> {
    const keys = [`user:${username.toLowerCase()}`, `ip:${address}`];
    for (const key of keys) {
      const f = this.failures.get(key);
      if (f && f.lockedUntil > now) {
        const retryAfter = Math.max(1, Math.ceil((f.lockedUntil - now) / 1000));
        throw new ApiError('API_LOCKED', `too many failed logins: try again in ${retryAfter} s`, { retryAfter });
      }
    }
    const account = await this.accounts.accountWithHash(username);
    const ok = await verifyPassword(password, account?.hash ?? dummy());
    if (!account || !ok) {
      this.fail(keys[0]!, this.maxFailures, now);
      this.fail(keys[1]!, this.maxFailures * 4, now);
      throw new ApiError('API_LOGIN_FAILED', 'the username or the password is wrong');
    }
    this.failures.delete(keys[0]!);
    const id = randomBytes(32).toString('base64url');
    const session: Session = {
      account: account.name,
      passwordTag: sha(account.hash),
      csrfToken: randomBytes(24).toString('base64url'),
      expiresAt: now + this.sessionMs,
      idleUntil: now + this.idleMs,
    };
    this.prune(now);
    this.sessions.set(sha(id), session);
    return { id, session, role: account.role };
  }

  private fail(key: string, max: number, now: number): void {
    const f = this.failures.get(key) ?? { count: 0, lockedUntil: 0 };
    if (f.lockedUntil !== 0 && f.lockedUntil <= now) f.count = 0;
    f.count++;
    f.lockedUntil = f.count >= max ? now + this.lockMs : 0;
    this.failures.set(key, f);
    if (this.failures.size > 100_000) this.failures.clear();
  }

  logout(id: string): void {
    this.sessions.delete(sha(id));
  }

  /** Ends every session of an account (deleted, or its password changed). */
  endSessionsOf(account: string): void {
    for (const [k, s] of this.sessions) if (s.account.toLowerCase() === account.toLowerCase()) this.sessions.delete(k);
  }

  /**
   * The caller of a request: the bearer token when there is an Authorization header, else the session cookie.
   * The role is read from the account on each request, so a change of role or a deletion takes effect at once.
   */
  async caller(
    authorization: string | undefined,
    cookie: string | undefined,
    now = Date.now(),
  ): Promise<ApiCaller> {
    if (authorization !== undefined) {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
      const record = m ? await this.accounts.verifyToken(m[1]!) : undefined;
      if (!record) throw new ApiError('API_UNAUTHENTICATED', 'the bearer token is not valid (unknown or revoked): API tokens are made with `idsync token create NAME --role ROLE`');
      return { kind: 'token', name: record.name, role: record.role };
    }
    if (cookie === undefined) throw new ApiError('API_UNAUTHENTICATED', 'log in (POST /api/v1/session) or send Authorization: Bearer <API token>');
    const session = this.sessions.get(sha(cookie));
    if (!session || session.expiresAt <= now || session.idleUntil <= now) {
      if (session) this.sessions.delete(sha(cookie));
      throw new ApiError('API_UNAUTHENTICATED', 'the session has ended: log in again');
    }
    const account = await this.accounts.accountWithHash(session.account);
    if (!account || sha(account.hash) !== session.passwordTag) {
      this.sessions.delete(sha(cookie));
      throw new ApiError('API_UNAUTHENTICATED', account ? 'the password of the account was changed: log in again' : 'the account of this session no longer exists');
    }
    session.idleUntil = Math.min(session.expiresAt, now + this.idleMs);
    return { kind: 'account', name: account.name, role: account.role, session };
  }

  /** A write made with the session cookie must carry the session's CSRF token. */
  checkCsrf(caller: ApiCaller, header: string | string[] | undefined): void {
    if (!caller.session) return;
    const given = Buffer.from(typeof header === 'string' ? header : '');
    const expected = Buffer.from(caller.session.csrfToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError('API_CSRF', `a write with the session cookie needs the header ${CSRF_HEADER} with the session's csrfToken`);
    }
  }

  private prune(now: number): void {
    for (const [k, s] of this.sessions) if (s.expiresAt <= now || s.idleUntil <= now) this.sessions.delete(k);
  }
}
