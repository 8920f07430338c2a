/**
 * The LDAP connector driven by the engine against a throwaway slapd: OpenLDAP people and groups (with the
 * shipped template's rules) into the built-in directory; renames and membership changes by RFC 4533 delta;
 * and `idsync run`'s continuous mode carrying a change to the target in under 2 seconds.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { openSharedDirectory } from '../../../src/directory/index.js';
import { type CycleReport, Engine } from '../../../src/engine/engine.js';
import { BASE_DN, BASE_LDIF, type Slapd, startSlapd } from '../../helpers/slapd.js';
import { snapshot } from '../../helpers/workspace.js';
import { Directory } from '../../../src/directory/index.js';

function person(uid: string, cn: string, sn: string, employeeNumber: string, extra = ''): string {
  return `dn: uid=${uid},ou=people,${BASE_DN}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${cn}
sn: ${sn}
mail: ${uid}@example.test
employeeNumber: ${employeeNumber}
${extra}`;
}

let slapd: Slapd;
let dir: string;

beforeAll(async () => {
  const people = [
    person('ann', 'Ann Archer', 'Archer', '1001'),
    person('bob', 'Bob Baker', 'Baker', '1002', `manager: uid=ann,ou=people,${BASE_DN}\n`),
    person('cy', 'Cy Cole', 'Cole', '1003', `manager: uid=ann,ou=people,${BASE_DN}\n`),
  ];
  const group = `dn: cn=staff,ou=groups,${BASE_DN}
objectClass: groupOfNames
cn: staff
member: uid=ann,ou=people,${BASE_DN}
member: uid=bob,ou=people,${BASE_DN}
`;
  slapd = await startSlapd({ ldif: [BASE_LDIF, ...people, group].join('\n') });
  dir = mkdtempSync(join(tmpdir(), 'idsync-ldap-e2e-'));
  // The shipped template's connector and inbound rules, pointed at the test server, plus an outbound rule.
  const template = readFileSync(new URL('../../../templates/openldap-inetorgperson.yaml', import.meta.url), 'utf8')
    .replace(/urls: \[.*\]/, `urls: [${slapd.url}]`)
    .replace(/bindDN: .*/, `bindDN: ${slapd.bindDN}`)
    .replace(/    tls: .*\n/, '')
    // the object's name in inbound flows and scopes, as docs/expressions.md shows it
    .replace(
      '      - { target: manager, source: manager }\n',
      "      - { target: manager, source: manager }\n      - { target: ldapRdn, expression: 'DNComponent(CRef([dn]),1)' }\n",
    )
    .replace(
      'scope: [[{ attribute: objectClass, operator: EQUALS, value: inetOrgPerson }]]',
      `scope: [[{ attribute: objectClass, operator: EQUALS, value: inetOrgPerson }, { attribute: dn, operator: ENDS_WITH, value: 'ou=people,${BASE_DN}' }]]`,
    );
  writeFileSync(
    join(dir, 'idsync.yaml'),
    `${template.replace('connectors:\n', 'connectors:\n  directory: { type: builtin }\n')}
  - name: people-out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: externalId }]]
    deprovision: delete
    flows:
      - { target: userName, source: mail }
      - { target: externalId, source: employeeId }
      - { target: displayName, source: displayName }
      - { target: manager, source: manager }
      - { target: nickName, source: ldapRdn }
  - name: groups-out
    connector: directory
    direction: outbound
    metaverseType: group
    objectType: group
    join: [[{ target: displayName }]]
    deprovision: delete
    flows:
      - { target: displayName, source: displayName }
      - { target: members, source: member }
`,
  );
}, 60_000);

afterAll(async () => {
  await slapd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function withEngine<T>(fn: (e: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.open(loadConfig(join(dir, 'idsync.yaml'), { env: { LDAP_PASSWORD: slapd.password } }));
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

function target() {
  const d = new Directory(join(dir, '.idsync', 'directory.db'));
  const snap = snapshot(d);
  d.close();
  return snap;
}

describe('OpenLDAP → engine → built-in directory', () => {
  it('provisions people with managers and groups with members', async () => {
    const report = await withEngine((e) => e.cycle());
    expect(report.status).toBe('ok');
    const snap = target();
    expect(snap.users['bob@example.test']).toMatchObject({
      displayName: 'Bob Baker',
      externalId: '1002',
      manager: '→ann@example.test',
      nickName: 'bob', // DNComponent(CRef([dn]),1) of uid=bob,ou=people,…
    });
    expect(snap.groups.staff).toEqual(['→ann@example.test', '→bob@example.test']);
  });

  it('follows a rename, a membership change and a delete by delta import', async () => {
    await slapd.modify(`dn: uid=cy,ou=people,${BASE_DN}
changetype: modrdn
newrdn: uid=cyrus
deleteoldrdn: 1

dn: cn=staff,ou=groups,${BASE_DN}
changetype: modify
add: member
member: uid=cyrus,ou=people,${BASE_DN}
-
delete: member
member: uid=ann,ou=people,${BASE_DN}

dn: uid=bob,ou=people,${BASE_DN}
changetype: delete
`);
    const report = await withEngine((e) => e.cycle());
    expect(report.status).toBe('ok');
    const imported = report.stats.find((s) => s.connector === 'corp-ldap' && s.phase === 'import')!;
    expect(imported.deleted).toBe(1);
    const snap = target();
    expect(snap.users['bob@example.test']).toBeUndefined();
    expect(snap.groups.staff).toEqual(['→cy@example.test']); // the rename kept the anchor: same account
    expect(snap.users['cy@example.test']!.nickName).toBe('cyrus'); // [dn] is the name as renamed
  });

  it('carries a change to the target in under 2 seconds in continuous mode', async () => {
    await withEngine(async (engine) => {
      const stop = new AbortController();
      const cycles: CycleReport[] = [];
      const serving = engine.serve({ intervalMs: 3_600_000, signal: stop.signal, debounceMs: 50 }, (r) => cycles.push(r));
      const shared = openSharedDirectory(join(dir, '.idsync', 'directory.db'));
      try {
        await waitFor(() => cycles.length >= 1, 20_000);
        const changedAt = Date.now();
        await slapd.modify(`dn: uid=ann,ou=people,${BASE_DN}\nchangetype: modify\nreplace: displayName\ndisplayName: Ann Changed\n`);
        const name = () => shared.directory.findBy('externalId', '1001')[0]?.attributes.displayName?.[0];
        await waitFor(() => name() === 'Ann Changed', 10_000);
        expect(Date.now() - changedAt).toBeLessThan(2_000);
      } finally {
        stop.abort();
        await serving;
        shared.release();
      }
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
