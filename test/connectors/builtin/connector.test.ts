import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinConnectorFactory } from '../../../src/connectors/builtin/index.js';
import type {
  Connector,
  ExportChange,
  ExportResult,
  ImportChange,
  ImportPage,
} from '../../../src/connectors/contract.js';
import { Directory, openSharedDirectory, type SharedDirectory } from '../../../src/directory/index.js';

const log = { debug() {}, info() {}, warn() {} };
let stateDir: string;
let connector: Connector;
let shared: SharedDirectory;
let directory: Directory;

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'idsync-builtin-'));
  connector = builtinConnectorFactory.create('directory', builtinConnectorFactory.settings.parse({}), {
    configDir: stateDir,
    stateDir,
    log,
  });
  // the same file, the same instance: what the SCIM server would use next to the connector
  shared = openSharedDirectory(join(stateDir, 'directory.db'));
  directory = shared.directory;
});

afterEach(async () => {
  shared.release();
  await connector.close();
  rmSync(stateDir, { recursive: true, force: true });
});

async function pages(
  mode: 'full' | 'delta',
  watermark: string | null,
  pageSize = 100,
): Promise<ImportPage[]> {
  const out: ImportPage[] = [];
  for await (const page of connector.import({ mode, watermark, pageSize })) out.push(page);
  return out;
}

async function exportAll(changes: ExportChange[]): Promise<Map<string, ExportResult>> {
  const results = new Map<string, ExportResult>();
  for await (const result of connector.export!(changes)) results.set(result.id, result);
  return results;
}

function lastWatermark(list: ImportPage[]): string {
  const marks = list.map((p) => p.watermark).filter((w): w is string => typeof w === 'string');
  return marks[marks.length - 1]!;
}

describe('builtin connector: import', () => {
  it('full import pages over every object with members as references, watermark on the last page', async () => {
    const users = directory.transaction(() =>
      Array.from({ length: 25 }, (_, i) => directory.create('user', { userName: [`u${i}`], active: [true] })),
    );
    const group = directory.create('group', {
      displayName: ['All'],
      members: users.map((u) => ({ ref: u.id })),
    });
    const list = await pages('full', null, 10);
    expect(list.map((p) => p.changes.length)).toEqual([10, 10, 6]);
    expect(list.slice(0, -1).every((p) => p.watermark === undefined)).toBe(true);
    expect(list[2]!.watermark).toBe(String(directory.currentSequence()));
    const objects = list
      .flatMap((p) => p.changes)
      .map((c) => (c as Extract<ImportChange, { kind: 'upsert' }>).object);
    const g = objects.find((o) => o.anchor === group.id)!;
    expect(g.objectType).toBe('group');
    expect(g.attributes.members).toHaveLength(25);
    expect(objects.find((o) => o.anchor === users[3]!.id)!.attributes).toEqual({
      userName: ['u3'],
      active: [true],
    });
  });

  it('delta import returns what changed since the watermark: upserts, member changes, deletes', async () => {
    const a = directory.create('user', { userName: ['ann'] });
    const b = directory.create('user', { userName: ['ben'] });
    const g = directory.create('group', { displayName: ['Team'] });
    const watermark = lastWatermark(await pages('full', null));

    directory.update(a.id, { title: { replace: ['Boss'] } });
    directory.addMembers(g.id, [a.id, b.id]);
    directory.removeMembers(g.id, [a.id]);
    directory.delete(b.id);

    const list = await pages('delta', watermark);
    const changes = list.flatMap((p) => p.changes);
    expect(changes).toEqual([
      {
        kind: 'upsert',
        object: { anchor: a.id, objectType: 'user', attributes: { userName: ['ann'], title: ['Boss'] } },
      },
      // a added then removed folds to removed; b added (then its delete removed it: removal wins)
      {
        kind: 'modify',
        anchor: g.id,
        objectType: 'group',
        changes: { members: { remove: [{ ref: a.id }, { ref: b.id }] } },
      },
      { kind: 'delete', anchor: b.id, objectType: 'user' },
    ]);
    const next = lastWatermark(list);
    expect(next).toBe(String(directory.currentSequence()));
    expect((await pages('delta', next)).flatMap((p) => p.changes)).toEqual([]);
  });

  it('refuses a watermark from the future (the file was replaced) and a malformed one', async () => {
    await expect(pages('delta', '999')).rejects.toMatchObject({ code: 'BUILTIN_WATERMARK_AHEAD' });
    await expect(pages('delta', 'abc')).rejects.toMatchObject({ code: 'BUILTIN_WATERMARK_INVALID' });
  });
});

