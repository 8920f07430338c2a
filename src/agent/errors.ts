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
  /** a connection credential whose id was already used: a replay (each connection signs a new one) */
  'AGENT_REPLAYED',
  /** the service refused the connection for a reason the agent cannot fix by retrying (revoked, unknown) */
  'AGENT_REFUSED',
  /** no agent of the connector's group is connected: its connectors are skipped this cycle */
  'AGENT_GROUP_OFFLINE',
  /** the agent was asked about a connector its group's configuration does not have (yet) */
  'AGENT_CONNECTOR_UNKNOWN',
  /** an import session the agent does not know (it restarted, or the session ended) */
  'AGENT_SESSION_UNKNOWN',
  /** a `${agent:NAME}` reference the agent cannot resolve from its environment or its secrets folder */
  'AGENT_SECRET_UNRESOLVED',
] as const;

export type AgentCode = (typeof AGENT_CODES)[number];
