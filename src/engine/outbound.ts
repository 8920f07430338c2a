/**
 * Outbound sync: metaverse → connector space. For each changed metaverse object and each outbound rule:
 * scope, then link, match or provision, and record what the target object should become (a pending export).
 * The export phase turns that into changes against the target's last known state.
 */
import type { OutboundRule } from '../config/model.js';
import { errorMessage, IdsyncError } from '../core/errors.js';
import { IdSet } from '../core/id-set.js';
import { redact } from '../core/redact.js';
import { type Attributes, isReference, type Value } from '../core/values.js';
import { matchKey } from '../store/match.js';
import type { CsObject, LogEntry, MvObject, PendingExport, RunStats } from '../store/types.js';
import { flowInput } from './attributes.js';
import type { EngineContext, OutboundPage } from './context.js';
import { drainDirty } from './dirty.js';
import { blankStats } from './import.js';
import { mvLabel } from './names.js';
import { REDACTED, scrub } from './secrets.js';
import type { Action, Situation } from './situations.js';

const BATCH = 500;
const MAX_PASSES = 3;

export async function syncOutbound(ctx: EngineContext, full: boolean): Promise<Map<string, RunStats>> {
  const started = Date.now();
  const stats = new Map<string, RunStats>();
  if (ctx.config.outbound.length === 0) return stats;
  if (full) await ctx.store.transaction(() => ctx.store.markAllMvDirty());
  // Deprovisioning and provisioning can mark referrers dirty behind the cursor: drainDirty goes round again.
  await drainDirty(ctx, {
    label: 'outbound sync',
    passes: MAX_PASSES,
    start: '',
    page: (after) => ctx.store.dirtyMv(after, BATCH),
    keyOf: (id) => id,
    handle: async (ids) => {
      const mvs = await ctx.store.mvByIds(ids);
      const linked = groupByMv(await ctx.store.csByMv(ids, { attributes: false }));
      const provisioned = new Map<string, string[]>();
      const moved = new Set<string>();
      ctx.outboundPage = await openPage(ctx, [...mvs.values()], linked);
      try {
        for (const id of ids) {
          const mv = mvs.get(id);
          if (!mv) continue;
          for (const d of await syncMvObject(ctx, mv, linked.get(id) ?? [], stats)) {
            if (d.action === 'create' && d.situation === 'no-match') provisioned.set(d.connector, [...(provisioned.get(d.connector) ?? []), id]);
            if (d.movesReferences) moved.add(id);
          }
        }
      } finally {
        ctx.outboundPage = undefined;
      }
      await ctx.store.clearMvDirty(ids);
      // References follow objects: an object renamed or deleted in a target is named differently, or not at all,
      // by the objects that reference it there, which a target without referential integrity does not mend.
      for (const id of moved) await ctx.store.markMvDirty(await ctx.store.mvReferencing(id));
      // Objects whose last export left out their reference to a newly provisioned one (it had no target object
      // yet) must export it now. Referrers with a pending export get it anyway: references resolve at export.
      for (const [connector, created] of provisioned) await ctx.store.markMvDirty(await ctx.store.mvReferencingSettled(created, connector));
    },
  });
  // Objects of all connectors are synced interleaved: each connector's figure is the phase's duration.
  for (const s of stats.values()) s.durationMs = Date.now() - started;
  return stats;
}

const matchKeyOf = (rule: OutboundRule, attribute: string, key: string) => `${rule.connector}\0${rule.objectType}\0${attribute}\0${key}`;

/**
 * The page's match look-ups, one per connector, object type and attribute: the values matchTarget will look
 * for, computed as it does (the metaverse value, or the flow's); a value it ends up asking for that was not
 * looked up here (a flow that picks a unique value) goes to the store.
 */
