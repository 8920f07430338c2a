/**
 * The SQL connector driven by the engine, against the real servers: an HR table in PostgreSQL (delta by a
 * watermark column, soft deletes) provisions an application's accounts table in MariaDB.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Engine } from '../../../src/engine/engine.js';
import { createTestDb, MY, PG, type TestDb } from './harness.js';

let hr: TestDb;
let app: TestDb;
let dir: string;

beforeAll(async () => {
  [hr, app] = await Promise.all([createTestDb('postgres'), createTestDb('mysql')]);
  await hr.exec(`CREATE TABLE employees (
    id INTEGER PRIMARY KEY, given_name TEXT NOT NULL, family_name TEXT NOT NULL, email TEXT NOT NULL,
    department TEXT, left_company BOOLEAN NOT NULL DEFAULT FALSE, updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())`);
  await app.exec(`CREATE TABLE accounts (
    id INT AUTO_INCREMENT PRIMARY KEY, login VARCHAR(200) NOT NULL UNIQUE, display_name VARCHAR(200), department VARCHAR(100))`);
  for (let i = 1; i <= 25; i++) {
    await hr.exec('INSERT INTO employees (id, given_name, family_name, email, department) VALUES ($1, $2, $3, $4, $5)', [
      i, `Given${i}`, `Family${i}`, `person${i}@example.com`, i % 2 ? 'Sales' : 'Legal',
    ]);
  }
  dir = mkdtempSync(join(tmpdir(), 'idsync-sql-e2e-'));
  writeFileSync(
    join(dir, 'idsync.yaml'),
    `
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
        table: employees
        anchor: id
        attributes: { id: employeeId, given_name: givenName, family_name: familyName, email: email, department: department, left_company: leftCompany }
        delta: { mode: watermark, column: updated_at, overlap: 5, softDelete: { column: left_company, value: true } }
  app:
    type: sql
    driver: mysql
    host: ${MY.host}
    port: ${MY.port}
    user: ${MY.user}
    password: "${MY.password}"
    database: ${app.name}
    objectTypes:
      account:
        table: accounts
        anchor: id
        attributes: { id: id, login: login, display_name: displayName, department: department }
rules:
  - name: hr-in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: email, source: email }
      - { target: displayName, expression: 'Join(" ", [givenName], [familyName])' }
      - { target: department, source: department }
  - name: app-out
    connector: app
    direction: outbound
    metaverseType: person
    objectType: account
    join: [[{ target: login }]]
    deprovision: delete
    flows:
      - { target: login, source: email }
      - { target: displayName, source: displayName }
      - { target: department, source: department }
`,
  );
});

afterAll(async () => {
  await Promise.all([hr?.drop(), app?.drop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cycle() {
  const engine = await Engine.open(loadConfig(join(dir, 'idsync.yaml')));
  try {
    return await engine.cycle();
  } finally {
    await engine.close();
  }
}

const accounts = async () =>
  Object.fromEntries((await app.exec('SELECT login, display_name, department FROM accounts')).map((r) => [r.login, r]));

describe('PostgreSQL HR table → engine → MariaDB accounts table', () => {
  it('provisions, follows updates and deletes by delta, and sends nothing when nothing changed', async () => {
    const first = await cycle();
    expect(first.status).toBe('ok');
    let rows = await accounts();
    expect(Object.keys(rows)).toHaveLength(25);
    expect(rows['person3@example.com']).toMatchObject({ display_name: 'Given3 Family3', department: 'Sales' });

    const quiet = await cycle();
    expect(quiet.stats.find((s) => s.connector === 'app' && s.phase === 'export')).toMatchObject({ added: 0, updated: 0, deleted: 0 });

    await hr.exec(`UPDATE employees SET department = 'Finance', updated_at = clock_timestamp() WHERE id = 4`);
    await hr.exec(`UPDATE employees SET left_company = TRUE, updated_at = clock_timestamp() WHERE id = 5`);
    await hr.exec(`INSERT INTO employees (id, given_name, family_name, email, department) VALUES (26, 'New', 'Hire', 'new.hire@example.com', 'Legal')`);
    const delta = await cycle();
    expect(delta.status).toBe('ok');
    expect(delta.stats.find((s) => s.connector === 'hr' && s.phase === 'import')).toMatchObject({ added: 1, updated: 1, deleted: 1 });
    rows = await accounts();
    expect(rows['person4@example.com']).toMatchObject({ department: 'Finance' });
    expect(rows['person5@example.com']).toBeUndefined();
    expect(rows['new.hire@example.com']).toMatchObject({ display_name: 'New Hire' });
    expect(Object.keys(rows)).toHaveLength(25);
  });
});
