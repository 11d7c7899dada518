// The TUI's side of the aggregator: events are applied here, outside React, as they
// arrive; the app samples snapshot() at the frame rate.
import type { StickyEvent } from '../core/event.js';
import { applyEvents, type AggregatorState } from '../aggregator/state.js';
import { drainNotable } from '../aggregator/queries.js';
import { toNotableLines, toViewModel } from './from-aggregator.js';
import type { FrameSource, NotableKind, NotableLine, ViewModel } from './view-model.js';

/** The event rate is re-measured at most this often, so it reads steadily. */
const RATE_PERIOD_MS = 1000;

export class AggregatorFrameSource implements FrameSource {
  /** Header text saying where the events come from; the feeder may update it (e.g. replay progress). */
  label: string;
  private applied = 0;
  private rateFrom = { at: performance.now(), applied: 0 };
  private rate = 0;
  private lineId = 0;
  private notes: NotableLine[] = [];
  /** The latest event time, and when (performance.now()) it last moved: where a running clock starts from. */
  private latest = { ts: Number.NaN, at: 0 };

  /**
   * `runningClock`: the events come live, so the time shown runs on from the latest event by the wall-clock time since
   * it came (a replay's clock is its events').
   */
  constructor(
    public state: AggregatorState,
    label: string,
    private readonly opts: { runningClock?: boolean } = {},
  ) {
    this.label = label;
  }

  push(events: readonly StickyEvent[]): void {
    applyEvents(this.state, events);
    this.applied += events.length;
    if (this.state.lastTs !== this.latest.ts) this.latest = { ts: this.state.lastTs, at: performance.now() };
  }

  /** Starts over from `state` (a replay stepping back refills a fresh one); what the old one had not drained is dropped. */
  reset(state: AggregatorState): void {
    this.state = state;
    this.latest = { ts: Number.NaN, at: 0 };
  }

  /** Applies `events` without their event-log lines: a replay stepping back re-reads what it has already printed. */
  pushQuietly(events: readonly StickyEvent[]): void {
    this.push(events);
    drainNotable(this.state);
  }

  snapshot(focus: string | null): ViewModel {
    const now = performance.now();
    if (now - this.rateFrom.at >= RATE_PERIOD_MS) {
      this.rate = ((this.applied - this.rateFrom.applied) * 1000) / (now - this.rateFrom.at);
      this.rateFrom = { at: now, applied: this.applied };
    }
    const running = this.opts.runningClock && !Number.isNaN(this.latest.ts);
    return toViewModel(this.state, {
      focus,
      source: this.label,
      eventsPerSecond: this.rate,
      ...(running ? { now: this.latest.ts + (now - this.latest.at) * 1000 } : {}),
    });
  }

  /** A line for the event log from outside the aggregator (e.g. about the input). */
  note(kind: NotableKind, text: string): void {
    this.notes.push({ id: String(++this.lineId), ts: Date.now() * 1000, kind, text });
  }

  drainNotable(): NotableLine[] {
    const names = new Map(this.state.services.list.map((s) => [s.key, s.latest?.info.name ?? null]));
    const lines = toNotableLines(drainNotable(this.state), { names, nextId: () => String(++this.lineId) });
    if (this.notes.length === 0) return lines;
    const notes = this.notes;
    this.notes = [];
    return notes.concat(lines);
  }
}
