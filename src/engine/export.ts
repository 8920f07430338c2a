/**
 * Export: pending exports → changes against the target's last known state → the connector.
 *
 * Safety of the protocol:
 * - A pending export stores what the target should become, not a list of operations; the operations are
 *   computed at export time against the connector space, so an export retried after a partial success or a
 *   re-import sends only what is still missing.
 * - Rows are marked in-flight (committed) before they are sent. A create found in-flight at the next export
 *   may have reached the target before a crash: the engine looks the object up by the rule's match
 *   attributes and links it instead of creating a second one.
 * - The target's answer is recorded in the connector space (the confirmed state), so a second run with no
 *   change in the sources computes no change and sends nothing.
 */
import type { ConnectorConfig, OutboundRule } from '../config/model.js';
import type { AttributeChange, Connector, ExportChange, ExportResult } from '../connectors/contract.js';
import { errorMessage, IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { type Attributes, displayValue, encodeAttributes, isReference, type Value } from '../core/values.js';
import { type CsObject, EXPORT_RANK, type LogEntry, type ObjectErrorInfo, type PendingCursor, type PendingExport, type RunStats } from '../store/types.js';
import { applyChanges, describeChanges, diffAttributes } from './attributes.js';
import { type EngineContext, flushLog } from './context.js';
import { blankStats } from './import.js';
import { csLabel, identifyingValue, referenceNames, referenceValues } from './names.js';
import { deleteLimit, describeThreshold } from './safety.js';
import { isFingerprint, scrub, secretTexts } from './secrets.js';

export interface PlannedChange {
  connector: string;
  op: 'create' | 'update' | 'delete';
  objectType: string;
  /** anchor of the target object; null for a create */
  anchor: string | null;
  /** a readable identity: the DN, or the value of the first flowed attribute for a create */
  object: string;
  /** the name a person knows the object by (names.ts): a DN, a userName, a displayName, a table key */
  name: string;
  /** reference values in `changes` (as the target names them) → the names of the objects they refer to */
  names?: Record<string, string>;
  newName?: string;
  changes: { attribute: string; old: string[]; new: string[] }[];
  /** held by the deletion threshold until `idsync approve` */
  held: boolean;
  /** an update that deprovisions (disables) the object: counted against the deletion threshold */
  disable?: boolean;
  /** held: whose deletion threshold holds it (the target's export, or a source's held full import) */
  heldBy?: { connector: string; phase: 'import' | 'export' };
  csId: number;
  mvId: string | null;
}

export interface ExportOutcome {
  stats: RunStats;
  planned: PlannedChange[];
}

/** Foreign references: values in the target that name an object idsync does not know. Kept by name. */
const FOREIGN = 'name:';
const BATCH = 500;
const MAX_PASSES = 4;
/** waves of creates within one page (a chain of references deeper than this is finished by a later pass) */
const MAX_WAVES = 8;

/**
 * The secret values each planned change carries, for the apply digest only: the plan shows them as
 * [redacted], yet a plan must go stale when a password it would send changes. Kept beside, never in, the
 * PlannedChange, so no output (plan --json, explain) can include them.
 */
const plannedSecrets = new WeakMap<PlannedChange, string[]>();

export function secretsOfPlanned(p: PlannedChange): readonly string[] {
  return plannedSecrets.get(p) ?? [];
}

/** The reference values each planned change shows, named per page (nameReferences) for the output. */
const plannedReferences = new WeakMap<PlannedChange, string[]>();

interface Prepared {
  pending: PendingExport;
  cs: CsObject;
  change: ExportChange;
  planned: PlannedChange;
  /** some references could not be resolved yet (their targets are not created): export again after */
  deferred: boolean;
}

export async function exportConnector(
  ctx: EngineContext,
  cfg: ConnectorConfig,
  /**
   * collect: return every change sent (apply reports them); plans always return theirs. only: export these
   * connector-space objects and no other, whatever their back-off (one object provisioned or retried on demand)
   */
  options: { dryRun: boolean; collect?: boolean; only?: ReadonlySet<number> },
): Promise<ExportOutcome> {
  const started = Date.now();
  const stats = blankStats(cfg.name, 'export');
  const connector = ctx.connector(cfg.name);
  const planned: PlannedChange[] = [];
  if (!connector.capabilities.export || !connector.export) {
    stats.status = 'skipped';
    return { stats, planned };
  }
  const unreachable = ctx.unreachable.get(cfg.name);
  if (unreachable !== undefined && !options.dryRun) {
    // Its import could not connect or authenticate: every change would fail the same way.
    stats.status = 'skipped';
    stats.detail = `not exported: ${unreachable}; ${await waitingCount(ctx, cfg.name)} wait for the next cycle`;
    return { stats, planned };
  }
  if (!options.dryRun) await recoverInFlight(ctx, connector, cfg.name);
  const holdDeletes = await deprovisionsHeld(ctx, cfg, stats, options.dryRun);
  const naming = await namingOf(ctx, cfg.name, { holdDeletes, dryRun: options.dryRun });
  const pipeline = new Pipeline(ctx, cfg.name, stats, naming);

  // Pages in export order: what others reference is created first, so most references resolve in the same
  // pass. Later passes re-send only changes that waited for a reference created meanwhile.
  let waiting: ReadonlySet<number> | null = options.only ?? null;
  const total = await pendingTotal(ctx, cfg.name);
  // A plan sends nothing, so references to the objects it creates resolve from its own list (naming.answered:
  // metaverse id → the name the plan gives the object). Changes that wait for one are prepared again at the
  // end (`again`), as apply sends them whole once the object exists (the waves below, or a later pass).
  const again: PendingExport[] = [];
  const markHeld = (p: Prepared) => {
    if (!holdDeletes || !(p.change.op === 'delete' || p.pending.disable)) return;
    p.planned.held = true;
    p.planned.heldBy = { connector: cfg.name, phase: 'export' };
  };
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const deferred = new Set<number>();
    const addedBefore = stats.added;
    let cursor: PendingCursor | null = null;
    let done = 0;
    pages: for (;;) {
      const page = endAtRenames(await ctx.store.pendingPage(cfg.name, cursor, BATCH));
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      cursor = { rank: last.rank, csId: last.csId };
      const due = page.filter(
        (p) => (options.dryRun || options.only !== undefined || p.notBefore <= ctx.now.getTime()) && (waiting === null || waiting.has(p.csId)),
      );
      // Waves within the page: a create whose reference waits for another create of the same page (a report
      // and their manager, a group and its members) is held back until that create is sent, so it is sent
      // once, whole, instead of created without the reference and updated in a later pass.
      let batch = due;
      for (let wave = 0; batch.length > 0; wave++) {
        // the batch in flight answered first: references to its creates resolve from its names
        await pipeline.settle();
        // the target could not be reached: the rest waits for the next cycle instead of failing the same way
        if (ctx.unreachable.has(cfg.name)) break pages;
        const { prepared, waiting: nothingToSendYet } = await prepareAll(ctx, cfg.name, batch, naming, options.dryRun);
        for (const p of prepared) markHeld(p);
        if (options.dryRun) {
          for (const p of prepared) {
            if (p.change.op === 'create' && p.cs.mvId) naming.answered.set(p.cs.mvId, p.change.name ?? p.planned.object);
            if (p.deferred) again.push(p.pending);
            else planned.push(p.planned);
          }
          const waitingIds = new Set(nothingToSendYet);
          again.push(...batch.filter((p) => waitingIds.has(p.csId)));
          break;
        }
        const sendable = prepared.filter((p) => !p.planned.held);
        const creating = wave < MAX_WAVES && sendable.some((p) => p.change.op === 'create' && !p.deferred);
        const heldBack = creating ? sendable.filter((p) => p.change.op === 'create' && p.deferred) : [];
        const toSend = heldBack.length > 0 ? sendable.filter((p) => !(p.change.op === 'create' && p.deferred)) : sendable;
        if (toSend.length > 0) await pipeline.send(connector, toSend);
        // An ordinary cycle keeps only counts: a list of 100,000 changes would be most of its memory.
        if (options.collect) planned.push(...toSend.map((p) => p.planned));
        for (const p of toSend) if (p.deferred) deferred.add(p.cs.id);
        // An update whose only changes reference objects not created yet sends nothing now, but waits for the
        // same creates as a deferred one: after a crash it is how a group created before its members gets them.
        for (const id of nothingToSendYet) deferred.add(id);
        batch = heldBack.map((p) => p.pending);
      }
      done += page.length;
      ctx.progress.update(`${cfg.name} export`, done, pass === 0 ? total : undefined);
    }
    await pipeline.recordHeld();
    if (ctx.unreachable.has(cfg.name)) {
      stats.status = 'failed';
      stats.detail = `${ctx.unreachable.get(cfg.name)}: the export stopped; ${await waitingCount(ctx, cfg.name)} wait for the next cycle`;
      break;
    }
    // A waiting reference resolves only when its object is created: a pass that created nothing ends it.
    if (options.dryRun || deferred.size === 0 || stats.added === addedBefore) break;
    waiting = deferred;
  }
  if (options.dryRun && again.length > 0) {
    const { prepared } = await prepareAll(ctx, cfg.name, again, naming, options.dryRun);
    for (const p of prepared) markHeld(p);
    planned.push(...prepared.map((p) => p.planned));
  }
  if (holdDeletes && !options.dryRun) {
    const held = [...(await ctx.store.pending(cfg.name, { op: 'delete' })), ...(await ctx.store.pending(cfg.name, { disable: true }))].map((p) => p.csId);
    await ctx.store.transaction(() => ctx.store.setPendingState(held, 'held'));
  }
  ctx.progress.done();
  stats.durationMs = Date.now() - started;
  return { stats, planned };
}

