/** When a lease holder is gone (the lease in each store: the store contract, test/store/contract.ts). */
import { describe, expect, it } from 'vitest';
import { holderGone, STALE_MS, thisProcess } from '../../src/store/lease.js';

describe('the cycle lease', () => {
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
