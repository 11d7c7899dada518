// The time span a report or screen describes: from the first to the last event its figures
// count (selections and lost records), never the time of a catalog. A node's catalog is
// stamped with its rules' last change, which may lie long before anyone listened, so a
// span that began at the first event of any kind claimed minutes nobody recorded.
import type { AggregatorState } from './state.js';

export interface Span {
  /** Microseconds since the epoch. */
  start: number;
  end: number;
}

/** Everything counted so far; null before the first counted event. */
export function cumulativeSpan(state: AggregatorState): Span | null {
  if (Number.isNaN(state.firstCounted)) return null;
  return { start: state.firstCounted, end: state.lastCounted };
}

/** The counted events inside the sliding window; null when the window counts none. */
export function windowSpan(state: AggregatorState): Span | null {
  if (Number.isNaN(state.lastCounted)) return null;
  const from = state.windowStart();
  let start = state.ring.length > 0 ? state.ring.oldestTs() : Infinity;
  for (const l of state.roster.lostRecent) if (l.ts >= from && l.ts < start) start = l.ts;
  if (state.lastCounted < from) return null;
  // Only live connections' events in the window (kept in no ring): from the window's start, or the first of them.
  if (start === Infinity) start = Math.max(from, state.firstCounted);
  return { start, end: state.lastCounted };
}
