// `npm run bench`: datapath overhead, capture, pipeline throughput and memory, all
// measured in one run on a lab built for it, printed as one table with each target.
// Needs root (namespaces, BPF) and `npm run build`. Cleans up on exit, failure, Ctrl-C.
//   node dist/scripts/bench.js [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runPrefix } from '../src/cli/run-prefix.js';
import { benchLabUp } from './bench/bench-lab.js';
import { MODES, measureOverhead } from './bench/overhead.js';
import { measureCapture } from './bench/capture.js';
import { measurePipeline } from './bench/pipeline.js';
import { measureFile, measureMemory } from './bench/offline.js';
import { abortAll, Aborted, cleanupAll, onCleanup } from './bench/procs.js';
import { renderTable } from './bench/table.js';
import { buildRows } from './bench/rows.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = values.quick;
const plan = {
  overhead: { seconds: quick ? 2 : 3, rounds: quick ? 1 : 3 },
  capture: { rates: quick ? [20_000, 80_000, 0] : [10_000, 25_000, 50_000, 100_000, 150_000, 0], seconds: 2 },
  pipeline: { maxRecords: 1_500_000, targetRate: 300_000 },
  fileEvents: 1_000_000,
  memoryPairs: [10_000, 100_000, 1_000_000],
};

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: failed to start: needs root (network namespaces, BPF, conntrack); run it as root\n');
    return 1;
  }
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-bench-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const b = await benchLabUp(runPrefix('bench'));
  log(`lab ${b.lab.prefix}: ${b.clients.length} client namespaces flooding ${b.service.udp}/udp and ${b.service.tcp}/tcp`);
  const recordFiles: string[] = [];
  const overhead = await measureOverhead(b, { ...plan.overhead, dir, recordFiles }, log);
  const capture = await measureCapture(b, { ...plan.capture, dir }, log);
  const pipeline = await measurePipeline(b, { recordFiles, dir, ...plan.pipeline }, log);
  for (const f of recordFiles) rmSync(f, { force: true });
  const file = await measureFile(dir, plan.fileEvents);
  log(`report from file: ${file.events} events in ${file.seconds.toFixed(2)} s`);
  const memory = [];
  for (const pairs of plan.memoryPairs) memory.push(await measureMemory(pairs));
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`\nstickyscope bench${quick ? ' --quick' : ''}: ${new Date().toISOString()}, ${seconds.toFixed(0)} s, modes ${MODES.join('/')}\n`);
  process.stdout.write(renderTable(buildRows({ overhead, capture, pipeline, file, memory, pipelineTarget: plan.pipeline.targetRate })) + '\n');
  process.stdout.write(`\nsettings: ${b.settings.join('; ')}\n`);
  return 0;
}

process.on('SIGINT', abortAll);
process.on('SIGTERM', abortAll);
try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(err instanceof Aborted ? 'bench: interrupted; cleaning up\n' : `bench: ${(err as Error).message}\n`);
  process.exitCode = err instanceof Aborted ? 130 : 1;
} finally {
  for (const p of await cleanupAll()) process.stderr.write(`bench: clean-up: ${p}\n`);
}
