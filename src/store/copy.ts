/**
 * Moving a state between stores (`idsync state migrate`): every table copied in key order, a page at a time,
 * in one transaction of the target; then both sides read again and compared, table by table, by row count
 * and a SHA-256 of the rows. Both states are held under their cycle lease meanwhile, so no cycle writes to
 * either. A target that holds a state already is refused unless `force` (its tables are then emptied first,
 * in the same transaction).
 */
import { createHash } from 'node:crypto';
import { StoreError } from './errors.js';
import { describeHolder, holderGone, thisProcess } from './lease.js';
import type { SqlStore } from './sql/store.js';
import { TABLES, type TableSpec } from './sql/tables.js';

const PAGE = 500;

export interface CopiedTable {
  table: string;
  rows: number;
  /** SHA-256 of the rows in key order, the same on both sides */
  sha256: string;
}

export interface CopyReport {
  tables: CopiedTable[];
  rows: number;
  durationMs: number;
}

export async function copyState(source: SqlStore, target: SqlStore, options: { force?: boolean; from: string; to: string }): Promise<CopyReport> {
  const started = Date.now();
  const me = thisProcess('idsync state migrate');
  const held: SqlStore[] = [];
  try {
    for (const [store, where] of [[source, options.from], [target, options.to]] as const) {
      const holder = await store.acquireLease(me, (h) => holderGone(h));
      if (holder) {
        throw new StoreError('STATE_BUSY', `the state in ${where} is in use by ${describeHolder(holder)}: stop it before moving the state`);
      }
      held.push(store);
    }
    const filled = [];
    for (const table of TABLES) {
      // a new state has its schema version recorded and nothing else
      const rows = table.name === 'meta' ? (await target.readRows(table, null, 2)).filter((r) => r[0] !== 'schema').length : await target.countRows(table);
      if (rows > 0) filled.push(table.name);
    }
    if (filled.length > 0 && !options.force) {
      throw new StoreError(
        'STATE_TARGET_NOT_EMPTY',
        `${options.to} holds a state already (rows in ${filled.join(', ')}): give --force to replace it, or name an empty database`,
      );
    }
    await copyRows(source, target);
    const tables: CopiedTable[] = [];
    const mismatched: string[] = [];
    for (const table of TABLES) {
      const [from, to] = [await digest(source, table), await digest(target, table)];
      if (from.rows !== to.rows || from.sha256 !== to.sha256) {
        mismatched.push(`${table.name} (${from.rows} rows read, ${to.rows} written${from.rows === to.rows ? ', different content' : ''})`);
      }
      tables.push({ table: table.name, ...from });
    }
    if (mismatched.length > 0) {
      throw new StoreError('STATE_COPY_MISMATCH', `the copy in ${options.to} differs from ${options.from}: ${mismatched.join('; ')}`);
    }
    return { tables, rows: tables.reduce((n, t) => n + t.rows, 0), durationMs: Date.now() - started };
  } finally {
    for (const store of held) await store.releaseLease(me.owner).catch(() => {});
  }
}

/**
 * Every table of `source` written into `target` in one transaction of the target, its own rows removed
 * first. Takes no lease: the caller keeps writers away (copyState holds both leases; the engine's
 * snapshot runs in its queue of operations, so no cycle of its process writes meanwhile).
 */
export async function copyRows(source: SqlStore, target: SqlStore): Promise<void> {
  await target.transaction(async () => {
    for (const table of [...TABLES].reverse()) await target.clearRows(table);
    for (const table of TABLES) {
      for await (const page of pages(source, table)) await target.writeRows(table, page);
      await target.rowsWritten(table);
    }
  });
}

async function* pages(store: SqlStore, table: TableSpec): AsyncGenerator<unknown[][]> {
  const keyAt = table.key.map((k) => table.columns.indexOf(k));
  for (let after: unknown[] | null = null; ; ) {
    const rows = await store.readRows(table, after, PAGE);
    if (rows.length === 0) return;
    yield rows;
    const last = rows[rows.length - 1]!;
    after = keyAt.map((i) => last[i]);
  }
}

/** Each table's row count and SHA-256 (tests compare a state before and after something that must not write it). */
export async function stateDigest(store: SqlStore): Promise<CopiedTable[]> {
  const out: CopiedTable[] = [];
  for (const table of TABLES) out.push({ table: table.name, ...(await digest(store, table)) });
  return out;
}

async function digest(store: SqlStore, table: TableSpec): Promise<{ rows: number; sha256: string }> {
  const hash = createHash('sha256');
  let rows = 0;
  for await (const page of pages(store, table)) {
    for (const row of page) hash.update(`${JSON.stringify(row)}\n`);
    rows += page.length;
  }
  return { rows, sha256: hash.digest('hex') };
}
