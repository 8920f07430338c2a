import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Directory, type DirectoryChange, DirectoryError } from '../../src/directory/index.js';

let dir: string;
let directory: Directory;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-directory-'));
  directory = new Directory(join(dir, 'directory.db'));
});

afterEach(() => {
  directory.close();
  rmSync(dir, { recursive: true, force: true });
});

function user(userName: string, extra: Record<string, unknown[]> = {}) {
  return directory.create('user', { userName: [userName], ...extra } as never);
}

function expectCode(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DirectoryError);
    expect((err as DirectoryError).code).toBe(code);
    return err as DirectoryError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('Directory CRUD', () => {
  it('creates, reads, updates and deletes a user, keeping unknown attributes', () => {
    const created = directory.create('user', {
      userName: ['alice@example.com'],
      displayName: ['Alice Liddell'],
      givenName: ['Alice'],
      active: [true],
      externalId: ['E1'],
      badgeColour: ['blue', 'green'],
      photo: [Buffer.from([1, 2, 3])],
    });
    expect(created.version).toBe(1);
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.created).toMatch(/Z$/);

    const read = directory.get(created.id)!;
    expect(read.type).toBe('user');
    expect(read.attributes).toMatchObject({
      userName: ['alice@example.com'],
      displayName: ['Alice Liddell'],
      givenName: ['Alice'],
      active: [true],
      externalId: ['E1'],
      badgeColour: ['blue', 'green'],
    });
    expect(Buffer.from(read.attributes.photo![0] as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));

    const updated = directory.update(created.id, {
      givenName: { replace: ['Alicia'] },
      badgeColour: { remove: ['blue'], add: ['red'] },
      active: { replace: [false] },
      photo: { replace: [] },
    });
    expect(updated).toMatchObject({ version: 2, changed: true });
    const after = directory.get(created.id)!;
    expect(after.attributes.givenName).toEqual(['Alicia']);
    expect(after.attributes.badgeColour).toEqual(['green', 'red']);
    expect(after.attributes.active).toEqual([false]);
    expect(after.attributes.photo).toBeUndefined();
    expect(after.version).toBe(2);

    directory.delete(created.id);
    expect(directory.get(created.id)).toBeUndefined();
    expectCode(() => directory.delete(created.id), 'DIRECTORY_NOT_FOUND');
    expectCode(() => directory.update(created.id, { givenName: { replace: ['x'] } }), 'DIRECTORY_NOT_FOUND');
  });

  it('does not bump the version for an update that changes nothing', () => {
    const { id } = user('bob', { givenName: ['Bob'] });
    const result = directory.update(id, { givenName: { replace: ['Bob'] }, userName: { replace: ['bob'] } });
    expect(result).toMatchObject({ version: 1, changed: false });
    expect(directory.get(id)!.version).toBe(1);
  });

  it('replaces all attributes (SCIM PUT)', () => {
    const { id } = user('carol', { givenName: ['Carol'], title: ['CEO'] });
    directory.replace(id, { userName: ['carol'], familyName: ['King'] });
    const read = directory.get(id)!;
    expect(read.attributes).toEqual({ userName: ['carol'], familyName: ['King'] });
    expect(read.version).toBe(2);
  });

  it('rejects invalid values with DIRECTORY_INVALID_VALUE naming the attribute', () => {
    expect(
      expectCode(() => directory.create('user', { displayName: ['x'] }), 'DIRECTORY_INVALID_VALUE').place
        .attribute,
    ).toBe('userName');
    expectCode(() => directory.create('group', { externalId: ['g'] }), 'DIRECTORY_INVALID_VALUE');
    expectCode(() => directory.create('user', { userName: ['a', 'b'] }), 'DIRECTORY_INVALID_VALUE');
    expectCode(
      () => directory.create('user', { userName: ['a'], active: ['maybe'] }),
      'DIRECTORY_INVALID_VALUE',
    );
    expectCode(
      () => directory.create('user', { userName: ['a'], members: [{ ref: 'x' }] }),
      'DIRECTORY_INVALID_VALUE',
    );
    expectCode(
      () => directory.create('group', { displayName: ['g'], userName: ['x'] }),
      'DIRECTORY_INVALID_VALUE',
    );
    const { id } = user('dave');
    expectCode(() => directory.update(id, { userName: { replace: [] } }), 'DIRECTORY_INVALID_VALUE');
    expect(directory.counts().users).toBe(1);
  });
});

