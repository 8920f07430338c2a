/**
 * The state idsync keeps between runs, behind one interface: SQLite by default (sqlite.ts); PostgreSQL can
 * implement the same interface for several machines. Methods are asynchronous and batch-shaped (a page at a
 * time) so that a networked store costs one round trip per page, not per object.
 */
import type { Attributes } from '../core/values.js';
import type { LeaseHolder, UnitLeases } from './lease.js';

/** One object of a connector space: the last known state of a remote object, and its link to the metaverse. */
export interface CsObject {
  id: number;
  connector: string;
  objectType: string;
  /** null until a provisioned object has been created in its system */
  anchor: string | null;
  /** the name references use (a DN); equals the anchor when the system has no other name */
  name: string | null;
  /** what the system last reported, or what it confirmed accepting (refs as { ref: name }) */
  attributes: Attributes;
  /** the object exists in its system (false: provisioning pending, or deleted) */
  present: boolean;
  mvId: string | null;
  /** canonical JSON of attributes, to detect change without decoding */
  hash: string;
}

export interface MvObject {
  id: string;
  objectType: string;
  /** refs as { ref: metaverse id } */
  attributes: Attributes;
  /** no source holds it any more: its target objects are being deprovisioned, then it goes */
  deleted: boolean;
}

export type ExportOp = 'create' | 'update' | 'delete';

/**
 * The order pending exports go out in (Store.pendingPage): what others reference exists, under its final name,
 * before they are sent; deletes last. A rename goes before creates and updates that may name the object.
 */
export const EXPORT_RANK = { create: 0, rename: 1, createWithReferences: 2, update: 3, delete: 4 } as const;

export interface PendingCursor {
  rank: number;
  csId: number;
}

export type PendingState = 'pending' | 'in-flight' | 'error' | 'held';

/** What idsync wants a target object to become. The changes are computed against the CS object at export. */
export interface PendingExport {
  csId: number;
  connector: string;
  op: ExportOp;
  /** desired values of the attributes the rule manages; refs as { ref: metaverse id } */
  desired: Attributes;
  /** attributes that flow only when the object is created */
  createOnly: string[];
  /** the name the object should have (a DN), for connectors that name objects */
  desiredName: string | null;
  rule: string;
  state: PendingState;
  attempts: number;
  lastError: ObjectErrorInfo | null;
  /** don't retry before this time (ms since epoch); errors back off */
  notBefore: number;
  /** export order (see Store.pendingPage) */
  rank: number;
  /** an update that deprovisions (disables) the object: counted against the deletion threshold as a delete is */
  disable: boolean;
}

export interface ObjectErrorInfo {
  code: string;
  message: string;
  remoteCode?: string | number;
  attribute?: string;
  retryable?: boolean;
}

export interface ObjectError extends ObjectErrorInfo {
  connector: string;
  /** an anchor, or file:line for a record with no readable anchor */
  key: string;
  phase: 'import' | 'sync' | 'export';
  location?: string;
  attempts: number;
  firstAt: string;
  lastAt: string;
}

export interface LogEntry {
  runId: number;
  connector: string;
  /** the object's anchor, or its name when not created yet */
  object: string;
  /** the name a person knows the object by (a DN, a userName, a displayName); read back, `object` when none was recorded */
  name?: string | null;
  /** reference values in `changes` → the names of the objects they refer to */
  names?: Record<string, string>;
  csId?: number | null;
  mvId?: string | null;
  phase: 'import' | 'sync' | 'export';
  situation: string;
  action: string;
  status: 'success' | 'error' | 'skipped' | 'held' | 'planned';
  steps: { step: string; detail: string }[];
  changes: { attribute: string; old: string[]; new: string[] }[];
  error?: ObjectErrorInfo | null;
}

/** Which log entries to read: every field given must match; the newest `limit`, returned oldest first. */
export interface LogQuery {
  /** entries recorded under this anchor or name, or of this metaverse object */
  object?: string;
  /** and every entry of these objects (`idsync log --object` resolves a name to them) */
  objects?: { csIds: number[]; mvIds: string[] };
  /** ISO time: entries at or after it */
  since?: string;
  /** ISO time: entries before it */
  until?: string;
  /** entries with an id below this (paging back through the log) */
  beforeId?: number;
  runId?: number;
  connector?: string;
  action?: string;
  status?: LogEntry['status'];
  limit?: number;
}

