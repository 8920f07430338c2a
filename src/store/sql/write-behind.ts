/**
 * Write-behind: inside a transaction, the writes the engine makes once per object (a new metaverse object and
 * its index rows, a link, a pending export, a confirmed state) are kept here and sent as one statement per
 * kind, set-based on PostgreSQL (`unnest`), a prepared loop on SQLite. The executor sends them before its next
 * statement of any other kind (so every read sees them) and the store before COMMIT; a rollback drops them.
 * A per-object store call then costs no round trip, and a page of them one per kind.
 *
 * Kinds go out in a fixed order (`Deferred.order`) that is safe for rows of different objects; for the same
 * object, the store sends what is kept before it defers a write whose order would put it out of sequence
 * (`touches`).
 */
import type { Param } from './executor.js';

/** A kind of deferred write: its statement (one row's on SQLite, a set-based one over arrays on PostgreSQL). */
export interface Deferred {
  readonly name: string;
  /** kinds go out in this order */
  readonly order: number;
  readonly sql: string;
  /** PostgreSQL: the array type of each column, for the set-based statement; SQLite: unused */
  readonly columns: readonly ('text' | 'bigint' | 'int')[];
}

export class WriteBehind {
  private groups = new Map<Deferred, Param[][]>();
  /** rows that a later write of the same key replaces (a link set twice keeps the last): key → its group and place */
  private merged = new Map<string, { rows: Param[][]; index: number }>();
  private touched = new Set<string>();

  get size(): number {
    return this.groups.size;
  }

  /** whether a write kept here concerns this object (e.g. `cs:12`, `pending:12`) */
  touches(key: string): boolean {
    return this.touched.has(key);
  }

  /**
   * Keeps one row of a kind. `key`: the object it concerns. `replaces`: a key under which a later row of the
   * same kind replaces this one (an UPDATE of one column, where the last value wins).
   */
  add(kind: Deferred, row: Param[], key?: string, replaces?: string): void {
    let rows = this.groups.get(kind);
    if (!rows) {
      rows = [];
      this.groups.set(kind, rows);
    }
    if (key !== undefined) this.touched.add(key);
    if (replaces !== undefined) {
      const mergeKey = `${kind.name}\0${replaces}`;
      const earlier = this.merged.get(mergeKey);
      if (earlier) {
        earlier.rows[earlier.index] = row;
        return;
      }
      this.merged.set(mergeKey, { rows, index: rows.length });
    }
    rows.push(row);
  }

  /** Everything kept, in the order to send it, and forgets it. */
  take(): [Deferred, Param[][]][] {
    const out = [...this.groups].sort((a, b) => a[0].order - b[0].order);
    this.clear();
    return out;
  }

  clear(): void {
    this.groups = new Map();
    this.merged = new Map();
    this.touched = new Set();
  }
}

/** rows → one array per column (PostgreSQL's unnest takes columns) */
export function columnsOf(rows: readonly Param[][], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const row of rows) for (let c = 0; c < width; c++) out[c]!.push(row[c]);
  return out;
}