describe('paging by position', () => {
  it('idAt gives the id at an offset among objects of one type, in id order', () => {
    const users = Array.from(
      { length: 5 },
      (_, i) => directory.create('user', { userName: [`u${i}@example.com`] }).id,
    );
    directory.create('group', { displayName: ['G'] });
    const ordered = [...users].sort();
    expect(ordered.map((_, i) => directory.idAt('user', i))).toEqual(ordered);
    expect(directory.idAt('user', 5)).toBeUndefined();
    expect(directory.idAt('group', 0)).not.toBe(undefined);
    expect(directory.idAt('group', 1)).toBeUndefined();
    // the page after the id at offset 1 starts with the third user
    expect(
      directory.list({ type: 'user', afterId: directory.idAt('user', 1), limit: 2 }).map((o) => o.id),
    ).toEqual(ordered.slice(2, 4));
  });
});

describe('userName uniqueness', () => {
  it('is case-insensitive, for non-ASCII letters too', () => {
    const first = user('Eve@Example.com');
    const err = expectCode(() => user('eve@example.COM'), 'DIRECTORY_UNIQUENESS');
    expect(err.message).toContain(first.id);
    user('Ärger');
    expectCode(() => user('äRGER'), 'DIRECTORY_UNIQUENESS');
    expect(directory.counts().users).toBe(2);
  });

  it('applies to renames, and a failed rename leaves the object as it was', () => {
    user('frank');
    const { id } = user('grace', { title: ['Dev'] });
    expectCode(
      () => directory.update(id, { userName: { replace: ['FRANK'] }, title: { replace: ['Ops'] } }),
      'DIRECTORY_UNIQUENESS',
    );
    const read = directory.get(id)!;
    expect(read.attributes.userName).toEqual(['grace']);
    expect(read.attributes.title).toEqual(['Dev']);
    expect(read.version).toBe(1);
  });

  it('keeps the rest of a transaction when one create clashes and is caught', () => {
    directory.transaction(() => {
      user('henry');
      expectCode(() => user('HENRY'), 'DIRECTORY_UNIQUENESS');
      user('irene');
    });
    expect(directory.counts().users).toBe(2);
  });
});

describe('versions', () => {
  it('refuses a write at the wrong version (If-Match)', () => {
    const { id } = user('judy');
    directory.update(id, { title: { replace: ['a'] } }, { ifVersion: 1 });
    const err = expectCode(
      () => directory.update(id, { title: { replace: ['b'] } }, { ifVersion: 1 }),
      'DIRECTORY_VERSION_CONFLICT',
    );
    expect(err.place.anchor).toBe(id);
    expectCode(() => directory.delete(id, { ifVersion: 1 }), 'DIRECTORY_VERSION_CONFLICT');
    directory.delete(id, { ifVersion: 2 });
    expect(directory.get(id)).toBeUndefined();
  });
});

describe('findBy', () => {
  it('finds by userName (any case), externalId, displayName and JSON attributes exactly', () => {
    const a = user('kim', { externalId: ['E-7'], email: ['kim@example.com'], employeeNumber: [7] });
    user('kimberly', { email: ['kimberly@example.com'], employeeNumber: ['7'] });
    const g = directory.create('group', { displayName: ['Sales'] });
    expect(directory.findBy('userName', 'KIM').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findBy('externalId', 'E-7').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findBy('externalId', 'e-7')).toEqual([]);
    expect(directory.findBy('displayName', 'Sales', 'group').map((o) => o.id)).toEqual([g.id]);
    expect(directory.findBy('displayName', 'Sales', 'user')).toEqual([]);
    expect(directory.findBy('email', 'kim@example.com').map((o) => o.id)).toEqual([a.id]);
    // values compare with their type: the number 7 is not the string "7"
    expect(directory.findBy('employeeNumber', 7).map((o) => o.id)).toEqual([a.id]);
  });
});

