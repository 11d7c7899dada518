// Datapath overhead: the node's new-connection rate at full offered load with nothing attached, with the probe helper,
// with the agent and a subscriber that only counts, with the whole pipeline (agent + aggregator), and with `conntrack -E`; the rate is what reached the backends (the
// kernel's count), not what the generators sent.
import { join } from 'node:path';
import { checkAborted } from './procs.js';
import { flood } from './flood.js';
import { flushConntrack, translated, type BenchLab, type BenchProto } from './bench-lab.js';
import { settle, startConntrackEvents, startHelperToFile, startStickyscope, type Consumer } from './consumers.js';

export type Mode = 'bare' | 'probe' | 'probe-no-live' | 'counter' | 'stickyscope' | 'conntrack';
// probe-no-live: the helper without the conntrack source (--no-conntrack), beside it in the same rounds, so the cost
// of following live connections (a destroy message per connection) on the new-connection rate shows (issue 26).
export const MODES: Mode[] = ['bare', 'probe', 'probe-no-live', 'counter', 'stickyscope', 'conntrack'];

export interface OverheadResult {
  proto: BenchProto;
  mode: Mode;
  /** New connections per second, one per round. */
  rates: number[];
  median: number;
  /** Share of the new connections the consumer received (null for bare). */
  captured: number | null;
}

export interface OverheadOptions {
  seconds: number;
  rounds: number;
  dir: string;
  /** Probe helper output files, kept for the pipeline replay. */
  recordFiles: string[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function attach(b: BenchLab, mode: Mode, opts: OverheadOptions, tag: string): Promise<Consumer | null> {
  if (mode === 'bare') return null;
  if (mode === 'probe') {
    const file = join(opts.dir, `records-${tag}.bin`);
    opts.recordFiles.push(file);
    return startHelperToFile(b, file);
  }
  if (mode === 'probe-no-live')
    return startHelperToFile(b, join(opts.dir, `records-nolive-${tag}.bin`), ['--no-conntrack']);
  if (mode === 'conntrack') return startConntrackEvents(b, join(opts.dir, `conntrack-${tag}.txt`));
  const s = await startStickyscope(b, { countOnly: mode === 'counter' });
  let stopped = false;
  const stop = async () => {
    if (!stopped) await s.stop();
    stopped = true;
  };
  return {
    async finish(expected) {
      const got = await settle(async () => (await s.aggregator.stats()).dnat, expected);
      await stop();
      return got;
    },
    stop,
  };
}

/** Modes alternate within each round so drift in the machine's load hits them alike; the rounds' median is kept. */
export async function measureOverhead(
  b: BenchLab,
  opts: OverheadOptions,
  log: (line: string) => void,
): Promise<OverheadResult[]> {
  const results: OverheadResult[] = [];
  for (const proto of ['udp', 'tcp'] as const) {
    const per = new Map<Mode, { rates: number[]; got: number; truth: number }>(
      MODES.map((m) => [m, { rates: [], got: 0, truth: 0 }]),
    );
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of MODES) {
        checkAborted();
        await flushConntrack(b);
        const consumer = await attach(b, mode, opts, `${proto}-${round}`);
        let truth: number;
        let seconds: number;
        let got = 0;
        try {
          const before = await translated(b, proto);
          ({ seconds } = await flood(b, proto, { rate: 0, seconds: opts.seconds }));
          truth = (await translated(b, proto)) - before;
          if (consumer) got = await consumer.finish(truth);
        } finally {
          await consumer?.stop();
        }
        const rate = truth / seconds;
        const r = per.get(mode)!;
        r.rates.push(rate);
        r.got += got;
        r.truth += truth;
        log(
          `overhead ${proto} ${mode} round ${round + 1}: ${Math.round(rate).toLocaleString('en-US')} new conns/s${consumer ? `, received ${got}/${truth}` : ''}`,
        );
      }
    }
    for (const mode of MODES) {
      const r = per.get(mode)!;
      results.push({
        proto,
        mode,
        rates: r.rates,
        median: median(r.rates),
        captured: mode === 'bare' ? null : r.got / r.truth,
      });
    }
  }
  return results;
}
