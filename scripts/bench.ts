// `npm run bench`: datapath overhead, capture, pipeline throughput and memory, measured in one run on a lab built
// for it, printed as one table with each target. Needs root and `npm run build`; cleans up on exit, failure and
// SIGINT/SIGTERM (a second signal exits at once, leaving what is left). Usage: node dist/scripts/bench.js [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runPrefix } from '../src/core/run-prefix.js';
import { shutdownSignal } from '../src/cli/command.js';
import { benchLabUp } from './bench/bench-lab.js';
import { MODES, measureOverhead } from './bench/overhead.js';
import { measureCapture } from './bench/capture.js';
import { measurePipeline } from './bench/pipeline.js';
import { measureFile, measureMemory, measureTui } from './bench/offline.js';
import { type Aborted, cleanupAll, interrupt, interrupted, interruptWhenOrphaned, onCleanup } from './bench/procs.js';
import { renderTable } from './bench/table.js';
import { buildRows } from './bench/rows.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = values.quick;
const plan = {
  overhead: { seconds: quick ? 2 : 3, rounds: quick ? 1 : 3 },
  capture: { rates: quick ? [10_000, 100_000, 0] : [10_000, 25_000, 50_000, 100_000, 150_000, 0], seconds: 2 },
  pipeline: { maxRecords: 1_500_000, targetRate: 500_000 },
  fileEvents: 1_000_000,
  memoryPairs: [10_000, 100_000, 1_000_000],
  tuiRate: 50_000,
};

/** How long an interrupted run gets to unwind by itself (its children are gone by then) before clean-up goes ahead anyway. */
const UNWIND_MS = 10_000;

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: failed to start: needs root (network namespaces, BPF, conntrack); run it as root\n');
    return 1;
  }
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-bench-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = runPrefix('bench');
  log(`building lab ${prefix}; temporary files in ${dir}`);
  const b = await benchLabUp(prefix, interrupted);
  log(
    `lab ${b.lab.prefix}: ${b.clients.length} client namespaces flooding ${b.service.udp}/udp and ${b.service.tcp}/tcp`,
  );
  const recordFiles: string[] = [];
  const overhead = await measureOverhead(b, { ...plan.overhead, dir, recordFiles }, log);
  const capture = await measureCapture(b, { ...plan.capture, dir }, log);
  const pipeline = await measurePipeline(b, { recordFiles, dir, ...plan.pipeline }, log);
  for (const f of recordFiles) rmSync(f, { force: true });
  const file = await measureFile(dir, plan.fileEvents);
  log(`report from file: ${file.events} events in ${file.seconds.toFixed(2)} s`);
  const memory = [];
  for (const pairs of plan.memoryPairs) memory.push(await measureMemory(pairs));
  const tui = await measureTui(plan.tuiRate);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `\nstickyscope bench${quick ? ' --quick' : ''}: ${new Date().toISOString()}, ${seconds.toFixed(0)} s, modes ${MODES.join('/')}\n`,
  );
  process.stdout.write(
    renderTable(
      buildRows({ overhead, capture, pipeline, file, memory, tui, pipelineTarget: plan.pipeline.targetRate }),
    ) + '\n',
  );
  process.stdout.write(`\nsettings: ${b.settings.join('; ')}\n`);
  return 0;
}

/** Rejects with the interruption once `work` has settled or had UNWIND_MS to, whichever is first. */
function unwound(work: Promise<unknown>): Promise<never> {
  return new Promise((_, reject) => {
    interrupted.addEventListener(
      'abort',
      () => {
        const timer = setTimeout(() => reject(interrupted.reason), UNWIND_MS);
        work
          .catch(() => {})
          .finally(() => {
            clearTimeout(timer);
            reject(interrupted.reason);
          });
      },
      { once: true },
    );
  });
}

/** 128 + the signal's number, as a shell reports a process killed by it; 1 for any other interruption. */
function exitCodeOf(why: string): number {
  const sig = /SIG[A-Z]+/.exec(why)?.[0] as keyof typeof constants.signals | undefined;
  return sig && constants.signals[sig] ? 128 + constants.signals[sig] : 1;
}

// Registered before anything is made, so no signal finds the lab up and nobody to take it down.
const shutdown = shutdownSignal();
shutdown.addEventListener('abort', () => interrupt((shutdown.reason as Error).message));
interruptWhenOrphaned();
interrupted.addEventListener('abort', () => {
  log(
    `${(interrupted.reason as Aborted).message}: stopping its processes and undoing its changes (lab, nf_conntrack_max, bpf_stats_enabled, temporary files); a second signal exits at once, leaving them`,
  );
});

const work = main();
try {
  process.exitCode = await Promise.race([work, unwound(work)]);
} catch (err) {
  // Once interrupted, whatever failed did so because its processes were stopped: the line above says it all.
  if (!interrupted.aborted) {
    log((err as Error).message);
    process.exitCode = 1;
  }
} finally {
  for (const p of await cleanupAll()) log(`clean-up: ${p}`);
}
if (interrupted.aborted) process.exitCode = exitCodeOf((interrupted.reason as Aborted).why);
