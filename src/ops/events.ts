/**
 * The events idsync notifies about, one notification per event (not per cycle): what each carries, and the
 * words a person reads in an email. /work/notes/events.md and docs/operations.md describe them.
 */
import type { NotificationEvent } from '../config/schema.js';

interface Base {
  /** unique per event: the webhook's X-Idsync-Delivery, an email's Message-ID */
  id: string;
  /** ISO time the event was seen */
  at: string;
  /** one line for a person: an email's subject, a chat message */
  summary: string;
}

export interface HoldSummary {
  phase: 'import' | 'export';
  count: number;
  limit: number;
  population: number;
  threshold: string;
  message: string;
}

export type OpsEvent = Base &
  (
    | { type: 'run.held'; connector: string; since: string; holds: HoldSummary[] }
    | { type: 'connector.quarantined'; connector: string; reason: string; level: number; since: string; until: string }
    | { type: 'connector.recovered'; connector: string; quarantinedSince: string }
    | { type: 'errors.rate'; connector: string; errors: number; within: string; threshold: number }
    | { type: 'agent-group.lost'; group: string }
    | { type: 'agent-group.restored'; group: string; connected: number }
  );

/** An event before it gets its id and time. */
export type NewEvent = OpsEvent extends infer E ? (E extends OpsEvent ? Omit<E, 'id' | 'at'> : never) : never;

/** What the agent hub calls on every change of a group's connected agents (see /work/notes/events.md). */
export interface AgentConnectionSink {
  /** the number of agents of `group` connected now; call on every connect, disconnect and revoke */
  agentConnections(group: string, connected: number): void;
}

export function eventTypeOf(e: { type: NotificationEvent }): NotificationEvent {
  return e.type;
}

/** The text of an email (and of the webhook's `text`): what happened, what it means, what to do. */
export function describeEvent(e: OpsEvent): string {
  switch (e.type) {
    case 'run.held':
      return [
        `idsync held the changes of connector ${e.connector} (held since ${e.since}):`,
        ...e.holds.map((h) => `- ${h.phase}: ${h.message} (${h.count} of ${h.population}, the threshold ${h.threshold} allows ${h.limit})`),
        '',
        `Review them with \`idsync plan\` or in the portal; \`idsync approve ${e.connector}\` lets them through once.`,
        'Later cycles stay held until then; this is the only notification for this hold.',
      ].join('\n');
    case 'connector.quarantined':
      return [
        `Connector ${e.connector} is quarantined (level ${e.level}) until ${e.until}: ${e.reason}.`,
        `Its cycles failed since ${e.since}; it is skipped until then, and each further failing cycle doubles the wait (up to a day).`,
        `Fix the cause, then \`idsync approve ${e.connector} --quarantine\` lifts the quarantine at once.`,
        'A notification follows when it recovers.',
      ].join('\n');
    case 'connector.recovered':
      return `Connector ${e.connector} recovered: a cycle worked again after the quarantine that began ${e.quarantinedSince}.`;
    case 'errors.rate':
      return [
        `Connector ${e.connector} had ${e.errors} object errors within ${e.within} (the limit is ${e.threshold}).`,
        `\`idsync status\` lists them; \`idsync log --connector ${e.connector} --status error\` shows each one.`,
        'No other notification is sent until the errors fall to half the limit or below.',
      ].join('\n');
    case 'agent-group.lost':
      return [
        `Agent group ${e.group} has no connected agent: the connectors it serves cannot be imported or exported.`,
        'Check the agents of the group (`idsync agents list`) and their machines; a notification follows when one connects again.',
      ].join('\n');
    case 'agent-group.restored':
      return `Agent group ${e.group} has ${e.connected} connected agent${e.connected === 1 ? '' : 's'} again.`;
  }
}