describe('findFolded', () => {
  it("finds a group's displayName and a user's work email in any case, for every script", () => {
    const a = user('ana', { email: ['Ana.Öberg@Example.com'], displayName: ['Ana Ö'] });
    user('bo', { email: ['bo@example.com'] });
    const g = directory.create('group', { displayName: ['Sälj'] });
    expect(directory.findFolded('email', 'ana.öBERG@example.COM', 'user').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findFolded('email', 'ana.öBERG@example.COM', 'group')).toEqual([]);
    expect(directory.findFolded('displayName', 'SÄLJ', 'group').map((o) => o.id)).toEqual([g.id]);
    expect(directory.findFolded('displayName', 'ana ö').map((o) => o.id)).toEqual([a.id]);
    // findBy stays exact
    expect(directory.findBy('email', 'ana.öberg@example.com')).toEqual([]);
    expect(directory.findBy('email', 'Ana.Öberg@Example.com').map((o) => o.id)).toEqual([a.id]);
    // the keys follow renames
    directory.update(g.id, { displayName: { replace: ['Inköp'] } });
    directory.update(a.id, { email: { replace: ['ana@example.com'] } });
    expect(directory.findFolded('displayName', 'sälj', 'group')).toEqual([]);
    expect(directory.findFolded('displayName', 'INKÖP', 'group').map((o) => o.id)).toEqual([g.id]);
    expect(directory.findFolded('email', 'ana.öberg@example.com')).toEqual([]);
    expect(directory.findFolded('email', 'ANA@example.com').map((o) => o.id)).toEqual([a.id]);
  });

  it('still finds an object by every key after an update that changed none of them', () => {
    const a = user('cleo', { externalId: ['E-9'], email: ['Cleo@example.com'], displayName: ['Cleo'] });
    const before = directory.get(a.id)!;
    const seq = directory.currentSequence();
    directory.update(a.id, { title: { replace: ['Boss'] } });
    const after = directory.get(a.id)!;
    expect(after.attributes.title).toEqual(['Boss']);
    expect(after.version).toBe(before.version + 1);
    expect(directory.currentSequence()).toBeGreaterThan(seq);
    expect(directory.findBy('userName', 'CLEO').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findBy('externalId', 'E-9').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findFolded('email', 'cleo@EXAMPLE.com').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findFolded('displayName', 'CLEO').map((o) => o.id)).toEqual([a.id]);
  });

  it('finds an object with several emails by each of them, and a group by an email it was given', () => {
    const a = user('two', { email: ['One@example.com', 'Two@example.com'] });
    const g = directory.create('group', { displayName: ['Mail'], email: ['mail@example.com'] } as never);
    expect(directory.findFolded('email', 'two@EXAMPLE.com').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findBy('email', 'One@example.com').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findBy('email', 'one@example.com')).toEqual([]);
    expect(directory.findBy('email', 'mail@example.com', 'group').map((o) => o.id)).toEqual([g.id]);
    expect(directory.findFolded('email', 'MAIL@example.com', 'user')).toEqual([]);
  });

  it('looks the folded keys up by index', () => {
    const db = new Database(join(dir, 'directory.db'), { readonly: true });
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(plan("SELECT id FROM objects WHERE emailKey = 'x'")).toMatch(/USING INDEX objects_emailKey/);
    expect(plan("SELECT id FROM objects WHERE displayNameKey = 'x'")).toMatch(
      /USING INDEX objects_displayNameKey/,
    );
    db.close();
  });
});

describe('membership', () => {
  it('adds and removes members, checks they exist, and lists groups of a member', () => {
    const a = user('lee');
    const b = user('max');
    const g = directory.create('group', { displayName: ['Ops'], members: [{ ref: a.id }] });
    expect(directory.get(g.id)!.attributes.members).toEqual([{ ref: a.id }]);
    expect(directory.addMembers(g.id, [b.id, a.id])).toMatchObject({ version: 2, changed: true });
    expect(directory.memberIds(g.id).sort()).toEqual([a.id, b.id].sort());
    expect(directory.groupsOf(b.id)).toEqual([g.id]);
    expect(directory.addMembers(g.id, [a.id]).changed).toBe(false);
    expectCode(() => directory.addMembers(g.id, ['nobody']), 'DIRECTORY_INVALID_MEMBER');
    expectCode(() => directory.addMembers(g.id, [g.id]), 'DIRECTORY_INVALID_MEMBER');
    expectCode(() => directory.addMembers(a.id, [b.id]), 'DIRECTORY_NOT_FOUND');
    directory.removeMembers(g.id, [a.id]);
    expect(directory.memberIds(g.id)).toEqual([b.id]);
    // replace computes the difference
    directory.update(g.id, { members: { replace: [{ ref: a.id }] } });
    expect(directory.memberIds(g.id)).toEqual([a.id]);
    // deleting a member removes it from its groups and bumps their version
    const before = directory.get(g.id)!.version;
    directory.delete(a.id);
    expect(directory.memberIds(g.id)).toEqual([]);
    expect(directory.get(g.id)!.version).toBe(before + 1);
  });

  it('adds one member to a 10,000-member group without rewriting the group', () => {
    const ids = directory.transaction(() => Array.from({ length: 10_001 }, (_, i) => user(`u${i}`).id));
    const g = directory.create('group', {
      displayName: ['Everyone'],
      members: ids.slice(0, 10_000).map((ref) => ({ ref })),
    });
    const before = directory.get(g.id, { members: false })!;
    const raw = new Database(directory.path, { readonly: true });
    const rowBefore = raw.prepare('SELECT attributes, changeSeq FROM objects WHERE id = ?').get(g.id);
    const sequence = directory.currentSequence();

    directory.addMembers(g.id, [ids[10_000]!]);

    // one membership row and one log entry; the group row keeps its attributes and changeSeq
    expect(directory.currentSequence()).toBe(sequence + 1);
    expect(raw.prepare('SELECT attributes, changeSeq FROM objects WHERE id = ?').get(g.id)).toEqual(
      rowBefore,
    );
    expect(directory.get(g.id, { members: false })!.version).toBe(before.version + 1);
    expect(directory.memberIds(g.id)).toHaveLength(10_001);
    const delta = directory.changesSince(sequence);
    expect(delta.changes).toEqual([
      { kind: 'member', seq: sequence + 1, groupId: g.id, memberId: ids[10_000], added: true },
    ]);
    raw.close();
  });
});

