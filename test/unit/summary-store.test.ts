// serve's store of the agents' summaries: a node's first summary is its baseline, a repeated
// or late one adds nothing, a restarted agent (counts that shrank) counts anew; hostile
// summaries (bad keys, counts, sketches) are refused where they enter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFields, type NodeSummary } from '../../src/core/summary.js';
import { decodeSummary, encodeSummary, summaryProblem } from '../../src/protocol/summary-wire.js';
import { DEFAULT_SUMMARY_LIMITS, SummaryStore } from '../../src/summary/consumer.js';
import { ServeHub } from '../../src/serve/hub.js';
import { AgentBook } from '../../src/serve/agent-book.js';
import { createServeMetrics } from '../../src/serve/metrics.js';
import { Hll } from '../../src/aggregator/hll.js';

function summary(node: string, a: number, b: number, pairs = 0): NodeSummary {
  const svc = {
    service: '10.96.0.10:80/tcp',
    backends: [
      { backend: '10.1.0.2:8080', selections: a },
      { backend: '10.1.1.2:8080', selections: b },
    ],
    clientsHll: new Uint8Array(0),
  } as NodeSummary['services'][number];
  for (const f of countFields) svc[f] = 0;
  svc.pairs = pairs;
  return { node, start: 0, end: 0, services: [svc], violations: [], events: [] };
}

const backends = (s: SummaryStore) => Object.fromEntries(s.totals.get('10.96.0.10:80/tcp')?.backends ?? []);

test('baseline, repeats, several nodes and a restart', () => {
  const s = new SummaryStore([60, 3]);
  s.add(summary('n1', 100, 50), 1000);
  assert.deepEqual(backends(s), {}, 'the first summary is the baseline');
  s.add(summary('n1', 110, 50, 3), 3000);
  s.add(summary('n1', 110, 50, 3), 5000);
  assert.deepEqual(backends(s), { '10.1.0.2:8080': 10 }, 'a repeated summary adds nothing');
  s.add(summary('n2', 7, 7), 5000);
  s.add(summary('n2', 9, 8), 7000);
  assert.deepEqual(backends(s), { '10.1.0.2:8080': 12, '10.1.1.2:8080': 1 });
  // n1 restarted: its counts start again from 0; what it counted since is new.
  s.add(summary('n1', 4, 1), 9000);
  assert.deepEqual(backends(s), { '10.1.0.2:8080': 16, '10.1.1.2:8080': 2 });
  assert.equal(s.totals.get('10.96.0.10:80/tcp')!.counts.pairs, 3);
  // Windows: the last 3 s hold only what came at 7 s and 9 s.
  const w = s.window('10.96.0.10:80/tcp', 3, 9500);
  assert.deepEqual(Object.fromEntries(w.backends), { '10.1.0.2:8080': 6, '10.1.1.2:8080': 2 });
});

test('hostile summaries are refused whole, saying why', () => {
  assert.equal(summaryProblem(summary('n1', 1, 1)), null);
  const badKey = summary('n1', 1, 1);
  badKey.services[0]!.service = 'not-an-address';
  assert.equal(summaryProblem(badKey)?.reason, 'badAddress');
  const badBackend = summary('n1', 1, 1);
  badBackend.services[0]!.backends[0]!.backend = '10.1.0.2:99999';
  assert.equal(summaryProblem(badBackend)?.reason, 'badAddress');
  const huge = summary('n1', 2 ** 60, 1);
  assert.equal(summaryProblem(huge)?.reason, 'badCount');
  const sketch = summary('n1', 1, 1);
  sketch.services[0]!.clientsHll = new Uint8Array(4);
  assert.match(summaryProblem(sketch)?.detail ?? '', /multiple of 3/);
  assert.match(summaryProblem(summary('', 1, 1))?.detail ?? '', /node is empty/);
  // A sketch register no hash can make (rank 200) is ignored, not an estimate of 2^200.
  const h = new Hll();
  h.mergeEntries(new Uint8Array([0, 1, 200]));
  assert.equal(h.estimate(), 0);
});

test('an agent inventing Services, backends or nodes is bounded, and what is left out is counted', () => {
  const s = new SummaryStore([60], { nodes: 2, services: 3, servicesPerNode: 2, backendsPerService: 2 });
  const many = (node: string, keys: number[], sel = 1): NodeSummary => {
    const one = summary(node, sel, sel);
    one.services = keys.map((k) => ({ ...one.services[0]!, service: `10.96.0.${k}:80/tcp` }));
    return one;
  };
  s.add(many('n1', [1, 2, 3]), 1000);
  assert.equal(s.dropped.services, 1, 'a node keeps counts of 2 Services at most');
  s.add(many('n2', [3, 4]), 1000);
  assert.equal(s.sketches.size, 3, '3 Services in all');
  assert.equal(s.dropped.services, 2);
  s.add(many('n3', [1]), 1000);
  assert.equal(s.nodes, 2);
  assert.equal(s.dropped.nodes, 1);
  // New backends past the limit are left out of the sums; the known ones still count.
  const more = many('n1', [1], 5);
  more.services[0]!.backends.push({ backend: '10.1.2.2:8080', selections: 9 });
  s.add(more, 2000);
  assert.deepEqual(Object.fromEntries(s.totals.get('10.96.0.1:80/tcp')!.backends), {
    '10.1.0.2:8080': 4,
    '10.1.1.2:8080': 4,
  });
  assert.equal(s.dropped.backends, 1);
});

