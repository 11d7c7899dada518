// Merges per-agent event streams into one in time order. Nodes' streams arrive with different delays, so each event
// waits `delayMs` after its arrival for earlier events from other nodes to catch up; no event waits longer than twice
// that, even when one node's clock lags behind the others (then order gives way, not latency).
import type { StickyEvent } from '../core/event.js';

interface Chunk {
  events: StickyEvent[];
  next: number;
  arrival: number;
}

export interface MergeOptions {
  /** How long an event waits for earlier ones from other sources. Default 200 ms. */
  delayMs?: number;
}

const byTs = (a: StickyEvent, b: StickyEvent) => a.ts - b.ts;

export class StreamMerger {
  readonly delayMs: number;
  private readonly queues = new Map<string, Chunk[]>();
  private held = 0;

  constructor(opts: MergeOptions = {}) {
    this.delayMs = opts.delayMs ?? 200;
  }

  /** Events waiting to be released. */
  get size(): number {
    return this.held;
  }

  /** Adds a source's batch (sorted here: a probe's per-CPU buffers interleave slightly out of order). */
  push(source: string, events: readonly StickyEvent[], arrivalMs: number): void {
    if (events.length === 0) return;
    const sorted = [...events].sort(byTs);
    let q = this.queues.get(source);
    if (!q) {
      q = [];
      this.queues.set(source, q);
    }
    q.push({ events: sorted, next: 0, arrival: arrivalMs });
    this.held += sorted.length;
  }

  /**
   * Releases, in time order, every event whose wait is over at `nowMs` (Infinity releases
   * all). An event overdue behind earlier ones that are still waiting (a source whose
   * clock lags) is released out of order rather than held longer.
   */
  drain(nowMs: number): StickyEvent[] {
    const out: StickyEvent[] = [];
    const due = nowMs - this.delayMs;
    const overdue = nowMs - 2 * this.delayMs;
    for (;;) {
      let min: Chunk[] | null = null;
      let late: Chunk[] | null = null;
      for (const q of this.queues.values()) {
        const head = q[0];
        if (!head) continue;
        if (head.arrival <= overdue && (!late || head.arrival < late[0]!.arrival)) late = q;
        if (!min || head.events[head.next]!.ts < min[0]!.events[min[0]!.next]!.ts) min = q;
      }
      const from = min && min[0]!.arrival <= due ? min : late;
      if (!from) break;
      const head = from[0]!;
      out.push(head.events[head.next++]!);
      if (head.next === head.events.length) from.shift();
    }
    this.held -= out.length;
    return out;
  }
}
