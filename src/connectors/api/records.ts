/**
 * The records HR systems pushed, in the connector's own SQLite file: the endpoint writes them (one
 * transaction per request, committed before it answers 202), the connector imports them. Each change takes
 * the next number of the file's sequence, so a delta import reads what changed since its watermark, as the
 * built-in directory's change sequence does. A deleted record stays as a tombstone so a delta import sees it.
 *
 * One handle per file and process (openRecordStore): the server's writes reach the connector's watch() at once;
 * writes by another process are noticed through SQLite's data_version within a second.
 */
import Database from 'better-sqlite3';
import type { Attributes } from '../../core/values.js';
import { preparePrivateFile } from '../../core/files.js';

export interface StoredRecord {
  anchor: string;
  attributes: Attributes;
  deleted: boolean;
  seq: number;
}

/** What applying one record did to the store. */
export type RecordOutcome =
  | { status: 'created' | 'updated'; seq: number }
  | { status: 'deleted'; seq: number }
  | { status: 'skipped'; reason: string };

/** One valid operation, ready to apply. */
export type RecordWrite =
  | {
      op: 'upsert';
      anchor: string;
      attributes: Attributes;
      /** flat-name prefixes the record sent (its top-level attributes): their old values are replaced */
      touched: string[];
    }
  | { op: 'delete'; anchor: string };

export interface StoredRequest {
  id: string;
  connector: string;
  received: string;
  caller: string;
  results: unknown[];
}

export class RecordStore {
  private readonly db: Database.Database;
  private readonly listeners = new Set<(seq: number) => void>();
  private readonly stmts;