/** The exports of a connector not done yet, whatever their state. */
async function pendingTotal(ctx: EngineContext, connector: string): Promise<number> {
  return Object.values(await ctx.store.countPending(connector)).reduce((a, b) => a + b, 0);
}

/** "N changes": pendingTotal as the stats' detail says it. */
async function waitingCount(ctx: EngineContext, connector: string): Promise<string> {
  return plural(await pendingTotal(ctx, connector), 'change');
}

// ---- how references name objects ------------------------------------------------------------------------------

/**
 * References follow objects: how this export names the objects references point at. An object renamed here is
 * named by its new name, and an object deleted here by nothing (a target without referential integrity keeps
 * a value naming a deleted or renamed entry for ever); a value the target holds that names an object by a name
 * it is losing is stale, and is replaced or removed.
 */
interface Naming {
  /** metaverse id → the name of its target object as created or renamed by a batch answered, not recorded yet */
  answered: Map<string, string>;
  /** metaverse id → the name a pending rename gives its target object */
  renaming: Map<string, string>;
  /** metaverse ids whose target objects this export deletes */
  leaving: Set<string>;
}

async function namingOf(ctx: EngineContext, connector: string, options: { holdDeletes: boolean; dryRun: boolean }): Promise<Naming> {
  const due = (p: { notBefore: number }) => options.dryRun || p.notBefore <= ctx.now.getTime();
  const renaming = new Map<string, string>();
  for (const p of await ctx.store.pendingOfRank(connector, EXPORT_RANK.rename)) {
    if (p.mvId && p.desiredName && due(p)) renaming.set(p.mvId, p.desiredName);
  }
  const leaving = new Set<string>();
  if (!options.holdDeletes) {
    for (const p of await ctx.store.pendingOfRank(connector, EXPORT_RANK.delete)) if (p.mvId && due(p)) leaving.add(p.mvId);
  }
  return { answered: new Map(), renaming, leaving };
}

