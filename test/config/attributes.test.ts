/**
 * The attributes rules name, checked against schemas read from real systems: a PostgreSQL table's columns,
 * a MariaDB table written by an outbound rule, an OpenLDAP server's schema; and what is said when a system
 * cannot be reached or does not answer in time.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAttributes } from '../../src/config/attributes.js';
import { parseConfig } from '../../src/config/load.js';
import { createTestDb, MY, PG, type TestDb } from '../connectors/sql/harness.js';
import { TestScimServer } from '../connectors/scim/server.js';
import { freePort, type Slapd, startSlapd } from '../helpers/slapd.js';

let hr: TestDb;
let app: TestDb;
let slapd: Slapd;
const scim = new TestScimServer();

beforeAll(async () => {
  [hr, app, slapd] = await Promise.all([createTestDb('postgres'), createTestDb('mysql'), startSlapd(), scim.start()]);
  await hr.exec('CREATE TABLE employees (employee_id TEXT PRIMARY KEY, email TEXT, given_name TEXT)');
  await app.exec('CREATE TABLE accounts (id INT AUTO_INCREMENT PRIMARY KEY, login VARCHAR(200), display_name VARCHAR(200))');
}, 120_000);

afterAll(async () => {
  await Promise.all([hr?.drop(), app?.drop(), slapd?.stop(), scim.stop()]);
});

const FILE = '/cfg/idsync.yaml';

/** The place of the first `needle` in `text`, 1-based, as a location. */
function placeOf(text: string, needle: string): string {
  const lines = text.split('\n');
  const row = lines.findIndex((l) => l.includes(needle));
  return `${FILE}:${row + 1}:${lines[row]!.indexOf(needle) + 1}`;
}

