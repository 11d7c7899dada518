// Turns the measurements into the table's rows, each target beside its figure.
import type { OverheadResult } from './overhead.js';
import { label, type CaptureRow } from './capture.js';
import type { PipelineRun } from './pipeline.js';
import type { FileThroughput, PairMemory, TuiCost } from './offline.js';
import { num, pct, type Row } from './table.js';
import { quantile } from './latency.js';

export interface Results {
  overhead: OverheadResult[];
  capture: CaptureRow[];
  pipeline: PipelineRun[];
  file: FileThroughput;
  memory: PairMemory[];
  tui: TuiCost;
  pipelineTarget: number;
}

const MODE_NAMES = {
  bare: 'bare',
  probe: 'probe helper attached',
  'probe-no-live': 'probe helper attached, --no-conntrack (no live connections)',
  counter: 'agent + counting subscriber attached',
  stickyscope: 'agent + aggregator attached',
  conntrack: 'conntrack -E running',
} as const;

function overheadRows(results: OverheadResult[]): Row[] {
  return results.map((r) => {
    const bare = results.find((x) => x.proto === r.proto && x.mode === 'bare')!.median;
    const ratio = r.median / bare;
    const rounds = r.rates.map((x) => num(x)).join(', ');
    const got = r.captured === null ? '' : `, received ${pct(r.captured)}`;
    const targeted = r.mode === 'probe' || r.mode === 'counter' || r.mode === 'stickyscope';
    return {
      section: 'overhead',
      figure: `${r.proto.toUpperCase()} new conns/s, ${MODE_NAMES[r.mode]}`,
      measured: `${num(r.median)}/s = ${ratio.toFixed(3)} of bare (rounds ${rounds})${got}`,
      target: targeted ? '>= 0.98 of bare' : undefined,
      pass: targeted ? ratio >= 0.98 : undefined,
    };
  });
}

type Consumer = 'aggregator' | 'counter' | 'conntrack';

function highestZeroLoss(rows: CaptureRow[], got: (r: CaptureRow) => number, run: Consumer): string {
  const ok = rows.filter((r) => got(r) === r[run].truth);
  if (ok.length === 0) return 'none';
  const best = ok.reduce((a, b) => (b[run].achieved > a[run].achieved ? b : a));
  return `${num(best[run].achieved)}/s (offered ${label(best.offered)})`;
}

/** Agent CPU per event (issue 17): what the agent may cost at most. */
export const AGENT_US_PER_EVENT = 0.25;
/** Kernel time per new connection, all of the helper's programs together (issue 17). */
export const KERNEL_NS_PER_CONN = 100;

