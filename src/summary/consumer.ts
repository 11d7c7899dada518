// The consumer of summaries (the producer is producer.ts): what `serve --summaries` and
// `report --summaries` keep of the agents' summaries (the report made from them is report.ts's).
// The store keeps each node's latest cumulative counts per Service (so a late or repeated
// summary never counts twice), their increments summed per Service since serve began and
// per second for the windows, and the nodes' distinct-client sketches merged.
import { Hll } from '../aggregator/hll.js';
import { countFields, type NodeSummary, type ServiceCounts } from '../core/summary.js';
import { addInto, emptySums, type Sums, WindowBuckets } from './window-buckets.js';

export type { Sums } from './window-buckets.js';

/**
 * How much the store keeps: far beyond a 1,000-node cluster with thousands of Services,
 * small enough that an agent inventing keys cannot grow serve without limit.
 */
export interface SummaryLimits {
  /** Nodes whose counts are kept. */
  nodes: number;
  /** Services in all (keys of the totals, windows and sketches). */
  services: number;
  /** Services whose latest counts one node may have. */
  servicesPerNode: number;
  /** Backends one Service's sums may list. */
  backendsPerService: number;
}

export const DEFAULT_SUMMARY_LIMITS: SummaryLimits = {
  nodes: 10_000,
  services: 100_000,
  servicesPerNode: 20_000,
  backendsPerService: 20_000,
};

/** What the limits made the store leave out: whole nodes' summaries, Services of a summary, new backends of a Service. */
export interface SummaryDropped {
  nodes: number;
  services: number;
  backends: number;
  /** A Service's counts refused: shrunk within one agent epoch, or a total they would take past exact (2^53). */
  inconsistent: number;
}

export class SummaryStore {
  readonly dropped: SummaryDropped = { nodes: 0, services: 0, backends: 0, inconsistent: 0 };
  /** Each node's epoch (when its counts began), once it said one. */
  private readonly epochs = new Map<string, number>();
  private readonly limits: SummaryLimits;
  /** Summaries taken, and the time (ms) the latest came. */
  received = 0;
  lastAt = 0;
  /** Each node's latest cumulative counts, by Service key. */
  private readonly latest = new Map<string, Map<string, ServiceCounts>>();
  /** Nodes whose helper reads conntrack, as their latest summary said, while their stream is up. */
  readonly liveNodes = new Map<string, NonNullable<NodeSummary['live']>>();
  /** Increments since serve began, by Service key. */
  readonly totals = new Map<string, Sums>();
  /** Increments in each window's buckets, by window (seconds) then Service key. */
  private readonly windows = new Map<number, Map<string, WindowBuckets>>();
  readonly sketches = new Map<string, Hll>();
  /** The summary periods (microseconds, agents' clocks) in which counts grew: the span a report counts. */
  countedStart = NaN;
  countedEnd = NaN;

  /** `windows`: the windows (seconds) that will be asked for. */
  constructor(windows: readonly number[], limits: Partial<SummaryLimits> = {}) {
    for (const w of windows) this.windows.set(w, new Map());
    this.limits = { ...DEFAULT_SUMMARY_LIMITS, ...limits };
  }

  /** Nodes that sent a summary. */
  get nodes(): number {
    return this.latest.size;
  }

  /**
   * Takes one summary. A node's first one is its baseline (what came before serve is not
   * counted); later ones add what grew since that node's previous counts. A new epoch means
   * the agent restarted: its counts are all new. Within one epoch counts only grow, so a
   * Service whose counts shrank is refused; from an agent too old to send an epoch, a count
   * that shrank is the only sign of a restart.
   */
  add(s: NodeSummary, nowMs = Date.now()): void {
    this.received++;
    this.lastAt = nowMs;
    let mine = this.latest.get(s.node);
    const baseline = mine === undefined;
    if (!mine && this.latest.size >= this.limits.nodes) {
      this.dropped.nodes++;
      return;
    }
    if (!mine) {
      mine = new Map();
      this.latest.set(s.node, mine);
    }
    const epoch = this.epochs.get(s.node);
    if (s.epoch !== undefined) {
      if (epoch !== undefined && s.epoch !== epoch) mine.clear();
      this.epochs.set(s.node, s.epoch);
    }
    const sameEpoch = s.epoch !== undefined && s.epoch === epoch;
    if (s.live) this.liveNodes.set(s.node, s.live);
    else this.liveNodes.delete(s.node);
    const sec = Math.floor(nowMs / 1000);
    for (const svc of s.services) {
      const newToNode = !mine.has(svc.service);
      if (
        (newToNode && mine.size >= this.limits.servicesPerNode) ||
        (!this.sketches.has(svc.service) && this.sketches.size >= this.limits.services)
      ) {
        this.dropped.services++;
        continue;
      }
      let sketch = this.sketches.get(svc.service);
      if (!sketch) {
        sketch = new Hll();
        this.sketches.set(svc.service, sketch);
      }
      sketch.mergeEntries(svc.clientsHll);
      const prev = mine.get(svc.service);
      const { clientsHll: _sketch, ...counts } = svc as ServiceCounts & { clientsHll?: Uint8Array };
      if (baseline) {
        mine.set(svc.service, counts);
        continue;
      }
      const grown = deltaOf(prev, counts);
      const total = this.totals.get(svc.service) ?? emptySums();
      if ((grown?.shrank && sameEpoch) || (grown && !exactAfter(total, grown.sums))) {
        this.dropped.inconsistent++;
        continue;
      }
      mine.set(svc.service, counts);
      if (!grown?.grew) continue;
      const delta = grown.sums;
      this.totals.set(svc.service, total);
      // A backend counts towards the limit by its selections or its bytes.
      const t = total;
      const known = (b: string) => t.backends.has(b) || t.bytes.has(b);
      let room = this.limits.backendsPerService - t.backends.size;
      for (const b of t.bytes.keys()) if (!t.backends.has(b)) room--;
      for (const b of new Set([...delta.backends.keys(), ...delta.bytes.keys()])) {
        if (known(b)) continue;
        if (room-- > 0) continue;
        delta.backends.delete(b);
        delta.bytes.delete(b);
        this.dropped.backends++;
      }
      addInto(total, delta);
      if (!(s.start >= this.countedStart)) this.countedStart = s.start;
      if (!(s.end <= this.countedEnd)) this.countedEnd = s.end;
      for (const [seconds, byService] of this.windows) {
        let buckets = byService.get(svc.service);
        if (!buckets) {
          buckets = new WindowBuckets(seconds);
          byService.set(svc.service, buckets);
        }
        buckets.add(sec, delta);
      }
    }
  }

