/**
 * Import: pages from a connector into its connector space. Each page and the watermark after it commit in
 * one transaction, so a crash resumes from the last committed page and never skips one. A full import that
 * completes marks what it did not see as gone; one that fails part-way marks nothing.
 */
import type { ConnectorConfig } from '../config/model.js';
import type { AttributeChange, ImportChange, ImportPage } from '../connectors/contract.js';
import { ConnectorError, errorMessage, IdsyncError, isConnectionFailure } from '../core/errors.js';
import { IdSet } from '../core/id-set.js';
import { redact } from '../core/redact.js';
import { encodeAttributes } from '../core/values.js';
import type { CsObject, CsWrite, RunStats, SeenObjects } from '../store/types.js';
import { applyChanges } from './attributes.js';
import { type EngineContext, flushLog } from './context.js';
import { followRenames } from './references.js';
import { deleteLimit, describeThreshold } from './safety.js';
import { mayHoldFingerprint } from './secrets.js';

const FULL_PENDING = (connector: string) => `full-import-pending:${connector}`;
const LAST_FULL = (connector: string) => `last-full-import:${connector}`;
/** the settings (ConnectorConfig.settingsHash) of the last full import that completed */
const IMPORTED_WITH = (connector: string) => `import-settings:${connector}`;

export async function importConnector(
  ctx: EngineContext,
  cfg: ConnectorConfig,
  requested: 'full' | 'delta',
  /** the rules or the connector's settings changed: re-read everything, trust no "unchanged" */
  settingsChanged = false,
): Promise<RunStats> {
  const started = Date.now();
  const stats: RunStats = blankStats(cfg.name, 'import');
  const connector = ctx.connector(cfg.name);
  const { store } = ctx;
  const watermark = await store.getWatermark(cfg.name);
  // A full import that did not finish must be redone: a delta from its watermark would never mark as gone
  // the objects it had not reached.
  const unfinishedFull = (await store.getMeta(FULL_PENDING(cfg.name))) !== null;
  const lastFull = await store.getMeta(LAST_FULL(cfg.name));
  const fullDue =
    cfg.fullImportIntervalMs !== null && (lastFull === null || ctx.now.getTime() - Date.parse(lastFull) >= cfg.fullImportIntervalMs);
  // Settings that change what an import returns (an attribute list, a filter, a column) make the connector
  // space stale as a whole: a delta would bring the change only for objects that change, and a full import
  // trusting the watermark of the old settings would vouch for rows as they were read before. Compared per
  // connector and recorded only by a full import that completed, so a cycle that did not import this
  // connector (--connector, quarantine, a failed import) leaves the full import due.
  const newSettings = (await store.getMeta(IMPORTED_WITH(cfg.name))) !== cfg.settingsHash;
  const trustNothing = settingsChanged || newSettings;
  const mode =
    requested === 'delta' && connector.capabilities.deltaImport && watermark !== null && !unfinishedFull && !fullDue && !newSettings
      ? 'delta'
      : 'full';
  stats.mode = mode;
  // What a full import saw, to tell what it no longer sees. Kept in memory, not marked row by row: marking
  // rewrote every page of the connector space, even when the feed changed in 1,000 rows of 100,000. A full
  // import cut short is redone from the start (FULL_PENDING), so the set never has to outlive the run.
  const seenObjects: Seen | null = mode === 'full' ? { ids: new IdSet(), anchors: new Set(), unreadable: 0, errors: new Set() } : null;
  // A first import can leave nothing unseen: everything present afterwards, it wrote.
  const first = mode === 'full' && !(await store.hasImported(cfg.name));
  if (mode === 'full') await store.setMeta(FULL_PENDING(cfg.name), String(ctx.runId));

  let seen = 0;
  let unchanged = false;
  // What a full import will likely read: as many as the connector space held after the last one.
  const expected = mode === 'full' && !first ? (await store.countCs(cfg.name)).present : undefined;
  const given = mode === 'full' && (requested === 'full' || trustNothing || unfinishedFull) ? null : watermark;
  try {
    const pages = connector.import({ mode, watermark: given, pageSize: cfg.pageSize });
    for await (const page of pages) {
      if (page.unchanged && mode === 'full' && given !== null) unchanged = true;
      await store.transaction(async () => {
        await applyPage(ctx, cfg.name, page, seenObjects, stats);
        if (page.watermark !== undefined) await store.setWatermark(cfg.name, page.watermark);
        await flushLog(ctx);
      });
      seen += page.changes.length;
      ctx.progress.update(`${cfg.name} ${mode} import`, seen, expected);
    }
  } catch (err) {
    ctx.progress.done();
    if (mode === 'delta' && err instanceof ConnectorError && err.fullImportRequired) {
      // The watermark cannot be used any more: what the delta committed so far stands, and a full import
      // (which also finds what was deleted meanwhile) follows at once.
      const full = await importConnector(ctx, cfg, 'full', settingsChanged);
      full.detail = `${redact(err.message)}; a full import ran instead${full.detail ? `. ${full.detail}` : ''}`;
      return full;
    }
    stats.status = 'failed';
    stats.detail = redact(errorMessage(err));
    stats.durationMs = Date.now() - started;
    if (isConnectionFailure(err)) ctx.unreachable.set(cfg.name, `its import could not connect (${stats.detail})`);
    return stats;
  }
  ctx.progress.done();
  // The method that found the changes: a delta's, or the one a connector without delta imports uses to skip
  // what is unchanged when it is given a watermark (a CSV feed's digests).
  if (mode === 'delta' || (!connector.capabilities.deltaImport && given !== null)) {
    const method = connector.deltaMethod?.(given);
    if (method) stats.method = method;
  }

  if (unchanged) {
    // The source proved it is as it was: the connector space stands, nothing is gone.
    stats.unchanged = (await store.countCs(cfg.name)).present;
    await fullImportDone(ctx, cfg);
  } else if (mode === 'full') {
    await clearFixedErrors(ctx, cfg.name, seenObjects!);
    const held = first ? false : await markUnseenGone(ctx, cfg, seenObjects!, stats);
    if (!held) await fullImportDone(ctx, cfg);
  }
  stats.durationMs = Date.now() - started;
  return stats;
}

