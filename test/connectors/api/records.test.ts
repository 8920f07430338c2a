/**
 * The pushed-record store: one transaction per request with its results, merge of partial records, skipped
 * repeats, tombstones for a delta, and change notification; durable across a reopen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRecordStore, type RecordOutcome, RecordStore, type RecordWrite } from '../../../src/connectors/api/records.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-api-records-'));
  path = join(dir, 'hr.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function apply(store: RecordStore, writes: RecordWrite[], id = `r${Math.random()}`): RecordOutcome[] {
  const out: RecordOutcome[] = [];
  store.apply(
    { id, connector: 'hr', received: new Date().toISOString(), caller: 'test' },
    writes.map((write, index) => ({ index, write })),
    (o, i) => (out[i] = o),
    () => out,
  );
  return out;
}

const upsert = (anchor: string, attributes: Record<string, unknown[]>, touched = Object.keys(attributes)): RecordWrite => ({
  op: 'upsert',
  anchor,
  attributes: attributes as never,
  touched,
});

describe('RecordStore', () => {
  it('creates, merges a partial record, skips a repeat, deletes; each change takes the next sequence number', () => {
    const store = new RecordStore(path);
    try {
      expect(apply(store, [upsert('1', { externalId: ['1'], userName: ['a'], 'name.givenName': ['A'], 'name.familyName': ['X'] })])).toEqual([{ status: 'created', seq: 1 }]);
      // sends name (all of it) and active: familyName is gone, userName stays
      expect(apply(store, [upsert('1', { 'name.givenName': ['B'], active: [false] }, ['name', 'active'])])).toEqual([{ status: 'updated', seq: 2 }]);
      expect(store.get('1')!.attributes).toEqual({ externalId: ['1'], userName: ['a'], 'name.givenName': ['B'], active: [false] });
      expect(apply(store, [upsert('1', { active: [false] })])).toEqual([{ status: 'skipped', reason: expect.stringContaining('no change') }]);
      expect(apply(store, [{ op: 'delete', anchor: '1' }, { op: 'delete', anchor: 'nobody' }])).toEqual([
        { status: 'deleted', seq: 3 },
        { status: 'skipped', reason: 'no record with anchor nobody to delete' },
      ]);
      expect(store.list('', 10)).toEqual([]);
      expect(store.changesSince(2, 10)).toEqual([expect.objectContaining({ anchor: '1', deleted: true, seq: 3 })]);
      // pushed again after a delete: created anew, without the old values
      expect(apply(store, [upsert('1', { externalId: ['1'] })])).toEqual([{ status: 'created', seq: 4 }]);
      expect(store.get('1')!.attributes).toEqual({ externalId: ['1'] });
    } finally {
      store.close();
    }
  });

  it('keeps the request with its results, committed with the records, across a reopen', () => {
    const store = new RecordStore(path);
    apply(store, [upsert('7', { externalId: ['7'] })], 'req-1');
    store.close();
    const again = new RecordStore(path);
    try {
      expect(again.currentSequence()).toBe(1);
      expect(again.get('7')).toMatchObject({ anchor: '7', deleted: false });
      expect(again.request('hr', 'req-1')).toMatchObject({ id: 'req-1', caller: 'test', results: [{ status: 'created', seq: 1 }] });
      expect(again.request('other', 'req-1')).toBeUndefined();
      expect(again.pruneRequests(new Date(Date.now() + 1000).toISOString())).toBe(1);
      expect(again.request('hr', 'req-1')).toBeUndefined();
    } finally {
      again.close();
    }
  });

  it('one handle per file in a process: a write is heard by every user of it, once per request that changed something', () => {
    const a = openRecordStore(path);
    const b = openRecordStore(path);
    expect(a.store).toBe(b.store);
    const heard: number[] = [];
    const off = b.store.onChange((seq) => heard.push(seq));
    apply(a.store, [upsert('1', { externalId: ['1'] }), upsert('2', { externalId: ['2'] })]);
    apply(a.store, [upsert('1', { externalId: ['1'] })]);
    expect(heard).toEqual([2]);
    off();
    a.release();
    expect(b.store.count()).toBe(2);
    b.release();
  });
});
