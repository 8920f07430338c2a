import { describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/time.js';

const now = new Date('2026-05-10T12:00:00Z');

describe('parseSince', () => {
  it('counts an age back from now', () => {
    expect(parseSince('30m', now).toISOString()).toBe('2026-05-10T11:30:00.000Z');
    expect(parseSince('1h', now).toISOString()).toBe('2026-05-10T11:00:00.000Z');
    expect(parseSince('2d', now).toISOString()).toBe('2026-05-08T12:00:00.000Z');
    expect(parseSince('1w', now).toISOString()).toBe('2026-05-03T12:00:00.000Z');
    expect(parseSince('45s', now).toISOString()).toBe('2026-05-10T11:59:15.000Z');
  });

  it('reads ISO dates and times', () => {
    expect(parseSince('2026-05-01', now).toISOString()).toBe('2026-05-01T00:00:00.000Z');
    expect(parseSince('2026-05-01T09:30:00Z', now).toISOString()).toBe('2026-05-01T09:30:00.000Z');
    expect(parseSince('2026-05-01T09:30+02:00', now).toISOString()).toBe('2026-05-01T07:30:00.000Z');
  });

  it('refuses what is neither, saying what it expects', () => {
    for (const text of ['yesterday', '1', 'May 1', '1y', '2026-13-45', '-1h']) {
      expect(() => parseSince(text, now), text).toThrow(/ISO date or time .* or an age/);
    }
  });
});
