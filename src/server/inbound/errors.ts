/**
 * The codes of the HR push endpoint's answers (the per-record ones are the connector's: connectors/api/errors.ts).
 * On the wire an error is { code, message, path?, retryable } (+ issues for per-operation problems).
 */
export const INBOUND_CODES = [
  'INBOUND_UNAUTHORIZED',
  'INBOUND_FORBIDDEN',
  'INBOUND_NOT_FOUND',
  'INBOUND_MEDIA_TYPE',
  'INBOUND_REQUEST_INVALID',
  'INBOUND_TOO_MANY_OPERATIONS',
  'INBOUND_TOO_LARGE',
  'INBOUND_RECORDS_INVALID',
  'INBOUND_RATE_LIMITED',
  'INBOUND_FAILED',
] as const;

export type InboundCode = (typeof INBOUND_CODES)[number];

export class InboundError extends Error {
  constructor(
    readonly status: number,
    readonly code: InboundCode,
    message: string,
    readonly extra: { path?: string; retryable?: boolean; retryAfter?: number; challenge?: string } = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.extra.path !== undefined && { path: this.extra.path }),
      retryable: this.extra.retryable ?? false,
    };
  }
}
