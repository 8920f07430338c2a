/**
 * Full import (paged search, RFC 2696) and the OpenLDAP / generic delta modes: RFC 4533 content sync
 * (refreshOnly), the accesslog overlay, and modifyTimestamp.
 *
 * Watermarks are `mode:value` strings, so that a delta never reads a watermark written by another mode:
 * `syncrepl:<cookie>`, `accesslog:<reqStart>`, `modifyTimestamp:<generalizedTime>`, `dirsync:<base64>`,
 * `usn:<number>`. A full import takes its watermark from the server *before* it reads anything: a change made
 * during the import is then read again by the next delta, never lost.
 */
import {
  AndFilter,
  EqualityFilter,
  type Filter,
  GreaterThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
} from 'ldapts';
import { ConnectorError } from '../../core/errors.js';
import type { ImportChange, ImportPage, ImportRequest } from '../contract.js';
import { parseDN } from './dn.js';
import type { Directory } from './directory.js';
import { generalizedTimeToIso, isoToGeneralizedTime } from './values.js';
import { completeRanges, EntryMapper } from './entries.js';
import {
  LdapResultError,
  type LdapConnection,
  type SearchEntry,
  type SearchOperation,
  type SearchParams,
} from './protocol/connection.js';
import {
  pagedResultsControl,
  pagedResultsCookie,
  syncDone,
  syncInfo,
  syncRequestControl,
  syncState,
} from './protocol/controls.js';

export type DeltaMode = 'syncrepl' | 'accesslog' | 'modifyTimestamp' | 'dirsync' | 'usnchanged';

export const WATERMARK_PREFIX: Record<DeltaMode, string> = {
  syncrepl: 'syncrepl:',
  accesslog: 'accesslog:',
  modifyTimestamp: 'modifyTimestamp:',
  dirsync: 'dirsync:',
  usnchanged: 'usn:',
};

export function watermarkMode(watermark: string): DeltaMode | undefined {
  return (Object.keys(WATERMARK_PREFIX) as DeltaMode[]).find((m) =>
    watermark.startsWith(WATERMARK_PREFIX[m]),
  );
}

export function resyncRequired(directory: Directory, why: string): ConnectorError {
  return new ConnectorError(
    'LDAP_FULL_IMPORT_REQUIRED',
    `a delta import is not possible (${why}): run a full import`,
    { connector: directory.connectorName },
    false,
    { fullImportRequired: true },
  );
}

/** Pages of a paged search; each LDAP page is one array. Ranges (AD) are completed on `side`. */
export async function* pagedSearch(
  connection: LdapConnection,
  params: SearchParams,
  pageSize: number,
  side?: () => Promise<LdapConnection>,
  signal?: AbortSignal,
): AsyncGenerator<SearchEntry[]> {
  const request = (cookie: Buffer | undefined) =>
    connection.search({
      ...params,
      controls: [...(params.controls ?? []), pagedResultsControl(pageSize, cookie)],
    });
  let search: SearchOperation | undefined = request(undefined);
  try {
    while (search) {
      signal?.throwIfAborted();
      const entries: SearchEntry[] = [];
      let cookie: Buffer | undefined;
      for await (const batch of search.batches()) {
        for (const message of batch) {
          if (message.type === 'entry') {
            entries.push(message.entry);
          } else if (message.type === 'done') {
            if (message.result.resultCode !== 0 && message.result.resultCode !== 32) {
              throw new LdapResultError('search', message.result);
            }
            cookie = pagedResultsCookie(message.result.controls);
          }
        }
      }
      // ask for the next page before handing this one on: the server works while the page is processed
      search = cookie ? request(cookie) : undefined;
      if (side) {
        for (let i = 0; i < entries.length; i++) {
          if (EntryMapper.hasRanges(entries[i]!)) {
            entries[i] = await completeRanges(await side(), entries[i]!, params.binary ?? (() => false));
          }
        }
      }
      yield entries;
    }
  } finally {
    search?.abandon();
  }
}

