/**
 * The codes of agent registration and identity (the wire protocol's own are in protocol/errors.ts). A code
 * is never renamed.
 */
export const AGENT_CODES = [
  /** a group name that is not 1-64 letters, digits, dot, dash, underscore */
  'AGENT_GROUP_INVALID',
  /** a registration token the service never issued, or one already used */
  'AGENT_TOKEN_INVALID',
  /** a registration token past its expiry: make another with `idsync agents token GROUP` */
  'AGENT_TOKEN_EXPIRED',
  /** the registration request was not signed by the key it presents, or is not a registration at all */
  'AGENT_PROOF_INVALID',
  /** the registration was signed at a time too far from the service's clock (a replay, or a clock that is off) */
  'AGENT_CLOCK_SKEW',
  /** no agent with that id */
  'AGENT_UNKNOWN',
  /** the agent was revoked: it must be registered again with a new token */
  'AGENT_REVOKED',
  /** the agent folder already holds a registration */
  'AGENT_ALREADY_REGISTERED',
  /** the agent folder holds no registration, or an unreadable one */
  'AGENT_NOT_REGISTERED',
  /** the service could not be reached or did not answer as an idsync service */
  'AGENT_SERVICE_UNREACHABLE',
] as const;

export type AgentCode = (typeof AGENT_CODES)[number];
