/**
 * SQL connector benchmark: a full import of 100,000 rows from PostgreSQL and from MariaDB through the
 * connector, beside a plain SELECT of the same rows through the same driver in the same run, and delta imports
 * of 1,000 changes (watermark column and trigger-fed change log).
 *
 *   node --import tsx bench/sql.ts            (servers from scripts/test-servers.d/sql.sh)
 *   ROWS=20000 node --import tsx bench/sql.ts
 */
import { cpus, freemem, totalmem } from 'node:os';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Connector, ImportRequest } from '../src/connectors/contract.js';
import { sqlConnectorFactory, triggerDdl } from '../src/connectors/sql/index.js';

const ROWS = Number(process.env.ROWS ?? 100_000);
const CHANGES = 1_000;
const PAGE = Number(process.env.PAGE ?? 1000);
const RUNS = 5;
const DB = `idsync_bench_${process.pid}`;

const context = { configDir: process.cwd(), stateDir: '/tmp', log: { debug() {}, info() {}, warn() {} } };

function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(freemem() / 2 ** 30).toFixed(1)} free), node ${process.version}`;
}

async function best(fn: () => Promise<number>): Promise<{ ms: number; count: number }> {
  let ms = Number.POSITIVE_INFINITY;
  let count = 0;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    count = await fn();
    ms = Math.min(ms, performance.now() - start);
  }
  return { ms, count };
}

async function drain(
  connector: Connector,
  request: Partial<ImportRequest>,
): Promise<{ count: number; watermark: string | null }> {
  let count = 0;
  let watermark: string | null = null;
  for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: PAGE, ...request })) {
    count += page.changes.length;
    if (page.watermark !== undefined) watermark = page.watermark;
  }
  return { count, watermark };
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')} rows/s`;
}

interface Server {
  driver: 'postgres' | 'mysql';
  connection: Record<string, unknown>;
  exec(sql: string): Promise<void>;
  plainSelect(): Promise<number>;
  close(): Promise<void>;
}

async function postgres(): Promise<Server> {
  const admin = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  const client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: DB });
  await client.connect();
  await client.query(`CREATE TABLE users (id INT PRIMARY KEY, login VARCHAR(100) NOT NULL, name VARCHAR(200), email VARCHAR(200),
    active BOOLEAN NOT NULL, hired TIMESTAMP(6), updated_at TIMESTAMP(6) NOT NULL)`);
  await client.query(`INSERT INTO users SELECT n, 'user' || n, 'User ' || n, 'user' || n || '@example.test', n % 7 <> 0,
    timestamp '2020-01-01' + n * interval '1 minute', clock_timestamp() - interval '1 hour' FROM generate_series(1, ${ROWS}) n`);
  await client.query('ANALYZE users');
  return {
    driver: 'postgres',
    connection: { driver: 'postgres', host: '127.0.0.1', user: 'postgres', database: DB },
    exec: async (sql) => void (await client.query(sql)),
    plainSelect: async () => (await client.query('SELECT * FROM users')).rows.length,
    async close() {
      await client.end();
      const a = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' });
      await a.connect();
      await a.query(`DROP DATABASE ${DB} WITH (FORCE)`);
      await a.end();
    },
  };
}

async function mariadb(): Promise<Server> {
  const admin = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    user: 'root',
    database: DB,
    multipleStatements: true,
    dateStrings: true,
  });
  await conn.query("SET time_zone = '+00:00'");
  await conn.query(`CREATE TABLE users (id INT PRIMARY KEY, login VARCHAR(100) NOT NULL, name VARCHAR(200), email VARCHAR(200),
    active BOOLEAN NOT NULL, hired DATETIME(6), updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB`);
  await conn.query(`INSERT INTO users SELECT seq, CONCAT('user', seq), CONCAT('User ', seq), CONCAT('user', seq, '@example.test'),
    seq % 7 <> 0, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq MINUTE, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR FROM seq_1_to_${ROWS}`);
  return {
    driver: 'mysql',
    connection: { driver: 'mysql', host: '127.0.0.1', user: 'root', password: '', database: DB },
    exec: async (sql) => void (await conn.query(sql)),
    plainSelect: async () => ((await conn.query('SELECT * FROM users'))[0] as unknown[]).length,
    async close() {
      await conn.query(`DROP DATABASE ${DB}`);
      await conn.end();
    },
  };
}