/**
 * One object read alone (provision on demand): applied as a one-object delta page, in one transaction,
 * leaving the watermark where it is (the next import reads the change again and finds it the same).
 */
export async function importOne(ctx: EngineContext, connector: string, change: ImportChange): Promise<RunStats> {
  const started = Date.now();
  const stats: RunStats = { ...blankStats(connector, 'import'), mode: 'delta', method: 'one object read' };
  await ctx.store.transaction(async () => {
    await applyPage(ctx, connector, { changes: [change] }, null, stats);
    await flushLog(ctx);
  });
  stats.durationMs = Date.now() - started;
  return stats;
}

/** A full import completed: none is pending, the next is due after the interval, and it read with these settings. */
async function fullImportDone(ctx: EngineContext, cfg: ConnectorConfig): Promise<void> {
  await ctx.store.setMeta(FULL_PENDING(cfg.name), null);
  await ctx.store.setMeta(LAST_FULL(cfg.name), ctx.now.toISOString());
  await ctx.store.setMeta(IMPORTED_WITH(cfg.name), cfg.settingsHash);
}

/**
 * What a full import has seen so far (SeenObjects, while it grows), how many records named no object, and the
 * keys of the import errors it reported.
 */
type Seen = { ids: IdSet; anchors: Set<string>; unreadable: number; errors: Set<string> };

