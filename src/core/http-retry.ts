/**
 * What every HTTP client of a connector (SCIM, Microsoft Graph) does the same way around its requests: reading
 * Retry-After, backing off with jitter, pacing to a rate, bounding requests in flight, and telling a request that
 * never left (a refused connection) from one that may have been applied.
 */
import { TokenBucket } from './token-bucket.js';

/** undici/Node error codes of a connection that was never made: the request cannot have been applied. */
export const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** undici's codes of a request sent whose answer did not come in time. */
export const TIMEOUT_ERRORS: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Retry-After as delta-seconds or an HTTP-date (RFC 9110 section 10.2.3). Decimal seconds are taken too:
 * Microsoft Graph sends values such as 2.128.
 */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with jitter: about 0.25 s, 0.5 s, 1 s ... capped at 10 s (attempt counts from 1). */
export function backoffMs(attempt: number): number {
  const ceiling = Math.min(10_000, 250 * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Waits `ms`; an abort ends the wait early (the caller checks the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Paces requests to `ratePerSecond`, with a burst of one second's worth. */
export class RequestPacer {
  private readonly bucket: TokenBucket;

  constructor(ratePerSecond: number) {
    this.bucket = new TokenBucket(ratePerSecond, Math.max(1, ratePerSecond));
  }

  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const waitMs = this.bucket.take();
      if (waitMs === 0) return;
      await sleep(Math.ceil(waitMs), signal);
      if (signal?.aborted) return;
    }
  }
}

/** At most `size` holders at once; the others wait in order. */
export class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
