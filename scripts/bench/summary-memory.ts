// `node --expose-gc dist/scripts/bench/summary-memory.js [SERVICES] [MINUTES]`: serve --summaries' store fed one node's
// summaries of SERVICES (10,000) Services, three backends each, every one of them growing in every 2 s summary, for
// MINUTES (70) of summary time, with serve's windows 1h and 5m; prints the heap after a full GC every 10 minutes.
// Issue 31: one slot per Service per second of the longest window reached 2.24 GB RSS in 5 minutes at this size; the
// Deployment's limit is 1 GiB.
import { countFields, type NodeSummary } from '../../src/core/summary.js';
import { SummaryStore } from '../../src/summary/consumer.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('summary-memory: run with node --expose-gc\n');
  process.exit(2);
}
const services = Number(process.argv[2] ?? 10_000);
const minutes = Number(process.argv[3] ?? 70);
if (!(Number.isInteger(services) && services > 0 && services <= 100_000 && minutes > 0 && minutes <= 600)) {
  process.stderr.write('summary-memory: SERVICES in 1..100000 and MINUTES in (0, 600]\n');
  process.exit(2);
}
const store = new SummaryStore([3600, 300]);
const keys = Array.from({ length: services }, (_, i) => `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:80/tcp`);
const backends = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];
const sketch = new Uint8Array(0);
const mib = (b: number) => (b / 1048576).toFixed(0);
const t0 = Date.UTC(2026, 11, 7, 12);
const started = process.hrtime.bigint();
for (let n = 0; n <= (minutes * 60) / 2; n++) {
  const summary: NodeSummary = {
    node: 'node-a',
    start: (t0 + (n - 1) * 2000) * 1000,
    end: (t0 + n * 2000) * 1000,
    services: keys.map((service) => {
      const counts = Object.fromEntries(countFields.map((f) => [f, 0])) as Record<(typeof countFields)[number], number>;
      return {
        ...counts,
        service,
        backends: backends.map((backend, j) => ({ backend, selections: n * (j + 1) })),
        clientsHll: sketch,
      };
    }),
    violations: [],
    events: [],
  };
  store.add(summary, t0 + n * 2000);
  if (n > 0 && (n * 2) % 600 === 0) {
    gc();
    const m = process.memoryUsage();
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(
      `${(n * 2) / 60} min  heap ${mib(m.heapUsed)} MiB  rss ${mib(m.rss)} MiB  (${s.toFixed(0)} s of CPU time so far)\n`,
    );
  }
}
const w = store.window(keys[0]!, 3600, t0 + minutes * 60 * 1000);
process.stdout.write(`1h window of one Service: ${[...w.backends.values()].join(' / ')} selections\n`);
