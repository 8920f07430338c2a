/**
 * Full and delta imports. Both page with keyset predicates on the anchor (or on watermark + anchor), never
 * OFFSET, so a page costs the same at row 1 and at row 1,000,000 and rows inserted meanwhile shift nothing.
 */
import { ConnectorError } from '../../core/errors.js';
import type { ConnectorObject, ImportChange, ImportPage, ImportRequest } from '../contract.js';
import type { ColumnInfo, HeldSession, QueryResult, Row, Session } from './client.js';
import { greaterThan, Params } from './dialect.js';
import { connectorError } from './errors.js';
import { kindOf, type ObjectTypeMapping, rowAnchor, selectList } from './mapping.js';
import {
  databaseNow,
  isSoftDeleted,
  notDeleted,
  probe,
  readByAnchors,
  rowsToChanges,
  type Runtime,
} from './runtime.js';
import { formatIso } from './time.js';
import { anchorParam, decodeAnchor, decodeColumn, encodeAnchor, encodeParam } from './values.js';
import {
  defaultOverlap,
  encodeWatermark,
  expireGaps,
  fingerprint,
  type LogState,
  observeLogIds,
  parseWatermark,
  SeenWindow,
  type Watermark,
  type WatermarkKind,
  watermarkKind,
  type WindowState,
} from './watermark.js';

const MAX_PAGE = 10_000;
/** how far below the log's highest id a full import looks for ids still uncommitted */
const LOG_GAP_SCAN = 1_000;

export async function* runImport(rt: Runtime, request: ImportRequest): AsyncGenerator<ImportPage> {
  const pageSize = Math.max(1, Math.min(MAX_PAGE, Math.floor(request.pageSize) || 1000));
  let session: HeldSession | undefined;
  let broken = false;
  try {
    session = await rt.db.connect();
    for (const m of rt.mappings.values()) await probe(rt, session, m, true);
    const pages =
      request.mode === 'full'
        ? fullImport(rt, session, pageSize)
        : deltaImport(rt, session, request, pageSize);
    for await (const page of pages) {
      if (request.signal?.aborted)
        throw new ConnectorError('SQL_ABORTED', 'import aborted', { connector: rt.name }, true);
      yield page;
    }
  } catch (err) {
    broken = true;
    throw connectorError(rt.db.driver, rt.name, err, `${request.mode} import`);
  } finally {
    session?.release(broken);
  }
}

// ---- full ------------------------------------------------------------------------------------------------

async function* fullImport(rt: Runtime, session: Session, pageSize: number): AsyncGenerator<ImportPage> {
  // read where the next delta starts before reading any row: what changes during the scan is read again
  const watermark = await startingWatermark(rt, session);
  // the watermark rides on the last page, so it commits only once every row is in
  let held: ImportPage | undefined;
  for (const m of rt.mappings.values()) {
    const state = m.settings.delta?.mode === 'watermark' ? watermark?.types[m.objectType] : undefined;
    const window = state && windowOf(m, state);
    for await (const changes of scanObjectType(rt, session, m, pageSize, window)) {
      if (held) yield held;
      held = { changes };
    }
    // The scan pages by anchor and cannot see rows whose anchor is NULL; their people have not left.
    const nullKeys = await countNullAnchors(rt, session, m);
    if (nullKeys > 0) {
      held ??= { changes: [] };
      held.changes.push({
        kind: 'error',
        location: `${rt.name}: ${m.objectType}`,
        code: 'SQL_ANCHOR_NULL',
        message: `${nullKeys === 1 ? 'a row has' : `${nullKeys} rows have`} NULL in anchor column(s) ${m.anchor.join(', ')}`,
      });
    }
    window?.commit();
  }
  yield { changes: held?.changes ?? [], watermark: watermark ? encodeWatermark(watermark) : undefined };
}

/**
 * Rows a full scan leaves out because an anchor column is NULL. Reported as an error (no anchor), so the
 * engine marks none of the objects it did not see as gone: any of them may be such a row.
 */
async function countNullAnchors(rt: Runtime, session: Session, m: ObjectTypeMapping): Promise<number> {
  const q = rt.dialect.quote;
  const params = new Params(rt.db.driver);
  const where = [`(${m.anchor.map((a) => `${q(a)} IS NULL`).join(' OR ')})`];
  const live = notDeleted(rt, m, params);
  if (live) where.push(live);
  const result = await session.query(`SELECT COUNT(*) AS n FROM ${m.from} WHERE ${where.join(' AND ')}`, params.values);
  return Number(result.rows[0]?.n ?? 0);
}

