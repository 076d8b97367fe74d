// "Did you mean": the known name closest to a mistyped one, by edit distance, when it is close
// enough to be the likely intent (at most a third of the name's letters differ).

/** Levenshtein distance: insertions, deletions and substitutions, each costing one. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The closest of `known` to `given`, or undefined when none is close. A prefix counts as close. */
export function closest(given: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.startsWith(given) && given.length >= 3 ? 0.5 : distance(given, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(given.length / 3)) ? best : undefined;
}

/** " (did you mean 'x'?)" or ''. */
export function didYouMean(given: string, known: Iterable<string>, quote = (s: string) => `'${s}'`): string {
  const c = closest(given, known);
  return c === undefined ? '' : `; did you mean ${quote(c)}?`;
}
