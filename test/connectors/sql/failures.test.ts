/**
 * What goes wrong: a connection killed in the middle of an import, a server that does not answer, identifiers
 * that need quoting, and statements the administrator supplies (bound, never concatenated).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../../src/core/errors.js';
import type { Connector, ImportPage } from '../../../src/connectors/contract.js';
import { sqlConnectorFactory } from '../../../src/connectors/sql/index.js';
import {
  collect,
  createTestDb,
  type Driver,
  exportAll,
  lastWatermark,
  makeConnector,
  silentContext,
  type TestDb,
  types,
} from './harness.js';

async function killOthers(db: TestDb): Promise<number> {
  if (db.driver === 'postgres') {
    const rows = await db.exec(
      'SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [db.name],
    );
    return rows.length;
  }
  const rows = await db.exec(
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
    [db.name],
  );
  for (const r of rows) await db.exec(`KILL CONNECTION ${Number(r.id)}`);
  return rows.length;
}

describe.each(['postgres', 'mysql'] as const)('a connection killed mid-import on %s', (driver) => {
  let db: TestDb;
  let connector: Connector;
  const t = types(driver);

  beforeAll(async () => {
    db = await createTestDb(driver);
    const engine = driver === 'mysql' ? ' ENGINE=InnoDB' : '';
    await db.exec(
      `CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(50) NOT NULL, updated_at ${t.naive} NOT NULL)${engine}`,
    );
    for (let i = 1; i <= 10; i++) await db.exec(`INSERT INTO items VALUES (${i}, 'item${i}', ${t.now})`);
    connector = makeConnector(db, {
      objectTypes: {
        item: {
          table: 'items',
          anchor: 'id',
          delta: { mode: 'watermark', column: 'updated_at', overlap: 60 },
        },
      },
    });
  });

  afterAll(async () => {
    await connector?.close();
    await db?.drop();
  });

  it('full import: the iterator throws a retryable ConnectorError and no watermark was yielded', async () => {
    const pages: ImportPage[] = [];
    let error: unknown;
    try {
      for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: 3 })) {
        pages.push(page);
        if (pages.length === 1) expect(await killOthers(db)).toBeGreaterThan(0);
      }
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'SQL_CONNECTION_LOST', retryable: true });
    // the page read ahead before the kill may still arrive; the rest cannot
    expect(pages.flatMap((p) => p.changes).length).toBeLessThan(10);
    expect(pages.every((p) => p.watermark === undefined)).toBe(true);
    // the pool recovers: the next run completes
    const again = await collect(connector, { mode: 'full', pageSize: 3 });
    expect(again.flatMap((p) => p.changes).length).toBe(10);
    expect(lastWatermark(again)).toBeTypeOf('string');
  });

  it('delta import: resuming from the last yielded watermark delivers exactly the rest', async () => {
    const start = lastWatermark(await collect(connector, { mode: 'full' }));
    for (let i = 1; i <= 8; i++)
      await db.exec(`UPDATE items SET label = 'changed${i}', updated_at = ${t.now} WHERE id = ${i}`);
    const delivered: string[] = [];
    let resumeFrom: string | null = start;
    let error: unknown;
    try {
      for await (const page of connector.import({ mode: 'delta', watermark: start, pageSize: 3 })) {
        for (const c of page.changes) if (c.kind === 'upsert') delivered.push(c.object.anchor);
        if (page.watermark !== undefined) resumeFrom = page.watermark;
        if (delivered.length >= 3) await killOthers(db);
      }
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'SQL_CONNECTION_LOST', retryable: true });
    // rows the full import already delivered are skipped, so the first pages may hold fewer than 3 changes
    expect(delivered.length).toBeGreaterThanOrEqual(3);
    expect(delivered.length).toBeLessThan(8);
    const rest = await collect(connector, { mode: 'delta', watermark: resumeFrom });
    const restAnchors = rest
      .flatMap((p) => p.changes)
      .flatMap((c) => (c.kind === 'upsert' ? [c.object.anchor] : []));
    expect([...delivered, ...restAnchors].sort((a, b) => Number(a) - Number(b))).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
    ]);
  });
});

describe('a server that does not answer', () => {
  it.each([
    ['postgres', { host: '127.0.0.1', port: 9, user: 'idsync', password: 'sekret-pw-123' }],
    ['mysql', { host: '127.0.0.1', port: 9, user: 'idsync', password: 'sekret-pw-123' }],
  ] as const)(
    '%s: test() throws a retryable error that names the connector and not the password',
    async (driver, conn) => {
      const settings = sqlConnectorFactory.settings.parse({
        driver,
        ...conn,
        connectTimeout: 2000,
        objectTypes: { item: { table: 'items', anchor: 'id' } },
      });
      const connector = sqlConnectorFactory.create('hr', settings, silentContext);
      try {
        const error = await connector.test().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(ConnectorError);
        expect(error).toMatchObject({ retryable: true, place: { connector: 'hr' } });
        expect(JSON.stringify(error)).not.toContain('sekret');
        expect((error as Error).message).not.toContain('sekret');
      } finally {
        await connector.close();
      }
    },
  );

  it('sqlite: a missing file is a clear, non-retryable error', async () => {
    const settings = sqlConnectorFactory.settings.parse({
      driver: 'sqlite',
      file: 'no/such/file.db',
      objectTypes: { item: { table: 'items', anchor: 'id' } },
    });
    const connector = sqlConnectorFactory.create('hr', settings, silentContext);
    await expect(connector.test()).rejects.toMatchObject({ code: 'SQL_OPEN_FAILED', retryable: false });
  });
});

describe('settings', () => {
  it('reject what cannot work, with the path of the problem', () => {
    const bad = sqlConnectorFactory.settings.safeParse({
      driver: 'postgres',
      objectTypes: {
        person: { table: 't', view: 'v', anchor: 'id' },
        group: {
          query: 'SELECT 1',
          anchor: 'id',
          references: { owner: { objectType: 'nobody' } },
          delta: { mode: 'changelog' },
        },
      },
    });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'host',
        'objectTypes.person',
        'objectTypes.group.references.owner',
        'objectTypes.group.delta',
      ]),
    );
    expect(
      sqlConnectorFactory.settings.safeParse({
        driver: 'sqlite',
        file: 'x',
        naiveTimeZone: 'Mars/Base',
        objectTypes: { a: { table: 't', anchor: 'id' } },
      }).success,
    ).toBe(false);
  });
});

describe.each(['postgres', 'mysql', 'sqlite'] as Driver[])(
  'identifiers and admin statements on %s',
  (driver) => {
    let db: TestDb;
    const q = (s: string) =>
      driver === 'mysql' ? `\`${s.replaceAll('`', '``')}\`` : `"${s.replaceAll('"', '""')}"`;
    const table = 'odd "name`s';
    const column = 'full name;--';

    beforeAll(async () => {
      db = await createTestDb(driver);
      const serial = types(driver).serial;
      await db.exec(
        `CREATE TABLE ${q(table)} (id ${serial}, login VARCHAR(50) NOT NULL UNIQUE, ${q(column)} VARCHAR(100))`,
      );
      if (driver === 'postgres') {
        await db.exec(
          `CREATE PROCEDURE rename_user(p_id INT, p_name TEXT) LANGUAGE sql AS $$ UPDATE ${q(table)} SET ${q(column)} = p_name WHERE id = p_id $$`,
        );
      }
      if (driver === 'mysql') {
        await db.exec(
          `CREATE PROCEDURE rename_user(IN p_id INT, IN p_name VARCHAR(100)) UPDATE ${q(table)} SET ${q(column)} = p_name WHERE id = p_id`,
        );
      }
    });

    afterAll(async () => db?.drop());

    it('quotes table and column names that contain quotes and SQL', async () => {
      const connector = makeConnector(db, {
        objectTypes: {
          person: { table, anchor: 'id', attributes: { id: 'id', login: 'login', [column]: 'name' } },
        },
      });
      try {
        const r = await exportAll(connector, [
          { op: 'create', id: 'c', objectType: 'person', attributes: { login: ['x'], name: ["O'Brien"] } },
        ]);
        expect(r.get('c')?.ok).toBe(true);
        const pages = await collect(connector, {});
        const objects = pages
          .flatMap((p) => p.changes)
          .flatMap((c) => (c.kind === 'upsert' ? [c.object] : []));
        expect(objects.map((o) => o.attributes.name)).toEqual([["O'Brien"]]);
      } finally {
        await connector.close();
      }
    });

    it('runs the statements and procedures the administrator supplies, with named parameters bound', async () => {
      const insert =
        driver === 'mysql'
          ? `INSERT INTO ${q(table)} (login, ${q(column)}) VALUES (:login, CONCAT(':not_a_param ', :name))`
          : `INSERT INTO ${q(table)} (login, ${q(column)}) VALUES (:login, ':not_a_param ' || :name) RETURNING id`;
      const update =
        driver === 'sqlite'
          ? `UPDATE ${q(table)} SET ${q(column)} = :name WHERE id = :anchor`
          : 'CALL rename_user(:anchor, :name)';
      const connector = makeConnector(db, {
        objectTypes: {
          person: {
            table,
            anchor: 'id',
            attributes: { id: 'id', login: 'login', [column]: 'name' },
            export: {
              create: insert,
              update,
              delete: `DELETE FROM ${q(table)} WHERE id = :anchor -- :ignored`,
            },
          },
        },
      });
      try {
        const created = await exportAll(connector, [
          {
            op: 'create',
            id: 'c',
            objectType: 'person',
            attributes: { login: ['stmt'], name: ["'); DROP TABLE x; --"] },
          },
        ]);
        const result = created.get('c')!;
        expect(result.ok).toBe(true);
        const anchor = result.ok ? result.anchor! : '';
        let [found] = await connector.lookup!('person', 'login', ['stmt']);
        expect(found?.anchor).toBe(anchor);
        expect(found?.attributes.name).toEqual([":not_a_param '); DROP TABLE x; --"]);
        const updated = await exportAll(connector, [
          {
            op: 'update',
            id: 'u',
            objectType: 'person',
            anchor,
            changes: { name: { replace: ['renamed'] } },
          },
        ]);
        expect(updated.get('u')?.ok).toBe(true);
        [found] = await connector.lookup!('person', 'login', ['stmt']);
        expect(found?.attributes.name).toEqual(['renamed']);
        const deleted = await exportAll(connector, [{ op: 'delete', id: 'd', objectType: 'person', anchor }]);
        expect(deleted.get('d')?.ok).toBe(true);
        expect(await connector.lookup!('person', 'login', ['stmt'])).toEqual([]);
      } finally {
        await connector.close();
      }
    });
  },
);