  constructor(readonly path: string) {
    preparePrivateFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // an acknowledged push must survive a power cut, not only a killed process
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS records (anchor TEXT PRIMARY KEY, attributes TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL, updated TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS records_seq ON records (seq);
      CREATE TABLE IF NOT EXISTS requests (id TEXT PRIMARY KEY, connector TEXT NOT NULL, received TEXT NOT NULL, caller TEXT NOT NULL, results TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS requests_received ON requests (received);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.stmts = {
      get: this.db.prepare('SELECT anchor, attributes, deleted, seq FROM records WHERE anchor = ?'),
      put: this.db.prepare(
        'INSERT INTO records (anchor, attributes, deleted, seq, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT (anchor) DO UPDATE SET attributes = excluded.attributes, deleted = excluded.deleted, seq = excluded.seq, updated = excluded.updated',
      ),
      seq: this.db.prepare("SELECT value FROM meta WHERE key = 'seq'").pluck(),
      setSeq: this.db.prepare("INSERT INTO meta (key, value) VALUES ('seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      list: this.db.prepare('SELECT anchor, attributes, deleted, seq FROM records WHERE deleted = 0 AND anchor > ? ORDER BY anchor LIMIT ?'),
      since: this.db.prepare('SELECT anchor, attributes, deleted, seq FROM records WHERE seq > ? ORDER BY seq LIMIT ?'),
      putRequest: this.db.prepare('INSERT INTO requests (id, connector, received, caller, results) VALUES (?, ?, ?, ?, ?)'),
      getRequest: this.db.prepare('SELECT id, connector, received, caller, results FROM requests WHERE id = ? AND connector = ?'),
      prune: this.db.prepare('DELETE FROM requests WHERE received < ?'),
      count: this.db.prepare('SELECT count(*) FROM records WHERE deleted = 0').pluck(),
    };
  }

  currentSequence(): number {
    return Number(this.stmts.seq.get() ?? 0);
  }

  /** changes whenever any connection (this process or another) commits to the file */
  dataVersion(): number {
    return Number(this.db.pragma('data_version', { simple: true }));
  }

  count(): number {
    return Number(this.stmts.count.get());
  }

  get(anchor: string): StoredRecord | undefined {
    const row = this.stmts.get.get(anchor) as Row | undefined;
    return row && toRecord(row);
  }

  /**
   * Applies the writes of one request and records the request with its per-operation results, in one
   * transaction: when this returns, all of it is on disk. `results` gets each write's outcome by index.
   */
  apply(
    request: { id: string; connector: string; received: string; caller: string },
    writes: { index: number; write: RecordWrite }[],
    results: (outcome: RecordOutcome, index: number) => void,
    finish: () => unknown[],
  ): void {
    let changed = false;
    this.db.transaction(() => {
      let seq = this.currentSequence();
      for (const { index, write } of writes) {
        const before = this.get(write.anchor);
        const outcome = this.applyOne(before, write, () => ++seq, request.received);
        if (outcome.status !== 'skipped') changed = true;
        results(outcome, index);
      }
      this.stmts.setSeq.run(seq);
      this.stmts.putRequest.run(request.id, request.connector, request.received, request.caller, JSON.stringify(finish()));
    })();
    if (changed) {
      const seq = this.currentSequence();
      for (const l of this.listeners) l(seq);
    }
  }

  private applyOne(before: StoredRecord | undefined, write: RecordWrite, next: () => number, at: string): RecordOutcome {
    if (write.op === 'delete') {
      if (!before || before.deleted) return { status: 'skipped', reason: `no record with anchor ${write.anchor} to delete` };
      const seq = next();
      this.stmts.put.run(write.anchor, before.attributes === undefined ? '{}' : JSON.stringify(before.attributes), 1, seq, at);
      return { status: 'deleted', seq };
    }
    const live = before && !before.deleted ? before : undefined;
    const merged: Attributes = {};
    // Attributes the record did not send keep their values (Entra: a record with externalId, active and
    // department updates those three); an attribute it sent replaces every value under its name.
    if (live) {
      for (const [name, values] of Object.entries(live.attributes)) {
        if (!write.touched.some((t) => covers(t, name))) merged[name] = values;
      }
    }
    for (const [name, values] of Object.entries(write.attributes)) if (values.length > 0) merged[name] = values;
    if (live && canonical(merged) === canonical(live.attributes)) {
      return { status: 'skipped', reason: 'no change: every attribute sent equals what idsync holds for this record' };
    }
    const seq = next();
    this.stmts.put.run(write.anchor, JSON.stringify(merged), 0, seq, at);
    return { status: live ? 'updated' : 'created', seq };
  }

  /** Live records after `afterAnchor`, in anchor order (a full import's page). */
  list(afterAnchor: string, limit: number): StoredRecord[] {
    return (this.stmts.list.all(afterAnchor, limit) as Row[]).map(toRecord);
  }

  /** Records (tombstones included) changed after `seq`, in sequence order (a delta import's page). */
  changesSince(seq: number, limit: number): StoredRecord[] {
    return (this.stmts.since.all(seq, limit) as Row[]).map(toRecord);
  }

  request(connector: string, id: string): StoredRequest | undefined {
    const row = this.stmts.getRequest.get(id, connector) as
      | { id: string; connector: string; received: string; caller: string; results: string }
      | undefined;
    return row && { ...row, results: JSON.parse(row.results) as unknown[] };
  }

  /** Removes the results of requests received before `before` (ISO time). */
  pruneRequests(before: string): number {
    return this.stmts.prune.run(before).changes;
  }

  onChange(listener: (seq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.db.close();
  }
}

interface Row {
  anchor: string;
  attributes: string;
  deleted: number;
  seq: number;
}

function toRecord(row: Row): StoredRecord {
  return { anchor: row.anchor, attributes: JSON.parse(row.attributes) as Attributes, deleted: row.deleted === 1, seq: row.seq };
}

/** Whether the flat name belongs to the top-level attribute `prefix` (name, name.givenName, emails[type eq "work"].value). */
export function covers(prefix: string, name: string): boolean {
  const p = prefix.toLowerCase();
  const n = name.toLowerCase();
  return n === p || n.startsWith(`${p}.`) || n.startsWith(`${p}[`);
}

function canonical(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}

// ---- one handle per file and process ---------------------------------------------------------------------

const open = new Map<string, { store: RecordStore; users: number }>();

export interface SharedRecordStore {
  store: RecordStore;
  release(): void;
}

export function openRecordStore(path: string): SharedRecordStore {
  let entry = open.get(path);
  if (!entry) {
    entry = { store: new RecordStore(path), users: 0 };
    open.set(path, entry);
  }
  entry.users++;
  const e = entry;
  let released = false;
  return {
    store: e.store,
    release() {
      if (released) return;
      released = true;
      if (--e.users === 0) {
        open.delete(path);
        e.store.close();
      }
    },
  };
}
