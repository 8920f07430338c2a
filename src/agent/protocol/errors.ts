/**
 * The codes of the agent wire protocol. A code is never renamed: the service, agents one version older and
 * scripts match on it. On the wire an error is { code, message, retryable, place? } (see messages.ts).
 */
import { IdsyncError, type ErrorPlace } from '../../core/errors.js';

export const AGENT_PROTOCOL_CODES = [
  /** the other side speaks another protocol major: the agent must be upgraded (or the service) */
  'AGENT_PROTOCOL_VERSION',
  /** the first message was not a hello, or a second hello came */
  'AGENT_HELLO_EXPECTED',
  /** a frame larger than the limit the receiver accepts */
  'AGENT_FRAME_TOO_LARGE',
  /** a frame that is not JSON or not one of the protocol's messages */
  'AGENT_FRAME_INVALID',
  /** a request for a method this side does not serve */
  'AGENT_METHOD_UNKNOWN',
  /** a request's params that do not match the method's schema */
  'AGENT_PARAMS_INVALID',
  /** a response whose result does not match the method's schema */
  'AGENT_RESULT_INVALID',
  /** a response to a request id that is not pending (late, after a cancel, or forged) */
  'AGENT_RESPONSE_UNEXPECTED',
  /** the caller cancelled the request (a $/cancel notification) */
  'AGENT_CANCELLED',
  /** the connection closed with the request pending: the operation may be retried on another agent */
  'AGENT_CONNECTION_LOST',
  /** too many requests in flight on this connection: try again when one has finished */
  'AGENT_BUSY',
  /** the handler failed without a code of its own */
  'AGENT_HANDLER_FAILED',
] as const;

export type AgentProtocolCode = (typeof AGENT_PROTOCOL_CODES)[number];

/** The codes after which the same request may succeed when sent again (here or on another agent). */
const RETRYABLE: ReadonlySet<string> = new Set<AgentProtocolCode>(['AGENT_CONNECTION_LOST', 'AGENT_BUSY']);

/**
 * An error that crossed the wire or that the protocol itself raised. `code` may also be one of a handler's
 * own codes (a connector's LDAP_BIND_FAILED): the wire keeps it as it is.
 */
export class AgentProtocolError extends IdsyncError {
  override readonly name = 'AgentProtocolError';
  constructor(
    code: AgentProtocolCode | (string & {}),
    message: string,
    readonly retryable: boolean = RETRYABLE.has(code),
    place: ErrorPlace = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, place, options);
  }

  /** from the wire: the agent's connector could not reach its system */
  connection = false;
  /** from the wire: the agent's connector needs a full import */
  fullImportRequired = false;

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryable: this.retryable };
  }
}