describe('changesSince', () => {
  it('reports creates, updates, membership changes and deletes (tombstones) in order', () => {
    const a = user('nina');
    const b = user('omar');
    const g = directory.create('group', { displayName: ['Team'] });
    const start = directory.currentSequence();
    directory.update(a.id, { title: { replace: ['Lead'] } });
    directory.addMembers(g.id, [a.id, b.id]);
    directory.delete(b.id);
    const c = user('pia');
    const page = directory.changesSince(start);
    const summary = page.changes.map((change: DirectoryChange) =>
      change.kind === 'upsert'
        ? `upsert ${change.object.id}`
        : change.kind === 'delete'
          ? `delete ${change.id}`
          : `${change.added ? 'add' : 'remove'} ${change.memberId} to ${change.groupId}`,
    );
    expect(summary).toEqual([
      `upsert ${a.id}`,
      `add ${a.id} to ${g.id}`,
      `add ${b.id} to ${g.id}`,
      `remove ${b.id} to ${g.id}`,
      `delete ${b.id}`,
      `upsert ${c.id}`,
    ]);
    expect(page.lastSeq).toBe(directory.currentSequence());
    // an object changed twice appears once, at its latest number, as it is now
    const upsert = page.changes[0] as Extract<DirectoryChange, { kind: 'upsert' }>;
    expect(upsert.object.attributes.title).toEqual(['Lead']);
    expect(directory.changesSince(page.lastSeq).changes).toEqual([]);
  });

  it('pages with a limit and folds member history into the group when its attributes change', () => {
    const users = directory.transaction(() => Array.from({ length: 25 }, (_, i) => user(`p${i}`)));
    const g = directory.create('group', { displayName: ['G'] });
    const start = directory.currentSequence();
    directory.addMembers(
      g.id,
      users.map((u) => u.id),
    );
    directory.update(g.id, { displayName: { replace: ['G2'] } });
    const page = directory.changesSince(start, 10);
    // the 25 member entries were made moot by the group's attribute change: one upsert with all members
    expect(page.changes).toHaveLength(1);
    expect(page.changes[0]).toMatchObject({ kind: 'upsert', object: { id: g.id } });
    expect(
      (page.changes[0] as Extract<DirectoryChange, { kind: 'upsert' }>).object.attributes.members,
    ).toHaveLength(25);

    let seq = 0;
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const p = directory.changesSince(seq, 7);
      if (p.changes.length === 0) break;
      expect(p.changes.length).toBeLessThanOrEqual(7);
      for (const change of p.changes) if (change.kind === 'upsert') seen.push(change.object.id);
      seq = p.lastSeq;
    }
    expect(seen).toHaveLength(26);
    expect(new Set(seen).size).toBe(26);
  });
});

describe('bulk membership changes', () => {
  it('re-stamps the group instead of logging each member when one change touches many', () => {
    const users = directory.transaction(() => Array.from({ length: 150 }, (_, i) => user(`bulk${i}`)));
    const g = directory.create('group', { displayName: ['Bulk'] });
    const start = directory.currentSequence();
    directory.addMembers(
      g.id,
      users.map((u) => u.id),
    );
    const page = directory.changesSince(start);
    expect(page.changes).toHaveLength(1);
    const change = page.changes[0] as Extract<DirectoryChange, { kind: 'upsert' }>;
    expect(change.kind).toBe('upsert');
    expect(change.object.attributes.members).toHaveLength(150);
    expect(change.object.version).toBe(2);
  });
});

