// Bytes carried inside the sliding window, oldest first: one entry per counter movement of a live connection (a
// sweep's `traffic`, a `close`'s final counters), in a circular set of typed arrays (32 bytes an entry) that grows on
// demand up to a cap. Deltas of cumulative counters, so a lost event only moves bytes to the next one.
import { bytesOf, grown } from './typed.js';

export class ByteWindow {
  ts = new Float64Array(0);
  client = new Float64Array(0);
  bytes = new Float64Array(0);
  svc = new Int32Array(0);
  backend = new Int32Array(0);
  length = 0;
  private start = 0;

  constructor(readonly cap: number) {}

  get full(): boolean {
    return this.length === this.cap;
  }

  /** Physical index of the i-th oldest entry. */
  at(i: number): number {
    const n = this.ts.length;
    const j = this.start + i;
    return j < n ? j : j - n;
  }

  /** Appends an entry; the caller must first shift() when full. */
  push(ts: number, svc: number, backend: number, client: number, bytes: number): void {
    if (this.length === this.ts.length) this.grow();
    const j = this.at(this.length++);
    this.ts[j] = ts;
    this.svc[j] = svc;
    this.backend[j] = backend;
    this.client[j] = client;
    this.bytes[j] = bytes;
  }

  /** Drops the oldest entry; returns its physical index, valid until the next push. */
  shift(): number {
    const j = this.start;
    this.start = this.start + 1 === this.ts.length ? 0 : this.start + 1;
    this.length--;
    return j;
  }

  oldestTs(): number {
    return this.ts[this.start]!;
  }

  sizeInBytes(): number {
    return bytesOf([this.ts, this.client, this.bytes, this.svc, this.backend]);
  }

  /** Doubles the storage, unrolling the circle so the oldest lands at index 0. */
  private grow(): void {
    const n = Math.min(this.cap, Math.max(1024, this.ts.length * 2));
    const unroll = <T extends Float64Array | Int32Array>(a: T): T => {
      const b = grown(a.subarray(0, 0) as T, n);
      b.set(a.subarray(this.start) as never);
      b.set(a.subarray(0, this.start) as never, a.length - this.start);
      return b;
    };
    this.ts = unroll(this.ts);
    this.client = unroll(this.client);
    this.bytes = unroll(this.bytes);
    this.svc = unroll(this.svc);
    this.backend = unroll(this.backend);
    this.start = 0;
  }
}
