/**
 * The api connector: full import of the live records with the sequence as watermark, delta import of what
 * changed since (deletes included), a watermark ahead of the store refused for a full import, and watch()
 * waking once for pushes made while nobody listened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiConnectorFactory } from '../../../src/connectors/api/index.js';
import { openRecordStore, type RecordStore } from '../../../src/connectors/api/records.js';
import type { Connector, ImportPage } from '../../../src/connectors/contract.js';
import { ConnectorError } from '../../../src/core/errors.js';

let dir: string;
let connector: Connector;
let store: RecordStore;
let release: () => void;
const log = { debug() {}, info() {}, warn() {} };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-api-connector-'));
  connector = apiConnectorFactory.create('hr', apiConnectorFactory.settings.parse({}), { configDir: dir, stateDir: dir, log });
  ({ store, release } = openRecordStore(join(dir, 'inbound', 'hr.db')));
});
afterEach(async () => {
  await connector.close();
  release();
  rmSync(dir, { recursive: true, force: true });
});

function push(...writes: ({ anchor: string; name?: string } | { delete: string })[]): void {
  store.apply(
    { id: `r${Math.random()}`, connector: 'hr', received: new Date().toISOString(), caller: 't' },
    writes.map((w, index) => ({
      index,
      write: 'delete' in w ? { op: 'delete', anchor: w.delete } : { op: 'upsert', anchor: w.anchor, attributes: { externalId: [w.anchor], ...(w.name && { userName: [w.name] }) }, touched: ['externalId', 'userName'] },
    })),
    () => {},
    () => [],
  );
}

async function all(mode: 'full' | 'delta', watermark: string | null, pageSize = 2): Promise<ImportPage[]> {
  const pages: ImportPage[] = [];
  for await (const page of connector.import({ mode, watermark, pageSize })) pages.push(page);
  return pages;
}

describe('api connector', () => {
  it('imports in full with the sequence as watermark, then only what changed', async () => {
    push({ anchor: 'a', name: 'ann' }, { anchor: 'b' }, { anchor: 'c' });
    const full = await all('full', null);
    expect(full.flatMap((p) => p.changes)).toEqual([
      { kind: 'upsert', object: { anchor: 'a', objectType: 'user', attributes: { externalId: ['a'], userName: ['ann'] } } },
      { kind: 'upsert', object: { anchor: 'b', objectType: 'user', attributes: { externalId: ['b'] } } },
      { kind: 'upsert', object: { anchor: 'c', objectType: 'user', attributes: { externalId: ['c'] } } },
    ]);
    expect(full.at(-1)!.watermark).toBe('3');
    expect(full.slice(0, -1).every((p) => p.watermark === undefined)).toBe(true);
    push({ anchor: 'a', name: 'anna' }, { delete: 'b' });
    const delta = await all('delta', '3');
    expect(delta.flatMap((p) => p.changes)).toEqual([
      { kind: 'upsert', object: { anchor: 'a', objectType: 'user', attributes: { externalId: ['a'], userName: ['anna'] } } },
      { kind: 'delete', anchor: 'b', objectType: 'user' },
    ]);
    expect(delta.at(-1)!.watermark).toBe('5');
    expect((await all('delta', '5')).flatMap((p) => p.changes)).toEqual([]);
    expect(connector.deltaMethod!(null)).toBe('push sequence');
  });

  it('a watermark ahead of the store asks for a full import', async () => {
    await expect(all('delta', '99')).rejects.toMatchObject({ code: 'API_WATERMARK_AHEAD', fullImportRequired: true });
    await expect(all('delta', 'x')).rejects.toBeInstanceOf(ConnectorError);
  });

  it('watch() wakes for a push, and once for pushes made while the engine was busy', async () => {
    const stop = new AbortController();
    const it = connector.watch!(stop.signal)[Symbol.asyncIterator]();
    const first = it.next();
    push({ anchor: 'x' });
    await first;
    push({ anchor: 'y' });
    push({ anchor: 'z' });
    await it.next();
    const third = it.next();
    stop.abort();
    expect((await third).done).toBe(true);
  });

  it('describes its schema with the names rules use, also offline', async () => {
    const schema = await apiConnectorFactory.offlineSchema!('hr', apiConnectorFactory.settings.parse({ extensions: { 'urn:example:hr:1.0:User': { HireDate: 'dateTime' } } }), { configDir: dir, stateDir: dir, log });
    const user = schema.objectTypes.user!;
    expect(user.extensible).toBe(true);
    expect(user.attributes).toMatchObject({
      userName: { type: 'string', multiValued: false },
      'name.givenName': { type: 'string' },
      'emails[type eq "work"].value': { type: 'string' },
      active: { type: 'boolean' },
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager': { type: 'reference' },
      'urn:example:hr:1.0:User:HireDate': { type: 'date' },
    });
  });
});
