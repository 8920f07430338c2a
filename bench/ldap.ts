/**
 * LDAP connector benchmark: `node --import tsx bench/ldap.ts [--users 100000] [--groups 2000] [--ad-users 10000]`
 *
 * 1. OpenLDAP: loads N inetOrgPerson entries and M groups with slapadd into a throwaway slapd, then reads them
 *    with `ldapsearch` (paged, 1000 per page) and with the connector's full import, same attributes, same run.
 * 2. A delta import (RFC 4533) after 1,000 modifications.
 * 3. Samba AD: a full import of K users (skip with --ad-users 0).
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Connector } from '../src/connectors/contract.js';
import { ldapConnectorFactory } from '../src/connectors/ldap/index.js';
import { startSamba } from '../test/helpers/samba.js';
import { BASE_DN, BASE_LDIF, startSlapd } from '../test/helpers/slapd.js';
import { ldapsearchPaged, timed } from './ldap-tools.js';

const run = promisify(execFile);

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const USERS = option('users', 100_000);
const GROUPS = option('groups', 2_000);
const AD_USERS = option('ad-users', 10_000);
const MEMBERS_PER_GROUP = 50;
const silent = { debug() {}, info() {}, warn() {} };

function connector(settings: Record<string, unknown>): Connector {
  return ldapConnectorFactory.create('bench', ldapConnectorFactory.settings.parse(settings), {
    configDir: process.cwd(),
    stateDir: tmpdir(),
    log: silent,
  });
}

async function fullImport(c: Connector): Promise<{ objects: number; watermark: string | null | undefined }> {
  let objects = 0;
  let watermark: string | null | undefined;
  for await (const page of c.import({ mode: 'full', watermark: null, pageSize: 1000 })) {
    objects += page.changes.length;
    if (page.watermark !== undefined) watermark = page.watermark;
  }
  return { objects, watermark };
}

async function writeLdif(file: string): Promise<void> {
  const out = createWriteStream(file);
  const write = (s: string) =>
    out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await write(BASE_LDIF);
  for (let i = 0; i < USERS; i++) {
    await write(
      `\ndn: uid=user${i},ou=people,${BASE_DN}\nobjectClass: inetOrgPerson\nuid: user${i}\ncn: User ${i}\nsn: Number${i}\ngivenName: User\ndisplayName: User Number ${i}\nmail: user${i}@example.test\ntelephoneNumber: +1 555 ${String(i).padStart(7, '0')}\ntitle: Engineer\nemployeeNumber: ${i}\n`,
    );
  }
  for (let g = 0; g < GROUPS; g++) {
    const members = Array.from(
      { length: MEMBERS_PER_GROUP },
      (_, k) => `member: uid=user${(g * 37 + k * 101) % USERS},ou=people,${BASE_DN}`,
    );
    await write(
      `\ndn: cn=group${g},ou=groups,${BASE_DN}\nobjectClass: groupOfNames\ncn: group${g}\ndescription: Group ${g}\n${members.join('\n')}\n`,
    );
  }
  await new Promise<void>((resolve) => out.end(resolve));
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} cores, ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(freemem() / 2 ** 30).toFixed(1)} free), node ${process.version}`;
}

async function openldap(): Promise<void> {
  const file = join(tmpdir(), `idsync-bench-${process.pid}.ldif`);
  console.log(`generating ${USERS} users and ${GROUPS} groups …`);
  await writeLdif(file);
  const load = await timed(() => startSlapd({ ldif: '', ldifFile: file }));
  const slapd = load.value;
  console.log(`slapadd + start: ${(load.ms / 1000).toFixed(1)} s`);
  try {
    const settings = {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
    };
    const c = connector(settings);
    // the attributes the connector asks for, so that both read the same data
    const attributes = [
      'objectClass',
      'entryUUID',
      'uid',
      'cn',
      'sn',
      'givenName',
      'displayName',
      'mail',
      'telephoneNumber',
      'mobile',
      'title',
      'departmentNumber',
      'employeeNumber',
      'employeeType',
      'manager',
      'ou',
      'memberOf',
      'description',
      'member',
      'owner',
    ];
    // warm the server's caches once (and count), then measure each reader twice and keep the better run
    const entries = await ldapsearchPaged(slapd.url, slapd.bindDN, slapd.password, attributes, true);
    let best = { ldapsearch: Infinity, connector: Infinity, objects: 0, entries: 0 };
    let watermark: string | null | undefined;
    for (let round = 0; round < 2; round++) {
      const ls = await timed(() => ldapsearchPaged(slapd.url, slapd.bindDN, slapd.password, attributes));
      const imp = await timed(() => fullImport(c));
      watermark = imp.value.watermark;
      best = {
        ldapsearch: Math.min(best.ldapsearch, ls.ms),
        connector: Math.min(best.connector, imp.ms),
        objects: imp.value.objects,
        entries,
      };
    }
    const lsRate = best.entries / (best.ldapsearch / 1000);
    const cRate = best.objects / (best.connector / 1000);
    console.log(
      `ldapsearch paged (pr=1000): ${best.entries} entries in ${(best.ldapsearch / 1000).toFixed(2)} s = ${Math.round(lsRate)} entries/s`,
    );
    console.log(
      `connector full import:      ${best.objects} objects in ${(best.connector / 1000).toFixed(2)} s = ${Math.round(cRate)} objects/s (${((cRate / lsRate) * 100).toFixed(0)}% of ldapsearch; target ≥ 50%)`,
    );

    // 1,000 changes, then a delta
    const changes = Array.from(
      { length: 1000 },
      (_, i) =>
        `dn: uid=user${(i * 97) % USERS},ou=people,${BASE_DN}\nchangetype: modify\nreplace: title\ntitle: Changed ${i}\n`,
    );
    const changeFile = join(slapd.dir, 'changes.ldif');
    await writeFile(changeFile, changes.join('\n'));
    await run(
      'ldapmodify',
      ['-x', '-H', slapd.url, '-D', slapd.bindDN, '-w', slapd.password, '-f', changeFile],
      { maxBuffer: 64 << 20 },
    );
    const delta = await timed(async () => {
      let n = 0;
      for await (const page of c.import({ mode: 'delta', watermark: watermark!, pageSize: 1000 }))
        n += page.changes.length;
      return n;
    });
    console.log(
      `delta import (syncrepl) after 1000 modifications: ${delta.value} changes in ${delta.ms.toFixed(0)} ms`,
    );
    const empty = await timed(async () => {
      let n = 0;
      let next = watermark;
      for await (const page of c.import({ mode: 'delta', watermark: watermark!, pageSize: 1000 })) {
        n += page.changes.length;
        if (page.watermark) next = page.watermark;
      }
      for await (const page of c.import({ mode: 'delta', watermark: next!, pageSize: 1000 }))
        n += page.changes.length;
      return n;
    });
    console.log(`two deltas, the second with no change: ${empty.ms.toFixed(0)} ms`);
    await c.close();
  } finally {
    await slapd.stop();
  }
}

async function activeDirectory(): Promise<void> {
  if (AD_USERS <= 0) return;
  const dc = await startSamba();
  try {
    const ou = `OU=bench,${dc.baseDN}`;
    const perProcess = Math.ceil(AD_USERS / 4);
    const files: string[] = [];
    for (let p = 0; p < 4; p++) {
      const lines: string[] = p === 0 ? [`dn: ${ou}\nobjectClass: organizationalUnit\n`] : [];
      for (let i = p * perProcess; i < Math.min(AD_USERS, (p + 1) * perProcess); i++) {
        lines.push(
          `dn: CN=user${i},${ou}\nobjectClass: user\nsAMAccountName: user${i}\nuserPrincipalName: user${i}@example.test\ngivenName: User\nsn: ${i}\nmail: user${i}@example.test\n`,
        );
      }
      const file = join(dc.dir, `users${p}.ldif`);
      await writeFile(file, lines.join('\n'));
      files.push(file);
    }
    const add = (file: string) =>
      run('ldapadd', ['-x', '-H', dc.url, '-D', dc.bindDN, '-w', dc.password, '-f', file], {
        maxBuffer: 64 << 20,
      });
    const load = await timed(async () => {
      await add(files[0]!);
      await Promise.all(files.slice(1).map(add));
    });
    console.log(`Samba AD: ${AD_USERS} users added over LDAP in ${(load.ms / 1000).toFixed(1)} s`);
    const c = connector({
      urls: [dc.url],
      bindDN: dc.bindDN,
      password: dc.password,
      flavor: 'ad',
      baseDN: dc.baseDN,
      includeContainers: [ou],
    });
    const imp = await timed(() => fullImport(c));
    console.log(
      `Samba AD full import (DirSync watermark + paged search): ${imp.value.objects} objects in ${(imp.ms / 1000).toFixed(2)} s = ${Math.round(imp.value.objects / (imp.ms / 1000))} objects/s`,
    );
    const ls = await timed(() =>
      run(
        'ldapsearch',
        [
          '-x',
          '-LLL',
          '-H',
          dc.url,
          '-D',
          dc.bindDN,
          '-w',
          dc.password,
          '-b',
          ou,
          '-E',
          'pr=1000/noprompt',
          '(objectClass=user)',
        ],
        { maxBuffer: 1 << 30 },
      ),
    );
    console.log(`Samba AD ldapsearch paged, all attributes, same users: ${(ls.ms / 1000).toFixed(2)} s`);
    await c.close();
  } finally {
    await dc.stop();
  }
}

console.log(`machine: ${machine()}`);
await openldap();
await activeDirectory();
