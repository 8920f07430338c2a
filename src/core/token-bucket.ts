/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. The SCIM client paces its
 * requests with one; the SCIM server keeps one per caller to answer 429 with a Retry-After.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes a token: 0 when there was one, otherwise the milliseconds until there is (nothing is taken). */
  take(now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.ratePerSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return ((1 - this.tokens) / this.ratePerSecond) * 1000;
  }
}
