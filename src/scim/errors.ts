/**
 * SCIM errors (RFC 7644 §3.12): an HTTP status, an optional scimType and a detail a person can act on.
 * Every failure of the protocol core is a ScimError, so the server can answer any bad input with a 4xx
 * instead of a 500. `code` is stable for scripts and tests; `detail` is for people and names the place
 * (a character offset, an attribute path, an operation index).
 */
import { IdsyncError } from '../core/errors.js';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The scimType values of RFC 7644 §3.12, table 9. */
export const SCIM_TYPES = [
  'invalidFilter',
  'tooMany',
  'uniqueness',
  'mutability',
  'invalidSyntax',
  'invalidPath',
  'noTarget',
  'invalidValue',
  'invalidVers',
  'sensitive',
] as const;
export type ScimType = (typeof SCIM_TYPES)[number];

/** The error body on the wire. `status` is a string, as RFC 7644 §3.12 shows it. */
export interface ScimErrorResponse {
  schemas: [typeof ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export class ScimError extends IdsyncError {
  override readonly name = 'ScimError';
  readonly status: number;
  readonly scimType: ScimType | undefined;
  readonly detail: string;

  constructor(status: number, scimType: ScimType | undefined, detail: string, options?: { cause?: unknown }) {
    super(errorCode(status, scimType), detail, {}, options);
    this.status = status;
    this.scimType = scimType;
    this.detail = detail;
  }

  toResponse(): ScimErrorResponse {
    const body: ScimErrorResponse = {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      detail: this.detail,
    };
    if (this.scimType !== undefined) body.scimType = this.scimType;
    return body;
  }
}

/** An error body another service provider sent, read leniently (see readErrorResponse). */
export interface RemoteErrorResponse {
  /** the body's status, a string in the RFC and a number on some servers; undefined when absent or not a number */
  status: number | undefined;
  /** the scimType in RFC 7644's spelling when it is one of table 9 in any case ("NoTarget" → noTarget) */
  scimType: ScimType | undefined;
  /** the scimType as sent, known or not */
  scimTypeText: string | undefined;
  detail: string | undefined;
}

const SCIM_TYPE_BY_LOWER = new Map<string, ScimType>(SCIM_TYPES.map((t) => [t.toLowerCase(), t]));

/**
 * Reads a SCIM error body (RFC 7644 §3.12) from a response a client received. Servers differ: status as a
 * number, scimType in another case, no schemas; all are read. Undefined when the body has neither a
 * scimType nor a detail (an HTML error page, an empty body).
 */
export function readErrorResponse(body: unknown): RemoteErrorResponse | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as { status?: unknown; scimType?: unknown; detail?: unknown };
  const scimTypeText = typeof b.scimType === 'string' && b.scimType !== '' ? b.scimType : undefined;
  const detail = typeof b.detail === 'string' && b.detail !== '' ? b.detail : undefined;
  if (scimTypeText === undefined && detail === undefined) return undefined;
  const status =
    typeof b.status === 'number'
      ? b.status
      : typeof b.status === 'string' && /^\d{3}$/.test(b.status.trim())
        ? Number(b.status)
        : undefined;
  return {
    status: status !== undefined && Number.isInteger(status) ? status : undefined,
    scimType: scimTypeText === undefined ? undefined : SCIM_TYPE_BY_LOWER.get(scimTypeText.toLowerCase()),
    scimTypeText,
    detail,
  };
}

/** A 400 with a scimType: the usual shape of a protocol error. */
export function badRequest(scimType: ScimType, detail: string): ScimError {
  return new ScimError(400, scimType, detail);
}

/** SCIM_INVALID_FILTER, SCIM_NO_TARGET ... or SCIM_404 when there is no scimType. */
function errorCode(status: number, scimType: ScimType | undefined): string {
  if (scimType === undefined) return `SCIM_${status}`;
  return `SCIM_${scimType.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
