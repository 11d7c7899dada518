// A bounded queue of events worth showing a person as they happen (the live UI's
// event log); the oldest are dropped, and counted, when nobody drains it.
import type { ViolationRecord } from '../core/summary.js';

export type Notable =
  | ViolationNotable
  | { kind: 'backendChanged'; ts: number; node: string; service: string; client: string; from: string; to: string }
  | { kind: 'reflectiveChanged'; ts: number; node: string; service: string; client: string; from: string; to: string }
  | { kind: 'nodeDown' | 'nodeUp'; ts: number; node: string; reason?: string }
  | { kind: 'lost'; ts: number; node: string; count: number };

/**
 * A violation, with the cause known when it is pushed. When a late xt_recent eviction
 * shows an `unknown` one was `listFull`, the queued item is corrected in place if it was
 * not drained yet; else the violation is pushed again with `revised: true`.
 */
export interface ViolationNotable extends Omit<ViolationRecord, 'cause'> {
  kind: 'violation';
  node: string;
  /** `pending`: the node's rules at the pick are not read yet (pending-verdicts.ts); a revision follows. */
  cause: ViolationRecord['cause'] | 'pending';
  /** Set on the revision of a pending one that turned out forced: the old backend had gone. */
  verdict?: 'forcedRepick';
  revised?: true;
}

export class NotableQueue {
  private items: Notable[] = [];
  /** Items dropped because the queue was full since the last drain. */
  dropped = 0;
  /** Drains so far: an item pushed when this was n is still queued (or dropped) while it is n. */
  drains = 0;

  constructor(private readonly cap: number) {}

  push(n: Notable): void {
    if (this.items.length >= this.cap) {
      // Halve instead of shifting one at a time: O(1) amortized.
      const keep = this.items.slice(this.items.length - Math.floor(this.cap / 2));
      this.dropped += this.items.length - keep.length;
      this.items = keep;
    }
    this.items.push(n);
  }

  drain(): { events: Notable[]; dropped: number } {
    const out = { events: this.items, dropped: this.dropped };
    this.drains++;
    this.items = [];
    this.dropped = 0;
    return out;
  }
}
