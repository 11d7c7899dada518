// The nodes the aggregator has heard of: a small index per name (the reducer's tables hold indexes), when each went
// down and came back, and the records their probes lost.
import type { LostEvent, NodeEvent } from '../core/event.js';

export interface Gap {
  node: number;
  start: number;
  /** NaN while the node is still down. */
  end: number;
}

/** Past this many lost records kept, those before the window are let go. */
const LOST_KEPT = 1024;

export class NodeRoster {
  readonly names: string[] = [];
  /** When each node went down; NaN while it is up. */
  readonly downSince: number[] = [];
  /** Closed gaps: down, then up again. */
  readonly gaps: Gap[] = [];
  lostTotal = 0;
  lostRecent: { ts: number; count: number }[] = [];
  private readonly index = new Map<string, number>();
  private lastName: string | undefined;
  private last = -1;

  indexOf(name: string): number {
    // Events come in runs from one node, and decoders hand out one string per name.
    if (name === this.lastName) return this.last;
    let n = this.index.get(name);
    if (n === undefined) {
      n = this.names.length;
      this.names.push(name);
      this.downSince.push(NaN);
      this.index.set(name, n);
    }
    this.lastName = name;
    this.last = n;
    return n;
  }

  lost(ev: LostEvent, windowStart: number): void {
    this.indexOf(ev.node);
    this.lostTotal += ev.count;
    this.lostRecent.push({ ts: ev.ts, count: ev.count });
    if (this.lostRecent.length > LOST_KEPT) this.lostRecent = this.lostRecent.filter((l) => l.ts >= windowStart);
  }

  /** Whether the event changed the node's state (a repeated `down` or `up` does not). */
  nodeState(ev: NodeEvent): boolean {
    const n = this.indexOf(ev.node);
    const down = !Number.isNaN(this.downSince[n]!);
    if (ev.state === 'down' && !down) this.downSince[n] = ev.ts;
    else if (ev.state === 'up' && down) {
      this.gaps.push({ node: n, start: this.downSince[n]!, end: ev.ts });
      this.downSince[n] = NaN;
    } else return false;
    return true;
  }
}
