/** Deletion thresholds: how many deletes one run may do before it stops and waits for `idsync approve`. */
import type { Threshold } from '../config/schema.js';

/** The largest number of deletes allowed out of `population` objects. */
export function deleteLimit(threshold: Threshold, population: number): number {
  if (typeof threshold === 'number') return threshold;
  const percent = Number.parseFloat(threshold);
  return Math.floor((population * percent) / 100);
}

export function isSecretAttribute(name: string, declaredSecret: boolean | undefined): boolean {
  if (declaredSecret) return true;
  // Names that carry credentials in every directory we know, whatever a connector declares.
  return /pass(word)?|pwd|secret|token|credential/i.test(name);
}
