/**
 * The codes of the admin API (/api/v1) and its accounts. A code is never renamed; the HTTP status goes with
 * it (statusOf). On the wire an error is { code, message, path?, retryable } (ApiError.toJSON), and a
 * validation failure adds every issue found: { code, path, message }.
 */
import { IdsyncError } from '../core/errors.js';

export const API_CODES = [
  /** a request part (params, query, body) failed validation: `issues` lists every problem */
  'API_INVALID',
  /** the body is not JSON, or nests too deep */
  'API_BAD_JSON',
  /** the body is larger than the server accepts */
  'API_TOO_LARGE',
  /** no session cookie nor bearer token, or one that is unknown, expired or revoked */
  'API_UNAUTHENTICATED',
  /** the caller's role may not do this */
  'API_FORBIDDEN',
  /** a cookie-authenticated write without the session's CSRF token in x-idsync-csrf */
  'API_CSRF',
  /** too many failed logins for this account (or from this address): wait Retry-After seconds */
  'API_LOCKED',
  /** the username or password is wrong (which of them is not told) */
  'API_LOGIN_FAILED',
  /** no route at this method and path */
  'API_NO_ROUTE',
  /** the thing the path names does not exist */
  'API_NOT_FOUND',
  /** the request conflicts with the current state (a name taken, a cycle that cannot run now) */
  'API_CONFLICT',
  /** the server failed; the detail is in its log */
  'API_INTERNAL',
  /** an account name that is not 1-64 letters, digits, dot, dash, underscore */
  'ACCOUNT_NAME_INVALID',
  /** an account of that name exists */
  'ACCOUNT_EXISTS',
  /** no account of that name */
  'ACCOUNT_UNKNOWN',
  /** a role that is not reader, operator or admin */
  'ACCOUNT_ROLE_INVALID',
  /** a password shorter than the minimum */
  'ACCOUNT_PASSWORD_WEAK',
  /** the last admin account cannot be deleted or demoted */
  'ACCOUNT_LAST_ADMIN',
] as const;

export type ApiCode = (typeof API_CODES)[number];

const STATUS: Record<ApiCode, number> = {
  API_INVALID: 400,
  API_BAD_JSON: 400,
  API_TOO_LARGE: 413,
  API_UNAUTHENTICATED: 401,
  API_FORBIDDEN: 403,
  API_CSRF: 403,
  API_LOCKED: 429,
  API_LOGIN_FAILED: 401,
  API_NO_ROUTE: 404,
  API_NOT_FOUND: 404,
  API_CONFLICT: 409,
  API_INTERNAL: 500,
  ACCOUNT_NAME_INVALID: 400,
  ACCOUNT_EXISTS: 409,
  ACCOUNT_UNKNOWN: 404,
  ACCOUNT_ROLE_INVALID: 400,
  ACCOUNT_PASSWORD_WEAK: 400,
  ACCOUNT_LAST_ADMIN: 409,
};

export function statusOf(code: ApiCode): number {
  return STATUS[code];
}

export interface ApiIssue {
  code: string;
  /** where in the request: ["body", "role"], ["query", "limit"] */
  path: (string | number)[];
  message: string;
}

export class ApiError extends IdsyncError {
  override readonly name = 'ApiError';
  constructor(
    override readonly code: ApiCode,
    message: string,
    readonly extra: { issues?: ApiIssue[]; retryAfter?: number; path?: (string | number)[] } = {},
  ) {
    super(code, message);
  }

  get status(): number {
    return statusOf(this.code);
  }

  override toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.extra.path && { path: this.extra.path }),
      retryable: this.code === 'API_LOCKED' || this.code === 'API_INTERNAL',
      ...(this.extra.issues && { issues: this.extra.issues }),
    };
  }
}
