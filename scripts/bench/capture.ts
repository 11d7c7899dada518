// Capture: at rising offered rates of new UDP flows, the share of the node's new connections that reached (a) the
// probe's stream inside the agent, (b) the aggregator over gRPC, (c) `conntrack -E`; the truth is what reached the
// backends.
import { join } from 'node:path';
import { checkAborted } from './procs.js';
import { flood } from './flood.js';
import { flushConntrack, translated, type BenchLab } from './bench-lab.js';
import { settle, startConntrackEvents, startStickyscope } from './consumers.js';

export interface CaptureRow {
  /** Offered flows/s; 0 = as fast as the generators go. */
  offered: number;
  /** New connections/s the node made (stickyscope run, conntrack run). */
  achieved: { stickyscope: number; conntrack: number };
  truth: { stickyscope: number; conntrack: number };
  probe: number;
  aggregator: number;
  conntrack: number;
  /** Loss the agent or aggregator reported (lost events), never silent. */
  reportedLost: number;
  enobufs: boolean;
}

/** (a) and (b) come from one run with stickyscope attached, (c) from its own run at the same rate: neither slows the other. */
export async function measureCapture(
  b: BenchLab,
  opts: { rates: number[]; seconds: number; dir: string },
  log: (line: string) => void,
): Promise<CaptureRow[]> {
  const rows: CaptureRow[] = opts.rates.map((offered) => ({
    offered,
    achieved: { stickyscope: 0, conntrack: 0 },
    truth: { stickyscope: 0, conntrack: 0 },
    probe: 0,
    aggregator: 0,
    conntrack: 0,
    reportedLost: 0,
    enobufs: false,
  }));
  const s = await startStickyscope(b);
  try {
    for (const row of rows) {
      checkAborted();
      await flushConntrack(b);
      const t0 = await translated(b, 'udp');
      const a0 = await s.agent.stats();
      const g0 = await s.aggregator.stats();
      const f = await flood(b, 'udp', { rate: row.offered, seconds: opts.seconds });
      const truth = (await translated(b, 'udp')) - t0;
      const agg = (await settle(async () => (await s.aggregator.stats()).dnat, g0.dnat + truth)) - g0.dnat;
      const a1 = await s.agent.stats();
      const g1 = await s.aggregator.stats();
      Object.assign(row, {
        probe: a1.dnat - a0.dnat,
        aggregator: agg,
        reportedLost: a1.lost - a0.lost + (g1.lost - g0.lost),
      });
      row.truth.stickyscope = truth;
      row.achieved.stickyscope = truth / f.seconds;
      log(
        `capture ${label(row.offered)}: ${truth} new conns (${Math.round(truth / f.seconds)}/s); probe ${row.probe}, aggregator ${agg}, reported lost ${row.reportedLost}`,
      );
    }
  } finally {
    await s.stop();
  }
  for (const [i, row] of rows.entries()) {
    checkAborted();
    await flushConntrack(b);
    const ct = await startConntrackEvents(b, join(opts.dir, `capture-conntrack-${i}.txt`));
    try {
      const t0 = await translated(b, 'udp');
      const f = await flood(b, 'udp', { rate: row.offered, seconds: opts.seconds });
      const truth = (await translated(b, 'udp')) - t0;
      row.conntrack = await ct.finish(truth);
      row.enobufs = ct.enobufs();
      row.truth.conntrack = truth;
      row.achieved.conntrack = truth / f.seconds;
      log(`capture ${label(row.offered)} conntrack -E: ${row.conntrack}/${truth}${row.enobufs ? ' (ENOBUFS)' : ''}`);
    } finally {
      await ct.stop();
    }
  }
  return rows;
}

export function label(offered: number): string {
  return offered === 0 ? 'max' : `${Math.round(offered / 1000)}k/s`;
}
