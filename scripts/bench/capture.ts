// Capture: at rising offered rates of new UDP flows, the share of the node's new connections that reached (a) the
// probe's stream inside the agent, (b) the aggregator over gRPC, (c) a subscriber that only counts (its own pass),
// (d) `conntrack -E` (its own pass); the truth is what reached the backends. The stickyscope passes also give, from
// the same runs, the kernel time of each BPF program per new connection (bpf_stats), each process's CPU time per
// event and the latency from the kernel's timestamp to the subscriber and to the aggregator's state.
import { join } from 'node:path';
import { checkAborted } from './procs.js';
import { flood } from './flood.js';
import { flushConntrack, translated, type BenchLab } from './bench-lab.js';
import { settle, startConntrackEvents, startStickyscope } from './consumers.js';
import { progDelta, progRuns, withBpfStats, type ProgRuns } from './bpf-stats.js';
import { histogramDelta, newHistogram } from './latency.js';

/** CPU microseconds per event of each process in one pass. */
export interface CpuPerEvent {
  helper: number;
  agent: number;
  subscriber: number;
}

/** One stickyscope pass at one rate: the aggregator or the counting subscriber behind the agent. */
export interface PassResult {
  /** New connections/s the node made. */
  achieved: number;
  truth: number;
  probe: number;
  received: number;
  /** Loss the agent or subscriber reported (lost events), never silent. */
  reportedLost: number;
  cpu: CpuPerEvent;
  /** Kernel timestamp -> subscriber (count-only) or -> aggregator state, per dnat event (latency.ts buckets). */
  latency: number[];
  /** The helper's BPF programs over this run. */
  kernel: ProgRuns[];
}

export interface CaptureRow {
  /** Offered flows/s; 0 = as fast as the generators go. */
  offered: number;
  aggregator: PassResult;
  counter: PassResult;
  conntrack: { achieved: number; truth: number; received: number; enobufs: boolean };
}

function emptyPass(): PassResult {
  return {
    achieved: 0,
    truth: 0,
    probe: 0,
    received: 0,
    reportedLost: 0,
    cpu: { helper: 0, agent: 0, subscriber: 0 },
    latency: newHistogram(),
    kernel: [],
  };
}

async function stickyscopePass(
  b: BenchLab,
  rows: CaptureRow[],
  countOnly: boolean,
  seconds: number,
  log: (line: string) => void,
): Promise<void> {
  const s = await startStickyscope(b, { countOnly });
  const { helperPid } = await s.agent.ready;
  try {
    for (const row of rows) {
      checkAborted();
      await flushConntrack(b);
      const t0 = await translated(b, 'udp');
      const a0 = await s.agent.stats();
      const g0 = await s.aggregator.stats();
      const k0 = helperPid === null ? [] : await progRuns(helperPid);
      const f = await flood(b, 'udp', { rate: row.offered, seconds });
      const truth = (await translated(b, 'udp')) - t0;
      const got = (await settle(async () => (await s.aggregator.stats()).dnat, g0.dnat + truth)) - g0.dnat;
      const a1 = await s.agent.stats();
      const g1 = await s.aggregator.stats();
      const k1 = helperPid === null ? [] : await progRuns(helperPid);
      const cpu = (c: { user: number; system: number }) => c.user + c.system;
      const us = (seconds: number, events: number) => (events > 0 ? (seconds / events) * 1e6 : Number.NaN);
      const p: PassResult = {
        achieved: truth / f.seconds,
        truth,
        probe: a1.dnat - a0.dnat,
        received: got,
        reportedLost: a1.lost - a0.lost + (g1.lost - g0.lost),
        cpu: {
          helper: us(a1.helperCpu - a0.helperCpu, a1.events - a0.events),
          agent: us(cpu(a1.cpu) - cpu(a0.cpu), a1.events - a0.events),
          subscriber: us(cpu(g1.cpu) - cpu(g0.cpu), g1.events - g0.events),
        },
        latency: histogramDelta(g1.latency, g0.latency),
        kernel: progDelta(k1, k0),
      };
      if (countOnly) row.counter = p;
      else row.aggregator = p;
      log(
        `capture ${label(row.offered)}${countOnly ? ' counting subscriber' : ''}: ${truth} new conns (${Math.round(p.achieved)}/s); probe ${p.probe}, ${countOnly ? 'subscriber' : 'aggregator'} ${got}, reported lost ${p.reportedLost}; ${p.kernel.map((k) => `${k.name} ${k.runCnt ? Math.round(k.runTimeNs / k.runCnt) : 0} ns/run`).join(', ')}`,
      );
    }
  } finally {
    await s.stop();
  }
}

/** Each consumer has its own run at the same rates: none slows another. bpf_stats is on for the stickyscope passes only. */
export async function measureCapture(
  b: BenchLab,
  opts: { rates: number[]; seconds: number; dir: string },
  log: (line: string) => void,
): Promise<CaptureRow[]> {
  const rows: CaptureRow[] = opts.rates.map((offered) => ({
    offered,
    aggregator: emptyPass(),
    counter: emptyPass(),
    conntrack: { achieved: 0, truth: 0, received: 0, enobufs: false },
  }));
  await withBpfStats(async () => {
    await stickyscopePass(b, rows, false, opts.seconds, log);
    await stickyscopePass(b, rows, true, opts.seconds, log);
  });
  for (const [i, row] of rows.entries()) {
    checkAborted();
    await flushConntrack(b);
    const ct = await startConntrackEvents(b, join(opts.dir, `capture-conntrack-${i}.txt`));
    try {
      const t0 = await translated(b, 'udp');
      const f = await flood(b, 'udp', { rate: row.offered, seconds: opts.seconds });
      const truth = (await translated(b, 'udp')) - t0;
      const received = await ct.finish(truth);
      row.conntrack = { achieved: truth / f.seconds, truth, received, enobufs: ct.enobufs() };
      log(
        `capture ${label(row.offered)} conntrack -E: ${received}/${truth}${row.conntrack.enobufs ? ' (ENOBUFS)' : ''}`,
      );
    } finally {
      await ct.stop();
    }
  }
  return rows;
}

export function label(offered: number): string {
  return offered === 0 ? 'max' : `${Math.round(offered / 1000)}k/s`;
}
