import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/core/token-bucket.js';

describe('TokenBucket', () => {
  it('spends its burst, then says how long until the next token, and refills with time', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    // empty: half a second until one token at two a second; nothing was taken
    expect(bucket.take(0)).toBe(500);
    expect(bucket.take(250)).toBe(250);
    expect(bucket.take(500)).toBe(0);
    // never more than the burst saved up, however long it waited
    expect([0, 0, 0, 0].map(() => bucket.take(60_000))).toEqual([0, 0, 0, 500]);
  });
});
