/**
 * The admin API (/api/v1) as the portal calls it: JSON in and out, the session cookie (HttpOnly, sent by the
 * browser), and the CSRF header on every write. An error answer becomes an ApiError with its code, message
 * and issues; a 401 tells the app the session is gone.
 */

export const API = '/api/v1';

export interface Issue {
  code: string;
  path?: string | (string | number)[];
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
    /** seconds, from Retry-After (a locked-out account, a rate limit) */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface Session {
  username: string;
  role: Role;
  csrfToken: string;
}

export type Role = 'reader' | 'operator' | 'admin';

const RANK: Record<Role, number> = { reader: 0, operator: 1, admin: 2 };

/** Whether `role` may do what `needed` may (reader < operator < admin). */
export function allows(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && (RANK[role] ?? -1) >= RANK[needed];
}

let csrfToken: string | undefined;
const unauthorizedListeners = new Set<() => void>();

export function setCsrf(token: string | undefined): void {
  csrfToken = token;
}

/** Called when an answer says the session is gone (401): the app shows the login form. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-idsync-csrf'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, 'PORTAL_OFFLINE', `idsync did not answer (${(err as Error).message})`);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text === '' ? undefined : JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const e = (data ?? {}) as {
      code?: string;
      message?: string;
      detail?: string;
      issues?: Issue[];
      error?: { code?: string; message?: string };
    };
    const retry = Number(res.headers.get('retry-after'));
    const error = new ApiError(
      res.status,
      e.code ?? e.error?.code ?? `HTTP_${res.status}`,
      e.message ?? e.error?.message ?? e.detail ?? `${method} ${path}: HTTP ${res.status}`,
      Array.isArray(e.issues) ? e.issues : [],
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
    if (res.status === 401 && path !== '/session') for (const l of unauthorizedListeners) l();
    throw error;
  }
  return data as T;
}

/** A query string from the parameters that are set. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
