// Runs fuzz targets, each in a worker thread with a heap limit and a watchdog: a case that never returns, or memory
// that grows past the limit, is a failure like an exception, reported with the input that caused it.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerInput, WorkerReport } from './worker.js';

/** test/fuzz/corpus in the source tree: seeds and every crash found, replayed first. */
const corpusDir = fileURLToPath(new URL('../../../test/fuzz/corpus', import.meta.url));

export interface FuzzOptions {
  budgetMs: number;
  /** Longest one case may take. */
  perCaseMs: number;
  seed: number;
  /** Heap a target may use, in MiB. */
  memoryMb: number;
  /** Write a failing input to the corpus (the fuzz command does; the unit suite only reports). */
  save: boolean;
}

export interface FuzzResult {
  target: string;
  runs: number;
  replayed: number;
  failure?: { message: string; input: Uint8Array; savedAs?: string };
}

const SHARED_BYTES = 8 + 4 * 1024 * 1024;

export function fuzzTarget(name: string, opts: FuzzOptions): Promise<FuzzResult> {
  const shared = new SharedArrayBuffer(SHARED_BYTES);
  const meta = new Int32Array(shared, 0, 2);
  const scratchDir = mkdtempSync(join(tmpdir(), 'stickyscope-fuzz-'));
  const data: WorkerInput = {
    name,
    budgetMs: opts.budgetMs,
    perCaseMs: opts.perCaseMs,
    seed: opts.seed,
    corpusDir,
    scratchDir,
    shared,
  };
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: opts.memoryMb },
  });
  worker.once('exit', () => rmSync(scratchDir, { recursive: true, force: true }));
  const currentInput = () => new Uint8Array(shared, 8, Math.min(meta[1]!, SHARED_BYTES - 8)).slice();
  return new Promise<FuzzResult>((resolve) => {
    let settled = false;
    let lastCount = -1;
    let lastChange = performance.now();
    const fail = (message: string, input: Uint8Array, runs: number, corpusFile?: string) => {
      const failure: NonNullable<FuzzResult['failure']> = { message, input };
      if (corpusFile) failure.savedAs = join(corpusDir, name, corpusFile);
      else if (opts.save) failure.savedAs = saveCrash(name, input);
      finish({ target: name, runs, replayed: 0, failure });
    };
    const finish = (r: FuzzResult) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(r);
    };
    // A synchronous loop cannot be interrupted from inside the worker: the watchdog ends it from here.
    const watchdog = setInterval(() => {
      const count = Atomics.load(meta, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > opts.perCaseMs * 3 + 2000)
        fail(
          `hang: case ${count} gave no answer for ${Math.round(performance.now() - lastChange)} ms`,
          currentInput(),
          count,
        );
    }, 250);
    worker.on('message', (r: WorkerReport) => {
      if (r.ok) finish({ target: name, runs: r.runs, replayed: r.replayed });
      else fail(r.message, r.input, r.runs, r.corpusFile);
    });
    worker.on('error', (err: Error & { code?: string }) =>
      fail(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `memory: the heap passed ${opts.memoryMb} MiB`
          : `the worker failed: ${err.message}`,
        currentInput(),
        Atomics.load(meta, 0),
      ),
    );
  });
}

/** Keeps a failing input as test/fuzz/corpus/<target>/crash-<hash>, so every later run replays it first. */
function saveCrash(name: string, input: Uint8Array): string {
  const dir = join(corpusDir, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `crash-${createHash('sha256').update(input).digest('hex').slice(0, 12)}`);
  writeFileSync(file, input);
  return file;
}
