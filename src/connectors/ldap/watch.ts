/**
 * Change notification. OpenLDAP pushes (RFC 4533 refreshAndPersist: each change arrives as it is made); AD
 * and the other modes are polled at `watchIntervalMs` with the cheapest question that notices a change
 * (DirSync with a cookie, highestCommittedUSN, contextCSN). Bursts are merged: the engine is woken once and
 * runs a delta import that reads everything that changed.
 */
import { PresenceFilter } from 'ldapts';
import { dirSyncAttributes, namingContext } from './ad.js';
import type { Directory } from './directory.js';
import type { EntryMapper } from './entries.js';
import type { LdapConnection } from './protocol/connection.js';
import {
  DIRSYNC_FLAGS,
  dirSyncControl,
  dirSyncResponse,
  syncInfo,
  syncRequestControl,
} from './protocol/controls.js';
import { type DeltaMode, syncreplWatermark, WATERMARK_PREFIX } from './import.js';

const RECONNECT_DELAY_MS = 2000;

/** What watching needs of the LDAP connector (connector.ts implements it; naming it here avoids an import cycle) */
export interface Watched {
  readonly directory: Directory;
  newConnection(): Promise<LdapConnection>;
  deltaMode(connection: LdapConnection): Promise<DeltaMode>;
  mapper(connection?: LdapConnection): Promise<EntryMapper>;
}

/** Starts watching at once (not at the first `next()`), so that a change made right after watch() is seen. */
export function watchDirectory(connector: Watched, signal: AbortSignal): AsyncIterable<void> {
  // stops the watcher when the caller aborts, and also when it stops iterating
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) stop.abort();
  let dirty = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    dirty = true;
    wake?.();
  };
  stop.signal.addEventListener('abort', () => wake?.(), { once: true });
  const worker = watchLoop(connector, stop.signal, notify).catch((err: unknown) => {
    connector.directory.log.warn('LDAP watch stopped', { error: (err as Error).message });
  });
  async function* changes(): AsyncGenerator<void> {
    try {
      while (!stop.signal.aborted) {
        if (!dirty) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        if (stop.signal.aborted) break;
        if (dirty) {
          dirty = false;
          yield;
        }
      }
    } finally {
      stop.abort();
      signal.removeEventListener('abort', onAbort);
      await worker;
    }
  }
  return { [Symbol.asyncIterator]: changes };
}

/** keeps one watcher running, reconnecting after a lost connection (and then reporting a change: some may be missed) */
async function watchLoop(connector: Watched, signal: AbortSignal, notify: () => void): Promise<void> {
  let first = true;
  while (!signal.aborted) {
    let connection: LdapConnection | undefined;
    const abort = () => void connection?.close();
    signal.addEventListener('abort', abort, { once: true });
    try {
      connection = await connector.newConnection();
      const mode = await connector.deltaMode(connection);
      if (!first) notify();
      first = false;
      if (mode === 'syncrepl') await persist(connector, connection, signal, notify);
      else await poll(connector, connection, mode, signal, notify);
    } catch (err) {
      if (signal.aborted) return;
      connector.directory.log.warn('LDAP watch interrupted; reconnecting', { error: (err as Error).message });
      await sleep(RECONNECT_DELAY_MS, signal);
    } finally {
      signal.removeEventListener('abort', abort);
      await connection?.close();
    }
  }
}

async function persist(
  connector: Watched,
  connection: LdapConnection,
  signal: AbortSignal,
  notify: () => void,
): Promise<void> {
  const directory = connector.directory;
  const mapper = await connector.mapper(connection);
  const cookie = (await syncreplWatermark(directory, connection)).slice(WATERMARK_PREFIX.syncrepl.length);
  let refreshing = true;
  const search = connection.search({
    baseDN: directory.settings.baseDN,
    scope: 'sub',
    filter: mapper.typeFilter(),
    attributes: ['1.1'],
    controls: [syncRequestControl('refreshAndPersist', cookie)],
    persistent: true,
  });
  const stop = () => search.abandon();
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const message of search) {
      if (message.type === 'intermediate' && message.value) {
        const info = syncInfo(message.value);
        if ((info.kind === 'refreshDelete' || info.kind === 'refreshPresent') && info.refreshDone)
          refreshing = false;
        else if (!refreshing && info.kind === 'syncIdSet') notify();
      } else if (message.type === 'entry') {
        // entries in the refresh phase changed after the cookie was taken: news as well
        notify();
      } else if (message.type === 'done') {
        throw new Error(
          `the persistent search ended: result ${message.result.resultCode} ${message.result.diagnosticMessage}`,
        );
      }
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

async function poll(
  connector: Watched,
  connection: LdapConnection,
  mode: string,
  signal: AbortSignal,
  notify: () => void,
): Promise<void> {
  const directory = connector.directory;
  const interval = directory.settings.watchIntervalMs;
  const mapper = await connector.mapper(connection);
  let probe: () => Promise<string | boolean>;
  if (mode === 'dirsync') {
    const nc = await namingContext(directory, connection);
    let cookie: Buffer | undefined;
    // a DirSync pass returns only what changed since the cookie: any entry at all is news
    probe = async () => {
      let changed = false;
      const initial = cookie === undefined;
      for (let more = true; more; ) {
        let response: ReturnType<typeof dirSyncResponse>;
        for await (const message of connection.search({
          baseDN: nc,
          scope: 'sub',
          filter: mapper.typeFilter(),
          // the first pass only takes a cookie; later ones ask for what an import reads, or changes to it go unseen
          attributes: initial ? ['objectGUID'] : dirSyncAttributes(mapper),
          binary: mapper.isBinary,
          controls: [dirSyncControl(DIRSYNC_FLAGS.incrementalValues, 1024 * 1024, cookie)],
        })) {
          if (message.type === 'entry') changed = true;
          if (message.type === 'done') response = dirSyncResponse(message.result.controls);
        }
        cookie = response?.cookie;
        more = Boolean(response?.more);
      }
      return changed && !initial;
    };
  } else if (mode === 'usnchanged') {
    probe = async () =>
      (await directory.rootDseValues(connection, ['highestCommittedUSN'])).highestCommittedUSN ?? '';
  } else {
    const bases = [directory.settings.baseDN, directory.settings.accesslogBase];
    probe = async () => {
      const csns: string[] = [];
      for (const base of bases) {
        const [entry] = await connection
          .searchAll({
            baseDN: base,
            scope: 'base',
            filter: new PresenceFilter({ attribute: 'objectClass' }),
            attributes: ['contextCSN'],
          })
          .catch(() => []);
        csns.push(...(entry?.attributes[0]?.values.map(String) ?? []));
      }
      return csns.sort().join(';');
    };
  }
  let last = await probe();
  while (!signal.aborted) {
    await sleep(interval, signal);
    if (signal.aborted) return;
    const now = await probe();
    if (now === true || (typeof now === 'string' && now !== last)) notify();
    if (typeof now === 'string') last = now;
  }
  void last;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
