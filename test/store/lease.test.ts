/** The cycle lease in the SQLite store: one holder at a time, and a gone holder loses it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holderGone, STALE_MS, thisProcess } from '../../src/store/lease.js';
import { SqliteStore } from '../../src/store/sqlite.js';

let dir: string;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('the cycle lease', () => {
  it('is held by one holder at a time, across connections to one state, until released', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idsync-lease-'));
    const a = new SqliteStore(join(dir, 'state.db'));
    const b = new SqliteStore(join(dir, 'state.db'));
    const first = thisProcess('idsync serve');
    const second = thisProcess('idsync run --once');
    expect(await a.acquireLease(first, holderGone)).toBeNull();
    expect(await a.acquireLease(first, holderGone)).toBeNull(); // its own: still its own
    expect(await b.acquireLease(second, holderGone)).toMatchObject({ owner: first.owner, command: 'idsync serve', pid: process.pid });
    expect(await b.renewLease(second.owner, new Date().toISOString())).toBe(false);
    expect(await a.renewLease(first.owner, new Date().toISOString())).toBe(true);
    await b.releaseLease(second.owner); // not its lease: nothing happens
    expect(await b.acquireLease(second, holderGone)).not.toBeNull();
    await a.releaseLease(first.owner);
    expect(await b.acquireLease(second, holderGone)).toBeNull();
    await a.close();
    await b.close();
  });

  it('a holder is gone when its pid is dead or reused on this host, or it stopped renewing on another', () => {
    const me = thisProcess('idsync serve');
    expect(holderGone(me)).toBe(false);
    expect(holderGone({ ...me, pid: 2 ** 22 + 1 })).toBe(true); // above Linux's pid_max: no such process
    if (me.processStart !== null) expect(holderGone({ ...me, processStart: `${me.processStart}0` })).toBe(true);
    const elsewhere = { ...me, host: `${me.host}-other` };
    const now = new Date();
    expect(holderGone({ ...elsewhere, renewed: new Date(now.getTime() - 10_000).toISOString() }, now)).toBe(false);
    expect(holderGone({ ...elsewhere, renewed: new Date(now.getTime() - STALE_MS - 1).toISOString() }, now)).toBe(true);
  });
});
