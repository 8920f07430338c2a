/**
 * The SCIM connector against a SCIM server over real HTTP on loopback: discovery, creates, PATCH updates in
 * Entra's path syntax, member batches, deletes, import with paging and lastModified deltas, matching.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImportChange } from '../../../src/connectors/contract.js';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import { anchorOf, exportAll, exportOne, importAll, scimConnector } from './support.js';
import { TestScimServer } from './server.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
let server: TestScimServer;
let connector: ScimConnector;

beforeEach(async () => {
  server = new TestScimServer();
  await server.start();
  connector = scimConnector(server.url, { auth: { type: 'none' } });
});

afterEach(async () => {
  await connector.close();
  await server.stop();
});

function user(i: number, extra: Record<string, unknown[]> = {}) {
  return {
    userName: [`user${i}@example.com`],
    active: [true],
    displayName: [`User ${i}`],
    'name.givenName': [`Given${i}`],
    'name.familyName': [`Family${i}`],
    'emails[type eq "work"].value': [`user${i}@example.com`],
    externalId: [`E${i}`],
    [`${ENT}:department`]: ['Sales'],
    ...extra,
  } as unknown as Record<string, never[]>;
}

async function createUsers(n: number): Promise<string[]> {
  const changes = Array.from({ length: n }, (_, i) => ({ op: 'create' as const, id: `u${i}`, objectType: 'user', attributes: user(i) }));
  const results = await exportAll(connector, changes);
  return changes.map((c) => anchorOf(results.get(c.id)));
}

describe('discovery and schema', () => {
  it('derives Entra-style attribute names from /Schemas', async () => {
    const schema = await connector.schema();
    const attrs = schema.objectTypes.user!.attributes;
    expect(attrs.userName).toMatchObject({ type: 'string', multiValued: false });
    expect(attrs['emails[type eq "work"].value']).toMatchObject({ type: 'string', multiValued: false });
    expect(attrs['addresses[type eq "work"].streetAddress']).toBeDefined();
    expect(attrs[`${ENT}:manager`]).toMatchObject({ type: 'reference' });
    expect(attrs.active).toMatchObject({ type: 'boolean' });
    expect(attrs.password).toMatchObject({ secret: true });
    expect(schema.objectTypes.group!.attributes.members).toMatchObject({ type: 'reference', multiValued: true });
  });

  it('falls back to the RFC core schemas when the server has no discovery endpoints', async () => {
    server.options.discovery = false;
    const schema = await connector.schema();
    expect(schema.objectTypes.user!.attributes['phoneNumbers[type eq "mobile"].value']).toBeDefined();
    await connector.test();
  });

  it('knows the same attributes without /Schemas as from a server publishing the RFC 7643 schemas', async () => {
    const published = await connector.schema();
    server.options.discovery = false;
    const fallback = scimConnector(server.url, { auth: { type: 'none' } });
    try {
      const schema = await fallback.schema();
      expect(schema).toEqual(published);
      expect(schema.objectTypes.user!.attributes[`${ENT}:employeeNumber`]).toMatchObject({ type: 'string' });
      expect(schema.objectTypes.user!.attributes['roles.primary']).toMatchObject({ type: 'boolean', multiValued: true });
      expect(schema.objectTypes.user!.attributes.groups).toBeUndefined();
    } finally {
      await fallback.close();
    }
  });
});

describe('export', () => {
  it('creates a user as a SCIM resource with its extension and manager', async () => {
    const [boss] = await createUsers(1);
    const result = await exportOne(connector, { op: 'create', id: 'c1', objectType: 'user', attributes: user(7, { [`${ENT}:manager`]: [{ ref: boss! }] as never[] }) });
    const id = anchorOf(result);
    const stored = server.users.get(id)!;
    expect(stored.userName).toBe('user7@example.com');
    expect(stored.name).toEqual({ givenName: 'Given7', familyName: 'Family7' });
    expect(stored.emails).toEqual([{ type: 'work', value: 'user7@example.com' }]);
    expect(stored[ENT]).toEqual({ department: 'Sales', manager: { value: boss } });
    expect(stored.schemas).toContain(ENT);
    // the confirmed state the engine records reads back under the same names
    expect(result.ok && result.object?.attributes[`${ENT}:manager`]).toEqual([{ ref: boss }]);
    expect(result.ok && result.object?.attributes['emails[type eq "work"].value']).toEqual(['user7@example.com']);
  });

  it('updates with minimal PATCH operations in Entra path syntax', async () => {
    const [id] = await createUsers(1);
    server.clearLog();
    const result = await exportOne(connector, {
      op: 'update',
      id: 'u',
      objectType: 'user',
      anchor: id!,
      changes: {
        displayName: { replace: ['Renamed'] },
        'emails[type eq "work"].value': { replace: ['new@example.com'] },
        [`${ENT}:department`]: { replace: ['Legal'] },
        'name.familyName': { replace: [] },
      },
    });
    expect(result.ok).toBe(true);
    const writes = server.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.method).toBe('PATCH');
    expect(writes[0]!.body.Operations).toEqual([
      { op: 'replace', path: 'displayName', value: 'Renamed' },
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'new@example.com' },
      { op: 'replace', path: `${ENT}:department`, value: 'Legal' },
      { op: 'remove', path: 'name.familyName' },
    ]);
    const stored = server.users.get(id!)!;
    expect(stored.displayName).toBe('Renamed');
    expect(stored.emails).toEqual([{ type: 'work', value: 'new@example.com' }]);
    expect(stored[ENT].department).toBe('Legal');
    expect(stored.name.familyName).toBeUndefined();
  });

  it('adds a typed value the resource does not have yet (noTarget → add of the element)', async () => {
    const [id] = await createUsers(1);
    const result = await exportOne(connector, { op: 'update', id: 'u', objectType: 'user', anchor: id!, changes: { 'phoneNumbers[type eq "mobile"].value': { replace: ['+1 555 0100'] } } });
    expect(result.ok).toBe(true);
    expect(server.users.get(id!)!.phoneNumbers).toEqual([{ type: 'mobile', value: '+1 555 0100' }]);
  });

  it('disables with active=false and deletes, a second delete being notFound', async () => {
    const [id] = await createUsers(1);
    expect((await exportOne(connector, { op: 'update', id: 'd', objectType: 'user', anchor: id!, changes: { active: { replace: [false] } } })).ok).toBe(true);
    expect(server.users.get(id!)!.active).toBe(false);
    expect((await exportOne(connector, { op: 'delete', id: 'x', objectType: 'user', anchor: id! })).ok).toBe(true);
    expect(server.users.has(id!)).toBe(false);
    const again = await exportOne(connector, { op: 'delete', id: 'x', objectType: 'user', anchor: id! });
    expect(again.ok === false && again.error.notFound).toBe(true);
  });

  it('creates a large group with members in batches, and changes a 2,000-member group by small PATCHes only', async () => {
    const ids = await createUsers(2005);
    server.clearLog();
    const created = await exportOne(connector, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['Everyone'], members: ids.slice(0, 2000).map((ref) => ({ ref })) } });
    const gid = anchorOf(created);
    expect(server.groups.get(gid)!.members).toHaveLength(2000);
    const writes = server.writes();
    expect(writes[0]!.method).toBe('POST');
    expect(writes[0]!.body.members).toHaveLength(100);
    expect(writes.filter((w) => w.method === 'PATCH')).toHaveLength(19);
    expect(created.ok && created.object?.attributes.members).toHaveLength(2000);

    server.clearLog();
    const result = await exportOne(connector, {
      op: 'update',
      id: 'g',
      objectType: 'group',
      anchor: gid,
      changes: { members: { add: ids.slice(2000, 2003).map((ref) => ({ ref })), remove: [{ ref: ids[0]! }, { ref: ids[1]! }] } },
    });
    expect(result.ok).toBe(true);
    const patches = server.writes();
    expect(patches.map((w) => w.method)).toEqual(['PATCH', 'PATCH']);
    expect(patches[0]!.body.Operations).toEqual([{ op: 'add', path: 'members', value: ids.slice(2000, 2003).map((value) => ({ value })) }]);
    expect(patches[1]!.body.Operations).toEqual([
      { op: 'remove', path: `members[value eq "${ids[0]}"]` },
      { op: 'remove', path: `members[value eq "${ids[1]}"]` },
    ]);
    for (const w of patches) expect(JSON.stringify(w.body).length).toBeLessThan(1000);
    const members = new Set(server.groups.get(gid)!.members.map((m: { value: string }) => m.value));
    expect(members.size).toBe(2001);
    expect(members.has(ids[0]!)).toBe(false);
    expect(members.has(ids[2002]!)).toBe(true);
  });

  it('links an existing user found by the match attributes instead of creating a second one', async () => {
    const [id] = await createUsers(1);
    server.clearLog();
    const result = await exportOne(connector, { op: 'create', id: 'again', objectType: 'user', attributes: user(0, { displayName: ['Changed'] }) });
    expect(anchorOf(result)).toBe(id);
    expect(server.users.size).toBe(1);
    expect(server.writes().map((w) => w.method)).toEqual(['PATCH']);
    expect(server.users.get(id!)!.displayName).toBe('Changed');
  });

  it('matches in order: externalId finds a user whose userName changed', async () => {
    const [id] = await createUsers(1);
    const result = await exportOne(connector, { op: 'create', id: 'again', objectType: 'user', attributes: user(0, { userName: ['renamed@example.com'] }) });
    expect(anchorOf(result)).toBe(id);
    expect(server.users.get(id!)!.userName).toBe('renamed@example.com');
  });

  it('reports a bad attribute name as the change\'s error, naming the attribute', async () => {
    const result = await exportOne(connector, { op: 'create', id: 'bad', objectType: 'user', attributes: { userName: ['x@example.com'], 'emails[type eq work': ['y'] } as never });
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.error).toMatchObject({ code: 'SCIM_ATTRIBUTE_INVALID', attribute: 'emails[type eq work', retryable: false });
  });

  it('reports what the server refuses, with its SCIM detail', async () => {
    const result = await exportOne(connector, { op: 'create', id: 'bad', objectType: 'user', attributes: { displayName: ['no userName'] } });
    expect(result.ok === false && result.error).toMatchObject({ code: 'SCIM_BAD_REQUEST', retryable: false });
    expect(result.ok === false && result.error.message).toContain('userName is required');
  });
});

describe('compatibility switches', () => {
  it('capitalised ops, PATCH without path, booleans as strings, members removed by value list', async () => {
    await connector.close();
    connector = scimConnector(server.url, { compat: { capitalizedOps: true, patchWithoutPath: true, booleansAsStrings: true, memberRemoval: 'value-list' } });
    const [a, b] = await createUsers(2);
    const created = server.log.find((r) => r.method === 'POST')!;
    expect(created.body.active).toBe('True');
    const g = anchorOf(await exportOne(connector, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['G'], members: [{ ref: a! }, { ref: b! }] } }));
    server.clearLog();
    await exportOne(connector, { op: 'update', id: 'u', objectType: 'user', anchor: a!, changes: { active: { replace: [false] }, displayName: { replace: ['A'] } } });
    await exportOne(connector, { op: 'update', id: 'g', objectType: 'group', anchor: g, changes: { members: { remove: [{ ref: b! }] } } });
    const [userPatch, groupPatch] = server.writes();
    expect(userPatch!.body.Operations).toEqual([{ op: 'Replace', value: { active: 'False', displayName: 'A' } }]);
    expect(groupPatch!.body.Operations).toEqual([{ op: 'Remove', path: 'members', value: [{ value: b }] }]);
    expect(server.users.get(a!)!.active).toBe(false);
    expect(server.groups.get(g)!.members).toEqual([{ value: a }]);
  });
});

describe('member removal', () => {
  it("falls back to Entra's value list when the server refuses members[value eq ...] paths", async () => {
    server.options.fault = (r) =>
      r.method === 'PATCH' && JSON.stringify(r.body).includes('members[value eq') ? { kind: 'status', status: 400 } : undefined;
    const [a, b, c] = await createUsers(3);
    const g = anchorOf(await exportOne(connector, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['G'], members: [a!, b!, c!].map((ref) => ({ ref })) } }));
    for (const gone of [a!, b!]) {
      const r = await exportOne(connector, { op: 'update', id: 'g', objectType: 'group', anchor: g, changes: { members: { remove: [{ ref: gone }] } } });
      expect(r.ok).toBe(true);
    }
    expect(server.groups.get(g)!.members).toEqual([{ value: c }]);
    // the first removal tried the RFC form, the second went straight to the value list
    const patches = server.log.filter((l) => l.method === 'PATCH').map((l) => l.body.Operations[0].path);
    expect(patches).toEqual([`members[value eq "${a}"]`, 'members', 'members']);
  });
});

describe('import', () => {
  it('lists users and groups page by page, members read per group, and a delta returns only what changed', async () => {
    const ids = await createUsers(23);
    const g = anchorOf(await exportOne(connector, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['Team'], members: ids.slice(0, 5).map((ref) => ({ ref })) } }));
    await new Promise((r) => setTimeout(r, 1100));
    await exportOne(connector, { op: 'update', id: 'x', objectType: 'user', anchor: ids[0]!, changes: { displayName: { replace: ['Later'] } } });
    // the overlap is taken off when the watermark is written: this test reads deltas without one
    await connector.close();
    connector = scimConnector(server.url, { deltaOverlap: 0 });
    server.clearLog();
    const pages = await importAll(connector, 'full', null, 7);
    const upserts = pages.flatMap((p) => p.changes).filter((c): c is Extract<ImportChange, { kind: 'upsert' }> => c.kind === 'upsert');
    expect(upserts).toHaveLength(24);
    expect(pages.filter((p) => p.changes.length > 0).length).toBe(5);
    const listing = server.log.filter((r) => r.path.startsWith('/Groups?'));
    expect(listing[0]!.path).toContain('excludedAttributes=members');
    const group = upserts.find((u) => u.object.anchor === g)!;
    expect(group.object.attributes.members).toHaveLength(5);
    expect(group.object.attributes.members![0]).toHaveProperty('ref');
    const someone = upserts.find((u) => u.object.objectType === 'user')!;
    expect(someone.object.attributes['emails[type eq "work"].value']).toHaveLength(1);
    const watermark = pages.at(-1)!.watermark!;
    expect(JSON.parse(watermark).user.newest).toMatch(/^\d{4}-/);

    // A delta with no overlap: the timestamps are to the second, so the objects of the watermark's second come
    // again (ties are re-read, never skipped), and those changed after it do. The server sorts: oldest first.
    server.options.sort = true;
    await connector.close();
    connector = scimConnector(server.url, { deltaOverlap: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    await exportOne(connector, { op: 'update', id: 'x', objectType: 'user', anchor: ids[3]!, changes: { displayName: { replace: ['Changed'] } } });
    const delta = await importAll(connector, 'delta', watermark, 100);
    const changed = delta.flatMap((p) => p.changes).filter((c): c is Extract<ImportChange, { kind: 'upsert' }> => c.kind === 'upsert');
    // (the group is read again too: its own watermark is the second it was created in)
    expect(changed.filter((c) => c.object.objectType === 'user').map((c) => c.object.anchor).sort()).toEqual([ids[0], ids[3]].sort());
    expect(changed.find((c) => c.object.anchor === ids[3])!.object.attributes.displayName).toEqual(['Changed']);
    expect(server.log.some((r) => r.path.startsWith('/Users?') && r.path.includes('sortBy=meta.lastModified'))).toBe(true);
    expect(changed.filter((c) => c.object.objectType === 'user').map((c) => c.object.anchor)).toEqual([ids[0], ids[3]]);
    expect(Date.parse(JSON.parse(delta.at(-1)!.watermark!).user.newest)).toBeGreaterThan(Date.parse(JSON.parse(watermark).user.newest));
  });

  it('keeps the watermark where it was when the result changed during a delta listing (an object may have been skipped)', async () => {
    const ids = await createUsers(8);
    const full = await importAll(connector, 'full', null, 100);
    const watermark = full.at(-1)!.watermark!;
    await new Promise((r) => setTimeout(r, 1100));
    for (const id of ids.slice(0, 6)) await exportOne(connector, { op: 'update', id: 'x', objectType: 'user', anchor: id, changes: { title: { replace: ['T'] } } });
    let pages = 0;
    server.options.fault = (r) => {
      // while the client pages through the changed users, someone deletes one of them
      if (r.method === 'GET' && r.path.startsWith('/Users?') && r.path.includes('filter') && ++pages === 2) server.users.delete(ids[5]!);
      return undefined;
    };
    await connector.close();
    connector = scimConnector(server.url, { deltaOverlap: 0 });
    const delta = await importAll(connector, 'delta', watermark, 2);
    expect(JSON.parse(delta.at(-1)!.watermark!).user).toEqual(JSON.parse(watermark).user);
    // without interference the same delta advances it
    server.options.fault = undefined;
    const again = await importAll(connector, 'delta', watermark, 2);
    expect(Date.parse(JSON.parse(again.at(-1)!.watermark!).user.newest)).toBeGreaterThan(Date.parse(JSON.parse(watermark).user.newest));
  });

  it('uses cursor paging where the server offers it (RFC 9865)', async () => {
    server.options.cursor = true;
    await connector.close();
    connector = scimConnector(server.url);
    await createUsers(12);
    server.clearLog();
    const pages = await importAll(connector, 'full', null, 5);
    expect(pages.flatMap((p) => p.changes)).toHaveLength(12);
    expect(server.log.some((r) => r.path.includes('cursor=') && r.path.startsWith('/Users'))).toBe(true);
    expect(server.log.some((r) => r.path.startsWith('/Users') && r.path.includes('startIndex'))).toBe(false);
  });

  it('asks for a full import when the watermark is not one it wrote, or when the last full one is too old', async () => {
    await expect(importAll(connector, 'delta', 'garbage')).rejects.toMatchObject({ fullImportRequired: true });
    const watermark = JSON.parse((await importAll(connector, 'full', null)).at(-1)!.watermark!);
    expect(Date.parse(watermark.fullAt)).toBeGreaterThan(Date.now() - 60_000);
    await importAll(connector, 'delta', JSON.stringify(watermark));
    const old = { ...watermark, fullAt: new Date(Date.now() - 25 * 3_600_000).toISOString() };
    await expect(importAll(connector, 'delta', JSON.stringify(old))).rejects.toMatchObject({ code: 'SCIM_FULL_IMPORT_DUE', fullImportRequired: true });
  });

  it('lookup finds users by an Entra path', async () => {
    const [id] = await createUsers(3);
    const found = await connector.lookup('user', 'emails[type eq "work"].value', ['user0@example.com']);
    expect(found.map((f) => f.anchor)).toEqual([id]);
    expect(await connector.lookup('user', 'userName', ['nobody@example.com'])).toEqual([]);
  });
});

describe('batched matching and Bulk', () => {
  it('matches a batch of creates with a few `or` queries and creates the rest in Bulk requests', async () => {
    server.options.bulk = true;
    await connector.close();
    connector = scimConnector(server.url, { bulkSize: 20 });
    const [existing] = await createUsers(1);
    server.clearLog();
    const changes = Array.from({ length: 60 }, (_, i) => ({ op: 'create' as const, id: `b${i}`, objectType: 'user', attributes: user(i) }));
    const results = await exportAll(connector, changes);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(anchorOf(results.get('b0'))).toBe(existing);
    expect(server.users.size).toBe(60);
    const gets = server.log.filter((r) => r.method === 'GET');
    expect(gets.length).toBeLessThanOrEqual(3);
    expect(gets[0]!.path).toContain('%20or%20');
    const bulks = server.log.filter((r) => r.path === '/Bulk');
    expect(bulks).toHaveLength(3);
    expect(server.log.filter((r) => r.method === 'POST' && r.path === '/Users')).toHaveLength(0);
    for (const [i, c] of changes.entries()) expect(server.users.get(anchorOf(results.get(c.id)))!.userName).toBe(`user${i}@example.com`);
  });

  it('falls back to one query per create when the server refuses `or`', async () => {
    const original = server.options.fault;
    server.options.fault = (r) => (r.path.includes('%20or%20') ? { kind: 'status', status: 400 } : original?.(r));
    await createUsers(3);
    const again = await exportAll(connector, [0, 1, 2].map((i) => ({ op: 'create' as const, id: `a${i}`, objectType: 'user', attributes: user(i) })));
    expect([...again.values()].every((r) => r.ok)).toBe(true);
    expect(server.users.size).toBe(3);
  });
});
