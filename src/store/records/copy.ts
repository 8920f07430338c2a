/**
 * Moving the record components (tokens, agents, accounts) with the state (`idsync state migrate`, ../copy.ts
 * moves the engine's tables): each component's tables copied in one transaction of the target, then both
 * sides read again and compared table by table, by row count and a SHA-256 of the rows. The rows' lines are
 * sorted before hashing: SQLite orders account names without case (NOCASE), PostgreSQL byte-wise.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ACCOUNTS_COMPONENT } from '../accounts.js';
import { AGENTS_COMPONENT } from '../agents.js';
import { StoreError } from '../errors.js';
import type { Executor } from '../sql/executor.js';
import type { CopiedTable } from '../copy.js';
import { TOKENS_COMPONENT } from '../tokens.js';
import type { RecordComponent, RecordDb } from './db.js';
import { openRecordDb, type RecordLocation, recordFile } from './open.js';

export const RECORD_COMPONENTS: RecordComponent[] = [TOKENS_COMPONENT, AGENTS_COMPONENT, ACCOUNTS_COMPONENT];

type Table = RecordComponent['tables'][number];

const PAGE = 500;

/** the name a copied table is reported by: its component and its PostgreSQL name */
const label = (component: RecordComponent, table: Table) => `${component.name}.${table.pgName ?? table.name}`;

/** The components whose source and target are the same SQLite file (a copy of state.db into its own folder): left alone. */
function sameFiles(from: RecordLocation, to: RecordLocation, component: RecordComponent): boolean {
  return (
    from.stateUrl === undefined &&
    to.stateUrl === undefined &&
    resolve(recordFile(from, component)) === resolve(recordFile(to, component))
  );
}

async function withDb<T>(
  location: RecordLocation,
  component: RecordComponent,
  fn: (db: RecordDb | undefined) => Promise<T>,
): Promise<T> {
  // a SQLite source without its file holds nothing: it is not made by reading it
  if (location.stateUrl === undefined && !existsSync(recordFile(location, component))) return fn(undefined);
  const db = await openRecordDb(location, component);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The record tables of `to` that hold rows (a copy refuses them without --force). */
export async function filledRecordTables(to: RecordLocation, from: RecordLocation): Promise<string[]> {
  const filled: string[] = [];
  for (const component of RECORD_COMPONENTS) {
    if (sameFiles(from, to, component)) continue;
    await withDb(to, component, async (db) => {
      if (!db) return;
      for (const table of component.tables) {
        if ((await db.exec.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${db.table(table)}`))!.n > 0)
          filled.push(label(component, table));
      }
    });
  }
  return filled;
}

/** Copies every component from `from` to `to` (emptying the target's tables first) and verifies the copy. */
export async function copyRecords(
  from: RecordLocation,
  to: RecordLocation,
  names: { from: string; to: string },
): Promise<CopiedTable[]> {
  const tables: CopiedTable[] = [];
  const mismatched: string[] = [];
  for (const component of RECORD_COMPONENTS) {
    if (sameFiles(from, to, component)) continue;
    await withDb(from, component, async (source) => {
      const target = await openRecordDb(to, component);
      try {
        await target.transaction(async (tx) => {
          for (const table of [...component.tables].reverse())
            await tx.run(`DELETE FROM ${target.table(table)}`);
          for (const table of component.tables) {
            if (source)
              for await (const page of pages(source.exec, source.table(table), table))
                await writeRows(tx, target.table(table), table, page);
            if (table.identity && target.dialect.name === 'postgres') {
              const name = target.table(table);
              await tx.run(
                `SELECT setval(pg_get_serial_sequence('${name}', '${table.identity}'), COALESCE(MAX(${table.identity}), 0) + 1, false) FROM ${name}`,
              );
            }
          }
        });
        for (const table of component.tables) {
          const a = source
            ? await digest(source.exec, source.table(table), table)
            : { rows: 0, sha256: emptyDigest() };
          const b = await digest(target.exec, target.table(table), table);
          if (a.rows !== b.rows || a.sha256 !== b.sha256) {
            mismatched.push(
              `${label(component, table)} (${a.rows} rows read, ${b.rows} written${a.rows === b.rows ? ', different content' : ''})`,
            );
          }
          tables.push({ table: label(component, table), ...a });
        }
      } finally {
        await target.close();
      }
    });
  }
  if (mismatched.length > 0) {
    throw new StoreError(
      'STATE_COPY_MISMATCH',
      `the copy in ${names.to} differs from ${names.from}: ${mismatched.join('; ')}`,
    );
  }
  return tables;
}

async function* pages(db: Executor, name: string, table: Table): AsyncGenerator<unknown[][]> {
  const key = table.key.join(', ');
  const keyAt = table.key.map((k) => table.columns.indexOf(k));
  for (let after: unknown[] | null = null; ; ) {
    const where: string = after ? `WHERE (${key}) > (${table.key.map(() => '?').join(', ')})` : '';
    const rows: Record<string, unknown>[] = await db.all<Record<string, unknown>>(
      `SELECT ${table.columns.join(', ')} FROM ${name} ${where} ORDER BY ${key} LIMIT ?`,
      [...(after ?? []), PAGE],
    );
    if (rows.length === 0) return;
    const page: unknown[][] = rows.map((r) => table.columns.map((c) => r[c] ?? null));
    yield page;
    const last: unknown[] = page[page.length - 1]!;
    after = keyAt.map((i) => last[i]);
  }
}

async function writeRows(db: Executor, name: string, table: Table, rows: unknown[][]): Promise<void> {
  const row = `(${table.columns.map(() => '?').join(', ')})`;
  await db.run(
    `INSERT INTO ${name} (${table.columns.join(', ')}) VALUES ${rows.map(() => row).join(', ')}`,
    rows.flat(),
  );
}

function emptyDigest(): string {
  return createHash('sha256').digest('hex');
}

async function digest(db: Executor, name: string, table: Table): Promise<{ rows: number; sha256: string }> {
  const lines: string[] = [];
  for await (const page of pages(db, name, table)) {
    for (const row of page)
      lines.push(JSON.stringify(row.map((v) => (Buffer.isBuffer(v) ? { hex: v.toString('hex') } : v))));
  }
  lines.sort();
  const hash = createHash('sha256');
  for (const line of lines) hash.update(`${line}\n`);
  return { rows: lines.length, sha256: hash.digest('hex') };
}
