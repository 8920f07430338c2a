/**
 * The first exchange on a connection: the agent's hello request and the service's answer. One protocol major
 * (a different major is a coded refusal: the message says which side to upgrade); within a major, anything
 * added since is a capability flag that both sides must name before either uses it, so an agent one minor
 * version older keeps working with a newer service and the other way round.
 */
import { z } from 'zod';
import { AgentProtocolError } from './errors.js';

export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 0;

/** The additive features this build speaks. A flag is never renamed or given another meaning. */
export const CAPABILITIES = ['import.pages', 'export.batch', 'lookup', 'watch', 'cancel', 'config.poll'] as const;
export type Capability = (typeof CAPABILITIES)[number];

const protocolVersion = z.object({ major: z.number().int().nonnegative(), minor: z.number().int().nonnegative() });

export const helloParams = z.object({
  protocol: protocolVersion,
  agent: z.object({
    /** the id the service gave the agent at registration */
    id: z.string().min(1),
    /** idsync's version on the agent, shown by `idsync agents list` beside the service's */
    version: z.string().min(1),
    host: z.string(),
  }),
  /** unknown flags (from a newer build) are kept as strings and ignored by negotiation */
  capabilities: z.array(z.string()),
});
export type HelloParams = z.infer<typeof helloParams>;

export const helloResult = z.object({
  protocol: protocolVersion,
  capabilities: z.array(z.string()),
  /** how often the agent must show it is alive; the service drops a connection silent for three of these */
  heartbeatMs: z.number().int().positive(),
});
export type HelloResult = z.infer<typeof helloResult>;

export interface Negotiated {
  /** the older of the two minors: what both understand */
  minor: number;
  /** the flags both sides named, in this build's order */
  capabilities: Capability[];
}

/**
 * What the connection may use, given this side's and the other side's hello. Throws AGENT_PROTOCOL_VERSION
 * for another major, naming both so the person reading it knows which side to upgrade.
 */
export function negotiate(
  ours: { major: number; minor: number; capabilities: readonly string[] },
  theirs: { major: number; minor: number; capabilities: readonly string[] },
): Negotiated {
  if (ours.major !== theirs.major) {
    const older = ours.major < theirs.major ? 'this side' : 'the other side';
    throw new AgentProtocolError(
      'AGENT_PROTOCOL_VERSION',
      `protocol ${theirs.major}.${theirs.minor} is not compatible with ${ours.major}.${ours.minor}: upgrade ${older} (agent and service must share the protocol major)`,
    );
  }
  const shared = new Set(theirs.capabilities);
  return {
    minor: Math.min(ours.minor, theirs.minor),
    capabilities: CAPABILITIES.filter((c) => ours.capabilities.includes(c) && shared.has(c)),
  };
}
