/**
 * Import. Full: "sync from now" delta links first (`$deltatoken=latest`), then a paged listing of /users
 * (manager expanded to its id) and /groups (members read by JSON $batch), each page a page of upserts; the
 * delta links are the watermark. Delta: the stored @odata.deltaLink of each collection, followed through its
 * @odata.nextLink pages (https://learn.microsoft.com/graph/delta-query-overview): removed objects are
 * deletes, changed ones upserts with their references (manager@delta where Graph gave it, else read by
 * $batch; a changed group's members read whole). A 410 Gone or an expired token (syncStateNotFound,
 * resyncRequired) makes the engine run a full import at once.
 */
import type { Attributes } from '../../core/values.js';
import type { ImportChange, ImportPage, ImportRequest } from '../contract.js';
import { describePath, type GraphResponse, graphErrorOf } from './http.js';
import type { Model, ObjectKind } from './model.js';
import type { Runtime } from './runtime.js';

export interface Watermark {
  v: 1;
  user: string;
  group: string;
}

const KINDS: ObjectKind[] = ['user', 'group'];
const RESYNC_CODES = new Set(['syncStateNotFound', 'resyncRequired', 'syncStateInvalid', 'ResyncRequired', 'SyncStateNotFound']);

export function parseWatermark(text: string | null): Watermark | null {
  if (text === null) return null;
  try {
    const w = JSON.parse(text) as Partial<Watermark>;
    if (w.v !== 1 || typeof w.user !== 'string' || typeof w.group !== 'string') return null;
    return { v: 1, user: w.user, group: w.group };
  } catch {
    return null;
  }
}

/** The delta query of a collection: its $select, with the reference Graph tracks (manager, members). */
function deltaQuery(model: Model): string {
  const select = [...model.select, model.kind === 'user' ? 'manager' : 'members'];
  return `${model.collection}/delta?$select=${select.join(',')}`;
}

export async function* fullImport(rt: Runtime, request: ImportRequest): AsyncIterable<ImportPage> {
  const signal = request.signal;
  const opts = { retry: 'safe' as const, ...(signal ? { signal } : {}) };
  // The delta links are taken before the listing: whatever changes while it runs is read again by the next
  // delta (a replay, harmless), never lost.
  const links: Partial<Record<ObjectKind, string>> = {};
  for (const kind of KINDS) links[kind] = await latestDeltaLink(rt, rt.models[kind], signal);
  for (const kind of KINDS) {
    const model = rt.models[kind];
    let link: string | undefined = `${model.collection}?${rt.listQuery(model, request.pageSize)}`;
    while (link) {
      const res: GraphResponse = await rt.http.request('GET', link, opts);
      if (res.status !== 200) throw rt.readError(res, `listing ${model.collection}`);
      const items = ((res.body?.value ?? []) as Record<string, unknown>[]).filter((i) => typeof i.id === 'string');
      const objects = await rt.complete(model, items, signal);
      yield { changes: objects.map((object) => ({ kind: 'upsert', object }) satisfies ImportChange) };
      const next: unknown = res.body?.['@odata.nextLink'];
      link = typeof next === 'string' ? next : undefined;
    }
  }
  yield { changes: [], watermark: JSON.stringify({ v: 1, user: links.user!, group: links.group! } satisfies Watermark) };
}

/** "Sync from now": the delta link of the present state, without reading it (`$deltatoken=latest`). */
async function latestDeltaLink(rt: Runtime, model: Model, signal?: AbortSignal): Promise<string> {
  let link = `${deltaQuery(model)}&$deltatoken=latest`;
  for (;;) {
    const res = await rt.http.request('GET', link, { retry: 'safe', ...(signal ? { signal } : {}) });
    if (res.status !== 200) throw rt.readError(res, `starting change tracking of ${model.collection}`);
    const delta = res.body?.['@odata.deltaLink'];
    if (typeof delta === 'string') return delta;
    const next = res.body?.['@odata.nextLink'];
    if (typeof next !== 'string') throw rt.fail('ENTRA_IMPORT_FAILED', `${model.collection}/delta answered neither a deltaLink nor a nextLink`, true);
    link = next;
  }
}