describe('builtin connector: export', () => {
  it('creates, updates and deletes; a failed change is a result and the batch goes on', async () => {
    const existing = directory.create('user', { userName: ['taken@example.com'] });
    const results = await exportAll([
      {
        op: 'create',
        id: 'c1',
        objectType: 'user',
        attributes: { userName: ['new@example.com'], givenName: ['New'] },
      },
      { op: 'create', id: 'c2', objectType: 'user', attributes: { userName: ['TAKEN@example.com'] } },
      { op: 'create', id: 'c3', objectType: 'user', attributes: { givenName: ['No userName'] } },
      { op: 'create', id: 'c4', objectType: 'printer', attributes: {} },
      {
        op: 'update',
        id: 'u1',
        objectType: 'user',
        anchor: existing.id,
        changes: { active: { replace: [false] } },
      },
      {
        op: 'update',
        id: 'u2',
        objectType: 'user',
        anchor: 'missing',
        changes: { active: { replace: [false] } },
      },
      {
        op: 'create',
        id: 'c5',
        objectType: 'group',
        attributes: { displayName: ['Staff'], members: [{ ref: existing.id }] },
      },
    ]);
    expect(results.size).toBe(7);
    const c1 = results.get('c1')!;
    expect(c1.ok).toBe(true);
    expect(results.get('c2')).toMatchObject({
      ok: false,
      error: { code: 'DIRECTORY_UNIQUENESS', retryable: false, attribute: 'userName' },
    });
    expect(results.get('c3')).toMatchObject({ ok: false, error: { code: 'DIRECTORY_INVALID_VALUE' } });
    expect(results.get('c4')).toMatchObject({ ok: false, error: { code: 'BUILTIN_UNKNOWN_OBJECT_TYPE' } });
    expect(results.get('u1')).toMatchObject({ ok: true, anchor: existing.id });
    expect(results.get('u2')).toMatchObject({
      ok: false,
      error: { code: 'DIRECTORY_NOT_FOUND', notFound: true },
    });
    const anchor = (c1 as { anchor: string }).anchor;
    expect(directory.get(anchor)!.attributes).toEqual({ userName: ['new@example.com'], givenName: ['New'] });
    expect(directory.get(existing.id)!.attributes.active).toEqual([false]);
    const group = (results.get('c5') as { anchor: string }).anchor;
    expect(directory.memberIds(group)).toEqual([existing.id]);
    expect(directory.counts()).toMatchObject({ users: 2, groups: 1 });

    const more = await exportAll([
      {
        op: 'update',
        id: 'm1',
        objectType: 'group',
        anchor: group,
        changes: { members: { add: [{ ref: anchor }], remove: [{ ref: existing.id }] } },
      },
      { op: 'delete', id: 'd1', objectType: 'user', anchor: existing.id },
      { op: 'delete', id: 'd2', objectType: 'user', anchor: existing.id },
    ]);
    expect(more.get('m1')!.ok).toBe(true);
    expect(more.get('d1')!.ok).toBe(true);
    expect(more.get('d2')).toMatchObject({
      ok: false,
      error: { code: 'DIRECTORY_NOT_FOUND', notFound: true },
    });
    expect(directory.memberIds(group)).toEqual([anchor]);
    expect(directory.get(existing.id)).toBeUndefined();
  });

  it('flags an update or delete of a missing object notFound, and no other failure', async () => {
    const user = directory.create('user', { userName: ['here@example.com'] });
    const group = directory.create('group', { displayName: ['Staff'] });
    const deleted = directory.create('user', { userName: ['gone@example.com'] });
    directory.delete(deleted.id);
    const results = await exportAll([
      { op: 'delete', id: 'd-never', objectType: 'user', anchor: 'never-existed' },
      { op: 'delete', id: 'd-gone', objectType: 'user', anchor: deleted.id },
      {
        op: 'update',
        id: 'u-gone',
        objectType: 'user',
        anchor: deleted.id,
        changes: { givenName: { replace: ['X'] } },
      },
      // the group exists; the member it names does not: not the group's absence
      {
        op: 'update',
        id: 'u-member',
        objectType: 'group',
        anchor: group.id,
        changes: { members: { add: [{ ref: deleted.id }] } },
      },
      { op: 'create', id: 'c-dup', objectType: 'user', attributes: { userName: ['HERE@example.com'] } },
      { op: 'delete', id: 'd-ok', objectType: 'user', anchor: user.id },
    ]);
    for (const id of ['d-never', 'd-gone', 'u-gone']) {
      expect(results.get(id), id).toMatchObject({
        ok: false,
        error: { code: 'DIRECTORY_NOT_FOUND', notFound: true, retryable: false },
      });
    }
    for (const id of ['u-member', 'c-dup']) {
      const result = results.get(id) as Extract<ExportResult, { ok: false }>;
      expect(result.ok, id).toBe(false);
      expect(result.error.notFound, id).toBeUndefined();
    }
    expect(results.get('u-member')).toMatchObject({ error: { code: 'DIRECTORY_INVALID_MEMBER' } });
    expect(results.get('d-ok')).toEqual({ id: 'd-ok', ok: true, anchor: user.id });
    expect(directory.get(user.id)).toBeUndefined();
  });

  it('commits an export batch as one transaction (one change notification)', async () => {
    const heard: number[] = [];
    const off = directory.onChange((seq) => heard.push(seq));
    await exportAll(
      Array.from({ length: 50 }, (_, i) => ({
        op: 'create',
        id: `c${i}`,
        objectType: 'user',
        attributes: { userName: [`b${i}`] },
      })),
    );
    off();
    expect(heard).toEqual([50]);
  });
});

