/**
 * "Did you mean": the known name closest to a misspelt one, for config keys and attribute names. Case is
 * ignored (attribute names are matched without it); a suggestion is made only when it is close enough to be
 * a typo (an edit for every three characters, at least one), never a guess between unrelated names.
 */

/** `message (did you mean "email"? expected: a, b, c)`: each hint only when given, nothing when neither is. */
export function withHints(message: string, suggestion: string | undefined, expected: string | undefined): string {
  const hints = [suggestion && `did you mean "${suggestion}"?`, expected && `expected: ${expected}`].filter(Boolean);
  return hints.length > 0 ? `${message} (${hints.join(' ')})` : message;
}

export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(lower.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Optimal string alignment distance (Levenshtein plus transposition of two neighbours: "emial" is one edit
 * from "email"). Stops early once every path exceeds `bound`.
 */
function distance(a: string, b: string, bound: number): number {
  if (Math.abs(a.length - b.length) >= bound) return bound;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin >= bound) return bound;
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
