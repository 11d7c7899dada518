// Turns the measurements into the table's rows, each target beside its figure.
import type { OverheadResult } from './overhead.js';
import { label, type CaptureRow } from './capture.js';
import type { PipelineRun } from './pipeline.js';
import type { FileThroughput, PairMemory, TuiCost } from './offline.js';
import { num, pct, type Row } from './table.js';

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
  stickyscope: 'agent + aggregator attached',
  conntrack: 'conntrack -E running',
} as const;

function overheadRows(results: OverheadResult[]): Row[] {
  return results.map((r) => {
    const bare = results.find((x) => x.proto === r.proto && x.mode === 'bare')!.median;
    const ratio = r.median / bare;
    const rounds = r.rates.map((x) => num(x)).join(', ');
    const got = r.captured === null ? '' : `, received ${pct(r.captured)}`;
    const targeted = r.mode === 'probe' || r.mode === 'stickyscope';
    return {
      section: 'overhead',
      figure: `${r.proto.toUpperCase()} new conns/s, ${MODE_NAMES[r.mode]}`,
      measured: `${num(r.median)}/s = ${ratio.toFixed(3)} of bare (rounds ${rounds})${got}`,
      target: targeted ? '>= 0.98 of bare' : undefined,
      pass: targeted ? ratio >= 0.98 : undefined,
    };
  });
}

function highestZeroLoss(rows: CaptureRow[], got: (r: CaptureRow) => number, run: 'stickyscope' | 'conntrack'): string {
  const ok = rows.filter((r) => got(r) === r.truth[run]);
  if (ok.length === 0) return 'none';
  const best = ok.reduce((a, b) => (b.achieved[run] > a.achieved[run] ? b : a));
  return `${num(best.achieved[run])}/s (offered ${label(best.offered)})`;
}

function captureRows(rows: CaptureRow[]): Row[] {
  const out: Row[] = rows.map((r) => ({
    section: 'capture',
    figure: `UDP offered ${label(r.offered)}`,
    measured:
      `${num(r.achieved.stickyscope)}/s: probe ${pct(r.probe / r.truth.stickyscope)}, aggregator ${pct(r.aggregator / r.truth.stickyscope)}` +
      `${r.reportedLost ? ` (${num(r.reportedLost)} reported lost)` : ''}; ${num(r.achieved.conntrack)}/s: conntrack -E ${pct(r.conntrack / r.truth.conntrack)}${r.enobufs ? ' ENOBUFS' : ''}`,
  }));
  const allProbe = rows.every((r) => r.probe === r.truth.stickyscope);
  const allAgg = rows.every((r) => r.aggregator === r.truth.stickyscope);
  const ctLoses = rows.some((r) => r.conntrack < r.truth.conntrack);
  out.push(
    {
      section: 'capture',
      figure: 'highest zero-loss rate, probe stream',
      measured: highestZeroLoss(rows, (r) => r.probe, 'stickyscope'),
      target: 'zero loss at every rate',
      pass: allProbe,
    },
    {
      section: 'capture',
      figure: 'highest zero-loss rate, aggregator (gRPC)',
      measured: highestZeroLoss(rows, (r) => r.aggregator, 'stickyscope'),
      target: 'zero loss at every rate',
      pass: allAgg,
    },
    {
      section: 'capture',
      figure: 'highest zero-loss rate, conntrack -E',
      measured: highestZeroLoss(rows, (r) => r.conntrack, 'conntrack'),
      target: 'loses where stickyscope does not',
      pass: ctLoses && allProbe,
    },
  );
  return out;
}

function pipelineRows(runs: PipelineRun[], target: number): Row[] {
  return runs.flatMap((r): Row[] => {
    const how = r.paced === 0 ? 'unpaced replay' : `replay paced at ${num(r.paced)} records/s`;
    return [
      {
        section: 'pipeline',
        figure: `live decode->gRPC->aggregator, ${how}`,
        measured: `${num(r.eventsPerSecond)} events/s, ${num(r.events)} events, ${num(r.lost)} flows lost`,
        target: `>= ${num(target)}/s, no loss`,
        pass: r.eventsPerSecond >= target && r.lost === 0,
      },
      {
        section: 'pipeline',
        figure: `CPU s per 1M events, ${how}`,
        measured: `agent ${r.agentCpuPerMillion.toFixed(2)}, aggregator ${r.aggregatorCpuPerMillion.toFixed(2)}`,
      },
    ];
  });
}

export function buildRows(r: Results): Row[] {
  const fileRate = r.file.events / r.file.seconds;
  return [
    ...overheadRows(r.overhead),
    ...captureRows(r.capture),
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
