// Selections per backend over time, for the HTML report's timeline: the aggregator keeps counts, not their history, so
// this follows the same dnat events on the side. Buckets start at one second and double in width whenever the recording
// outgrows MAX_BUCKETS, so memory stays bounded however long the trace is.
import type { StickyEvent } from '../core/event.js';

const MAX_BUCKETS = 512;

export interface TimelineSeries {
  /** Bucket width in seconds. */
  bucketSeconds: number;
  /** Start of the first bucket, microseconds since the epoch. */
  start: number;
  /** Counts per backend, one entry per bucket. */
  backends: Map<string, number[]>;
}

export class SelectionTimeline {
  private origin = NaN;
  private width = 1;
  /** service key -> backend -> counts by bucket index. */
  private readonly counts = new Map<string, Map<string, number[]>>();

  add(events: readonly StickyEvent[]): void {
    for (const e of events) {
      if (e.type !== 'dnat') continue;
      const sec = Math.floor(e.ts / 1e6);
      if (Number.isNaN(this.origin)) this.origin = sec;
      // Events before the origin (slightly out of order) go into the first bucket.
      let i = Math.max(0, Math.floor((sec - this.origin) / this.width));
      while (i >= MAX_BUCKETS) {
        this.coarsen();
        i = Math.floor((sec - this.origin) / this.width);
      }
      const key = `${e.service}/${e.proto}`;
      let byBackend = this.counts.get(key);
      if (!byBackend) {
        byBackend = new Map();
        this.counts.set(key, byBackend);
      }
      let c = byBackend.get(e.backend);
      if (!c) {
        c = [];
        byBackend.set(e.backend, c);
      }
      c[i] = (c[i] ?? 0) + 1;
    }
  }

  /**
   * One service's counts between two times (microseconds), re-binned to at most `maxBuckets`. A dual-stack Service
   * passes both its addresses: its backends of both families in one series.
   */
  series(service: string | readonly string[], startUs: number, endUs: number, maxBuckets = 60): TimelineSeries {
    const keys = typeof service === 'string' ? [service] : service;
    const byBackend = new Map(keys.flatMap((k) => [...(this.counts.get(k) ?? [])]));
    const from = Number.isNaN(this.origin)
      ? 0
      : Math.max(0, Math.floor((Math.floor(startUs / 1e6) - this.origin) / this.width));
    const to = Number.isNaN(this.origin)
      ? 0
      : Math.max(from, Math.floor((Math.floor(endUs / 1e6) - this.origin) / this.width));
    const have = to - from + 1;
    const group = Math.max(1, Math.ceil(have / maxBuckets));
    const n = Math.ceil(have / group);
    const backends = new Map<string, number[]>();
    for (const [backend, c] of byBackend) {
      const out = new Array<number>(n).fill(0);
      for (let i = from; i <= to; i++) if (c[i]) out[Math.floor((i - from) / group)]! += c[i]!;
      backends.set(backend, out);
    }
    return {
      bucketSeconds: this.width * group,
      start: ((Number.isNaN(this.origin) ? 0 : this.origin) + from * this.width) * 1e6,
      backends,
    };
  }

  private coarsen(): void {
    for (const byBackend of this.counts.values()) {
      for (const [backend, c] of byBackend) {
        const merged: number[] = [];
        for (let i = 0; i < c.length; i++) if (c[i]) merged[i >> 1] = (merged[i >> 1] ?? 0) + c[i]!;
        byBackend.set(backend, merged);
      }
    }
    this.width *= 2;
  }
}