export interface StoredLogEntry extends LogEntry {
  id: number;
  at: string;
  /** for a sync entry: the import of its run that read the change (full or delta, and how the connector finds changes) */
  importedBy?: { mode: 'full' | 'delta'; method?: string };
}

export interface RunStats {
  connector: string;
  /** inbound: connector space → metaverse; outbound: metaverse → connector space */
  phase: 'import' | 'inbound' | 'outbound' | 'export';
  added: number;
  updated: number;
  deleted: number;
  unchanged: number;
  errors: number;
  durationMs: number;
  status: 'ok' | 'failed' | 'held' | 'skipped';
  /** imports: whether this one was full or delta */
  mode?: 'full' | 'delta';
  /** imports: how the connector found the changes (its deltaMethod), when it used one */
  method?: string;
  detail?: string;
  /** status 'held': what the deletion threshold holds, and why */
  hold?: Hold;
}

/** A connector's changes held by its deletion threshold (engine/safety.ts), and why. */
export interface Hold {
  connector: string;
  /** import: a full import no longer sees `count` objects; export: `count` deletes and disables wait */
  phase: 'import' | 'export';
  count: number;
  /** the most the threshold allows out of `population` */
  limit: number;
  /** the connector's objects the limit was computed from */
  population: number;
  /** the threshold as configured, in words */
  threshold: string;
  /** what is held and how to let it through, for people */
  message: string;
}

export interface RunRecord {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  kind: string;
  status: string;
  stats: RunStats[];
}

/** A write to the connector space from one import page. */
export interface CsWrite {
  id?: number;
  connector: string;
  objectType: string;
  anchor: string;
  name: string;
  attributes: Attributes;
  hash: string;
  /** the row as it was, when the caller read it: only what changed is then written */
  previous?: CsObject;
}

/** What a full import saw: the objects it wrote or compared (by id), and those its connector vouched unchanged (by anchor). */
export interface SeenObjects {
  ids: { has(id: number): boolean };
  anchors: ReadonlySet<string>;
}

/**
 * Inside a transaction, the writes made once per object (createMv, linkCs, createCsPlaceholder on PostgreSQL,
 * setPending, confirmCs) may be deferred and sent a page at a time, one statement per kind
 * (sql/write-behind.ts): every later read of the store sees them, and they commit or roll back with the
 * transaction; an error in one surfaces at the next statement or at COMMIT, failing the transaction.
 */
export interface Store {
  close(): Promise<void>;
  /**
   * Takes the cycle lease (lease.ts) for `holder`: null when taken (also when `holder.owner` has it already),
   * else the holder that has it. A holder that `gone` says is gone loses it to this one. Atomic: of two
   * processes asking at once, one gets it.
   */
  acquireLease(holder: LeaseHolder, gone: (current: LeaseHolder) => boolean): Promise<LeaseHolder | null>;
  /** the holder's lease is still its own: records that it is alive (false: another took it meanwhile) */
  renewLease(owner: string, at: string): Promise<boolean>;
  releaseLease(owner: string): Promise<void>;
  /** leases per unit of work, in a store several nodes share (PostgreSQL); absent: one process runs cycles (SQLite) */
  readonly units?: UnitLeases;
  /** runs fn in one transaction: everything it writes commits together or not at all */
  transaction<T>(fn: () => Promise<T>): Promise<T>;

