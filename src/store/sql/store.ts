/**
 * The store's logic, written once over an Executor and a dialect: the SQLite store (../sqlite.ts) and the
 * PostgreSQL store (../postgres/store.ts) differ only in their connection, DDL and migrations, the lease and
 * transactions, and the few page operations one of them does better its own way.
 */
import { type Attributes, decodeAttributes, encodeAttributes, isReference, referencedNames, type Value, valueKey } from '../../core/values.js';
// Time-ordered ids (UUIDv7): metaverse inserts land at the right edge of every index keyed by metaverse id,
// instead of dirtying a random page of each per insert (at 100,000 objects, most of a commit's writes).
import { newId } from '../../directory/ids.js';
import type { LeaseHolder } from '../lease.js';
import { matchKey } from '../match.js';
import {
  type CsObject,
  type CsWrite,
  EXPORT_RANK,
  type ExportOp,
  type LogEntry,
  type LogQuery,
  type MvObject,
  type ObjectError,
  type ObjectErrorInfo,
  type PendingCursor,
  type PendingExport,
  type PendingState,
  type RunRecord,
  type RunStats,
  type SeenObjects,
  type Store,
  type StoredLogEntry,
} from '../types.js';
import type { StoreDialect } from './dialect.js';
import type { DeferringExecutor } from './executor.js';
import {
  chunks,
  type CsRow,
  csIndexKeys,
  type ErrorRow,
  exportRank,
  type LogRow,
  type MvRow,
  now,
  type PendingRow,
  packChanges,
  packSteps,
  type RunRow,
  searchNeedle,
  toCs,
  toMv,
  toPending,
  toRun,
  unpackChanges,
  unpackSteps,
} from './rows.js';
import { type DeferredStatements, deferredStatements, type Statements, statements } from './statements.js';
import type { TableSpec } from './tables.js';

type IndexSpec = { mv: string[]; cs: { connector: string; objectType?: string; attribute: string }[] };

export abstract class SqlStore implements Store {
  protected readonly sql: Statements;
  /** the writes kept for later inside a transaction (write-behind.ts) */
  protected readonly later: DeferredStatements;
  private mvIndexed = new Set<string>();
  /** "connector\0objectType" (or "connector\0*": every type) → attributes indexed for outbound matching */
  private csIndexed = new Map<string, Set<string>>();
  /** connectors whose references are indexed (those inbound sync reads); null: every connector's */
  private refsIndexed: Set<string> | null = null;
  private errorsCache: Set<string> | undefined;

  protected constructor(
    protected readonly dialect: StoreDialect,
    protected readonly db: DeferringExecutor,
  ) {
    this.sql = statements(dialect);
    this.later = deferredStatements(dialect);
  }

  abstract close(): Promise<void>;
  abstract acquireLease(holder: LeaseHolder, gone: (current: LeaseHolder) => boolean): Promise<LeaseHolder | null>;
  abstract renewLease(owner: string, at: string): Promise<boolean>;
  abstract releaseLease(owner: string): Promise<void>;
  abstract transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** whether the caller is inside a transaction: only there are writes deferred */
  protected abstract inTransaction(): boolean;

  /** Deferred writes made outside a transaction go out at once. */
  protected async settle(): Promise<void> {
    if (!this.inTransaction()) await this.db.flush();
  }

  /** reads what the indexes hold (the engine names it again on opening): called once the schema is ready */
  protected async loadIndexSpec(): Promise<void> {
    const indexed = await this.getMeta('indexed');
    if (indexed) this.loadIndexed(JSON.parse(indexed));
  }

  /** a list parameter's value */
  protected list(values: readonly (string | number)[]): unknown {
    return this.dialect.list(values);
  }

  // ---- settings ----

  async getMeta(key: string): Promise<string | null> {
    return (await this.db.get<{ value: string }>(this.sql.getMeta, [key]))?.value ?? null;
  }

  async setMeta(key: string, value: string | null): Promise<void> {
    if (value === null) await this.db.run(this.sql.delMeta, [key]);
    else await this.db.run(this.sql.setMeta, [key, value]);
  }

  async getWatermark(connector: string): Promise<string | null> {
    return (await this.db.get<{ watermark: string | null }>(this.sql.getWm, [connector]))?.watermark ?? null;
  }

  async setWatermark(connector: string, watermark: string | null): Promise<void> {
    await this.db.run(this.sql.setWm, [connector, watermark, now()]);
  }

  // ---- connector space ----

  async csByAnchors(connector: string, anchors: string[]): Promise<Map<string, CsObject>> {
    const out = new Map<string, CsObject>();
    // (connector, anchor) is the unique index: the connector must lead for it to be used.
    const rows = await this.inList<CsRow>('SELECT * FROM cs WHERE connector = ? AND anchor IN', anchors, [connector]);
    for (const row of rows) out.set(row.anchor!, toCs(row));
    return out;
  }