/** Full import: every in-scope object, page by page; the watermark rides on the last page. */
export async function* fullImport(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string | null | TimestampTracker,
  request: ImportRequest,
  side: () => Promise<LdapConnection>,
): AsyncGenerator<ImportPage> {
  const pageSize = Math.min(request.pageSize, directory.settings.pageSize);
  const tracker = watermark instanceof TimestampTracker ? watermark : undefined;
  const seen = new Set<string>();
  for (const base of mapper.searchBases()) {
    const pages = pagedSearch(
      connection,
      {
        baseDN: base,
        scope: 'sub',
        filter: mapper.typeFilter(),
        attributes: mapper.requestedAttributes(tracker ? ['modifyTimestamp'] : []),
        binary: mapper.isBinary,
      },
      pageSize,
      directory.isAd ? side : undefined,
      request.signal,
    );
    for await (const entries of pages) {
      const changes: ImportChange[] = [];
      for (const entry of entries) {
        tracker?.observe(mapper, entry);
        const change = mapper.toChange(entry);
        if (!change) continue;
        // nested include containers would deliver an object twice
        if (change.kind === 'upsert') {
          if (seen.has(change.object.anchor)) continue;
          if (mapper.searchBases().length > 1) seen.add(change.object.anchor);
        }
        changes.push(change);
      }
      if (changes.length > 0) yield { changes };
    }
  }
  yield { changes: [], watermark: tracker ? tracker.watermark() : (watermark as string | null) };
}

// ---- RFC 4533 refreshOnly ------------------------------------------------------------------------------

/** The cookie for "now": a refreshOnly sync of the base entry alone, whose syncDone carries the current CSN. */
export async function syncreplWatermark(directory: Directory, connection: LdapConnection): Promise<string> {
  const search = connection.search({
    baseDN: directory.settings.baseDN,
    scope: 'base',
    filter: new PresenceFilter({ attribute: 'objectClass' }),
    attributes: ['1.1'],
    controls: [syncRequestControl('refreshOnly', undefined)],
  });
  for await (const message of search) {
    if (message.type !== 'done') continue;
    if (message.result.resultCode !== 0) throw new LdapResultError('content sync', message.result);
    const cookie = syncDone(message.result.controls)?.cookie;
    if (!cookie) throw resyncRequired(directory, 'the server sent no sync cookie');
    return WATERMARK_PREFIX.syncrepl + cookie;
  }
  throw resyncRequired(directory, 'the content sync search ended without a result');
}

