/** Times on the command line: `log --since` takes an ISO date or time, or an age (30m, 1h, 2d, 1w). */
import { InvalidArgumentError } from 'commander';

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `text` as a point in time; an age counts back from `now`. Anything else is a usage error that says what is expected. */
export function parseSince(text: string, now: Date): Date {
  const age = /^(\d+)\s*([smhdw])$/i.exec(text.trim());
  if (age) return new Date(now.getTime() - Number(age[1]) * UNIT_MS[age[2]!.toLowerCase()]!);
  // Only ISO 8601 (a date, or a date and time): Date.parse also reads "May 1" or "1" in ways nobody meant.
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(text.trim());
  const at = iso ? new Date(text.trim().replace(' ', 'T')) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw new InvalidArgumentError('expected an ISO date or time (2026-05-01, 2026-05-01T09:00:00Z) or an age (30m, 1h, 2d, 1w).');
  }
  return at;
}
