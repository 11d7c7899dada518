// The connections open on the node now, as the probe's open, close and traffic events left them: what a subscriber
// that arrives later is sent first (as the catalog is), so it knows the connections that were open before it listened.
import type { ConnEvent, OpenEvent, StickyEvent, SweepEvent } from '../core/event.js';

/** A connection's key: node, protocol, client and Service address (docs/design.md, "Live connections"). */
const keyOf = (e: ConnEvent) => `${e.proto} ${e.client} ${e.service}`;

export class LiveBook {
  private readonly open = new Map<string, ConnEvent>();
  private sweep: SweepEvent | null = null;

  apply(events: readonly StickyEvent[]): void {
    for (const e of events) {
      if (e.type === 'open' || e.type === 'traffic') this.open.set(keyOf(e), e);
      else if (e.type === 'close') this.open.delete(keyOf(e));
      else if (e.type === 'sweep') this.sweep = e;
    }
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Every open connection as an `open` seen by the dump at `ts` (for this subscriber, tracing begins now), with what
   * is known of it (start, state, latest counters), then the latest sweep. A subscriber that comes while the dump at
   * attach is still being read (a large table takes seconds) gets the opens read so far, and the rest as they come:
   * without nf_conntrack_acct no `traffic` ever names a connection again, so an open it missed would never count.
   */
  snapshot(ts: number): StickyEvent[] {
    const out: StickyEvent[] = [];
    for (const e of this.open.values()) {
      const { type: _type, ts: _ts, ...rest } = e;
      out.push({ ...rest, type: 'open', ts, seen: 'dump' } as OpenEvent);
    }
    if (this.sweep !== null) out.push({ ...this.sweep, ts, initial: true });
    return out;
  }
}