/**
 * A page ends with its last rename: renames are answered before anything that may name a renamed object is
 * prepared, so a target that checks references (Active Directory) is never sent a name it does not have yet.
 */
function endAtRenames(page: PendingExport[]): PendingExport[] {
  const after = page.findIndex((p) => p.rank > EXPORT_RANK.rename);
  return after > 0 && page[after - 1]!.rank === EXPORT_RANK.rename ? page.slice(0, after) : page;
}

// ---- preparing changes ------------------------------------------------------------------------------------------

/** The changes to send; `waiting`: the CS ids of exports that have nothing to send until a reference resolves. */
async function prepareAll(
  ctx: EngineContext,
  connector: string,
  pendings: PendingExport[],
  naming: Naming,
  dryRun: boolean,
): Promise<{ prepared: Prepared[]; waiting: number[] }> {
  const out: Prepared[] = [];
  const waiting: number[] = [];
  const objects = new Map((await ctx.store.csByIds(pendings.map((p) => p.csId))).map((o) => [o.id, o]));
  // Every reference of the page resolved in one look-up: nothing is sent before the whole page is prepared.
  const names = await targetNames(ctx, connector, pendings.map((p) => p.desired), naming);
  const finished: number[] = [];
  for (const pending of pendings) {
    const cs = objects.get(pending.csId);
    const prepared = cs ? await prepareOne(ctx, connector, pending, cs, names, naming) : 'done';
    if (prepared === 'done') finished.push(pending.csId);
    else if (prepared === 'wait') waiting.push(pending.csId);
    else out.push(prepared);
  }
  // Only a plan names references as it goes (a person reads it now); the log's entries are named when shown
  // (nameLogEntries). Naming every page of a run cost the initial load a third of its time and 80 MB.
  if (dryRun) await nameReferences(ctx, connector, out.map((p) => p.planned), names);
  if (finished.length > 0) {
    // Outbound sync counted these as updated; the target already is as desired: nothing changes after all.
    const counted = ctx.outboundUpdates?.get(connector);
    const unchanged = counted ? finished.filter((id) => counted.ids.has(id)).length : 0;
    if (counted && unchanged > 0) {
      counted.stats.updated -= unchanged;
      counted.stats.unchanged += unchanged;
    }
    await ctx.store.transaction(async () => {
      await ctx.store.clearPending(finished);
      // the target already is as desired: an export error recorded for it earlier no longer stands
      for (const id of finished) {
        const anchor = objects.get(id)?.anchor;
        if (anchor) await ctx.store.clearError(connector, anchor, 'export');
      }
    });
  }
  return { prepared: out, waiting };
}

/**
 * Names the objects the page's changes refer to (one look-up for the page), so that the plan shows
 * `manager: Ann Lee`, not the target's id for her. Targets whose names are names (LDAP DNs)
 * need none; an object created in this run is named from the metaverse.
 */
async function nameReferences(
  ctx: EngineContext,
  connector: string,
  planned: PlannedChange[],
  /** metaverse id → target name, as the page resolved them */
  resolved: ReadonlyMap<string, string | null>,
): Promise<void> {
  if (ctx.connector(connector).capabilities.nameAttribute) return;
  const values = planned.flatMap((p) => plannedReferences.get(p) ?? []);
  if (values.length === 0) return;
  const viaMv = new Map<string, string>();
  for (const [mvId, name] of resolved) if (name !== null) viaMv.set(name, mvId);
  const names = await referenceNames(ctx.store, connector, values, viaMv);
  for (const p of planned) {
    const mine = (plannedReferences.get(p) ?? []).filter((v) => names.has(v));
    if (mine.length > 0) p.names = Object.fromEntries(mine.map((v) => [v, names.get(v)!]));
  }
}

/**
 * The change to send for one pending export; 'done' when the target already is as desired; 'wait' when the
 * only changes left reference objects not created yet.
 */
