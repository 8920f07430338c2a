/**
 * Provision on demand re-reads its object from the source first, over real HTTP on a serve engine running its
 * loop: a person's row changed in the HR feed just before the call is imported alone (a one-object delta)
 * and only their change is sent; another person changed in the same feed is neither imported nor sent; a
 * person whose row is gone is imported as deleted and deprovisioned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ people: 12 });
  await h.firstCycle;
}, 60_000);
afterAll(() => h?.stop());

const idOf = async (employeeId: string) => (await h.call('GET', `/objects?q=${employeeId}`, { token: h.tokens.reader })).body.items[0].id as string;
const objectIn = async (id: string, connector: string) =>
  (await h.call('GET', `/objects/${id}`, { token: h.tokens.reader })).body.objects.find((o: any) => o.connector === connector);

describe('provision on demand', () => {
  it('re-reads the object from its source first and sends only its change', async () => {
    const [ann, bob] = [h.ws.people[2]!, h.ws.people[3]!];
    const [annId, bobId] = [await idOf(ann.employeeId), await idOf(bob.employeeId)];
    // changed in the source after the last import, with no cycle or plan since
    h.ws.writePeople(h.ws.people.map((p) => (p === ann ? { ...p, title: 'Re-read on demand' } : p === bob ? { ...p, title: 'Waits for the cycle' } : p)));
    const res = await h.call('POST', `/objects/${annId}/provision`, { token: h.tokens.operator });
    expect(res.status).toBe(200);
    expect(res.body.reread).toMatchObject({ connector: 'hr', status: 'read', detail: expect.stringContaining('changed since the last import') });
    expect(res.body.result.phases.find((p: any) => p.phase === 'import')).toMatchObject({ connector: 'hr', mode: 'delta', method: 'one object read', updated: 1, status: 'ok' });
    expect(res.body.result.changes).toEqual([
      expect.objectContaining({ connector: 'directory', op: 'update', attributes: [{ attribute: 'title', old: [ann.title], new: ['Re-read on demand'] }] }),
    ]);
    expect((await objectIn(annId, 'directory')).attributes.title).toEqual(['Re-read on demand']);
    expect((await objectIn(annId, 'hr')).attributes.title).toEqual(['Re-read on demand']);
    // Bob's row changed too, but only Ann was read and sent
    expect((await objectIn(bobId, 'hr')).attributes.title).toEqual([bob.title]);
    expect((await objectIn(bobId, 'directory')).attributes.title).toEqual([bob.title]);
  }, 60_000);

  it('imports a person whose row is gone as deleted, and deprovisions them', async () => {
    const cleo = h.ws.people[5]!;
    const id = await idOf(cleo.employeeId);
    expect((await objectIn(id, 'directory')).attributes.active).toEqual(['true']);
    h.ws.writePeople(h.ws.people.filter((p) => p !== cleo));
    const res = await h.call('POST', `/objects/${id}/provision`, { token: h.tokens.operator, body: { connector: 'hr' } });
    expect(res.status).toBe(200);
    expect(res.body.reread).toMatchObject({ connector: 'hr', status: 'gone' });
    expect(res.body.result.phases.find((p: any) => p.phase === 'import')).toMatchObject({ deleted: 1 });
    expect(res.body.result.changes).toEqual([expect.objectContaining({ connector: 'directory', op: 'update', disable: true })]);
    const dir = h.ws.directory();
    const [account] = dir.findBy('userName', cleo.email.toLowerCase(), 'user');
    dir.close();
    expect(account?.attributes.active).toEqual([false]);
  }, 60_000);
});
