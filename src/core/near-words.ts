// Near matches for what a user typed: a mistyped flag, a Service name that no catalog has.

/** Edits between a and b, a swap of neighbours counting as one (the usual typo). */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, before[j - 2]! + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** Up to three candidates within a fifth of the word's length in edits (at least one), nearest first. */
export function closestWords(word: string, candidates: Iterable<string>): string[] {
  if (word.length > 200) return [];
  const most = Math.max(1, Math.floor(word.length / 5));
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(c, word) }))
    .filter((x) => x.d <= most)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map((x) => x.c);
}
