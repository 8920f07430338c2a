/**
 * The connector contract: what every connector (CSV, built-in directory, LDAP, SQL, SCIM) implements.
 *
 * A connector only talks to its system. It knows nothing of the metaverse, rules or the store: the engine asks
 * it for pages of changes (import), hands it changes to apply (export) and, for crash safety, asks it to find
 * objects by attribute (lookup). Everything it yields is data; a failed object is a value, not an exception,
 * so one bad row never stops a cycle.
 */
import type { z } from 'zod';
import type { Attributes, Value } from '../core/values.js';

// ---- Schema ---------------------------------------------------------------------------------------------

export type AttributeType = 'string' | 'number' | 'boolean' | 'date' | 'binary' | 'reference';

export interface AttributeSchema {
  type: AttributeType;
  multiValued: boolean;
  /** never written to logs, plans, the provisioning log or the portal (passwords, unicodePwd) */
  secret?: boolean;
  /** the connector cannot write it (objectGUID, entryUUID, meta.created) */
  readOnly?: boolean;
}

export interface ObjectTypeSchema {
  attributes: Record<string, AttributeSchema>;
  /** the system also keeps attributes it does not name (the built-in directory): an unknown name is not an error */
  extensible?: boolean;
}

export interface ConnectorSchema {
  objectTypes: Record<string, ObjectTypeSchema>;
}

// ---- Capabilities ---------------------------------------------------------------------------------------

export interface Capabilities {
  deltaImport: boolean;
  export: boolean;
  /** `watch()` is implemented: the connector can tell the engine that the system changed */
  watch: boolean;
  /**
   * Where objects have a name other than their anchor (LDAP: the DN), the attribute that carries it in flows
   * ("dn"). An outbound flow to it names a new object, and a change to it is a rename or move. Absent: the name
   * is the anchor.
   */
  nameAttribute?: string;
  /** What "disable" means in this system, e.g. { active: [false] }. Absent: the connector cannot disable. */
  disableAttributes?: Attributes;
}

// ---- Objects and import ---------------------------------------------------------------------------------

export interface ConnectorObject {
  /** immutable id in its system: entryUUID, objectGUID, a primary key, a SCIM id. Never a DN or a userName. */
  anchor: string;
  objectType: string;
  /** the name references use (LDAP DN); defaults to the anchor */
  name?: string;
  attributes: Attributes;
}

export interface AttributeChange {
  /** replace all values (an empty list removes the attribute) */
  replace?: Value[];
  add?: Value[];
  remove?: Value[];
}

export type ImportChange =
  /** the whole object as it now is */
  | { kind: 'upsert'; object: ConnectorObject }
  /** only some attributes changed (DirSync, incremental member changes); the others stay as they were */
  | {
      kind: 'modify';
      anchor: string;
      objectType: string;
      name?: string;
      changes: Record<string, AttributeChange>;
      /**
       * Skip it when the connector space does not hold the object, instead of reporting it: an agent that
       * scopes says so of a change touching none of the attributes its filters read, since an object it did
       * not send is one out of scope, and stays so.
       */
      onlyIfKnown?: boolean;
    }
  | { kind: 'delete'; anchor: string; objectType?: string }
  /**
   * Full imports given a watermark only: the object is exactly as this connector reported it in the import
   * that produced that watermark, so the engine counts it as seen without reading or comparing it. Only a
   * connector that can prove it (the CSV feed compares each row's digest with those of that import) says so.
   */
  | { kind: 'same'; anchor: string }
  /** a record that could not be read: recorded as an object error; the object it used to be is left alone */
  | { kind: 'error'; anchor?: string; location: string; code: string; message: string };

export interface ImportPage {
  changes: ImportChange[];
  /**
   * Where to resume after this page (a sync cookie, a DirSync cookie, a highest USN, a max rowversion). It is
   * committed in the same transaction as the page's changes. Must come from the source system, never from a
   * clock on this machine. Undefined: unchanged.
   */
  watermark?: string | null;
  /**
   * Full imports only: the source is provably the same as at `ImportRequest.watermark` (a content hash
   * matched), so the engine keeps the connector space as it is instead of diffing every object. Yield one page
   * with no changes. Never set it on a guess (a timestamp): an unchanged flag that lies hides real changes.
   */
  unchanged?: boolean;
  /**
   * Full imports only, optional: an opaque position just after this page, from which the connector can go on
   * reading the same source (`ImportRequest.resume`). An import that moves to another agent mid-way passes the
   * last committed page's position, so the pages already committed are not read and applied again.
   */
  resume?: string;
}

export interface ImportRequest {
  mode: 'full' | 'delta';
  /**
   * The watermark of the last committed page, or null for none. Given for full imports too, so a connector
   * can answer `unchanged`; null when the engine wants a real full import (--full, changed settings).
   */
  watermark: string | null;
  pageSize: number;
  /**
   * Full imports only: go on after this position (`ImportPage.resume` of the last committed page) instead of
   * from the first page. A connector that finds the source changed since, or cannot resume, starts from the
   * first page: pages seen again change nothing. Ignored by connectors that never give positions.
   */
  resume?: string;
  signal?: AbortSignal;
}

// ---- Export ---------------------------------------------------------------------------------------------

