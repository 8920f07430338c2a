/**
 * A change of a connector's settings that changes what its import returns (an attribute added to an LDAP
 * connector's list) makes the next import of that connector a full one: a delta would bring the new
 * attribute only for entries that happen to change. Real OpenLDAP (RFC 4533 deltas).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Directory } from '../../src/directory/index.js';
import { Engine } from '../../src/engine/engine.js';
import { BASE_DN, BASE_LDIF, type Slapd, startSlapd } from '../helpers/slapd.js';
import { snapshot } from '../helpers/workspace.js';

const person = (uid: string, title: string) => `dn: uid=${uid},ou=people,${BASE_DN}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid}
sn: ${uid}
mail: ${uid}@example.test
title: ${title}
`;

const config = (slapd: Slapd, withTitle: boolean) => `
connectors:
  directory: { type: builtin }
  ldap:
    type: ldap
    flavor: openldap
    urls: [${slapd.url}]
    bindDN: ${slapd.bindDN}
    password: '\${env:LDAP_PASSWORD}'
    baseDN: ${BASE_DN}
    objectTypes:
      user:
        objectClasses: [inetOrgPerson]
        attributes: [uid, cn, mail${withTitle ? ', title' : ''}]
rules:
  - name: in
    connector: ldap
    direction: inbound
    objectType: user
    metaverseType: person
    join: [[{ source: uid, metaverse: accountName }]]
    project: true
    flows:
      - { target: accountName, source: uid }
      - { target: mail, source: mail }
      - { target: title, source: title }
  - name: out
    connector: directory
    direction: outbound
    metaverseType: person
    objectType: user
    join: [[{ target: userName }]]
    flows:
      - { target: userName, source: mail }
      - { target: title, source: title }
`;

let slapd: Slapd;
let dir: string;

beforeAll(async () => {
  slapd = await startSlapd({ ldif: [BASE_LDIF, person('ann', 'Engineer'), person('bob', 'Manager')].join('\n') });
  dir = mkdtempSync(join(tmpdir(), 'idsync-settings-'));
}, 60_000);

afterAll(async () => {
  await slapd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cycle() {
  const engine = await Engine.open(loadConfig(join(dir, 'idsync.yaml'), { env: { LDAP_PASSWORD: slapd.password } }));
  try {
    return await engine.cycle();
  } finally {
    await engine.close();
  }
}

const titles = () => {
  const directory = new Directory(join(dir, '.idsync', 'directory.db'));
  const users = snapshot(directory).users;
  directory.close();
  return Object.fromEntries(Object.entries(users).map(([name, u]) => [name, u.title ?? null]));
};

describe('a changed attribute list', () => {
  it('makes the next import of that connector a full one, so every entry brings the new attribute', async () => {
    writeFileSync(join(dir, 'idsync.yaml'), config(slapd, false));
    expect((await cycle()).status).toBe('ok');
    expect((await cycle()).stats.find((s) => s.connector === 'ldap' && s.phase === 'import')!.mode).toBe('delta');
    expect(titles()).toEqual({ 'ann@example.test': null, 'bob@example.test': null });

    writeFileSync(join(dir, 'idsync.yaml'), config(slapd, true));
    const next = await cycle();
    expect(next.stats.find((s) => s.connector === 'ldap' && s.phase === 'import')).toMatchObject({ status: 'ok', mode: 'full', updated: 2 });
    expect(titles()).toEqual({ 'ann@example.test': 'Engineer', 'bob@example.test': 'Manager' });

    // read once under the new settings, deltas go on
    expect((await cycle()).stats.find((s) => s.connector === 'ldap' && s.phase === 'import')!.mode).toBe('delta');
  }, 60_000);
});
