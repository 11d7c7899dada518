// The agent's own reducer over its node's enriched stream (src/aggregator/summarize.ts):
// read whole by /metrics, and taken apart every period into one encoded summary that
// every SubscribeSummaries subscriber gets (encoded once, whatever their number).
import { EventEmitter } from 'node:events';
import type { CatalogEvent, StickyEvent } from '../core/event.js';
import { Summarizer } from '../aggregator/summarize.js';
import { encodeSummary } from '../protocol/summary-wire.js';
import type { EventSource, SummarySource } from './server.js';

const DEFAULT_SUMMARY_PERIOD_MS = 2000;

export class SummaryFeed extends EventEmitter implements SummarySource {
  readonly summarizer: Summarizer;
  private catalog: CatalogEvent | null = null;
  private readonly timer: NodeJS.Timeout;
  /**
   * Whether the reducer runs: it costs about 1.5 CPU-us per selection, on the agent's one thread, so it starts only
   * when something reads it (--metrics, or the first summary subscriber); until then only the catalog is kept.
   */
  private active = false;
  private readonly onEvents = (events: StickyEvent[]) => {
    if (this.active) this.summarizer.apply(events);
    for (const e of events) if (e.type === 'catalog') this.catalog = e;
  };

  constructor(
    node: string,
    private readonly source: EventSource,
    periodMs = DEFAULT_SUMMARY_PERIOD_MS,
  ) {
    super();
    this.summarizer = new Summarizer(node);
    source.on('events', this.onEvents);
    this.timer = setInterval(() => this.tick(), periodMs);
    this.timer.unref();
  }

  /** Starts the reducer (once), from the latest catalog: counts are since then. */
  start(): void {
    if (this.active) return;
    this.active = true;
    if (this.catalog) this.summarizer.apply([this.catalog]);
  }

  snapshot(): Uint8Array {
    this.start();
    return encodeSummary(this.summarizer.snapshot(Date.now() * 1000, this.catalog ? [this.catalog] : []));
  }

  stop(): void {
    clearInterval(this.timer);
    this.source.off('events', this.onEvents);
  }

  private tick(): void {
    if (!this.active) return;
    const summary = this.summarizer.take(Date.now() * 1000);
    // Taken even with nobody subscribed, so that the next subscriber's deltas start now.
    if (this.listenerCount('summary') > 0) this.emit('summary', encodeSummary(summary));
  }
}
