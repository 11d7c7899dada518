// The producer of summaries (the consumer is consumer.ts; the message, src/core/summary.ts
// and src/protocol/summary-wire.ts). One node's reducer state read as summable counts:
// the same reducer the aggregator runs (state.ts), fed only that node's events, whose
// cumulative tallies are taken apart per period into summaries (SummaryFeed, for
// SubscribeSummaries) or read whole (agent /metrics). serve runs one too, for agents that
// stream raw events.
import { EventEmitter } from 'node:events';
import type { CatalogEvent, EventSource, StickyEvent } from '../core/event.js';
import { countFields, type NodeSummary, type ServiceCounts, type ViolationRecord } from '../core/summary.js';
import { Hll } from '../aggregator/hll.js';
import { shownBackends, type ServiceRec } from '../aggregator/services.js';
import { createState, type AggregatorState, type StateOptions } from '../aggregator/state.js';
import { encodeSummary } from '../protocol/summary-wire.js';

/** Events carried whole in summaries: rare, and needed by whoever reads them (names, losses, gaps). */
const CARRIED = new Set<StickyEvent['type']>(['catalog', 'lost', 'affinitySets', 'node']);

export interface SummarizerOptions extends StateOptions {
  /** Every this many summaries, each sketch is sent whole (so a new subscriber catches up); default 15. */
  fullSketchEvery?: number;
}

export class Summarizer {
  readonly state: AggregatorState;
  private readonly sketches: Hll[] = [];
  /** Per Service, the sum of its counts when last sent: it changes exactly when a count does (all only grow). */
  private readonly sentSum: number[] = [];
  /** Per Service, its open connections by backend when last sent (they go down as well as up). */
  private readonly sentOpen: string[] = [];
  private carried: StickyEvent[] = [];
  private lastEnd = NaN;
  private taken = 0;
  private readonly fullEvery: number;
  /** When these cumulative counts began (microseconds): a reader tells a restarted agent by a new one. */
  private readonly epoch = Date.now() * 1000;

  constructor(
    readonly node: string,
    opts: SummarizerOptions = {},
  ) {
    // Only the cumulative tallies are read: a short window keeps the selection ring small.
    this.state = createState({ windowSeconds: 1, ...opts });
    this.fullEvery = Math.max(1, opts.fullSketchEvery ?? 15);
  }

  apply(events: readonly StickyEvent[]): void {
    const state = this.state;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      state.apply(e);
      if (e.type === 'dnat') this.sketchOf(state.services.of(e.service, e.proto)).addClient(e.client);
      else if (CARRIED.has(e.type)) this.carried.push(e);
    }
  }

  /** Distinct clients of a Service on this node since the start (an estimate). */
  clientsEstimate(svc: ServiceRec): number {
    return this.sketches[svc.id]?.estimate() ?? 0;
  }

  /** Cumulative counts of every Service, for /metrics. */
  totals(): ServiceCounts[] {
    const open = this.state.causes.openByService();
    const live = this.live() !== undefined;
    return this.state.services.list.map((svc) => countsOf(svc, open.get(svc.id) ?? 0, live));
  }

  /** Present once the node's helper reads its conntrack table: whether its last sweep counted bytes. */
  live(): NodeSummary['live'] {
    const l = this.state.live;
    if (!l.sourced.some(Boolean)) return undefined;
    const acct = l.acct.filter((a) => a !== undefined);
    return { bytes: acct.length === 0 ? null : acct.some(Boolean) };
  }

  /**
   * The period's summary: the cumulative counts of the Services whose counts moved since
   * the previous one, the sketches' raised registers (all of them every fullSketchEvery
   * summaries), and the violations and carried events since.
   */
  take(nowUs: number): NodeSummary {
    const open = this.state.causes.openByService();
    const full = this.taken++ % this.fullEvery === 0;
    const live = this.live();
    const services: NodeSummary['services'] = [];
    for (const svc of this.state.services.list) {
      const sketch = this.sketchOf(svc);
      const raised = sketch.takeChanges();
      const changes = full ? sketch.allEntries() : raised;
      const now = countsOf(svc, open.get(svc.id) ?? 0, live !== undefined);
      const sum = sumOf(now);
      const opened = openOf(now);
      if (sum === this.sentSum[svc.id] && opened === this.sentOpen[svc.id] && changes.length === 0) continue;
      this.sentSum[svc.id] = sum;
      this.sentOpen[svc.id] = opened;
      services.push({ ...now, clientsHll: changes });
    }
    const violations: ViolationRecord[] = [];
    for (const n of this.state.notable.drain().events) {
      // A pending one is sent once judged (its revision), and not at all if the re-pick was forced.
      if (n.kind !== 'violation' || n.cause === 'pending' || n.verdict !== undefined) continue;
      const { kind: _kind, node: _node, revised: _revised, verdict: _verdict, cause, ...v } = n;
      violations.push({ ...v, cause });
    }
    const summary: NodeSummary = {
      node: this.node,
      start: Number.isNaN(this.lastEnd) ? nowUs : this.lastEnd,
      end: nowUs,
      services,
      violations,
      events: this.carried,
      ...(live ? { live } : {}),
      epoch: this.epoch,
    };
    this.carried = [];
    this.lastEnd = nowUs;
    return summary;
  }

  /** Everything so far for a new subscriber: every Service's cumulative counts and whole sketches, and `events` (the catalog). */
  snapshot(nowUs: number, events: StickyEvent[]): NodeSummary {
    const open = this.state.causes.openByService();
    const live = this.live();
    const services = this.state.services.list.map((svc) => ({
      ...countsOf(svc, open.get(svc.id) ?? 0, live !== undefined),
      clientsHll: this.sketchOf(svc).allEntries(),
    }));
    return {
      node: this.node,
      start: nowUs,
      end: nowUs,
      services,
      violations: [],
      events,
      ...(live ? { live } : {}),
      epoch: this.epoch,
    };
  }

  private sketchOf(svc: ServiceRec): Hll {
    let h = this.sketches[svc.id];
    if (!h) {
      h = new Hll();
      this.sketches[svc.id] = h;
    }
    return h;
  }
}