async function applyPage(
  ctx: EngineContext,
  connector: string,
  page: ImportPage,
  /** a full import's record of the objects it saw */
  seen: Seen | null,
  stats: RunStats,
): Promise<void> {
  const { store } = ctx;
  const atRest = await ctx.secrets.atRest(store, connector);
  const anchors: string[] = [];
  for (const c of page.changes) {
    if (c.kind === 'error') {
      if (c.anchor) anchors.push(c.anchor);
    } else if (c.kind !== 'same') anchors.push(anchorOf(c));
  }
  const existing = await store.csByAnchors(connector, anchors);
  const writes: CsWrite[] = [];
  const unchanged: number[] = [];
  // A change builds on the ones before it in the page, not on the state before the page: a delta can give an
  // object as it is now and then a membership change of it, and the object must end as it is now plus that
  // change. One write per object, holding its state after the page.
  const written = new Map<string, CsWrite>();
  /** old name → new name of the objects this page renamed or moved: their referrers must follow */
  const renamed = new Map<string, string>();
  const write = (w: CsWrite) => {
    const was = w.previous?.present ? w.previous.name : null;
    if (was !== null && was !== w.name) renamed.set(was, w.name);
    else if (was !== null) renamed.delete(was); // renamed and back again within the page
    const earlier = written.get(w.anchor);
    if (earlier) Object.assign(earlier, w);
    else {
      writes.push(w);
      written.set(w.anchor, w);
    }
  };

  for (const change of page.changes) {
    switch (change.kind) {
      case 'upsert': {
        const { object } = change;
        const before = existing.get(object.anchor);
        const earlier = written.get(object.anchor);
        const kept = before && mayHoldFingerprint(before.hash) ? before.attributes : undefined;
        const attributes = atRest(object.objectType, object.attributes, kept);
        const hash = encodeAttributes(attributes);
        const name = object.name ?? object.anchor;
        if (!earlier && before?.present && before.hash === hash && before.name === name && before.objectType === object.objectType) {
          unchanged.push(before.id);
          stats.unchanged++;
        } else {
          write({ id: before?.id, connector, objectType: object.objectType, anchor: object.anchor, name, attributes, hash, previous: before });
          if (!earlier) {
            if (before?.present) stats.updated++;
            else stats.added++;
          }
        }
        await store.clearError(connector, object.anchor, 'import');
        break;
      }
      case 'modify': {
        const before = existing.get(change.anchor);
        const earlier = written.get(change.anchor);
        const base = earlier ?? before;
        // an object an agent's scoping keeps on the premises (never sent, or sent as gone when it left scope)
        if (change.onlyIfKnown && !earlier && !before?.present) break;
        if (!base) {
          await recordImportError(ctx, connector, change.anchor, 'IMPORT_MODIFY_UNKNOWN',
            'a delta import changed an object this connector space has never seen; run a full import', stats);
          break;
        }
        const attributes = atRest(change.objectType, applyChanges(base.attributes, change.changes as Record<string, AttributeChange>), base.attributes);
        const hash = encodeAttributes(attributes);
        const name = change.name ?? base.name ?? change.anchor;
        const present = earlier !== undefined || before?.present === true;
        if (hash === base.hash && name === base.name && present) {
          if (!earlier) stats.unchanged++;
        } else {
          write({ id: before?.id, connector, objectType: change.objectType, anchor: change.anchor, name, attributes, hash, previous: before });
          if (!earlier) stats.updated++;
        }
        break;
      }
      case 'delete': {
        const before = existing.get(change.anchor);
        // given earlier in the page, then deleted: gone, not written back as present
        const earlier = written.get(change.anchor);
        if (earlier) {
          writes.splice(writes.indexOf(earlier), 1);
          written.delete(change.anchor);
        }
        if (before?.present) {
          await store.markCsGone([before.id]);
          stats.deleted++;
        }
        break;
      }
      case 'same':
        // vouched for by the connector: as the connector space holds it, nothing to read or compare. An error
        // under its anchor can only be another row's (a duplicate since removed): it is cleared as an upsert's.
        seen?.anchors.add(change.anchor);
        stats.unchanged++;
        await store.clearError(connector, change.anchor, 'import');
        break;
      case 'error': {
        const before = change.anchor ? existing.get(change.anchor) : undefined;
        // The record is unreadable, not gone: the object it used to be stays as it was. One that names no
        // object (a blank anchor) may stand for any object not seen: markUnseenGone then marks none.
        if (before) unchanged.push(before.id);
        if (seen && !change.anchor) seen.unreadable++;
        seen?.errors.add(change.anchor ?? change.location);
        await recordImportError(ctx, connector, change.anchor ?? change.location, change.code, change.message, stats, change.location);
        break;
      }
    }
  }
  const ids = await store.writeCs(writes);
  await followRenames(ctx, connector, renamed);
  if (seen) {
    for (const id of ids) seen.ids.add(id);
    for (const id of unchanged) seen.ids.add(id);
  }
}