export async function prepareOne(
  ctx: EngineContext,
  connector: string,
  pending: PendingExport,
  cs: CsObject,
  /** the page's references already resolved (targetNames); each object gets its own copy to extend */
  resolved: Map<string, string | null>,
  naming: Naming,
): Promise<Prepared | 'done' | 'wait'> {
  const schema = ctx.schema(connector)?.objectTypes[cs.objectType]?.attributes ?? {};
  const isSecret = (a: string) => ctx.secrets.inConnector(connector, cs.objectType, a);
  const plannedBase = {
    connector,
    objectType: cs.objectType,
    anchor: cs.anchor,
    held: false,
    csId: cs.id,
    mvId: cs.mvId,
  };

  if (pending.op === 'delete') {
    if (cs.anchor === null || !cs.present) return 'done';
    const change: ExportChange = { op: 'delete', id: exportId(cs), objectType: cs.objectType, anchor: cs.anchor, ...(cs.name ? { name: cs.name } : {}) };
    const planned: PlannedChange = { ...plannedBase, op: 'delete', object: cs.name ?? cs.anchor, name: csLabel(cs), changes: [] };
    return { pending, cs, change, planned, deferred: false };
  }

  const toName = new Overlay(resolved);
  // Whether the object exists decides: a create that succeeded but still waits for a reference is an update now.
  if (cs.anchor === null) {
    const { attributes, deferred } = desiredInTargetSpace(pending.desired, toName);
    const change: ExportChange = {
      op: 'create',
      id: exportId(cs),
      objectType: cs.objectType,
      attributes,
      ...(pending.desiredName ? { name: pending.desiredName } : {}),
    };
    const object = pending.desiredName ?? identityOf(attributes, isSecret) ?? `new ${cs.objectType}`;
    const planned: PlannedChange = {
      ...plannedBase,
      op: 'create',
      object,
      name: object,
      changes: describeChanges({}, attributes, Object.keys(attributes).sort(), isSecret, showValue),
    };
    plannedSecrets.set(planned, secretTexts(attributes, isSecret));
    plannedReferences.set(planned, referenceValues(attributes));
    return { pending, cs, change, planned, deferred };
  }

  // An update: desired and current compared in metaverse-id space, then the changes translated back.
  const desired = { ...pending.desired };
  for (const a of pending.createOnly) delete desired[a];
  await settleSecrets(ctx, desired, cs.attributes, (a) => ctx.secrets.isCredential(connector, cs.objectType, a));
  const current = await currentInMvSpace(ctx, connector, cs.attributes, Object.keys(desired), toName, naming);
  const isMulti = (a: string) => schema[a]?.multiValued ?? ((desired[a]?.length ?? 0) > 1 || (current[a]?.length ?? 0) > 1);
  const mvChanges = diffAttributes(desired, current, isMulti);
  const { changes, deferred } = changesInTargetSpace(mvChanges, toName);
  const rename = pending.desiredName && pending.desiredName !== cs.name ? pending.desiredName : undefined;
  if (Object.keys(changes).length === 0 && !rename) return deferred ? 'wait' : 'done';
  const change: ExportChange = {
    op: 'update',
    id: exportId(cs),
    objectType: cs.objectType,
    anchor: cs.anchor,
    ...(cs.name ? { name: cs.name } : {}),
    ...(rename ? { newName: rename } : {}),
    changes,
  };
  const after = applyChanges(cs.attributes, changes);
  const planned: PlannedChange = {
    ...plannedBase,
    op: 'update',
    ...(pending.disable ? { disable: true } : {}),
    object: cs.name ?? cs.anchor,
    name: csLabel(cs),
    ...(rename ? { newName: rename } : {}),
    changes: describeChanges(cs.attributes, after, Object.keys(changes).sort(), isSecret, showValue),
  };
  plannedSecrets.set(planned, secretTexts(after, (a) => isSecret(a) && a in changes));
  plannedReferences.set(planned, [...referenceValues(cs.attributes, Object.keys(changes)), ...referenceValues(after, Object.keys(changes))]);
  return { pending, cs, change, planned, deferred };
}

/**
 * Secrets in an update. The target's connector space holds a fingerprint of what was sent, not the value:
 * an unchanged secret is compared by fingerprint and not sent again. A secret the sources no longer hold
 * (a gateway drops a password once delivered, a feed sends an initial password once) is left as the target
 * has it: idsync never clears a password.
 */
async function settleSecrets(
  ctx: EngineContext,
  desired: Attributes,
  current: Attributes,
  isSecret: (attribute: string) => boolean,
): Promise<void> {
  for (const [attr, values] of Object.entries(desired)) {
    if (!isSecret(attr)) continue;
    if (values.length === 0) {
      delete desired[attr];
      continue;
    }
    const have = current[attr] ?? [];
    if (have.length === 0 || !have.every(isFingerprint)) continue;
    const fingerprint = await ctx.secrets.fingerprinter(ctx.store);
    const want = values.map((v) => String(fingerprint(v))).sort();
    if (want.length === have.length && have.map(String).sort().every((f, i) => f === want[i])) delete desired[attr];
  }
}

/**
 * What the connector space keeps of an object the target confirmed: its secrets as fingerprints of what was
 * sent (`sent`: the object as idsync asked for it), not of the form the target reports them in (a hash).
 */
async function confirmedState(
  ctx: EngineContext,
  connector: string,
  objectType: string,
  attributes: Attributes,
  sent: Attributes,
): Promise<Attributes> {
  const isCredential = (a: string) => ctx.secrets.isCredential(connector, objectType, a);
  // asked for every object exported: no set or array built unless there is a secret
  const secret: string[] = [];
  for (const a in attributes) if (isCredential(a)) secret.push(a);
  for (const a in sent) if (!(a in attributes) && isCredential(a)) secret.push(a);
  if (secret.length === 0) return attributes;
  const fingerprint = await ctx.secrets.fingerprinter(ctx.store);
  const out = { ...attributes };
  for (const a of secret) {
    const values = sent[a] ?? attributes[a] ?? [];
    if (values.length > 0) out[a] = values.map((v) => (isFingerprint(v) ? v : fingerprint(v)));
    else delete out[a];
  }
  return out;
}

function showValue(v: Value): string {
  return isReference(v) ? v.ref : displayValue(v);
}