describe('builtin connector: settings and failures', () => {
  it('resolves a relative path against the config folder, and supports :memory:', async () => {
    const configDir = join(stateDir, 'config');
    const c = builtinConnectorFactory.create(
      'd2',
      builtinConnectorFactory.settings.parse({ path: 'data/dir.db' }),
      {
        configDir,
        stateDir,
        log,
      },
    );
    const own = openSharedDirectory(join(configDir, 'data', 'dir.db'));
    own.directory.create('user', { userName: ['here'] });
    const objects = [];
    for await (const page of c.import({ mode: 'full', watermark: null, pageSize: 10 }))
      objects.push(...page.changes);
    expect(objects).toHaveLength(1);
    own.release();
    await c.close();

    const memory = builtinConnectorFactory.create('m', { path: ':memory:' }, { configDir, stateDir, log });
    const results = [];
    for await (const r of memory.export!([
      { op: 'create', id: 'x', objectType: 'user', attributes: { userName: ['m'] } },
    ])) {
      results.push(r);
    }
    expect(results[0]!.ok).toBe(true);
    await memory.close();
    expect(() => builtinConnectorFactory.settings.parse({ path: 'x', extra: 1 })).toThrow();
  });

  it('turns a failed commit into retryable results for the whole batch', async () => {
    const memory = builtinConnectorFactory.create(
      'm',
      { path: ':memory:' },
      { configDir: stateDir, stateDir, log },
    );
    await memory.close(); // the file is gone from under the connector
    const results = [];
    for await (const r of memory.export!([
      { op: 'create', id: 'a', objectType: 'user', attributes: { userName: ['a'] } },
      { op: 'create', id: 'b', objectType: 'user', attributes: { userName: ['b'] } },
    ])) {
      results.push(r);
    }
    expect(results).toMatchObject([
      { id: 'a', ok: false, error: { code: 'BUILTIN_WRITE_FAILED', retryable: true } },
      { id: 'b', ok: false, error: { code: 'BUILTIN_WRITE_FAILED', retryable: true } },
    ]);
  });
});

describe('builtin connector: lookup', () => {
  it('finds users by userName (any case), externalId or a JSON attribute, and groups by displayName', async () => {
    const a = directory.create('user', {
      userName: ['Joe@Example.com'],
      externalId: ['E9'],
      employeeNumber: ['9'],
    });
    const g = directory.create('group', { displayName: ['Admins'] });
    const anchors = async (type: string, attribute: string, values: string[]) =>
      (await connector.lookup!(type, attribute, values)).map((o) => o.anchor);
    expect(await anchors('user', 'userName', ['joe@example.COM', 'nobody'])).toEqual([a.id]);
    expect(await anchors('user', 'externalId', ['E9'])).toEqual([a.id]);
    expect(await anchors('user', 'employeeNumber', ['9'])).toEqual([a.id]);
    expect(await anchors('group', 'displayName', ['Admins'])).toEqual([g.id]);
    expect(await anchors('group', 'displayName', ['admins'])).toEqual([]);
    expect(await anchors('user', 'displayName', ['Admins'])).toEqual([]);
    expect(await anchors('printer', 'displayName', ['Admins'])).toEqual([]);
  });
});

describe('builtin connector: read', () => {
  it('reads one object by its anchor as a full import gives it, and null for another type or a gone one', async () => {
    const a = directory.create('user', { userName: ['read.me'], title: ['Before'] });
    directory.update(a.id, { title: { replace: ['After'] } });
    const full = [];
    for await (const page of connector.import({ mode: 'full', watermark: null, pageSize: 100 })) full.push(...page.changes);
    const imported = full.find((c) => c.kind === 'upsert' && c.object.anchor === a.id);
    const read = await connector.read!('user', a.id);
    expect(read?.attributes.title).toEqual(['After']);
    expect(imported).toEqual({ kind: 'upsert', object: read });
    expect(await connector.read!('group', a.id)).toBeNull();
    directory.delete(a.id);
    expect(await connector.read!('user', a.id)).toBeNull();
  });
});

describe('builtin connector: watch', () => {
  it('resolves on a change made through the same directory and ends when aborted', async () => {
    const controller = new AbortController();
    const iterator = connector.watch!(controller.signal)[Symbol.asyncIterator]();
    const first = iterator.next();
    directory.create('user', { userName: ['watched'] });
    expect(await first).toEqual({ done: false, value: undefined });
    // two changes while nobody listens fold into one wake-up
    directory.create('user', { userName: ['w2'] });
    directory.create('user', { userName: ['w3'] });
    expect(await iterator.next()).toEqual({ done: false, value: undefined });
    const pending = iterator.next();
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('notices a commit made by another connection to the file', async () => {
    const controller = new AbortController();
    const iterator = connector.watch!(controller.signal)[Symbol.asyncIterator]();
    const next = iterator.next();
    const other = new Directory(join(stateDir, 'directory.db'));
    other.create('user', { userName: ['from-elsewhere'] });
    other.close();
    const result = await Promise.race([next, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
    expect(result).toEqual({ done: false, value: undefined });
    controller.abort();
  });
});