test('the default limits hold nodes with 5,000 Services each (100 of them here, to stay quick)', () => {
  const s = new SummaryStore([60]);
  for (let n = 0; n < 100; n++) {
    const one = summary(`n${n}`, 1, 1);
    one.services = Array.from({ length: 5000 }, (_, k) => ({
      ...one.services[0]!,
      service: `10.96.${k >> 8}.${k & 255}:80/tcp`,
    }));
    s.add(one, 1000);
  }
  assert.deepEqual(s.dropped, { nodes: 0, services: 0, backends: 0, inconsistent: 0 });
});

test("what the store's limits left out is in the report's summaries.dropped and in /metrics", async () => {
  const hub = new ServeHub({ windows: [60], summaries: true });
  const n = (i: number) => summary(`n${i}`, 1, 1);
  for (let i = 0; i < DEFAULT_SUMMARY_LIMITS.nodes + 3; i++) hub.applySummary(n(i));
  assert.deepEqual(hub.report('all').summaries?.dropped, { nodes: 3, services: 0, backends: 0, inconsistent: 0 });
  const text = await createServeMetrics(hub, new AgentBook(), 100).scrape();
  assert.match(text, /^stickyscope_summary_dropped_total\{kind="nodes"\} 3$/m);
  assert.match(text, /^stickyscope_evictions_total\{kind="services"\} 0$/m);
});

test('a long window is answered from 60 buckets: exact to a bucket, whatever its length (issue 31 item 1)', () => {
  const s = new SummaryStore([3600, 300]);
  // One node, 2 s summaries for 2 h, +1 selection on one backend each time (the first is the baseline).
  const at = (n: number) => 1_000_000 + n * 2000;
  for (let n = 0; n <= 3600; n++) s.add(summary('n1', n, 0), at(n));
  const now = at(3600);
  const hour = s.window('10.96.0.10:80/tcp', 3600, now).backends.get('10.1.0.2:8080')!;
  const five = s.window('10.96.0.10:80/tcp', 300, now).backends.get('10.1.0.2:8080')!;
  // 1800 summaries in the last hour, give or take one 60 s bucket (30 summaries); 150 in 5 minutes, give or take 5 s.
  assert.ok(hour >= 1800 - 30 && hour <= 1800 + 30, `1h window: ${hour}`);
  assert.ok(five >= 150 - 3 && five <= 150 + 3, `5m window: ${five}`);
  assert.throws(() => s.window('10.96.0.10:80/tcp', 60, now), /keeps 3600, 300 s/);
});

test('the store holds 300 Services x 1 h in a bounded heap: 20 minutes of 2 s summaries add < 20 MB', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const s = new SummaryStore([3600]);
  const keys = Array.from({ length: 300 }, (_, k) => `10.96.${k >> 8}.${k & 255}:80/tcp`);
  const feed = (from: number, to: number) => {
    for (let n = from; n < to; n++) {
      const one = summary('n1', n, 2 * n);
      one.services = keys.map((service) => ({ ...one.services[0]!, service }));
      s.add(one, 1_000_000 + n * 2000);
    }
  };
  feed(0, 30); // a minute: every Service has its buckets
  gc();
  const before = process.memoryUsage().heapUsed;
  feed(30, 600);
  gc();
  const grown = (process.memoryUsage().heapUsed - before) / 1e6;
  // One slot per Service per second (before) grew ~68 MB here.
  assert.ok(grown < 20, `heap grew ${grown.toFixed(1)} MB`);
});

test('an agent restart is told by its epoch, even when no count shrank (issue 31 item 13: 150 reported, 350 right)', () => {
  const s = new SummaryStore([60]);
  const at = (epoch: number, a: number) => ({ ...summary('n1', a, 0), epoch });
  s.add(at(1, 100), 1000); // baseline
  s.add(at(1, 250), 3000); // +150
  // Restarted, and counted past its old figures before its next summary: no count shrank, only the epoch tells.
  s.add(at(2, 300), 5000); // +300 since the restart, not +50
  assert.equal(backends(s)['10.1.0.2:8080'], 450);
  // The same epoch again (a reconnect, not a restart): only the growth.
  s.add(at(2, 310), 7000);
  assert.equal(backends(s)['10.1.0.2:8080'], 460);
  // Through the wire: the epoch is carried, and 0 (an older agent) reads as none.
  assert.equal(decodeSummary(encodeSummary(at(7, 1))).epoch, 7);
  assert.equal(decodeSummary(encodeSummary(summary('n1', 1, 0))).epoch, undefined);
});

test('counts that shrink within one epoch are refused; totals stay exact integers (1e15/0 alternating)', () => {
  const s = new SummaryStore([60]);
  const at = (a: number) => ({ ...summary('n1', a, 0), epoch: 5 });
  s.add(at(0), 1000);
  for (let i = 1; i <= 40; i++) s.add(at(i % 2 ? 1e15 : 0), 1000 + i * 2000);
  const total = backends(s)['10.1.0.2:8080']!;
  assert.ok(Number.isSafeInteger(total), `total ${total} is exact`);
  assert.equal(total, 1e15, 'the first growth counted, every later shrink refused');
  assert.equal(s.dropped.inconsistent, 20);
  // Without an epoch (an older agent), growth that would pass 2^53 is refused, not rounded.
  const old = new SummaryStore([60]);
  old.add(summary('n2', 0, 0), 1000);
  for (let i = 1; i <= 40; i++) old.add(summary('n2', i % 2 ? 1e15 : 0, 0), 1000 + i * 2000);
  const oldTotal = Object.fromEntries(old.totals.get('10.96.0.10:80/tcp')!.backends)['10.1.0.2:8080']!;
  assert.ok(Number.isSafeInteger(oldTotal) && oldTotal <= Number.MAX_SAFE_INTEGER, `older agent's total ${oldTotal}`);
  assert.ok(old.dropped.inconsistent > 0, 'the growth past 2^53 was refused');
});
