/** The push limits per token: Entra's 40 per 5 seconds as a bucket, and the daily quota with its wait. */
import { describe, expect, it } from 'vitest';
import { PushLimiter } from '../../../src/server/inbound/limits.js';

describe('PushLimiter', () => {
  it('lets a burst of `requests` through, then says how long to wait; keys are apart', () => {
    const limiter = new PushLimiter(40, 5000, 0);
    const t = 1_000_000;
    for (let i = 0; i < 40; i++) expect(limiter.take('a', t)).toBe(0);
    expect(limiter.take('a', t)).toBe(1);
    expect(limiter.take('b', t)).toBe(0);
    // 8 a second come back
    expect(limiter.take('a', t + 125)).toBe(0);
  });

  it('stops at the daily quota until its 24 hours are over', () => {
    const limiter = new PushLimiter(1000, 1000, 3);
    const t = 5_000_000;
    for (let i = 0; i < 3; i++) expect(limiter.take('a', t + i)).toBe(0);
    expect(limiter.take('a', t + 10)).toBe(86_400);
    expect(limiter.take('a', t + 3_600_000)).toBe(82_800);
    expect(limiter.take('a', t + 86_400_000)).toBe(0);
  });
});