describe('list and counts', () => {
  it('pages through objects by id, optionally by type', () => {
    directory.transaction(() => {
      for (let i = 0; i < 12; i++) user(`q${i}`);
      for (let i = 0; i < 3; i++) directory.create('group', { displayName: [`g${i}`] });
    });
    const all: string[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = directory.list({ afterId, limit: 5 });
      if (page.length === 0) break;
      all.push(...page.map((o) => o.id));
      afterId = page[page.length - 1]!.id;
    }
    expect(all).toHaveLength(15);
    expect([...all].sort()).toEqual(all);
    expect(directory.list({ type: 'group' }).map((o) => o.type)).toEqual(['group', 'group', 'group']);
    expect(directory.counts()).toMatchObject({ users: 12, groups: 3, memberships: 0, tombstones: 0 });
  });
});

describe('persistence', () => {
  it('migrates a version 1 file when opened: the folded keys of existing objects are filled and indexed', () => {
    const a = user('ulla', { email: ['Ulla@Example.com'] });
    const g = directory.create('group', { displayName: ['Ops Team'] });
    directory.close();
    // make the file what idsync with schema version 1 wrote: no folded keys, no indexes on them
    const db = new Database(join(dir, 'directory.db'));
    db.exec(`DROP INDEX objects_displayNameKey; DROP INDEX objects_emailKey; DROP INDEX objects_type_lastModified;
      ALTER TABLE objects DROP COLUMN displayNameKey; ALTER TABLE objects DROP COLUMN emailKey;`);
    db.pragma('user_version = 1');
    db.close();

    directory = new Directory(join(dir, 'directory.db'));
    expect(directory.findFolded('email', 'ulla@example.COM').map((o) => o.id)).toEqual([a.id]);
    expect(directory.findFolded('displayName', 'OPS TEAM', 'group').map((o) => o.id)).toEqual([g.id]);
    const b = user('vera', { email: ['vera@example.com'] });
    expect(directory.findFolded('email', 'VERA@example.com').map((o) => o.id)).toEqual([b.id]);
    const check = new Database(join(dir, 'directory.db'), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(3);
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all();
    expect(indexes).toEqual(expect.arrayContaining(['objects_displayNameKey', 'objects_emailKey', 'objects_type_lastModified']));
    check.close();
  });

  it('keeps objects, memberships, the sequence and tombstones across a reopen', () => {
    const a = user('rita', { department: ['R&D'] });
    const b = user('sam');
    const g = directory.create('group', { displayName: ['Crew'], members: [{ ref: a.id }] });
    directory.delete(b.id);
    const sequence = directory.currentSequence();
    directory.close();

    directory = new Directory(join(dir, 'directory.db'));
    expect(directory.get(a.id)!.attributes.department).toEqual(['R&D']);
    expect(directory.memberIds(g.id)).toEqual([a.id]);
    expect(directory.currentSequence()).toBe(sequence);
    expect(directory.counts()).toMatchObject({ users: 1, groups: 1, memberships: 1, tombstones: 1 });
    expect(directory.changesSince(sequence - 1).changes).toEqual([
      { kind: 'delete', seq: sequence, id: b.id, type: 'user' },
    ]);
    const c = user('tom');
    expect(directory.get(c.id)!.changeSeq).toBe(sequence + 1);
  });

  it('rolls back a whole transaction that throws', () => {
    expect(() =>
      directory.transaction(() => {
        user('uma');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(directory.counts()).toMatchObject({ users: 0, sequence: 0 });
    user('vic');
    expect(directory.counts().sequence).toBe(1);
  });

  it('calls change listeners once per committed transaction', () => {
    const heard: number[] = [];
    const off = directory.onChange((seq) => heard.push(seq));
    directory.transaction(() => {
      user('walt');
      user('xena');
    });
    user('yuri');
    off();
    user('zoe');
    expect(heard).toEqual([2, 3]);
  });
});

describe('the file', () => {
  it('is written in 16 KB pages when new, in WAL mode', () => {
    user('pages@example.com');
    const db = new Database(join(dir, 'directory.db'), { readonly: true });
    expect(db.pragma('page_size', { simple: true })).toBe(16_384);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
