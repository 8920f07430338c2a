import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../../src/connectors/contract.js';
import type { LdapConnector } from '../../../src/connectors/ldap/connector.js';
import { Exporter } from '../../../src/connectors/ldap/export.js';
import type { SearchParams } from '../../../src/connectors/ldap/protocol/connection.js';
import { BASE_DN, type Slapd, startSlapd } from '../../helpers/slapd.js';
import { byName, exportAll, importAll, ldapConnector, upserts } from './support.js';

const people = `ou=people,${BASE_DN}`;
const groups = `ou=groups,${BASE_DN}`;

function personLdif(uid: string, extra = ''): string {
  return `dn: uid=${uid},${people}
changetype: add
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid} Person
sn: ${uid}
mail: ${uid}@example.test
${extra}`;
}

describe('ldap connector against OpenLDAP: full import, export, lookup', () => {
  let slapd: Slapd;
  let connector: Connector;

  beforeAll(async () => {
    slapd = await startSlapd();
    const users = ['alice', 'bob', 'carol', 'dave', 'erin'].map((u) => personLdif(u)).join('\n');
    await slapd.modify(`${users}
dn: uid=frank,${people}
changetype: add
objectClass: inetOrgPerson
uid: frank
cn: Frank
sn: Frank
manager: uid=alice,${people}
jpegPhoto:: AAECAwT/

dn: cn=staff,${groups}
changetype: add
objectClass: groupOfNames
cn: staff
member: uid=alice,${people}
member: uid=bob,${people}

dn: ou=printers,${BASE_DN}
changetype: add
objectClass: organizationalUnit
ou: printers
`);
    connector = ldapConnector('corp-ldap', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
    });
  });

  afterAll(async () => {
    await connector?.close();
    await slapd?.stop();
  });

  it('declares the LDAP capabilities', () => {
    expect(connector.capabilities).toMatchObject({
      deltaImport: true,
      export: true,
      watch: true,
      nameAttribute: 'dn',
    });
  });

  it('tests the connection and refuses a wrong password without echoing it', async () => {
    await connector.test();
    const wrong = ldapConnector('bad', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: 'not-the-password-1234',
      flavor: 'openldap',
      baseDN: BASE_DN,
    });
    const error = await wrong.test().then(
      () => undefined,
      (e: unknown) => e as Error & { code: string; retryable: boolean },
    );
    expect(error?.code).toBe('LDAP_BIND_FAILED');
    expect(error?.retryable).toBe(false);
    expect(error?.message).not.toContain('not-the-password-1234');
    await wrong.close();
  });

  it('fails over to the next URL when the first does not answer', async () => {
    const failover = ldapConnector('failover', {
      urls: ['ldap://127.0.0.1:1', slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
    });
    await failover.test();
    await failover.close();
  });

  it('imports every user and group page by page, with the watermark only after the last page', async () => {
    const { pages, changes, watermark } = await importAll(connector, { pageSize: 3 });
    const objects = upserts(changes);
    expect(objects.filter((o) => o.objectType === 'user')).toHaveLength(6);
    expect(objects.filter((o) => o.objectType === 'group')).toHaveLength(1);
    // pages of at most 3 objects; only the last page carries the watermark
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.every((p) => p.changes.length <= 3)).toBe(true);
    expect(pages.slice(0, -1).every((p) => p.watermark === undefined)).toBe(true);
    expect(watermark).toMatch(/^syncrepl:/);

    const alice = byName(changes, `uid=alice,${people}`)!;
    expect(alice.anchor).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(alice.attributes.mail).toEqual(['alice@example.test']);
    expect(alice.attributes.entryUUID).toEqual([alice.anchor]);
    expect(alice.attributes.memberOf).toEqual([{ ref: `cn=staff,${groups}` }]);
    const staff = byName(changes, `cn=staff,${groups}`)!;
    expect(staff.attributes.member).toEqual(
      expect.arrayContaining([{ ref: `uid=alice,${people}` }, { ref: `uid=bob,${people}` }]),
    );
    const frank = byName(changes, `uid=frank,${people}`)!;
    expect(frank.attributes.manager).toEqual([{ ref: `uid=alice,${people}` }]);
    // the organizational units are not objects of a configured type
    expect(objects.some((o) => o.name?.startsWith('ou='))).toBe(false);
  });

  it('types attributes from the server schema', async () => {
    const schema = await connector.schema();
    const user = schema.objectTypes.user!.attributes;
    // cosine declares manager multi-valued, inetOrgPerson displayName single-valued
    expect(user.manager).toMatchObject({ type: 'reference', multiValued: true });
    expect(user.displayName).toMatchObject({ type: 'string', multiValued: false });
    expect(user.memberOf).toMatchObject({ type: 'reference', readOnly: true });
    expect(user.mail).toMatchObject({ type: 'string', multiValued: true });
    expect(user.entryUUID).toMatchObject({ readOnly: true, multiValued: false });
    expect(schema.objectTypes.group!.attributes.member).toMatchObject({
      type: 'reference',
      multiValued: true,
    });
  });

  it('keeps binary attributes as bytes', async () => {
    const withPhoto = ldapConnector('photo', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
      objectTypes: { user: { objectClasses: ['inetOrgPerson'], attributes: ['uid', 'jpegPhoto'] } },
    });
    const frank = (await withPhoto.lookup!('user', 'uid', ['frank']))[0]!;
    expect(frank.attributes.jpegPhoto![0]).toBeInstanceOf(Uint8Array);
    expect([...(frank.attributes.jpegPhoto![0] as Uint8Array)]).toEqual([0, 1, 2, 3, 4, 255]);
    await withPhoto.close();
  });

  it('creates, updates with value diffs, renames, moves and deletes; what it writes imports back unchanged', async () => {
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'c1',
        objectType: 'user',
        name: `uid=grace,${people}`,
        attributes: {
          uid: ['grace'],
          cn: ['Grace Hopper'],
          sn: ['Hopper'],
          mail: ['grace@example.test', 'ghopper@example.test'],
          manager: [{ ref: `uid=alice,${people}` }],
          employeeNumber: ['1906'],
        },
      },
    ]);
    const created = results.get('c1')!;
    expect(created).toMatchObject({ ok: true, name: `uid=grace,${people}` });
    const anchor = created.ok ? created.anchor! : '';
    const [grace] = await connector.lookup!('user', 'entryUUID', [anchor]);
    // one entry by its anchor, as lookup (and import) give it; none for an anchor no entry has
    expect(await connector.read!('user', anchor)).toEqual(grace);
    expect(await connector.read!('user', '00000000-0000-0000-0000-000000000000')).toBeNull();
    expect(grace).toMatchObject({
      anchor,
      objectType: 'user',
      name: `uid=grace,${people}`,
      attributes: {
        uid: ['grace'],
        cn: ['Grace Hopper'],
        sn: ['Hopper'],
        mail: ['grace@example.test', 'ghopper@example.test'],
        manager: [{ ref: `uid=alice,${people}` }],
        employeeNumber: ['1906'],
      },
    });

    // membership as value add/remove, attributes replaced, one removed
    const staffAnchor = (await connector.lookup!('group', 'cn', ['staff']))[0]!.anchor;
    const update = await exportAll(connector, [
      {
        op: 'update',
        id: 'u1',
        objectType: 'group',
        anchor: staffAnchor,
        name: `cn=staff,${groups}`,
        changes: {
          member: { add: [{ ref: `uid=grace,${people}` }], remove: [{ ref: `uid=bob,${people}` }] },
        },
      },
      {
        op: 'update',
        id: 'u2',
        objectType: 'user',
        anchor,
        name: `uid=grace,${people}`,
        changes: {
          title: { replace: ['Rear Admiral'] },
          employeeNumber: { replace: [] },
          mail: { remove: ['ghopper@example.test'] },
        },
      },
    ]);
    expect(update.get('u1')).toMatchObject({ ok: true });
    expect(update.get('u2')).toMatchObject({ ok: true });
    const [staff] = await connector.lookup!('group', 'cn', ['staff']);
    expect(staff!.attributes.member).toHaveLength(2);
    expect(staff!.attributes.member).toEqual(
      expect.arrayContaining([{ ref: `uid=alice,${people}` }, { ref: `uid=grace,${people}` }]),
    );
    const [updated] = await connector.lookup!('user', 'uid', ['grace']);
    expect(updated!.attributes.title).toEqual(['Rear Admiral']);
    expect(updated!.attributes.employeeNumber).toBeUndefined();
    expect(updated!.attributes.mail).toEqual(['grace@example.test']);

    // rename and move in one: the anchor stays, the name changes
    const moved = await exportAll(connector, [
      {
        op: 'update',
        id: 'm1',
        objectType: 'user',
        anchor,
        name: `uid=grace,${people}`,
        newName: `uid=ghopper,ou=archive,${BASE_DN}`,
        changes: { uid: { replace: ['ghopper'] } },
      },
    ]);
    expect(moved.get('m1')).toMatchObject({ ok: true, anchor, name: `uid=ghopper,ou=archive,${BASE_DN}` });
    const [afterMove] = await connector.lookup!('user', 'entryUUID', [anchor]);
    expect(afterMove!.name).toBe(`uid=ghopper,ou=archive,${BASE_DN}`);
    expect(afterMove!.attributes.uid).toEqual(['ghopper']);

    // a stale name (the object moved since the last import) still reaches the right object
    const stale = await exportAll(connector, [
      {
        op: 'update',
        id: 's1',
        objectType: 'user',
        anchor,
        name: `uid=grace,${people}`,
        changes: { title: { replace: ['Admiral'] } },
      },
    ]);
    expect(stale.get('s1')).toMatchObject({ ok: true, name: `uid=ghopper,ou=archive,${BASE_DN}` });

    const deleted = await exportAll(connector, [
      { op: 'delete', id: 'd1', objectType: 'user', anchor, name: `uid=ghopper,ou=archive,${BASE_DN}` },
      // deleting what is gone already is what the engine wanted
      { op: 'delete', id: 'd2', objectType: 'user', anchor, name: `uid=ghopper,ou=archive,${BASE_DN}` },
    ]);
    expect(deleted.get('d1')).toMatchObject({ ok: true });
    expect(deleted.get('d2')).toMatchObject({ ok: true });
    expect(await connector.lookup!('user', 'entryUUID', [anchor])).toEqual([]);
  });

  it('reports LDAP errors per change with the result code, and the rest of the batch goes on', async () => {
    const alice = (await connector.lookup!('user', 'uid', ['alice']))[0]!;
    const results = await exportAll(connector, [
      {
        op: 'create',
        id: 'exists',
        objectType: 'user',
        name: `uid=alice,${people}`,
        attributes: { uid: ['alice'], cn: ['A'], sn: ['A'] },
      },
      // inetOrgPerson needs sn
      {
        op: 'create',
        id: 'violation',
        objectType: 'user',
        name: `uid=nosn,${people}`,
        attributes: { uid: ['nosn'], cn: ['No SN'] },
      },
      {
        op: 'create',
        id: 'noparent',
        objectType: 'user',
        name: `uid=x,ou=nowhere,${BASE_DN}`,
        attributes: { uid: ['x'], cn: ['X'], sn: ['X'] },
      },
      {
        op: 'update',
        id: 'undefined-attr',
        objectType: 'user',
        anchor: alice.anchor,
        name: alice.name,
        changes: { noSuchAttr: { replace: ['x'] } },
      },
      {
        op: 'create',
        id: 'fine',
        objectType: 'user',
        name: `uid=heidi,${people}`,
        attributes: { uid: ['heidi'], cn: ['Heidi'], sn: ['H'] },
      },
    ]);
    expect(results.get('exists')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_ENTRY_ALREADY_EXISTS', remoteCode: 68, retryable: false },
    });
    expect(results.get('violation')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_OBJECT_CLASS_VIOLATION', remoteCode: 65 },
    });
    expect(results.get('noparent')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_NO_SUCH_OBJECT', remoteCode: 32 },
    });
    expect(results.get('undefined-attr')).toMatchObject({ ok: false, error: { remoteCode: 17 } });
    expect(results.get('fine')).toMatchObject({ ok: true });
    for (const id of ['exists', 'violation', 'noparent']) {
      const r = results.get(id)!;
      expect(r.ok ? '' : r.error.message).toContain('uid=');
    }
  });

  it('creates missing containers when told to', async () => {
    const creating = ldapConnector('mkdir', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
      createMissingContainers: true,
    });
    const results = await exportAll(creating, [
      {
        op: 'create',
        id: 'deep',
        objectType: 'user',
        name: `uid=ivan,ou=team a,ou=engineering,${BASE_DN}`,
        attributes: { uid: ['ivan'], cn: ['Ivan'], sn: ['I'] },
      },
    ]);
    expect(results.get('deep')).toMatchObject({
      ok: true,
      name: `uid=ivan,ou=team a,ou=engineering,${BASE_DN}`,
    });
    await creating.close();
  });

  it('creates a missing container once for a batch of objects under it, none failing on the race', async () => {
    const creating = ldapConnector('mkdir-batch', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
      createMissingContainers: true,
      maxConcurrency: 8,
    });
    const sales = `ou=emea,ou=sales,${BASE_DN}`;
    const uids = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const results = await exportAll(
      creating,
      uids.map((uid) => ({
        op: 'create' as const,
        id: uid,
        objectType: 'user',
        name: `uid=${uid},${sales}`,
        attributes: { uid: [uid], cn: [uid], sn: [uid] },
      })),
    );
    // every object made it in this batch: no entryAlreadyExists (68) from a container another create made
    for (const uid of uids) expect(results.get(uid)).toMatchObject({ ok: true, name: `uid=${uid},${sales}` });
    expect(await creating.lookup!('user', 'uid', uids)).toHaveLength(uids.length);
    // a container that cannot be made fails the objects under it with its own result, and says so
    const refused = await exportAll(creating, [
      {
        op: 'create',
        id: 'in-locality',
        objectType: 'user',
        name: `uid=s7,l=paris,${sales}`, // l= is neither ou= nor cn=: the organizationalRole made for it has no cn
        attributes: { uid: ['s7'], cn: ['s7'], sn: ['s7'] },
      },
    ]);
    expect(refused.get('in-locality')).toMatchObject({
      ok: false,
      error: { code: 'LDAP_OBJECT_CLASS_VIOLATION', remoteCode: 65 },
    });
    const refusal = refused.get('in-locality')!;
    expect(refusal.ok ? '' : refusal.error.message).toContain(`adding the container l=paris,${sales} failed`);
    await creating.close();
  });

  it('takes a container that another writer made between its check and its add as made', async () => {
    const ldap = ldapConnector('mkdir-race', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
      createMissingContainers: true,
    }) as LdapConnector;
    const apac = `ou=apac,ou=sales,${BASE_DN}`;
    const connection = await ldap.newConnection();
    // the real server; only the interleaving is forced: the container appears right after the check
    const racing = new Proxy(connection, {
      get(target, property) {
        if (property === 'searchAll') {
          return async (params: SearchParams) => {
            // a base search on a missing entry answers noSuchObject (32)
            const found = await target.searchAll(params).catch((err: unknown) => err as Error);
            if (params.baseDN.toLowerCase() === apac && (found instanceof Error || found.length === 0)) {
              await slapd.modify(`dn: ${apac}\nchangetype: add\nobjectClass: organizationalUnit\nou: apac\n`);
            }
            if (found instanceof Error) throw found;
            return found;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const exporter = new Exporter(
      ldap.directory,
      await ldap.mapper(connection),
      async () => racing,
      await ldap.directory.rootDse(connection),
    );
    const results = [];
    for await (const result of exporter.run([
      {
        op: 'create',
        id: 'a1',
        objectType: 'user',
        name: `uid=a1,${apac}`,
        attributes: { uid: ['a1'], cn: ['a1'], sn: ['a1'] },
      },
    ]))
      results.push(result);
    expect(results).toMatchObject([{ id: 'a1', ok: true, name: `uid=a1,${apac}` }]);
    await connection.close();
    await ldap.close();
  });

  it('renames an object whose RDN attribute is flowed too: the modify starts from the entry as renamed', async () => {
    const created = await exportAll(connector, [
      {
        op: 'create',
        id: 'rdn',
        objectType: 'user',
        name: `cn=Judy Old,${people}`,
        attributes: { uid: ['judy'], cn: ['Judy Old', 'J. Old'], sn: ['Old'] },
      },
    ]);
    const result = created.get('rdn')!;
    expect(result).toMatchObject({ ok: true });
    const anchor = result.ok ? result.anchor! : '';
    // what the engine sends when cn (multi-valued) and the DN both flow from a changed surname:
    // cn changes value by value, computed against the entry before the rename
    const renamed = await exportAll(connector, [
      {
        op: 'update',
        id: 'rename',
        objectType: 'user',
        anchor,
        name: `cn=Judy Old,${people}`,
        newName: `cn=Judy New,${people}`,
        changes: {
          cn: { add: ['Judy New', 'J. New'], remove: ['Judy Old', 'J. Old'] },
          sn: { replace: ['New'] },
        },
      },
    ]);
    expect(renamed.get('rename')).toMatchObject({ ok: true, anchor, name: `cn=Judy New,${people}` });
    const [judy] = await connector.lookup!('user', 'entryUUID', [anchor]);
    expect(judy!.name).toBe(`cn=Judy New,${people}`);
    expect([...judy!.attributes.cn!].sort()).toEqual(['J. New', 'Judy New']);
    expect(judy!.attributes.sn).toEqual(['New']);
  });

  it('looks objects up by attribute, several values at once', async () => {
    const found = await connector.lookup!('user', 'mail', [
      'alice@example.test',
      'bob@example.test',
      'nobody@example.test',
    ]);
    expect(found.map((o) => o.attributes.uid?.[0]).sort()).toEqual(['alice', 'bob']);
    expect(await connector.lookup!('group', 'member', [{ ref: `uid=alice,${people}` }])).toHaveLength(1);
  });

  it('limits the import to the included containers and leaves out the excluded ones', async () => {
    const scoped = ldapConnector('scoped', {
      urls: [slapd.url],
      bindDN: slapd.bindDN,
      password: slapd.password,
      flavor: 'openldap',
      baseDN: BASE_DN,
      includeContainers: [people],
      excludeContainers: [`ou=engineering,${BASE_DN}`],
    });
    const objects = upserts((await importAll(scoped)).changes);
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.every((o) => o.name!.endsWith(people))).toBe(true);
    await scoped.close();
  });
});
