/**
 * A server with fewer capabilities: no PATCH (GET + PUT, with If-Match where ETags work), no filter (match
 * by listing), no discovery endpoints. The results are the same; only the requests differ.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ScimConnector } from '../../../src/connectors/scim/connector.js';
import { TestScimServer } from './server.js';
import { anchorOf, exportAll, exportOne, importAll, scimConnector } from './support.js';

let server: TestScimServer;
let connector: ScimConnector;

beforeEach(async () => {
  server = new TestScimServer({ patch: false, bulk: false, filter: false, etag: true });
  await server.start();
  connector = scimConnector(server.url);
});

afterEach(async () => {
  await connector.close();
  await server.stop();
});

async function users(n: number): Promise<string[]> {
  const changes = Array.from({ length: n }, (_, i) => ({ op: 'create' as const, id: `u${i}`, objectType: 'user', attributes: { userName: [`user${i}@example.com`], displayName: [`User ${i}`], 'emails[type eq "work"].value': [`user${i}@example.com`] } }));
  const results = await exportAll(connector, changes);
  return changes.map((c) => anchorOf(results.get(c.id)));
}

describe('no PATCH, no filter', () => {
  it('updates by GET + PUT with If-Match, and never sends PATCH or a filter', async () => {
    const [id] = await users(1);
    server.clearLog();
    const r = await exportOne(connector, { op: 'update', id: 'x', objectType: 'user', anchor: id!, changes: { displayName: { replace: ['Renamed'] }, 'phoneNumbers[type eq "work"].value': { replace: ['+1 555'] } } });
    expect(r.ok).toBe(true);
    expect(server.log.map((l) => l.method)).toEqual(['GET', 'PUT']);
    const stored = server.users.get(id!)!;
    expect(stored.displayName).toBe('Renamed');
    expect(stored.phoneNumbers).toEqual([{ type: 'work', value: '+1 555' }]);
    expect(stored.emails).toEqual([{ type: 'work', value: 'user0@example.com' }]);
  });

  it('re-reads and retries when the resource changed between GET and PUT (412)', async () => {
    const [id] = await users(1);
    let puts = 0;
    server.options.fault = (r) => {
      if (r.method === 'PUT' && puts++ === 0) {
        // someone else writes between our GET and our PUT
        const u = server.users.get(id!)!;
        u.title = 'Set by someone else';
        u.meta = { ...u.meta, version: 'W/"other"' };
      }
      return undefined;
    };
    const r = await exportOne(connector, { op: 'update', id: 'x', objectType: 'user', anchor: id!, changes: { displayName: { replace: ['Mine'] } } });
    expect(r.ok).toBe(true);
    expect(server.log.filter((l) => l.method === 'PUT').map((l) => l.status)).toEqual([412, 200]);
    expect(server.users.get(id!)!.title).toBe('Set by someone else');
    expect(server.users.get(id!)!.displayName).toBe('Mine');
  });

  it('matches before a create by listing (no filter), and changes group members by PUT', async () => {
    const ids = await users(5);
    expect(server.log.some((l) => l.path.includes('filter='))).toBe(false);
    const again = await exportOne(connector, { op: 'create', id: 'dup', objectType: 'user', attributes: { userName: ['USER3@example.com'], displayName: ['User 3'] } });
    expect(anchorOf(again)).toBe(ids[3]);
    expect(server.users.size).toBe(5);

    const g = anchorOf(await exportOne(connector, { op: 'create', id: 'g', objectType: 'group', attributes: { displayName: ['G'], members: ids.slice(0, 3).map((ref) => ({ ref })) } }));
    const r = await exportOne(connector, { op: 'update', id: 'g', objectType: 'group', anchor: g, changes: { members: { add: [{ ref: ids[4]! }], remove: [{ ref: ids[0]! }] } } });
    expect(r.ok).toBe(true);
    expect(server.groups.get(g)!.members.map((m: { value: string }) => m.value).sort()).toEqual([ids[1], ids[2], ids[4]].sort());
  });

  it('imports in full, and asks for a full import instead of a delta', async () => {
    await users(4);
    const pages = await importAll(connector, 'full', null, 3);
    expect(pages.flatMap((p) => p.changes)).toHaveLength(4);
    await expect(importAll(connector, 'delta', pages.at(-1)!.watermark!)).rejects.toMatchObject({ code: 'SCIM_DELTA_UNSUPPORTED', fullImportRequired: true });
  });
});

describe('forced by the compatibility switches', () => {
  it('compat.patch false uses PUT even where the server has PATCH', async () => {
    server.options.patch = true;
    await connector.close();
    connector = scimConnector(server.url, { compat: { patch: false } });
    const [id] = await users(1);
    server.clearLog();
    await exportOne(connector, { op: 'update', id: 'x', objectType: 'user', anchor: id!, changes: { displayName: { replace: ['Z'] } } });
    expect(server.log.map((l) => l.method)).toEqual(['GET', 'PUT']);
  });
});

describe('a server that ignores filters', () => {
  it('still matches the right object and creates only what is missing', async () => {
    server.options.ignoreFilter = true;
    server.options.filter = true;
    server.options.patch = true;
    await connector.close();
    connector = scimConnector(server.url);
    const ids = await users(4);
    expect(server.users.size).toBe(4);
    const again = await exportAll(connector, [
      { op: 'create', id: 'x2', objectType: 'user', attributes: { userName: ['user2@example.com'], displayName: ['Two'] } },
      { op: 'create', id: 'x9', objectType: 'user', attributes: { userName: ['user9@example.com'], displayName: ['Nine'] } },
    ]);
    expect(anchorOf(again.get('x2'))).toBe(ids[2]);
    expect(server.users.size).toBe(5);
    expect(await connector.lookup('user', 'userName', ['user1@example.com'])).toEqual([expect.objectContaining({ anchor: ids[1] })]);
  });
});

