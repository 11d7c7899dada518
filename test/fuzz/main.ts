// `npm run fuzz -- [--time 10m] [--seed N] [--target NAME]...`: every target (or those named) in turn, the time
// shared between them; a failing input is added to test/fuzz/corpus/<target>/ and the run exits 1.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/cli/command.js';
import { fuzzTarget } from './harness.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '60s' },
    seed: { type: 'string' },
    target: { type: 'string', multiple: true },
  },
});
const chosen = values.target ?? targets.map((t) => t.name);
const unknown = chosen.filter((n) => !targets.some((t) => t.name === n));
if (unknown.length > 0) {
  console.error(`no fuzz target ${unknown.join(', ')}; targets: ${targets.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const budgetMs = parseDuration(values.time, '--time') / chosen.length;
console.log(`fuzzing ${chosen.length} targets, ${(budgetMs / 1000).toFixed(0)} s each, seed ${seed}`);
let failed = 0;
for (const name of chosen) {
  const r = await fuzzTarget(name, { budgetMs, perCaseMs: 2000, seed, memoryMb: 256, save: true });
  if (!r.failure) {
    console.log(`${name}: ${r.replayed} corpus inputs replayed, ${r.runs} generated, no failure`);
    continue;
  }
  failed++;
  console.log(`${name}: FAILED after ${r.runs} cases: ${r.failure.message}`);
  console.log(`  input (${r.failure.input.length} bytes) saved as ${r.failure.savedAs}`);
}
// exitCode, not exit(): on Node 24 process.exit can deadlock against a background compile job (see src/cli/main.ts).
process.exitCode = failed > 0 ? 1 : 0;
