/**
 * The behaviour suite of the entra connector, run against the Graph emulator (connector.test.ts) and, when
 * its three environment variables are set, against a real tenant (real-tenant.test.ts). Everything here
 * goes through the connector only, so it holds for both; what needs the emulator's knobs and counters is in
 * connector.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportChange, ImportChange } from '../../../src/connectors/contract.js';
import type { EntraConnector } from '../../../src/connectors/entra/connector.js';
import type { Attributes } from '../../../src/core/values.js';
import { anchorOf, entraConnector, exportAll, exportOne, importAll, type LogLine, upserts } from './support.js';

export interface SuiteTarget {
  /** connector settings for this target */
  settings(extra?: Record<string, unknown>): Record<string, unknown>;
  /** a verified domain of the tenant, for userPrincipalNames */
  domain: string;
  /** how long replication may take (polling limit of assertions), ms */
  patience: number;
  /** the secret, to prove it never reaches a log line */
  secret: string;
}

/** Polls `fn` until it stops throwing (Graph is eventually consistent; so is the emulator with a delay). */
export async function eventually<T>(fn: () => Promise<T>, patience: number): Promise<T> {
  const until = Date.now() + patience;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function changeAnchor(c: ImportChange): string | undefined {
  return c.kind === 'upsert' ? c.object.anchor : 'anchor' in c ? c.anchor : undefined;
}

export function behaviourSuite(target: () => SuiteTarget): void {
  const run = randomBytes(3).toString('hex');
  let t: SuiteTarget;
  let connector: EntraConnector;
  const log: LogLine[] = [];
  const made: { type: string; anchor: string }[] = [];

  const upn = (n: string) => `idsync-${run}-${n}@${t.domain}`;
  const user = (n: string, extra: Attributes = {}): Attributes => ({
    userPrincipalName: [upn(n)],
    displayName: [`Idsync Test ${n}`],
    givenName: ['Idsync'],
    surname: [`Test ${n}`],
    mailNickname: [`idsync-${run}-${n}`],
    usageLocation: ['DE'],
    department: ['Sales'],
    employeeId: [`E-${run}-${n}`],
    onPremisesImmutableId: [Buffer.from(`${run}-${n}-anchor-guid`).toString('base64')],
    password: [`Pw-${randomBytes(9).toString('base64url')}1!`],
    accountEnabled: [true],
    ...extra,
  });
  const create = async (changes: ExportChange[]) => {
    const results = await exportAll(connector, changes);
    for (const c of changes) {
      const r = results.get(c.id);
      if (r?.ok && r.anchor) made.push({ type: c.objectType, anchor: r.anchor });
    }
    return results;
  };

  beforeAll(() => {
    t = target();
    connector = entraConnector(t.settings(), log);
  });

  afterAll(async () => {
    // what the suite made is deleted (users stay 30 days in the tenant's deleted items)
    const left = made.map((m, i) => ({ op: 'delete' as const, id: `cleanup-${i}`, objectType: m.type, anchor: m.anchor }));
    if (left.length > 0) await exportAll(connector, left).catch(() => {});
    await connector?.close();
  });

  describe('authentication and reading', () => {
    it('gets an app-only token with the client secret and reads users', async () => {
      await connector.test();
      await connector.test();
      expect(connector.requestStats.tokenRequests).toBe(1);
    });
  });

  describe('users and groups', () => {
    let alice = '';
    let bob = '';
    let group = '';
    let memberIds: string[] = [];
    let watermark: string | null = null;

    it('creates users (passwordProfile only on create, usageLocation) and a manager by $ref', async () => {
      const first = await create([{ op: 'create', id: 'alice', objectType: 'user', attributes: user('alice') }]);
      alice = anchorOf(first.get('alice'));
      const second = await create([{ op: 'create', id: 'bob', objectType: 'user', attributes: user('bob', { manager: [{ ref: alice }] }) }]);
      bob = anchorOf(second.get('bob'));
      const result = second.get('bob');
      expect(result?.ok && result.object?.attributes.manager).toEqual([{ ref: alice }]);
      // the password never comes back in the result the engine stores
      expect(result?.ok && result.object?.attributes.password).toBeUndefined();
      const [found] = await eventually(async () => {
        const f = await connector.lookup('user', 'userPrincipalName', [upn('bob')]);
        expect(f).toHaveLength(1);
        expect(f[0]!.attributes.manager).toEqual([{ ref: alice }]);
        return f;
      }, t.patience);
      expect(found!.attributes.usageLocation).toEqual(['DE']);
      expect(found!.attributes.accountEnabled).toEqual([true]);
    });

    it('creates a group with 25 members: members@odata.bind in batches of at most 20', async () => {
      const changes: ExportChange[] = Array.from({ length: 23 }, (_, i) => ({ op: 'create', id: `m${i}`, objectType: 'user', attributes: user(`m${i}`, { password: [] }) }));
      const results = await create(changes);
      memberIds = [alice, bob, ...changes.map((c) => anchorOf(results.get(c.id)))];
      const g = await create([
        { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: [`idsync-${run}-staff`], mailNickname: [`idsync-${run}-staff`], description: ['All staff'], members: memberIds.map((ref) => ({ ref })) } },
      ]);
      group = anchorOf(g.get('g'));
      await eventually(async () => {
        const [found] = await connector.lookup('group', 'mailNickname', [`idsync-${run}-staff`]);
        expect(new Set(found!.attributes.members!.map((m) => (m as { ref: string }).ref))).toEqual(new Set(memberIds));
      }, t.patience);
    });

    it('imports everything by paged listing, with manager and members, and keeps the delta links as the watermark', async () => {
      const imported = await eventually(async () => {
        const r = await importAll(connector, 'full', null, 10);
        const objects = upserts(r.changes);
        const g = objects.find((o) => o.anchor === group);
        expect(g?.attributes.members).toHaveLength(25);
        return r;
      }, t.patience);
      const objects = upserts(imported.changes);
      expect(imported.pages.length).toBeGreaterThan(3);
      expect(objects.find((o) => o.anchor === bob)?.attributes.manager).toEqual([{ ref: alice }]);
      expect(objects.find((o) => o.anchor === alice)?.attributes.userPrincipalName).toEqual([upn('alice')]);
      expect(JSON.parse(imported.watermark!)).toMatchObject({ v: 1, user: expect.stringContaining('/users/delta?'), group: expect.stringContaining('/groups/delta?') });
      watermark = imported.watermark;
    });

    it('a delta with nothing changed returns no change', async () => {
      // let the suite's own writes drain out of the delta first
      watermark = (await importAll(connector, 'delta', watermark)).watermark;
      const quiet = await importAll(connector, 'delta', watermark);
      // (a real tenant may have other changes: only the suite's own objects count)
      expect(quiet.changes.filter((c) => made.some((m) => m.anchor === changeAnchor(c)))).toEqual([]);
      watermark = quiet.watermark;
    });

    it('updates by a minimal PATCH, disables, changes manager and members; the delta brings it all back', async () => {
      const results = await exportAll(connector, [
        { op: 'update', id: 'u1', objectType: 'user', anchor: bob, changes: { jobTitle: { replace: ['Engineer'] }, manager: { replace: [] } } },
        { op: 'update', id: 'u2', objectType: 'user', anchor: alice, changes: { accountEnabled: { replace: [false] } } },
        { op: 'update', id: 'u3', objectType: 'group', anchor: group, changes: { members: { remove: memberIds.slice(2, 24).map((ref) => ({ ref })) } } },
      ]);
      for (const id of ['u1', 'u2', 'u3']) expect(results.get(id), id).toMatchObject({ ok: true });
      const after = await eventually(async () => {
        const r = await importAll(connector, 'delta', watermark);
        const objects = upserts(r.changes);
        expect(objects.find((o) => o.anchor === group)?.attributes.members).toHaveLength(3);
        expect(objects.find((o) => o.anchor === bob)?.attributes.jobTitle).toEqual(['Engineer']);
        expect(objects.find((o) => o.anchor === alice)?.attributes.accountEnabled).toEqual([false]);
        return r;
      }, t.patience);
      expect(upserts(after.changes).find((o) => o.anchor === bob)?.attributes.manager).toBeUndefined();
      watermark = after.watermark;
    });

    it('a 400 naming a property is an object error on that attribute', async () => {
      const result = await exportOne(connector, { op: 'update', id: 'bad', objectType: 'user', anchor: bob, changes: { usageLocation: { replace: ['Germany'] } } });
      expect(result).toMatchObject({ ok: false, error: { attribute: 'usageLocation', retryable: false, remoteCode: 400 } });
    });

    it('an attribute only Microsoft sync writes is refused before any request', async () => {
      const result = await exportOne(connector, { op: 'update', id: 'ro', objectType: 'user', anchor: bob, changes: { proxyAddresses: { replace: ['SMTP:x@example.com'] } } });
      expect(result).toMatchObject({ ok: false, error: { code: 'ENTRA_ATTRIBUTE_READONLY', attribute: 'proxyAddresses' } });
    });

    it('joins: finds users by onPremisesImmutableId, userPrincipalName, mail and employeeId', async () => {
      await exportAll(connector, [{ op: 'update', id: 'mail', objectType: 'user', anchor: bob, changes: { mail: { replace: [upn('bob')] } } }]);
      const immutable = user('bob').onPremisesImmutableId![0]!;
      for (const [attribute, value] of [
        ['onPremisesImmutableId', immutable],
        ['userPrincipalName', upn('bob')],
        ['mail', upn('bob')],
        ['employeeId', `E-${run}-bob`],
      ] as const) {
        await eventually(async () => {
          const found = await connector.lookup('user', attribute, [value]);
          expect(found.map((o) => o.anchor), attribute).toEqual([bob]);
        }, t.patience);
      }
    });

    it('a deleted user that returns with the same anchor is restored, not created again', async () => {
      const del = await exportOne(connector, { op: 'delete', id: 'del', objectType: 'user', anchor: bob });
      expect(del.ok).toBe(true);
      const deltaAfterDelete = await eventually(async () => {
        const r = await importAll(connector, 'delta', watermark);
        expect(r.changes).toContainEqual({ kind: 'delete', anchor: bob, objectType: 'user' });
        return r;
      }, t.patience);
      watermark = deltaAfterDelete.watermark;
      const again = await eventually(async () => {
        const r = await exportOne(connector, { op: 'create', id: 'back', objectType: 'user', attributes: user('bob', { jobTitle: ['Returned'] }) });
        expect(r.ok).toBe(true);
        return r;
      }, t.patience);
      expect(anchorOf(again)).toBe(bob);
      await eventually(async () => {
        const [found] = await connector.lookup('user', 'userPrincipalName', [upn('bob')]);
        expect(found?.anchor).toBe(bob);
        expect(found?.attributes.jobTitle).toEqual(['Returned']);
      }, t.patience);
    });

    it('deletes; a delete of what is already gone counts as done (notFound)', async () => {
      const first = await exportOne(connector, { op: 'delete', id: 'd1', objectType: 'group', anchor: group });
      expect(first.ok).toBe(true);
      const second = await exportOne(connector, { op: 'delete', id: 'd2', objectType: 'group', anchor: group });
      expect(second).toMatchObject({ ok: false, error: { notFound: true } });
    });

    it('no log line carries the client secret or a token', () => {
      const text = JSON.stringify(log);
      expect(text).not.toContain(t.secret);
      expect(text).not.toMatch(/Bearer\s+\S{20,}/);
    });
  });
}
