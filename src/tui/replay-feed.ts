// Plays a recorded trace back in (scaled) real time: event timestamps spread over wall-clock time divided by `speed`;
// speed 0 feeds as fast as the reducer takes them, yielding between batches so the frame timer and keyboard get turns.
// With a ReplayControl the keys pause it and step it a window at a time: forward feeds at once up to the step's end;
// back reads the trace again from its start into fresh figures (the aggregator cannot take events out).
import { setTimeout as sleep } from 'node:timers/promises';
import type { StickyEvent } from '../core/event.js';
import type { ReplayControl } from './replay-control.js';

export interface ReplayOptions {
  /** Trace seconds per wall second; 0 means no pacing. */
  speed: number;
  signal: AbortSignal;
  /** `quiet`: events fed again after a step back, already shown once (their event-log lines are not printed again). */
  push(events: StickyEvent[], quiet: boolean): void;
  /** Pause and steps; with it, the feed lasts until `signal` aborts, so that a step back works after the end. */
  control?: ReplayControl;
  /** The trace again from its start, into fresh figures: what a step back plays. Needed with `control`. */
  restart?: () => AsyncIterable<StickyEvent[]>;
}

/** The longest single sleep, so an abort or a key is noticed promptly during long gaps. */
const MAX_SLEEP_MS = 100;
/** The shortest: events come up to this late, in bigger batches, instead of a wake-up per event (a frame is >= 16 ms anyway). */
const MIN_SLEEP_MS = 10;

/** Feeds every batch through `push` at the chosen pace; resolves with the number of events fed. */
export async function feedReplay(batches: AsyncIterable<StickyEvent[]>, opts: ReplayOptions): Promise<number> {
  const c = opts.control;
  let fed = 0;
  let source = batches;
  let again = false;
  for (;;) {
    const end = await playThrough(source, opts, again, (n) => {
      fed += n;
    });
    if (end === 'aborted' || !c || !opts.restart) return fed;
    if (end === 'end') {
      c.total ??= fed;
      c.finished = true;
      c.arrived(c.position);
      // At the end only a step back does anything: one forward is dropped, so the next back counts from here.
      while (!c.goingBack) {
        if (opts.signal.aborted) return fed;
        if (c.target !== null) c.arrived(c.position);
        await c.nextChange(opts.signal);
      }
    }
    source = opts.restart();
    c.position = Number.NaN;
    c.finished = false;
    again = true;
  }
}

/** Where a pass over the trace ended: its end, a step back (read it again), or the feed stopped. */
type PassEnd = 'end' | 'back' | 'aborted';

/** Feeds one pass over `batches`, paced, pausing and stepping as `opts.control` says. */
async function playThrough(
  batches: AsyncIterable<StickyEvent[]>,
  opts: ReplayOptions,
  again: boolean,
  count: (n: number) => void,
): Promise<PassEnd> {
  const c = opts.control;
  // Trace time t0 plays at wall time w0 (performance.now() ms); NaN until the first event, and after a pause or step.
  let t0 = Number.NaN;
  let w0 = Number.NaN;
  const push = (events: StickyEvent[], quiet: boolean) => {
    opts.push(events, quiet);
    count(events.length);
    const last = events.at(-1);
    if (c && last) c.fed(last.ts);
  };
  for await (const batch of batches) {
    let from = 0;
    while (from < batch.length) {
      if (opts.signal.aborted) return 'aborted';
      if (c && c.target !== null) {
        if (c.goingBack) return 'back';
        const to = upTo(batch, from, c.target);
        if (to > from) push(batch.slice(from, to), again);
        from = to;
        if (from < batch.length) {
          c.arrived(c.target);
          again = false;
          t0 = Number.NaN;
        }
        continue;
      }
      if (c?.paused) {
        await c.nextChange(opts.signal);
        t0 = Number.NaN;
        continue;
      }
      if (opts.speed === 0) {
        push(batch.slice(from), false);
        from = batch.length;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const now = performance.now();
      if (Number.isNaN(t0)) {
        // From where the replay stands (a pause or a step), else from the first event that is not a catalog.
        const first = firstEvent(batch, from);
        if (first) {
          t0 = c && !Number.isNaN(c.position) ? Math.min(c.position, first.ts) : first.ts;
          w0 = now;
        }
      }
      const to = dueUpTo(batch, from, (ts) => dueAt(ts, t0, w0, opts.speed) <= now);
      if (to > from) {
        push(batch.slice(from, to), false);
        from = to;
        continue;
      }
      const wait = Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, dueAt(batch[from]!.ts, t0, w0, opts.speed) - now));
      // A key wakes it at once: a pause or a step is not kept waiting for the next event.
      await (c ? c.nextChange(opts.signal, wait) : sleep(wait, undefined, { signal: opts.signal }).catch(() => {}));
    }
  }
  return opts.signal.aborted ? 'aborted' : 'end';
}

/** The first event from `from` on that is not a catalog. */
function firstEvent(batch: StickyEvent[], from: number): StickyEvent | undefined {
  for (let i = from; i < batch.length; i++) if (batch[i]!.type !== 'catalog') return batch[i];
  return undefined;
}

/**
 * The end of the run from `from` whose events are due: catalogs go at once, since a trace's header carries the
 * catalogs in effect when the recording started, stamped whenever the rules last changed, perhaps hours earlier.
 */
function dueUpTo(batch: StickyEvent[], from: number, due: (ts: number) => boolean): number {
  let to = from;
  while (to < batch.length && (batch[to]!.type === 'catalog' || due(batch[to]!.ts))) to++;
  return to;
}

/** The end of the run from `from` up to trace time `target` (catalogs included). */
function upTo(batch: StickyEvent[], from: number, target: number): number {
  return dueUpTo(batch, from, (ts) => ts <= target);
}

/** Wall-clock time (performance.now() ms) at which an event of time `ts` (µs) is due. */
function dueAt(ts: number, t0: number, w0: number, speed: number): number {
  return w0 + (ts - t0) / 1000 / speed;
}
