/** What every engine phase works with during one run. */
import type { LoadedConfig } from '../config/model.js';
import type { Connector, ConnectorSchema } from '../connectors/contract.js';
import type { IdSet } from '../core/id-set.js';
import type { CsObject, LogEntry, RunStats, Store } from '../store/types.js';
import type { Progress } from './progress.js';
import type { SecretAttributes } from './secrets.js';

export interface EngineContext {
  config: LoadedConfig;
  store: Store;
  runId: number;
  /** the run's clock: every object in one run sees the same Now() */
  now: Date;
  connector(name: string): Connector;
  schema(name: string): ConnectorSchema | undefined;
  progress: Progress;
  /** which attributes hold secrets: their values are never rendered */
  secrets: SecretAttributes;
  /** explain mode: record each flow's expression and value in the steps */
  verbose: boolean;
  /** entries written at the end of each batch, inside its transaction */
  log: LogEntry[];
  /**
   * Values SelectUniqueValue gave objects in this run, per connector/attribute, so two objects created in
   * one run cannot pick the same value before either reaches the target: "connector\0attr\0key" → mv id.
   */
  claimed: Map<string, string>;
  /**
   * Outbound sync's updates in this run, per target: the CS ids it counted as updated, and the stats that
   * counted them. Outbound sync re-evaluates every object a full sync marks; only export knows whether the
   * target already is as desired, and moves those to unchanged, so a cycle that sends nothing says so.
   */
  outboundUpdates?: Map<string, { ids: IdSet; stats: RunStats }>;
  /**
   * Connectors this run could not reach (the connection or the credentials failed: isConnectionFailure), and
   * why: nothing more is sent to them in this run; their exports wait, due, for the next one.
   */
  unreachable: Map<string, string>;
  /**
   * Per connector, the connector-space ids a full import no longer saw but did not mark gone because the
   * deletion threshold held it: a plan shows what approving that would do.
   */
  unseenHeld?: Map<string, number[]>;
  /**
   * Throws STATE_LEASE_LOST when this node may have lost a lease it works under (by its own clock): called
   * just before anything is sent to a target, which no database fence can take back.
   */
  fence?: () => void;
  /** inbound sync: the page being synced (its resolved references, the referrers to mark at its end) */
  inboundPage?: InboundPage | undefined;
  /** outbound sync: the page being synced (its match look-ups) */
  outboundPage?: OutboundPage | undefined;
}

export async function flushLog(ctx: EngineContext): Promise<void> {
  if (ctx.log.length === 0) return;
  const entries = ctx.log.splice(0, ctx.log.length);
  await ctx.store.appendLog(entries);
}

/**
 * What one page of inbound sync shares, so that its look-ups are one statement per page, not per object:
 * the references its objects hold, resolved up front and kept current as the page links objects, and the
 * objects whose referrers must be marked, marked together at the end of the page.
 */
export interface InboundPage {
  /** each CS object's place in the page */
  position: Map<number, number>;
  /** the place of the object being synced */
  current: number;
  /** "connector\0reference" → the metaverse id its object is linked to (null: none); absent: ask the store */
  links: Map<string, string | null>;
  /** objects whose referrers may now resolve differently, with their place in the page */
  referenced: { csId: number; names: string[]; position: number }[];
  /**
   * The page's join look-ups, made up front: "metaverse type\0attribute\0key" → the metaverse objects the
   * join index gives; kept current as the page creates, changes and deletes metaverse objects. Absent: ask the store.
   */
  joins: Map<string, string[]>;
}

/**
 * What one page of outbound sync shares: its match look-ups, made up front ("connector\0object type\0attribute\0key"
 * → the target objects the index gives), kept current as the page links objects; absent: ask the store.
 */
export interface OutboundPage {
  matches: Map<string, CsObject[]>;
}
