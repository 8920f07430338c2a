import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ImportChange } from '../../../src/connectors/contract.js';
import { BASE_DN, type Slapd, startSlapd } from '../../helpers/slapd.js';
import { byName, importAll, ldapConnector, upserts } from './support.js';

const people = `ou=people,${BASE_DN}`;
const groups = `ou=groups,${BASE_DN}`;

const SEED = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']
  .map(
    (u) => `dn: uid=${u},${people}
changetype: add
objectClass: inetOrgPerson
uid: ${u}
cn: ${u}
sn: ${u}
`,
  )
  .join('\n')
  .concat(`
dn: cn=team,${groups}
changetype: add
objectClass: groupOfNames
cn: team
member: uid=u1,${people}
member: uid=u2,${people}
`);

/** adds, a modify, a rename, a move, a delete and membership changes */
const CHANGES = `dn: uid=new,${people}
changetype: add
objectClass: inetOrgPerson
uid: new
cn: new
sn: new

dn: uid=u1,${people}
changetype: modify
replace: title
title: Chief

dn: uid=u2,${people}
changetype: modrdn
newrdn: uid=u2renamed
deleteoldrdn: 1

dn: uid=u3,${people}
changetype: modrdn
newrdn: uid=u3
deleteoldrdn: 1
newsuperior: ou=archive,${BASE_DN}

dn: uid=u4,${people}
changetype: delete

dn: cn=team,${groups}
changetype: modify
add: member
member: uid=u5,${people}
-
delete: member
member: uid=u1,${people}
`;

function connectorFor(slapd: Slapd, name: string, delta?: string): Connector {
  return ldapConnector(name, {
    urls: [slapd.url],
    bindDN: slapd.bindDN,
    password: slapd.password,
    flavor: 'openldap',
    baseDN: BASE_DN,
    ...(delta ? { delta } : {}),
  });
}

async function deltaFrom(connector: Connector, watermark: string) {
  return importAll(connector, { mode: 'delta', watermark });
}

/** checks a delta after CHANGES against the anchors of the full import before them */
function expectDeltaAfterChanges(before: ImportChange[], delta: ImportChange[]) {
  const anchorOf = (name: string) => byName(before, name)!.anchor;
  const changed = upserts(delta);
  const added = changed.find((o) => o.name === `uid=new,${people}`);
  expect(added).toBeDefined();
  expect(changed.find((o) => o.anchor === anchorOf(`uid=u1,${people}`))?.attributes.title).toEqual(['Chief']);
  // renames and moves keep the anchor and change the name
  expect(changed.find((o) => o.anchor === anchorOf(`uid=u2,${people}`))?.name).toBe(
    `uid=u2renamed,${people}`,
  );
  expect(changed.find((o) => o.anchor === anchorOf(`uid=u3,${people}`))?.name).toBe(
    `uid=u3,ou=archive,${BASE_DN}`,
  );
  expect(delta).toContainEqual(
    expect.objectContaining({ kind: 'delete', anchor: anchorOf(`uid=u4,${people}`) }),
  );
  const team = changed.find((o) => o.anchor === anchorOf(`cn=team,${groups}`));
  // memberOf refint: the renamed u2 is still a member under its new name
  expect(team?.attributes.member).toHaveLength(2);
  expect(team?.attributes.member).toEqual(
    expect.arrayContaining([{ ref: `uid=u2renamed,${people}` }, { ref: `uid=u5,${people}` }]),
  );
  // untouched objects are not in the delta
  expect(changed.find((o) => o.anchor === anchorOf(`uid=u6,${people}`))).toBeUndefined();
}

