// serve's store of the agents' summaries: a node's first summary is its baseline, a repeated
// or late one adds nothing, a restarted agent (counts that shrank) counts anew; hostile
// summaries (bad keys, counts, sketches) are refused where they enter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFields, type NodeSummary } from '../../src/core/summary.js';
import { summaryProblem } from '../../src/protocol/summary-validate.js';
import { SummaryStore } from '../../src/serve/summary-store.js';
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
  const s = new SummaryStore(60);
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
