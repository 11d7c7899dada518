// The n largest of a long list in one pass, without sorting it: a Service row draws its
// few biggest backends out of thousands every frame.

/**
 * The `n` items with the largest `score`, largest first; ties keep list order. Costs
 * O(length) when most items fall below the n-th largest seen so far (the usual case),
 * O(length x n) at worst; n is a handful of bars.
 */
export function topN<T>(items: readonly T[], n: number, score: (item: T) => number): T[] {
  if (n <= 0) return [];
  const top: T[] = [];
  const scores: number[] = [];
  for (const item of items) {
    const s = score(item);
    if (top.length === n && s <= scores[n - 1]!) continue;
    let i = top.length === n ? n - 1 : top.length;
    while (i > 0 && scores[i - 1]! < s) {
      if (i < n) {
        top[i] = top[i - 1]!;
        scores[i] = scores[i - 1]!;
      }
      i--;
    }
    top[i] = item;
    scores[i] = s;
  }
  return top;
}
