/**
 * Delta imports on real servers: the watermark-column mode (soft deletes and a delete log) and the change-log
 * mode fed by the triggers triggerDdl prints, applied for real. Includes transactions that commit late.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ImportChange } from '../../../src/connectors/contract.js';
import { triggerDdl } from '../../../src/connectors/sql/index.js';
import {
  collect,
  createTestDb,
  type Driver,
  lastWatermark,
  makeConnector,
  type TestDb,
  types,
} from './harness.js';

const drivers: Driver[] = ['postgres', 'mysql', 'sqlite'];

function schema(driver: Driver): string {
  const t = types(driver);
  const engine = driver === 'mysql' ? ' ENGINE=InnoDB' : '';
  return `
CREATE TABLE people (
  id ${t.serial},
  login VARCHAR(100) NOT NULL,
  name VARCHAR(200),
  deleted ${t.bool} NOT NULL DEFAULT ${t.false},
  updated_at ${t.naive} NOT NULL
)${engine};
CREATE TABLE people_groups (
  person_id INT NOT NULL,
  grp VARCHAR(50) NOT NULL,
  PRIMARY KEY (person_id, grp)
)${engine};
CREATE TABLE people_deleted (
  id INT NOT NULL,
  deleted_at ${t.naive} NOT NULL
)${engine};
`;
}

function summary(changes: ImportChange[]): string[] {
  return changes
    .map((c) => {
      if (c.kind === 'upsert')
        return `upsert ${c.object.anchor} ${c.object.attributes.name?.[0] ?? ''}`.trim();
      if (c.kind === 'delete') return `delete ${c.anchor}`;
      return `${c.kind}`;
    })
    .sort();
}

function lastPerAnchor(changes: ImportChange[]): ImportChange[] {
  const last = new Map<string, ImportChange>();
  for (const c of changes) last.set(c.kind === 'upsert' ? c.object.anchor : String(c.anchor), c);
  return [...last.values()];
}

async function delta(connector: Connector, watermark: string | null, pageSize = 100) {
  const pages = await collect(connector, { mode: 'delta', watermark, pageSize });
  // every page of a delta carries the position after it
  expect(pages.every((p) => typeof p.watermark === 'string')).toBe(true);
  return { changes: pages.flatMap((p) => p.changes), watermark: lastWatermark(pages), pages };
}

describe.each(drivers)('delta import on %s', (driver) => {
  let db: TestDb;
  const t = types(driver);
  const person = { table: 'people', anchor: 'id', attributes: ['id', 'login', 'name'] };
  let watermarkMode: Connector;
  let deleteLogMode: Connector;
  let changelogMode: Connector;
  const changelogSettings = {
    objectTypes: {
      person: {
        ...person,
        delta: { mode: 'changelog' },
        multiValued: { groups: { table: 'people_groups', key: 'person_id', value: 'grp' } },
      },
    },
  };

  beforeAll(async () => {
    db = await createTestDb(driver);
    await db.exec(schema(driver));
    watermarkMode = makeConnector(db, {
      objectTypes: {
        person: {
          ...person,
          delta: {
            mode: 'watermark',
            column: 'updated_at',
            overlap: 60,
            softDelete: { column: 'deleted', value: true },
          },
        },
      },
    });
    deleteLogMode = makeConnector(db, {
      objectTypes: {
        person: {
          ...person,
          delta: {
            mode: 'watermark',
            column: 'updated_at',
            overlap: 60,
            deleteLog: { table: 'people_deleted', anchor: 'id', column: 'deleted_at' },
          },
        },
      },
    });
    changelogMode = makeConnector(db, changelogSettings);
  });

  afterAll(async () => {
    await Promise.all([watermarkMode?.close(), deleteLogMode?.close(), changelogMode?.close()]);
    await db?.drop();
  });

  const insert = (login: string) =>
    db.exec(`INSERT INTO people (login, name, updated_at) VALUES ('${login}', '${login}', ${t.now})`);
  const touch = (id: number, set: string) =>
    db.exec(`UPDATE people SET ${set}, updated_at = ${t.now} WHERE id = ${id}`);

  it('watermark column: picks up inserts, updates and soft deletes, and sends nothing twice', async () => {
    for (const login of ['a', 'b', 'c']) await insert(login);
    const full = await collect(watermarkMode, { mode: 'full', pageSize: 2 });
    expect(summary(full.flatMap((p) => p.changes))).toEqual(['upsert 1 a', 'upsert 2 b', 'upsert 3 c']);
    let watermark = lastWatermark(full);
    expect(watermark).toBeTypeOf('string');

    // rows the full import delivered are inside the overlap window but not sent again
    let d = await delta(watermarkMode, watermark);
    expect(d.changes).toEqual([]);

    await insert('d');
    await touch(1, "name = 'a2'");
    await touch(2, `deleted = ${t.true}`);
    await touch(3, "name = 'c2'");
    d = await delta(watermarkMode, d.watermark, 2);
    expect(d.pages.length).toBeGreaterThanOrEqual(2);
    expect(summary(d.changes)).toEqual(['delete 2', 'upsert 1 a2', 'upsert 3 c2', 'upsert 4 d']);

    d = await delta(watermarkMode, d.watermark);
    expect(d.changes).toEqual([]);
    watermark = d.watermark;
    await touch(4, "name = 'd2'");
    d = await delta(watermarkMode, watermark);
    expect(summary(d.changes)).toEqual(['upsert 4 d2']);
  });

  it('watermark column: deletes through a delete log, unless the key came back', async () => {
    const full = await collect(deleteLogMode, { mode: 'full' });
    let watermark = lastWatermark(full);
    await db.exec('DELETE FROM people WHERE id = 3');
    await db.exec(`INSERT INTO people_deleted (id, deleted_at) VALUES (3, ${t.now})`);
    // a tombstone for a row that still exists is not a delete
    await db.exec(`INSERT INTO people_deleted (id, deleted_at) VALUES (1, ${t.now})`);
    let d = await delta(deleteLogMode, watermark);
    expect(summary(d.changes)).toEqual(['delete 3']);
    watermark = d.watermark;
    d = await delta(deleteLogMode, watermark);
    expect(d.changes).toEqual([]);
  });

  it('change log: the printed trigger DDL applies, and deltas follow inserts, updates, deletes and child rows', async () => {
    const ddl = triggerDdl({
      driver,
      ...changelogSettings,
      ...(driver === 'sqlite' ? { file: 'x' } : { host: 'h' }),
    });
    expect(ddl).toContain('idsync_changes');
    await db.exec(ddl);
    // the DDL can be applied twice (an administrator re-running it)
    await db.exec(ddl);
    const full = await collect(changelogMode, { mode: 'full' });
    // this object type has no soft-delete column: row 2 is there
    expect(summary(full.flatMap((p) => p.changes))).toEqual(['upsert 1 a2', 'upsert 2 b', 'upsert 4 d2']);
    let watermark = lastWatermark(full);
    expect(watermark).toBeTypeOf('string');

    await insert('e');
    await touch(1, "name = 'a3'");
    await db.exec("INSERT INTO people_groups (person_id, grp) VALUES (4, 'staff')");
    await db.exec("UPDATE people SET name = 'e2' WHERE login = 'e'");
    const [e] = await db.exec("SELECT id FROM people WHERE login = 'e'");
    await db.exec('DELETE FROM people WHERE id = 1');
    let d = await delta(changelogMode, watermark, 2);
    // small pages: an anchor named on two pages is read twice; the last change per anchor is the state
    expect(
      summary(lastPerAnchor(d.changes).filter((c) => c.kind !== 'upsert' || c.object.anchor !== '4')),
    ).toEqual(['delete 1', `upsert ${Number(e!.id)} e2`].sort());
    const four = d.changes.find((c) => c.kind === 'upsert' && c.object.anchor === '4');
    expect(four?.kind === 'upsert' && four.object.attributes.groups).toEqual(['staff']);

    d = await delta(changelogMode, d.watermark);
    expect(d.changes).toEqual([]);
    watermark = d.watermark;
    await db.exec("DELETE FROM people_groups WHERE person_id = 4 AND grp = 'staff'");
    d = await delta(changelogMode, watermark);
    expect(d.changes.length).toBe(1);
    expect(d.changes[0]?.kind === 'upsert' && d.changes[0].object.attributes.groups).toBeUndefined();
  });
});

describe.each(['postgres', 'mysql'] as const)('late commits on %s', (driver) => {
  let db: TestDb;
  const t = types(driver);
  let watermarkMode: Connector;
  let changelogMode: Connector;

  beforeAll(async () => {
    db = await createTestDb(driver);
    await db.exec(schema(driver));
    const person = { table: 'people', anchor: 'id', attributes: ['id', 'login', 'name'] };
    watermarkMode = makeConnector(db, {
      objectTypes: { person: { ...person, delta: { mode: 'watermark', column: 'updated_at', overlap: 60 } } },
    });
    const changelogSettings = { objectTypes: { person: { ...person, delta: { mode: 'changelog' } } } };
    changelogMode = makeConnector(db, changelogSettings);
    await db.exec(triggerDdl({ driver, host: 'h', ...changelogSettings }));
    for (const login of ['a', 'b', 'c'])
      await db.exec(`INSERT INTO people (login, name, updated_at) VALUES ('${login}', '${login}', ${t.now})`);
  });

  afterAll(async () => {
    await Promise.all([watermarkMode?.close(), changelogMode?.close()]);
    await db?.drop();
  });

  it('watermark column: a row committed after a newer one, with an older value, is still picked up', async () => {
    let watermark = lastWatermark(await collect(watermarkMode, { mode: 'full' }));
    const late = await db.second();
    try {
      await late.exec(driver === 'mysql' ? 'START TRANSACTION' : 'BEGIN');
      // the slow transaction takes its timestamp first ...
      await late.exec(`UPDATE people SET name = 'late', updated_at = ${t.now} WHERE id = 1`);
      await new Promise((r) => setTimeout(r, 20));
      // ... a quick one commits a newer value, and a delta reads it
      await db.exec(`UPDATE people SET name = 'quick', updated_at = ${t.now} WHERE id = 2`);
      let d = await delta(watermarkMode, watermark);
      expect(summary(d.changes)).toEqual(['upsert 2 quick']);
      watermark = d.watermark;
      await late.exec('COMMIT');
      d = await delta(watermarkMode, watermark);
      expect(summary(d.changes)).toEqual(['upsert 1 late']);
      d = await delta(watermarkMode, d.watermark);
      expect(d.changes).toEqual([]);
    } finally {
      await late.close();
    }
  });

  it('change log: an id taken by a transaction that commits after a higher id is not skipped', async () => {
    let watermark = lastWatermark(await collect(changelogMode, { mode: 'full' }));
    const late = await db.second();
    try {
      await late.exec(driver === 'mysql' ? 'START TRANSACTION' : 'BEGIN');
      await late.exec(`UPDATE people SET name = 'late2', updated_at = ${t.now} WHERE id = 3`);
      await db.exec(`UPDATE people SET name = 'quick2', updated_at = ${t.now} WHERE id = 2`);
      const ids = (await db.exec('SELECT id FROM idsync_changes ORDER BY id')).map((r) => Number(r.id));
      let d = await delta(changelogMode, watermark);
      expect(summary(d.changes)).toEqual(['upsert 2 quick2']);
      watermark = d.watermark;
      // the uncommitted log id is remembered as a gap below the highest id read
      const state = JSON.parse(watermark!);
      expect(state.log.h).toBe(ids.at(-1));
      expect(state.log.gaps.length).toBe(1);
      await late.exec('COMMIT');
      d = await delta(changelogMode, watermark);
      expect(summary(d.changes)).toEqual(['upsert 3 late2']);
      expect(JSON.parse(d.watermark!).log.gaps).toEqual([]);
      d = await delta(changelogMode, d.watermark);
      expect(d.changes).toEqual([]);
    } finally {
      await late.close();
    }
  });
});
