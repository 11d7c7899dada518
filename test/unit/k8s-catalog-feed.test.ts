// CatalogFeed: the API's catalogs placed among agent batches by time, alone in their
// batch, released after the hold when no agent event comes, and flushed at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, StickyEvent } from '../../src/core/event.js';
import { CatalogFeed } from '../../src/k8s/catalog-feed.js';
import { dnat } from '../helpers/agent-fake-source.js';
import { waitFor } from '../helpers/wait.js';

const catalog = (ts: number): CatalogEvent => ({ type: 'catalog', ts, node: '', services: [] });
const at = (ts: number) => dnat(ts, 'node-a', { ts });

/** An upstream the test feeds batch by batch, ending when told. */
function upstream() {
  const queue: (StickyEvent[] | null)[] = [];
  let wake: (() => void) | null = null;
  return {
    push(b: StickyEvent[] | null) {
      queue.push(b);
      wake?.();
    },
    async *batches(): AsyncGenerator<StickyEvent[]> {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const b = queue.shift()!;
        if (b === null) return;
        yield b;
      }
    },
  };
}

const shape = (batches: StickyEvent[][]) =>
  batches.map((b) => b.map((e) => `${e.type === 'catalog' ? 'C' : 'd'}${e.ts}`).join(' '));

test('a catalog goes just before the first agent event at or after its time, in a batch of its own', async () => {
  const feed = new CatalogFeed(60_000);
  const up = upstream();
  feed.push(catalog(15));
  up.push([at(10), at(14), at(15), at(20)]);
  up.push([at(30)]);
  up.push(null);
  const out: StickyEvent[][] = [];
  for await (const b of feed.merge(up.batches())) out.push(b);
  assert.deepEqual(shape(out), ['d10 d14', 'C15', 'd15 d20', 'd30']);
});

test('without agent events a catalog is released after the hold; catalogs left at the end follow the last batch', async () => {
  const feed = new CatalogFeed(50);
  const up = upstream();
  const out: StickyEvent[][] = [];
  const done = (async () => {
    for await (const b of feed.merge(up.batches())) out.push(b);
  })();
  const pushedAt = Date.now();
  feed.push(catalog(100));
  await waitFor('the catalog to be released', () => out.length > 0, 5000, 5);
  const waited = Date.now() - pushedAt;
  assert.ok(waited >= 45 && waited < 1000, `released after the 50 ms hold, took ${waited} ms`);
  assert.deepEqual(shape(out), ['C100']);
  up.push([at(90)]);
  feed.push(catalog(200));
  up.push(null);
  await done;
  assert.deepEqual(shape(out), ['C100', 'd90', 'C200']);
});