describe('ldap connector against OpenLDAP: delta import and watch', () => {
  const servers: Slapd[] = [];
  const connectors: Connector[] = [];

  async function server(options?: Parameters<typeof startSlapd>[0]) {
    const slapd = await startSlapd(options);
    servers.push(slapd);
    await slapd.modify(SEED);
    return slapd;
  }

  afterAll(async () => {
    for (const c of connectors) await c.close();
    for (const s of servers) await s.stop();
  });

  describe('content sync (RFC 4533 refreshOnly)', () => {
    let slapd: Slapd;
    let connector: Connector;
    beforeAll(async () => {
      slapd = await server();
      connector = connectorFor(slapd, 'sync', 'syncrepl');
      connectors.push(connector);
    });

    it('reads adds, modifies, renames, moves, deletes and membership changes, then nothing', async () => {
      const full = await importAll(connector);
      expect(full.watermark).toMatch(/^syncrepl:rid=/);
      await slapd.modify(CHANGES);
      const delta = await deltaFrom(connector, full.watermark!);
      expectDeltaAfterChanges(full.changes, delta.changes);
      expect(delta.watermark).toMatch(/^syncrepl:/);
      expect(delta.watermark).not.toBe(full.watermark);

      const again = await deltaFrom(connector, delta.watermark!);
      expect(again.changes).toEqual([]);
      expect(again.watermark).toBeDefined();
    });

    it('tells the engine to run a full import when there is no usable watermark', async () => {
      const error = await deltaFrom(connector, 'accesslog:20200101000000.000000Z').then(
        () => undefined,
        (e: unknown) => e as { code: string; retryable: boolean },
      );
      expect(error).toMatchObject({ code: 'LDAP_FULL_IMPORT_REQUIRED', retryable: false });
    });

    it('tells the engine to run a full import when the server refuses the cookie as newer than its own state', async () => {
      // what a consumer holds after the server was SIGKILLed and restarted on older state: a CSN from its future
      const full = await importAll(connector);
      const future = full.watermark!.replace(/csn=\d{14}/, 'csn=20991231235959');
      expect(future).not.toBe(full.watermark);
      const error = await deltaFrom(connector, future).then(
        () => undefined,
        (e: unknown) =>
          e as { code: string; retryable: boolean; fullImportRequired: boolean; message: string },
      );
      expect(error).toMatchObject({
        code: 'LDAP_FULL_IMPORT_REQUIRED',
        retryable: false,
        fullImportRequired: true,
      });
      expect(error?.message).toMatch(/newer than provider/);
      // the cookie of a full import still works
      expect((await deltaFrom(connector, full.watermark!)).changes).toEqual([]);
    });

    it('tells the engine to run a full import for a cookie the server cannot read or does not know', async () => {
      const full = await importAll(connector);
      const foreign = full.watermark!.replace(
        /csn=[^,]*$/,
        'sid=005,csn=20991231235959.000000Z#000000#005#000000',
      );
      // unreadable: slapd answers with an empty cookie; another server id's: with present-phase semantics,
      // both sending entries as if to a consumer with no state, which would never tell what was deleted
      for (const watermark of ['syncrepl:not-a-cookie', foreign]) {
        const error = await deltaFrom(connector, watermark).then(
          () => undefined,
          (e: unknown) => e as { code: string; fullImportRequired: boolean },
        );
        expect(error, watermark).toMatchObject({
          code: 'LDAP_FULL_IMPORT_REQUIRED',
          fullImportRequired: true,
        });
      }
    });

    it('watch() reports a change well within two seconds', async () => {
      const controller = new AbortController();
      const iterator = connector.watch!(controller.signal)[Symbol.asyncIterator]();
      // let the persistent search start
      await new Promise((r) => setTimeout(r, 500));
      const started = Date.now();
      const noticed = iterator.next().then(() => Date.now() - started);
      await slapd.modify(`dn: uid=u5,${people}\nchangetype: modify\nreplace: title\ntitle: Watched\n`);
      const elapsed = await noticed;
      controller.abort();
      await iterator.return?.();
      // a few milliseconds here (persistent search); the bound only guards against polling in disguise
      expect(elapsed).toBeLessThan(2000);
    });
  });

  describe('accesslog fallback', () => {
    it('is chosen automatically without syncprov and reads the same changes', async () => {
      const slapd = await server({ syncprov: false });
      const connector = connectorFor(slapd, 'auto');
      connectors.push(connector);
      const full = await importAll(connector);
      expect(full.watermark).toMatch(/^accesslog:\d{14}\.\d{6}Z$/);
      await slapd.modify(CHANGES);
      const delta = await deltaFrom(connector, full.watermark!);
      expectDeltaAfterChanges(full.changes, delta.changes);
      const again = await deltaFrom(connector, delta.watermark!);
      expect(again.changes).toEqual([]);
    });

    it('tells the engine to run a full import when the log no longer holds the record at the watermark', async () => {
      const slapd = servers[servers.length - 1]!;
      const connector = connectorFor(slapd, 'auto');
      connectors.push(connector);
      const full = await importAll(connector);
      // a watermark past the log's end (the server lost its newest changes: killed and restarted on older
      // state), one the log purged, and one that is no accesslog time at all
      for (const watermark of [
        'accesslog:20991231235959.000000Z',
        'accesslog:20000101000000.000000Z',
        'accesslog:x',
      ]) {
        const error = await deltaFrom(connector, watermark).then(
          () => undefined,
          (e: unknown) => e as { code: string; fullImportRequired: boolean },
        );
        expect(error, watermark).toMatchObject({
          code: 'LDAP_FULL_IMPORT_REQUIRED',
          fullImportRequired: true,
        });
      }
      // the watermark of a full import still works
      expect((await deltaFrom(connector, full.watermark!)).changes).toEqual([]);
    });

    it('watch() notices a change by polling', async () => {
      const slapd = servers[servers.length - 1]!;
      const connector = connectorFor(slapd, 'poll');
      connectors.push(connector);
      const controller = new AbortController();
      const iterator = connector.watch!(controller.signal)[Symbol.asyncIterator]();
      // let the watcher pick its mode and read where the directory stands
      await new Promise((r) => setTimeout(r, 1500));
      const started = Date.now();
      const noticed = iterator.next().then(() => Date.now() - started);
      await slapd.modify(`dn: uid=u5,${people}\nchangetype: modify\nreplace: title\ntitle: Polled\n`);
      const elapsed = await noticed;
      controller.abort();
      await iterator.return?.();
      expect(elapsed).toBeLessThan(3000);
    });
  });

  describe('modifyTimestamp fallback', () => {
    it('reads what changed since the watermark (deletes wait for the next full import)', async () => {
      const slapd = await server({ syncprov: false, accesslog: false });
      const connector = connectorFor(slapd, 'ts', 'modifyTimestamp');
      connectors.push(connector);
      // without syncprov there is no contextCSN: the watermark is the newest modifyTimestamp read, moved back
      // by the import's duration and a second; a later write makes the seeded entries clearly older than it
      await new Promise((r) => setTimeout(r, 3100));
      await slapd.modify(`dn: uid=u5,${people}\nchangetype: modify\nreplace: title\ntitle: Later\n`);
      const full = await importAll(connector);
      expect(full.watermark).toMatch(/^modifyTimestamp:\d{14}Z$/);
      // modifyTimestamp has one-second steps: changes in a later second are surely after the watermark
      await new Promise((r) => setTimeout(r, 1100));
      await slapd.modify(CHANGES);
      const delta = await deltaFrom(connector, full.watermark!);
      const names = upserts(delta.changes).map((o) => o.name);
      expect(names).toEqual(
        expect.arrayContaining([
          `uid=new,${people}`,
          `uid=u1,${people}`,
          `uid=u2renamed,${people}`,
          `cn=team,${groups}`,
        ]),
      );
      // u5 changed too: the memberof overlay wrote its memberOf
      expect(names).not.toContain(`uid=u6,${people}`);
    });
  });
});
