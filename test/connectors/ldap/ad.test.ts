/**
 * The LDAP connector, and the engine with it, against a real Samba AD DC. Samba takes the standard ports, so
 * every AD test is in this one file: one provision for the connector tests, one for the engine's, one after the
 * other (the last, AD → Entra ID with the ad-to-entra template, is written in test/connectors/entra/ad-to-entra.ts).
 */
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ImportChange } from '../../../src/connectors/contract.js';
import { guidToString } from '../../../src/connectors/ldap/values.js';
import { AD_BASE_DN, type SambaDc, startSamba } from '../../helpers/samba.js';
import { BASE_DN, BASE_LDIF, danglingReferences, entriesOf, type Slapd, startSlapd } from '../../helpers/slapd.js';
import { cycleIn, freshLoad } from '../../helpers/workspace.js';
import { byName, exportAll, importAll, ldapConnector, upserts } from './support.js';
import { adToEntraSuite } from '../entra/ad-to-entra.js';

const run = promisify(execFile);
const ROOT = `OU=idsync,${AD_BASE_DN}`;
const USERS = `OU=Users,${ROOT}`;
const GROUPS = `OU=Groups,${ROOT}`;
const BULK = `OU=Bulk,${ROOT}`;
const BIG_GROUP_SIZE = 2000;
const PASSWORD = 'S3cret-Passw0rd!x';