async function* scanObjectType(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  pageSize: number,
  window?: SeenWindow,
): AsyncGenerator<ImportChange[]> {
  const q = rt.dialect.quote;
  const order = m.anchor.map((a) => q(a)).join(', ');
  const delta = m.settings.delta?.mode === 'watermark' ? m.settings.delta : undefined;
  const select = selectList(m, rt.dialect, [delta?.column]);
  const readPage = (after: unknown[] | undefined) => {
    const params = new Params(rt.db.driver);
    const where = m.anchor.map((a) => `${q(a)} IS NOT NULL`);
    const live = notDeleted(rt, m, params);
    if (live) where.push(live);
    if (after) where.push(greaterThan(rt.dialect, params, m.anchor, after));
    return session.query(
      `SELECT ${select} FROM ${m.from} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${pageSize}`,
      params.values,
    );
  };
  // read-ahead of one page: the database sends page n+1 while page n is converted and handed over
  let next: Promise<QueryResult> | undefined = readPage(undefined);
  try {
    while (next) {
      const result: QueryResult = await next;
      next = undefined;
      if (result.rows.length === 0) return;
      if (result.rows.length === pageSize) {
        const last = result.rows.at(-1)!;
        next = readPage(m.anchor.map((a) => last[a]));
        // a failure surfaces when the page is awaited, not as an unhandled rejection meanwhile
        next.catch(() => {});
      }
      const { changes } = await rowsToChanges(rt, session, m, result.rows, result.columns);
      if (window && delta) rememberDelivered(rt, m, delta, window, result.rows, result.columns);
      yield changes;
    }
  } finally {
    // the connection goes back to the pool only once the read-ahead is over
    await next?.catch(() => {});
  }
}

function windowOf(m: ObjectTypeMapping, state: WindowState): SeenWindow | undefined {
  const delta = m.settings.delta;
  if (delta?.mode !== 'watermark') return undefined;
  const kind = watermarkKind(kindOf(m, m.columns?.get(delta.column), delta.column));
  return new SeenWindow(state, kind, delta.overlap ?? defaultOverlap(kind));
}

/**
 * Rows a full import delivered inside the next delta's window are remembered, so that delta does not send
 * them again. The window's top stays the maximum read before the scan.
 */
function rememberDelivered(
  rt: Runtime,
  m: ObjectTypeMapping,
  delta: { column: string },
  window: SeenWindow,
  rows: Row[],
  columns: ColumnInfo[],
): void {
  // a settled top: the next delta reads only rows after it, fingerprints would never be looked at (a row
  // changed during the scan may then come twice, never not at all)
  if (window.bound()?.strict) return;
  const columnKind = kindOf(m, m.columns?.get(delta.column), delta.column);
  for (const row of rows) {
    const value = decodeColumn(row[delta.column], columnKind ?? 'string', rt.ctx)[0];
    if (value === undefined) continue;
    const canonical = String(value);
    if (!window.inWindow(canonical)) continue;
    const anchor = rowAnchor(m, row, columns, rt.ctx);
    if (anchor !== undefined) window.add(canonical, fingerprint(m.objectType, anchor, canonical));
  }
}

async function startingWatermark(rt: Runtime, session: Session): Promise<Watermark | undefined> {
  const mappings = [...rt.mappings.values()];
  if (!mappings.every((m) => m.settings.delta)) return undefined;
  const watermark: Watermark = { v: 1, types: {} };
  for (const m of mappings) {
    const delta = m.settings.delta!;
    if (delta.mode !== 'watermark') continue;
    const now = formatIso({ ms: await databaseNow(rt, session), us: 0 });
    const state: WindowState & { d?: WindowState } = {
      w: await maxOf(rt, session, m.from, delta.column, m),
      t: now,
      seen: {},
    };
    if (delta.deleteLog) {
      state.d = {
        w: await maxOf(rt, session, rt.dialect.quote(delta.deleteLog.table), delta.deleteLog.column),
        t: now,
        seen: {},
      };
    }
    watermark.types[m.objectType] = state;
  }
  if (mappings.some((m) => m.settings.delta?.mode === 'changelog'))
    watermark.log = await startingLogState(rt, session);
  return watermark;
}

async function maxOf(
  rt: Runtime,
  session: Session,
  from: string,
  column: string,
  m?: ObjectTypeMapping,
): Promise<string | null> {
  const result = await session.query(`SELECT MAX(${rt.dialect.quote(column)}) AS m FROM ${from}`);
  const info = result.columns[0];
  // SQLite's MAX() loses the declared type: the column's own kind, when known, decides
  const kind = m?.overrides.get(column) ?? m?.columns?.get(column)?.kind ?? info?.kind;
  const value = decodeColumn(result.rows[0]?.m, kind ?? 'string', rt.ctx)[0];
  return value === undefined ? null : String(value);
}

