/** How join and match values compare, in every store: strings without regard to case, everything else exactly. */
import { type Value, valueKey } from '../core/values.js';

export function matchKey(value: Value): string {
  return typeof value === 'string' ? `s:${value.toLowerCase()}` : valueKey(value);
}
