/**
 * Deletion thresholds: how many deletes and disables one run may do per connector before it stops and waits
 * for `idsync approve`. A hold is reported (plan, status, the run's stats) with its reason and size.
 */
import type { Threshold } from '../config/schema.js';

/** The largest number of deletes and disables allowed out of `population` objects. */
export function deleteLimit(threshold: Threshold, population: number): number {
  if (typeof threshold === 'number') return threshold;
  if (typeof threshold === 'string') return percentLimit(Number.parseFloat(threshold), population);
  return Math.min(threshold.count, percentLimit(threshold.percent, population));
}

/**
 * A percentage of the population, rounded down, but at least one object when the percentage is above zero:
 * one leaver in a team of five is no mass deletion.
 */
function percentLimit(percent: number, population: number): number {
  const limit = Math.floor((population * percent) / 100);
  return percent > 0 ? Math.max(1, limit) : limit;
}

export function describeThreshold(threshold: Threshold): string {
  if (typeof threshold === 'number') return String(threshold);
  if (typeof threshold === 'string') return threshold;
  return `the lower of ${threshold.count} and ${threshold.percent}%`;
}

export function isSecretAttribute(name: string, declaredSecret: boolean | undefined): boolean {
  if (declaredSecret) return true;
  // Names that carry credentials in every directory we know, whatever a connector declares.
  return /pass(word)?|pwd|secret|token|credential/i.test(name);
}
