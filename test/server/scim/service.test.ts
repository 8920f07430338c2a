/**
 * ScimService without HTTP, over an in-memory directory: a member change to a large group touches only the
 * membership rows (the member list is never read), and writes that arrive together share one commit while
 * each fails on its own.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Directory } from '../../../src/directory/index.js';
import { buildSchemaSet } from '../../../src/scim/schemas.js';
import { ResourceMapper } from '../../../src/server/scim/resources.js';
import { ScimService } from '../../../src/server/scim/service.js';

const BASE = 'https://idsync.test/scim/v2';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

let directory: Directory;
let service: ScimService;
beforeEach(() => {
  directory = new Directory(':memory:');
  service = new ScimService({
    directory,
    schemas: buildSchemaSet(),
    mapper: new ResourceMapper(),
    maxResults: 100,
  });
});
afterEach(() => directory.close());

describe('ScimService', () => {
  it('adds and removes a member of a 5,000-member group without reading the members', async () => {
    const ids = directory.transaction(() =>
      Array.from({ length: 5001 }, (_, i) => directory.create('user', { userName: [`m${i}`] }).id),
    );
    const group = directory.create('group', {
      displayName: ['Big'],
      members: ids.slice(0, 5000).map((ref) => ({ ref })),
    });
    const memberIds = vi.spyOn(directory, 'memberIds');
    const get = vi.spyOn(directory, 'get');
    await service.patch(
      'Groups',
      group.id,
      { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[5000] }] }] },
      BASE,
      undefined,
      { members: false },
    );
    await service.patch(
      'Groups',
      group.id,
      { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${ids[0]}"]` }] },
      BASE,
      undefined,
      { members: false },
    );
    expect(memberIds).not.toHaveBeenCalled();
    expect(get.mock.calls.every(([, options]) => options?.members === false)).toBe(true);
    expect(directory.memberIds(group.id)).toHaveLength(5000);
    expect(directory.memberIds(group.id)).toContain(ids[5000]);
    expect(directory.memberIds(group.id)).not.toContain(ids[0]);
  });

  it('commits writes that arrive together once, each failing on its own', async () => {
    const commits = vi.fn();
    directory.onChange(commits);
    const results = await Promise.allSettled([
      service.create('Users', { schemas: [USER], userName: 'a' }, BASE),
      service.create('Users', { schemas: [USER], userName: 'A' }, BASE),
      service.create('Users', { schemas: [USER], userName: 'b' }, BASE),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      status: 409,
      scimType: 'uniqueness',
    });
    expect(commits).toHaveBeenCalledTimes(1);
    expect(directory.counts().users).toBe(2);
  });

  it('keeps the version when a PATCH changes nothing', async () => {
    const created = await service.create('Users', { schemas: [USER], userName: 'v', title: 'T' }, BASE);
    const patched = await service.patch(
      'Users',
      created.id,
      { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'T' }] },
      BASE,
    );
    expect(patched.version).toBe(created.version);
  });

  it('answers an or of userName, externalId and work-email look-ups by index, never scanning', () => {
    const ids = directory.transaction(() =>
      Array.from(
        { length: 300 },
        (_, i) =>
          directory.create('user', {
            userName: [`u${i}`],
            externalId: [`x${i}`],
            email: [`U${i}@Example.com`],
          }).id,
      ),
    );
    const clauses = Array.from({ length: 50 }, (_, i) =>
      i % 3 === 0
        ? `userName eq "U${i}"`
        : i % 3 === 1
          ? `externalId eq "x${i}"`
          : `emails[type eq "work"].value eq "u${i}@example.COM"`,
    );
    clauses.push('userName eq "missing"', 'externalId eq "x0"');
    const list = vi.spyOn(directory, 'list');
    const findFolded = vi.spyOn(directory, 'findFolded');
    const answer = service.query('Users', { filter: clauses.join(' or '), attributes: ['userName'] }, BASE);
    expect(list).not.toHaveBeenCalled();
    expect(findFolded).toHaveBeenCalledTimes(52);
    expect(answer.totalResults).toBe(50);
    expect((answer.Resources as { id: string }[]).map((r) => r.id)).toEqual(ids.slice(0, 50));

    // the spy can see a scan: a branch without an index needs one
    service.query('Users', { filter: 'userName eq "u1" or title eq "x"' }, BASE);
    expect(list).toHaveBeenCalled();
  });

  it('answers meta.lastModified gt/ge by the index, in lastModified order, and a member change re-stamps its group', async () => {
    const ids = directory.transaction(() =>
      Array.from({ length: 40 }, (_, i) => directory.create('user', { userName: [`u${i}`] }).id),
    );
    const group = directory.create('group', { displayName: ['G'], members: [{ ref: ids[0]! }] });
    const stamp = (id: string) => directory.get(id, { members: false })!.lastModified;
    const before = stamp(group.id);
    await new Promise((r) => setTimeout(r, 5));
    const mark = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    // changed after the mark: three users (in this order) and the group, by a member added alone
    for (const i of [30, 5, 17]) {
      directory.update(ids[i]!, { title: { replace: [`t${i}`] } });
      await new Promise((r) => setTimeout(r, 3)); // one millisecond each at least: the order is the stamps'
    }
    await service.patch(
      'Groups',
      group.id,
      { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: ids[1] }] }] },
      BASE,
    );
    expect(stamp(group.id) > before).toBe(true);

    const list = vi.spyOn(directory, 'list');
    const users = service.query('Users', { filter: `meta.lastModified gt "${mark}"`, attributes: ['userName'] }, BASE);
    expect(list).not.toHaveBeenCalled(); // no scan
    expect(users.totalResults).toBe(3);
    expect((users.Resources as { id: string }[]).map((r) => r.id)).toEqual([ids[30], ids[5], ids[17]]);
    // paged by startIndex, newest first with sortOrder descending; count 0 counts only
    const second = service.query(
      'Users',
      { filter: `meta.lastModified ge "${mark}"`, sortBy: 'meta.lastModified', sortOrder: 'descending', startIndex: 2, count: 1 },
      BASE,
    );
    expect(second.totalResults).toBe(3);
    expect((second.Resources as { id: string }[]).map((r) => r.id)).toEqual([ids[5]]);
    expect(service.query('Users', { filter: `meta.lastModified gt "${mark}"`, count: 0 }, BASE)).toMatchObject({ totalResults: 3, Resources: [] });
    // the group, with its members, and nothing before the mark
    const groups = service.query('Groups', { filter: `urn:ietf:params:scim:schemas:core:2.0:Group:meta.lastModified gt "${mark}"` }, BASE);
    expect((groups.Resources as { id: string; members: unknown[] }[]).map((g) => [g.id, g.members.length])).toEqual([[group.id, 2]]);
    // an exact instant: gt leaves out the object stamped at it, ge keeps it
    const last = stamp(ids[17]!);
    expect(service.query('Users', { filter: `meta.lastModified gt "${last}"` }, BASE).totalResults).toBe(0);
    expect(service.query('Users', { filter: `meta.lastModified ge "${last}"` }, BASE).totalResults).toBe(1);
    // sorted by it without a filter: the index too (the newest user first)
    const newest = service.query('Users', { sortBy: 'meta.lastModified', sortOrder: 'descending', count: 1 }, BASE);
    expect(newest.totalResults).toBe(40);
    expect((newest.Resources as { id: string }[]).map((r) => r.id)).toEqual([ids[17]]);
    expect(list).not.toHaveBeenCalled();
    // any other filter on it is answered as before (here a scan), with the same answer
    const and = service.query('Users', { filter: `meta.lastModified gt "${mark}" and userName sw "u1"` }, BASE);
    expect((and.Resources as { id: string }[]).map((r) => r.id)).toEqual([ids[17]]);
    expect(list).toHaveBeenCalled();
  });

  it("finds users by displayName in any case, scanning for an or of several (users' displayName has no index)", () => {
    const a = directory.create('user', { userName: ['dn-a'], displayName: ['Åsa Berg'] });
    const b = directory.create('user', { userName: ['dn-b'], displayName: ['Bo Ek'] });
    const list = vi.spyOn(directory, 'list');
    const one = service.query('Users', { filter: 'displayName eq "åSA berg"' }, BASE);
    expect((one.Resources as { id: string }[]).map((r) => r.id)).toEqual([a.id]);
    expect(list).not.toHaveBeenCalled();
    const two = service.query(
      'Users',
      { filter: 'displayName eq "ÅSA BERG" or displayName eq "bo ek"' },
      BASE,
    );
    expect((two.Resources as { id: string }[]).map((r) => r.id)).toEqual([a.id, b.id]);
    expect(list).toHaveBeenCalled();
  });

  it('finds a group by displayName in another case by index', () => {
    const group = directory.create('group', { displayName: ['Finance'] });
    const list = vi.spyOn(directory, 'list');
    const answer = service.query('Groups', { filter: 'displayName eq "FINANCE"' }, BASE);
    expect((answer.Resources as { id: string }[]).map((r) => r.id)).toEqual([group.id]);
    const miss = service.query('Groups', { filter: 'displayName eq "Nobody"' }, BASE);
    expect(miss.totalResults).toBe(0);
    expect(list).not.toHaveBeenCalled();
  });
});
