// Selections per backend over time, for the HTML report's timeline: the aggregator keeps counts, not their history, so
// this follows the same dnat events on the side. Buckets start at one second and double in width whenever the recording
// outgrows MAX_BUCKETS, so memory stays bounded however long the trace is.
import type { CatalogEvent, StickyEvent } from '../core/event.js';

const MAX_BUCKETS = 512;
/** Endpoint changes kept per Service: a flapping endpoint must not grow memory without bound. */
const MAX_CHANGES = 200;
/** The same change seen by several nodes (each reads its own rules) within this many microseconds is one mark. */
const SAME_CHANGE_US = 5e6;

/** A Service's endpoints changed: what joined and what left, and the nodes whose rules said so. */
export interface EndpointChange {
  ts: number;
  nodes: string[];
  added: string[];
  removed: string[];
}

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
  /** node -> service key -> its endpoints in the node's latest catalog. */
  private readonly endpoints = new Map<string, Map<string, string[]>>();
  /** service key -> its endpoint changes, in time order. */
  private readonly changeLog = new Map<string, EndpointChange[]>();

  add(events: readonly StickyEvent[]): void {
    for (const e of events) {
      if (e.type === 'catalog') this.noteCatalog(e);
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

  /** The endpoint changes of one Service (all its addresses) between two times (microseconds), in time order. */
  changes(service: string | readonly string[], startUs: number, endUs: number): EndpointChange[] {
    const keys = typeof service === 'string' ? [service] : service;
    return keys
      .flatMap((k) => this.changeLog.get(k) ?? [])
      .filter((c) => c.ts >= startUs && c.ts <= endUs)
      .sort((a, b) => a.ts - b.ts);
  }

  /** A node's first catalog sets what it lists; each later one that lists a Service otherwise is a change. */
  private noteCatalog(e: CatalogEvent): void {
    let known = this.endpoints.get(e.node);
    if (!known) {
      known = new Map();
      this.endpoints.set(e.node, known);
    }
    for (const s of e.services) {
      const before = known.get(s.service);
      known.set(s.service, s.endpoints);
      if (!before) continue;
      const added = s.endpoints.filter((x) => !before.includes(x));
      const removed = before.filter((x) => !s.endpoints.includes(x));
      if (added.length > 0 || removed.length > 0) this.logChange(s.service, e.ts, e.node, added, removed);
    }
  }

  private logChange(key: string, ts: number, node: string, added: string[], removed: string[]): void {
    let log = this.changeLog.get(key);
    if (!log) {
      log = [];
      this.changeLog.set(key, log);
    }
    const same = (c: EndpointChange) =>
      Math.abs(c.ts - ts) <= SAME_CHANGE_US && c.added.join() === added.join() && c.removed.join() === removed.join();
    const seen = [...log].reverse().find(same);
    if (seen) {
      if (!seen.nodes.includes(node)) seen.nodes.push(node);
    } else if (log.length < MAX_CHANGES) log.push({ ts, nodes: [node], added, removed });
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