export async function* syncreplDelta(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string,
  request: ImportRequest,
): AsyncGenerator<ImportPage> {
  const cookie = watermark.slice(WATERMARK_PREFIX.syncrepl.length);
  const pageSize = request.pageSize;
  const anchorIsUuid = mapper.anchorAttribute.toLowerCase() === 'entryuuid';
  const search = connection.search({
    baseDN: directory.settings.baseDN,
    scope: 'sub',
    filter: mapper.typeFilter(),
    attributes: mapper.requestedAttributes(),
    binary: mapper.isBinary,
    controls: [syncRequestControl('refreshOnly', cookie)],
  });
  let changes: ImportChange[] = [];
  let finalCookie: string | undefined;
  const deleted = (uuid: string) => {
    if (!anchorIsUuid)
      throw resyncRequired(directory, `a delete by entryUUID cannot be mapped to ${mapper.anchorAttribute}`);
    changes.push({ kind: 'delete', anchor: uuid });
  };
  for await (const message of search) {
    request.signal?.throwIfAborted();
    if (message.type === 'entry') {
      const state = syncState(message.entry.controls);
      if (state?.state === 'present') {
        // the server chose the present phase: what it does not list is gone, which only a full import can tell
        throw resyncRequired(
          directory,
          'the server answered with a present phase (its session log does not reach back to the cookie)',
        );
      }
      if (state?.state === 'delete') {
        deleted(state.entryUUID);
      } else {
        const change = mapper.toChange(message.entry);
        if (change) changes.push(change);
        // moved out of scope (an excluded container): gone for this connector
        else if (state && !mapper.inScope(message.entry.dn) && anchorIsUuid)
          changes.push({ kind: 'delete', anchor: state.entryUUID });
      }
    } else if (message.type === 'intermediate' && message.value) {
      const info = syncInfo(message.value);
      if (info.kind === 'syncIdSet') {
        if (!info.refreshDeletes) throw resyncRequired(directory, 'the server sent a present list');
        info.uuids.forEach(deleted);
      }
      if (info.kind !== 'newCookie' && info.cookie) finalCookie = info.cookie;
      if (info.kind === 'newCookie') finalCookie = info.cookie;
    } else if (message.type === 'done') {
      const { resultCode, diagnosticMessage } = message.result;
      // RFC 4533 §3.3.1: e-syncRefreshRequired, the cookie can no longer be served
      if (resultCode === 4096)
        throw resyncRequired(directory, 'the server requires a full refresh (e-syncRefreshRequired)');
      // OpenLDAP refuses a cookie newer than its own state ("consumer state is newer than provider"), e.g.
      // after it was killed and restarted on older data: its changes since then can only be read in full
      if (resultCode === 53)
        throw resyncRequired(
          directory,
          `the server refused the sync cookie: ${diagnosticMessage || 'unwillingToPerform'}`,
        );
      if (resultCode !== 0) throw new LdapResultError('content sync', message.result);
      const done = syncDone(message.result.controls);
      // an empty cookie back: the server could not read ours and answered as to a consumer with no state
      if (done?.cookie === '') throw resyncRequired(directory, 'the server could not read the sync cookie');
      // refreshDeletes FALSE ends in present-phase semantics (RFC 4533 §3.3.1): what was not listed is gone,
      // which only a full import can tell (OpenLDAP answers so to a cookie of a server id it does not know)
      if (done && !done.refreshDeletes)
        throw resyncRequired(
          directory,
          'the server answered with a present phase (the cookie does not match its state)',
        );
      if (done?.cookie) finalCookie = done.cookie;
    }
    if (changes.length >= pageSize) {
      yield { changes };
      changes = [];
    }
  }
  yield { changes, watermark: finalCookie ? WATERMARK_PREFIX.syncrepl + finalCookie : watermark };
}

// ---- accesslog ---------------------------------------------------------------------------------------

const RESULT_OK = new EqualityFilter({ attribute: 'reqResult', value: '0' });
/** the watermark of a full import that found the log empty: there is no record to check it against */
const LOG_EMPTY = '19700101000000.000000Z';

/** The newest reqStart in the log: the log's own clock, so nothing written before it is missed. */
export async function accesslogWatermark(directory: Directory, connection: LdapConnection): Promise<string> {
  const base = directory.settings.accesslogBase;
  let newest = '';
  const pages = pagedSearch(
    connection,
    {
      baseDN: base,
      scope: 'one',
      filter: new PresenceFilter({ attribute: 'reqStart' }),
      attributes: ['1.1'],
    },
    1000,
  );
  for await (const entries of pages) {
    for (const entry of entries) {
      const value = parseDN(entry.dn)[0]?.[0]?.value ?? '';
      if (value > newest) newest = value;
    }
  }
  return WATERMARK_PREFIX.accesslog + (newest || LOG_EMPTY);
}

