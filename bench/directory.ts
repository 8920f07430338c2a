/**
 * The built-in directory through its connector: 100,000 user creates and 2,000 groups (200,000 memberships)
 * exported in batches, then a full import and delta imports.
 *
 * Reference, measured in the same run on the same disk: the same user rows inserted with one prepared
 * statement into a bare table (id primary key + JSON), and read back with JSON.parse. That is the floor the
 * directory's indexes, validation and change log are paid on top of.
 *
 *   node --import tsx bench/directory.ts [users=100000] [groups=2000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { builtinConnectorFactory } from '../src/connectors/builtin/index.js';
import type { Connector, ExportChange, ImportPage } from '../src/connectors/contract.js';
import { newId } from '../src/directory/ids.js';
import { openSharedDirectory } from '../src/directory/index.js';

const USERS = Number(process.argv[2] ?? 100_000);
const GROUPS = Number(process.argv[3] ?? 2_000);
const BATCH = 1000;
const MEMBERSHIPS_PER_USER = 2;

function machine(): string {
  const cpu = cpus();
  return [
    `cores: ${cpu.length}`,
    `cpu: ${cpu[0]?.model ?? 'unknown'}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free)`,
    `node: ${process.version}`,
    `sqlite: ${(new Database(':memory:').prepare('select sqlite_version() v').get() as { v: string }).v}`,
  ].join(', ');
}

function userAttributes(i: number) {
  return {
    userName: [`user${i}@example.com`],
    displayName: [`User ${i}`],
    givenName: [`Given${i}`],
    familyName: [`Family${i % 1000}`],
    email: [`user${i}@example.com`],
    department: [`Department ${i % 50}`],
    title: [`Title ${i % 20}`],
    employeeNumber: [String(100000 + i)],
    externalId: [`E${i}`],
    active: [true],
  };
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en')}/s`;
}

function line(label: string, count: number, ms: number, reference?: number): void {
  const versus = reference
    ? `  (${((((count / ms) * 1000) / reference) * 100).toFixed(0)}% of reference)`
    : '';
  console.log(
    `${label.padEnd(44)} ${String(count).padStart(7)} in ${ms.toFixed(0).padStart(6)} ms  ${rate(count, ms).padStart(10)}${versus}`,
  );
}

function referenceRun(dir: string): {
  insertRate: number;
  readRate: number;
  insertMs: number;
  readMs: number;
} {
  const db = new Database(join(dir, 'reference.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, attributes TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (id, attributes) VALUES (?, ?)');
  let start = performance.now();
  for (let b = 0; b < USERS; b += BATCH) {
    db.transaction(() => {
      for (let i = b; i < Math.min(USERS, b + BATCH); i++)
        insert.run(newId(), JSON.stringify(userAttributes(i)));
    })();
  }
  const insertMs = performance.now() - start;
  start = performance.now();
  const select = db.prepare('SELECT id, attributes FROM t WHERE id > ? ORDER BY id LIMIT ?');
  let after = '';
  let read = 0;
  for (;;) {
    const rows = select.all(after, BATCH) as { id: string; attributes: string }[];
    if (rows.length === 0) break;
    for (const row of rows) JSON.parse(row.attributes);
    read += rows.length;
    after = rows[rows.length - 1]!.id;
  }
  const readMs = performance.now() - start;
  db.close();
  return { insertRate: (USERS / insertMs) * 1000, readRate: (read / readMs) * 1000, insertMs, readMs };
}

async function exportBatch(connector: Connector, changes: ExportChange[]): Promise<string[]> {
  const anchors: string[] = [];
  for await (const result of connector.export!(changes)) {
    if (!result.ok) throw new Error(`${result.id}: ${result.error.code} ${result.error.message}`);
    anchors.push(result.anchor!);
  }
  return anchors;
}

async function drain(connector: Connector, mode: 'full' | 'delta', watermark: string | null) {
  let count = 0;
  let last: string | null | undefined = watermark;
  for await (const page of connector.import({
    mode,
    watermark,
    pageSize: BATCH,
  }) as AsyncIterable<ImportPage>) {
    count += page.changes.length;
    if (page.watermark !== undefined) last = page.watermark;
  }
  return { count, watermark: last ?? null };
}

async function main(): Promise<void> {
  console.log(`machine: ${machine()}`);
  console.log(
    `scenario: ${USERS} users, ${GROUPS} groups, ${USERS * MEMBERSHIPS_PER_USER} memberships, batches of ${BATCH}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'idsync-bench-directory-'));
  try {
    const reference = referenceRun(dir);
    line('reference: bare-table inserts', USERS, reference.insertMs);
    line('reference: bare-table keyset read + JSON.parse', USERS, reference.readMs);

    const log = { debug() {}, info() {}, warn() {} };
    const connector = builtinConnectorFactory.create('directory', {}, { configDir: dir, stateDir: dir, log });

    let start = performance.now();
    const userIds: string[] = [];
    for (let b = 0; b < USERS; b += BATCH) {
      const changes: ExportChange[] = [];
      for (let i = b; i < Math.min(USERS, b + BATCH); i++) {
        changes.push({ op: 'create', id: `u${i}`, objectType: 'user', attributes: userAttributes(i) });
      }
      userIds.push(...(await exportBatch(connector, changes)));
    }
    line('export: user creates', USERS, performance.now() - start, reference.insertRate);

    start = performance.now();
    const groupIds: string[] = [];
    for (let b = 0; b < GROUPS; b += BATCH) {
      const changes: ExportChange[] = [];
      for (let g = b; g < Math.min(GROUPS, b + BATCH); g++) {
        changes.push({
          op: 'create',
          id: `g${g}`,
          objectType: 'group',
          attributes: { displayName: [`Group ${g}`] },
        });
      }
      groupIds.push(...(await exportBatch(connector, changes)));
    }
    // members as the engine sends them: updates adding members, one per group, in batches
    const members = new Map<string, string[]>();
    userIds.forEach((id, i) => {
      for (let k = 0; k < MEMBERSHIPS_PER_USER; k++) {
        const group = groupIds[(i * MEMBERSHIPS_PER_USER + k) % groupIds.length]!;
        if (!members.has(group)) members.set(group, []);
        members.get(group)!.push(id);
      }
    });
    const updates: ExportChange[] = [...members].map(([group, ids], n) => ({
      op: 'update',
      id: `m${n}`,
      objectType: 'group',
      anchor: group,
      changes: { members: { add: ids.map((ref) => ({ ref })) } },
    }));
    for (let b = 0; b < updates.length; b += 100) await exportBatch(connector, updates.slice(b, b + 100));
    const groupMs = performance.now() - start;
    line('export: group creates + member adds', USERS * MEMBERSHIPS_PER_USER, groupMs);

    start = performance.now();
    const full = await drain(connector, 'full', null);
    line(
      'import: full (users + groups with members)',
      full.count,
      performance.now() - start,
      reference.readRate,
    );

    start = performance.now();
    const none = await drain(connector, 'delta', full.watermark);
    line('import: delta with no change', none.count, performance.now() - start);

    const { directory, release } = openSharedDirectory(join(dir, 'directory.db'));
    directory.transaction(() => {
      for (let i = 0; i < 1000; i++)
        directory.update(userIds[(i * 97) % userIds.length]!, { title: { replace: [`Changed ${i}`] } });
      directory.addMembers(groupIds[0]!, userIds.slice(-100));
    });
    release();
    start = performance.now();
    const some = await drain(connector, 'delta', none.watermark);
    line('import: delta after 1,000 updates + 100 adds', some.count, performance.now() - start);

    await connector.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