const us = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const lat = (h: number[]) => {
  const f = (p: number) => {
    const v = quantile(h, p);
    return Number.isNaN(v) ? 'n/a' : v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v} us`;
  };
  return `p50 ${f(0.5)}, p99 ${f(0.99)}`;
};

function captureRows(rows: CaptureRow[]): Row[] {
  const out: Row[] = rows.map((r) => ({
    section: 'capture',
    figure: `UDP offered ${label(r.offered)}`,
    measured:
      `${num(r.aggregator.achieved)}/s: probe ${pct(r.aggregator.probe / r.aggregator.truth)}, aggregator ${pct(r.aggregator.received / r.aggregator.truth)}` +
      `${r.aggregator.reportedLost ? ` (${num(r.aggregator.reportedLost)} reported lost)` : ''}; ` +
      `${num(r.counter.achieved)}/s: counting subscriber ${pct(r.counter.received / r.counter.truth)}` +
      `${r.counter.reportedLost ? ` (${num(r.counter.reportedLost)} reported lost)` : ''}; ` +
      `${num(r.conntrack.achieved)}/s: conntrack -E ${pct(r.conntrack.received / r.conntrack.truth)}${r.conntrack.enobufs ? ' ENOBUFS' : ''}`,
  }));
  const allProbe = rows.every((r) => r.aggregator.probe === r.aggregator.truth && r.counter.probe === r.counter.truth);
  const allAgg = rows.every((r) => r.aggregator.received === r.aggregator.truth);
  const ctLoses = rows.some((r) => r.conntrack.received < r.conntrack.truth);
  out.push(
    {
      section: 'capture',
      figure: 'highest zero-loss rate, probe stream',
      measured: highestZeroLoss(rows, (r) => r.aggregator.probe, 'aggregator'),
      target: 'zero loss at every rate',
      pass: allProbe,
    },
    {
      section: 'capture',
      figure: 'highest zero-loss rate, aggregator (gRPC)',
      measured: highestZeroLoss(rows, (r) => r.aggregator.received, 'aggregator'),
      target: 'zero loss at every rate',
      pass: allAgg,
    },
    {
      section: 'capture',
      figure: 'highest zero-loss rate, counting subscriber (gRPC)',
      measured: highestZeroLoss(rows, (r) => r.counter.received, 'counter'),
      target: 'zero loss at every rate',
      pass: rows.every((r) => r.counter.received === r.counter.truth),
    },
    {
      section: 'capture',
      figure: 'highest zero-loss rate, conntrack -E',
      measured: highestZeroLoss(rows, (r) => r.conntrack.received, 'conntrack'),
      target: 'loses where stickyscope does not',
      pass: ctLoses && allProbe,
    },
  );
  return out;
}

/** Kernel ns per new connection per program, over both stickyscope passes at each rate (bpf_stats). */
function kernelRows(rows: CaptureRow[]): Row[] {
  return rows.map((r) => {
    const conns = r.aggregator.truth + r.counter.truth;
    const progs = new Map<string, { ns: number; runs: number }>();
    for (const k of [...r.aggregator.kernel, ...r.counter.kernel]) {
      const p = progs.get(k.name) ?? { ns: 0, runs: 0 };
      p.ns += k.runTimeNs;
      p.runs += k.runCnt;
      progs.set(k.name, p);
    }
    const total = [...progs.values()].reduce((s, p) => s + p.ns, 0) / conns;
    const parts = [...progs.entries()].map(
      ([name, p]) => `${name} ${(p.ns / conns).toFixed(0)} (${p.runs ? (p.ns / p.runs).toFixed(0) : 'n/a'}/run)`,
    );
    return {
      section: 'kernel',
      figure: `BPF ns per new connection at ${label(r.offered)} (bpf_stats)`,
      measured: progs.size === 0 ? 'no programs found' : `${parts.join(', ')} = ${total.toFixed(0)}`,
      target: `<= ${KERNEL_NS_PER_CONN} ns, all programs`,
      pass: progs.size > 0 && total <= KERNEL_NS_PER_CONN,
    };
  });
}

/** CPU microseconds per event of each process and latency, per rate and subscriber, from the capture runs. */
function userRows(rows: CaptureRow[]): Row[] {
  return rows.flatMap((r): Row[] => [
    {
      section: 'cpu',
      figure: `CPU us/event at ${label(r.offered)}, agent + aggregator`,
      measured: `helper ${us(r.aggregator.cpu.helper)}, agent ${us(r.aggregator.cpu.agent)}, aggregator ${us(r.aggregator.cpu.subscriber)}`,
      target: `agent <= ${AGENT_US_PER_EVENT}`,
      pass: r.aggregator.cpu.agent <= AGENT_US_PER_EVENT,
    },
    {
      section: 'cpu',
      figure: `CPU us/event at ${label(r.offered)}, agent + counting subscriber`,
      measured: `helper ${us(r.counter.cpu.helper)}, agent ${us(r.counter.cpu.agent)}, subscriber ${us(r.counter.cpu.subscriber)}`,
      target: `agent <= ${AGENT_US_PER_EVENT}`,
      pass: r.counter.cpu.agent <= AGENT_US_PER_EVENT,
    },
    {
      section: 'latency',
      figure: `kernel -> gRPC subscriber at ${label(r.offered)}`,
      measured: lat(r.counter.latency),
    },
    {
      section: 'latency',
      figure: `kernel -> aggregator state (TUI model, 200 ms merge hold) at ${label(r.offered)}`,
      measured: lat(r.aggregator.latency),
    },
  ]);
}

function pipelineRows(runs: PipelineRun[], target: number): Row[] {
  return runs.flatMap((r): Row[] => {
    const how = `${r.paced === 0 ? 'unpaced replay' : `replay paced at ${num(r.paced)} records/s`}${r.countOnly ? ', counting subscriber' : ''}`;
    const sub = r.countOnly ? 'subscriber' : 'aggregator';
    return [
      {
        section: 'pipeline',
        figure: `live decode->gRPC->${sub}, ${how}`,
        measured: `${num(r.eventsPerSecond)} events/s, ${num(r.events)} events, ${num(r.lost)} flows lost`,
        target: `>= ${num(target)}/s, no loss`,
        pass: r.eventsPerSecond >= target && r.lost === 0,
      },
      {
        section: 'pipeline',
        figure: `CPU us/event, ${how}`,
        measured: `agent ${us(r.agentUsPerEvent)}, ${sub} ${us(r.subscriberUsPerEvent)}`,
        target: `agent <= ${AGENT_US_PER_EVENT}`,
        pass: r.agentUsPerEvent <= AGENT_US_PER_EVENT,
      },
    ];
  });
}

export function buildRows(r: Results): Row[] {
  const fileRate = r.file.events / r.file.seconds;
  return [
    ...overheadRows(r.overhead),
    ...captureRows(r.capture),
    ...kernelRows(r.capture),
    ...userRows(r.capture),
    ...pipelineRows(r.pipeline, r.pipelineTarget),
    {
      section: 'pipeline',
      figure: `report --format json from a trace of ${num(r.file.events)} events (${(r.file.bytes / 2 ** 20).toFixed(0)} MiB)`,
      measured: `${num(fileRate)} events/s; ${((r.file.cpuSeconds / r.file.events) * 1e6).toFixed(2)} CPU s per 1M events`,
      target: '>= 1,000,000 events/s',
      pass: fileRate >= 1_000_000,
    },
    ...r.memory.map(
      (m): Row => ({
        section: 'memory',
        figure: `bytes per active pair at ${num(m.pairs)} pairs`,
        measured: `${m.measuredBytesPerPair.toFixed(0)} (heap+buffers after GC; typed arrays ${m.accountedBytesPerPair.toFixed(0)}, RSS growth ${m.rssBytesPerPair.toFixed(0)})`,
        target: m.pairs === 1_000_000 ? '< 200' : undefined,
        pass: m.pairs === 1_000_000 ? m.measuredBytesPerPair < 200 : undefined,
      }),
    ),
    {
      section: 'tui',
      figure: `live TUI fed by a replay at ${num(r.tui.rate)} events/s, --fps ${r.tui.fps}`,
      measured: `${r.tui.framesPerSecond.toFixed(1)} frames/s; ${r.tui.cores.toFixed(2)} CPU cores (aggregator alone ${r.tui.aloneCores.toFixed(2)})`,
      target: `${r.tui.fps} frames/s, <= ${r.tui.budgetCores} core`,
      pass: r.tui.framesPerSecond >= r.tui.fps * 0.9 && r.tui.cores <= r.tui.budgetCores,
    },
  ];
}
