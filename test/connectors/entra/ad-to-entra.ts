/**
 * Active Directory (a real Samba AD DC) → the Graph emulator through the engine, with the shipped
 * ad-to-entra template: 60 users and 3 groups, then a quiet delta cycle that sends nothing, a rename, a
 * disable, a deleted user, the same user back with its anchor (restored from deletedItems, not created), and a
 * synchronization reset that falls back to a full import by itself.
 *
 * Samba takes the standard ports, so every test that starts it lives in test/connectors/ldap/ad.test.ts,
 * one after the other: that file calls `adToEntraSuite()`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AD_BASE_DN, type SambaDc, startSamba } from '../../helpers/samba.js';
import { cycleIn } from '../../helpers/workspace.js';
import { GraphEmulator } from './emulator/graph.js';

const run = promisify(execFile);
const ROOT = `OU=entra,${AD_BASE_DN}`;
const STAFF = `OU=Staff,${ROOT}`;
const GROUPS = `OU=Groups,${ROOT}`;
const COUNT = 60;
/** enabled, no password required; 546: the same, disabled */
const ENABLED = 544;
const DISABLED = 546;

export function adToEntraSuite(): void {
  describe('AD (Samba) → Entra ID (Graph emulator) with the ad-to-entra template', () => {
    let dc: SambaDc;
    let emu: GraphEmulator;
    let folder: string;

    const dnOf = (i: number) => `CN=user${i},${STAFF}`;
    const upnOf = (i: number) => `user${i}@example.test`;
    const byUpn = (i: number) => emu.users().find((u) => u.userPrincipalName === upnOf(i));

    async function ldapmodify(ldif: string, add = false) {
      const file = join(dc.dir, `entra-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
      await writeFile(file, ldif);
      await run('ldapmodify', [...(add ? ['-a'] : []), '-x', '-H', dc.url, '-D', dc.bindDN, '-w', dc.password, '-f', file], { timeout: 120_000 });
    }

    function userLdif(i: number, extra = ''): string {
      const manager = i === 1 ? '' : `manager: ${dnOf(i <= 5 ? 1 : 2 + (i % 4))}\n`;
      return `dn: ${dnOf(i)}
objectClass: user
sAMAccountName: user${i}
userPrincipalName: ${upnOf(i)}
givenName: Given${i}
sn: Family${i}
displayName: Given${i} Family${i}
department: ${i % 2 ? 'Sales' : 'Research'}
title: Title ${i}
employeeID: E${1000 + i}
c: DE
co: Germany
l: Berlin
telephoneNumber: +49 30 ${1000 + i}
userAccountControl: ${i === 4 ? DISABLED : ENABLED}
${manager}${extra}`;
    }

    beforeAll(async () => {
      dc = await startSamba();
      emu = new GraphEmulator({ readAfterWriteMs: 300, deltaPageSize: 25 });
      await emu.start();
      const ous = [ROOT, STAFF, GROUPS].map((dn) => `dn: ${dn}\nobjectClass: organizationalUnit\n`).join('\n');
      const users = Array.from({ length: COUNT }, (_, n) => userLdif(n + 1)).join('\n');
      const members = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, n) => `member: ${dnOf(from + n)}`).join('\n');
      // global security groups (groupType 0x80000002) and a distribution group (2), which Graph cannot create
      const groups = `dn: CN=Team A,${GROUPS}\nobjectClass: group\nsAMAccountName: team-a\ngroupType: -2147483646\ndescription: first half\n${members(1, 30)}\n
dn: CN=Team B,${GROUPS}\nobjectClass: group\nsAMAccountName: team-b\ngroupType: -2147483646\n${members(31, 60)}\n
dn: CN=Newsletter,${GROUPS}\nobjectClass: group\nsAMAccountName: newsletter\ngroupType: 2\n${members(1, 5)}\n`;
      await ldapmodify(`${ous}\n${users}\n${groups}`, true);
      folder = mkdtempSync(join(tmpdir(), 'idsync-ad-entra-'));
      const template = readFileSync(new URL('../../../templates/ad-to-entra.yaml', import.meta.url), 'utf8')
        .replace(/urls: \[ldaps:.*\]/, `urls: [${dc.url}]`)
        .replace(/bindDN: .*/, `bindDN: '${dc.bindDN}'`)
        .replace("password: '${env:AD_PASSWORD}'", `password: '${dc.password}'`)
        .replace(/ {4}tls: .*\n/, '')
        .replaceAll(`OU=Staff,${AD_BASE_DN}`, STAFF)
        .replaceAll(`OU=Groups,${AD_BASE_DN}`, GROUPS)
        .replace('tenantId: contoso.onmicrosoft.com', `tenantId: ${emu.options.tenantId}`)
        .replace(/clientId: 0{8}-.*/, 'clientId: app-1')
        .replace("clientSecret: '${env:ENTRA_CLIENT_SECRET}'", `clientSecret: emulator-secret-value\n    authority: ${emu.url}\n    graphUrl: ${emu.url}\n    consistencyWait: 3\n    rateLimit: 0`);
      writeFileSync(join(folder, 'idsync.yaml'), template);
    }, 300_000);

    afterAll(async () => {
      await emu?.stop();
      await dc?.stop();
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    it('provisions users with the source anchor, UPN, profile, manager, disabled state, and security groups with members', async () => {
      const report = await cycleIn(folder);
      expect(report.status).toBe('ok');
      const users = emu.users();
      expect(users).toHaveLength(COUNT);
      const anchors = new Set(users.map((u) => u.onPremisesImmutableId));
      expect(anchors.size).toBe(COUNT);
      for (const a of anchors) expect(Buffer.from(String(a), 'base64')).toHaveLength(16); // a GUID, base64
      const u7 = byUpn(7)!;
      expect(u7).toMatchObject({
        displayName: 'Given7 Family7', givenName: 'Given7', surname: 'Family7', mailNickname: 'user7', department: 'Sales',
        jobTitle: 'Title 7', employeeId: 'E1007', usageLocation: 'DE', country: 'Germany', city: 'Berlin',
        businessPhones: ['+49 30 1007'], accountEnabled: true,
      });
      expect(byUpn(4)!.accountEnabled).toBe(false);
      expect(u7.manager).toBe(byUpn(2 + (7 % 4))!.id);
      const groups = emu.groups();
      expect(groups.map((g) => g.displayName).sort()).toEqual(['Team A', 'Team B']);
      const teamA = groups.find((g) => g.displayName === 'Team A')!;
      expect(teamA).toMatchObject({ mailNickname: 'team-a', securityEnabled: true, mailEnabled: false, description: 'first half' });
      expect(new Set(teamA.members as string[])).toEqual(new Set(Array.from({ length: 30 }, (_, n) => byUpn(n + 1)!.id)));
    });

    it('a delta cycle with nothing changed in AD sends nothing to Entra', async () => {
      // the first delta reads back the consistency-guid writeback and the connector's own creates
      expect((await cycleIn(folder)).status).toBe('ok');
      const writes = emu.counters.writes;
      const report = await cycleIn(folder);
      expect(report.status).toBe('ok');
      expect(report.stats.find((s) => s.connector === 'entra' && s.phase === 'import')).toMatchObject({ mode: 'delta', method: 'Graph delta query (@odata.deltaLink)' });
      expect(emu.counters.writes).toBe(writes);
    });

    it('a rename and a disable in AD reach Entra as minimal updates', async () => {
      const logged = emu.log.length;
      await ldapmodify(`dn: ${dnOf(9)}
changetype: modrdn
newrdn: CN=user9-renamed
deleteoldrdn: 1

dn: CN=user9-renamed,${STAFF}
changetype: modify
replace: displayName
displayName: Renamed Nine
-
replace: sn
sn: Renamed

dn: ${dnOf(10)}
changetype: modify
replace: userAccountControl
userAccountControl: ${DISABLED}
`);
      const report = await cycleIn(folder);
      expect(report.status).toBe('ok');
      expect(byUpn(9)).toMatchObject({ displayName: 'Renamed Nine', surname: 'Renamed' });
      expect(byUpn(10)!.accountEnabled).toBe(false);
      // two minimal PATCHes (in one $batch), nothing else written
      const written = emu.log.slice(logged).filter((l) => l.method !== 'GET' && l.path !== '/$batch');
      expect(written.map((l) => `${l.method} ${l.path}`).sort()).toEqual([`PATCH /users/${byUpn(10)!.id}`, `PATCH /users/${byUpn(9)!.id}`].sort());
    });

    it('a user deleted in AD is deleted in Entra; back with the same anchor, it is restored, not created', async () => {
      const before = byUpn(11)!;
      await ldapmodify(`dn: ${dnOf(11)}\nchangetype: delete\n`);
      expect((await cycleIn(folder)).status).toBe('ok');
      expect(byUpn(11)).toBeUndefined();
      expect(emu.deletedUsers().map((u) => u.id)).toContain(before.id);
      const creates = emu.counters.creates;
      // the account comes back (recreated from a backup) with its ms-DS-ConsistencyGuid: the same sourceAnchor
      await ldapmodify(userLdif(11, `ms-DS-ConsistencyGuid:: ${before.onPremisesImmutableId}\n`), true);
      const report = await cycleIn(folder);
      expect(report.status).toBe('ok');
      expect(byUpn(11)?.id).toBe(before.id);
      expect(emu.counters.restores).toBe(1);
      expect(emu.counters.creates).toBe(creates);
      expect(emu.users()).toHaveLength(COUNT);
    });

    it('a synchronization reset (410 Gone) makes the next cycle run a full import by itself, creating nothing', async () => {
      const creates = emu.counters.creates;
      emu.resetDeltaTokens();
      const report = await cycleIn(folder);
      expect(report.status).toBe('ok');
      const entraImport = report.stats.find((s) => s.connector === 'entra' && s.phase === 'import')!;
      expect(entraImport.mode).toBe('full');
      expect(entraImport.detail).toContain('a full import ran instead');
      expect(emu.counters.deltaGone).toBe(1);
      expect(emu.counters.creates).toBe(creates);
    });
  });
}
