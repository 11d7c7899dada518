// Prints the aggregator's throughput and memory per pair: `node dist/scripts/measure-aggregator.js [events]`.
import { measurePairMemory } from './bench/measure-memory.js';
import { measureThroughput } from './bench/measure-throughput.js';

const events = Number(process.argv[2] ?? 1_000_000);
const t = measureThroughput(events);
console.log(
  `throughput: ${t.events} events in ${t.seconds.toFixed(3)} s = ${Math.round(t.eventsPerSecond).toLocaleString('en')} events/s (${t.pairs} pairs)`,
);
for (const pairs of [10_000, 100_000, 1_000_000]) {
  const m = measurePairMemory(pairs);
  console.log(
    `memory: ${pairs} pairs: ${m.accountedBytesPerPair.toFixed(1)} B/pair accounted, ${m.measuredBytesPerPair.toFixed(1)} B/pair measured (+ window ${(m.windowBytes / 1e6).toFixed(1)} MB)`,
  );
}