function sumOf(c: ServiceCounts): number {
  let n = 0;
  for (const b of c.backends) n += b.selections + (b.bytes ?? 0);
  for (const f of countFields) n += c[f];
  // A newly listed endpoint (0 selections) changes what is sent, not the sum.
  return n + c.backends.length * 2 ** 40;
}

/** Open connections by backend, as one comparable value. */
const openOf = (c: ServiceCounts): string => c.backends.map((b) => b.live ?? '').join(',');

/**
 * A Service's cumulative counts; `open` violations are in `violations` but in no cause yet. `live`: the node reads
 * conntrack, so each backend carries its open connections and the bytes they carried.
 */
function countsOf(svc: ServiceRec, open: number, live: boolean): ServiceCounts {
  const t = svc.cum;
  const listed = shownBackends(svc, t);
  // A backend whose bytes were counted stays listed: its bytes are cumulative, and the consumer sums their growth.
  if (live) {
    const has = new Set(listed);
    for (let b = 0; b < svc.backendNames.length; b++) if (!has.has(b) && svc.load.bytesOf(b, false) > 0) listed.push(b);
  }
  return {
    service: svc.key,
    backends: listed.map((b) => ({
      backend: svc.backendNames[b]!,
      selections: t.countOf(b),
      ...(live ? { live: svc.load.openOf(b), bytes: svc.load.bytesOf(b, false) } : {}),
    })),
    pairs: t.pairs,
    sameBackend: t.same,
    held: t.held,
    violations: t.listFull + t.setFull + t.crossFrontend + t.unknown,
    forcedRepick: t.forcedRepick,
    expired: t.expired,
    expiredMoved: t.expiredMoved,
    listFull: t.listFull,
    setFull: t.setFull,
    crossFrontend: t.crossFrontend,
    unknown: t.unknown - open,
    udpReplacements: svc.udp.replacements,
    udpBackendChanged: svc.udp.backendChanged,
    udpReflectiveChanged: svc.udp.reflectiveChanged,
  };
}

const DEFAULT_SUMMARY_PERIOD_MS = 2000;

/** The agent's per-period summaries, each already encoded, for SubscribeSummaries (encoded once, whatever the number of subscribers). */
export class SummaryFeed extends EventEmitter {
  readonly summarizer: Summarizer;
  private catalog: CatalogEvent | null = null;
  private readonly timer: NodeJS.Timeout;
  /**
   * Whether the reducer runs: it costs about 1.5 CPU-us per selection, on the agent's one thread, so it starts only
   * when something reads it (--metrics, or the first summary subscriber); until then only the catalog is kept.
   */
  private active = false;
  /** Each batch of the node's stream (attached to `source` when one is given). */
  readonly onEvents = (events: StickyEvent[]): void => {
    if (this.active) this.summarizer.apply(events);
    for (const e of events) if (e.type === 'catalog') this.catalog = e;
  };

  constructor(
    node: string,
    private readonly source: EventSource | null,
    periodMs = DEFAULT_SUMMARY_PERIOD_MS,
  ) {
    super();
    this.summarizer = new Summarizer(node);
    source?.on('events', this.onEvents);
    this.timer = setInterval(() => this.tick(), periodMs);
    this.timer.unref();
  }

  /**
   * Starts the reducer (once), from the latest catalog: counts are since then. `open`: the connections open now, as a
   * late subscriber is told them (for the reducer, they were open when tracing began).
   */
  start(open: readonly StickyEvent[] = []): void {
    if (this.active) return;
    this.active = true;
    if (this.catalog) this.summarizer.apply([this.catalog]);
    this.summarizer.apply(open);
  }

  snapshot(open: readonly StickyEvent[] = []): Uint8Array {
    this.start(open);
    return encodeSummary(this.summarizer.snapshot(Date.now() * 1000, this.catalog ? [this.catalog] : []));
  }

  stop(): void {
    clearInterval(this.timer);
    this.source?.off('events', this.onEvents);
  }

  private tick(): void {
    if (!this.active) return;
    const summary = this.summarizer.take(Date.now() * 1000);
    // Taken even with nobody subscribed, so that the next subscriber's deltas start now.
    if (this.listenerCount('summary') > 0) this.emit('summary', encodeSummary(summary));
  }
}