export type ExportChange =
  | {
      op: 'create';
      /** the engine's id for this change: stable across retries */
      id: string;
      objectType: string;
      /** for connectors with a nameAttribute: the name to create (a DN) */
      name?: string;
      attributes: Attributes;
    }
  | {
      op: 'update';
      id: string;
      objectType: string;
      anchor: string;
      name?: string;
      /** a new name (rename or move), for connectors with a nameAttribute */
      newName?: string;
      changes: Record<string, AttributeChange>;
    }
  | { op: 'delete'; id: string; objectType: string; anchor: string; name?: string };

export interface ExportError {
  code: string;
  message: string;
  /** try again in a later cycle (timeouts, 429, busy) rather than waiting for a fix */
  retryable: boolean;
  /** the remote system's own code: an LDAP result code, an HTTP status, a SQLSTATE */
  remoteCode?: string | number;
  /** the object does not exist in the system: for a delete, the engine counts it as done */
  notFound?: boolean;
  /**
   * the connection or the credentials failed, not this object (ConnectorError.connection): the engine stops
   * exporting to the target for this cycle and sends the change again at the next one, without backing off
   */
  connection?: boolean;
  attribute?: string;
}

export type ExportResult =
  | {
      id: string;
      ok: true;
      /** the anchor the system gave a created object (and the same anchor for updates) */
      anchor?: string;
      name?: string;
      /** the object as the system now has it, when the system returns it (SCIM does) */
      object?: ConnectorObject;
    }
  | { id: string; ok: false; error: ExportError };

// ---- The connector ----------------------------------------------------------------------------------------

export interface Connector {
  readonly name: string;
  readonly type: string;
  readonly capabilities: Capabilities;
  /** connect, authenticate and read something small: throws a ConnectorError saying what failed */
  test(): Promise<void>;
  schema(): Promise<ConnectorSchema>;
  import(request: ImportRequest): AsyncIterable<ImportPage>;
  /** yields one result per change, in any order; a failed change is a result, not an exception */
  export?(changes: ExportChange[]): AsyncIterable<ExportResult>;
  /**
   * Objects whose `attribute` equals one of `values`. The engine uses it before re-sending a create that may
   * have reached the system before a crash, so that the retry links the object instead of making a second one.
   */
  lookup?(objectType: string, attribute: string, values: Value[]): Promise<ConnectorObject[]>;
  /**
   * The object of `objectType` whose anchor is `anchor` as the system holds it now, read alone (provision on
   * demand re-reads its object from its source first, as Entra's does); null when the system no longer has
   * it. Only where one object is cheap and really read (a key, an id, a DN): absent otherwise, and provision
   * on demand then says the object was not re-read. `name`: the name the connector space has for it (a DN),
   * a hint for systems that find an object by name faster than by anchor.
   */
  read?(objectType: string, anchor: string, name?: string): Promise<ConnectorObject | null>;
  /**
   * How this connector finds what changed since `watermark` (the last committed one), named for people:
   * "RFC 4533 syncrepl", "DirSync", "watermark column updated_at", "row digests". `status` and the run
   * records show it, so nobody has to guess from the connector's type. Never connects. Undefined: not known
   * yet (no watermark, the method is picked on the first import) or no way to find changes.
   */
  deltaMethod?(watermark: string | null): string | undefined;
  /** resolves each time the system reports a change; ends when the signal aborts */
  watch?(signal: AbortSignal): AsyncIterable<void>;
  /**
   * After an export() batch: the delta watermarks just before and just after the batch's own writes, given
   * only when nothing else wrote in between, the writes touched nothing but the objects changed, and every
   * successful result carries `object` as the system now holds it. A delta import from `from` would then
   * read back exactly what the engine records from the results, so the engine moves its watermark from
   * `from` to `to` instead of re-reading its own writes. undefined: no such guarantee for the last batch.
   */
  exportSpan?(): { from: string; to: string } | undefined;
  /**
   * Why the connector cannot run now though nothing failed (a connector on an agent whose group has no agent
   * connected): the engine skips it this cycle, as a quarantined one, and the cycle is incomplete. Undefined:
   * it can run.
   */
  unavailable?(): string | undefined;
  close(): Promise<void>;
}

export interface ConnectorContext {
  /** the folder of the config file: relative paths in connector settings are resolved against it */
  configDir: string;
  /** idsync's state folder, for connectors that keep files (the built-in directory) */
  stateDir: string;
  log: ConnectorLogger;
}

export interface ConnectorLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * One per connector type. `settings` validates the connector's own block of the config (everything but the
 * fields the engine owns: type, safety); its errors are reported with file:line:column like any config error.
 */
export interface ConnectorFactory<Settings = unknown> {
  type: string;
  description: string;
  settings: z.ZodType<Settings>;
  create(name: string, settings: Settings, context: ConnectorContext): Connector;
  /**
   * The schema as far as it is known without reaching the system (a CSV file's header, the built-in
   * directory's attributes): `idsync validate` checks the attributes rules name against it, also offline.
   * Absent: only the connector's schema() knows, by connecting.
   */
  offlineSchema?(name: string, settings: Settings, context: ConnectorContext): Promise<ConnectorSchema>;
}
