// The long-running aggregator behind `serve`: one reducer state per window it offers
// (a state's window is fixed at creation), all fed the same merged events.
import type { StickyEvent } from '../core/event.js';
import { applyEvents, createState, type AggregatorState } from '../aggregator/state.js';
import { RejectedEvents } from '../protocol/validate.js';
import { buildReport } from '../report/build-report.js';
import { renderReport, type ReportFormat } from '../report/from-file.js';
import { SelectionTimeline } from '../report/html-timeline.js';
import type { Report } from '../report/types.js';
import { Summarizer } from '../summary/producer.js';
import type { NodeSummary } from '../core/summary.js';
import { SummaryStore } from '../summary/consumer.js';
import { summaryReport } from '../summary/report.js';

export interface HubOptions {
  /** Window lengths offered, in seconds; the first is the default one (and the metrics' gauges). */
  windows: number[];
  maxPairs?: number;
  /**
   * Figures from the agents' summaries (serve --summaries): the states then get only the
   * events summaries carry (catalogs, losses, node states), never flows; agents that
   * stream raw (older ones) are summarised here, one reducer per node.
   */
  summaries?: boolean;
  /** What a copy of this hub takes (report-worker.ts): each batch its states take and each summary its store takes. */
  mirror?: HubMirror;
  /** Keep the first window's state only: the others serve reports, built by a mirror. */
  primaryOnly?: boolean;
  /** When the hub it mirrors began listening (microseconds). */
  startedAt?: number;
  /** The subscription's tally of refused events, when made before the hub. */
  rejected?: RejectedEvents;
}

export interface HubMirror {
  events(batch: readonly StickyEvent[]): void;
  summary(summary: NodeSummary): void;
}

/**
 * Flows, evictions and live connections: what the node reducers of raw agents take, and the states of summary mode
 * never (their summaries carry the live figures).
 */
const PER_CLIENT = new Set<StickyEvent['type']>([
  'dnat',
  'snat',
  'insert',
  'evicted',
  'open',
  'close',
  'traffic',
  'sweep',
]);

/** `all`: everything since serve started (the report's cumulative scope). */
export type WindowChoice = number | 'all';

export class ServeHub {
  readonly windows: number[];
  /** The default window's state; its cumulative tallies are the metrics' counters. */
  readonly primary: AggregatorState;
  readonly timeline = new SelectionTimeline();
  /** Events the subscription dropped as implausible (protocol/validate.ts), shared with subscribeAgents. */
  readonly rejected: RejectedEvents;
  /** Events applied. */
  events = 0;
  /** Events that came from agents (not the up/down events the subscription makes itself). */
  received = 0;
  /** `lost` counts seen in each node's stream (ring buffer and subscriber losses alike). */
  readonly lostByNode = new Map<string, number>();
  private readonly states = new Map<number, AggregatorState>();
  /** Summary mode: the summaries' counts. */
  readonly summaries: SummaryStore | undefined;
  /** When this aggregator began listening (microseconds): the start of what its reports record. */
  readonly startedAt: number;
  /** Summary mode: a reducer per node whose agent streams raw events. */
  private readonly rawNodes = new Map<string, Summarizer>();
  private readonly mirror: HubMirror | undefined;
  /** False where reports are built by a mirror: the HTML report's timeline is kept there. */
  private readonly keepTimeline: boolean;

  constructor(opts: HubOptions) {
    this.windows = [...new Set(opts.windows)];
    if (this.windows.length === 0) throw new RangeError('failed to start the aggregator: no window given');
    for (const w of opts.primaryOnly ? this.windows.slice(0, 1) : this.windows)
      this.states.set(w, createState({ windowSeconds: w, maxPairs: opts.maxPairs }));
    this.primary = this.states.get(this.windows[0]!)!;
    // Where a mirror builds the reports, the first window's buckets are all the metrics need.
    if (opts.summaries) this.summaries = new SummaryStore(opts.primaryOnly ? this.windows.slice(0, 1) : this.windows);
    this.mirror = opts.mirror;
    this.keepTimeline = !opts.primaryOnly;
    this.startedAt = opts.startedAt ?? Date.now() * 1000;
    this.rejected = opts.rejected ?? new RejectedEvents();
  }

  /** Summary mode: one agent's summary. */
  applySummary(summary: NodeSummary): void {
    this.addSummary(summary);
    this.received++;
  }

  /** The mirror takes it first: what the store does to it must not show in the copy. */
  private addSummary(summary: NodeSummary): void {
    if (!this.summaries) return;
    this.mirror?.summary(summary);
    this.summaries.add(summary);
  }

  /** Summary mode: the agent of `node` streams raw events; they are summarised here from now on. */
  summariseRaw(node: string): void {
    if (this.rawNodes.has(node)) return;
    const summarizer = new Summarizer(node);
    this.rawNodes.set(node, summarizer);
    // Its baseline is empty: everything it streams from now on counts.
    this.addSummary(summarizer.take(Date.now() * 1000));
  }

  /** Summary mode: takes a summary of each raw-streaming node (called every summary period). */
  takeRawSummaries(): void {
    const now = Date.now() * 1000;
    for (const s of this.rawNodes.values()) this.addSummary(s.take(now));
  }

  apply(batch: readonly StickyEvent[]): void {
    // Counted before routing: the flows of an agent summarised here are received too (else a
    // summaries serve whose agents all stream raw said "no events received yet" for good).
    for (const e of batch) if (e.type !== 'node') this.received++;
    if (this.summaries) batch = this.routeRaw(batch);
    this.mirror?.events(batch);
    for (const s of this.states.values()) applyEvents(s, batch);
    if (this.keepTimeline) this.timeline.add(batch);
    this.events += batch.length;
    for (const e of batch) {
      if (e.type === 'lost') this.lostByNode.set(e.node, (this.lostByNode.get(e.node) ?? 0) + e.count);
      // A node not heard from has no connections known open (its next summary says them again).
      else if (e.type === 'node' && e.state === 'down') this.summaries?.nodeDown(e.node);
    }
  }

  /** Hands raw nodes' events to their reducers; returns what the states take (no flows). */
  private routeRaw(batch: readonly StickyEvent[]): StickyEvent[] {
    const out: StickyEvent[] = [];
    for (const e of batch) {
      this.rawNodes.get(e.node)?.apply([e]);
      if (!PER_CLIENT.has(e.type)) out.push(e);
    }
    return out;
  }

  /** Whether no agent sent anything yet (a report would describe no time, or only agents failing to connect). */
  get empty(): boolean {
    return this.received === 0;
  }

  has(window: WindowChoice): boolean {
    return window === 'all' || this.windows.includes(window);
  }

  report(window: WindowChoice, nowMs = Date.now()): Report {
    const recording = { start: this.startedAt, end: nowMs * 1000 };
    if (this.summaries) return summaryReport(this.summaries, this.primary, window, this.rejected, recording, nowMs);
    if (window === 'all') return buildReport(this.primary, { scope: 'cumulative', rejected: this.rejected, recording });
    const state = this.states.get(window);
    if (!state) throw new RangeError(`failed to build a report: no ${window} s window is kept`);
    return buildReport(state, { scope: 'window', rejected: this.rejected, recording });
  }

  /** `command`: the command line that asked for it, stated at the report's top. */
  render(report: Report, format: ReportFormat, command?: string): string {
    return renderReport(report, { format, timeline: format === 'html' ? this.timeline : null, command });
  }
}