async function openPage(ctx: EngineContext, mvs: MvObject[], linked: Map<string, CsObject[]>): Promise<OutboundPage> {
  const asked = new Map<string, { rule: OutboundRule; attribute: string; keys: Set<string> }>();
  for (const mv of mvs) {
    if (mv.deleted) continue;
    const input = flowInput(mv.attributes);
    for (const rule of ctx.config.outbound) {
      if (rule.metaverseType !== mv.objectType || rule.join.length === 0) continue;
      if ((linked.get(mv.id) ?? []).some((o) => o.connector === rule.connector)) continue;
      for (const cond of rule.join.flat()) {
        let values: Value[] | undefined;
        if (cond.metaverse) values = mv.attributes[cond.metaverse];
        else {
          const flow = rule.flows.find((f) => f.target === cond.attribute);
          if (!flow || flow.picksUnique) continue;
          try {
            values = flow.evaluate(input, { now: ctx.now });
          } catch {
            continue; // syncMvObject reports it
          }
        }
        const pair = `${rule.connector}\0${rule.objectType}\0${cond.attribute}`;
        const entry = asked.get(pair) ?? { rule, attribute: cond.attribute, keys: new Set<string>() };
        asked.set(pair, entry);
        for (const v of values ?? []) if (!isReference(v)) entry.keys.add(matchKey(v));
      }
    }
  }
  const matches = new Map<string, CsObject[]>();
  for (const { rule, attribute, keys } of asked.values()) {
    if (keys.size === 0) continue;
    const found = await ctx.store.csMatchMany(rule.connector, rule.objectType, attribute, [...keys]);
    for (const [key, objects] of found) matches.set(matchKeyOf(rule, attribute, key), objects);
  }
  return { matches };
}

/** Keeps the page's match look-ups true: a target object linked now is no candidate for the next one. */
function notePageLink(ctx: EngineContext, csId: number, mvId: string | null): void {
  const matches = ctx.outboundPage?.matches;
  if (!matches || matches.size === 0) return;
  // Unlinked, it may be a candidate again under keys not looked up with it: the store answers from now on.
  if (mvId === null) matches.clear();
  else for (const objects of matches.values()) for (const o of objects) if (o.id === csId) o.mvId = mvId;
}

function groupByMv(objects: CsObject[]): Map<string, CsObject[]> {
  const out = new Map<string, CsObject[]>();
  for (const o of objects) {
    if (!o.mvId) continue;
    const list = out.get(o.mvId) ?? [];
    list.push(o);
    out.set(o.mvId, list);
  }
  return out;
}

export interface OutboundDecision {
  rule: string;
  connector: string;
  situation: Situation;
  action: Action;
  csId: number | null;
  steps: LogEntry['steps'];
  error?: { code: string; message: string };
  /** the target object gets a new name or is deleted: what references it there must be exported again */
  movesReferences?: boolean;
}

export async function syncMvObject(
  ctx: EngineContext,
  mv: MvObject,
  linked: CsObject[],
  stats: Map<string, RunStats>,
): Promise<OutboundDecision[]> {
  const decisions: OutboundDecision[] = [];
  const groups = usesMembership(ctx) ? await groupNamesOf(ctx, mv.id) : undefined;
  const input = flowInput(mv.attributes, groups ? (group) => groups.has(group.toLowerCase()) : undefined);
  for (const [connector, rules] of rulesByConnector(ctx, mv.objectType)) {
    const cs = linked.find((o) => o.connector === connector) ?? null;
    // One target object per connector: the first rule whose scope takes the object decides; when none does,
    // the first rule's deprovisioning applies to a linked object.
    const inScope = mv.deleted ? undefined : rules.find((r) => r.scope.matches(input));
    const rule = inScope ?? rules[0]!;
    let decision: OutboundDecision;
    try {
      decision = inScope ? await provisionOrUpdate(ctx, rule, mv, cs, input) : await deprovision(ctx, rule, mv, cs);
    } catch (err) {
      decision = {
        rule: rule.name,
        connector,
        situation: 'linked',
        action: 'error',
        csId: cs?.id ?? null,
        steps: [],
        error: {
          code: err instanceof IdsyncError ? err.code : 'SYNC_FAILED',
          message: scrub(redact(errorMessage(err)), ctx.secrets.valuesInMetaverse(mv.attributes)),
        },
      };
    }
    record(ctx, mv, decision, stats);
    decisions.push(decision);
  }
  if (mv.deleted && (await ctx.store.csByMv([mv.id])).length === 0) await ctx.store.purgeMv(mv.id);
  return decisions;
}

