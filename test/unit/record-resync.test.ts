// Resynchronising after damage: the one-pass search must find exactly the frame that
// trying each offset with parseFrame finds (the obvious, slow definition), and must
// take time linear in the damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeFrame, parseFrame } from '../../src/record/frame.js';
import { findNextFrame, type ReadAt } from '../../src/record/resync.js';

/** A seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function reader(buf: Buffer): ReadAt {
  return async (target, position) => {
    if (position >= buf.length) return 0;
    return buf.copy(target, 0, position, Math.min(buf.length, position + target.length));
  };
}

function naive(buf: Buffer, from: number): number {
  for (let q = from; q < buf.length; q++) if (parseFrame(buf, q, buf.length).kind === 'frame') return q;
  return -1;
}

test('finds the same frame as trying every offset, over random damage around real frames', async () => {
  const next = rng(42);
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    const pieces = 1 + Math.floor(next() * 6);
    for (let i = 0; i < pieces; i++) {
      const garbage = randomBytes(Math.floor(next() * (next() < 0.1 ? 100_000 : 3000)));
      // Frame-looking bytes make candidates whose length runs far ahead.
      for (let j = 0; j < garbage.length; j += 1 + Math.floor(next() * 500)) garbage[j] = 0x42;
      parts.push(garbage);
      if (next() < 0.7) {
        const type = (['header', 'batch', 'end'] as const)[Math.floor(next() * 3)]!;
        parts.push(encodeFrame(type, randomBytes(Math.floor(next() * (next() < 0.1 ? 30_000 : 300)))));
      }
    }
    const buf = Buffer.concat(parts);
    const from = Math.floor(next() * Math.min(buf.length, 100));
    assert.equal(await findNextFrame(reader(buf), from), naive(buf, from), `round ${round}, ${buf.length} bytes`);
  }
});

test('a frame cut by the end of the file, or whose CRC is cut, is not found', async () => {
  const f = encodeFrame('batch', Buffer.from('hello'));
  for (let cut = 1; cut < f.length; cut++) assert.equal(await findNextFrame(reader(f.subarray(0, cut)), 0), -1);
  assert.equal(await findNextFrame(reader(f), 0), 0);
  assert.equal(await findNextFrame(reader(Buffer.concat([Buffer.from([0x42]), f])), 0), 1);
});

test('damage made of frame candidates of the largest length is scanned in linear time', async () => {
  // Every byte starts a candidate whose length (16 MiB) reaches past the real frame:
  // trying each offset would check 16 MiB of CRC per byte.
  const damage = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i + 5 <= damage.length; i += 5) damage.set([0x42, 0x80, 0x80, 0x80, 0x08], i);
  const real = encodeFrame('end', Buffer.from('{"endTime":1,"events":0}'));
  const buf = Buffer.concat([damage, real, randomBytes(17 * 1024 * 1024)]);
  const t0 = performance.now();
  assert.equal(await findNextFrame(reader(buf), 0), damage.length);
  const ms = performance.now() - t0;
  assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`);
});
