// `npm run bench:live`: what following live connections costs the new-connection rate (issue 26's "no worse"), on the
// bench's lab. The probe helper with the conntrack source and with `--no-conntrack` (and nothing attached) flood in
// turn, LIVE_ROUNDS (8) times each protocol, the order turning each round so drift in the machine's load falls on
// every mode alike. Per mode: the rate that reached the backends (the kernel's count) and the helper's CPU per new
// connection (/proc/PID/task/*/schedstat, so what the flood costs the helper is measured apart from what it costs the
// machine). The verdict comes from the pairs within a round: the mean of live / no-live with a 95% interval.
// Needs root and the build. Ctrl-C removes what it made.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrefix } from '../../src/core/run-prefix.js';
import { shutdownSignal } from '../../src/cli/command.js';
import { helperPath } from '../../src/probe/probe.js';
import { RECORD_SIZE, RecordType } from '../../src/probe/record-layout.js';
import { benchLabUp, flushConntrack, translated, type BenchLab, type BenchProto } from './bench-lab.js';
import { countRecords } from './consumers.js';
import { flood } from './flood.js';
import {
  type Aborted,
  checkAborted,
  cleanupAll,
  cpuNs,
  hasExited,
  interrupt,
  interrupted,
  interruptWhenOrphaned,
  onCleanup,
  stopChild,
  track,
} from './procs.js';

const ROUNDS = Number(process.env.LIVE_ROUNDS ?? 8);
const SECONDS = Number(process.env.LIVE_SECONDS ?? 3);
const MODES = ['bare', 'live', 'no-live'] as const;
type Mode = (typeof MODES)[number];

const log = (line: string) => process.stderr.write(`live bench: ${line}\n`);

interface Sample {
  rate: number;
  /** Helper CPU ns per new connection (0 for bare). */
  cpuPerConn: number;
  received: number;
  truth: number;
}

async function once(b: BenchLab, proto: BenchProto, mode: Mode, file: string): Promise<Sample> {
  await flushConntrack(b);
  let child: ReturnType<typeof track> | null = null;
  if (mode !== 'bare') {
    const fd = openSync(file, 'w');
    const extra = mode === 'no-live' ? ['--no-conntrack'] : [];
    child = track(helperPath(), ['--netns', b.nodeNetns, '--no-insert', ...extra], { stdio: ['pipe', fd, 'pipe'] });
    closeSync(fd);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    // Attached once its first record (the run's start) is written.
    while (readFileSync(file).length < RECORD_SIZE) {
      if (hasExited(child)) throw new Error(`failed to attach the probe helper: ${err.trim()}`);
      checkAborted();
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    const cpuBefore = child ? cpuNs(child.pid!) : 0;
    const before = await translated(b, proto);
    const { seconds } = await flood(b, proto, { rate: 0, seconds: SECONDS });
    const truth = (await translated(b, proto)) - before;
    // Its CPU up to here: what it spent while the flood ran and draining what the flood left.
    await new Promise((r) => setTimeout(r, 300));
    const cpu = child ? cpuNs(child.pid!) - cpuBefore : 0;
    if (child) await stopChild(child);
    const received = child ? countRecords(file, RecordType.dnat) : 0;
    return { rate: truth / seconds, cpuPerConn: truth ? cpu / truth : 0, received, truth };
  } finally {
    if (child) await stopChild(child);
    rmSync(file, { force: true });
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Two-sided 95% quantile of Student's t for n - 1 degrees of freedom (n = 2..30; the normal's beyond). */
function t95(n: number): number {
  const table = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145];
  return table[n - 2] ?? (n <= 30 ? 2.1 : 1.96);
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('live bench: failed to start: needs root (network namespaces, BPF, conntrack)\n');
    return 1;
  }
  if (!(ROUNDS >= 2)) throw new Error(`LIVE_ROUNDS must be 2 or more, got ${process.env.LIVE_ROUNDS}`);
  const dir = mkdtempSync(join(tmpdir(), 'stickyscope-live-bench-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const b = await benchLabUp(runPrefix('live'), interrupted);
  log(`lab ${b.lab.prefix}: ${ROUNDS} rounds of ${SECONDS} s per mode and protocol`);
  const rows: string[] = [];
  for (const proto of ['udp', 'tcp'] as const) {
    const got = new Map<Mode, Sample[]>(MODES.map((m) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      for (const mode of order) {
        const s = await once(b, proto, mode, join(dir, `records-${proto}-${mode}-${round}.bin`));
        got.get(mode)!.push(s);
        log(
          `${proto} round ${round + 1} ${mode}: ${Math.round(s.rate).toLocaleString('en-US')} new conns/s` +
            (mode === 'bare'
              ? ''
              : `, helper ${s.cpuPerConn.toFixed(0)} ns CPU per connection, received ${s.received}/${s.truth}`),
        );
      }
    }
    const bare = got.get('bare')!;
    const live = got.get('live')!;
    const noLive = got.get('no-live')!;
    const ratios = live.map((s, i) => s.rate / noLive[i]!.rate);
    const m = mean(ratios);
    const sd = Math.sqrt(ratios.reduce((a, r) => a + (r - m) ** 2, 0) / (ratios.length - 1));
    const half = (t95(ratios.length) * sd) / Math.sqrt(ratios.length);
    const ofBare = (xs: Sample[]) => median(xs.map((s, i) => s.rate / bare[i]!.rate)).toFixed(3);
    const verdict = m + half < 1 ? 'worse' : m - half > 1 ? 'better' : 'no worse (the interval holds 1)';
    rows.push(
      `| ${proto} | ${ofBare(live)} / ${ofBare(noLive)} | ${m.toFixed(3)} (${(m - half).toFixed(3)} to ${(m + half).toFixed(3)}) | ` +
        `${median(live.map((s) => s.cpuPerConn)).toFixed(0)} / ${median(noLive.map((s) => s.cpuPerConn)).toFixed(0)} ns | ${verdict} |`,
    );
  }
  process.stdout.write(
    `\nstickyscope bench:live: ${new Date().toISOString()}, ${ROUNDS} rounds of ${SECONDS} s\n\n` +
      '| proto | rate of bare, median of rounds: live / no-live | live / no-live, mean of rounds (95% interval) | helper CPU per connection: live / no-live | verdict |\n' +
      '| --- | --- | --- | --- | --- |\n' +
      `${rows.join('\n')}\n`,
  );
  return 0;
}

// Registered before anything is made, so no signal finds the lab up and nobody to take it down.
const shutdown = shutdownSignal();
shutdown.addEventListener('abort', () => interrupt((shutdown.reason as Error).message));
interruptWhenOrphaned();
try {
  process.exitCode = await main();
} catch (err) {
  process.exitCode = 1;
  if (!interrupted.aborted) log(`failed: ${(err as Error).message}`);
  else log(`${(interrupted.reason as Aborted).message}: removed what it made`);
} finally {
  for (const p of await cleanupAll()) log(`clean-up: ${p}`);
}
