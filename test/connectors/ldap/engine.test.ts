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
import { importAll, ldapConnector, upserts } from './support.js';

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

  it('runs a full import by itself when the server refuses the sync cookie, then deltas again', async () => {
    const before = target();
    // what idsync holds when slapd was SIGKILLed and restarted on older state: a cookie from the server's future
    const held = await withEngine(async (e) => {
      const watermark = (await e.store.getWatermark('corp-ldap'))!;
      expect(watermark).toMatch(/^syncrepl:.*csn=\d{14}/);
      const future = watermark.replace(/csn=\d{14}/, 'csn=20991231235959');
      await e.store.setWatermark('corp-ldap', future);
      return future;
    });
    const report = await withEngine((e) => e.cycle());
    expect(report.status).toBe('ok');
    const imported = report.stats.find((s) => s.connector === 'corp-ldap' && s.phase === 'import')!;
    expect(imported).toMatchObject({ status: 'ok', mode: 'full', deleted: 0 });
    expect(imported.detail).toMatch(/newer than provider.*a full import ran instead/);
    expect(target()).toEqual(before); // the full import found everything where it was

    const next = await withEngine(async (e) => {
      const watermark = await e.store.getWatermark('corp-ldap');
      expect(watermark).toMatch(/^syncrepl:/);
      expect(watermark).not.toBe(held);
      return e.cycle();
    });
    expect(next.status).toBe('ok');
    expect(next.stats.find((s) => s.connector === 'corp-ldap' && s.phase === 'import')).toMatchObject({
      status: 'ok',
      mode: 'delta',
    });
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

/**
 * The other direction: an HR feed provisions OpenLDAP, naming each entry by cn under an OU per department
 * that does not exist yet, and flowing cn too; a changed surname renames the entry.
 */
describe('HR feed → engine → OpenLDAP: missing containers and renames with the RDN attribute flowed', () => {
  const staff = `ou=staff,${BASE_DN}`;
  let hrDir: string;

  const feed = (rows: string[][]) =>
    writeFileSync(join(hrDir, 'hr.csv'), `id,first,last,dept\n${rows.map((r) => r.join(',')).join('\n')}\n`);

  async function hrCycle(): Promise<CycleReport> {
    const engine = await Engine.open(loadConfig(join(hrDir, 'idsync.yaml'), { env: { LDAP_PASSWORD: slapd.password } }));
    try {
      return await engine.cycle();
    } finally {
      await engine.close();
    }
  }

  async function entries(): Promise<Record<string, string[]>> {
    const ldap = ldapConnector('check', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: staff,
    });
    try {
      const objects = upserts((await importAll(ldap)).changes).filter((o) => o.objectType === 'user');
      return Object.fromEntries(objects.map((o) => [o.name!, (o.attributes.cn as string[]).slice().sort()]));
    } finally {
      await ldap.close();
    }
  }

  beforeAll(async () => {
    await slapd.modify(`dn: ${staff}\nchangetype: add\nobjectClass: organizationalUnit\nou: staff\n`);
    hrDir = mkdtempSync(join(tmpdir(), 'idsync-ldap-out-'));
    writeFileSync(
      join(hrDir, 'idsync.yaml'),
      `connectors:
  hr: { type: csv, path: hr.csv, anchor: id }
  staff-ldap:
    type: ldap
    flavor: openldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: '\${env:LDAP_PASSWORD}'
    baseDN: ${BASE_DN}
    includeContainers: ['${staff}']
    createMissingContainers: true
    objectTypes:
      user: { objectClasses: [inetOrgPerson], attributes: [cn, sn, employeeNumber] }
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
      - { target: givenName, source: first }
      - { target: sn, source: last }
      - { target: department, source: dept }
  - name: staff-out
    connector: staff-ldap
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: employeeNumber, metaverse: employeeId }]]
    deprovision: delete
    flows:
      - { target: dn, expression: '"cn=" & EscapeDNComponent(Join(" ", [givenName], [sn])) & ",ou=" & [department] & ",${staff}"' }
      - { target: cn, expression: 'Join(" ", [givenName], [sn])' }
      - { target: sn, source: sn }
      - { target: employeeNumber, source: employeeId }
`,
    );
  });

  afterAll(() => {
    if (hrDir) rmSync(hrDir, { recursive: true, force: true });
  });

  it('creates each missing department OU once: every person arrives in one cycle, no object errors', async () => {
    const people = [
      ['2001', 'Ada', 'Byron', 'research'],
      ['2002', 'Alan', 'Turing', 'research'],
      ['2003', 'Grace', 'Hopper', 'research'],
      ['2004', 'Edsger', 'Dijkstra', 'research'],
      ['2005', 'Barbara', 'Liskov', 'teaching'],
      ['2006', 'Donald', 'Knuth', 'teaching'],
    ];
    feed(people);
    const report = await hrCycle();
    const exported = report.stats.find((s) => s.connector === 'staff-ldap' && s.phase === 'export')!;
    expect(exported).toMatchObject({ added: 6, errors: 0 });
    expect(report.status).toBe('ok');
    const found = await entries();
    for (const [, first, last, dept] of people) {
      expect(found[`cn=${first} ${last},ou=${dept},${staff}`]).toEqual([`${first} ${last}`]);
    }
  });

  it('renames an entry whose cn flows from the same surname: one cycle, no noSuchAttribute', async () => {
    feed([
      ['2001', 'Ada', 'Lovelace', 'research'],
      ['2002', 'Alan', 'Turing', 'research'],
      ['2003', 'Grace', 'Hopper', 'research'],
      ['2004', 'Edsger', 'Dijkstra', 'research'],
      ['2005', 'Barbara', 'Liskov', 'teaching'],
      ['2006', 'Donald', 'Knuth', 'teaching'],
    ]);
    const report = await hrCycle();
    const exported = report.stats.find((s) => s.connector === 'staff-ldap' && s.phase === 'export')!;
    expect(exported).toMatchObject({ updated: 1, errors: 0 });
    expect(report.status).toBe('ok');
    const found = await entries();
    expect(found[`cn=Ada Byron,ou=research,${staff}`]).toBeUndefined();
    expect(found[`cn=Ada Lovelace,ou=research,${staff}`]).toEqual(['Ada Lovelace']);
    // and nothing is left to do
    const again = await hrCycle();
    expect(again.stats.find((s) => s.connector === 'staff-ldap' && s.phase === 'export')).toMatchObject({
      added: 0,
      updated: 0,
      errors: 0,
    });
  });
});
