/**
 * The SQL connector against real PostgreSQL and MariaDB servers and a SQLite file, through the connector
 * contract only: one suite, run once per driver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ConnectorObject, ImportChange } from '../../../src/connectors/contract.js';
import { connectorFactory } from '../../../src/connectors/registry.js';
import {
  collect,
  createTestDb,
  type Driver,
  exportAll,
  makeConnector,
  type TestDb,
  types,
  usersObjectType,
  usersSchema,
} from './harness.js';

const drivers: Driver[] = ['postgres', 'mysql', 'sqlite'];

function upserts(changes: ImportChange[]): ConnectorObject[] {
  return changes.flatMap((c) => (c.kind === 'upsert' ? [c.object] : []));
}

function allChanges(pages: { changes: ImportChange[] }[]): ImportChange[] {
  return pages.flatMap((p) => p.changes);
}

describe.each(drivers)('sql connector on %s', (driver) => {
  let db: TestDb;
  let connector: Connector;
  const t = types(driver);

  beforeAll(async () => {
    db = await createTestDb(driver);
    await db.exec(usersSchema(driver));
    connector = makeConnector(db, { objectTypes: { person: usersObjectType } });
  });

  afterAll(async () => {
    await connector?.close();
    await db?.drop();
  });

  it('is registered as type sql', () => {
    expect(connectorFactory('sql')).toBeDefined();
  });

  it('imports every type faithfully, page by page on the anchor', async () => {
    const aware = driver === 'postgres' ? '2024-01-02 05:04:05.5+02' : '2024-01-02 03:04:05.5';
    await db.exec(
      `INSERT INTO users (id, login, name, active, hired, seen_at, photo, big, score) VALUES (1, 'boss', 'The Boss', ${t.true}, '2024-01-02 03:04:05.123456', '${aware}', ${
        driver === 'postgres' ? "'\\x0001ff'::bytea" : "X'0001FF'"
      }, 9007199254740993, 12.50)`,
    );
    await db.exec(
      `INSERT INTO users (id, login, active, big, manager_id) VALUES (2, 'plain', ${t.false}, 42, 1)`,
    );
    for (let i = 3; i <= 5; i++)
      await db.exec(`INSERT INTO users (id, login, manager_id) VALUES (${i}, 'user${i}', 1)`);
    await db.exec(`INSERT INTO user_groups (user_id, grp) VALUES (1, 'admins'), (1, 'staff'), (2, 'staff')`);
    if (driver === 'postgres') await db.exec(`SELECT setval('users_id_seq', 100)`);

    const pages = await collect(connector, { pageSize: 2 });
    expect(pages.length).toBe(3);
    // the watermark comes only with the last page
    expect(pages.slice(0, -1).every((p) => p.watermark === undefined)).toBe(true);
    const objects = upserts(allChanges(pages));
    expect(objects.map((o) => o.anchor)).toEqual(['1', '2', '3', '4', '5']);
    const boss = objects[0]!;
    expect(boss.objectType).toBe('person');
    expect(boss.attributes.login).toEqual(['boss']);
    expect(boss.attributes.displayName).toEqual(['The Boss']);
    expect(boss.attributes.active).toEqual([true]);
    expect(boss.attributes.hired).toEqual(['2024-01-02T03:04:05.123456Z']);
    expect(boss.attributes.seenAt).toEqual(['2024-01-02T03:04:05.500Z']);
    expect(Buffer.from(boss.attributes.photo![0] as Uint8Array)).toEqual(Buffer.from([0, 1, 255]));
    expect(boss.attributes.photo![0]).toBeInstanceOf(Uint8Array);
    expect(boss.attributes.big).toEqual(['9007199254740993']);
    expect(boss.attributes.score).toEqual([12.5]);
    expect(boss.attributes.groups?.slice().sort()).toEqual(['admins', 'staff']);
    expect(boss.attributes.manager).toBeUndefined();
    const plain = objects[1]!;
    expect(plain.attributes.active).toEqual([false]);
    expect(plain.attributes.big).toEqual([42]);
    expect(plain.attributes.manager).toEqual([{ ref: '1' }]);
    expect(plain.attributes.groups).toEqual(['staff']);
    // NULL is no attribute at all
    expect(plain.attributes.displayName).toBeUndefined();
    expect(plain.attributes.hired).toBeUndefined();
    expect(plain.attributes.photo).toBeUndefined();
  });

  it('reports its schema from the database metadata', async () => {
    const schema = await connector.schema();
    const attrs = schema.objectTypes.person!.attributes;
    expect(attrs.active?.type).toBe('boolean');
    expect(attrs.hired?.type).toBe('date');
    expect(attrs.photo?.type).toBe('binary');
    expect(attrs.big?.type).toBe('number');
    expect(attrs.manager?.type).toBe('reference');
    expect(attrs.groups).toEqual({ type: 'string', multiValued: true });
  });

  it('exports what imports back unchanged, and returns the anchor of created rows', async () => {
    const attributes = {
      login: ['roundtrip'],
      displayName: ['Round Trip'],
      active: [false],
      hired: ['2023-06-30T22:15:00.250Z'],
      seenAt: ['2023-07-01T08:00:00.000Z'],
      photo: [new Uint8Array([9, 8, 7, 0])],
      big: ['9007199254740995'],
      score: [3.25],
      manager: [{ ref: '1' }],
      groups: ['alpha', 'beta'],
    };
    const created = await exportAll(connector, [
      { op: 'create', id: 'c1', objectType: 'person', attributes },
    ]);
    const result = created.get('c1')!;
    expect(result.ok).toBe(true);
    const anchor = result.ok ? result.anchor! : '';
    expect(anchor).toMatch(/^\d+$/);
    const [found] = await connector.lookup!('person', 'login', ['roundtrip']);
    expect(found?.anchor).toBe(anchor);
    // one object by its key, child values included, as lookup and import give it
    expect(await connector.read!('person', anchor)).toEqual(found);
    // a full import reads it back exactly as lookup does
    const imported = upserts(allChanges(await collect(connector, { pageSize: 3 }))).find(
      (o) => o.anchor === anchor,
    );
    expect(imported).toEqual(found);
    const { id: _id, ...back } = found!.attributes;
    back.groups = back.groups!.slice().sort();
    back.photo = [new Uint8Array(back.photo![0] as Uint8Array)];
    expect(back).toEqual({ ...attributes, photo: [new Uint8Array([9, 8, 7, 0])] });

    // update: replace, add and remove on columns and on the child table
    const updated = await exportAll(connector, [
      {
        op: 'update',
        id: 'u1',
        objectType: 'person',
        anchor,
        changes: {
          displayName: { replace: ['Renamed'] },
          groups: { add: ['gamma'], remove: ['alpha'] },
          manager: { replace: [] },
        },
      },
    ]);
    expect(updated.get('u1')).toEqual({ id: 'u1', ok: true, anchor });
    const [after] = await connector.lookup!('person', 'groups', ['gamma']);
    expect(after?.anchor).toBe(anchor);
    expect(after?.attributes.displayName).toEqual(['Renamed']);
    expect(after?.attributes.groups?.slice().sort()).toEqual(['beta', 'gamma']);
    expect(after?.attributes.manager).toBeUndefined();

    const missing = await exportAll(connector, [
      {
        op: 'update',
        id: 'u2',
        objectType: 'person',
        anchor: '999999',
        changes: { displayName: { replace: ['x'] } },
      },
    ]);
    expect(missing.get('u2')).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', retryable: false } });

    const deleted = await exportAll(connector, [{ op: 'delete', id: 'd1', objectType: 'person', anchor }]);
    expect(deleted.get('d1')?.ok).toBe(true);
    expect(await connector.lookup!('person', 'login', ['roundtrip'])).toEqual([]);
    expect(await connector.read!('person', anchor)).toBeNull();
    expect(await db.exec(`SELECT * FROM user_groups WHERE user_id = ${Number(anchor)}`)).toEqual([]);
  });

  it('turns constraint violations into object errors while the rest of the batch commits', async () => {
    const results = await exportAll(connector, [
      { op: 'create', id: 'ok1', objectType: 'person', attributes: { login: ['batch-ok-1'] } },
      { op: 'create', id: 'dup', objectType: 'person', attributes: { login: ['boss'] } },
      { op: 'create', id: 'null', objectType: 'person', attributes: { displayName: ['no login'] } },
      {
        op: 'create',
        id: 'fk',
        objectType: 'person',
        attributes: { login: ['bad-manager'], manager: [{ ref: '424242' }] },
      },
      {
        op: 'create',
        id: 'child',
        objectType: 'person',
        attributes: { login: ['bad-child'], groups: ['x'] },
      },
      {
        op: 'update',
        id: 'dup2',
        objectType: 'person',
        anchor: '2',
        changes: { login: { replace: ['boss'] } },
      },
      { op: 'create', id: 'ok2', objectType: 'person', attributes: { login: ['batch-ok-2'], groups: ['g'] } },
    ]);
    expect(results.get('ok1')?.ok).toBe(true);
    expect(results.get('ok2')?.ok).toBe(true);
    expect(results.get('child')?.ok).toBe(true);
    const code = (id: string) => {
      const r = results.get(id);
      return r && !r.ok ? r.error : undefined;
    };
    expect(code('dup')).toMatchObject({ code: 'UNIQUE_VIOLATION', retryable: false });
    expect(code('dup2')).toMatchObject({ code: 'UNIQUE_VIOLATION', retryable: false });
    expect(code('null')).toMatchObject({ code: 'NOT_NULL_VIOLATION', retryable: false });
    expect(code('fk')).toMatchObject({ code: 'FOREIGN_KEY_VIOLATION', retryable: false });
    const remote = {
      postgres: ['23505', '23502', '23503'],
      mysql: [1062, 1364, 1452],
      sqlite: ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_CONSTRAINT_FOREIGNKEY'],
    }[driver];
    expect([code('dup')?.remoteCode, code('null')?.remoteCode, code('fk')?.remoteCode]).toEqual(remote);
    const logins = (await db.exec(`SELECT login FROM users WHERE login LIKE 'ba%' ORDER BY login`)).map(
      (r) => r.login,
    );
    expect(logins).toEqual(['bad-child', 'batch-ok-1', 'batch-ok-2']);
    // the failed rows left nothing behind, not even child rows
    const groups = await db.exec(
      `SELECT grp FROM user_groups g JOIN users u ON u.id = g.user_id WHERE u.login = 'batch-ok-2'`,
    );
    expect(groups.map((r) => r.grp)).toEqual(['g']);
  });

  it('stores and reads back values crafted as SQL injection as plain data', async () => {
    const nasty = [
      "'; DROP TABLE users; --",
      `Robert'); DELETE FROM users WHERE ('1'='1`,
      'back\\slash \\\' quote " double ` tick',
      '$1 ? :name $$ dollar',
      ...(driver === 'postgres' ? [] : ['nul\u0000inside']),
    ];
    const changes = nasty.map((value, i) => ({
      op: 'create' as const,
      id: `n${i}`,
      objectType: 'person',
      attributes: { login: [`inj-${i}`], displayName: [value], groups: [value.slice(0, 40)] },
    }));
    const results = await exportAll(connector, changes);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    for (const [i, value] of nasty.entries()) {
      const [found] = await connector.lookup!('person', 'displayName', [value]);
      expect(found?.attributes.login).toEqual([`inj-${i}`]);
      expect(found?.attributes.displayName).toEqual([value]);
      expect(found?.attributes.groups).toEqual([value.slice(0, 40)]);
    }
    expect((await db.exec('SELECT COUNT(*) AS n FROM users'))[0]!.n).toBeTruthy();
    if (driver === 'postgres') {
      // PostgreSQL text cannot hold NUL: the change fails alone, as a value error
      const r = await exportAll(connector, [
        {
          op: 'create',
          id: 'nul',
          objectType: 'person',
          attributes: { login: ['inj-nul'], displayName: ['a\u0000b'] },
        },
      ]);
      expect(r.get('nul')).toMatchObject({ ok: false, error: { retryable: false, remoteCode: '22021' } });
    }
  });

  it('looks objects up by a column or a child value, parameterized', async () => {
    const byLogin = await connector.lookup!('person', 'login', ['boss', 'plain', "' OR '1'='1"]);
    expect(byLogin.map((o) => o.anchor).sort()).toEqual(['1', '2']);
    const byGroup = await connector.lookup!('person', 'groups', ['admins']);
    expect(byGroup.map((o) => o.anchor)).toEqual(['1']);
    await expect(connector.lookup!('person', 'nope', ['x'])).rejects.toMatchObject({
      code: 'SQL_UNKNOWN_ATTRIBUTE',
    });
  });
});