export async function* accesslogDelta(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string,
  request: ImportRequest,
): AsyncGenerator<ImportPage> {
  const since = watermark.slice(WATERMARK_PREFIX.accesslog.length);
  if (!/^\d{14}\.\d{6}Z$/.test(since))
    throw resyncRequired(directory, `${watermark} is not an accesslog watermark`);
  // The watermark is the reqStart of a record in the log. Gone, the log was purged past it or the server lost
  // its newest changes (killed and restarted on older state): what changed since cannot be read from the log.
  if (since !== LOG_EMPTY) {
    const held = await connection.searchAll({
      baseDN: directory.settings.accesslogBase,
      scope: 'one',
      filter: new EqualityFilter({ attribute: 'reqStart', value: since }),
      attributes: ['1.1'],
    });
    if (held.length === 0)
      throw resyncRequired(
        directory,
        `the accesslog no longer holds the record at the watermark ${since} (purged, or the server lost changes)`,
      );
  }
  const filter = new AndFilter({
    filters: [
      new EqualityFilter({ attribute: 'objectClass', value: 'auditWriteObject' }),
      RESULT_OK,
      new GreaterThanEqualsFilter({ attribute: 'reqStart', value: since }),
      new NotFilter({ filter: new EqualityFilter({ attribute: 'reqStart', value: since }) }),
    ],
  });
  const records: { start: string; type: string; uuid?: string; dn: string }[] = [];
  const pages = pagedSearch(
    connection,
    {
      baseDN: directory.settings.accesslogBase,
      scope: 'one',
      filter,
      attributes: ['reqStart', 'reqType', 'reqEntryUUID', 'reqDN', 'reqNewRDN', 'reqNewSuperior'],
    },
    1000,
  );
  for await (const entries of pages) {
    for (const entry of entries) {
      const get = (n: string) => mapper.rawValues(entry, n)[0]?.toString();
      records.push({
        start: get('reqStart') ?? '',
        type: get('reqType') ?? '',
        uuid: get('reqEntryUUID'),
        dn: get('reqDN') ?? '',
      });
    }
  }
  records.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const anchorIsUuid = mapper.anchorAttribute.toLowerCase() === 'entryuuid';
  if (!anchorIsUuid && records.some((r) => r.type === 'delete')) {
    throw resyncRequired(directory, `accesslog deletes carry entryUUID, not ${mapper.anchorAttribute}`);
  }
  // the log is read in order; each page ends on a record boundary, so its reqStart is a safe watermark
  for (let i = 0; i < records.length; i += request.pageSize) {
    request.signal?.throwIfAborted();
    const slice = records.slice(i, i + request.pageSize);
    const changes: ImportChange[] = [];
    const latest = new Map<string, { type: string }>();
    for (const record of slice) if (record.uuid) latest.set(record.uuid.toLowerCase(), record);
    const toRead = [...latest].filter(([, r]) => r.type !== 'delete').map(([uuid]) => uuid);
    const current = await readByUuid(mapper, connection, toRead);
    for (const [uuid, record] of latest) {
      const entry = current.get(uuid);
      if (record.type === 'delete' || !entry) {
        // gone (a later record in the log deletes it, or it was deleted already)
        if (record.type === 'delete') changes.push({ kind: 'delete', anchor: uuid });
        continue;
      }
      const change = mapper.toChange(entry);
      changes.push(change ?? { kind: 'delete', anchor: uuid });
    }
    yield { changes, watermark: WATERMARK_PREFIX.accesslog + slice[slice.length - 1]!.start };
  }
  if (records.length === 0) yield { changes: [], watermark };
}

async function readByUuid(
  mapper: EntryMapper,
  connection: LdapConnection,
  uuids: string[],
): Promise<Map<string, SearchEntry>> {
  const out = new Map<string, SearchEntry>();
  for (let i = 0; i < uuids.length; i += 200) {
    const chunk = uuids.slice(i, i + 200);
    const filter: Filter = orOf(chunk.map((u) => new EqualityFilter({ attribute: 'entryUUID', value: u })));
    const entries = await connection.searchAll({
      baseDN: mapper.searchBases().length === 1 ? mapper.searchBases()[0]! : '',
      scope: 'sub',
      filter,
      attributes: mapper.requestedAttributes(['entryUUID']),
      binary: mapper.isBinary,
    });
    for (const entry of entries) {
      const uuid = mapper.rawValues(entry, 'entryUUID')[0]?.toString();
      if (uuid) out.set(uuid.toLowerCase(), entry);
    }
  }
  return out;
}