describe('ldap connector against Samba AD', () => {
  let dc: SambaDc;
  let connector: Connector;
  let secure: Connector;
  const connectors: Connector[] = [];

  function adConnector(name: string, extra: Record<string, unknown> = {}): Connector {
    const c = ldapConnector(name, {
      urls: [dc.url],
      bindDN: dc.bindDN,
      password: dc.password,
      flavor: 'ad',
      baseDN: AD_BASE_DN,
      includeContainers: [ROOT],
      ...extra,
    });
    connectors.push(c);
    return c;
  }

  async function ldapmodify(ldif: string, add = false) {
    const file = join(dc.dir, `change-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
    await writeFile(file, ldif);
    await run(
      'ldapmodify',
      [...(add ? ['-a'] : []), '-x', '-H', dc.url, '-D', dc.bindDN, '-w', dc.password, '-f', file],
      {
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  }

  beforeAll(async () => {
    dc = await startSamba();
    const ous = [ROOT, USERS, GROUPS, BULK, `OU=Archive,${ROOT}`]
      .map((dn) => `dn: ${dn}\nobjectClass: organizationalUnit\n`)
      .join('\n');
    const bulk = Array.from(
      { length: BIG_GROUP_SIZE },
      (_, i) => `dn: CN=bulk${i},${BULK}\nobjectClass: user\nsAMAccountName: bulk${i}\n`,
    ).join('\n');
    await ldapmodify(`${ous}\n${bulk}`, true);
    await ldapmodify(
      `dn: CN=big,${GROUPS}\nobjectClass: group\nsAMAccountName: big\n${Array.from({ length: BIG_GROUP_SIZE }, (_, i) => `member: CN=bulk${i},${BULK}`).join('\n')}\n`,
      true,
    );
    connector = adConnector('corp-ad');
    const cert = new X509Certificate(
      await import('node:fs').then((fs) => fs.readFileSync(join(dc.dir, 'private', 'tls', 'cert.pem'))),
    );
    const serverName = /CN=([^\n,]+)/.exec(cert.subject)?.[1];
    secure = adConnector('corp-ad-tls', { urls: [dc.ldapsUrl], tls: { ca: dc.caPem, serverName } });
    const results = await exportAll(connector, [
      ...['amy', 'ben', 'cho', 'dan', 'eve'].map((u) => ({
        op: 'create' as const,
        id: u,
        objectType: 'user',
        name: `CN=${u},${USERS}`,
        attributes: {
          sAMAccountName: [u],
          userPrincipalName: [`${u}@example.test`],
          givenName: [u.toUpperCase()],
          mail: [`${u}@example.test`],
          proxyAddresses: [`SMTP:${u}@example.test`, `smtp:${u}.alias@example.test`],
        },
      })),
      {
        op: 'create',
        id: 'g',
        objectType: 'group',
        name: `CN=team,${GROUPS}`,
        attributes: { sAMAccountName: ['team'] },
      },
    ]);
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    const team = results.get('g')!;
    await exportAll(connector, [
      {
        op: 'update',
        id: 'm',
        objectType: 'group',
        anchor: team.ok ? team.anchor! : '',
        changes: { member: { add: [{ ref: `CN=amy,${USERS}` }, { ref: `CN=ben,${USERS}` }] } },
      },
    ]);
  }, 240_000);

  afterAll(async () => {
    for (const c of connectors) await c.close();
    await dc?.stop();
  });

  it('imports users and groups with GUID anchors, binary SIDs, references and the disabled flag', async () => {
    const { changes, watermark } = await importAll(connector);
    expect(watermark).toMatch(/^dirsync:/);
    const amy = byName(changes, `CN=amy,${USERS}`)!;
    expect(amy.objectType).toBe('user');
    expect(amy.anchor).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(guidToString(amy.attributes.objectGUID![0] as Uint8Array)).toBe(amy.anchor);
    expect(amy.attributes.objectSid![0]).toBeInstanceOf(Uint8Array);
    expect(amy.attributes.proxyAddresses).toEqual(
      expect.arrayContaining(['SMTP:amy@example.test', 'smtp:amy.alias@example.test']),
    );
    expect(amy.attributes.memberOf).toEqual([{ ref: `CN=team,${GROUPS}` }]);
    // created without a password, AD leaves the account disabled
    expect(amy.attributes.accountDisabled).toEqual([true]);
    const team = byName(changes, `CN=team,${GROUPS}`)!;
    expect(team.attributes.member).toEqual(
      expect.arrayContaining([{ ref: `CN=amy,${USERS}` }, { ref: `CN=ben,${USERS}` }]),
    );
  });

  it(`reads all ${BIG_GROUP_SIZE} members of a large group (range retrieval)`, async () => {
    const [big] = await connector.lookup!('group', 'sAMAccountName', ['big']);
    expect(big!.attributes.member).toHaveLength(BIG_GROUP_SIZE);
    expect(new Set(big!.attributes.member!.map((m) => (m as { ref: string }).ref)).size).toBe(BIG_GROUP_SIZE);
    const { changes } = await importAll(connector, { pageSize: 100 });
    expect(byName(changes, `CN=big,${GROUPS}`)!.attributes.member).toHaveLength(BIG_GROUP_SIZE);
  });

  it('sets a password and enables the account over LDAPS, then disables it', async () => {
    const [ben] = await connector.lookup!('user', 'sAMAccountName', ['ben']);
    const enable = await exportAll(secure, [
      {
        op: 'update',
        id: 'pw',
        objectType: 'user',
        anchor: ben!.anchor,
        changes: { unicodePwd: { replace: [PASSWORD] }, accountDisabled: { replace: [false] } },
      },
    ]);
    expect(enable.get('pw')).toMatchObject({ ok: true });
    const [enabled] = await connector.lookup!('user', 'sAMAccountName', ['ben']);
    expect(enabled!.attributes.accountDisabled).toEqual([false]);
    expect(Number(enabled!.attributes.userAccountControl![0]) & 2).toBe(0);
    // the password works: ben can bind
    const asBen = adConnector('as-ben', {
      urls: [dc.ldapsUrl],
      bindDN: ben!.name,
      password: PASSWORD,
      tls: { ca: dc.caPem, rejectUnauthorized: false },
    });
    await asBen.test();

    const disable = await exportAll(connector, [
      {
        op: 'update',
        id: 'off',
        objectType: 'user',
        anchor: ben!.anchor,
        changes: { accountDisabled: { replace: [true] } },
      },
    ]);
    expect(disable.get('off')).toMatchObject({ ok: true });
    const [disabled] = await connector.lookup!('user', 'sAMAccountName', ['ben']);
    expect(disabled!.attributes.accountDisabled).toEqual([true]);
    // the other bits of userAccountControl are kept
    expect(Number(disabled!.attributes.userAccountControl![0])).toBe(
      Number(enabled!.attributes.userAccountControl![0]) | 2,
    );
    const refused = await asBen.test().then(
      () => undefined,
      (e: unknown) => e as { code: string },
    );
    expect(refused?.code).toBe('LDAP_BIND_FAILED');
    expect(connector.capabilities.disableAttributes).toEqual({ accountDisabled: [true] });
  });

  it('connects over StartTLS and with a pinned certificate, and refuses a wrong pin', async () => {
    const pem = readFileSync(join(dc.dir, 'private', 'tls', 'cert.pem'), 'utf8');
    const pin = createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
    const startTls = adConnector('starttls', {
      tls: { startTls: true, ca: dc.caPem, rejectUnauthorized: false },
    });
    await startTls.test();
    // StartTLS counts as encrypted: a password may be set over it
    const [amy] = await connector.lookup!('user', 'sAMAccountName', ['amy']);
    const pw = await exportAll(startTls, [
      {
        op: 'update',
        id: 'pw',
        objectType: 'user',
        anchor: amy!.anchor,
        changes: { unicodePwd: { replace: [PASSWORD] } },
      },
    ]);
    expect(pw.get('pw')).toMatchObject({ ok: true });
    const pinned = adConnector('pinned', {
      urls: [dc.ldapsUrl],
      tls: { pinSha256: pin, rejectUnauthorized: false },
    });
    await pinned.test();
    const wrong = adConnector('wrong-pin', {
      urls: [dc.ldapsUrl],
      tls: { pinSha256: 'ab'.repeat(32), rejectUnauthorized: false },
    });
    await expect(wrong.test()).rejects.toMatchObject({ code: 'LDAP_CONNECT_FAILED' });
    // without the CA, the self-signed chain is refused
    const untrusted = adConnector('untrusted', { urls: [dc.ldapsUrl] });
    await expect(untrusted.test()).rejects.toMatchObject({ code: 'LDAP_CONNECT_FAILED' });
  });

  it('types AD attributes from the server schema', async () => {
    const schema = await connector.schema();
    const user = schema.objectTypes.user!.attributes;
    expect(user.objectGUID).toMatchObject({ type: 'binary', multiValued: false, readOnly: true });
    expect(user.objectSid).toMatchObject({ type: 'binary' });
    expect(user.manager).toMatchObject({ type: 'reference', multiValued: false });
    expect(user.proxyAddresses).toMatchObject({ type: 'string', multiValued: true });
    expect(user.accountDisabled).toMatchObject({ type: 'boolean' });
    expect(user.unicodePwd).toMatchObject({ secret: true });
    expect(schema.objectTypes.group!.attributes.member).toMatchObject({
      type: 'reference',
      multiValued: true,
    });
  });

  it('creates an enabled user with an initial password over LDAPS, and refuses passwords over plain LDAP', async () => {
    const results = await exportAll(secure, [
      {
        op: 'create',
        id: 'new',
        objectType: 'user',
        name: `CN=fay,${USERS}`,
        attributes: { sAMAccountName: ['fay'], unicodePwd: [PASSWORD], accountDisabled: [false] },
      },
    ]);
    expect(results.get('new')).toMatchObject({ ok: true, name: `CN=fay,${USERS}` });
    const [fay] = await connector.lookup!('user', 'sAMAccountName', ['fay']);
    expect(fay!.attributes.accountDisabled).toEqual([false]);

    const plain = await exportAll(connector, [
      {
        op: 'update',
        id: 'pw',
        objectType: 'user',
        anchor: fay!.anchor,
        changes: { unicodePwd: { replace: [PASSWORD] } },
      },
    ]);
    const result = plain.get('pw')!;
    expect(result).toMatchObject({ ok: false, error: { code: 'LDAP_PASSWORD_NEEDS_TLS', retryable: false } });
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
  });

  it('writes objectGUID into ms-DS-ConsistencyGuid when configured, and anchors on it', async () => {
    const writeback = adConnector('writeback', {
      anchorAttribute: 'ms-DS-ConsistencyGuid',
      ad: { consistencyGuidWriteback: true },
    });
    const results = await exportAll(writeback, [
      {
        op: 'create',
        id: 'wb',
        objectType: 'user',
        name: `CN=gus,${USERS}`,
        attributes: { sAMAccountName: ['gus'] },
      },
    ]);
    const created = results.get('wb')!;
    expect(created.ok).toBe(true);
    const [gus] = await writeback.lookup!('user', 'sAMAccountName', ['gus']);
    const guid = gus!.attributes.objectGUID![0] as Uint8Array;
    expect([...(gus!.attributes['ms-DS-ConsistencyGuid']![0] as Uint8Array)]).toEqual([...guid]);
    expect(gus!.anchor).toBe(guidToString(guid));
    expect(created.ok && created.anchor).toBe(gus!.anchor);
  });

  it('reports export errors with their result codes and goes on with the batch', async () => {
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'dup',
        objectType: 'user',
        name: `CN=amy,${USERS}`,
        attributes: { sAMAccountName: ['amy2'] },
      },
      {
        op: 'create',
        id: 'sam-taken',
        objectType: 'user',
        name: `CN=amy-again,${USERS}`,
        attributes: { sAMAccountName: ['amy'] },
      },
      {
        op: 'create',
        id: 'nowhere',
        objectType: 'user',
        name: `CN=x,OU=nowhere,${ROOT}`,
        attributes: { sAMAccountName: ['xnowhere'] },
      },
      {
        op: 'create',
        id: 'ok',
        objectType: 'user',
        name: `CN=hal,${USERS}`,
        attributes: { sAMAccountName: ['hal'] },
      },
    ]);
    expect(results.get('dup')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_ENTRY_ALREADY_EXISTS', remoteCode: 68 },
    });
    const taken = results.get('sam-taken')!;
    expect(taken.ok).toBe(false);
    expect(taken.ok ? 0 : taken.error.remoteCode).toBeGreaterThan(0);
    expect(results.get('nowhere')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_NO_SUCH_OBJECT', remoteCode: 32 },
    });
    expect(results.get('ok')).toMatchObject({ ok: true });
  });

  /** adds, modifies, renames, moves, deletes, and membership changes */
  async function makeChanges(tag: string, anchors: Map<string, string>, teamAnchor: string) {
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'add',
        objectType: 'user',
        name: `CN=new-${tag},${USERS}`,
        attributes: { sAMAccountName: [`new-${tag}`] },
      },
      {
        op: 'update',
        id: 'mod',
        objectType: 'user',
        anchor: anchors.get('amy')!,
        changes: { title: { replace: [`Title ${tag}`] } },
      },
      {
        op: 'update',
        id: 'ren',
        objectType: 'user',
        anchor: anchors.get('cho')!,
        newName: `CN=cho-${tag},${USERS}`,
        changes: {},
      },
      {
        op: 'update',
        id: 'mov',
        objectType: 'user',
        anchor: anchors.get('dan')!,
        newName: `CN=dan-${tag},OU=Archive,${ROOT}`,
        changes: {},
      },
      { op: 'delete', id: 'del', objectType: 'user', anchor: anchors.get('eve')! },
      {
        op: 'update',
        id: 'mem',
        objectType: 'group',
        anchor: teamAnchor,
        changes: { member: { add: [{ ref: `CN=hal,${USERS}` }], remove: [{ ref: `CN=amy,${USERS}` }] } },
      },
    ]);
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
  }

  async function recreate(anchorsByName: Map<string, string>) {
    // restore the objects makeChanges deleted/renamed, for the second delta mode
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'eve',
        objectType: 'user',
        name: `CN=eve,${USERS}`,
        attributes: { sAMAccountName: ['eve'] },
      },
    ]);
    const eve = results.get('eve')!;
    anchorsByName.set('eve', eve.ok ? eve.anchor! : '');
  }

  function anchorsOf(changes: ImportChange[]): Map<string, string> {
    return new Map(upserts(changes).map((o) => [String(o.attributes.sAMAccountName?.[0]), o.anchor]));
  }

  it('DirSync delta: adds, modifies, renames, moves, deletes as tombstones, members as value changes', async () => {
    const full = await importAll(connector);
    const anchors = anchorsOf(full.changes);
    await makeChanges('ds', anchors, anchors.get('team')!);
    const delta = await importAll(connector, { mode: 'delta', watermark: full.watermark! });
    const objects = upserts(delta.changes);
    expect(objects.find((o) => o.name === `CN=new-ds,${USERS}`)).toBeDefined();
    expect(objects.find((o) => o.anchor === anchors.get('amy'))?.attributes.title).toEqual(['Title ds']);
    expect(objects.find((o) => o.anchor === anchors.get('cho'))?.name).toBe(`CN=cho-ds,${USERS}`);
    expect(objects.find((o) => o.anchor === anchors.get('dan'))?.name).toBe(`CN=dan-ds,OU=Archive,${ROOT}`);
    expect(delta.changes).toContainEqual({ kind: 'delete', anchor: anchors.get('eve') });
    const membership = delta.changes.find((c) => c.kind === 'modify' && c.anchor === anchors.get('team'));
    expect(membership).toMatchObject({
      kind: 'modify',
      objectType: 'group',
      name: `CN=team,${GROUPS}`,
      changes: { member: { add: [{ ref: `CN=hal,${USERS}` }], remove: [{ ref: `CN=amy,${USERS}` }] } },
    });
    // untouched objects are not in the delta
    expect(objects.find((o) => o.anchor === anchors.get('ben'))).toBeUndefined();
    const again = await importAll(connector, { mode: 'delta', watermark: delta.watermark! });
    expect(upserts(again.changes).filter((o) => o.objectType === 'user')).toEqual([]);

    // one member more in the 2,000-member group comes as one value, not as the whole list
    const big = (await connector.lookup!('group', 'sAMAccountName', ['big']))[0]!;
    await exportAll(connector, [
      {
        op: 'update',
        id: 'big',
        objectType: 'group',
        anchor: big.anchor,
        changes: { member: { add: [{ ref: `CN=ben,${USERS}` }] } },
      },
    ]);
    const bigDelta = await importAll(connector, { mode: 'delta', watermark: again.watermark! });
    expect(bigDelta.changes.find((c) => c.kind === 'modify' && c.anchor === big.anchor)).toMatchObject({
      changes: { member: { add: [{ ref: `CN=ben,${USERS}` }] } },
    });
  });

  it('uSNChanged fallback: the same changes, deletes from tombstones', async () => {
    const usn = adConnector('usn', { delta: 'usnchanged' });
    const full = await importAll(usn);
    expect(full.watermark).toMatch(/^usn:\d+$/);
    const anchors = anchorsOf(full.changes);
    await recreate(anchors);
    const afterRecreate = await importAll(usn, { mode: 'delta', watermark: full.watermark! });
    expect(upserts(afterRecreate.changes).map((o) => o.name)).toContain(`CN=eve,${USERS}`);
    const eveAnchor = anchors.get('eve')!;
    await exportAll(connector, [
      {
        op: 'update',
        id: 'mod',
        objectType: 'user',
        anchor: anchors.get('amy')!,
        changes: { title: { replace: ['Title usn'] } },
      },
      {
        op: 'update',
        id: 'mov',
        objectType: 'user',
        anchor: anchors.get('ben')!,
        newName: `CN=ben-usn,OU=Archive,${ROOT}`,
        changes: {},
      },
      { op: 'delete', id: 'del', objectType: 'user', anchor: eveAnchor },
    ]);
    const delta = await importAll(usn, { mode: 'delta', watermark: afterRecreate.watermark! });
    const objects = upserts(delta.changes);
    expect(objects.find((o) => o.anchor === anchors.get('amy'))?.attributes.title).toEqual(['Title usn']);
    expect(objects.find((o) => o.anchor === anchors.get('ben'))?.name).toBe(`CN=ben-usn,OU=Archive,${ROOT}`);
    expect(delta.changes).toContainEqual({ kind: 'delete', anchor: eveAnchor });
    expect(objects.find((o) => o.name === `CN=hal,${USERS}`)).toBeUndefined();
  });

  it('watch() notices a change by DirSync polling well within two seconds', async () => {
    const watcher = adConnector('watch', { watchIntervalMs: 500 });
    const controller = new AbortController();
    const iterator = watcher.watch!(controller.signal)[Symbol.asyncIterator]();
    await new Promise((r) => setTimeout(r, 2000));
    const [amy] = await connector.lookup!('user', 'sAMAccountName', ['amy']);
    const started = Date.now();
    const noticed = iterator.next().then(() => Date.now() - started);
    await exportAll(connector, [
      {
        op: 'update',
        id: 'w',
        objectType: 'user',
        anchor: amy!.anchor,
        changes: { title: { replace: ['Watched'] } },
      },
    ]);
    const elapsed = await noticed;
    controller.abort();
    await iterator.return?.();
    expect(elapsed).toBeLessThan(2000);
  });
});

/**
 * Issue 15 §1: references follow objects. Active Directory rewrites a renamed or moved object's DN in every
 * referrer's manager and member values without sending the referrers again (they are links), and
 * OpenLDAP without referential integrity mends nothing. After ONE cycle the target must be what a fresh load
 * of AD into an empty OpenLDAP gives.
 */
describe('engine: AD → OpenLDAP without referential integrity, references after one cycle', () => {
  // its own DC, provisioned after the connector tests' one has stopped: run alone, it skips their 2,000-user setup
  let dc: SambaDc;
  const REFS = `OU=Refs,${AD_BASE_DN}`;
  const PEOPLE = `OU=People,${REFS}`;
  const MOVED = `OU=Moved,${REFS}`;
  const TEAMS = `OU=Groups,${REFS}`;
  const COUNT = 60;
  let target: Slapd;
  let folder: string;

  function config(slapd: Slapd): string {
    return `
connectors:
  ad:
    type: ldap
    flavor: ad
    urls: [${dc.url}]
    bindDN: '${dc.bindDN}'
    password: '${dc.password}'
    baseDN: ${AD_BASE_DN}
    includeContainers: ['${REFS}']
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
  - name: ad-people-in
    connector: ad
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: employeeID, metaverse: employeeId }]]
    project: true
    flows:
      - { target: employeeId, source: employeeID }
      - { target: accountName, source: sAMAccountName }
      - { target: cn, source: cn }
      - { target: sn, source: sn }
      - { target: manager, source: manager }
  - name: ad-groups-in
    connector: ad
    direction: inbound
    objectType: group
    metaverseType: group
    join: [[{ source: sAMAccountName, metaverse: accountName }]]
    project: true
    flows:
      - { target: accountName, source: sAMAccountName }
      - { target: displayName, source: cn }
      - { target: members, source: member }
  - name: people-out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: uid }]]
    provision: true
    deprovision: delete
    flows:
      - { target: dn, expression: '"cn=" & [cn] & ",ou=people,${BASE_DN}"' }
      - { target: uid, source: accountName }
      - { target: cn, source: cn }
      - { target: sn, source: sn }
      - { target: manager, source: manager }
  - name: groups-out
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

  const dnOf = (i: number) => `CN=user${i},${PEOPLE}`;

  async function ldapmodify(ldif: string, add = false) {
    const file = join(dc.dir, `refs-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
    await writeFile(file, ldif);
    await run('ldapmodify', [...(add ? ['-a'] : []), '-x', '-H', dc.url, '-D', dc.bindDN, '-w', dc.password, '-f', file], { timeout: 120_000 });
  }

  beforeAll(async () => {
    dc = await startSamba();
    const ous = [REFS, PEOPLE, MOVED, TEAMS].map((dn) => `dn: ${dn}\nobjectClass: organizationalUnit\n`).join('\n');
    // 1 leads 2..5; each of the others reports to one of 2..5. Group "all" holds everyone, "leads" 1..5.
    const users = Array.from({ length: COUNT }, (_, n) => {
      const i = n + 1;
      const manager = i === 1 ? '' : `manager: ${dnOf(i <= 5 ? 1 : 2 + (i % 4))}\n`;
      return `dn: ${dnOf(i)}\nobjectClass: user\nsAMAccountName: refs${i}\nsn: Family${i}\nemployeeID: E${i}\n${manager}`;
    }).join('\n');
    const member = (ids: number[]) => ids.map((i) => `member: ${dnOf(i)}`).join('\n');
    const all = Array.from({ length: COUNT }, (_, n) => n + 1);
    const groups = `dn: CN=all,${TEAMS}\nobjectClass: group\nsAMAccountName: refs-all\n${member(all)}\n\ndn: CN=leads,${TEAMS}\nobjectClass: group\nsAMAccountName: refs-leads\n${member([1, 2, 3, 4, 5])}\n`;
    await ldapmodify(`${ous}\n${users}\n${groups}`, true);
    target = await startSlapd({ ldif: BASE_LDIF, memberofRefint: false });
    folder = mkdtempSync(join(tmpdir(), 'idsync-ad-refs-'));
    writeFileSync(join(folder, 'idsync.yaml'), config(target));
    expect((await cycleIn(folder)).status).toBe('ok');
    expect(Object.keys(await entries(target))).toHaveLength(COUNT + 2);
  }, 240_000);

  afterAll(async () => {
    await target?.stop();
    await dc?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('a manager renamed, another moved to another OU, a third (member of both groups) deleted: one delta cycle', async () => {
    await ldapmodify(`dn: ${dnOf(3)}
changetype: modrdn
newrdn: CN=user3-renamed
deleteoldrdn: 1

dn: ${dnOf(4)}
changetype: modrdn
newrdn: CN=user4
deleteoldrdn: 1
newsuperior: ${MOVED}

dn: ${dnOf(2)}
changetype: delete
`);
    const report = await cycleIn(folder);
    expect(report.stats.find((s) => s.connector === 'ad' && s.phase === 'import')?.mode).toBe('delta');
    expect(report.status).toBe('ok');
    const now = await entries(target);
    expect(now[`cn=user3-renamed,ou=people,${BASE_DN}`.toLowerCase()]).toBeDefined();
    expect(now[`cn=user9,ou=people,${BASE_DN}`]!.manager).toEqual([`cn=user3-renamed,ou=people,${BASE_DN}`]);
    expect(now[`cn=user10,ou=people,${BASE_DN}`]!.manager).toEqual([`cn=user4,ou=people,${BASE_DN}`]);
    expect(now[`cn=all,ou=groups,${BASE_DN}`]!.member).toHaveLength(COUNT - 1);
    expect(danglingReferences(now)).toEqual([]);
    expect(now).toEqual(await freshLoad(config, ATTRIBUTES));
    // and the next delta, with no change in AD, keeps it so (a referrer synced again resolves the same way)
    await ldapmodify(`dn: CN=all,${TEAMS}\nchangetype: modify\nreplace: description\ndescription: touched\n`);
    expect((await cycleIn(folder)).status).toBe('ok');
    expect(await entries(target)).toEqual(now);
  });

  it('one `run --full` right after a rename and a delete gets there too', async () => {
    await ldapmodify(`dn: ${dnOf(5)}
changetype: modrdn
newrdn: CN=user5-renamed
deleteoldrdn: 1

dn: ${dnOf(1)}
changetype: delete
`);
    const report = await cycleIn(folder, { full: true });
    expect(report.status).toBe('ok');
    const now = await entries(target);
    expect(danglingReferences(now)).toEqual([]);
    expect(now).toEqual(await freshLoad(config, ATTRIBUTES));
  });
});

// AD → Entra ID (Graph emulator) with the shipped ad-to-entra template: its own DC, after the ones above
adToEntraSuite();
