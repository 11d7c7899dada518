// The agent's own reducer read as summable counts: per node totals, summed over nodes,
// equal what the test itself counted of the picks it made; the distinct-client sketch
// estimates within its error and merges over nodes; /metrics shows the summable series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Summarizer } from '../../src/summary/producer.js';
import { Hll } from '../../src/aggregator/hll.js';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { createAgentMetrics } from '../../src/agent/metrics.js';
import { getServer } from '../../src/agent/server.js';
import { FakeSource } from '../helpers/agent-fake-source.js';
import { SummaryFeed } from '../../src/summary/producer.js';
import { decodeSummary } from '../../src/protocol/summary-wire.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = 1_795_435_865_000_000;
const SVC = '10.96.0.10:80';
const BACKENDS = ['10.1.0.2:8080', '10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];

function catalog(node: string, affinity: boolean): CatalogEvent {
  return {
    type: 'catalog',
    ts: T0,
    node,
    services: [
      {
        service: `${SVC}/tcp`,
        name: 'lab/web:http',
        affinity: affinity
          ? { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' }
          : { mode: 'None', timeoutSeconds: null, source: 'rules' },
        endpoints: BACKENDS,
        pods: {},
      },
    ],
  };
}

/** Picks made up by a seeded generator, and what the test counts of them by itself. */
function traffic(nodes: string[], picks: number) {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const byNode = new Map<string, StickyEvent[]>(nodes.map((n) => [n, [catalog(n, false)]]));
  const perBackend = new Map<string, number>();
  const last = new Map<string, string>();
  let pairs = 0;
  let kept = 0;
  for (let i = 0; i < picks; i++) {
    const node = nodes[rnd(nodes.length)]!;
    const client = `10.0.${rnd(4)}.${rnd(200)}`;
    // Backend 0 gets twice its share: the spread is skewed on purpose.
    const k = rnd(BACKENDS.length + 1);
    const backend = BACKENDS[k === BACKENDS.length ? 0 : k]!;
    const e: DnatEvent = {
      type: 'dnat',
      ts: T0 + 1000 + i * 100,
      node,
      proto: 'tcp',
      client: `${client}:${30000 + i}`,
      service: SVC,
      backend,
      hook: 'prerouting',
      ctId: i.toString(16),
    };
    byNode.get(node)!.push(e);
    perBackend.set(backend, (perBackend.get(backend) ?? 0) + 1);
    const key = `${node} ${client}`;
    const prev = last.get(key);
    if (prev !== undefined) {
      pairs++;
      if (prev === backend) kept++;
    }
    last.set(key, backend);
  }
  const clients = new Set([...last.keys()].map((k) => k.split(' ')[1]));
  return { byNode, perBackend, pairs, kept, clients: clients.size };
}

test('per-node counts sum over nodes to the picks the test made', () => {
  const nodes = ['n1', 'n2', 'n3'];
  const t = traffic(nodes, 20_000);
  const sums = new Map<string, number>();
  let pairs = 0;
  let kept = 0;
  const merged = new Hll();
  for (const node of nodes) {
    const s = new Summarizer(node);
    // In uneven batches, as a stream comes.
    const ev = t.byNode.get(node)!;
    for (let i = 0; i < ev.length; i += 777) s.apply(ev.slice(i, i + 777));
    const [svc] = s.totals();
    assert.ok(svc, `node ${node} has the service`);
    assert.equal(svc.service, `${SVC}/tcp`);
    assert.deepEqual(
      svc.backends.map((b) => b.backend),
      BACKENDS,
      'every listed endpoint is there (zeros included), in address order',
    );
    for (const b of svc.backends) sums.set(b.backend, (sums.get(b.backend) ?? 0) + b.selections);
    pairs += svc.pairs;
    kept += svc.sameBackend;
    // The summary's sketch entries, merged as serve merges them.
    for (const e of s.take(T0 + 10e6).services) merged.mergeEntries(e.clientsHll);
  }
  assert.deepEqual(Object.fromEntries(sums), Object.fromEntries(t.perBackend));
  assert.equal(pairs, t.pairs);
  assert.equal(kept, t.kept);
  const est = merged.estimate();
  assert.ok(Math.abs(est - t.clients) / t.clients < 0.1, `estimate ${est} of ${t.clients} distinct clients`);
});

test('summaries carry cumulative counts of the Services that moved, and the violations whole', () => {
  const s = new Summarizer('n1');
  const pick = (i: number, backend: string): DnatEvent =>
    dnatEvent({ ts: T0 + 1000 + i * 1000, client: '10.0.0.9:4000', service: SVC, backend, ctId: String(i) });
  s.apply([catalog('n1', true), pick(1, BACKENDS[0]!), pick(2, BACKENDS[0]!)]);
  const first = s.take(T0 + 1e6);
  assert.equal(first.services.length, 1);
  assert.equal(first.services[0]!.held, 1);
  assert.equal(first.events[0]?.type, 'catalog', 'the catalog goes whole');
  assert.equal(s.take(T0 + 2e6).services.length, 0, 'nothing moved: no Service sent');
  s.apply([pick(3, BACKENDS[1]!)]);
  const third = s.take(T0 + 3e6);
  assert.equal(third.services[0]!.violations, 1, 'cumulative: the violation');
  assert.equal(third.services[0]!.held, 1, 'cumulative: the earlier hold still counted');
  assert.equal(third.violations.length, 1);
  assert.equal(third.violations[0]!.from, BACKENDS[0]);
  assert.equal(third.violations[0]!.to, BACKENDS[1]);
});

test('the sketch estimates within its error, and merging is the union', () => {
  const a = new Hll();
  const b = new Hll();
  for (let i = 0; i < 50_000; i++) a.addClient(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:1234`);
  for (let i = 25_000; i < 75_000; i++) b.addClient(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  assert.ok(Math.abs(a.estimate() - 50_000) / 50_000 < 0.1, `a: ${a.estimate()}`);
  a.mergeEntries(b.allEntries());
  assert.ok(Math.abs(a.estimate() - 75_000) / 75_000 < 0.1, `union: ${a.estimate()}`);
  const small = new Hll();
  for (let i = 0; i < 30; i++) small.addClient(`192.168.0.${i}:80`);
  small.addClient('192.168.0.1:81');
  assert.ok(Math.abs(small.estimate() - 30) <= 2, `small: ${small.estimate()}`);
  small.mergeEntries(new Uint8Array([0xff, 0xff, 9, 1]));
  assert.ok(small.estimate() < 40, 'out-of-range indices and partial entries are ignored');
});

test("agent /metrics: the node's summable series, capped per Service, never per client", async () => {
  const source = new FakeSource();
  const s = new Summarizer('n1');
  source.on('events', (e: StickyEvent[]) => s.apply(e));
  const server = getServer(source, { node: 'n1' });
  const t = traffic(['n1'], 2000);
  const other: CatalogEvent = {
    ...catalog('n1', false),
    services: [{ ...catalog('n1', false).services[0]!, service: '10.96.0.11:53/udp', name: 'lab/dns:dns' }],
  };
  source.emitEvents([other, ...t.byNode.get('n1')!]);
  const m = createAgentMetrics({ node: 'n1', probe: source, server, attachPoints: [], summarizer: s, maxServices: 1 });
  try {
    const text = await m.registry.metrics();
    for (const [backend, n] of t.perBackend)
      assert.match(
        text,
        new RegExp(
          `stickyscope_node_backend_selections_total\\{service="lab/web:http",address="10.96.0.10:80/tcp",backend="${backend}",node="n1"\\} ${n}\\n`,
        ),
      );
    assert.match(
      text,
      new RegExp(
        `stickyscope_node_consecutive_selections_total\\{service="lab/web:http",address="10.96.0.10:80/tcp",node="n1"\\} ${t.pairs}\\n`,
      ),
    );
    assert.match(
      text,
      new RegExp(
        `stickyscope_node_consecutive_selections_kept_backend_total\\{service="lab/web:http",address="10.96.0.10:80/tcp",node="n1"\\} ${t.kept}\\n`,
      ),
    );
    assert.match(
      text,
      /stickyscope_node_metrics_services_omitted\{node="n1"\} 1\n/,
      'the capped-out Service is counted',
    );
    assert.doesNotMatch(text, /lab\/dns/, 'the Service without selections is the one left out');
    assert.doesNotMatch(text, /client=/);
  } finally {
    m.detach();
    await server.close();
  }
});

test('the reducer runs only once read: picks before the first summary subscriber are not counted, the catalog is', () => {
  const source = new FakeSource();
  const feed = new SummaryFeed('n1', source, 60_000);
  try {
    const { byNode } = traffic(['n1'], 400);
    const [cat, ...picks] = byNode.get('n1')!;
    source.emitEvents([cat!, ...picks.slice(0, 100)]);
    const first = decodeSummary(Buffer.from(feed.snapshot()));
    const counted = (s: typeof first) =>
      s.services.flatMap((x) => x.backends).reduce((sum, b) => sum + b.selections, 0);
    assert.equal(counted(first), 0, 'nothing reduced before anyone read it');
    source.emitEvents(picks.slice(100));
    const after = decodeSummary(Buffer.from(feed.snapshot()));
    assert.equal(counted(after), 300, 'every pick after the first subscriber');
    assert.deepEqual(
      after.services.map((s) => s.service),
      [`${SVC}/tcp`],
      'named by the catalog that came before the start',
    );
    assert.deepEqual(after.services[0]!.backends.map((b) => b.backend).sort(), [...BACKENDS].sort());
  } finally {
    feed.stop();
  }
});
