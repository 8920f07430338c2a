/**
 * Active Directory delta import: DirSync (with incremental member values and tombstones) and, where the bind
 * account lacks the replication right DirSync needs, uSNChanged with the show-deleted control.
 */
import { AndFilter, EqualityFilter, GreaterThanEqualsFilter, PresenceFilter } from 'ldapts';
import type { Value } from '../../core/values.js';
import type { AttributeChange, ImportChange, ImportPage, ImportRequest } from '../contract.js';
import { dnKey, isWithin, parseDN } from './dn.js';
import type { Directory } from './directory.js';
import type { EntryMapper } from './entries.js';
import { orOf, pagedSearch, resyncRequired, WATERMARK_PREFIX } from './import.js';
import { type LdapConnection, LdapResultError, type SearchEntry } from './protocol/connection.js';
import { DIRSYNC_FLAGS, dirSyncControl, dirSyncResponse, showDeletedControl } from './protocol/controls.js';
import { anchorString, fromLdap } from './values.js';

const DIRSYNC_MAX_BYTES = 1024 * 1024;
const INCREMENTAL_VALUE = /^(.*);range=([01])-\2$/i;

/** DirSync only runs at the root of a naming context. */
export async function namingContext(directory: Directory, connection: LdapConnection): Promise<string> {
  const root = await directory.rootDse(connection);
  const base = parseDN(directory.settings.baseDN);
  const contexts = [root.defaultNamingContext, ...root.namingContexts].filter((c): c is string => Boolean(c));
  const matching = contexts.filter((c) => isWithin(base, parseDN(c))).sort((a, b) => b.length - a.length);
  return matching[0] ?? directory.settings.baseDN;
}

interface DirSyncPass {
  entries: SearchEntry[];
  cookie: Buffer;
  more: boolean;
}

async function dirSyncPass(
  connection: LdapConnection,
  nc: string,
  mapper: EntryMapper,
  attributes: string[],
  cookie: Buffer | undefined,
): Promise<DirSyncPass> {
  const entries: SearchEntry[] = [];
  let response: { more: boolean; cookie: Buffer } | undefined;
  const search = connection.search({
    baseDN: nc,
    scope: 'sub',
    filter: mapper.typeFilter(),
    attributes,
    binary: mapper.isBinary,
    controls: [dirSyncControl(DIRSYNC_FLAGS.incrementalValues, DIRSYNC_MAX_BYTES, cookie)],
  });
  for await (const message of search) {
    if (message.type === 'entry') entries.push(message.entry);
    else if (message.type === 'done') {
      if (message.result.resultCode !== 0) throw new LdapResultError('DirSync', message.result);
      response = dirSyncResponse(message.result.controls);
    }
  }
  if (!response) throw new Error('the server answered a DirSync search without a DirSync cookie');
  return { entries, cookie: response.cookie, more: response.more };
}

/** A DirSync pass over everything, reading only objectGUID: its final cookie marks "now". */
export async function dirSyncWatermark(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
): Promise<string> {
  const nc = await namingContext(directory, connection);
  let cookie: Buffer | undefined;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const pass = await dirSyncPass(connection, nc, mapper, ['objectGUID'], cookie);
    cookie = pass.cookie;
    if (!pass.more) break;
  }
  return WATERMARK_PREFIX.dirsync + (cookie ?? Buffer.alloc(0)).toString('base64');
}

export async function usnWatermark(directory: Directory, connection: LdapConnection): Promise<string> {
  const { highestCommittedUSN } = await directory.rootDseValues(connection, ['highestCommittedUSN']);
  if (!highestCommittedUSN) throw resyncRequired(directory, 'the server shows no highestCommittedUSN');
  return WATERMARK_PREFIX.usnchanged + highestCommittedUSN;
}

export async function* adDelta(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string,
  request: ImportRequest,
  side: () => Promise<LdapConnection>,
): AsyncGenerator<ImportPage> {
  if (watermark.startsWith(WATERMARK_PREFIX.dirsync)) {
    yield* dirSyncDelta(directory, mapper, connection, watermark, request, side);
  } else {
    yield* usnDelta(directory, mapper, connection, watermark, request, side);
  }
}

