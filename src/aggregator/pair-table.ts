// One slot per (node, service, client): the last selection, cumulative counters and the last backend switch, in
// parallel typed arrays (about 70 bytes a pair) at the slot numbers of a SlotIndex, which also orders the pairs by
// activity for expiry.
import { SlotIndex } from './slot-index.js';
import { bytesOf, grown } from './typed.js';

const NONE = -1;

export class PairTable {
  private readonly keys = new SlotIndex();
  lastBackend = new Int32Array(0);
  lastTs = new Float64Array(0);
  /** The frontend (index in the Service's `addresses`) the last selection came through. */
  lastFrontend = new Uint16Array(0);
  /** The window ring's sequence number of the last selection (WindowRing.indexOf finds it while it is there). */
  lastSeq = new Float64Array(0);
  selections = new Uint32Array(0);
  same = new Uint32Array(0);
  /** Pairs judged an affinity violation (any cause). */
  violations = new Uint32Array(0);
  /** Head of the pair's chain in BackendCounts. */
  countHead = new Int32Array(0);
  switchTs = new Float64Array(0);
  switchFrom = new Int32Array(0);
  switchCode = new Uint8Array(0);

  get size(): number {
    return this.keys.size;
  }
  /** Least recently active pair, first to expire or be evicted. */
  get oldest(): number {
    return this.keys.oldest;
  }
  get node(): Int32Array {
    return this.keys.node;
  }
  get svc(): Int32Array {
    return this.keys.svc;
  }
  get client(): Float64Array {
    return this.keys.client;
  }

  find(node: number, svc: number, client: number): number {
    return this.keys.find(node, svc, client);
  }

  /** Adds a pair known to be absent; it becomes the newest. */
  insert(node: number, svc: number, client: number, countHead: number): number {
    const p = this.keys.insert(node, svc, client);
    if (p >= this.lastBackend.length) this.growColumns(this.keys.capacity);
    this.lastBackend[p] = NONE;
    this.lastTs[p] = 0;
    this.lastSeq[p] = -1;
    this.lastFrontend[p] = 0;
    this.selections[p] = 0;
    this.same[p] = 0;
    this.violations[p] = 0;
    this.countHead[p] = countHead;
    this.switchTs[p] = 0;
    this.switchFrom[p] = NONE;
    this.switchCode[p] = 0;
    return p;
  }

  /** Marks the pair as the most recently active. */
  touch(p: number): void {
    this.keys.touch(p);
  }

  remove(p: number): void {
    this.keys.remove(p);
  }

  /** Pairs from most to least recently active. */
  newestFirst(): Generator<number> {
    return this.keys.newestFirst();
  }

  /** Live pairs in slot order (cheaper than newestFirst when order does not matter). */
  all(): Generator<number> {
    return this.keys.all();
  }

  bytes(): number {
    return (
      this.keys.bytes() +
      bytesOf([
        this.lastBackend,
        this.lastTs,
        this.lastSeq,
        this.lastFrontend,
        this.selections,
        this.same,
        this.violations,
        this.countHead,
        this.switchTs,
        this.switchFrom,
        this.switchCode,
      ])
    );
  }

  private growColumns(n: number): void {
    this.lastBackend = grown(this.lastBackend, n);
    this.lastTs = grown(this.lastTs, n);
    this.lastSeq = grown(this.lastSeq, n);
    this.lastFrontend = grown(this.lastFrontend, n);
    this.selections = grown(this.selections, n);
    this.same = grown(this.same, n);
    this.violations = grown(this.violations, n);
    this.countHead = grown(this.countHead, n);
    this.switchTs = grown(this.switchTs, n);
    this.switchFrom = grown(this.switchFrom, n);
    this.switchCode = grown(this.switchCode, n);
  }
}
