import { describe, expect, it } from 'vitest';
import { IdSet } from '../../src/core/id-set.js';

describe('IdSet', () => {
  it('holds exactly the ids added, growing past its first size', () => {
    const set = new IdSet();
    const added = [0, 1, 7, 8, 9, 8191, 8192, 1_000_003, 5_000_000];
    for (const id of added) set.add(id);
    for (const id of added) expect(set.has(id)).toBe(true);
    for (const id of [2, 6, 10, 8190, 8193, 1_000_002, 1_000_004, 4_999_999, 5_000_001, 80_000_000]) {
      expect(set.has(id)).toBe(false);
    }
  });

  it('agrees with a Set on random ids', () => {
    const set = new IdSet();
    const reference = new Set<number>();
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const id = x % 300_000;
      if (i % 2 === 0) {
        set.add(id);
        reference.add(id);
      }
    }
    const disagree: number[] = [];
    for (let id = 0; id < 300_000; id++) if (set.has(id) !== reference.has(id)) disagree.push(id);
    expect(reference.size).toBeGreaterThan(9_000);
    expect(disagree).toEqual([]);
  });
});