  async csByNames(connector: string, names: string[]): Promise<Map<string, CsObject>> {
    const out = new Map<string, CsObject>();
    for (const name of new Set(names)) {
      const row = await this.db.get<CsRow>(this.sql.csByName, [connector, name]);
      if (row) out.set(name, toCs(row));
    }
    return out;
  }

  async searchCs(text: string, afterId: number, limit: number): Promise<CsObject[]> {
    const needle = searchNeedle(text);
    return (await this.db.all<CsRow>(this.sql.csSearch, [afterId, needle, needle, needle, limit])).map(toCs);
  }

  async csByIds(ids: number[]): Promise<CsObject[]> {
    if (ids.length === 1) {
      const row = await this.db.get<CsRow>(this.sql.csById, [ids[0]]);
      return row ? [toCs(row)] : [];
    }
    return (await this.inList<CsRow>('SELECT * FROM cs WHERE id IN', ids, [], ' ORDER BY id')).map(toCs);
  }

  async csByMv(mvIds: string[], _options: { attributes?: boolean } = {}): Promise<CsObject[]> {
    if (mvIds.length === 1) return (await this.db.all<CsRow>(this.sql.csByMv, [mvIds[0]])).map(toCs);
    return (await this.inList<CsRow>('SELECT * FROM cs WHERE mv_id IN', mvIds, [], ' ORDER BY mv_id, connector')).map(toCs);
  }

  /** `sql (?, ?, …)` over `values` in chunks of at most 500 */
  protected async inList<Row>(sql: string, values: (string | number)[], leading: (string | number)[] = [], order = ''): Promise<Row[]> {
    const out: Row[] = [];
    for (const part of chunks([...new Set(values)])) {
      out.push(...(await this.db.all<Row>(`${sql} (${part.map(() => '?').join(',')})${order}`, [...leading, ...part])));
    }
    return out;
  }

  async writeCs(writes: CsWrite[]): Promise<number[]> {
    const ids: number[] = [];
    for (const w of writes) {
      const { previous: was } = w;
      let id = w.id;
      if (id === undefined) {
        id = await this.db.insert(this.sql.insertCs, [w.connector, w.objectType, w.anchor, w.name, w.hash]);
        await this.indexCs(id, w.connector, w.objectType, w.attributes, true);
      } else if (was?.present && was.objectType === w.objectType && was.anchor === w.anchor && was.name === w.name) {
        await this.db.run(this.sql.updateCsAttributes, [w.hash, id]);
        await this.reindexCs(id, w.connector, w.objectType, was.attributes, w.attributes);
      } else {
        await this.db.run(this.sql.updateCs, [w.objectType, w.anchor, w.name, w.hash, id]);
        await this.indexCs(id, w.connector, w.objectType, w.attributes, false);
      }
      ids.push(id);
    }
    return ids;
  }

  async unseenCs(connector: string, seen: SeenObjects): Promise<CsObject[]> {
    // a page at a time, not read whole: at 1,000,000 objects the rows would be ~100 MB, the unseen ones usually none
    const ids: number[] = [];
    for (let after = 0; ; ) {
      const rows = await this.db.all<{ id: number; anchor: string }>(this.sql.importedPage, [connector, after, 10_000]);
      if (rows.length === 0) break;
      for (const r of rows) if (!seen.ids.has(r.id) && !seen.anchors.has(r.anchor)) ids.push(r.id);
      after = rows[rows.length - 1]!.id;
    }
    return ids.length > 0 ? this.csByIds(ids) : [];
  }

  async markCsGone(ids: number[]): Promise<void> {
    for (const part of chunks(ids, 10_000)) await this.db.run(this.sql.gone, [this.list(part)]);
  }

  async createCsPlaceholder(connector: string, objectType: string, mvId: string): Promise<number> {
    return this.db.insert(this.sql.placeholder, [connector, objectType, mvId]);
  }

