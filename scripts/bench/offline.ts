// The measurements that need no kernel: report-from-file throughput and memory per
// pair, each in a child process of its own (a fresh heap, its own CPU time).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../../src/core/errors.js';
import { exited, track } from './procs.js';

async function runWorker<T>(script: string, args: string[]): Promise<T> {
  const child = track(
    process.execPath,
    ['--expose-gc', fileURLToPath(new URL(`./${script}.js`, import.meta.url)), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await exited(child);
  if (code !== 0)
    throw new EnvironmentError(
      `failed to run bench ${script} ${args.join(' ')}: exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
    );
  // Only the JSON object: Ink writes a cursor-restore sequence to stdout as the TUI bench exits.
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as T;
}

export interface FileThroughput {
  events: number;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
}

export function measureFile(dir: string, events: number): Promise<FileThroughput> {
  return runWorker('file-worker', [join(dir, 'bench.trace'), String(events)]);
}

export interface PairMemory {
  pairs: number;
  accountedBytesPerPair: number;
  measuredBytesPerPair: number;
  rssBytesPerPair: number;
}

export function measureMemory(pairs: number): Promise<PairMemory> {
  return runWorker('memory-worker', [String(pairs)]);
}

export interface TuiCost {
  rate: number;
  fps: number;
  framesPerSecond: number;
  cores: number;
  aloneCores: number;
  budgetCores: number;
}

/** The live UI drawing while a replay feeds it at `rate` events/s (scripts/bench-tui.ts). */
export function measureTui(rate: number): Promise<TuiCost> {
  return runWorker('../bench-tui', ['--rate', String(rate), '--seconds', '6', '--json']);
}
