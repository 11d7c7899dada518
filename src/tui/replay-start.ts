// `tui --replay FILE`: the trace read (and narrowed) into the frame source at its pace, with the keys' pause and
// steps; the header's source text says where the replay stands.
import { createState } from '../aggregator/state.js';
import { narrowEvents, narrows, type Narrowing } from '../record/narrow-events.js';
import { readTrace } from '../record/trace-reader.js';
import type { AggregatorFrameSource } from './aggregator-source.js';
import { clock } from './format.js';
import { ReplayControl } from './replay-control.js';
import { feedReplay } from './replay-feed.js';

export interface ReplayStart {
  file: string;
  /** Trace seconds per wall second; 0 as fast as possible. */
  speed: number;
  windowSeconds: number;
  narrowing: Narrowing;
  signal: AbortSignal;
}

/**
 * Reads the first batch before the screen is taken over (a file that is not a trace fails here, in plain text), then
 * feeds the rest; the feed lasts until `signal` aborts.
 */
export async function startReplay(
  source: AggregatorFrameSource,
  opts: ReplayStart,
): Promise<{ feed: Promise<void>; control: ReplayControl }> {
  const { file, speed, windowSeconds, narrowing } = opts;
  const open = () => {
    const read = readTrace(file, { onWarning: (w) => source.note('warning', w.message) });
    return narrows(narrowing) ? narrowEvents(read, narrowing, (m) => source.note('warning', m)) : read;
  };
  const batches = open();
  const first = await batches.next();
  const control = new ReplayControl(windowSeconds * 1e6);
  const pace = speed === 0 ? 'as fast as possible' : `×${speed}`;
  const label = () => {
    const at = Number.isNaN(control.position) ? '' : ` at ${clock(control.position).slice(0, 8)}`;
    source.label = control.finished
      ? `replay ${file}: finished, ${control.total} events`
      : `replay ${file} ${pace}${control.paused ? `: paused${at}` : ''}`;
  };
  control.onChange(label);
  label();
  const all = (async function* () {
    if (!first.done) yield first.value;
    yield* batches;
  })();
  const feed = feedReplay(all, {
    speed,
    signal: opts.signal,
    push: (events, quiet) => (quiet ? source.pushQuietly(events) : source.push(events)),
    control,
    restart: () => {
      source.reset(createState({ windowSeconds }));
      return open();
    },
  });
  return { feed: feed.then(() => {}), control };
}