async function startingLogState(rt: Runtime, session: Session): Promise<LogState> {
  const log = rt.dialect.quote(rt.settings.changeLog.table);
  const max = await session.query(`SELECT MAX(id) AS m FROM ${log}`);
  // ids in the last stretch that are missing may belong to transactions still open: they start as gaps
  // (rolled-back ones expire after gapTimeout)
  const state: LogState = { h: Math.max(0, Number(max.rows[0]?.m ?? 0) - LOG_GAP_SCAN), gaps: [] };
  const params = new Params(rt.db.driver);
  const recent = await session.query(
    `SELECT id FROM ${log} WHERE id > ${params.add(state.h)} ORDER BY id`,
    params.values,
  );
  observeLogIds(
    state,
    recent.rows.map((r) => Number(r.id)),
    await databaseNow(rt, session),
  );
  return state;
}

// ---- delta -----------------------------------------------------------------------------------------------

async function* deltaImport(
  rt: Runtime,
  session: Session,
  request: ImportRequest,
  pageSize: number,
): AsyncGenerator<ImportPage> {
  const watermark = parseWatermark(request.watermark, rt.name);
  let yielded = false;
  for (const m of rt.mappings.values()) {
    const delta = m.settings.delta;
    if (!delta) {
      throw new ConnectorError(
        'SQL_DELTA_UNSUPPORTED',
        `object type ${m.objectType} has no delta settings`,
        { connector: rt.name },
        false,
      );
    }
    if (delta.mode !== 'watermark') continue;
    const state = watermark.types[m.objectType];
    if (!state) throw stale(rt, m.objectType);
    for await (const changes of watermarkDelta(rt, session, m, state, pageSize)) {
      yielded = true;
      yield { changes, watermark: encodeWatermark(watermark) };
    }
  }
  if ([...rt.mappings.values()].some((m) => m.settings.delta?.mode === 'changelog')) {
    if (!watermark.log) throw stale(rt, 'the change log');
    for await (const changes of changelogDelta(rt, session, watermark.log, pageSize)) {
      yielded = true;
      yield { changes, watermark: encodeWatermark(watermark) };
    }
  }
  if (!yielded) yield { changes: [], watermark: encodeWatermark(watermark) };
}

function stale(rt: Runtime, what: string): ConnectorError {
  return new ConnectorError(
    'SQL_WATERMARK_INVALID',
    `the watermark has no position for ${what} (settings changed?): run a full import`,
    { connector: rt.name },
    false,
    { fullImportRequired: true },
  );
}

interface WindowSource {
  from: string;
  select: string;
  column: string;
  anchor: string[];
  /** the column kinds that turn raw values into anchors and canonical watermark values */
  kindOf(column: string, info: ColumnInfo | undefined): ReturnType<typeof kindOf>;
  anchorKinds: ReturnType<typeof kindOf>[];
}

/**
 * Rows whose watermark column is at or above (highest seen − overlap), in (watermark, anchor) order, without
 * those already delivered with the same watermark value. Updates `state` before yielding, so the watermark
 * the caller encodes with a page covers that page exactly.
 */