async function bench(server: Server): Promise<void> {
  const now = server.driver === 'postgres' ? 'clock_timestamp()' : 'UTC_TIMESTAMP(6)';
  const objectTypes = (delta: unknown) => ({ person: { table: 'users', anchor: 'id', delta } });
  const settings = (delta: unknown) =>
    sqlConnectorFactory.settings.parse({ ...server.connection, objectTypes: objectTypes(delta) });
  const watermarkConnector = sqlConnectorFactory.create(
    'bench',
    settings({ mode: 'watermark', column: 'updated_at' }),
    context,
  );
  const changelogConnector = sqlConnectorFactory.create('bench', settings({ mode: 'changelog' }), context);
  try {
    await server.plainSelect(); // warm the cache
    const plain = await best(() => server.plainSelect());
    const full = await best(async () => (await drain(watermarkConnector, { mode: 'full' })).count);
    if (full.count !== ROWS || plain.count !== ROWS)
      throw new Error(`row counts: connector ${full.count}, plain ${plain.count}`);
    const ratio = plain.ms / full.ms;
    console.log(
      `${server.driver}: plain SELECT * of ${ROWS.toLocaleString('en-US')} rows   ${plain.ms.toFixed(0)} ms  ${rate(ROWS, plain.ms)}`,
    );
    console.log(
      `${server.driver}: connector full import (page ${PAGE})   ${full.ms.toFixed(0)} ms  ${rate(ROWS, full.ms)}  = ${(ratio * 100).toFixed(1)}% of plain SELECT ${ratio >= 0.5 ? '(target >= 50%: met)' : '(target >= 50%: NOT met)'}`,
    );

    // watermark column: 1,000 rows change after the full import
    const { watermark } = await drain(watermarkConnector, { mode: 'full' });
    await server.exec(
      `UPDATE users SET name = CONCAT('changed ', id), updated_at = ${now} WHERE id % ${Math.floor(ROWS / CHANGES)} = 0`,
    );
    let start = performance.now();
    const delta = await drain(watermarkConnector, { mode: 'delta', watermark });
    let ms = performance.now() - start;
    console.log(`${server.driver}: delta (watermark column) of ${delta.count} changes   ${ms.toFixed(0)} ms`);
    start = performance.now();
    const empty = await drain(watermarkConnector, { mode: 'delta', watermark: delta.watermark });
    ms = performance.now() - start;
    console.log(
      `${server.driver}: delta (watermark column) with no change   ${ms.toFixed(0)} ms (${empty.count} changes)`,
    );

    // change log: the trigger DDL applied, then 1,000 rows change
    await server.exec(triggerDdl({ ...server.connection, objectTypes: objectTypes({ mode: 'changelog' }) }));
    const logged = await drain(changelogConnector, { mode: 'full' });
    await server.exec(
      `UPDATE users SET name = CONCAT('again ', id) WHERE id % ${Math.floor(ROWS / CHANGES)} = 1`,
    );
    start = performance.now();
    const logDelta = await drain(changelogConnector, { mode: 'delta', watermark: logged.watermark });
    ms = performance.now() - start;
    console.log(`${server.driver}: delta (change log) of ${logDelta.count} changes   ${ms.toFixed(0)} ms`);
  } finally {
    await watermarkConnector.close();
    await changelogConnector.close();
  }
}

console.log(`machine: ${machine()}`);
console.log(`rows: ${ROWS.toLocaleString('en-US')}, best of ${RUNS} runs for full imports\n`);
for (const open of [postgres, mariadb]) {
  const server = await open();
  try {
    await bench(server);
  } finally {
    await server.close();
  }
  console.log('');
}