  async confirmCs(
    id: number,
    update: { anchor?: string; name?: string | undefined; attributes: Attributes; hash: string; present: boolean },
    previous?: CsObject,
  ): Promise<void> {
    type IndexState = Pick<CsRow, 'connector' | 'object_type' | 'anchor' | 'name' | 'present' | 'attributes'>;
    const row: IndexState | undefined = previous
      ? {
          connector: previous.connector,
          object_type: previous.objectType,
          anchor: previous.anchor,
          name: previous.name,
          present: previous.present ? 1 : 0,
          attributes: previous.hash,
        }
      : await this.db.get<IndexState>(this.sql.csIndexState, [id]);
    if (!row) return;
    // deferred (a page of them goes as one statement per kind); an earlier write of this object kept goes first
    const later = this.db.deferred;
    const key = `cs:${id}`;
    if (later.touches(key)) await this.db.flush();
    const sameLink =
      (update.anchor ?? row.anchor) === row.anchor && (update.name ?? row.name) === row.name && (update.present ? 1 : 0) === row.present;
    if (sameLink) later.add(this.later.confirmAttributes, [update.hash, id], key);
    else later.add(this.later.confirm, [update.anchor ?? null, update.name ?? null, update.hash, update.present ? 1 : 0, id], key);
    // A placeholder (never created) has nothing indexed yet; an object whose references and indexed values
    // stayed the same keeps its index rows (a group that gained one member is not re-indexed 5,000 times).
    const wanted = this.csWanted(row.connector, row.object_type);
    const refs = this.refsWanted(row.connector);
    const isNew = row.anchor === null;
    if (isNew || csIndexKeys(wanted, refs, decodeAttributes(row.attributes)) !== csIndexKeys(wanted, refs, update.attributes)) {
      if (!isNew) {
        later.add(this.later.refsDelete, [id], key);
        later.add(this.later.csIndexDelete, [id], key);
      }
      const index = this.csIndexRows(row.connector, row.object_type, update.attributes);
      for (const target of index.refs) later.add(this.later.refs, [row.connector, target, id], key);
      for (const { attr, key: value } of index.keys) later.add(this.later.csIndex, [row.connector, attr, value, id], key);
    }
    await this.settle();
  }

  async deleteCs(ids: number[]): Promise<void> {
    for (const part of chunks(ids, 10_000)) {
      const list = this.list(part);
      await this.db.run(this.sql.deleteCs, [list]);
      await this.db.run(this.sql.refsDelMany, [list]);
      await this.db.run(this.sql.csIdxDelMany, [list]);
      await this.db.run(this.sql.clearPendings, [list]);
    }
  }

  async linkCs(id: number, mvId: string | null): Promise<void> {
    // deferred; linked twice before it goes out, the last link is the one written
    this.db.deferred.add(this.later.link, [mvId, id], undefined, String(id));
    await this.settle();
  }

  async hasImported(connector: string): Promise<boolean> {
    return (await this.db.get(this.sql.anyImported, [connector])) !== undefined;
  }

  async countCs(connector: string): Promise<{ present: number; linked: number; pendingCreate: number }> {
    type Row = { present: number | null; linked: number | null; pending_create: number | null };
    const r = (await this.db.get<Row>(this.sql.countCs, [connector]))!;
    return { present: r.present ?? 0, linked: r.linked ?? 0, pendingCreate: r.pending_create ?? 0 };
  }

  async dirtyCs(afterId: number, limit: number): Promise<CsObject[]> {
    return (await this.db.all<CsRow>(this.sql.dirtyCs, [afterId, limit])).map(toCs);
  }

  async clearCsDirty(ids: number[]): Promise<void> {
    if (ids.length > 0) await this.db.run(this.sql.cleanCs, [this.list(ids)]);
  }

  async markCsDirty(ids: number[]): Promise<void> {
    if (ids.length > 0) await this.db.run(this.sql.dirtyCs1, [this.list(ids)]);
  }

  async markAllCsDirty(): Promise<void> {
    await this.db.run(this.sql.dirtyCsAll);
  }

  async csReferencing(names: string[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    if (names.length === 0) return out;
    for (const r of await this.db.all<{ target: string; cs_id: number }>(this.sql.refsTo, [this.list(names)])) {
      const ids = out.get(r.target);
      if (ids) ids.push(r.cs_id);
      else out.set(r.target, [r.cs_id]);
    }
    return out;
  }

  async renameReferences(connectors: string[], renamed: ReadonlyMap<string, string>): Promise<void> {
    const readers = new Set(connectors);
    const ids = [...new Set([...(await this.csReferencing([...renamed.keys()])).values()].flat())];
    // every value renamed at once, so that two objects that swapped names stay apart
    const rename = (v: Value): Value => (isReference(v) && renamed.has(v.ref) ? { ref: renamed.get(v.ref)! } : v);
    for (const row of await this.inList<CsRow>('SELECT * FROM cs WHERE id IN', ids, [], ' ORDER BY id')) {
      if (!readers.has(row.connector)) continue;
      const before = decodeAttributes(row.attributes);
      const after: Attributes = {};
      for (const [attr, values] of Object.entries(before)) after[attr] = values.map(rename);
      const hash = encodeAttributes(after);
      if (hash === row.attributes) continue;
      await this.db.run(this.sql.updateCsAttributes, [hash, row.id]); // marks it for inbound sync
      await this.reindexCs(row.id, row.connector, row.object_type, before, after);
    }
  }

  async mvIdsByNames(connector: string, names: string[], alsoAnchors = false): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (names.length === 0) return out;
    type Row = { key: string; mv_id: string | null };
    for (const r of await this.db.all<Row>(this.sql.namesToMv, [connector, this.list(names)])) out.set(r.key, r.mv_id);
    if (alsoAnchors && out.size < names.length) {
      const missing = names.filter((n) => !out.has(n));
      for (const r of await this.db.all<Row>(this.sql.anchorsToMv, [connector, this.list(missing)])) out.set(r.key, r.mv_id);
    }
    return out;
  }

