// One fuzz target in a worker thread (harness.ts watches it for hangs and memory): the corpus replayed first, then
// fast-check for the time budget. Each input is copied to shared memory before it runs, so a hang can be reported.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { targets } from './targets.js';
import { inputs, isTypedError } from './target.js';

export interface WorkerInput {
  name: string;
  budgetMs: number;
  perCaseMs: number;
  seed: number;
  corpusDir: string;
  /** Where targets write their files; the harness removes it when the worker ends (terminate() skips 'exit' handlers). */
  scratchDir: string;
  /** [0] cases started, [1] length of the current input; its bytes follow at byte 8. */
  shared: SharedArrayBuffer;
}
export type WorkerReport =
  | { ok: true; replayed: number; runs: number }
  | { ok: false; message: string; input: Uint8Array; corpusFile?: string; runs: number };

const data = workerData as WorkerInput;
const target = targets.find((t) => t.name === data.name);
if (!target) throw new Error(`no fuzz target ${data.name}`);
const meta = new Int32Array(data.shared, 0, 2);
const current = new Uint8Array(data.shared, 8);

class Slow extends Error {}

/** Runs one input: a typed error is a pass; anything else thrown, or a case past the time bound, is a failure. */
async function one(input: Uint8Array): Promise<void> {
  meta[1] = input.length;
  current.set(input.subarray(0, current.length));
  Atomics.add(meta, 0, 1);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      target!.run(input),
      new Promise((_r, reject) => {
        timer = setTimeout(() => reject(new Slow(`no answer within ${data.perCaseMs} ms`)), data.perCaseMs);
      }),
    ]);
  } catch (err) {
    if (!isTypedError(err)) throw err;
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - t0;
  if (ms > data.perCaseMs) throw new Slow(`took ${ms.toFixed(0)} ms (bound ${data.perCaseMs} ms)`);
}

const describe = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 4).join('\n')}` : String(err);

async function main(): Promise<WorkerReport> {
  const dir = join(data.corpusDir, data.name);
  let files: string[] = [];
  try {
    files = readdirSync(dir).sort();
  } catch {
    // No corpus yet for this target.
  }
  const corpus = files.map((f) => new Uint8Array(readFileSync(join(dir, f))));
  for (const [i, input] of corpus.entries()) {
    try {
      await one(input);
    } catch (err) {
      return { ok: false, message: describe(err), input, corpusFile: files[i], runs: i };
    }
  }
  let runs = 0;
  const result = await fc.check(
    fc.asyncProperty(inputs([...target!.seeds(), ...corpus]), async (x) => {
      runs++;
      await one(x);
    }),
    { seed: data.seed, numRuns: 2 ** 31 - 1, interruptAfterTimeLimit: data.budgetMs, endOnFailure: false },
  );
  if (result.failed && result.counterexample)
    return { ok: false, message: describe(result.errorInstance), input: result.counterexample[0], runs };
  return { ok: true, replayed: corpus.length, runs };
}

parentPort!.postMessage(await main());
