// Bytes per active (node, service, client) pair: both as accounted (the typed arrays
// behind the pair state) and as measured (heap plus array buffers after a forced GC).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { syntheticCatalogs, syntheticSelections, type SyntheticShape } from './synthetic-events.js';

export interface MemoryMeasurement {
  pairs: number;
  /** Pair table plus per-backend counts, from the typed arrays' sizes. */
  accountedBytesPerPair: number;
  /** Heap and array-buffer growth after GC, minus the window's selections. */
  measuredBytesPerPair: number;
  /** The window's selections (27 bytes each), which scale with traffic, not pairs. */
  windowBytes: number;
}

function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap plus array buffers after collecting until the figure settles (one pass can leave garbage). */
function used(gc: () => void): number {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    const m = process.memoryUsage();
    const now = m.heapUsed + m.arrayBuffers;
    if (Math.abs(last - now) < 64 * 1024) return now;
    last = now;
  }
  return last;
}

/** Builds `pairs` pairs (two selections each, one node, 16 services) and measures the state. */
export function measurePairMemory(pairs: number): MemoryMeasurement {
  const gc = collector();
  const shape: SyntheticShape = {
    clients: pairs,
    services: 16,
    backendsPerService: 4,
    nodes: 1,
    spacingUs: 1,
    stickyShare: 0.9,
  };
  const before = used(gc);
  const state = createState({ maxPairs: pairs });
  applyEvents(state, syntheticCatalogs(shape));
  const batch = 65536;
  for (let from = 0; from < 2 * pairs; from += batch) {
    applyEvents(state, syntheticSelections(shape, from, Math.min(batch, 2 * pairs - from)));
  }
  const delta = used(gc) - before;
  if (state.pairs.size !== pairs)
    throw new Error(`failed to measure memory: built ${state.pairs.size} pairs, expected ${pairs}`);
  const windowBytes = state.ring.bytes();
  return {
    pairs,
    accountedBytesPerPair: (state.pairs.bytes() + state.counts.bytes()) / pairs,
    measuredBytesPerPair: (delta - windowBytes) / pairs,
    windowBytes,
  };
}