export function orOf(filters: Filter[]): Filter {
  return filters.length === 1 ? filters[0]! : new OrFilter({ filters });
}

// ---- modifyTimestamp -----------------------------------------------------------------------------------

/**
 * Where a server shows no clock (no contextCSN, no currentTime), the newest modifyTimestamp the run read,
 * moved back by the run's duration: a change made during the run to an entry read before it is then read
 * again by the next delta rather than missed.
 */
export class TimestampTracker {
  private newest = '';
  private readonly started = Date.now();

  constructor(private readonly previous?: string) {}

  observe(mapper: EntryMapper, entry: SearchEntry): void {
    const value = mapper.rawValues(entry, 'modifyTimestamp')[0]?.toString().slice(0, 14) ?? '';
    if (value > this.newest) this.newest = value;
  }

  watermark(): string {
    if (!this.newest) return this.previous ?? `${WATERMARK_PREFIX.modifyTimestamp}19700101000000Z`;
    const iso = generalizedTimeToIso(`${this.newest}Z`)!;
    const back = new Date(new Date(iso).getTime() - (Date.now() - this.started) - 1000);
    return `${WATERMARK_PREFIX.modifyTimestamp}${isoToGeneralizedTime(back.toISOString())!.slice(0, 14)}Z`;
  }
}

/** The server's clock: contextCSN (OpenLDAP) or currentTime (AD, others) — never this machine's. */
export async function timestampWatermark(
  directory: Directory,
  connection: LdapConnection,
  previous?: string,
): Promise<string | TimestampTracker> {
  const [entry] = await connection.searchAll({
    baseDN: directory.settings.baseDN,
    scope: 'base',
    filter: new PresenceFilter({ attribute: 'objectClass' }),
    attributes: ['contextCSN'],
  });
  const csns = entry?.attributes.find((a) => a.type.toLowerCase() === 'contextcsn')?.values.map(String) ?? [];
  let time = csns
    .map((c) => c.slice(0, 14))
    .sort()
    .pop();
  if (!time) {
    const values = await directory.rootDseValues(connection, ['currentTime']);
    time = values.currentTime?.slice(0, 14);
  }
  if (!time) return new TimestampTracker(previous);
  return `${WATERMARK_PREFIX.modifyTimestamp}${time}Z`;
}

export async function* timestampDelta(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string,
  request: ImportRequest,
  side: () => Promise<LdapConnection>,
): AsyncGenerator<ImportPage> {
  const since = watermark.slice(WATERMARK_PREFIX.modifyTimestamp.length);
  const next = await timestampWatermark(directory, connection, watermark);
  const tracker = next instanceof TimestampTracker ? next : undefined;
  for (const base of mapper.searchBases()) {
    const pages = pagedSearch(
      connection,
      {
        baseDN: base,
        scope: 'sub',
        filter: new AndFilter({
          filters: [
            mapper.typeFilter(),
            new GreaterThanEqualsFilter({ attribute: 'modifyTimestamp', value: since }),
          ],
        }),
        attributes: mapper.requestedAttributes(tracker ? ['modifyTimestamp'] : []),
        binary: mapper.isBinary,
      },
      Math.min(request.pageSize, directory.settings.pageSize),
      side,
      request.signal,
    );
    for await (const entries of pages) {
      for (const entry of entries) tracker?.observe(mapper, entry);
      const changes = entries
        .map((e) => mapper.toChange(e))
        .filter((c): c is ImportChange => c !== undefined);
      if (changes.length > 0) yield { changes };
    }
  }
  yield { changes: [], watermark: tracker ? tracker.watermark() : (next as string) };
}
