// The selections inside the sliding window, oldest first, in a circular set of typed
// arrays (29 bytes a selection) that grows on demand up to a cap.
import { bytesOf, grown } from './typed.js';

export class WindowRing {
  ts = new Float64Array(0);
  client = new Float64Array(0);
  svc = new Int32Array(0);
  backend = new Int32Array(0);
  node = new Uint16Array(0);
  code = new Uint8Array(0);
  /** The Service address (frontend, index in its `addresses`) the selection came through. */
  frontend = new Uint16Array(0);
  length = 0;
  /** Selections ever pushed: a selection's sequence number is this count before its push. */
  pushed = 0;
  private start = 0;

  constructor(readonly cap: number) {}

  get full(): boolean {
    return this.length === this.cap;
  }

  /** Physical index of the i-th oldest selection. */
  at(i: number): number {
    const n = this.ts.length;
    const j = this.start + i;
    return j < n ? j : j - n;
  }

  /** Appends a selection; the caller must first shift() when full. */
  push(ts: number, node: number, svc: number, client: number, backend: number, code: number, frontend = 0): void {
    if (this.length === this.ts.length) this.grow();
    const j = this.at(this.length++);
    this.pushed++;
    this.ts[j] = ts;
    this.node[j] = node;
    this.svc[j] = svc;
    this.client[j] = client;
    this.backend[j] = backend;
    this.code[j] = code;
    this.frontend[j] = frontend;
  }

  /** Drops the oldest selection; returns its physical index, valid until the next push. */
  shift(): number {
    const j = this.start;
    this.start = this.start + 1 === this.ts.length ? 0 : this.start + 1;
    this.length--;
    return j;
  }

  /** Physical index of the selection numbered `seq`, or -1 once it has left. */
  indexOf(seq: number): number {
    const i = seq - (this.pushed - this.length);
    return i >= 0 && i < this.length ? this.at(i) : -1;
  }

  oldestTs(): number {
    return this.ts[this.start]!;
  }

  bytes(): number {
    return bytesOf([this.ts, this.client, this.svc, this.backend, this.node, this.code, this.frontend]);
  }

  /** Doubles the storage, unrolling the circle so the oldest lands at index 0. */
  private grow(): void {
    const n = Math.min(this.cap, Math.max(1024, this.ts.length * 2));
    const unroll = <T extends Float64Array | Int32Array | Uint16Array | Uint8Array>(a: T): T => {
      const b = grown(a.subarray(0, 0) as T, n);
      b.set(a.subarray(this.start) as never);
      b.set(a.subarray(0, this.start) as never, a.length - this.start);
      return b;
    };
    this.ts = unroll(this.ts);
    this.client = unroll(this.client);
    this.svc = unroll(this.svc);
    this.backend = unroll(this.backend);
    this.node = unroll(this.node);
    this.code = unroll(this.code);
    this.frontend = unroll(this.frontend);
    this.start = 0;
  }
}