function isDeleted(mapper: EntryMapper, entry: SearchEntry): boolean {
  return mapper.rawValues(entry, 'isDeleted')[0]?.toString().toUpperCase() === 'TRUE';
}

function guidOf(mapper: EntryMapper, entry: SearchEntry): Buffer | undefined {
  const raw = mapper.rawValues(entry, 'objectGUID')[0];
  return raw instanceof Buffer ? raw : undefined;
}

async function* dirSyncDelta(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string,
  request: ImportRequest,
  side: () => Promise<LdapConnection>,
): AsyncGenerator<ImportPage> {
  const nc = await namingContext(directory, connection);
  let cookie: Buffer | undefined = Buffer.from(watermark.slice(WATERMARK_PREFIX.dirsync.length), 'base64');
  const attributes = dirSyncAttributes(mapper);
  for (let guard = 0; guard < 1_000_000; guard++) {
    request.signal?.throwIfAborted();
    let pass: DirSyncPass;
    try {
      pass = await dirSyncPass(connection, nc, mapper, attributes, cookie);
    } catch (err) {
      // an expired or foreign cookie
      if (err instanceof LdapResultError && (err.resultCode === 2 || err.resultCode === 53)) {
        throw resyncRequired(directory, `the server refused the DirSync cookie: ${err.message}`);
      }
      throw err;
    }
    cookie = pass.cookie;
    const changes = await dirSyncChanges(directory, mapper, connection, pass.entries, side);
    // each DirSync response's cookie covers exactly what it returned: a safe watermark for this page
    yield { changes, watermark: WATERMARK_PREFIX.dirsync + cookie.toString('base64') };
    if (!pass.more) return;
  }
}

/**
 * DirSync returns an object only when one of the requested attributes changed: `name` changes with a rename
 * and a move (AD keeps the parent in its metadata), isDeleted with a delete.
 */
export function dirSyncAttributes(mapper: EntryMapper): string[] {
  return mapper
    .requestedAttributes(['objectGUID', 'isDeleted', 'objectClass', 'name', 'parentGUID'])
    .filter((a) => a !== '*');
}

async function dirSyncChanges(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  entries: SearchEntry[],
  side: () => Promise<LdapConnection>,
): Promise<ImportChange[]> {
  const changes: ImportChange[] = [];
  const reread: Buffer[] = [];
  const memberOnly = new Map<string, { guid: Buffer; changes: Record<string, AttributeChange> }>();
  for (const entry of entries) {
    const guid = guidOf(mapper, entry);
    if (!guid) continue;
    const anchor = anchorString('objectGUID', guid);
    if (isDeleted(mapper, entry)) {
      changes.push({ kind: 'delete', anchor });
      continue;
    }
    if (!mapper.inScope(entry.dn)) {
      // moved out of the connector's containers: gone as far as the connector is concerned
      changes.push({ kind: 'delete', anchor });
      continue;
    }
    const incremental: Record<string, AttributeChange> = {};
    let other = false;
    for (const attribute of entry.attributes) {
      const m = INCREMENTAL_VALUE.exec(attribute.type);
      const key = attribute.type.toLowerCase();
      if (m) {
        const name = mapper.spell(m[1]!);
        const schema = mapper.attributeSchema(m[1]!);
        const values: Value[] = attribute.values.map((v) => fromLdap(v, schema, directory.typeCase));
        incremental[name] ??= {};
        const change = incremental[name];
        if (m[2] === '1') change.add = [...(change.add ?? []), ...values];
        else change.remove = [...(change.remove ?? []), ...values];
      } else if (key !== 'objectguid' && key !== 'instancetype') {
        other = true;
      }
    }
    if (other || Object.keys(incremental).length === 0) reread.push(guid);
    else memberOnly.set(anchor, { guid, changes: incremental });
  }
  // objects with attribute changes are read again whole: an upsert carries the complete, current object
  const current = await readByGuid(
    directory,
    mapper,
    connection,
    reread,
    mapper.requestedAttributes(['objectGUID']),
    side,
  );
  for (const guid of reread) {
    const entry = current.get(guid.toString('hex'));
    if (!entry) continue;
    const change = mapper.toChange(entry);
    if (change) changes.push(change);
  }
  // member-only changes stay incremental: a 10,000-member group is not re-read for one new member
  const types = await readByGuid(
    directory,
    mapper,
    connection,
    [...memberOnly.values()].map((m) => m.guid),
    ['objectClass', 'objectGUID'],
    side,
  );
  for (const [anchor, { guid, changes: attributeChanges }] of memberOnly) {
    const entry = types.get(guid.toString('hex'));
    if (!entry) continue;
    const objectType = mapper.classify(mapper.rawValues(entry, 'objectClass').map(String));
    if (!objectType) continue;
    const objectAnchor = mapper.anchorOf(entry) ?? anchor;
    changes.push({
      kind: 'modify',
      anchor: objectAnchor,
      objectType,
      name: mapper.canonical(entry.dn),
      changes: attributeChanges,
    });
  }
  return changes;
}

