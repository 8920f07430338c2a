import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ImportPage } from '../../../src/connectors/contract.js';
import { escapeDNValue } from '../../../src/connectors/ldap/dn.js';
import { BASE_DN, BASE_LDIF, type Slapd, startSlapd } from '../../helpers/slapd.js';
import { byName, exportAll, importAll, ldapConnector, upserts } from './support.js';

const people = `ou=people,${BASE_DN}`;
const groups = `ou=groups,${BASE_DN}`;

function connectorFor(slapd: Slapd, name: string): Connector {
  return ldapConnector(name, {
    urls: [slapd.url],
    bindDN: slapd.bindDN,
    password: slapd.password,
    flavor: 'openldap',
    baseDN: BASE_DN,
    timeouts: { connectMs: 2000, operationMs: 10_000 },
  });
}

describe('special characters in DNs and filter values', () => {
  let slapd: Slapd;
  let connector: Connector;
  // every character RFC 4514 and RFC 4515 give a meaning, a leading and a trailing space, a leading #
  const nasty = ' #Ann,B+C"D\\E<F>G;H=I*J(K)L ';
  const nastyDn = `uid=${escapeDNValue(nasty)},${people}`;

  beforeAll(async () => {
    slapd = await startSlapd();
    connector = connectorFor(slapd, 'escaping');
    await slapd.modify(
      `dn: uid=plain,${people}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: plain\ncn: plain\nsn: plain\n`,
    );
  });

  afterAll(async () => {
    await connector?.close();
    await slapd?.stop();
  });

  it('creates, imports, references and renames an entry whose DN needs every escape, unchanged', async () => {
    const created = await exportAll(connector, [
      {
        op: 'create',
        id: 'nasty',
        objectType: 'user',
        name: nastyDn,
        attributes: { uid: [nasty], cn: [nasty], sn: ['x*)(uid=*'], title: ['a\\b*c(d)e'] },
      },
    ]);
    expect(created.get('nasty')).toMatchObject({ ok: true, name: nastyDn });
    const groupResult = await exportAll(connector, [
      {
        op: 'create',
        id: 'g',
        objectType: 'group',
        name: `cn=${escapeDNValue('Sales, EMEA + "Partners"')},${groups}`,
        attributes: { cn: ['Sales, EMEA + "Partners"'], member: [{ ref: nastyDn }] },
      },
    ]);
    expect(groupResult.get('g')).toMatchObject({ ok: true });

    const { changes } = await importAll(connector);
    const imported = byName(changes, nastyDn)!;
    expect(imported).toBeDefined();
    expect(imported.attributes.uid).toEqual([nasty]);
    expect(imported.attributes.cn).toEqual([nasty]);
    expect(imported.attributes.sn).toEqual(['x*)(uid=*']);
    expect(imported.attributes.title).toEqual(['a\\b*c(d)e']);
    expect(imported.attributes.memberOf).toEqual([{ ref: `cn=Sales\\, EMEA \\+ \\"Partners\\",${groups}` }]);
    const group = upserts(changes).find((o) => o.objectType === 'group')!;
    expect(group.attributes.member).toEqual([{ ref: nastyDn }]);

    // the name as imported addresses the entry again: a rename keeps its anchor
    const renamedDn = `uid=${escapeDNValue('#2, the "other" one\\')},${people}`;
    const renamed = await exportAll(connector, [
      {
        op: 'update',
        id: 'r',
        objectType: 'user',
        anchor: imported.anchor,
        name: imported.name,
        newName: renamedDn,
        changes: { uid: { replace: ['#2, the "other" one\\'] } },
      },
    ]);
    expect(renamed.get('r')).toMatchObject({ ok: true, name: renamedDn });
    const [again] = await connector.lookup!('user', 'entryUUID', [imported.anchor]);
    expect(again!.name).toBe(renamedDn);
  });

  it('looks up filter metacharacters and NUL as literal values: no injection', async () => {
    const [exact] = await connector.lookup!('user', 'sn', ['x*)(uid=*']);
    expect(exact?.attributes.sn).toEqual(['x*)(uid=*']);
    // each of these would match every user if it reached the server as filter syntax
    for (const probe of ['*', 'plain)(uid=*', '*)(|(uid=*', 'plain\0', '\\2a', ')(objectClass=*']) {
      expect(await connector.lookup!('user', 'uid', [probe])).toEqual([]);
    }
    expect((await connector.lookup!('user', 'uid', ['plain'])).map((o) => o.attributes.uid)).toEqual([
      ['plain'],
    ]);
  });

  it('refuses a malformed DN as a failed change, not an exception', async () => {
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'bad',
        objectType: 'user',
        name: 'not a dn',
        attributes: { uid: ['x'], cn: ['x'], sn: ['x'] },
      },
      {
        op: 'create',
        id: 'nul',
        objectType: 'user',
        name: `uid=${escapeDNValue('nul\0byte')},${people}`,
        attributes: { uid: ['nul\0byte'], cn: ['n'], sn: ['n'] },
      },
    ]);
    expect(results.get('bad')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_INVALID_DN', retryable: false },
    });
    // a NUL is escaped (\00); the server may refuse the value, but with its own result code and nothing else touched
    const nul = results.get('nul')!;
    if (!nul.ok) expect(nul.error.remoteCode).toBeTypeOf('number');
    expect(await connector.lookup!('user', 'uid', ['plain'])).toHaveLength(1);
  });
});