  // settings
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string | null): Promise<void>;
  getWatermark(connector: string): Promise<string | null>;
  setWatermark(connector: string, watermark: string | null): Promise<void>;

  // connector space
  csByAnchors(connector: string, anchors: string[]): Promise<Map<string, CsObject>>;
  csByNames(connector: string, names: string[]): Promise<Map<string, CsObject>>;
  csByIds(ids: number[]): Promise<CsObject[]>;
  /** `attributes: false`: the links only, attributes read when first asked for (outbound needs few) */
  csByMv(mvIds: string[], options?: { attributes?: boolean }): Promise<CsObject[]>;
  /** inserts or updates; returns the ids in order; marks each for inbound sync */
  writeCs(writes: CsWrite[]): Promise<number[]>;
  /** objects a full import did not see: present, imported, and neither among `seen.ids` nor `seen.anchors` */
  unseenCs(connector: string, seen: SeenObjects): Promise<CsObject[]>;
  /** the system no longer has the object: not present; sync then disconnects it */
  markCsGone(ids: number[]): Promise<void>;
  /** a placeholder for an object idsync will create in a target */
  createCsPlaceholder(connector: string, objectType: string, mvId: string): Promise<number>;
  /** `previous`, when the caller has the object as stored, spares a read */
  confirmCs(
    id: number,
    update: { anchor?: string; name?: string | undefined; attributes: Attributes; hash: string; present: boolean },
    previous?: CsObject,
  ): Promise<void>;
  deleteCs(ids: number[]): Promise<void>;
  linkCs(id: number, mvId: string | null): Promise<void>;
  countCs(connector: string): Promise<{ present: number; linked: number; pendingCreate: number }>;
  /** whether the connector space holds any object its connector reported (present, with an anchor) */
  hasImported(connector: string): Promise<boolean>;
  /** CS objects waiting for inbound sync, in id order, after `afterId` */
  dirtyCs(afterId: number, limit: number): Promise<CsObject[]>;
  clearCsDirty(ids: number[]): Promise<void>;
  markCsDirty(ids: number[]): Promise<void>;
  markAllCsDirty(): Promise<void>;
  /** CS objects, of any connector, whose attributes reference one of `names`: name → their ids */
  csReferencing(names: string[]): Promise<Map<string, number[]>>;
  /**
   * Resolves references of one connector: name → the metaverse id its object is linked to (null: not linked);
   * with `alsoAnchors`, names no object has are tried as anchors (CSV feeds reference rows by anchor).
   * Absent: no such object. Reads only the link, never the attributes.
   */
  mvIdsByNames(connector: string, names: string[], alsoAnchors?: boolean): Promise<Map<string, string | null>>;
  /** The objects of `connector` linked to these metaverse objects: presence, anchor and name only. */
  linksIn(connector: string, mvIds: string[]): Promise<{ mvId: string; present: boolean; anchor: string | null; name: string | null }[]>;
  /**
   * A page of candidates for a search, in id order after `afterId`: objects of every connector space whose
   * anchor, name or stored attributes contain `text`, ignoring case (ASCII). A superset: the text may be in an
   * attribute's name or a value the caller does not search (a secret), so the caller checks each candidate.
   */
  searchCs(text: string, afterId: number, limit: number): Promise<CsObject[]>;
  /** index of CS attribute values used by outbound matching */
  csMatch(connector: string, objectType: string, attribute: string, key: string): Promise<CsObject[]>;
  /** csMatch for a page's keys in one look-up: every key given → its objects (none: an empty list) */
  csMatchMany(connector: string, objectType: string, attribute: string, keys: string[]): Promise<Map<string, CsObject[]>>;

  // metaverse
  mvByIds(ids: string[]): Promise<Map<string, MvObject>>;
  mvMatch(objectType: string, attribute: string, key: string): Promise<string[]>;
  /** mvMatch for a page's keys in one look-up: every key given → the metaverse ids (none: an empty list) */
  mvMatchMany(objectType: string, attribute: string, keys: string[]): Promise<Map<string, string[]>>;
  /** As searchCs, for the metaverse: objects whose id or stored attributes contain `text`, ignoring case. */
  searchMv(text: string, afterId: string, limit: number): Promise<MvObject[]>;
  createMv(objectType: string, attributes: Attributes): Promise<string>;
  /** `previous`, when the caller has it, spares a read */
  updateMv(id: string, attributes: Attributes, previous?: MvObject): Promise<void>;
  /** marks it deleted (and dirty, so outbound sync deprovisions its targets) */
  deleteMv(id: string): Promise<void>;
  /** removes a deleted metaverse object once nothing links to it */
  purgeMv(id: string): Promise<void>;
  /** metaverse objects that reference `id` */
  mvReferencing(id: string): Promise<string[]>;
  /**
   * Metaverse objects that reference one of `ids` and are linked in `connector` with no pending export there:
   * their last export left out the reference, which had no object in that connector yet.
   */
  mvReferencingSettled(ids: string[], connector: string): Promise<string[]>;
  dirtyMv(afterId: string, limit: number): Promise<string[]>;
  markMvDirty(ids: string[]): Promise<void>;
  markAllMvDirty(): Promise<void>;
  clearMvDirty(ids: string[]): Promise<void>;
  countMv(): Promise<Record<string, number>>;
  /** the attributes to index for joins; reindexes when they change */
  setIndexedAttributes(mv: string[], cs: { connector: string; objectType?: string; attribute: string }[]): Promise<void>;
  /**
   * The connectors whose objects' references `csReferencing` must find (those inbound sync reads); indexes a
   * connector newly named, drops the others'. Until called, every connector's references are indexed.
   */
  setIndexedReferences(connectors: string[]): Promise<void>;

  /**
   * References follow objects: objects of `connectors` whose references name a renamed object by its old name
   * get the new name instead (as Active Directory rewrites its links, without sending the referrers again),
   * and are marked for inbound sync. `renamed`: old name → new name. Finds the references indexed
   * (setIndexedReferences).
   */
  renameReferences(connectors: string[], renamed: ReadonlyMap<string, string>): Promise<void>;

  // exports
  /**
   * `renames`: the object gets a new name (desiredName is not its name): it goes out before its referrers.
   * `disable`: the update deprovisions (disables) the object: the deletion threshold counts it.
   */
  setPending(p: Omit<PendingExport, 'attempts' | 'lastError' | 'notBefore' | 'state' | 'rank' | 'disable'> & { renames?: boolean; disable?: boolean }): Promise<void>;
  clearPending(csId: number | number[]): Promise<void>;
  pending(connector: string, filter?: { state?: PendingState; op?: ExportOp; disable?: boolean }): Promise<PendingExport[]>;
  /**
   * A page of pending exports in export order: creates without references first (what others reference is
   * created before them), then renames (EXPORT_RANK), creates with references, updates, and deletes; after `after` when given.
   */
  pendingPage(connector: string, after: PendingCursor | null, limit: number): Promise<PendingExport[]>;
  countPendingOps(connector: string): Promise<Record<ExportOp, number>>;
  /** The pending exports of one rank (EXPORT_RANK) in `connector`: the metaverse object and the name wanted. */
  pendingOfRank(connector: string, rank: number): Promise<{ csId: number; mvId: string | null; desiredName: string | null; notBefore: number }[]>;
  pendingByCs(csId: number): Promise<PendingExport | null>;
  setPendingState(csIds: number[], state: PendingState): Promise<void>;
  failPending(csId: number, error: ObjectErrorInfo, notBefore: number): Promise<void>;
  countPending(connector: string): Promise<Record<PendingState, number>>;

  // errors, log, runs
  recordError(e: Omit<ObjectError, 'attempts' | 'firstAt' | 'lastAt'>): Promise<void>;
  /**
   * Clears the object's error of one phase: a successful import does not vouch for an export that failed, so
   * an export error stays listed until the export succeeds.
   */
  clearError(connector: string, key: string, phase: ObjectError['phase']): Promise<void>;
  errors(connector?: string): Promise<ObjectError[]>;
  /** how many object errors stand, per connector (connectors with none are left out) */
  countErrors(): Promise<Record<string, number>>;
  appendLog(entries: LogEntry[]): Promise<void>;
  /** removes up to `limit` of the oldest log entries written before `before` (ISO time); returns how many */
  pruneLog(before: string, limit: number): Promise<number>;
  log(query: LogQuery): Promise<StoredLogEntry[]>;
  /** The names log entries recorded for these metaverse objects, oldest first: how a purged object is still named. */
  loggedNames(mvIds: string[]): Promise<Map<string, string[]>>;
  startRun(kind: string): Promise<number>;
  finishRun(id: number, status: string, stats: RunStats[]): Promise<void>;
  runs(limit: number): Promise<RunRecord[]>;
  /** the runs with these ids (those that still exist), newest first */
  runsByIds(ids: number[]): Promise<RunRecord[]>;
  /** approvals: one-shot permissions to exceed a safety threshold */
  approve(connector: string): Promise<void>;
  takeApproval(connector: string): Promise<boolean>;
  hasApproval(connector: string): Promise<boolean>;
}