async function readByGuid(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  guids: Buffer[],
  attributes: string[],
  side: () => Promise<LdapConnection>,
): Promise<Map<string, SearchEntry>> {
  const out = new Map<string, SearchEntry>();
  const nc = await namingContext(directory, connection);
  for (let i = 0; i < guids.length; i += 100) {
    const chunk = guids.slice(i, i + 100);
    const filter = orOf(chunk.map((g) => new EqualityFilter({ attribute: 'objectGUID', value: g })));
    const pages = pagedSearch(
      connection,
      { baseDN: nc, scope: 'sub', filter, attributes, binary: mapper.isBinary },
      directory.settings.pageSize,
      side,
    );
    for await (const entries of pages) {
      for (const entry of entries) {
        const guid = guidOf(mapper, entry);
        if (guid) out.set(guid.toString('hex'), entry);
      }
    }
  }
  return out;
}

async function* usnDelta(
  directory: Directory,
  mapper: EntryMapper,
  connection: LdapConnection,
  watermark: string,
  request: ImportRequest,
  side: () => Promise<LdapConnection>,
): AsyncGenerator<ImportPage> {
  const since = Number(watermark.slice(WATERMARK_PREFIX.usnchanged.length));
  if (!Number.isSafeInteger(since)) throw resyncRequired(directory, `${watermark} is not a USN watermark`);
  // read first: what changes while the delta runs is read again next time
  const next = await usnWatermark(directory, connection);
  const changedSince = new GreaterThanEqualsFilter({ attribute: 'uSNChanged', value: String(since + 1) });
  const pageSize = Math.min(request.pageSize, directory.settings.pageSize);
  for (const base of mapper.searchBases()) {
    const pages = pagedSearch(
      connection,
      {
        baseDN: base,
        scope: 'sub',
        filter: new AndFilter({ filters: [mapper.typeFilter(), changedSince] }),
        attributes: mapper.requestedAttributes(),
        binary: mapper.isBinary,
      },
      pageSize,
      side,
      request.signal,
    );
    for await (const entries of pages) {
      const changes = entries
        .map((e) => mapper.toChange(e))
        .filter((c): c is ImportChange => c !== undefined);
      if (changes.length > 0) yield { changes };
    }
  }
  // tombstones: deleted objects keep objectGUID and uSNChanged, and are only visible with show-deleted
  const nc = await namingContext(directory, connection);
  const deletedPages = pagedSearch(
    connection,
    {
      baseDN: nc,
      scope: 'sub',
      filter: new AndFilter({
        filters: [
          new EqualityFilter({ attribute: 'isDeleted', value: 'TRUE' }),
          changedSince,
          new PresenceFilter({ attribute: 'objectGUID' }),
        ],
      }),
      attributes: ['objectGUID', 'objectClass', 'lastKnownParent'],
      binary: mapper.isBinary,
      controls: [showDeletedControl()],
    },
    pageSize,
  );
  const base = dnKey(directory.settings.baseDN);
  for await (const entries of deletedPages) {
    const changes: ImportChange[] = [];
    for (const entry of entries) {
      const guid = guidOf(mapper, entry);
      if (!guid || !mapper.classify(mapper.rawValues(entry, 'objectClass').map(String))) continue;
      const parent = mapper.rawValues(entry, 'lastKnownParent')[0]?.toString();
      if (parent && !dnKey(parent).endsWith(base)) continue;
      changes.push({ kind: 'delete', anchor: anchorString('objectGUID', guid) });
    }
    if (changes.length > 0) yield { changes };
  }
  yield { changes: [], watermark: next };
}
