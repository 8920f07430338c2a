import { describe, expect, it } from 'vitest';
import { IdSet } from '../../src/core/id-set.js';
import { seeded } from '../../src/samples/people.js';

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
    const random = seeded(7);
    for (let i = 0; i < 10_000; i++) {
      const id = Math.floor(random() * 300_000);
      set.add(id);
      reference.add(id);
    }
    const disagree: number[] = [];
    for (let id = 0; id < 300_000; id++) if (set.has(id) !== reference.has(id)) disagree.push(id);
    expect(reference.size).toBeGreaterThan(9_000);
    expect(disagree).toEqual([]);
  });
});