function rulesByConnector(ctx: EngineContext, metaverseType: string): Map<string, OutboundRule[]> {
  const out = new Map<string, OutboundRule[]>();
  for (const rule of ctx.config.outbound) {
    if (rule.metaverseType !== metaverseType) continue;
    const list = out.get(rule.connector) ?? [];
    list.push(rule);
    out.set(rule.connector, list);
  }
  return out;
}

/** Whether any outbound scope asks IS MEMBER OF: only then is membership looked up for each object. */
export function usesMembership(ctx: EngineContext): boolean {
  return ctx.config.outbound.some((r) => r.scopeSource.some((g) => g.some((c) => /member/i.test(c.operator))));
}

/** The metaverse groups whose members include `mvId`, by display name and by id, lower-cased. */
async function groupNamesOf(ctx: EngineContext, mvId: string): Promise<Set<string>> {
  const out = new Set<string>();
  const referrers = await ctx.store.mvByIds(await ctx.store.mvReferencing(mvId));
  for (const g of referrers.values()) {
    if (g.deleted || !(g.attributes.members ?? []).some((v) => isReference(v) && v.ref === mvId)) continue;
    out.add(g.id.toLowerCase());
    for (const name of g.attributes.displayName ?? []) out.add(String(name).toLowerCase());
  }
  return out;
}

function record(ctx: EngineContext, mv: MvObject, d: OutboundDecision, stats: Map<string, RunStats>): void {
  let s = stats.get(d.connector);
  if (!s) {
    s = blankStats(d.connector, 'outbound');
    stats.set(d.connector, s);
  }
  if (d.action === 'error') s.errors++;
  else if (d.action === 'create') s.added++;
  else if (d.action === 'delete' || d.action === 'disable' || d.action === 'disconnect') s.deleted++;
  else if (d.action === 'update' || d.action === 'join') s.updated++;
  else s.unchanged++;
  if (d.action === 'update' && d.csId !== null) {
    ctx.outboundUpdates ??= new Map();
    let counted = ctx.outboundUpdates.get(d.connector);
    if (!counted) {
      counted = { ids: new IdSet(), stats: s };
      ctx.outboundUpdates.set(d.connector, counted);
    }
    counted.ids.add(d.csId);
  }
  // Creates and updates are recorded by the export that carries them, with the attribute values.
  if (!ctx.verbose && (d.action === 'skip' || d.action === 'create' || d.action === 'update')) return;
  ctx.log.push({
    runId: ctx.runId,
    connector: d.connector,
    object: mv.id,
    name: mvLabel(mv),
    csId: d.csId,
    mvId: mv.id,
    phase: 'sync',
    situation: d.situation,
    action: d.action,
    status: d.action === 'error' ? 'error' : 'success',
    steps: d.steps,
    changes: [],
    error: d.error ?? null,
  });
}

/** What the rule's flows make of the metaverse object. */
export async function desiredState(
  ctx: EngineContext,
  rule: OutboundRule,
  mv: MvObject,
  input = flowInput(mv.attributes),
  steps?: LogEntry['steps'],
  linked?: CsObject | null,
): Promise<{ desired: Attributes; createOnly: string[]; name: string | null }> {
  const desired: Attributes = {};
  const createOnly: string[] = [];
  for (const flow of rule.flows) {
    const values = flow.picksUnique
      ? await evaluateUnique(ctx, rule, mv, flow, input, linked ?? null)
      : flow.evaluate(input, { now: ctx.now });
    if (steps && ctx.verbose) {
      const shown = values === undefined ? '(flow does not apply)' : ctx.secrets.inConnector(rule.connector, rule.objectType, flow.target) ? REDACTED : JSON.stringify(values);
      steps.push({ step: 'flow', detail: `${rule.name}: ${flow.target} = ${flow.describe} → ${shown}` });
    }
    if (values === undefined) continue;
    desired[flow.target] = values;
    if (flow.applyOn === 'create') createOnly.push(flow.target);
  }
  const nameAttribute = ctx.connector(rule.connector).capabilities.nameAttribute;
  let name: string | null = null;
  if (nameAttribute && desired[nameAttribute]) {
    const v = desired[nameAttribute]![0];
    name = v === undefined ? null : String(v);
    delete desired[nameAttribute];
  }
  return { desired, createOnly, name };
}