function identityOf(attributes: Attributes, isSecret: (attribute: string) => boolean): string | undefined {
  const known = identifyingValue(attributes);
  if (known !== undefined) return known;
  for (const [attribute, values] of Object.entries(attributes)) {
    if (isSecret(attribute)) continue;
    const v = values[0];
    if (v !== undefined && !isReference(v) && !(v instanceof Uint8Array)) return String(v);
  }
  return undefined;
}

function exportId(cs: CsObject): string {
  return `cs-${cs.id}`;
}

/**
 * Metaverse ids referenced by `desired` → the names of their linked objects in this target. null: the object
 * is being provisioned here and has no name yet (the reference waits); absent: it is not provisioned here at
 * all, or this export deletes it (the reference is left out; provisioning marks the referrers for another look).
 */
async function targetNames(
  ctx: EngineContext,
  connector: string,
  desired: Attributes[],
  naming: Naming,
): Promise<Map<string, string | null>> {
  const ids = new Set<string>();
  for (const d of desired) {
    for (const values of Object.values(d)) for (const v of values) if (isReference(v) && !v.ref.startsWith(FOREIGN)) ids.add(v.ref);
  }
  const out = new Map<string, string | null>();
  if (ids.size === 0) return out;
  for (const link of await ctx.store.linksIn(connector, [...ids])) {
    if (naming.leaving.has(link.mvId)) continue;
    const name = naming.answered.get(link.mvId) ?? naming.renaming.get(link.mvId);
    out.set(link.mvId, name ?? (link.present && link.anchor !== null ? (link.name ?? link.anchor) : null));
  }
  return out;
}

/** One object's view of the page's resolved references: what it adds (currentInMvSpace) stays its own. */
class Overlay extends Map<string, string | null> {
  constructor(private readonly base: Map<string, string | null>) {
    super();
  }

  override get(key: string): string | null | undefined {
    return super.has(key) ? super.get(key) : this.base.get(key);
  }

  override has(key: string): boolean {
    return super.has(key) || this.base.has(key);
  }
}

/**
 * The target's references (its names) → metaverse ids, so they compare with desired values. Each mapping
 * is added to `toName`, so that a value to remove translates back to the name the target knows it by. A value
 * naming an object this export deletes, or by the name a rename takes from it, is kept as a foreign name: the
 * diff replaces or removes it.
 */
async function currentInMvSpace(
  ctx: EngineContext,
  connector: string,
  current: Attributes,
  attrs: string[],
  toName: Map<string, string | null>,
  naming: Naming,
): Promise<Attributes> {
  const out: Attributes = {};
  const names: string[] = [];
  for (const a of attrs) for (const v of current[a] ?? []) if (isReference(v)) names.push(v.ref);
  const byName = await ctx.store.mvIdsByNames(connector, [...new Set(names)]);
  for (const a of attrs) {
    const values = current[a];
    if (!values) continue;
    out[a] = values.map((v) => {
      if (!isReference(v)) return v;
      const mvId = byName.get(v.ref);
      if (!mvId) return { ref: FOREIGN + v.ref };
      const named = naming.answered.get(mvId) ?? naming.renaming.get(mvId);
      if (naming.leaving.has(mvId) || (named !== undefined && named !== v.ref)) return { ref: FOREIGN + v.ref };
      toName.set(mvId, v.ref);
      return { ref: mvId };
    });
  }
  return out;
}

type Mapped = { value: Value } | 'wait' | 'drop';

function toTarget(v: Value, toName: Map<string, string | null>): Mapped {
  if (!isReference(v)) return { value: v };
  if (v.ref.startsWith(FOREIGN)) return { value: { ref: v.ref.slice(FOREIGN.length) } };
  const name = toName.get(v.ref);
  if (name === undefined) return 'drop';
  return name === null ? 'wait' : { value: { ref: name } };
}

/** Maps values into the target's names; reports whether any must wait for an object still to be created. */
function mapValues(values: Value[], toName: Map<string, string | null>): { values: Value[]; waiting: boolean } {
  const out: Value[] = [];
  let waiting = false;
  for (const v of values) {
    const m = toTarget(v, toName);
    if (m === 'wait') waiting = true;
    else if (m !== 'drop') out.push(m.value);
  }
  return { values: out, waiting };
}

function desiredInTargetSpace(desired: Attributes, toName: Map<string, string | null>): { attributes: Attributes; deferred: boolean } {
  const attributes: Attributes = {};
  let deferred = false;
  for (const [attr, values] of Object.entries(desired)) {
    const m = mapValues(values, toName);
    deferred ||= m.waiting;
    if (m.values.length > 0) attributes[attr] = m.values;
  }
  return { attributes, deferred };
}

function changesInTargetSpace(
  changes: Record<string, AttributeChange>,
  toName: Map<string, string | null>,
): { changes: Record<string, AttributeChange>; deferred: boolean } {
  const out: Record<string, AttributeChange> = {};
  let deferred = false;
  for (const [attr, change] of Object.entries(changes)) {
    if (change.replace) {
      const m = mapValues(change.replace, toName);
      deferred ||= m.waiting;
      // A value not created yet must not clear or shrink the attribute meanwhile: the whole replace waits.
      if (!m.waiting) out[attr] = { replace: m.values };
      continue;
    }
    const add = mapValues(change.add ?? [], toName);
    const remove = mapValues(change.remove ?? [], toName);
    deferred ||= add.waiting;
    const c: AttributeChange = {
      ...(add.values.length ? { add: add.values } : {}),
      ...(remove.values.length ? { remove: remove.values } : {}),
    };
    if (c.add || c.remove) out[attr] = c;
  }
  return { changes: out, deferred };
}