  /**
   * Increments of one Service over the last `seconds`, one of the store's windows: whole seconds up to 60 s (the
   * current one included), whole 1/60ths of a longer window.
   */
  window(service: string, seconds: number, nowMs = Date.now()): Sums {
    const byService = this.windows.get(seconds);
    if (!byService)
      throw new RangeError(
        `failed to sum a ${seconds} s window: the store keeps ${[...this.windows.keys()].join(', ')} s`,
      );
    const out = emptySums();
    byService.get(service)?.sumInto(out, Math.floor(nowMs / 1000));
    return out;
  }

  /** The node's stream ended: its open connections are no longer known (its next summary says them again). */
  nodeDown(node: string): void {
    this.liveNodes.delete(node);
  }

  /**
   * Connections open now to each backend of a Service, summed over the nodes that read conntrack (their latest
   * counts); null when no node does.
   */
  liveOf(service: string): Map<string, number> | null {
    if (this.liveNodes.size === 0) return null;
    const out = new Map<string, number>();
    for (const node of this.liveNodes.keys())
      for (const b of this.latest.get(node)?.get(service)?.backends ?? [])
        if (b.live !== undefined) out.set(b.backend, (out.get(b.backend) ?? 0) + b.live);
    return out;
  }

  /** Services whose counts grew since serve began, and those with connections open now (possibly none new). */
  serviceKeys(): string[] {
    const out = new Set(this.totals.keys());
    for (const node of this.liveNodes.keys())
      for (const [key, c] of this.latest.get(node) ?? []) if (c.backends.some((b) => (b.live ?? 0) > 0)) out.add(key);
    return [...out];
  }

  /** A Service's increments since serve began (none yet: zeros). */
  totalOf(key: string): Sums {
    return this.totals.get(key) ?? emptySums();
  }

  /** Every Service's backends some node's latest counts list (its endpoints, zeros included). */
  listedBackends(service: string): Set<string> {
    const out = new Set<string>();
    for (const mine of this.latest.values()) for (const b of mine.get(service)?.backends ?? []) out.add(b.backend);
    return out;
  }
}

/**
 * What grew from `prev` to `now`; everything of `now` when a count shrank (a restarted agent). Open connections are
 * a gauge, read from each node's latest counts (SummaryStore.liveOf), never summed over time.
 */
function deltaOf(
  prev: ServiceCounts | undefined,
  now: ServiceCounts,
): { sums: Sums; shrank: boolean; grew: boolean } | null {
  const out = emptySums();
  let any = false;
  let reset = false;
  const before = new Map(prev?.backends.map((b) => [b.backend, b]) ?? []);
  for (const b of now.backends) {
    const was = before.get(b.backend);
    if (b.selections < (was?.selections ?? 0) || (b.bytes ?? 0) < (was?.bytes ?? 0)) reset = true;
  }
  for (const f of countFields) if (now[f] < (prev?.[f] ?? 0)) reset = true;
  for (const b of now.backends) {
    const was = reset ? undefined : before.get(b.backend);
    const d = b.selections - (was?.selections ?? 0);
    if (d > 0) {
      out.backends.set(b.backend, d);
      any = true;
    }
    const bytes = (b.bytes ?? 0) - (was?.bytes ?? 0);
    if (bytes > 0) {
      out.bytes.set(b.backend, bytes);
      any = true;
    }
  }
  for (const f of countFields) {
    out.counts[f] = now[f] - (reset ? 0 : (prev?.[f] ?? 0));
    if (out.counts[f] > 0) any = true;
  }
  return any || reset ? { sums: out, shrank: reset, grew: any } : null;
}

/** Whether adding `delta` keeps every total of `total` an exact integer (below 2^53). */
function exactAfter(total: Sums, delta: Sums): boolean {
  const fits = (now: number | undefined, d: number) => (now ?? 0) + d <= Number.MAX_SAFE_INTEGER;
  for (const [b, n] of delta.backends) if (!fits(total.backends.get(b), n)) return false;
  for (const [b, n] of delta.bytes) if (!fits(total.bytes.get(b), n)) return false;
  for (const f of countFields) if (!fits(total.counts[f], delta.counts[f])) return false;
  return true;
}