  async linksIn(connector: string, mvIds: string[]): Promise<{ mvId: string; present: boolean; anchor: string | null; name: string | null }[]> {
    if (mvIds.length === 0) return [];
    type Row = { mv_id: string; present: number; anchor: string | null; name: string | null };
    return (await this.db.all<Row>(this.sql.linksIn, [this.list(mvIds), connector])).map((r) => ({
      mvId: r.mv_id,
      present: r.present === 1,
      anchor: r.anchor,
      name: r.name,
    }));
  }

  async csMatch(connector: string, objectType: string, attribute: string, key: string): Promise<CsObject[]> {
    return (await this.db.all<CsRow>(this.sql.csIdxFind, [connector, attribute, key, objectType])).map(toCs);
  }

  async csMatchMany(connector: string, objectType: string, attribute: string, keys: string[]): Promise<Map<string, CsObject[]>> {
    const out = new Map<string, CsObject[]>(keys.map((k) => [k, []]));
    for (const part of chunks([...out.keys()], 10_000)) {
      const rows = await this.db.all<CsRow & { match_key: string }>(this.sql.csIdxFindMany, [connector, attribute, this.list(part), objectType]);
      for (const row of rows) out.get(row.match_key)?.push(toCs(row));
    }
    return out;
  }

  /** The attributes indexed for objects of this connector and type (none: undefined). */
  private csWanted(connector: string, objectType: string): Set<string> | undefined {
    const forType = this.csIndexed.get(`${connector}\0${objectType}`);
    const forAll = this.csIndexed.get(`${connector}\0*`);
    if (!forAll) return forType;
    if (!forType) return forAll;
    return new Set([...forType, ...forAll]);
  }

  /** Rewrites an object's reference and join-index rows only if what they hold changed. */
  protected async reindexCs(id: number, connector: string, objectType: string, before: Attributes, after: Attributes): Promise<void> {
    const wanted = this.csWanted(connector, objectType);
    const refs = this.refsWanted(connector);
    if (csIndexKeys(wanted, refs, before) !== csIndexKeys(wanted, refs, after)) await this.indexCs(id, connector, objectType, after, false);
  }

  private refsWanted(connector: string): boolean {
    return this.refsIndexed === null || this.refsIndexed.has(connector);
  }

  private async addRefs(id: number, connector: string, refs: string[]): Promise<void> {
    // a group's members in one statement, not one per member
    if (refs.length === 1) await this.db.run(this.sql.refsAdd, [connector, refs[0], id]);
    else if (refs.length > 1) await this.db.run(this.sql.refsAddMany, [connector, id, this.list(refs)]);
  }

  /** The reference and join-index rows of one object, as indexCs writes them. */
  protected csIndexRows(connector: string, objectType: string, attributes: Attributes): { refs: string[]; keys: { attr: string; key: string }[] } {
    const indexed = this.csWanted(connector, objectType);
    const refsWanted = this.refsWanted(connector);
    const refs: string[] = [];
    const keys: { attr: string; key: string }[] = [];
    for (const [attr, values] of Object.entries(attributes)) {
      const index = indexed?.has(attr);
      for (const v of values) {
        if (refsWanted && isReference(v)) refs.push(v.ref);
        if (index) keys.push({ attr, key: matchKey(v) });
      }
    }
    return { refs, keys };
  }

  protected async indexCs(id: number, connector: string, objectType: string, attributes: Attributes, isNew: boolean): Promise<void> {
    if (!isNew) {
      await this.db.run(this.sql.refsDel, [id]);
      await this.db.run(this.sql.csIdxDel, [id]);
    }
    const { refs, keys } = this.csIndexRows(connector, objectType, attributes);
    for (const { attr, key } of keys) await this.db.run(this.sql.csIdxAdd, [connector, attr, key, id]);
    await this.addRefs(id, connector, refs);
  }

  // ---- metaverse ----

  async mvByIds(ids: string[]): Promise<Map<string, MvObject>> {
    const rows =
      ids.length === 1
        ? ([await this.db.get<MvRow>(this.sql.mvById, [ids[0]])].filter(Boolean) as MvRow[])
        : await this.inList<MvRow>('SELECT * FROM mv WHERE id IN', ids);
    return new Map(rows.map((row) => [row.id, toMv(row)]));
  }

  async searchMv(text: string, afterId: string, limit: number): Promise<MvObject[]> {
    const needle = searchNeedle(text);
    return (await this.db.all<MvRow>(this.sql.mvSearch, [afterId, needle, needle, limit])).map(toMv);
  }

  async mvMatch(objectType: string, attribute: string, key: string): Promise<string[]> {
    return (await this.db.all<{ mv_id: string }>(this.sql.mvIdxFind, [objectType, attribute, key])).map((r) => r.mv_id);
  }