// ---- the deletion threshold ---------------------------------------------------------------------------------------

/**
 * Whether this run holds the connector's deletes and disables: more of them than its threshold, and no
 * approval. Entra's accidental-deletion prevention counts both: a mass disable locks people out as surely.
 */
async function deprovisionsHeld(ctx: EngineContext, cfg: ConnectorConfig, stats: RunStats, dryRun: boolean): Promise<boolean> {
  const deletes = (await ctx.store.countPendingOps(cfg.name)).delete;
  const disables = await effectiveDisables(ctx, cfg.name);
  const count = deletes + disables;
  if (count === 0) return false;
  const population = (await ctx.store.countCs(cfg.name)).present;
  const limit = deleteLimit(cfg.deleteThreshold, population);
  if (count <= limit) return false;
  if (await ctx.store.hasApproval(cfg.name)) {
    // The approval is for this run's deletes: used up when they are sent, kept by a plan.
    if (!dryRun) await ctx.store.takeApproval(cfg.name);
    return false;
  }
  const threshold = describeThreshold(cfg.deleteThreshold);
  const what = [deletes > 0 ? plural(deletes, 'delete') : '', disables > 0 ? plural(disables, 'disable') : ''].filter(Boolean).join(' and ');
  const message =
    `${what} exceed the deletion threshold of ${cfg.name} (${threshold}: at most ${limit} of its ${population} objects); ` +
    `they are held. Review them with \`idsync plan\`, then run \`idsync approve ${cfg.name}\` and run again.`;
  stats.status = 'held';
  stats.hold = { connector: cfg.name, phase: 'export', count, limit, population, threshold, message };
  stats.detail = message;
  return true;
}

/** Pending disables that change something: an account already disabled is not disabled again. */
async function effectiveDisables(ctx: EngineContext, connector: string): Promise<number> {
  const pendings = await ctx.store.pending(connector, { disable: true });
  if (pendings.length === 0) return 0;
  const objects = new Map((await ctx.store.csByIds(pendings.map((p) => p.csId))).map((o) => [o.id, o]));
  let count = 0;
  for (const p of pendings) {
    const cs = objects.get(p.csId);
    if (cs?.present && cs.anchor !== null && Object.keys(diffAttributes(p.desired, cs.attributes, () => false)).length > 0) count++;
  }
  return count;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---- sending ------------------------------------------------------------------------------------------------------------

/** A batch the target answered, waiting to be recorded. */
interface Answered {
  batch: Prepared[];
  results: Map<string, ExportResult>;
  /** the connector's proof that nothing else wrote to the target during this batch (exportSpan) */
  span: { from: string; to: string } | undefined;
}

/**
 * Sends batches one after the other, and records each one's results while the target works on the next:
 * recording (the confirmed state, the log) is most of the engine's own export work, and a target is another
 * process, server or thread, so the two overlap; so does reading the next page of pending exports. At most
 * one batch is in flight and one answered batch waits to be recorded.
 *
 * Crash safety is unchanged: every batch is marked in-flight (committed) before it is sent, and stays so
 * until its results are recorded, so a crash with two batches unrecorded recovers both (recoverInFlight).
 */
class Pipeline {
  /** the batch the target is working on: sent, not answered yet */
  private flying: { target: Connector; batch: Prepared[]; answer: Promise<Map<string, ExportResult>> } | undefined;
  private answered: Answered | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly connector: string,
    private readonly stats: RunStats,
    /** later batches name the objects of an answered batch by the names it gave them (`answered`) */
    private readonly naming: Naming,
  ) {}

  /**
   * Marks the batch in-flight, hands it to the target and records the batch answered before it meanwhile.
   * Returns without waiting for the answer: the engine reads its next page of pending exports while the
   * target works, and waits (`settle`) only when it must know the answer, before preparing that page.
   */
  async send(target: Connector, batch: Prepared[]): Promise<void> {
    const { ctx } = this;
    await this.settle();
    await ctx.store.transaction(() => ctx.store.setPendingState(batch.map((p) => p.cs.id), 'in-flight'));
    // a node paused between that commit and this send, past its lease, must not send: another holds it now
    ctx.fence?.();
    this.flying = { target, batch, answer: collectResults(target, batch) };
    await this.recordAnswered();
  }

  /** Waits for the batch in flight, if any: after this, `naming` holds the target's names of its creates and renames. */
  async settle(): Promise<void> {
    const flying = this.flying;
    if (!flying) return;
    this.flying = undefined;
    const results = await flying.answer;
    // A connection or credentials failure ends this connector's export now, before another batch is sent.
    const lost = [...results.values()].find((r) => !r.ok && r.error.connection);
    if (lost && !lost.ok && !this.ctx.unreachable.has(this.connector)) {
      const message = scrub(redact(lost.error.message), flying.batch.flatMap((p) => secretsOfPlanned(p.planned)));
      this.ctx.unreachable.set(this.connector, `${lost.error.code}: ${message}`);
    }
    // one answered batch waits at a time (send records it before settling again; this keeps it so)
    await this.recordAnswered();
    // read now, before another batch is sent: the span of the writes of this one
    this.answered = { batch: flying.batch, results, span: flying.target.exportSpan?.() };
    for (const p of flying.batch) {
      const result = results.get(p.change.id);
      const mvId = p.cs.mvId;
      if (!mvId) continue;
      if (p.change.op === 'create' && result?.ok) {
        const created = createdAs(result, p.change);
        if (created) this.naming.answered.set(mvId, created.name);
      } else if (p.change.op === 'update' && p.change.newName) {
        // a rename that failed leaves the object its name: its referrers keep naming it so
        if (result?.ok) this.naming.answered.set(mvId, result.name ?? p.change.newName);
        else this.naming.renaming.delete(mvId);
      }
    }
  }

  /** Records every batch sent so far: the one in flight once answered, and the one answered before it. */
  async recordHeld(): Promise<void> {
    await this.settle(); // records the answered batch before taking the one in flight's answer
    await this.recordAnswered();
  }

  /** Records the answered batch, if any: its confirmed states, pending rows and log in one transaction. */
  private async recordAnswered(): Promise<void> {
    const answered = this.answered;
    if (!answered) return;
    this.answered = undefined;
    const { ctx, connector, stats } = this;
    await ctx.store.transaction(async () => {
      const settled: Settled = { done: [], again: [] };
      for (const p of answered.batch) await recordResult(ctx, connector, p, answered.results.get(p.change.id), stats, settled);
      await ctx.store.clearPending(settled.done);
      await ctx.store.setPendingState(settled.again, 'pending');
      // Nothing but this batch changed the target since our last import of it, and the connector space now
      // holds what the target holds: the next delta import need not read these writes back.
      const span = answered.span;
      if (span && (await ctx.store.getWatermark(connector)) === span.from) await ctx.store.setWatermark(connector, span.to);
      await flushLog(ctx);
    });
    // recorded: the store knows these names now (those of a batch answered since stay until it is recorded)
    for (const p of answered.batch) {
      if (!p.cs.mvId) continue;
      this.naming.answered.delete(p.cs.mvId);
      this.naming.renaming.delete(p.cs.mvId);
    }
  }
}