/**
 * SelectUniqueValue asks, synchronously, whether candidates are taken; the target is behind an asynchronous
 * store. So: evaluate once recording the candidates asked about (answering "taken"), look them all up,
 * evaluate again with the answers. A value is free when no other object of the target has it and no other
 * object took it earlier in this run. The value chosen is claimed for this run.
 */
async function evaluateUnique(
  ctx: EngineContext,
  rule: OutboundRule,
  mv: MvObject,
  flow: OutboundRule['flows'][number],
  input: ReturnType<typeof flowInput>,
  linked: CsObject | null,
): Promise<Value[] | undefined> {
  const answers = new Map<string, boolean>();
  const claimKey = (v: Value) => `${rule.connector}\0${flow.target}\0${matchKey(v)}`;
  let values: Value[] | undefined;
  for (let round = 0; round < 3; round++) {
    const asked: Value[] = [];
    try {
      values = flow.evaluate(input, {
        now: ctx.now,
        isUnique: (_attribute, v) => {
          const known = answers.get(matchKey(v));
          if (known === undefined) asked.push(v);
          return known ?? false;
        },
      });
    } catch (err) {
      if (asked.length === 0) throw err; // a real error, not "every candidate unknown yet"
    }
    if (asked.length === 0) break;
    for (const v of asked) {
      const claimedBy = ctx.claimed.get(claimKey(v));
      const holders = await ctx.store.csMatch(rule.connector, rule.objectType, flow.target, matchKey(v));
      const takenByOther = holders.some((h) => h.present && h.id !== linked?.id);
      answers.set(matchKey(v), !takenByOther && (claimedBy === undefined || claimedBy === mv.id));
    }
  }
  for (const v of values ?? []) ctx.claimed.set(claimKey(v), mv.id);
  return values;
}

async function provisionOrUpdate(
  ctx: EngineContext,
  rule: OutboundRule,
  mv: MvObject,
  linked: CsObject | null,
  input: ReturnType<typeof flowInput>,
): Promise<OutboundDecision> {
  const steps: LogEntry['steps'] = [{ step: 'scope', detail: `in scope of outbound rule ${rule.name}` }];
  const base = { rule: rule.name, connector: rule.connector, steps };
  const { desired, createOnly, name } = await desiredState(ctx, rule, mv, input, steps, linked);
  const pending = (csId: number, op: PendingExport['op'], renames = false) =>
    ctx.store.setPending({ csId, connector: rule.connector, op, desired, createOnly, desiredName: name, rule: rule.name, renames });

  if (linked) {
    // Not created yet (or re-created after it went missing): still a create.
    const op = linked.anchor === null ? 'create' : 'update';
    const renames = op === 'update' && name !== null && linked.name !== null && name !== linked.name;
    await pending(linked.id, op, renames);
    return { ...base, situation: 'linked', action: op === 'create' ? 'create' : 'update', csId: linked.id, movesReferences: renames };
  }

  const match = await matchTarget(ctx, rule, mv, desired, steps);
  if (match.ambiguous) {
    return {
      ...base,
      situation: 'ambiguous',
      action: 'error',
      csId: null,
      error: {
        code: 'MATCH_AMBIGUOUS',
        message: `${match.ambiguous} objects in ${rule.connector} match metaverse object ${mv.id}; none was linked`,
      },
    };
  }
  if (match.cs) {
    await ctx.store.linkCs(match.cs.id, mv.id);
    notePageLink(ctx, match.cs.id, mv.id);
    const renames = name !== null && match.cs.name !== null && name !== match.cs.name;
    await pending(match.cs.id, 'update', renames);
    return { ...base, situation: 'unlinked-match', action: 'join', csId: match.cs.id, movesReferences: renames };
  }
  if (!rule.provision) {
    steps.push({ step: 'match', detail: 'no target object matches and the rule does not provision' });
    return { ...base, situation: 'no-match', action: 'skip', csId: null };
  }
  const csId = await ctx.store.createCsPlaceholder(rule.connector, rule.objectType, mv.id);
  await pending(csId, 'create');
  steps.push({ step: 'match', detail: `no target object matches: a ${rule.objectType} will be created` });
  return { ...base, situation: 'no-match', action: 'create', csId };
}

