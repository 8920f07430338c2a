/**
 * Rate limits per token and connector, like Entra's bulkUpload throttling: 40 requests per 5 seconds and
 * 6,000 per 24 hours, answered with 429 and Retry-After
 * (https://learn.microsoft.com/entra/identity/app-provisioning/inbound-provisioning-api-issues, "Too many
 * requests 429 response code"). Kept in memory: a restart forgives what was counted.
 */
import { TokenBucket } from '../../core/token-bucket.js';

const DAY_MS = 86_400_000;
const MAX_KEYS = 10_000;

export class PushLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly days = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly requests: number,
    private readonly perMs: number,
    private readonly daily: number,
  ) {}

  /** 0 when the request may go (and is counted); otherwise the seconds to wait */
  take(key: string, now = Date.now()): number {
    if (this.buckets.size >= MAX_KEYS) this.buckets.clear();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket((this.requests * 1000) / this.perMs, this.requests, now);
      this.buckets.set(key, bucket);
    }
    if (this.daily > 0) {
      let day = this.days.get(key);
      if (!day || now - day.start >= DAY_MS) {
        if (this.days.size >= MAX_KEYS) this.days.clear();
        day = { start: now, count: 0 };
        this.days.set(key, day);
      }
      if (day.count >= this.daily) return Math.max(1, Math.ceil((day.start + DAY_MS - now) / 1000));
      const waitMs = bucket.take(now);
      if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
      day.count++;
      return 0;
    }
    const waitMs = bucket.take(now);
    return waitMs === 0 ? 0 : Math.max(1, Math.ceil(waitMs / 1000));
  }
}