describe('a server that goes away', () => {
  let slapd: Slapd;
  const count = 6000;

  beforeAll(async () => {
    const lines = [BASE_LDIF];
    for (let i = 0; i < count; i++) {
      lines.push(
        `dn: uid=user${i},${people}\nobjectClass: inetOrgPerson\nuid: user${i}\ncn: User ${i}\nsn: ${i}\nmail: user${i}@example.test\n`,
      );
    }
    const file = join(tmpdir(), `idsync-robust-${process.pid}.ldif`);
    await writeFile(file, lines.join('\n'));
    slapd = await startSlapd({ ldif: '', ldifFile: file });
  });

  afterAll(async () => {
    await slapd?.stop();
  });

  it('makes the import throw a retryable error, with no watermark for what was not delivered', async () => {
    const connector = connectorFor(slapd, 'dying');
    const pages: ImportPage[] = [];
    let error: (Error & { code?: string; retryable?: boolean }) | undefined;
    try {
      for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: 200 })) {
        pages.push(page);
        if (pages.length === 2) await slapd.kill(true);
      }
    } catch (err) {
      error = err as Error & { code?: string; retryable?: boolean };
    }
    expect(error).toMatchObject({ code: 'LDAP_CONNECTION_LOST', retryable: true });
    expect(error?.message).not.toContain(slapd.password);
    expect(pages.length).toBeGreaterThanOrEqual(2);
    expect(pages.reduce((n, p) => n + p.changes.length, 0)).toBeLessThan(count);
    expect(pages.every((p) => p.watermark === undefined)).toBe(true);

    // exports to the stopped server fail one by one, retryable
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'a',
        objectType: 'user',
        name: `uid=a,${people}`,
        attributes: { uid: ['a'], cn: ['a'], sn: ['a'] },
      },
      {
        op: 'delete',
        id: 'b',
        objectType: 'user',
        anchor: '00000000-0000-0000-0000-000000000000',
        name: `uid=b,${people}`,
      },
    ]);
    expect([...results.values()].map((r) => (r.ok ? 'ok' : r.error.retryable))).toEqual([true, true]);

    // back again: the next import reads everything
    await slapd.restart();
    const full = await importAll(connector, { pageSize: 1000 });
    expect(upserts(full.changes)).toHaveLength(count);
    expect(full.watermark).toMatch(/^syncrepl:/);
    await connector.close();
  });
});
