// Runs build/flood (bench/flood.c) in every client namespace at once, one per CPU,
// and sums what they sent. Each client keeps its own flow index, so no two runs of
// one bench ever send the same flow.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../../src/core/errors.js';
import { checkAborted, exited, track } from './procs.js';
import { SOURCES_PER_CLIENT, type BenchLab, type BenchProto } from './bench-lab.js';

export const floodPath = fileURLToPath(new URL('../../../build/flood', import.meta.url));

export interface FloodResult {
  sent: number;
  /** The longest of the generators' run times. */
  seconds: number;
}

const nextFlow = new Map<string, number>();

/** `rate` 0 sends as fast as the kernel takes the packets; else flows/s over all clients. */
export async function flood(
  b: BenchLab,
  proto: BenchProto,
  opts: { rate: number; seconds: number },
): Promise<FloodResult> {
  if (!existsSync(floodPath))
    throw new EnvironmentError(`failed to start the load generator: ${floodPath} does not exist (run 'npm run build')`);
  const runs = b.clients.map(async (c, i) => {
    const first = nextFlow.get(c.netns) ?? 0;
    const args = [
      '--netns',
      c.netns,
      '--cpu',
      String(i % b.clients.length),
      '--proto',
      proto,
      '--dst',
      b.service[proto],
      '--src-base',
      c.srcBase,
      '--src-count',
      String(SOURCES_PER_CLIENT),
      '--rate',
      String(opts.rate / b.clients.length),
      '--duration',
      String(opts.seconds),
      '--first',
      String(first),
    ];
    const child = track(floodPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await exited(child);
    // An interrupted generator exits 0 with a partial count: not a measurement.
    checkAborted();
    if (code !== 0)
      throw new EnvironmentError(
        `failed to run the load generator in ${c.netns}: exit ${code}: ${err.trim() || 'no output'}`,
      );
    const r = JSON.parse(out) as { sent: number; seconds: number; next: number };
    nextFlow.set(c.netns, r.next);
    return r;
  });
  const results = await Promise.all(runs);
  return { sent: results.reduce((s, r) => s + r.sent, 0), seconds: Math.max(...results.map((r) => r.seconds)) };
}
