/**
 * Inbound sync: connector space → metaverse. For each changed CS object: scope, join or project, then the
 * metaverse object is recomputed from every source linked to it, attribute by attribute, by precedence.
 */
import type { InboundRule } from '../config/model.js';
import { errorMessage, IdsyncError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { type Attributes, encodeAttributes, referencedNames, type Value } from '../core/values.js';
import type { FlowInput } from '../rules/types.js';
import { matchKey } from '../store/match.js';
import type { CsObject, LogEntry, MvObject, RunStats } from '../store/types.js';
import { describeChanges, flowInput, mapReferences } from './attributes.js';
import type { EngineContext, InboundPage } from './context.js';
import { drainDirty } from './dirty.js';
import { blankStats } from './import.js';
import { csLabel } from './names.js';
import { usesMembership } from './outbound.js';
import { REDACTED, scrub } from './secrets.js';
import type { Action, Situation } from './situations.js';

const BATCH = 500;
/** Referrers found while syncing are synced in later passes; this bounds a pathological chain. */
const MAX_PASSES = 5;

export async function syncInbound(ctx: EngineContext, full: boolean): Promise<Map<string, RunStats>> {
  const started = Date.now();
  const stats = new Map<string, RunStats>();
  if (full) await ctx.store.transaction(() => ctx.store.markAllCsDirty());
  await drainDirty(ctx, {
    label: 'inbound sync',
    passes: MAX_PASSES,
    start: 0,
    page: (after) => ctx.store.dirtyCs(after, BATCH),
    keyOf: (cs) => cs.id,
    handle: async (batch) => {
      // Marks are cleared before, not after, the page: an object of this page that a later one marks (a
      // report before its manager) must stay marked for the next pass.
      await ctx.store.clearCsDirty(batch.map((c) => c.id));
      const page = await openPage(ctx, batch);
      ctx.inboundPage = page;
      try {
        for (const [position, cs] of batch.entries()) {
          page.current = position;
          await syncCsObject(ctx, cs, statsFor(stats, cs.connector));
        }
        await markPageReferrers(ctx, page);
      } finally {
        ctx.inboundPage = undefined;
      }
    },
  });
  // Objects of all connectors are synced interleaved: each connector's figure is the phase's duration.
  for (const s of stats.values()) s.durationMs = Date.now() - started;
  return stats;
}

function statsFor(stats: Map<string, RunStats>, connector: string): RunStats {
  let s = stats.get(connector);
  if (!s) {
    s = blankStats(connector, 'inbound');
    stats.set(connector, s);
  }
  return s;
}

interface Decision {
  situation: Situation;
  action: Action;
  steps: LogEntry['steps'];
  mvId: string | null;
  changes: LogEntry['changes'];
  error?: { code: string; message: string };
}

/** Syncs one CS object and returns what was decided (explain shows it; the log records it). */
export async function syncCsObject(ctx: EngineContext, cs: CsObject, stats: RunStats): Promise<Decision> {
  let decision: Decision;
  try {
    decision = await decide(ctx, cs);
  } catch (err) {
    const code = err instanceof IdsyncError ? err.code : 'SYNC_FAILED';
    const message = scrub(redact(errorMessage(err)), ctx.secrets.valuesInConnector(cs.connector, cs.objectType, cs.attributes));
    decision = { situation: 'linked', action: 'error', steps: [{ step: 'sync', detail: message }], mvId: cs.mvId, changes: [], error: { code, message } };
  }
  if (decision.action === 'error') {
    stats.errors++;
    await ctx.store.recordError({ connector: cs.connector, key: cs.anchor ?? String(cs.id), phase: 'sync', ...decision.error! });
  } else if (cs.anchor) {
    await ctx.store.clearError(cs.connector, cs.anchor, 'sync');
  }
  countAction(stats, decision);
  const quiet = decision.action === 'skip' || (decision.action === 'update' && decision.changes.length === 0);
  if (!quiet || ctx.verbose) {
    ctx.log.push({
      runId: ctx.runId,
      connector: cs.connector,
      object: cs.anchor ?? cs.name ?? String(cs.id),
      name: csLabel(cs),
      csId: cs.id,
      mvId: decision.mvId,
      phase: 'sync',
      situation: decision.situation,
      action: decision.action,
      status: decision.action === 'error' ? 'error' : 'success',
      steps: decision.steps,
      changes: decision.changes,
      error: decision.error ?? null,
    });
  }
  return decision;
}

function countAction(stats: RunStats, d: Decision): void {
  if (d.action === 'project') stats.added++;
  else if (d.action === 'disconnect') stats.deleted++;
  else if (d.action === 'join' || (d.action === 'update' && d.changes.length > 0)) stats.updated++;
  else if (d.action !== 'error') stats.unchanged++;
}

async function decide(ctx: EngineContext, cs: CsObject): Promise<Decision> {
  const { store } = ctx;
  const rules = ctx.config.inbound.filter((r) => r.connector === cs.connector && r.objectType === cs.objectType);
  const steps: LogEntry['steps'] = [];

  if (!cs.present) {
    if (cs.anchor === null) return { situation: 'no-match', action: 'skip', steps, mvId: cs.mvId, changes: [] };
    // Gone from its system. A source's departure recomputes (perhaps deletes) its metaverse object; a
    // target's departure makes the metaverse object re-evaluate its provisioning (target-missing).
    steps.push({ step: 'import', detail: 'the object is no longer in its system' });
    const mvId = cs.mvId;
    await store.deleteCs([cs.id]);
    notePageLink(ctx, cs, null);
    await markReferrersDirty(ctx, cs);
    if (!mvId) return { situation: 'source-deleted', action: 'skip', steps, mvId: null, changes: [] };
    if (rules.length === 0) {
      await store.markMvDirty([mvId]);
      steps.push({ step: 'match', detail: 'a linked target object went missing; provisioning is re-evaluated' });
      return { situation: 'target-missing', action: 'disconnect', steps, mvId, changes: [] };
    }
    const changes = await recomputeMv(ctx, mvId, steps);
    return { situation: 'source-deleted', action: 'disconnect', steps, mvId, changes };
  }

  if (rules.length === 0) {
    // An object of a target-only connector: if linked, a change there (drift) must be checked by outbound sync.
    if (cs.mvId) await store.markMvDirty([cs.mvId]);
    return { situation: cs.mvId ? 'linked' : 'no-match', action: 'skip', steps, mvId: cs.mvId, changes: [] };
  }

  const input = sourceInput(ctx, cs);
  const rule = rules.find((r) => r.scope.matches(input));
  steps.push({
    step: 'scope',
    detail: rule ? `in scope of inbound rule ${rule.name}` : `in scope of no inbound rule (${rules.map((r) => r.name).join(', ')})`,
  });

  if (!rule) {
    if (!cs.mvId) return { situation: 'out-of-scope', action: 'skip', steps, mvId: null, changes: [] };
    const mvId = cs.mvId;
    await store.linkCs(cs.id, null);
    notePageLink(ctx, cs, null);
    const changes = await recomputeMv(ctx, mvId, steps);
    await markReferrersDirty(ctx, cs);
    return { situation: 'out-of-scope', action: 'disconnect', steps, mvId, changes };
  }

  if (cs.mvId) {
    const changes = await recomputeMv(ctx, cs.mvId, steps);
    return { situation: 'linked', action: 'update', steps, mvId: cs.mvId, changes };
  }

  const match = await findJoin(ctx, rule, cs, steps);
  if (match.ambiguous) {
    return {
      situation: 'ambiguous',
      action: 'error',
      steps,
      mvId: null,
      changes: [],
      error: {
        code: 'JOIN_AMBIGUOUS',
        message: `join group ${match.group + 1} of rule ${rule.name} matches ${match.ambiguous.length} metaverse objects (${match.ambiguous.join(', ')}); nothing was changed`,
      },
    };
  }
  if (match.mvId) {
    await store.linkCs(cs.id, match.mvId);
    notePageLink(ctx, cs, match.mvId);
    const changes = await recomputeMv(ctx, match.mvId, steps);
    await markReferrersDirty(ctx, cs);
    return { situation: 'unlinked-match', action: 'join', steps, mvId: match.mvId, changes };
  }
  if (!rule.project) {
    steps.push({ step: 'match', detail: 'no metaverse object matches and the rule does not project' });
    return { situation: 'no-match', action: 'skip', steps, mvId: null, changes: [] };
  }
  // A new metaverse object has one source: its attributes are that source's flows, computed once.
  const contributions = await contribute(ctx, rule, cs, input, steps);
  const attributes: Attributes = {};
  for (const [attr, c] of contributions) if (c.values.length > 0) attributes[attr] = c.values;
  const mvId = await store.createMv(rule.metaverseType, attributes);
  notePageJoins(ctx, rule.metaverseType, mvId, {}, attributes);
  await store.linkCs(cs.id, mvId);
  notePageLink(ctx, cs, mvId);
  steps.push({ step: 'match', detail: `no metaverse object matches: projected as new ${rule.metaverseType} ${mvId}` });
  await markReferrersDirty(ctx, cs);
  const changes = describeChanges({}, attributes, Object.keys(attributes).sort(), (a) => ctx.secrets.inMetaverse(a));
  return { situation: 'no-match', action: 'project', steps, mvId, changes };
}

/**
 * What a source object's scope and flows read: its attributes and, where its connector names objects (the
 * LDAP DN as [dn]), its name, which is not one of its attributes.
 */
function sourceInput(ctx: EngineContext, cs: CsObject): FlowInput {
  const input = flowInput(cs.attributes);
  const nameAttribute = ctx.connector(cs.connector).capabilities.nameAttribute?.toLowerCase();
  if (!nameAttribute || cs.name === null) return input;
  const name = [cs.name];
  return { get: (attribute) => (attribute.toLowerCase() === nameAttribute ? name : input.get(attribute)) };
}

const linkKey = (connector: string, ref: string) => `${connector}\0${ref}`;
const joinKey = (objectType: string, attribute: string, key: string) => `${objectType}\0${attribute}\0${key}`;

/** Reads the page's references in one look-up per connector they point into, and its joins in one per attribute. */
async function openPage(ctx: EngineContext, batch: CsObject[]): Promise<InboundPage> {
  const wanted = new Map<string, Set<string>>();
  const joining = new Map<string, { objectType: string; attribute: string; keys: Set<string> }>();
  for (const cs of batch) {
    if (!cs.present) continue;
    if (!cs.mvId) {
      for (const rule of ctx.config.inbound) {
        if (rule.connector !== cs.connector || rule.objectType !== cs.objectType) continue;
        for (const cond of rule.join.flat()) {
          const values = cs.attributes[cond.attribute] ?? [];
          if (values.length === 0) continue;
          const pair = `${rule.metaverseType}\0${cond.metaverse!}`;
          const asked = joining.get(pair) ?? { objectType: rule.metaverseType, attribute: cond.metaverse!, keys: new Set<string>() };
          joining.set(pair, asked);
          for (const v of values) asked.keys.add(matchKey(v));
        }
      }
    }
    let refs: string[] | undefined;
    for (const rule of ctx.config.inbound) {
      if (rule.connector !== cs.connector || rule.objectType !== cs.objectType) continue;
      refs ??= referencedNames(cs.attributes);
      if (refs.length === 0) break;
      for (const target of new Set(rule.flows.map((f) => f.referencesIn ?? cs.connector))) {
        const names = wanted.get(target) ?? new Set<string>();
        for (const r of refs) names.add(r);
        wanted.set(target, names);
      }
    }
  }
  const links = new Map<string, string | null>();
  for (const [connector, names] of wanted) {
    const found = await ctx.store.mvIdsByNames(connector, [...names], true);
    for (const name of names) links.set(linkKey(connector, name), found.get(name) ?? null);
  }
  const joins = new Map<string, string[]>();
  for (const { objectType, attribute, keys } of joining.values()) {
    for (const [key, ids] of await ctx.store.mvMatchMany(objectType, attribute, [...keys])) joins.set(joinKey(objectType, attribute, key), ids);
  }
  return { position: new Map(batch.map((cs, i) => [cs.id, i])), current: 0, links, referenced: [], joins };
}

/**
 * Keeps the page's join look-ups true after a metaverse object of this type went from `before` to `after`
 * (created: from nothing; deleted: to nothing): only keys looked up are kept, so only they change.
 */
function notePageJoins(ctx: EngineContext, objectType: string, mvId: string, before: Attributes, after: Attributes): void {
  const joins = ctx.inboundPage?.joins;
  if (!joins || joins.size === 0) return;
  for (const attribute of new Set([...Object.keys(before), ...Object.keys(after)])) {
    for (const v of before[attribute] ?? []) {
      const ids = joins.get(joinKey(objectType, attribute, matchKey(v)));
      if (ids?.includes(mvId)) ids.splice(ids.indexOf(mvId), 1);
    }
    for (const v of after[attribute] ?? []) {
      const ids = joins.get(joinKey(objectType, attribute, matchKey(v)));
      if (ids && !ids.includes(mvId)) ids.push(mvId);
    }
  }
}

/** Keeps the page's resolved references true after `cs` was linked to `mvId` (null: unlinked or deleted). */
function notePageLink(ctx: EngineContext, cs: CsObject, mvId: string | null): void {
  const links = ctx.inboundPage?.links;
  if (!links) return;
  if (cs.name !== null) links.set(linkKey(cs.connector, cs.name), mvId);
  // A reference resolves by anchor only when no object has it as a name: where the two differ, ask the store.
  if (cs.anchor !== null && cs.anchor !== cs.name) links.delete(linkKey(cs.connector, cs.anchor));
}

/** Objects whose references point at this one may now resolve differently. */
async function markReferrersDirty(ctx: EngineContext, cs: CsObject): Promise<void> {
  const names = [...new Set([cs.name, cs.anchor].filter((n): n is string => n !== null))];
  const page = ctx.inboundPage;
  if (page) {
    page.referenced.push({ csId: cs.id, names, position: page.current });
    return;
  }
  // Across connectors: a groups feed may reference the rows of a people feed (a flow's referencesIn).
  const referrers = [...(await ctx.store.csReferencing(names)).values()].flat();
  const others = referrers.filter((id) => id !== cs.id);
  if (others.length > 0) await ctx.store.markCsDirty(others);
}

/**
 * The referrers of the page's changed objects, marked in one statement. An object of the page that came
 * after the one it references saw it already linked: it is not marked; one that came before is.
 */
async function markPageReferrers(ctx: EngineContext, page: InboundPage): Promise<void> {
  if (page.referenced.length === 0) return;
  const referrers = await ctx.store.csReferencing([...new Set(page.referenced.flatMap((r) => r.names))]);
  const marked = new Set<number>();
  for (const r of page.referenced) {
    for (const name of r.names) {
      for (const id of referrers.get(name) ?? []) {
        const position = page.position.get(id);
        if (id !== r.csId && (position === undefined || position < r.position)) marked.add(id);
      }
    }
  }
  if (marked.size > 0) await ctx.store.markCsDirty([...marked]);
}

async function findJoin(
  ctx: EngineContext,
  rule: InboundRule,
  cs: CsObject,
  steps: LogEntry['steps'],
): Promise<{ mvId?: string; ambiguous?: string[]; group: number }> {
  const linkedHere = async (mvId: string) =>
    (await ctx.store.csByMv([mvId])).some((o) => o.connector === cs.connector && o.id !== cs.id);
  for (let g = 0; g < rule.join.length; g++) {
    const group = rule.join[g]!;
    let candidates: Set<string> | undefined;
    const described: string[] = [];
    for (const cond of group) {
      const values = cs.attributes[cond.attribute] ?? [];
      const shown = ctx.secrets.inConnector(cs.connector, cs.objectType, cond.attribute) ? values.map(() => REDACTED) : values.map(String);
      described.push(`${cond.attribute}=${shown.join('|') || '(none)'} ↔ ${cond.metaverse}`);
      const found = new Set<string>();
      for (const v of values) {
        const key = matchKey(v);
        const ids = ctx.inboundPage?.joins.get(joinKey(rule.metaverseType, cond.metaverse!, key)) ?? (await ctx.store.mvMatch(rule.metaverseType, cond.metaverse!, key));
        for (const id of ids) found.add(id);
      }
      candidates = candidates ? new Set([...candidates].filter((id) => found.has(id))) : found;
      if (candidates.size === 0) break;
    }
    // A metaverse object holds at most one object of each connector.
    const free: string[] = [];
    for (const id of candidates ?? []) if (!(await linkedHere(id))) free.push(id);
    steps.push({ step: 'match', detail: `join group ${g + 1} (${described.join(', ')}): ${free.length} match${free.length === 1 ? '' : 'es'}` });
    if (free.length === 1) return { mvId: free[0]!, group: g };
    if (free.length > 1) return { ambiguous: free, group: g };
  }
  return { group: -1 };
}

/**
 * Recomputes a metaverse object from all its linked sources: for each attribute, the value of the in-scope
 * source with the lowest precedence number that has one. A source whose flow says authoritativeNull wins
 * with no value. When no source is left, the metaverse object is deleted and its targets deprovisioned.
 */
export async function recomputeMv(
  ctx: EngineContext,
  mvId: string,
  steps: LogEntry['steps'],
): Promise<LogEntry['changes']> {
  const { store } = ctx;
  const mv = (await store.mvByIds([mvId])).get(mvId);
  if (!mv) return [];
  const linked = (await store.csByMv([mvId])).filter((o) => o.present);
  const winners = new Map<string, Contribution>();
  let sources = 0;

  for (const cs of linked) {
    const input = sourceInput(ctx, cs);
    const rule = ctx.config.inbound.find(
      (r) => r.connector === cs.connector && r.objectType === cs.objectType && r.scope.matches(input),
    );
    if (!rule) continue;
    sources++;
    for (const [attr, c] of await contribute(ctx, rule, cs, input, steps)) {
      const current = winners.get(attr);
      if (!current || c.precedence < current.precedence) winners.set(attr, c);
    }
  }

  if (sources === 0) {
    await store.deleteMv(mvId);
    notePageJoins(ctx, mv.objectType, mvId, mv.attributes, {});
    await store.markMvDirty(await store.mvReferencing(mvId));
    steps.push({ step: 'flow', detail: `no source is left: metaverse object ${mvId} is deleted and its targets deprovisioned` });
    return describeChanges(mv.attributes, {}, Object.keys(mv.attributes), (a) => ctx.secrets.inMetaverse(a));
  }

  const next: Attributes = {};
  for (const [attr, w] of winners) if (w.values.length > 0) next[attr] = w.values;
  if (encodeAttributes(next) === encodeAttributes(mv.attributes)) return [];
  await store.updateMv(mvId, next, mv);
  notePageJoins(ctx, mv.objectType, mvId, mv.attributes, next);
  if (usesMembership(ctx)) await markMembershipChanges(ctx, mv.attributes, next);
  const attrs = new Set([...Object.keys(mv.attributes), ...Object.keys(next)]);
  const changes = describeChanges(mv.attributes, next, [...attrs].sort(), (a) => ctx.secrets.inMetaverse(a));
  for (const c of changes) {
    const w = winners.get(c.attribute);
    steps.push({ step: 'flow', detail: `${c.attribute}: ${w ? `from ${w.from} (precedence ${w.precedence})` : 'no source contributes'}` });
  }
  return changes;
}

/**
 * When outbound scopes ask IS MEMBER OF, a member that joins or leaves a group must be re-evaluated even
 * though nothing of its own changed: the objects whose references were added or removed are marked.
 */
async function markMembershipChanges(ctx: EngineContext, before: Attributes, after: Attributes): Promise<void> {
  const refs = (a: Attributes) => new Set(referencedNames(a));
  const [was, is] = [refs(before), refs(after)];
  const changed = [...was].filter((r) => !is.has(r)).concat([...is].filter((r) => !was.has(r)));
  if (changed.length > 0) await ctx.store.markMvDirty(changed);
}

interface Contribution {
  precedence: number;
  values: Value[];
  from: string;
}

/** What one source's rule flows into the metaverse: attribute → values, references resolved. */
async function contribute(
  ctx: EngineContext,
  rule: InboundRule,
  cs: CsObject,
  input: ReturnType<typeof flowInput>,
  steps: LogEntry['steps'],
): Promise<Map<string, Contribution>> {
  const out = new Map<string, Contribution>();
  for (const flow of rule.flows) {
    const raw = flow.evaluate(input, { now: ctx.now });
    if (ctx.verbose) {
      const shown = raw === undefined ? '(flow does not apply)' : ctx.secrets.inMetaverse(flow.target) ? REDACTED : JSON.stringify(raw);
      steps.push({ step: 'flow', detail: `${rule.name}: ${flow.target} = ${flow.describe} → ${shown}` });
    }
    // No value is no opinion, unless the flow says its empty value wins (authoritativeNull).
    if (raw === undefined || (raw.length === 0 && !flow.authoritativeNull)) continue;
    const values = await resolveInboundRefs(ctx, flow.referencesIn ?? cs.connector, raw);
    out.set(flow.target, { precedence: rule.precedence, values, from: cs.connector });
  }
  return out;
}

/** A source's references name objects of its own system; in the metaverse they name metaverse objects. */
async function resolveInboundRefs(ctx: EngineContext, connector: string, values: Value[]): Promise<Value[]> {
  const refs = values.filter((v): v is { ref: string } => typeof v === 'object' && v !== null && 'ref' in v);
  if (refs.length === 0) return values;
  const known = ctx.inboundPage?.links;
  const unknown = [...new Set(refs.map((r) => r.ref))].filter((ref) => !known?.has(linkKey(connector, ref)));
  // Sources whose references hold anchors rather than names (CSV manager columns) resolve by anchor too.
  const asked = unknown.length > 0 ? await ctx.store.mvIdsByNames(connector, unknown, true) : undefined;
  const resolve = (ref: string) => (asked?.has(ref) ? asked.get(ref) : known?.get(linkKey(connector, ref))) ?? undefined;
  const { attributes } = mapReferences({ v: values }, resolve);
  return attributes.v ?? [];
}

export type { MvObject };