  async mvMatchMany(objectType: string, attribute: string, keys: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(keys.map((k) => [k, []]));
    for (const part of chunks([...out.keys()], 10_000)) {
      const rows = await this.db.all<{ key: string; mv_id: string }>(this.sql.mvIdxFindMany, [objectType, attribute, this.list(part)]);
      for (const row of rows) out.get(row.key)?.push(row.mv_id);
    }
    return out;
  }

  async createMv(objectType: string, attributes: Attributes): Promise<string> {
    // deferred, with its join-index and reference rows (write-behind.ts)
    const id = newId();
    const later = this.db.deferred;
    later.add(this.later.mvInsert, [id, objectType, encodeAttributes(attributes)]);
    for (const [attr, values] of Object.entries(attributes)) {
      const index = this.mvIndexed.has(attr);
      for (const v of values) {
        if (isReference(v)) later.add(this.later.mvRefs, [id, v.ref]);
        if (index) later.add(this.later.mvIndex, [attr, matchKey(v), id, objectType]);
      }
    }
    await this.settle();
    return id;
  }

  async updateMv(id: string, attributes: Attributes, previous?: MvObject): Promise<void> {
    // read before the write: the index rows to replace are those of the attributes as they were
    const before = previous ?? (await this.mvByIds([id])).get(id);
    await this.db.run(this.sql.mvUpdate, [encodeAttributes(attributes), id]);
    if (before) await this.indexMv(id, before.objectType, attributes, before.attributes);
  }

  async deleteMv(id: string): Promise<void> {
    await this.db.run(this.sql.mvDelete, [id]);
    await this.db.run(this.sql.mvIdxDel, [id]);
    await this.db.run(this.sql.mvRefsDel, [id]);
  }

  async purgeMv(id: string): Promise<void> {
    await this.db.run(this.sql.mvPurge, [id]);
  }

  async mvReferencing(id: string): Promise<string[]> {
    return (await this.db.all<{ mv_id: string }>(this.sql.mvRefsTo, [id])).map((r) => r.mv_id);
  }

