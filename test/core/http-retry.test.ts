import { describe, expect, it } from 'vitest';
import { backoffMs, RequestPacer, retryAfterMs, Semaphore, sleep } from '../../src/core/http-retry.js';

describe('http-retry', () => {
  it('reads Retry-After as seconds (also decimal, as Microsoft Graph sends) or an HTTP-date', () => {
    const now = Date.parse('Thu, 01 Jan 2026 00:00:00 GMT');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('2.128', now)).toBe(2128);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped at 10 s', () => {
    for (let i = 0; i < 50; i++) {
      const first = backoffMs(1);
      expect(first).toBeGreaterThanOrEqual(125);
      expect(first).toBeLessThanOrEqual(250);
      const late = backoffMs(20);
      expect(late).toBeGreaterThanOrEqual(5000);
      expect(late).toBeLessThanOrEqual(10_000);
    }
  });

  it('ends a sleep when its signal aborts, and does not start one already aborted', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    await waiting;
    await sleep(60_000, controller.signal);
  });

  it('lets a semaphore hold at most its size, releasing waiters in order', async () => {
    const slots = new Semaphore(2);
    await slots.acquire();
    await slots.acquire();
    const order: number[] = [];
    const third = slots.acquire().then(() => order.push(3));
    const fourth = slots.acquire().then(() => order.push(4));
    await Promise.resolve();
    expect(order).toEqual([]);
    slots.release();
    await third;
    expect(order).toEqual([3]);
    slots.release();
    await fourth;
    expect(order).toEqual([3, 4]);
  });

  it('paces beyond its burst: the second of a one-per-second pacer waits', async () => {
    const pacer = new RequestPacer(1);
    await pacer.take();
    const controller = new AbortController();
    let done = false;
    const second = pacer.take(controller.signal).then(() => {
      done = true;
    });
    await sleep(50);
    expect(done).toBe(false);
    controller.abort();
    await second;
  });
});
