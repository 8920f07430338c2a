/**
 * POST /config/validate's plan over real HTTP, on a serve engine running its loop: a proposed config that
 * upper-cases the directory's titles, with a change made in the HR feed just before, answers the plan of
 * both (per attribute old → new, per connector counts), read from the real feed, while the live state (every
 * table, row by row), the directory (the target) and the service's runs stay as they were, and the copy of
 * the state is gone afterwards.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateDigest } from '../../src/store/copy.js';
import type { SqlStore } from '../../src/store/sql/store.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ people: 20 });
  await h.firstCycle;
}, 60_000);
afterAll(() => h?.stop());

const previews = () => readdirSync(tmpdir()).filter((f) => f.startsWith('idsync-preview-'));

describe('POST /config/validate with a plan', () => {
  it('answers the plan of a proposed config from a copy of the state, writing neither the state nor a target', async () => {
    const admin = h.tokens.admin;
    const current = (await h.call('GET', '/config', { token: admin })).body.yaml as string;
    // the directory's title flow (the last of the two), upper-cased
    const at = current.lastIndexOf('- { target: title, source: title }');
    const proposed = `${current.slice(0, at)}- { target: title, expression: 'ToUpper([title])' }${current.slice(at + '- { target: title, source: title }'.length)}`;
    expect(proposed).not.toBe(current);
    // a real change in the source, made after the last cycle: the plan reads the feed
    const moved = h.ws.people[5]!;
    const people = h.ws.people.map((p) => (p === moved ? { ...p, department: 'Plan Preview Dept' } : p));
    h.ws.writePeople(people);

    const store = h.engine.store as unknown as SqlStore;
    const before = await stateDigest(store);
    const runsBefore = (await h.call('GET', '/runs?limit=5', { token: admin })).body.items;
    const dir = h.ws.directory();
    const targetBefore = { sequence: dir.currentSequence(), objects: dir.list({ limit: 10_000 }) };
    dir.close();
    const tempBefore = previews();

    const res = await h.call('POST', '/config/validate', { token: admin, body: { yaml: proposed } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: true, issues: [], planError: null });
    expect(res.body.changes.rules.changed).toEqual(['directory-users']);
    const plan = res.body.plan;
    expect(plan.status).not.toBe('failed');
    const updates = plan.changes.filter((c: any) => c.connector === 'directory' && c.op === 'update');
    // every provisioned person's title upper-cased, old → new
    const title = updates.map((c: any) => c.attributes.find((a: any) => a.attribute === 'title')).filter(Boolean);
    expect(title.length).toBeGreaterThan(5);
    for (const t of title) {
      expect(t.new[0]).toBe(t.old[0].toUpperCase());
      expect(t.new[0]).not.toBe(t.old[0]);
    }
    // the source change, read by the proposed config's connector
    const mine = updates.find((c: any) => c.attributes.some((a: any) => a.attribute === 'department'));
    expect(mine.attributes.find((a: any) => a.attribute === 'department')).toEqual({ attribute: 'department', old: [moved.department], new: ['Plan Preview Dept'] });
    expect(mine.name).toBe(moved.email.toLowerCase());
    expect(plan.connectors.find((c: any) => c.connector === 'directory')).toMatchObject({ update: updates.length, create: 0, delete: 0 });
    expect(plan.phases.find((p: any) => p.connector === 'hr' && p.phase === 'import')).toMatchObject({ status: 'ok', updated: 1 });
    expect(plan.truncated).toBe(false);

    // nothing of it happened: the live state row by row, the target, the runs, the copy deleted
    expect(await stateDigest(store)).toEqual(before);
    expect((await h.call('GET', '/runs?limit=5', { token: admin })).body.items).toEqual(runsBefore);
    const after = h.ws.directory();
    expect({ sequence: after.currentSequence(), objects: after.list({ limit: 10_000 }) }).toEqual(targetBefore);
    after.close();
    for (let i = 0; i < 50 && previews().length > tempBefore.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(previews()).toEqual(tempBefore);

    const audit = (await h.call('GET', '/audit?action=config.validate', { token: admin })).body.items;
    expect(audit[0]).toMatchObject({ actor: 'token script-admin', result: 'ok', status: 200 });
  }, 60_000);

  it('answers no plan for an invalid config or when asked for none, and the problems with their line:column', async () => {
    const admin = h.tokens.admin;
    const bad = await h.call('POST', '/config/validate', { token: admin, body: { yaml: 'version: 1\nconnectors:\n  hr:\n    type: nope\n' } });
    expect(bad.body).toMatchObject({ valid: false, plan: null, planError: null });
    expect(bad.body.issues.some((i: any) => /:4:\d+$/.test(i.location ?? ''))).toBe(true);
    const current = (await h.call('GET', '/config', { token: admin })).body.yaml as string;
    const quick = await h.call('POST', '/config/validate', { token: admin, body: { yaml: current, plan: false } });
    expect(quick.body).toMatchObject({ valid: true, plan: null, planError: null });
    expect(quick.body.changes.rules).toEqual({ added: [], removed: [], changed: [] });
  });
});
