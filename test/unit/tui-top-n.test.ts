// topN against a full stable sort of the same list: same items, same order, ties in list order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topN } from '../../src/tui/top-n.js';
import { prng } from '../helpers/tui-events.js';

test('topN picks what a full sort would, for random lists with ties', () => {
  const rand = prng(11);
  for (let round = 0; round < 300; round++) {
    const length = Math.floor(rand() * 60);
    const items = Array.from({ length }, (_, id) => ({ id, score: Math.floor(rand() * 8) }));
    const n = Math.floor(rand() * 12);
    const expected = [...items].sort((a, b) => b.score - a.score).slice(0, n);
    assert.deepEqual(
      topN(items, n, (x) => x.score),
      expected,
      `round ${round}: n=${n} of ${length}`,
    );
  }
});