async function* readWindow(
  rt: Runtime,
  session: Session,
  objectType: string,
  source: WindowSource,
  state: WindowState,
  overlapSetting: number | undefined,
  pageSize: number,
  columnKind: ReturnType<typeof kindOf>,
): AsyncGenerator<{ rows: Row[]; anchors: string[]; columns: ColumnInfo[] }> {
  const q = rt.dialect.quote;
  const kind: WatermarkKind = watermarkKind(columnKind);
  const window = new SeenWindow(state, kind, overlapSetting ?? defaultOverlap(kind));
  const bound = window.bound();
  window.start(formatIso({ ms: await databaseNow(rt, session), us: 0 }));
  const boundParam =
    bound &&
    (kind === 'integer'
      ? anchorParam(bound.value, 'integer', rt.ctx)
      : encodeParam(bound.value, columnKind, rt.ctx));
  const keys = [source.column, ...source.anchor];
  const order = keys.map((k) => q(k)).join(', ');
  let after: unknown[] | undefined;
  for (;;) {
    const params = new Params(rt.db.driver);
    const where = [`${q(source.column)} IS NOT NULL`];
    if (bound && !bound.strict) where.push(`${q(source.column)} >= ${params.add(boundParam)}`);
    else if (bound?.after !== undefined) {
      const parts = decodeAnchor(bound.after, source.anchor.length);
      const anchorValues = parts.map((p, i) => anchorParam(p, source.anchorKinds[i], rt.ctx));
      where.push(greaterThan(rt.dialect, params, keys, [boundParam, ...anchorValues]));
    } else if (bound) where.push(`${q(source.column)} > ${params.add(boundParam)}`);
    if (after) where.push(greaterThan(rt.dialect, params, keys, after));
    const result = await session.query(
      `SELECT ${source.select} FROM ${source.from} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${pageSize}`,
      params.values,
    );
    if (result.rows.length === 0) {
      window.commit();
      return;
    }
    const info = new Map(result.columns.map((c) => [c.name, c]));
    const fresh: Row[] = [];
    const anchors: string[] = [];
    for (const row of result.rows) {
      const value = decodeColumn(row[source.column], columnKind ?? 'string', rt.ctx)[0];
      const anchor = encodeAnchor(
        source.anchor.map((a) => decodeColumn(row[a], source.kindOf(a, info.get(a)) ?? 'string', rt.ctx)[0]),
      );
      if (value === undefined || anchor === undefined) continue;
      const canonical = String(value);
      window.observe(canonical, anchor);
      const print = fingerprint(objectType, anchor, canonical);
      if (window.has(canonical, print)) continue;
      fresh.push(row);
      anchors.push(anchor);
      if (window.inWindow(canonical)) window.add(canonical, print);
    }
    window.commit();
    yield { rows: fresh, anchors, columns: result.columns };
    if (result.rows.length < pageSize) return;
    const last = result.rows.at(-1)!;
    after = keys.map((k) => last[k]);
  }
}

async function* watermarkDelta(
  rt: Runtime,
  session: Session,
  m: ObjectTypeMapping,
  state: WindowState & { d?: WindowState },
  pageSize: number,
): AsyncGenerator<ImportChange[]> {
  const delta = m.settings.delta;
  if (delta?.mode !== 'watermark') return;
  const softColumn = delta.softDelete?.column;
  const source: WindowSource = {
    from: m.from,
    select: selectList(m, rt.dialect, [delta.column, softColumn]),
    column: delta.column,
    anchor: m.anchor,
    kindOf: (column, info) => kindOf(m, info, column),
    anchorKinds: m.anchor.map((a) => kindOf(m, m.columns?.get(a), a)),
  };
  const columnKind = kindOf(m, m.columns?.get(delta.column), delta.column);
  for await (const page of readWindow(
    rt,
    session,
    m.objectType,
    source,
    state,
    delta.overlap,
    pageSize,
    columnKind,
  )) {
    const live: Row[] = [];
    const changes: ImportChange[] = [];
    page.rows.forEach((row, i) => {
      if (isSoftDeleted(rt, m, row, page.columns))
        changes.push({ kind: 'delete', anchor: page.anchors[i]!, objectType: m.objectType });
      else live.push(row);
    });
    const upserts = await rowsToChanges(rt, session, m, live, page.columns);
    yield [...upserts.changes, ...changes];
  }
  const log = delta.deleteLog;
  if (!log) return;
  state.d ??= { w: null, seen: {} };
  const logAnchor = Array.isArray(log.anchor) ? log.anchor : [log.anchor];
  const logFrom = rt.dialect.quote(log.table);
  const probeResult = await session.query(
    `SELECT ${rt.dialect.quote(log.column)} FROM ${logFrom} WHERE 1 = 0`,
  );
  const logSource: WindowSource = {
    from: logFrom,
    select: [...new Set([log.column, ...logAnchor])].map((c) => rt.dialect.quote(c)).join(', '),
    column: log.column,
    anchor: logAnchor,
    kindOf: (_column, info) => info?.kind,
    anchorKinds: logAnchor.map(() => undefined),
  };
  const logKind = probeResult.columns[0]?.kind;
  for await (const page of readWindow(
    rt,
    session,
    `${m.objectType}\0deleted`,
    logSource,
    state.d,
    delta.overlap,
    pageSize,
    logKind,
  )) {
    // a row deleted and then created again under the same key is alive: its upsert carries it
    const alive = new Set<string>();
    const current = await readByAnchors(rt, session, m, [...new Set(page.anchors)]);
    for (const row of current.rows) {
      const anchor = rowAnchor(m, row, current.columns, rt.ctx);
      if (anchor !== undefined) alive.add(anchor);
    }
    yield [...new Set(page.anchors)]
      .filter((a) => !alive.has(a))
      .map((anchor): ImportChange => ({ kind: 'delete', anchor, objectType: m.objectType }));
  }
}

/**
 * The change log: entries name (object type, anchor); each page reads the current rows of the anchors it
 * names, so several changes to one row become one upsert, and a row that is gone becomes a delete.
 */