/** Sends one batch; a connector that fails as a whole (connection lost) leaves every change retryable. */
async function collectResults(connector: Connector, batch: Prepared[]): Promise<Map<string, ExportResult>> {
  const results = new Map<string, ExportResult>();
  try {
    for await (const result of connector.export!(batch.map((p) => p.change))) results.set(result.id, result);
  } catch (err) {
    const raw = redact(errorMessage(err));
    const code = err instanceof IdsyncError ? err.code : 'EXPORT_FAILED';
    const everySecret = batch.flatMap((p) => secretsOfPlanned(p.planned));
    const message = scrub(raw, everySecret);
    for (const p of batch) {
      // the connector failed as a whole, not on one object: as a connection failure, retried at the next cycle
      if (!results.has(p.change.id)) results.set(p.change.id, { id: p.change.id, ok: false, error: { code, message, retryable: true, connection: true } });
    }
  }
  return results;
}

/** Pending exports a batch finished (cleared together) and those sent again in a later pass. */
interface Settled {
  done: number[];
  again: number[];
}

async function recordResult(
  ctx: EngineContext,
  connector: string,
  p: Prepared,
  result: ExportResult | undefined,
  stats: RunStats,
  settled: Settled,
): Promise<void> {
  const { store } = ctx;
  const { change, cs } = p;
  const entry: LogEntry = {
    runId: ctx.runId,
    connector,
    object: p.planned.object,
    name: p.planned.name,
    ...(p.planned.names ? { names: p.planned.names } : {}),
    csId: cs.id,
    mvId: cs.mvId,
    phase: 'export',
    situation: change.op === 'create' ? 'no-match' : 'linked',
    action: change.op,
    status: 'success',
    steps: [],
    changes: p.planned.changes,
  };
  // Deleting what is already gone is done, whatever the system calls it.
  if (result && !result.ok && change.op === 'delete' && result.error.notFound) {
    result = { id: result.id, ok: true };
  }
  if (result && !result.ok && result.error.connection) {
    // Not this object's failure: no backoff, no object error. The change is due again at the next cycle; the
    // export of this connector has stopped (Pipeline.settle saw the failure; the cycle reports it failed).
    // A create whose connection failed may have reached the target all the same (an agent killed, a
    // connection dropped after the write): it stays in-flight, so the next cycle looks the object up by the
    // rule's match attributes before creating it again (recoverInFlight), as after a crash.
    const { connection: _, ...error } = { ...result.error, message: scrub(redact(result.error.message), secretsOfPlanned(p.planned)) };
    const unsure = change.op === 'create';
    if (!unsure) settled.again.push(cs.id);
    const next = unsure ? 'looked up and retried at the next cycle' : 'retried at the next cycle';
    ctx.log.push({ ...entry, status: 'error', error, steps: [{ step: 'export', detail: `${error.code}: ${error.message}; ${next}` }] });
    return;
  }
  if (!result || !result.ok) {
    const error: ObjectErrorInfo = result && !result.ok
      ? { ...result.error, message: scrub(redact(result.error.message), secretsOfPlanned(p.planned)) }
      : { code: 'EXPORT_NO_RESULT', message: 'the connector returned no result for this change', retryable: true };
    const pending = p.pending;
    const backoffMs = Math.min(2 ** pending.attempts * 30_000, 3_600_000);
    await store.failPending(cs.id, error, ctx.now.getTime() + backoffMs);
    await store.recordError({ connector, key: errorKey(p), phase: 'export', ...error });
    stats.errors++;
    ctx.log.push({ ...entry, status: 'error', error, steps: [{ step: 'export', detail: `${error.code}: ${error.message}` }] });
    return;
  }

  switch (change.op) {
    case 'create': {
      const created = createdAs(result, change);
      if (!created) {
        await store.failPending(cs.id, { code: 'EXPORT_NO_ANCHOR', message: 'the connector did not return the new object\'s anchor' }, ctx.now.getTime());
        stats.errors++;
        return;
      }
      const attributes = await confirmedState(ctx, connector, cs.objectType, result.object?.attributes ?? change.attributes, change.attributes);
      await store.confirmCs(cs.id, { ...created, attributes, hash: encodeAttributes(attributes), present: true }, cs);
      stats.added++;
      entry.object = result.name ?? change.name ?? p.planned.object;
      break;
    }
    case 'update': {
      const sent = applyChanges(cs.attributes, change.changes);
      const attributes = await confirmedState(ctx, connector, cs.objectType, result.object?.attributes ?? sent, sent);
      await store.confirmCs(cs.id, { name: result.name ?? change.newName ?? cs.name ?? undefined, attributes, hash: encodeAttributes(attributes), present: true }, cs);
      stats.updated++;
      break;
    }
    case 'delete':
      await store.deleteCs([cs.id]);
      stats.deleted++;
      break;
  }
  await store.clearError(connector, errorKey(p), 'export');
  entry.steps.push({ step: 'export', detail: `${change.op} accepted by ${connector}` });
  ctx.log.push(entry);
  // Deferred references stay pending for the next pass; everything else is done.
  if (p.deferred) settled.again.push(cs.id);
  else settled.done.push(cs.id);
}

