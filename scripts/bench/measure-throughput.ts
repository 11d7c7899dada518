// Events per second through applyEvents on one core, for events decoded from JSONL
// text (as `export --format jsonl` writes them); the decoding itself is not timed.
import type { StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { syntheticCatalogs, syntheticSelections, type SyntheticShape } from './synthetic-events.js';

export interface ThroughputMeasurement {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  pairs: number;
}

/** 50k clients over 20 services of 5 backends on 3 nodes, one selection every 50 us (the window slides). */
export const DEFAULT_SHAPE: SyntheticShape = {
  clients: 50_000,
  services: 20,
  backendsPerService: 5,
  nodes: 3,
  spacingUs: 50,
  stickyShare: 0.8,
};

export function measureThroughput(events: number, shape: SyntheticShape = DEFAULT_SHAPE): ThroughputMeasurement {
  const batches: StickyEvent[][] = [];
  const size = 8192;
  for (let from = 0; from < events; from += size) {
    const text = syntheticSelections(shape, from, Math.min(size, events - from))
      .map((e) => JSON.stringify(e))
      .join('\n');
    batches.push(text.split('\n').map((line) => JSON.parse(line) as StickyEvent));
  }
  const state = createState();
  applyEvents(state, syntheticCatalogs(shape));
  const t0 = process.hrtime.bigint();
  for (const b of batches) applyEvents(state, b);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { events, seconds, eventsPerSecond: events / seconds, pairs: state.pairs.size };
}
