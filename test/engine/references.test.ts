/**
 * References follow objects, not names (issue 15 §1), against real servers: a PostgreSQL HR table with
 * managers and teams provisions an OpenLDAP whose memberof overlay keeps no referential integrity, so nothing
 * but idsync mends a `manager` or `member` value left pointing at an entry idsync deleted or renamed. After
 * each change, ONE cycle must leave the directory exactly as a fresh load of the source into an empty one.
 * The same holds for a MariaDB accounts table whose manager column names another row's key (no foreign key).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, MY, PG, type TestDb } from '../connectors/sql/harness.js';
import { BASE_DN, BASE_LDIF, danglingReferences as dangling, entriesOf, type Slapd, startSlapd } from '../helpers/slapd.js';
import { cycleIn, freshLoad } from '../helpers/workspace.js';

const PEOPLE = 40;
let hr: TestDb;
let target: Slapd;
let dir: string;

function config(slapd: Slapd): string {
  return `
connectors:
  hr:
    type: sql
    driver: postgres
    host: ${PG.host}
    port: ${PG.port}
    user: ${PG.user}
    database: ${hr.name}
    objectTypes:
      person:
        table: people
        anchor: id
        attributes: { id: employeeId, login: login, given_name: givenName, family_name: sn, manager_id: manager, status: status }
        references: { manager: { objectType: person } }
        delta: { mode: watermark, column: updated_at, overlap: 5, softDelete: { column: left_company, value: true } }
      team:
        table: teams
        anchor: id
        attributes: { id: teamId, name: name }
        multiValued: { members: { table: team_members, key: team_id, value: person_id } }
        references: { members: { objectType: person } }
        delta: { mode: watermark, column: updated_at, overlap: 5 }
  directory:
    type: ldap
    flavor: openldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: '${slapd.password}'
    baseDN: ${BASE_DN}
    includeContainers: ['ou=people,${BASE_DN}', 'ou=groups,${BASE_DN}']
    objectTypes:
      user: { objectClasses: [inetOrgPerson], attributes: [uid, cn, sn, manager] }
      group: { objectClasses: [groupOfNames], attributes: [cn, member] }
rules:
  - name: people-in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: accountName, source: login }
      - { target: givenName, source: givenName }
      - { target: sn, source: sn }
      - { target: manager, source: manager }
      - { target: status, source: status }
  - name: teams-in
    connector: hr
    direction: inbound
    objectType: team
    metaverseType: group
    join: [[{ source: teamId, metaverse: teamId }]]
    project: true
    flows:
      - { target: teamId, source: teamId }
      - { target: displayName, source: name }
      - { target: members, source: members }
  - name: people-out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    scope: [[{ attribute: status, operator: EQUALS, value: active }]]
    join: [[{ target: uid }]]
    provision: true
    deprovision: delete
    flows:
      - { target: dn, expression: '"uid=" & [accountName] & ",ou=people,${BASE_DN}"' }
      - { target: uid, source: accountName }
      - { target: cn, expression: 'Join(" ", [givenName], [sn])' }
      - { target: sn, source: sn }
      - { target: manager, source: manager }
  - name: teams-out
    connector: directory
    direction: outbound
    metaverseType: group
    objectType: group
    join: [[{ target: cn }]]
    provision: true
    deprovision: delete
    flows:
      - { target: dn, expression: '"cn=" & [displayName] & ",ou=groups,${BASE_DN}"' }
      - { target: cn, source: displayName }
      - { target: member, source: members }
`;
}

const ATTRIBUTES = ['uid', 'cn', 'sn', 'manager', 'member'];
const entries = (slapd: Slapd) => entriesOf(slapd, ATTRIBUTES);

const touch = 'updated_at = clock_timestamp()';

beforeAll(async () => {
  hr = await createTestDb('postgres');
  await hr.exec(`CREATE TABLE people (
    id INTEGER PRIMARY KEY, login TEXT NOT NULL, given_name TEXT NOT NULL, family_name TEXT NOT NULL, manager_id INTEGER,
    status TEXT NOT NULL DEFAULT 'active', left_company BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE team_members (team_id INTEGER NOT NULL, person_id INTEGER NOT NULL, PRIMARY KEY (team_id, person_id));`);
  // 1 leads 2..5; each of the others reports to one of 2..5. Team "all" holds everyone, "leads" 1..5.
  for (let i = 1; i <= PEOPLE; i++) {
    const manager = i === 1 ? null : i <= 5 ? 1 : 2 + (i % 4);
    await hr.exec('INSERT INTO people (id, login, given_name, family_name, manager_id) VALUES ($1, $2, $3, $4, $5)', [
      i, `user${i}`, `Given${i}`, `Family${i}`, manager,
    ]);
  }
  // anchors are unique within a connector, across its object types: teams are numbered apart
  await hr.exec(`INSERT INTO teams (id, name) VALUES (1001, 'all'), (1002, 'leads');
    INSERT INTO team_members SELECT 1001, id FROM people;
    INSERT INTO team_members SELECT 1002, id FROM people WHERE id <= 5;`);
  target = await startSlapd({ ldif: BASE_LDIF, memberofRefint: false });
  dir = mkdtempSync(join(tmpdir(), 'idsync-refs-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'idsync.yaml'), config(target));
  const first = await cycleIn(dir);
  expect(first.status).toBe('ok');
  expect(Object.keys(await entries(target))).toHaveLength(PEOPLE + 2);
}, 120_000);

afterAll(async () => {
  await target?.stop();
  await hr?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PostgreSQL → OpenLDAP without referential integrity: references after one cycle', () => {
  it('a manager deprovisioned (deleted in the source): reports lose the manager, teams the member', async () => {
    await hr.exec(`UPDATE people SET left_company = TRUE, ${touch} WHERE id = 2`);
    const report = await cycleIn(dir);
    expect(report.status).toBe('ok');
    const now = await entries(target);
    expect(now[`uid=user2,ou=people,${BASE_DN}`]).toBeUndefined();
    expect(dangling(now)).toEqual([]);
    expect(now).toEqual(await freshLoad(config, ATTRIBUTES));
  });

  it('a manager renamed (the login names the DN): reports and teams re-pointed to the new DN', async () => {
    await hr.exec(`UPDATE people SET login = 'renamed3', ${touch} WHERE id = 3`);
    const report = await cycleIn(dir);
    expect(report.status).toBe('ok');
    const now = await entries(target);
    expect(now[`uid=renamed3,ou=people,${BASE_DN}`]).toBeDefined();
    expect(now[`uid=user9,ou=people,${BASE_DN}`]!.manager).toEqual([`uid=renamed3,ou=people,${BASE_DN}`]);
    expect(dangling(now)).toEqual([]);
    expect(now).toEqual(await freshLoad(config, ATTRIBUTES));
  });

  it('a manager leaving the outbound scope (a status change): deleted, and no reference to them is left', async () => {
    await hr.exec(`UPDATE people SET status = 'inactive', ${touch} WHERE id = 4`);
    const report = await cycleIn(dir);
    expect(report.status).toBe('ok');
    const now = await entries(target);
    expect(now[`uid=user4,ou=people,${BASE_DN}`]).toBeUndefined();
    expect(dangling(now)).toEqual([]);
    expect(now).toEqual(await freshLoad(config, ATTRIBUTES));
  });

  it('one `run --full` right after a rename and a deprovision gets there too', async () => {
    await hr.exec(`UPDATE people SET login = 'renamed5', ${touch} WHERE id = 5;
      UPDATE people SET left_company = TRUE, ${touch} WHERE id = 1`);
    const report = await cycleIn(dir, { full: true });
    expect(report.status).toBe('ok');
    const now = await entries(target);
    expect(dangling(now)).toEqual([]);
    expect(now).toEqual(await freshLoad(config, ATTRIBUTES));
  });
});

describe('CSV feed → MariaDB accounts without a foreign key: a manager deleted or leaving scope, after one cycle', () => {
  let app: TestDb;
  let folder: string;
  const feed = (rows: string[]) => writeFileSync(join(folder, 'hr.csv'), `id,login,managerId,status\n${rows.join('\n')}\n`);
  const rows = (n: number) =>
    Array.from({ length: n }, (_, k) => `${k + 1},user${k + 1},${k === 0 ? '' : k < 4 ? 1 : 2 + (k % 3)},active`);

  const sqlConfig = (database: string) => `
connectors:
  hr: { type: csv, path: hr.csv, anchor: id, references: { managerId: true } }
  app:
    type: sql
    driver: mysql
    host: ${MY.host}
    port: ${MY.port}
    user: ${MY.user}
    password: "${MY.password}"
    database: ${database}
    objectTypes:
      account:
        table: accounts
        anchor: id
        attributes: { id: id, login: login, manager_id: manager }
        references: { manager: { objectType: account } }
rules:
  - name: hr-in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: id, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: id }
      - { target: accountName, source: login }
      - { target: manager, source: managerId }
      - { target: status, source: status }
  - name: app-out
    connector: app
    direction: outbound
    metaverseType: person
    objectType: account
    scope: [[{ attribute: status, operator: EQUALS, value: active }]]
    join: [[{ target: login }]]
    provision: true
    deprovision: delete
    flows:
      - { target: login, source: accountName }
      - { target: manager, source: manager }
`;
  /** login → the login of the manager its manager_id names ('?' when it names no row) */
  const accounts = async (db: TestDb) => {
    const all = await db.exec('SELECT id, login, manager_id FROM accounts');
    const loginOf = new Map(all.map((r) => [String(r.id), String(r.login)]));
    return Object.fromEntries(all.map((r) => [r.login, r.manager_id === null ? null : (loginOf.get(String(r.manager_id)) ?? '?')]));
  };
  const table = 'CREATE TABLE accounts (id INT AUTO_INCREMENT PRIMARY KEY, login VARCHAR(100) NOT NULL UNIQUE, manager_id INT NULL)';

  async function freshAccounts(): Promise<Record<string, unknown>> {
    const empty = await createTestDb('mysql');
    const at = mkdtempSync(join(tmpdir(), 'idsync-refs-sql-fresh-'));
    try {
      await empty.exec(table);
      writeFileSync(join(at, 'idsync.yaml'), sqlConfig(empty.name));
      writeFileSync(join(at, 'hr.csv'), readFileSync(join(folder, 'hr.csv')));
      expect((await cycleIn(at)).status).toBe('ok');
      return await accounts(empty);
    } finally {
      await empty.drop();
      rmSync(at, { recursive: true, force: true });
    }
  }

  beforeAll(async () => {
    app = await createTestDb('mysql');
    await app.exec(table);
    folder = mkdtempSync(join(tmpdir(), 'idsync-refs-sql-'));
    writeFileSync(join(folder, 'idsync.yaml'), sqlConfig(app.name));
    feed(rows(30));
    expect((await cycleIn(folder)).status).toBe('ok');
    expect(Object.keys(await accounts(app))).toHaveLength(30);
  }, 60_000);

  afterAll(async () => {
    await app?.drop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it("a manager leaving scope is deleted and their reports' manager_id cleared; a manager's row removed likewise", async () => {
    const list = rows(30);
    list[1] = '2,user2,1,inactive'; // user2 manages user7, user10, …
    feed(list);
    expect((await cycleIn(folder)).status).toBe('ok');
    let now = await accounts(app);
    expect(now.user2).toBeUndefined();
    expect(now.user7).toBeNull();
    expect(Object.values(now)).not.toContain('?');
    expect(now).toEqual(await freshAccounts());

    feed(list.filter((r) => !r.startsWith('3,'))); // user3 manages user5, user8, …
    expect((await cycleIn(folder)).status).toBe('ok');
    now = await accounts(app);
    expect(now.user5).toBeNull();
    expect(Object.values(now)).not.toContain('?');
    expect(now).toEqual(await freshAccounts());
  });
});
