// Cumulative selections per (pair, backend), as a short chain per pair (12 bytes an
// entry). Chains are kept most-recent-first, so a sticky client finds its backend at
// the head and a client spread over K backends walks at most K entries.
import { bytesOf, grown } from './typed.js';

export const NO_ENTRY = -1;

export class BackendCounts {
  backend = new Int32Array(0);
  count = new Uint32Array(0);
  next = new Int32Array(0);
  private used = 0;
  private free = NO_ENTRY;

  /** Counts one selection of `backend` in the chain starting at `head`; returns the new head. */
  add(head: number, backend: number): number {
    let prev = NO_ENTRY;
    for (let e = head; e !== NO_ENTRY; e = this.next[e]!) {
      if (this.backend[e] === backend) {
        this.count[e]!++;
        if (prev === NO_ENTRY) return e;
        this.next[prev] = this.next[e]!;
        this.next[e] = head;
        return e;
      }
      prev = e;
    }
    const e = this.allocate();
    this.backend[e] = backend;
    this.count[e] = 1;
    this.next[e] = head;
    return e;
  }

  /** Frees a whole chain. */
  release(head: number): void {
    let e = head;
    while (e !== NO_ENTRY) {
      const n = this.next[e]!;
      this.next[e] = this.free;
      this.free = e;
      e = n;
    }
  }

  bytes(): number {
    return bytesOf([this.backend, this.count, this.next]);
  }

  private allocate(): number {
    if (this.free !== NO_ENTRY) {
      const e = this.free;
      this.free = this.next[e]!;
      return e;
    }
    if (this.used === this.backend.length) {
      const n = Math.max(1024, this.used * 2);
      this.backend = grown(this.backend, n);
      this.count = grown(this.count, n);
      this.next = grown(this.next, n);
    }
    return this.used++;
  }
}
