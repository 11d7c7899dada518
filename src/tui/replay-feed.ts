// Plays a recorded trace back in (scaled) real time: event timestamps spread over wall-clock time divided by `speed`;
// speed 0 feeds as fast as the reducer takes them, yielding between batches so the frame timer and keyboard get turns.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StickyEvent } from '../core/event.js';

export interface ReplayOptions {
  /** Trace seconds per wall second; 0 means no pacing. */
  speed: number;
  signal: AbortSignal;
  push(events: StickyEvent[]): void;
}

/** The longest single sleep, so an abort is noticed promptly during long gaps. */
const MAX_SLEEP_MS = 100;
/** The shortest: events come up to this late, in bigger batches, instead of a wake-up per event (a frame is >= 16 ms anyway). */
const MIN_SLEEP_MS = 10;

/** Feeds every batch through `push` at the chosen pace; resolves with the number of events fed. */
export async function feedReplay(batches: AsyncIterable<StickyEvent[]>, opts: ReplayOptions): Promise<number> {
  let fed = 0;
  let t0 = NaN;
  let w0 = NaN;
  for await (const batch of batches) {
    if (opts.signal.aborted) break;
    if (opts.speed === 0) {
      opts.push(batch);
      fed += batch.length;
      await new Promise((r) => setImmediate(r));
      continue;
    }
    let from = 0;
    while (from < batch.length) {
      if (opts.signal.aborted) return fed;
      const now = performance.now();
      let to = from;
      for (; to < batch.length; to++) {
        const ev = batch[to]!;
        // Catalogs go at once: a trace's header carries the catalogs in effect when the recording started, stamped
        // whenever the rules last changed, perhaps hours earlier.
        if (ev.type === 'catalog') continue;
        if (Number.isNaN(t0)) {
          t0 = ev.ts;
          w0 = now;
        }
        if (dueAt(ev.ts, t0, w0, opts.speed) > now) break;
      }
      if (to > from) {
        opts.push(batch.slice(from, to));
        fed += to - from;
        from = to;
        continue;
      }
      const wait = dueAt(batch[from]!.ts, t0, w0, opts.speed) - now;
      await sleep(Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, wait)), undefined, { signal: opts.signal }).catch(
        () => {},
      );
    }
  }
  return fed;
}

/** Wall-clock time (performance.now() ms) at which an event of time `ts` (µs) is due. */
function dueAt(ts: number, t0: number, w0: number, speed: number): number {
  return w0 + (ts - t0) / 1000 / speed;
}