  async mvReferencingSettled(ids: string[], connector: string): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.db.all<{ mv_id: string }>(this.sql.mvRefsSettled, [connector, this.list(ids)])).map((r) => r.mv_id);
  }

  async dirtyMv(afterId: string, limit: number): Promise<string[]> {
    return (await this.db.all<{ id: string }>(this.sql.dirtyMv, [afterId, limit])).map((r) => r.id);
  }

  async markMvDirty(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.db.run(this.sql.dirtyMv1, [this.list(ids)]);
  }

  async markAllMvDirty(): Promise<void> {
    await this.db.run(this.sql.dirtyMvAll);
  }

  async clearMvDirty(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.db.run(this.sql.cleanMv, [this.list(ids)]);
  }

  async countMv(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of await this.db.all<{ object_type: string; n: number }>(this.sql.countMv)) out[r.object_type] = r.n;
    return out;
  }

  /** Keeps the join index and the reference index in step; touches them only when their values changed. */
  private async indexMv(id: string, objectType: string, attributes: Attributes, previous: Attributes): Promise<void> {
    if (!this.indexChanged(attributes, previous) && !this.indexChanged(previous, attributes)) return;
    await this.db.run(this.sql.mvIdxDel, [id]);
    await this.db.run(this.sql.mvRefsDel, [id]);
    const refs: string[] = [];
    for (const [attr, values] of Object.entries(attributes)) {
      const index = this.mvIndexed.has(attr);
      for (const v of values) {
        if (isReference(v)) refs.push(v.ref);
        if (index) await this.db.run(this.sql.mvIdxAdd, [attr, matchKey(v), id, objectType]);
      }
    }
    if (refs.length === 1) await this.db.run(this.sql.mvRefsAdd, [id, refs[0]]);
    else if (refs.length > 1) await this.db.run(this.sql.mvRefsAddMany, [id, this.list(refs)]);
  }

  /** Does `a` hold an indexed or reference value that `b` does not hold the same way? */
  private indexChanged(a: Attributes, b: Attributes): boolean {
    for (const [attr, values] of Object.entries(a)) {
      if (!this.mvIndexed.has(attr) && !values.some(isReference)) continue;
      const other = b[attr];
      if (!other || other.length !== values.length || other.some((v, i) => valueKey(v) !== valueKey(values[i]!))) return true;
    }
    return false;
  }

  protected loadIndexed(spec: IndexSpec): void {
    this.mvIndexed = new Set(spec.mv);
    this.csIndexed = new Map();
    for (const { connector, objectType, attribute } of spec.cs) {
      const key = `${connector}\0${objectType ?? '*'}`;
      if (!this.csIndexed.has(key)) this.csIndexed.set(key, new Set());
      this.csIndexed.get(key)!.add(attribute);
    }
  }

  async setIndexedAttributes(mv: string[], cs: { connector: string; objectType?: string; attribute: string }[]): Promise<void> {
    const key = (c: (typeof cs)[number]) => `${c.connector}/${c.objectType ?? '*'}/${c.attribute}`;
    const spec = JSON.stringify({ mv: [...mv].sort(), cs: [...cs].sort((a, b) => key(a).localeCompare(key(b))) });
    if ((await this.getMeta('indexed')) === spec) return;
    await this.transaction(async () => {
      this.loadIndexed(JSON.parse(spec));
      for (const statement of this.sql.clearIndexes) await this.db.run(statement);
      // Keyset pages, not an iterator: better-sqlite3 allows no write on a connection while one is open.
      for (let after = ''; ; ) {
        const rows = await this.db.all<{ id: string; object_type: string; attributes: string }>(this.sql.mvPage, [after]);
        if (rows.length === 0) break;
        for (const row of rows) {
          const attrs = decodeAttributes(row.attributes);
          for (const attr of this.mvIndexed) {
            for (const v of attrs[attr] ?? []) await this.db.run(this.sql.mvIdxAdd, [attr, matchKey(v), row.id, row.object_type]);
          }
        }
        after = rows[rows.length - 1]!.id;
      }
      for (let after = 0; ; ) {
        const rows = await this.db.all<{ id: number; connector: string; object_type: string; attributes: string }>(this.sql.csPage, [after]);
        if (rows.length === 0) break;
        for (const row of rows) {
          const wanted = this.csWanted(row.connector, row.object_type);
          if (!wanted) continue;
          const attrs = decodeAttributes(row.attributes);
          for (const attr of wanted) {
            for (const v of attrs[attr] ?? []) await this.db.run(this.sql.csIdxAdd, [row.connector, attr, matchKey(v), row.id]);
          }
        }
        after = rows[rows.length - 1]!.id;
      }
      await this.setMeta('indexed', spec);
    });
  }

  /**
   * Only inbound sync asks who references an object (to sync the referrers again), so only the connectors
   * it reads need their references indexed: a target's (in a 100,000-object load, 200,000 rows of managers
   * and members) are written for nothing. A connector newly read has its rows indexed here; files from
   * versions before this one indexed every connector, so the first call only drops what is not needed.
   */
  async setIndexedReferences(connectors: string[]): Promise<void> {
    const wanted = [...new Set(connectors)].sort();
    const spec = JSON.stringify(wanted);
    const stored = await this.getMeta('references');
    this.refsIndexed = new Set(wanted);
    if (stored === spec) return;
    const before = stored === null ? null : new Set(JSON.parse(stored) as string[]);
    await this.transaction(async () => {
      await this.db.run(this.sql.refsDrop, [this.list(wanted)]);
      for (const connector of wanted) if (before !== null && !before.has(connector)) await this.rebuildRefs(connector);
      await this.setMeta('references', spec);
    });
  }

  private async rebuildRefs(connector: string): Promise<void> {
    for (let after = 0; ; ) {
      const rows = await this.db.all<{ id: number; attributes: string }>(this.sql.csPageOf, [connector, after]);
      if (rows.length === 0) break;
      for (const row of rows) await this.addRefs(row.id, connector, referencedNames(decodeAttributes(row.attributes)));
      after = rows[rows.length - 1]!.id;
    }
  }

  // ---- exports ----

  async setPending(
    p: Omit<PendingExport, 'attempts' | 'lastError' | 'notBefore' | 'state' | 'rank' | 'disable'> & { renames?: boolean; disable?: boolean },
  ): Promise<void> {
    // deferred; a second one for the same object goes after the first (an upsert compares with what it replaces)
    const key = `pending:${p.csId}`;
    if (this.db.deferred.touches(key)) await this.db.flush();
    this.db.deferred.add(this.later.pending, [
      p.csId,
      p.connector,
      p.op,
      encodeAttributes(p.desired, { keepEmpty: true }),
      JSON.stringify(p.createOnly),
      p.desiredName,
      p.rule,
      p.renames && p.op === 'update' ? EXPORT_RANK.rename : exportRank(p.op, p.desired),
      p.disable ? 1 : 0,
    ], key);
    await this.settle();
  }

  async pendingOfRank(connector: string, rank: number): Promise<{ csId: number; mvId: string | null; desiredName: string | null; notBefore: number }[]> {
    type Row = { cs_id: number; mv_id: string | null; desired_name: string | null; not_before: number };
    return (await this.db.all<Row>(this.sql.pendingOfRank, [connector, rank])).map((r) => ({
      csId: r.cs_id,
      mvId: r.mv_id,
      desiredName: r.desired_name,
      notBefore: r.not_before,
    }));
  }

  async pendingPage(connector: string, after: PendingCursor | null, limit: number): Promise<PendingExport[]> {
    const rows = after
      ? await this.db.all<PendingRow>(this.sql.pendingAfter, [connector, after.rank, after.rank, after.csId, limit])
      : await this.db.all<PendingRow>(this.sql.pendingFirst, [connector, limit]);
    return rows.map(toPending);
  }

  async countPendingOps(connector: string): Promise<Record<ExportOp, number>> {
    const out: Record<ExportOp, number> = { create: 0, update: 0, delete: 0 };
    for (const r of await this.db.all<{ op: ExportOp; n: number }>(this.sql.pendingOps, [connector])) out[r.op] = r.n;
    return out;
  }

  async clearPending(csId: number | number[]): Promise<void> {
    const ids = Array.isArray(csId) ? csId : [csId];
    for (const part of chunks(ids, 10_000)) await this.db.run(this.sql.clearPendings, [this.list(part)]);
  }

  async pending(connector: string, filter: { state?: PendingState; op?: ExportOp; disable?: boolean } = {}): Promise<PendingExport[]> {
    const where = ['connector = ?'];
    const params: (string | number)[] = [connector];
    if (filter.state !== undefined) where.push('state = ?') && params.push(filter.state);
    if (filter.op !== undefined) where.push('op = ?') && params.push(filter.op);
    if (filter.disable !== undefined) where.push('disable = ?') && params.push(filter.disable ? 1 : 0);
    return (await this.db.all<PendingRow>(`SELECT * FROM pending WHERE ${where.join(' AND ')} ORDER BY cs_id`, params)).map(toPending);
  }

  async pendingByCs(csId: number): Promise<PendingExport | null> {
    const row = await this.db.get<PendingRow>(this.sql.getPending, [csId]);
    return row ? toPending(row) : null;
  }

  async setPendingState(csIds: number[], state: PendingState): Promise<void> {
    for (const part of chunks(csIds, 10_000)) await this.db.run(this.sql.pendingState, [state, this.list(part)]);
  }

  async failPending(csId: number, error: ObjectErrorInfo, notBefore: number): Promise<void> {
    await this.db.run(this.sql.failPending, [JSON.stringify(error), notBefore, csId]);
  }

  async countPending(connector: string): Promise<Record<PendingState, number>> {
    const out: Record<PendingState, number> = { pending: 0, 'in-flight': 0, error: 0, held: 0 };
    for (const r of await this.db.all<{ state: PendingState; n: number }>(this.sql.countPending, [connector])) out[r.state] = r.n;
    return out;
  }

  // ---- errors, log, runs ----

  async recordError(e: Omit<ObjectError, 'attempts' | 'firstAt' | 'lastAt'>): Promise<void> {
    this.errorsCache?.add(e.connector);
    const at = now();
    await this.db.run(this.sql.recordError, [
      e.connector,
      e.key,
      e.phase,
      e.code,
      e.message,
      e.location ?? null,
      e.remoteCode === undefined ? null : String(e.remoteCode),
      e.attribute ?? null,
      at,
      at,
    ]);
  }

  async clearError(connector: string, key: string, phase: ObjectError['phase']): Promise<void> {
    // Nearly every object has no error: skip the write unless the table holds any for this connector.
    if (!(await this.errorConnectors()).has(connector)) return;
    await this.db.run(this.sql.clearError, [connector, key, phase]);
    this.errorsCache = undefined;
  }

  private async errorConnectors(): Promise<Set<string>> {
    this.errorsCache ??= new Set((await this.db.all<{ connector: string }>(this.sql.errorConnectors)).map((r) => r.connector));
    return this.errorsCache;
  }

  async errors(connector?: string): Promise<ObjectError[]> {
    const rows = connector ? await this.db.all<ErrorRow>(this.sql.errorsFor, [connector]) : await this.db.all<ErrorRow>(this.sql.errorsAll);
    return rows.map((r) => ({
      connector: r.connector,
      key: r.key,
      phase: r.phase as ObjectError['phase'],
      code: r.code,
      message: r.message,
      ...(r.location ? { location: r.location } : {}),
      ...(r.remote_code ? { remoteCode: r.remote_code } : {}),
      ...(r.attribute ? { attribute: r.attribute } : {}),
      attempts: r.attempts,
      firstAt: r.first_at,
      lastAt: r.last_at,
    }));
  }

  async countErrors(): Promise<Record<string, number>> {
    const rows = await this.db.all<{ connector: string; n: number }>(this.sql.countErrors);
    return Object.fromEntries(rows.map((r) => [r.connector, r.n]));
  }

  /** the parameters of one log row (appendLog) */
  protected logParams(e: LogEntry, at: string): unknown[] {
    return [
      e.runId,
      at,
      e.connector,
      e.object,
      e.csId ?? null,
      e.mvId ?? null,
      e.phase,
      e.situation,
      e.action,
      e.status,
      packSteps(e.steps),
      packChanges(e.changes),
      e.error ? JSON.stringify(e.error) : null,
      e.name && e.name !== e.object ? e.name : null,
      e.names ? JSON.stringify(e.names) : null,
    ];
  }

  async appendLog(entries: LogEntry[]): Promise<void> {
    const at = now();
    for (const e of entries) await this.db.run(this.sql.appendLog, this.logParams(e, at));
  }

  async pruneLog(before: string, limit: number): Promise<number> {
    return this.db.run(this.sql.pruneLog, [before, limit]);
  }

  async log(query: LogQuery): Promise<StoredLogEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.object) {
      const objects = query.objects ?? { csIds: [], mvIds: [] };
      where.push(this.sql.logObject);
      params.push(query.object, query.object, query.object, query.object, query.object, this.list(objects.csIds), this.list(objects.mvIds));
    }
    if (query.since) {
      where.push('at >= ?');
      params.push(query.since);
    }
    if (query.until) {
      where.push('at < ?');
      params.push(query.until);
    }
    if (query.beforeId !== undefined) {
      where.push('id < ?');
      params.push(query.beforeId);
    }
    if (query.runId !== undefined) {
      where.push('run_id = ?');
      params.push(query.runId);
    }
    for (const [column, value] of [['connector', query.connector], ['action', query.action], ['status', query.status]] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const sql = `SELECT * FROM log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = await this.db.all<LogRow>(sql, [...params, query.limit ?? 1000]);
    return rows.reverse().map((r) => ({
      id: r.id,
      at: r.at,
      runId: r.run_id,
      connector: r.connector,
      object: r.object,
      csId: r.cs_id,
      mvId: r.mv_id,
      phase: r.phase as LogEntry['phase'],
      situation: r.situation,
      action: r.action,
      status: r.status as LogEntry['status'],
      steps: unpackSteps(r.steps),
      changes: unpackChanges(r.changes),
      error: r.error ? JSON.parse(r.error) : null,
      name: r.name ?? r.object,
      ...(r.names ? { names: JSON.parse(r.names) } : {}),
    }));
  }

  async loggedNames(mvIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const chunk of chunks(mvIds)) {
      for (const row of await this.db.all<{ mv_id: string; name: string }>(this.sql.loggedNames, [this.list(chunk)])) {
        const list = out.get(row.mv_id) ?? [];
        out.set(row.mv_id, list);
        list.push(row.name);
      }
    }
    return out;
  }

  async startRun(kind: string): Promise<number> {
    return this.db.insert(this.sql.startRun, [kind, now()]);
  }

  async finishRun(id: number, status: string, stats: RunStats[]): Promise<void> {
    await this.db.run(this.sql.finishRun, [now(), status, JSON.stringify(stats), id]);
  }

  async runs(limit: number): Promise<RunRecord[]> {
    return (await this.db.all<RunRow>(this.sql.runs, [limit])).map(toRun);
  }

  async runsByIds(ids: number[]): Promise<RunRecord[]> {
    return (await this.db.all<RunRow>(this.sql.runsByIds, [this.list(ids)])).map(toRun);
  }

  async approve(connector: string): Promise<void> {
    await this.db.run(this.sql.approve, [connector, now()]);
  }

  async hasApproval(connector: string): Promise<boolean> {
    return (await this.db.get(this.sql.getApproval, [connector])) !== undefined;
  }

  async takeApproval(connector: string): Promise<boolean> {
    return (await this.db.run(this.sql.takeApproval, [connector])) > 0;
  }

  // ---- whole tables, for moving a state between stores (../copy.ts) ----

  /** A page of a table's rows in key order, after the key `after` (null: from the start), as arrays in column order. */
  async readRows(table: TableSpec, after: unknown[] | null, limit: number): Promise<unknown[][]> {
    const key = table.key.join(', ');
    const where = after ? `WHERE (${key}) > (${table.key.map(() => '?').join(', ')})` : '';
    const sql = `SELECT ${table.columns.join(', ')} FROM ${table.name} ${where} ORDER BY ${key} LIMIT ?`;
    const rows = await this.db.all<Record<string, unknown>>(sql, [...(after ?? []), limit]);
    return rows.map((r) => table.columns.map((c) => r[c] ?? null));
  }

  /** Inserts rows (arrays in column order) as they are, ids included. */
  async writeRows(table: TableSpec, rows: unknown[][]): Promise<void> {
    if (rows.length === 0) return;
    const row = `(${table.columns.map(() => '?').join(', ')})`;
    await this.db.run(`INSERT INTO ${table.name} (${table.columns.join(', ')}) VALUES ${rows.map(() => row).join(', ')}`, rows.flat());
  }

  async countRows(table: TableSpec): Promise<number> {
    return (await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table.name}`))!.n;
  }

  async clearRows(table: TableSpec): Promise<void> {
    await this.db.run(`DELETE FROM ${table.name}`);
  }

  /** after rows were written with their ids: what the store must do so that new rows get new ids */
  async rowsWritten(_table: TableSpec): Promise<void> {}
}
