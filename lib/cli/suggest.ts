// "Did you mean": the known name closest to a mistyped one, by edit distance, when it is close
// enough to be the likely intent (at most a third of the name's letters differ).

/** Edit distance: insertions, deletions, substitutions and swaps of two neighbours ("fsat"), each costing one. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
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
