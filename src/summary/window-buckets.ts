// A Service's increments over one of serve's windows, in a fixed number of buckets. One slot per second of the
// longest window took `serve --summaries` to 2.24 GB with 10,000 Services (issue 31); buckets bound the memory at
// Services x windows x BUCKETS, whatever the window's length, at the price of a window answered in whole buckets.
import { countFields, type CountField } from '../core/summary.js';

/** Summed increments of one Service: selections by backend, bytes by backend (live connections') and the other counts. */
export interface Sums {
  backends: Map<string, number>;
  bytes: Map<string, number>;
  counts: Record<CountField, number>;
}

export function emptySums(): Sums {
  const counts = {} as Record<CountField, number>;
  for (const f of countFields) counts[f] = 0;
  return { backends: new Map(), bytes: new Map(), counts };
}

export function addInto(to: Sums, from: Sums): void {
  for (const [b, n] of from.backends) to.backends.set(b, (to.backends.get(b) ?? 0) + n);
  for (const [b, n] of from.bytes) to.bytes.set(b, (to.bytes.get(b) ?? 0) + n);
  for (const f of countFields) to.counts[f] += from.counts[f];
}

/** Buckets per window: a window up to this many seconds is exact to the second; a longer one to 1/BUCKETS of it. */
const BUCKETS = 60;

/**
 * One Service's buckets as one typed array: BUCKETS rows of the counts (countFields' order) then two columns per
 * backend (selections, bytes). Objects per bucket (a Map and a record) cost ~380 bytes each and kept the heap growing for the hour.
 */
export class WindowBuckets {
  /** Seconds a bucket spans: the window over BUCKETS, at least 1. */
  readonly width: number;
  /** Buckets the window spans, the current one included. */
  private readonly span: number;
  /** The bucket number (seconds / width) each row holds, -1 when empty. */
  private readonly held = new Float64Array(BUCKETS).fill(-1);
  /** Backend addresses in column order, and their columns. */
  private readonly backends: string[] = [];
  private readonly column = new Map<string, number>();
  private cells = new Float64Array(BUCKETS * countFields.length);

  constructor(readonly seconds: number) {
    this.width = Math.max(1, Math.ceil(seconds / BUCKETS));
    this.span = Math.ceil(seconds / this.width);
  }

  private get stride(): number {
    return countFields.length + 2 * this.backends.length;
  }

  add(second: number, delta: Sums): void {
    for (const b of delta.backends.keys()) if (!this.column.has(b)) this.addColumn(b);
    for (const b of delta.bytes.keys()) if (!this.column.has(b)) this.addColumn(b);
    const bucket = Math.floor(second / this.width);
    const row = (bucket % BUCKETS) * this.stride;
    if (this.held[bucket % BUCKETS] !== bucket) {
      this.cells.fill(0, row, row + this.stride);
      this.held[bucket % BUCKETS] = bucket;
    }
    const f = countFields.length;
    for (let k = 0; k < f; k++) this.cells[row + k]! += delta.counts[countFields[k]!];
    for (const [b, n] of delta.backends) this.cells[row + f + 2 * this.column.get(b)!]! += n;
    for (const [b, n] of delta.bytes) this.cells[row + f + 2 * this.column.get(b)! + 1]! += n;
  }

  /** Adds into `out` the buckets of the window that ends in `second`: its last `seconds`, to a bucket's width. */
  sumInto(out: Sums, second: number): void {
    const now = Math.floor(second / this.width);
    const f = countFields.length;
    for (let i = 0; i < BUCKETS; i++) {
      const b = this.held[i]!;
      if (!(b > now - this.span && b <= now)) continue;
      const row = i * this.stride;
      for (let k = 0; k < f; k++) out.counts[countFields[k]!] += this.cells[row + k]!;
      for (let c = 0; c < this.backends.length; c++) {
        const b = this.backends[c]!;
        const n = this.cells[row + f + 2 * c]!;
        const bytes = this.cells[row + f + 2 * c + 1]!;
        if (n) out.backends.set(b, (out.backends.get(b) ?? 0) + n);
        if (bytes) out.bytes.set(b, (out.bytes.get(b) ?? 0) + bytes);
      }
    }
  }

  /** A new backend's column: every row moves to the wider stride. */
  private addColumn(backend: string): void {
    const old = this.stride;
    this.column.set(backend, this.backends.length);
    this.backends.push(backend);
    const cells = new Float64Array(BUCKETS * this.stride);
    for (let i = 0; i < BUCKETS; i++) cells.set(this.cells.subarray(i * old, (i + 1) * old), i * this.stride);
    this.cells = cells;
  }
}