/** Entra's matching: target attributes compared with the metaverse value, or with the value the flows give. */
async function matchTarget(
  ctx: EngineContext,
  rule: OutboundRule,
  mv: MvObject,
  desired: Attributes,
  steps: LogEntry['steps'],
): Promise<{ cs?: CsObject; ambiguous?: number }> {
  for (let g = 0; g < rule.join.length; g++) {
    let candidates: Map<number, CsObject> | undefined;
    for (const cond of rule.join[g]!) {
      const values: Value[] = cond.metaverse ? (mv.attributes[cond.metaverse] ?? []) : (desired[cond.attribute] ?? []);
      const found = new Map<number, CsObject>();
      for (const v of values) {
        if (isReference(v)) continue;
        const key = matchKey(v);
        const objects =
          ctx.outboundPage?.matches.get(matchKeyOf(rule, cond.attribute, key)) ?? (await ctx.store.csMatch(rule.connector, rule.objectType, cond.attribute, key));
        for (const cs of objects) {
          if (cs.present && !cs.mvId) found.set(cs.id, cs);
        }
      }
      candidates = candidates ? new Map([...candidates].filter(([id]) => found.has(id))) : found;
      if (candidates.size === 0) break;
    }
    const list = [...(candidates ?? new Map()).values()];
    steps.push({ step: 'match', detail: `match group ${g + 1} (${rule.join[g]!.map((c) => c.attribute).join(', ')}): ${list.length} target object(s)` });
    if (list.length === 1) return { cs: list[0] };
    if (list.length > 1) return { ambiguous: list.length };
  }
  return {};
}

async function deprovision(
  ctx: EngineContext,
  rule: OutboundRule,
  mv: MvObject,
  cs: CsObject | null,
): Promise<OutboundDecision> {
  const situation: Situation = mv.deleted ? 'source-deleted' : 'out-of-scope';
  const steps: LogEntry['steps'] = [
    { step: 'scope', detail: mv.deleted ? 'the metaverse object was deleted' : `out of scope of outbound rule ${rule.name}` },
  ];
  const base = { rule: rule.name, connector: rule.connector, situation, steps, csId: cs?.id ?? null };
  if (!cs) return { ...base, action: 'skip' };
  const { store } = ctx;

  if (cs.anchor === null) {
    // Never created: nothing to undo in the target.
    await store.deleteCs([cs.id]);
    notePageLink(ctx, cs.id, null);
    steps.push({ step: 'export', detail: 'the pending create is withdrawn' });
    return { ...base, action: 'disconnect' };
  }
  const pendingBase = { csId: cs.id, connector: rule.connector, createOnly: [], desiredName: null, rule: rule.name };
  switch (rule.deprovision) {
    case 'delete':
      await store.setPending({ ...pendingBase, op: 'delete', desired: {} });
      // The pending delete keeps the object's anchor; the link goes so the metaverse object can go too.
      if (mv.deleted) {
        await store.linkCs(cs.id, null);
        notePageLink(ctx, cs.id, null);
      }
      steps.push({ step: 'export', detail: 'deprovision: delete' });
      return { ...base, action: 'delete', movesReferences: true };
    case 'disable': {
      const disable = ctx.connector(rule.connector).capabilities.disableAttributes;
      if (!disable) {
        throw new IdsyncError('DEPROVISION_UNSUPPORTED', `connector ${rule.connector} cannot disable objects; use deprovision: delete or leave`, {
          connector: rule.connector,
        });
      }
      await store.setPending({ ...pendingBase, op: 'update', desired: disable, disable: true });
      if (mv.deleted) {
        await store.linkCs(cs.id, null);
        notePageLink(ctx, cs.id, null);
      }
      steps.push({ step: 'export', detail: 'deprovision: disable' });
      return { ...base, action: 'disable' };
    }
    case 'leave':
      await store.clearPending(cs.id);
      if (cs.anchor) await store.clearError(rule.connector, cs.anchor, 'export');
      await store.linkCs(cs.id, null);
      notePageLink(ctx, cs.id, null);
      steps.push({ step: 'export', detail: 'deprovision: leave the target object as it is, unlinked' });
      return { ...base, action: 'disconnect' };
  }
}