export async function* deltaImport(rt: Runtime, watermark: Watermark, request: ImportRequest): AsyncIterable<ImportPage> {
  const signal = request.signal;
  const next: Watermark = { ...watermark };
  for (const kind of KINDS) {
    const model = rt.models[kind];
    let link = watermark[kind];
    // the link is checked before the token goes anywhere: it must be a delta link of the configured Graph
    try {
      rt.http.url(link);
    } catch (err) {
      throw rt.fail('ENTRA_WATERMARK_INVALID', `${(err as Error).message}: a full import runs instead`, false, { fullImportRequired: true });
    }
    for (;;) {
      const res = await rt.http.request('GET', link, { retry: 'safe', ...(signal ? { signal } : {}) });
      if (isResync(res)) {
        const why = res.status === 410 ? '410 Gone' : `${graphErrorOf(res.body)?.code}`;
        throw rt.fail('ENTRA_DELTA_EXPIRED', `${describePath(link)}: Graph asked for a full synchronization (${why}): a full import runs instead`, false, { fullImportRequired: true, remoteCode: res.status });
      }
      if (res.status !== 200) throw rt.readError(res, `reading changes of ${model.collection}`);
      const items = (res.body?.value ?? []) as Record<string, unknown>[];
      yield { changes: await changesOf(rt, model, items, signal) };
      const nextLink = res.body?.['@odata.nextLink'];
      const deltaLink = res.body?.['@odata.deltaLink'];
      if (typeof nextLink === 'string') {
        link = nextLink;
        continue;
      }
      if (typeof deltaLink !== 'string') throw rt.fail('ENTRA_IMPORT_FAILED', `${model.collection}/delta answered neither a deltaLink nor a nextLink`, true);
      next[kind] = deltaLink;
      break;
    }
  }
  // written after both collections: a delta cut short is read again from the old links (replays are harmless)
  yield { changes: [], watermark: JSON.stringify(next) };
}

function isResync(res: GraphResponse): boolean {
  if (res.status === 410) return true;
  if (res.status < 400 || res.status >= 500) return false;
  const code = graphErrorOf(res.body)?.code ?? '';
  return RESYNC_CODES.has(code);
}

async function changesOf(rt: Runtime, model: Model, items: Record<string, unknown>[], signal?: AbortSignal): Promise<ImportChange[]> {
  const changes: ImportChange[] = [];
  const live: Record<string, unknown>[] = [];
  for (const item of items) {
    if (typeof item.id !== 'string') continue;
    // "@removed": {"reason": "changed"} (soft-deleted, restorable) or "deleted" (gone for good)
    if (item['@removed'] !== undefined) changes.push({ kind: 'delete', anchor: item.id, objectType: model.kind });
    else live.push(item);
  }
  if (live.length === 0) return changes;
  if (model.kind === 'user') {
    const refs = new Map<string, Attributes>();
    const unknown: string[] = [];
    for (const item of live) {
      const delta = item['manager@delta'];
      if (Array.isArray(delta) || (delta && typeof delta === 'object')) {
        const list = (Array.isArray(delta) ? delta : [delta]) as { id?: unknown; '@removed'?: unknown }[];
        const current = list.filter((m) => typeof m.id === 'string' && m['@removed'] === undefined).at(-1);
        refs.set(String(item.id), current ? { manager: [{ ref: String(current.id) }] } : {});
      } else {
        unknown.push(String(item.id));
      }
    }
    const managers = await rt.managers(unknown, signal);
    for (const [id, manager] of managers) refs.set(id, manager ? { manager: [{ ref: manager }] } : {});
    for (const item of live) changes.push({ kind: 'upsert', object: rt.toObject(model, item, refs.get(String(item.id)) ?? {}) });
    return changes;
  }
  // a changed group appears with members@delta holding only what changed: its whole list is read
  const byId = new Map(live.map((i) => [String(i.id), i]));
  const members = await rt.members([...byId.keys()], signal);
  for (const [id, item] of byId) {
    const m = members.get(id);
    if (m === null) continue; // deleted meanwhile: the next delta says so
    changes.push({ kind: 'upsert', object: rt.toObject(model, item, m && m.length > 0 ? { members: m } : {}) });
  }
  return changes;
}
