// The fuzz targets of test/fuzz, time-bounded (about 60 s in all; STICKYSCOPE_FUZZ_MS sets it): each replays its
// corpus (seeds and every crash found before) first, then fast-check generates from a seed printed for replay
// (STICKYSCOPE_FUZZ_SEED). `npm run fuzz -- --time 10m` runs longer and adds what it finds to the corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzTarget } from '../fuzz/harness.js';
import { targets } from '../fuzz/targets.js';

const totalMs = Number(process.env.STICKYSCOPE_FUZZ_MS ?? 60_000);
const seed = Number(process.env.STICKYSCOPE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
// Starting a worker (loading every target module) and replaying the corpus take about 2.5 s per target.
const budgetMs = Math.max(500, totalMs / targets.length - 2500);

for (const target of targets) {
  test(`fuzz ${target.name}: typed errors or valid results, no hang, bounded memory`, async (t) => {
    const r = await fuzzTarget(target.name, { budgetMs, perCaseMs: 2000, seed, memoryMb: 256, save: false });
    t.diagnostic(`seed ${seed}: ${r.replayed} corpus inputs replayed, ${r.runs} generated`);
    if (r.failure) {
      const where = r.failure.savedAs
        ? `corpus file ${r.failure.savedAs}`
        : `new input (base64) ${Buffer.from(r.failure.input).toString('base64').slice(0, 2000)}`;
      assert.fail(`${target.name} with seed ${seed}: ${r.failure.message}\n${where}`);
    }
  });
}