async function* changelogDelta(
  rt: Runtime,
  session: Session,
  state: LogState,
  pageSize: number,
): AsyncGenerator<ImportChange[]> {
  const q = rt.dialect.quote;
  const log = q(rt.settings.changeLog.table);
  expireGaps(state, await databaseNow(rt, session), rt.settings.changeLog.gapTimeout);
  const byType = new Map(
    [...rt.mappings.values()]
      .filter((m) => m.settings.delta?.mode === 'changelog')
      .map((m) => [m.objectType, m]),
  );
  let after: number | undefined;
  for (;;) {
    const params = new Params(rt.db.driver);
    const ranges = [
      `id > ${params.add(state.h)}`,
      ...state.gaps.map(([from, to]) => `id BETWEEN ${params.add(from)} AND ${params.add(to)}`),
    ];
    let where = `(${ranges.join(' OR ')})`;
    if (after !== undefined) where += ` AND id > ${params.add(after)}`;
    const result = await session.query(
      `SELECT id, object_type, anchor FROM ${log} WHERE ${where} ORDER BY id LIMIT ${pageSize}`,
      params.values,
    );
    if (result.rows.length === 0) return;
    const now = await databaseNow(rt, session);
    const ids = result.rows.map((r) => Number(r.id));
    const wanted = new Map<string, Set<string>>();
    const changes: ImportChange[] = [];
    for (const row of result.rows) {
      const m = byType.get(String(row.object_type));
      if (!m) continue;
      const anchor = logAnchor(m, String(row.anchor));
      if (anchor === undefined) {
        changes.push({
          kind: 'error',
          location: `${rt.name}: ${rt.settings.changeLog.table} id ${row.id}`,
          code: 'SQL_CHANGELOG_INVALID',
          message: `cannot read the anchor ${String(row.anchor).slice(0, 80)}`,
        });
        continue;
      }
      const set = wanted.get(m.objectType) ?? new Set<string>();
      set.add(anchor);
      wanted.set(m.objectType, set);
    }
    for (const [objectType, anchors] of wanted) {
      const m = byType.get(objectType)!;
      const current = await readByAnchors(rt, session, m, [...anchors]);
      const upserts = await rowsToChanges(rt, session, m, current.rows, current.columns);
      const found = new Set(upserts.anchors);
      changes.push(...upserts.changes);
      for (const anchor of anchors)
        if (!found.has(anchor)) changes.push({ kind: 'delete', anchor, objectType });
    }
    observeLogIds(state, ids, now);
    yield changes;
    if (result.rows.length < pageSize) return;
    after = ids.at(-1);
  }
}

/** The anchor a trigger wrote: a JSON array of the key columns' values. */
function logAnchor(m: ObjectTypeMapping, text: string): string | undefined {
  let parts: unknown;
  try {
    parts = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || parts.length !== m.anchor.length) return undefined;
  return encodeAnchor(
    parts.map((p, i) => {
      if (p === null || p === undefined) return undefined;
      const kind = kindOf(m, m.columns?.get(m.anchor[i]!), m.anchor[i]!);
      // PostgreSQL writes bytea into JSON as "\x0102…"
      if (kind === 'binary' && typeof p === 'string') return Buffer.from(p.replace(/^\\x/, ''), 'hex');
      return typeof p === 'string' || typeof p === 'number' || typeof p === 'boolean' ? p : JSON.stringify(p);
    }),
  );
}

// ---- one object ------------------------------------------------------------------------------------------

/** The row of one anchor as the table has it now (a soft-deleted row is gone), with its child values. */
export async function runRead(rt: Runtime, objectType: string, anchor: string): Promise<ConnectorObject | null> {
  const m = rt.mappings.get(objectType);
  if (!m) return null;
  let session: HeldSession | undefined;
  let broken = false;
  try {
    session = await rt.db.connect();
    await probe(rt, session, m);
    const { rows, columns } = await readByAnchors(rt, session, m, [anchor]);
    const { changes } = await rowsToChanges(rt, session, m, rows, columns);
    const change = changes.find((c) => c.kind !== 'error' || c.anchor === anchor) ?? changes[0];
    if (!change) return null;
    if (change.kind === 'error') throw new ConnectorError(change.code, change.message, { connector: rt.name, location: change.location }, false);
    return change.kind === 'upsert' ? change.object : null;
  } catch (err) {
    broken = !(err instanceof ConnectorError);
    throw err instanceof ConnectorError ? err : connectorError(rt.db.driver, rt.name, err, 'read');
  } finally {
    session?.release(broken);
  }
}