function anchorOf(change: Exclude<ImportChange, { kind: 'error' | 'same' }>): string {
  return change.kind === 'upsert' ? change.object.anchor : change.anchor;
}

async function recordImportError(
  ctx: EngineContext,
  connector: string,
  key: string,
  code: string,
  message: string,
  stats: RunStats,
  location?: string,
): Promise<void> {
  stats.errors++;
  const safe = redact(message);
  await ctx.store.recordError({ connector, key, phase: 'import', code, message: safe, ...(location ? { location } : {}) });
  ctx.log.push({
    runId: ctx.runId,
    connector,
    object: key,
    phase: 'import',
    situation: 'error',
    action: 'skip',
    status: 'error',
    steps: [{ step: 'import', detail: location ? `${location}: ${safe}` : safe }],
    changes: [],
    error: { code, message: safe },
  });
}

/**
 * A complete full import reported every record it could not read: an import error it did not report again
 * was fixed (its row corrected or removed), though no object's row cleared it (a blank anchor's, keyed by its
 * line; both rows of a duplicate anchor that are gone).
 */
async function clearFixedErrors(ctx: EngineContext, connector: string, seen: Seen): Promise<void> {
  const fixed = (await ctx.store.errors(connector)).filter((e) => e.phase === 'import' && !seen.errors.has(e.key));
  if (fixed.length === 0) return;
  await ctx.store.transaction(async () => {
    for (const e of fixed) await ctx.store.clearError(connector, e.key, 'import');
  });
}

/**
 * After a complete full import, objects it did not see are gone from their system. If that is more than the
 * connector's deletion threshold allows, it is treated as a suspect import (an empty or truncated feed), not
 * as a mass deletion: nothing is marked and the run reports a hold until `idsync approve`. Nor is anything
 * marked when some records could not be read without an anchor: any unseen object may be one of them.
 */
async function markUnseenGone(ctx: EngineContext, cfg: ConnectorConfig, seen: Seen, stats: RunStats): Promise<boolean> {
  const { store } = ctx;
  const unseen: CsObject[] = await store.unseenCs(cfg.name, seen);
  if (unseen.length === 0) return false;
  if (seen.unreadable > 0) {
    const records = seen.unreadable === 1 ? '1 record' : `${seen.unreadable} records`;
    stats.detail = `${records} could not be read and name no object (see the object errors): the ${unseen.length} objects this import did not see are kept as they were until they are fixed`;
    return false;
  }
  const population = (await store.countCs(cfg.name)).present;
  const limit = deleteLimit(cfg.deleteThreshold, population);
  if (unseen.length > limit && !(await store.takeApproval(cfg.name))) {
    const threshold = describeThreshold(cfg.deleteThreshold);
    const message =
      `the full import no longer sees ${unseen.length} of ${population} objects, more than the deletion threshold ` +
      `(${threshold}: at most ${limit}); nothing was marked gone, so nothing is deleted or disabled for them. Review ` +
      `with \`idsync plan\`; if this is expected, run \`idsync approve ${cfg.name}\` and run again.`;
    stats.status = 'held';
    stats.hold = { connector: cfg.name, phase: 'import', count: unseen.length, limit, population, threshold, message };
    ctx.unseenHeld ??= new Map();
    ctx.unseenHeld.set(cfg.name, unseen.map((o) => o.id));
    stats.detail = message;
    return true;
  }
  await store.transaction(async () => {
    await store.markCsGone(unseen.map((o) => o.id));
  });
  stats.deleted += unseen.length;
  return false;
}

export function blankStats(connector: string, phase: RunStats['phase']): RunStats {
  return { connector, phase, added: 0, updated: 0, deleted: 0, unchanged: 0, errors: 0, durationMs: 0, status: 'ok' };
}

export function failureCode(err: unknown): string {
  return err instanceof IdsyncError ? err.code : 'IMPORT_FAILED';
}
