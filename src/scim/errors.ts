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

/** A 400 with a scimType: the usual shape of a protocol error. */
export function badRequest(scimType: ScimType, detail: string): ScimError {
  return new ScimError(400, scimType, detail);
}

/** SCIM_INVALID_FILTER, SCIM_NO_TARGET ... or SCIM_404 when there is no scimType. */
function errorCode(status: number, scimType: ScimType | undefined): string {
  if (scimType === undefined) return `SCIM_${status}`;
  return `SCIM_${scimType.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