/**
 * The anchor and name a create's target object has (undefined: the connector gave no anchor): what the
 * connector space records, and what the Pipeline resolves references by until it is recorded.
 */
function createdAs(result: ExportResult & { ok: true }, change: ExportChange): { anchor: string; name: string } | undefined {
  const anchor = result.anchor ?? result.object?.anchor;
  if (!anchor) return undefined;
  return { anchor, name: result.name ?? result.object?.name ?? (change.op === 'create' ? change.name : undefined) ?? anchor };
}

/** Errors of a target object are keyed by its anchor, or by what it will be called while it has none. */
function errorKey(p: Prepared): string {
  return p.cs.anchor ?? p.planned.object;
}

// ---- crash recovery ----------------------------------------------------------------------------------------------

/**
 * Creates left in-flight by a crash may have reached the target. Before sending them again, look for the
 * object by the rule's match attributes: found, it is linked (its state recorded) instead of created twice.
 */
async function recoverInFlight(ctx: EngineContext, connector: Connector, name: string): Promise<void> {
  const pendings = await ctx.store.pending(name, { state: 'in-flight' });
  const inFlight = pendings.filter((p) => p.state === 'in-flight' && p.op === 'create');
  if (inFlight.length === 0 || !connector.lookup) {
    if (pendings.some((p) => p.state === 'in-flight')) {
      await ctx.store.transaction(() => ctx.store.setPendingState(pendings.filter((p) => p.state === 'in-flight').map((p) => p.csId), 'pending'));
    }
    return;
  }
  for (const p of inFlight) {
    const rule = ctx.config.outbound.find((r) => r.name === p.rule);
    const [cs] = await ctx.store.csByIds([p.csId]);
    if (!cs || cs.anchor !== null) continue;
    const found = rule ? await lookupExisting(connector, rule, cs.objectType, p.desired) : undefined;
    await ctx.store.transaction(async () => {
      if (!found) {
        await ctx.store.setPendingState([p.csId], 'pending');
        return;
      }
      const imported = (await ctx.store.csByAnchors(cs.connector, [found.anchor])).get(found.anchor);
      // The create was done, by the run that was interrupted before it could record it: the log says so now,
      // so that the provisioning log holds every export that reached a target.
      await ctx.store.appendLog([
        {
          runId: ctx.runId,
          connector: name,
          object: found.anchor,
          name: found.name ?? found.anchor,
          csId: imported?.id ?? cs.id,
          mvId: cs.mvId,
          phase: 'export',
          situation: 'no-match',
          action: 'create',
          status: 'success',
          steps: [
            {
              step: 'export',
              detail: `found in ${name} by the rule's match attributes after an interrupted export: created before the interruption, linked now, not created again`,
            },
          ],
          changes: [],
        },
      ]);
      if (imported) {
        // The target's import already brought the object in as a CS object of its own: link that one and
        // drop the placeholder.
        await ctx.store.deleteCs([cs.id]);
        await ctx.store.linkCs(imported.id, cs.mvId);
        await ctx.store.setPending({ ...p, csId: imported.id, op: 'update' });
      } else {
        const name = found.name ?? found.anchor;
        await ctx.store.confirmCs(cs.id, { anchor: found.anchor, name, attributes: found.attributes, hash: encodeAttributes(found.attributes), present: true });
        await ctx.store.setPending({ ...p, op: 'update' });
        await ctx.store.setPendingState([cs.id], 'pending');
      }
    });
  }
}

async function lookupExisting(
  connector: Connector,
  rule: OutboundRule,
  objectType: string,
  desired: Attributes,
): Promise<{ anchor: string; name?: string; attributes: Attributes } | undefined> {
  for (const group of rule.join) {
    const cond = group.find((c) => !c.metaverse && desired[c.attribute]?.length);
    if (!cond) continue;
    const values = desired[cond.attribute]!.filter((v) => !isReference(v));
    const found = await connector.lookup!(objectType, cond.attribute, values);
    if (found.length === 1) return found[0];
  }
  return undefined;
}

export function describeExportError(err: unknown): string {
  return redact(errorMessage(err));
}
