/**
 * The stable --json shapes (documented in docs/cli.md). Fields are only ever added, never renamed or removed,
 * so that scripts and monitoring keep working across versions.
 */
import { VERSION } from '../core/version.js';
import type { CycleReport, StatusReport } from '../engine/engine.js';
import type { PlannedChange } from '../engine/export.js';
import type { Hold } from '../store/types.js';

export function cycleJson(r: CycleReport) {
  return {
    runId: r.runId,
    status: r.status,
    staging: r.staging,
    fullSync: r.fullSync,
    durationMs: r.durationMs,
    connectors: r.stats.map((s) => ({ ...s })),
    holds: r.holds,
    ...(r.staging ? { plan: planJson([...r.planned, ...r.heldChanges], r.status, r.holds) } : {}),
  };
}

export function planJson(planned: PlannedChange[], status: string, holds: Hold[] = []) {
  const targets: Record<string, { creates: number; updates: number; deletes: number; held: number; changes: unknown[] }> = {};
  for (const p of planned) {
    targets[p.connector] ??= { creates: 0, updates: 0, deletes: 0, held: 0, changes: [] };
    const t = targets[p.connector]!;
    if (p.op === 'create') t.creates++;
    else if (p.op === 'update') t.updates++;
    else t.deletes++;
    if (p.held) t.held++;
    t.changes.push(plannedChangeJson(p));
  }
  return { status, holds, targets };
}

/** One planned change in its stable JSON shape (`plan --json`'s, and the admin API's with its connector). */
export function plannedChangeJson(p: PlannedChange) {
  return {
    op: p.op,
    objectType: p.objectType,
    anchor: p.anchor,
    object: p.object,
    name: p.name,
    ...(p.newName ? { newName: p.newName } : {}),
    ...(p.disable ? { disable: true } : {}),
    held: p.held,
    ...(p.heldBy ? { heldBy: p.heldBy } : {}),
    attributes: p.changes,
    ...(p.names ? { names: p.names } : {}),
  };
}

export function statusJson(s: StatusReport) {
  return {
    version: VERSION,
    staging: s.staging,
    metaverse: s.metaverse,
    connectors: Object.fromEntries(
      s.connectors.map((c) => [
        c.name,
        {
          type: c.type,
          objects: c.objects,
          linked: c.linked,
          pendingExports: c.pendingExports,
          heldExports: c.heldExports,
          errors: c.errors,
          deltaMethod: c.deltaMethod,
          quarantine: c.quarantine?.until ? { reason: c.quarantine.reason, since: c.quarantine.since, until: c.quarantine.until, level: c.quarantine.level } : null,
          holds: c.holds,
        },
      ]),
    ),
    lastRuns: s.lastRuns,
    errors: s.errors,
  };
}
