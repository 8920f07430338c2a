/**
 * A target that cannot be reached or refuses idsync's credentials is the connection's failure, not its
 * objects': the cycle sends nothing to it and says so (failed, not ok), and once the administrator fixes
 * the password the next cycle sends everything at once, with no backoff to wait out. Real OpenLDAP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type CycleReport, Engine } from '../../src/engine/engine.js';
import { PEOPLE_HEADER, personRow, samplePeople } from '../../src/samples/people.js';
import { BASE_DN, BASE_LDIF, type Slapd, startSlapd } from '../helpers/slapd.js';

const CONFIG = (slapd: Slapd) => `
connectors:
  hr: { type: csv, path: hr.csv, objectType: person, anchor: employeeId }
  ldap:
    type: ldap
    flavor: openldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: '\${env:LDAP_PASSWORD}'
    baseDN: ${BASE_DN}
    timeouts: { connectMs: 2000, operationMs: 10000 }
    objectTypes:
      user:
        objectClasses: [inetOrgPerson]
        attributes: [uid, cn, sn, mail]
        rdnAttribute: uid
        container: ou=people,${BASE_DN}
rules:
  - name: in
    connector: hr
    direction: inbound
    objectType: person
    metaverseType: person
    join: [[{ source: employeeId, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeId }
      - { target: familyName, source: lastName }
      - { target: displayName, expression: 'Join(" ", [firstName], [lastName])' }
  - name: out
    connector: ldap
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: uid }]]
    flows:
      - { target: uid, source: employeeId }
      - { target: cn, source: displayName }
      - { target: sn, source: familyName }
`;

let slapd: Slapd;
let dir: string;

function writeFeed(people: number): void {
  writeFileSync(join(dir, 'hr.csv'), `${[PEOPLE_HEADER, ...[...samplePeople(people)].map(personRow)].join('\n')}\n`);
}

beforeAll(async () => {
  slapd = await startSlapd({ ldif: BASE_LDIF });
  dir = mkdtempSync(join(tmpdir(), 'idsync-unreachable-'));
  writeFileSync(join(dir, 'idsync.yaml'), CONFIG(slapd));
}, 60_000);

afterAll(async () => {
  await slapd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open = (password: string) => Engine.open(loadConfig(join(dir, 'idsync.yaml'), { env: { LDAP_PASSWORD: password } }));

async function cycle(password: string, before?: (engine: Engine) => void) {
  const engine = await open(password);
  try {
    before?.(engine);
    return { report: await engine.cycle(), status: await engine.status() };
  } finally {
    await engine.close();
  }
}

const statOf = (report: CycleReport, phase: string) => report.stats.find((s) => s.connector === 'ldap' && s.phase === phase)!;

async function ldapUsers(): Promise<number> {
  const engine = await open(slapd.password);
  try {
    let n = 0;
    for await (const page of engine.connector('ldap').import({ mode: 'full', watermark: null, pageSize: 500 })) {
      n += page.changes.filter((c) => c.kind === 'upsert' && c.object.objectType === 'user').length;
    }
    return n;
  } finally {
    await engine.close();
  }
}

describe('a target that refuses the bind or cannot be reached', () => {
  it('gets no export attempt after its import failed to bind; once the password is fixed, the next cycle creates everything', async () => {
    writeFeed(200);
    const wrong = await cycle('not-the-password');
    expect(wrong.report.status).toBe('failed');
    expect(statOf(wrong.report, 'import')).toMatchObject({ status: 'failed', detail: expect.stringContaining('refused') });
    // no create was attempted against a target that just refused the bind: nothing failed per object
    expect(statOf(wrong.report, 'export')).toMatchObject({ status: 'skipped', added: 0, errors: 0 });
    expect(statOf(wrong.report, 'export').detail).toMatch(/^not exported: its import could not connect \(.*\); 200 changes wait for the next cycle$/);
    expect(wrong.status.errors).toEqual([]);
    expect(JSON.stringify(wrong.report)).not.toContain('not-the-password');

    const fixed = await cycle(slapd.password);
    expect(fixed.report.status).toBe('ok');
    expect(statOf(fixed.report, 'export')).toMatchObject({ status: 'ok', added: 200, errors: 0 });
    expect(await ldapUsers()).toBe(200);
  }, 120_000);

  it('lost during the export: it stops after the batch that failed, and the next cycle sends the rest without a backoff', async () => {
    writeFeed(800); // 600 creates: two batches
    let batches = 0;
    const lost = await cycle(slapd.password, (engine) => {
      // the server goes away after the target's import, as the export begins
      const ldap = engine.connector('ldap');
      const send = ldap.export!.bind(ldap);
      ldap.export = async function* (changes) {
        batches++;
        await slapd.kill();
        yield* send(changes);
      };
    });
    expect(batches, JSON.stringify([statOf(lost.report, "export"), lost.status.errors.slice(0, 3)])).toBe(1);
    expect(lost.report.status).toBe('failed');
    expect(statOf(lost.report, 'import').status).toBe('ok');
    expect(statOf(lost.report, 'export')).toMatchObject({ status: 'failed', added: 0, errors: 0 });
    expect(statOf(lost.report, 'export').detail).toMatch(/^LDAP_CONNECT(ION_LOST|_FAILED): .*: the export stopped; \d+ changes wait for the next cycle$/);
    expect(lost.status.errors).toEqual([]);

    await slapd.restart();
    const next = await cycle(slapd.password);
    expect(next.report.status, JSON.stringify(next.report.stats)).toBe('ok');
    expect(statOf(next.report, 'export')).toMatchObject({ status: 'ok', added: 600, errors: 0 });
    expect(await ldapUsers()).toBe(800);
  }, 120_000);
});
