// Puts the API's catalogs into the agents' merged stream in time order, so that every consumer (aggregator, trace
// file, TUI) sees them where they happened: a selection is judged against the endpoints of its moment.
import type { CatalogEvent, StickyEvent } from '../core/event.js';

const TICK = Symbol('tick');

interface Pending {
  ev: CatalogEvent;
  arrival: number;
}

/**
 * Agent events reach the merge a few hundred milliseconds late (the merge holds each for earlier ones from other
 * nodes), so a catalog waits in turn: it goes out just before the first agent event at or after its time, or after
 * `holdMs` if none comes (an idle cluster still gets its names and endpoints).
 */
export class CatalogFeed {
  private readonly pending: Pending[] = [];
  private wake: (() => void) | null = null;
  /** The API's latest catalog: every Service it lists now (-n reads the namespaces from it). */
  latest: CatalogEvent | null = null;

  /** `holdMs` must exceed how late agent events arrive (twice the merge's reorder delay at most). */
  constructor(private readonly holdMs = 1000) {}

  push(ev: CatalogEvent): void {
    this.latest = ev;
    this.pending.push({ ev, arrival: Date.now() });
    this.wake?.();
  }

  /**
   * The batches with the catalogs among them. Each catalog is a batch of its own: a
   * batch on the wire names one node for all its events, and the API's is no node.
   * Catalogs still waiting when the batches end follow them.
   */
  async *merge(batches: AsyncIterable<StickyEvent[]>): AsyncGenerator<StickyEvent[]> {
    const it = batches[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<StickyEvent[]>> | null = null;
    let finished = false;
    try {
      for (;;) {
        next ??= it.next();
        const tick = this.tick();
        const got = await Promise.race([next, tick.promise]).finally(tick.cancel);
        if (got === TICK) {
          const now = Date.now();
          while (this.pending.length > 0 && this.pending[0]!.arrival + this.holdMs <= now)
            yield [this.pending.shift()!.ev];
          continue;
        }
        next = null;
        if (got.done) break;
        yield* this.interleave(got.value);
      }
      finished = true;
      while (this.pending.length > 0) yield [this.pending.shift()!.ev];
    } finally {
      // A pending next() would hold return() until the upstream yields; it ends on its own signal.
      if (!finished && next === null) await it.return?.();
    }
  }

  private *interleave(batch: StickyEvent[]): Generator<StickyEvent[]> {
    let from = 0;
    for (let i = 0; i < batch.length; i++) {
      while (this.pending.length > 0 && this.pending[0]!.ev.ts <= batch[i]!.ts) {
        if (i > from) yield batch.slice(from, i);
        from = i;
        yield [this.pending.shift()!.ev];
      }
    }
    if (from < batch.length) yield from === 0 ? batch : batch.slice(from);
  }

  /** Settles on a push, or when the oldest waiting catalog has waited long enough. */
  private tick(): { promise: Promise<typeof TICK>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<typeof TICK>((resolve) => {
      this.wake = () => resolve(TICK);
      const first = this.pending[0];
      if (first) timer = setTimeout(() => resolve(TICK), Math.max(0, first.arrival + this.holdMs - Date.now()));
    });
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        this.wake = null;
      },
    };
  }
}