describe('attribute names against the schema a system reports', () => {
  it('a SQL source: a misspelt column read by an expression, with the closest column, at the [name]', async () => {
    const text = `
connectors:
  hr:
    type: sql
    driver: postgres
    host: ${PG.host}
    port: ${PG.port}
    user: ${PG.user}
    database: ${hr.name}
    objectTypes:
      person: { table: employees, anchor: employee_id }
  app:
    type: sql
    driver: mysql
    host: ${MY.host}
    port: ${MY.port}
    user: ${MY.user}
    password: "${MY.password}"
    database: ${app.name}
    objectTypes:
      account: { table: accounts, anchor: id }
rules:
  - name: hr-in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employee_id, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employee_id }
      - { target: mail, expression: 'ToLower([emial])' }
      - { target: givenName, source: given_name }
  - name: app-out
    connector: app
    direction: outbound
    objectType: account
    metaverseType: person
    join: [[{ target: login }]]
    flows:
      - { target: login, source: mail }
      - { target: displayname, source: givenName }
      - { target: dispaly_name, source: givenName }
`;
    const config = parseConfig(text, FILE);
    const online = await checkAttributes(config, { offline: false, timeoutMs: 10_000 });
    expect(online.notices).toEqual([]);
    const byPlace = Object.fromEntries(online.problems.map((p) => [p.location, `${p.code}: ${p.message}`]));
    expect(byPlace).toEqual({
      [placeOf(text, '[emial]')]: 'ATTRIBUTE_UNKNOWN: connector hr (person) has no attribute "emial" (did you mean "email"? expected: employee_id, email, given_name)',
      [placeOf(text, 'displayname')]: 'ATTRIBUTE_UNKNOWN: connector app (account) has no attribute "displayname" (did you mean "display_name"? expected: id, login, display_name)',
      [placeOf(text, 'dispaly_name')]: 'ATTRIBUTE_UNKNOWN: connector app (account) has no attribute "dispaly_name" (did you mean "display_name"? expected: id, login, display_name)',
    });

    // offline, a SQL table's columns are not known: said, not failed
    const offline = await checkAttributes(config, { offline: true, timeoutMs: 10_000 });
    expect(offline.problems).toEqual([]);
    expect(offline.notices.map((n) => n.message)).toEqual([
      "connector hr: attribute names not checked: a sql connector's schema is known only by connecting (validate without --offline reads it)",
      "connector app: attribute names not checked: a sql connector's schema is known only by connecting (validate without --offline reads it)",
    ]);
  }, 60_000);

  it("an LDAP source: the server's schema for the object classes, and an object type the connector does not have", async () => {
    const text = `
connectors:
  corp:
    type: ldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: ${slapd.password}
    baseDN: ${slapd.baseDN}
    objectTypes:
      person: { objectClasses: [inetOrgPerson] }
rules:
  - name: corp-in
    connector: corp
    direction: inbound
    objectType: person
    metaverseType: person
    project: true
    scope: [[{ attribute: departmentNumbr, operator: IS NOT NULL }]]
    flows:
      - { target: mail, expression: 'Join("", [mial])' }
      - { target: givenName, source: givenname }
      - { target: name, source: dn }
  - name: corp-groups
    connector: corp
    direction: inbound
    objectType: group
    metaverseType: group
    flows:
      - { target: name, source: cn }
`;
    const { problems, notices } = await checkAttributes(parseConfig(text, FILE), { offline: false, timeoutMs: 10_000 });
    expect(notices).toEqual([]);
    const byPlace = Object.fromEntries(problems.map((p) => [p.location, p.message]));
    expect(byPlace[placeOf(text, '[mial]')]).toMatch(/^connector corp \(person\) has no attribute "mial" \(did you mean "mail"\? expected: /);
    expect(byPlace[placeOf(text, 'departmentNumbr')]).toMatch(/has no attribute "departmentNumbr" \(did you mean "departmentNumber"\?/);
    // at the rule's objectType
    expect(byPlace[placeOf(text, 'objectType: group').replace(/\d+$/, (c) => String(Number(c) + 'objectType: '.length))]).toBe('connector corp has no object type "group" (expected: person)');
    expect(problems).toHaveLength(3);
  }, 60_000);
});

describe('attribute names against a SCIM service', () => {
  it('reads its /Schemas: Entra paths, element filters and extension URNs pass, a misspelt one does not', async () => {
    const text = `
connectors:
  hr: { type: csv, path: hr.csv, anchor: id }
  app:
    type: scim
    url: ${scim.url}
rules:
  - { name: hr-in, connector: hr, direction: inbound, objectType: person, metaverseType: person, project: true, flows: [{ target: mail, source: mail }] }
  - name: app-out
    connector: app
    direction: outbound
    objectType: user
    metaverseType: person
    flows:
      - { target: userName, source: mail }
      - { target: 'emails[type eq "work"].value', source: mail }
      - { target: 'phoneNumbers[type eq "mobile"].value', source: mail }
      - { target: name.givenName, source: mail }
      - { target: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', source: mail }
      - { target: displayNmae, source: mail }
`;
    const { problems } = await checkAttributes(parseConfig(text, FILE), { offline: false, timeoutMs: 10_000 });
    expect(problems.map((p) => [p.location, p.message.replace(/ \(did you mean.*$/, ''), /did you mean "([^"]+)"/.exec(p.message)?.[1]])).toEqual([
      [placeOf(text, 'displayNmae'), 'connector app (user) has no attribute "displayNmae"', 'displayName'],
    ]);
  }, 30_000);
});

describe('what could not be checked', () => {
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // accepts connections and never answers
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    // the abandoned read's connection is still waiting for its bind answer (timeouts.operationMs)
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const ldap = (url: string) => `
connectors:
  corp:
    type: ldap
    urls: [${url}]
    bindDN: cn=admin,dc=example,dc=test
    password: secret-that-must-not-show
    baseDN: dc=example,dc=test
    objectTypes:
      person: { objectClasses: [inetOrgPerson] }
rules:
  - name: corp-in
    connector: corp
    direction: inbound
    objectType: person
    metaverseType: person
    project: true
    flows:
      - { target: mail, source: mial }
`;

  it('a server that refuses the connection is a notice naming why, not an error', async () => {
    const port = await freePort();
    const { problems, notices } = await checkAttributes(parseConfig(ldap(`ldap://127.0.0.1:${port}`), FILE), { offline: false, timeoutMs: 10_000 });
    expect(problems).toEqual([]);
    expect(notices).toHaveLength(1);
    expect(notices[0]!.message).toMatch(/^connector corp: attribute names not checked: its schema could not be read: /);
    expect(JSON.stringify(notices)).not.toContain('secret-that-must-not-show');
  });

  it('a server that does not answer is given up after the time bound', async () => {
    const started = Date.now();
    const { problems, notices } = await checkAttributes(parseConfig(ldap(`ldap://127.0.0.1:${silentPort}`), FILE), { offline: false, timeoutMs: 1000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(problems).toEqual([]);
    expect(notices.map((n) => n.message)).toEqual(['connector corp: attribute names not checked: its schema could not be read: no answer within 1 s']);
  });
});
