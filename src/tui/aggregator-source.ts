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

  constructor(
    readonly state: AggregatorState,
    label: string,
  ) {
    this.label = label;
  }

  push(events: readonly StickyEvent[]): void {
    applyEvents(this.state, events);
    this.applied += events.length;
  }

  snapshot(focus: string | null): ViewModel {
    const now = performance.now();
    if (now - this.rateFrom.at >= RATE_PERIOD_MS) {
      this.rate = ((this.applied - this.rateFrom.applied) * 1000) / (now - this.rateFrom.at);
      this.rateFrom = { at: now, applied: this.applied };
    }
    return toViewModel(this.state, { focus, source: this.label, eventsPerSecond: this.rate });
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
