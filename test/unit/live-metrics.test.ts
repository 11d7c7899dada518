// Live connections in /metrics and summaries: stickyscope_backend_live_connections and stickyscope_backend_bytes_total
// on the agent (per node) and on serve (raw and --summaries), against what a two-node script of open, traffic, close
// and sweep events adds up to by hand; the nodes' series sum to serve's; a summary without them (an older agent)
// still reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, ConnEvent, StickyEvent, SweepEvent } from '../../src/core/event.js';
import type { NodeSummary } from '../../src/core/summary.js';
import { createAgentMetrics } from '../../src/agent/metrics.js';
import { LiveBook } from '../../src/agent/live-book.js';
import { getServer } from '../../src/agent/server.js';
import { decodeSummary, encodeSummary } from '../../src/protocol/summary-wire.js';
import { AgentBook } from '../../src/serve/agent-book.js';
import { ServeHub } from '../../src/serve/hub.js';
import { createServeMetrics } from '../../src/serve/metrics.js';
import { Summarizer, SummaryFeed } from '../../src/summary/producer.js';
import { FakeSource } from '../helpers/agent-fake-source.js';

const T0 = 1_795_435_865_000_000;
const SVC = '10.96.0.10:80';
const KEY = `${SVC}/tcp`;
const [A, B, C] = ['10.1.0.2:8080', '10.1.1.2:8080', '10.1.2.2:8080'] as const;
const LABELS = `service="lab/web:http",address="${KEY}"`;

const catalog = (node: string): CatalogEvent => ({
  type: 'catalog',
  ts: T0,
  node,
  services: [
    {
      service: KEY,
      name: 'lab/web:http',
      affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
      endpoints: [A, B, C],
      pods: {},
    },
  ],
});

/** A connection event; `bytes` [orig, reply] are its cumulative counters. */
function conn(
  type: 'open' | 'traffic' | 'close',
  node: string,
  i: number,
  client: string,
  backend: string,
  bytes?: [number, number],
): ConnEvent {
  const counters = bytes && { origPackets: 1, origBytes: bytes[0], replyPackets: 1, replyBytes: bytes[1] };
  const base = { ts: T0 + 1000 * i, node, proto: 'tcp' as const, client, service: SVC, backend, ...counters };
  if (type === 'open') return { type, ...base, seen: 'dump' } as ConnEvent;
  if (type === 'close') return { type, ...base, seen: 'destroy' } as ConnEvent;
  return { type, ...base } as ConnEvent;
}

const sweep = (node: string, i: number, open: number, acct = true): SweepEvent => ({
  type: 'sweep',
  ts: T0 + 1000 * i,
  node,
  initial: i < 10,
  entries: open,
  open,
  acct,
  micros: 10,
});

/**
 * Two nodes: what each opened at attach (its counters a baseline, not counted), then traffic and closes. By hand:
 * n1 ends with c1 on A and c3 on B open, A carried 1000 (c1) + 50 (c2's final) bytes, B 500; n2 with d1 on C and d2
 * on A open, C carried 700.
 */
function script() {
  const n1Start: StickyEvent[] = [
    catalog('n1'),
    conn('open', 'n1', 1, '10.0.0.1:4001', A, [100, 200]),
    conn('open', 'n1', 2, '10.0.0.2:4002', A, [10, 20]),
    conn('open', 'n1', 3, '10.0.0.3:4003', B, [0, 0]),
    sweep('n1', 4, 3),
  ];
  const n1Then: StickyEvent[] = [
    conn('traffic', 'n1', 11, '10.0.0.1:4001', A, [600, 700]),
    conn('traffic', 'n1', 12, '10.0.0.3:4003', B, [200, 300]),
    conn('close', 'n1', 13, '10.0.0.2:4002', A, [50, 30]),
    sweep('n1', 14, 2),
  ];
  const n2Start: StickyEvent[] = [
    catalog('n2'),
    conn('open', 'n2', 1, '10.0.1.1:4001', C, [0, 0]),
    conn('open', 'n2', 2, '10.0.1.2:4002', A, [5, 5]),
    sweep('n2', 3, 2),
  ];
  const n2Then: StickyEvent[] = [conn('traffic', 'n2', 11, '10.0.1.1:4001', C, [300, 400]), sweep('n2', 12, 2)];
  return {
    n1: [n1Start, n1Then],
    n2: [n2Start, n2Then],
    live: { n1: { [A]: 1, [B]: 1, [C]: 0 }, n2: { [A]: 1, [B]: 0, [C]: 1 } },
    bytes: { n1: { [A]: 1050, [B]: 500, [C]: 0 }, n2: { [A]: 0, [B]: 0, [C]: 700 } },
  };
}

/** The samples of one series by backend, from a scrape's text (`node` when the series carries it). */
function samples(text: string, name: string, node?: string): Record<string, number> {
  const out: Record<string, number> = {};
  const at = node ? `,node="${node}"` : '';
  const re = new RegExp(`^${name}\\{${LABELS},backend="([^"]+)"${at}\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
  return out;
}

const sum = (...rs: Record<string, number>[]) => {
  const out: Record<string, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
};

async function agentScrape(node: string, events: StickyEvent[]): Promise<string> {
  const source = new FakeSource();
  const s = new Summarizer(node);
  source.on('events', (e: StickyEvent[]) => s.apply(e));
  const server = getServer(source, { node });
  const m = createAgentMetrics({ node, probe: source, server, attachPoints: [], summarizer: s });
  try {
    source.emitEvents(events);
    return await m.registry.metrics();
  } finally {
    m.detach();
    await server.close();
  }
}

test('agent /metrics: open connections and bytes per backend of its node, and two nodes sum to the cluster', async () => {
  const want = script();
  const text1 = await agentScrape('n1', want.n1.flat());
  const text2 = await agentScrape('n2', want.n2.flat());
  assert.match(text1, /# TYPE stickyscope_backend_live_connections gauge/);
  assert.match(text1, /# TYPE stickyscope_backend_bytes_total counter/);
  const live1 = samples(text1, 'stickyscope_backend_live_connections', 'n1');
  const live2 = samples(text2, 'stickyscope_backend_live_connections', 'n2');
  assert.deepEqual(live1, want.live.n1);
  assert.deepEqual(live2, want.live.n2);
  const bytes1 = samples(text1, 'stickyscope_backend_bytes_total', 'n1');
  const bytes2 = samples(text2, 'stickyscope_backend_bytes_total', 'n2');
  assert.deepEqual(bytes1, want.bytes.n1);
  assert.deepEqual(bytes2, want.bytes.n2);
  // What Prometheus's sum by (backend) over the nodes gives.
  assert.deepEqual(sum(live1, live2), { [A]: 2, [B]: 1, [C]: 1 });
  assert.deepEqual(sum(bytes1, bytes2), { [A]: 1050, [B]: 500, [C]: 700 });
  assert.doesNotMatch(text1, /client=/);
});

test('agent /metrics: no live series from a node whose helper does not read conntrack; no bytes with acct off', async () => {
  const none = await agentScrape('n1', [catalog('n1')]);
  assert.doesNotMatch(none, /stickyscope_backend_live_connections\{/);
  assert.doesNotMatch(none, /stickyscope_backend_bytes_total\{/);
  const noAcct = await agentScrape('n1', [
    catalog('n1'),
    conn('open', 'n1', 1, '10.0.0.1:4001', B),
    sweep('n1', 2, 1, false),
  ]);
  assert.deepEqual(samples(noAcct, 'stickyscope_backend_live_connections', 'n1'), { [A]: 0, [B]: 1, [C]: 0 });
  assert.doesNotMatch(noAcct, /stickyscope_backend_bytes_total\{/, 'bytes are not counted, not 0');
});

test('serve /metrics, raw streams: both nodes summed per backend', async () => {
  const want = script();
  const hub = new ServeHub({ windows: [60] });
  for (const batch of [want.n1[0]!, want.n2[0]!, want.n1[1]!, want.n2[1]!]) hub.apply(batch);
  const text = await createServeMetrics(hub, new AgentBook(), 100).scrape();
  assert.deepEqual(samples(text, 'stickyscope_backend_live_connections'), { [A]: 2, [B]: 1, [C]: 1 });
  assert.deepEqual(samples(text, 'stickyscope_backend_bytes_total'), { [A]: 1050, [B]: 500, [C]: 700 });
});

test('serve --summaries: summaries carry live connections and bytes; /metrics and the report sum the nodes', async () => {
  const want = script();
  const hub = new ServeHub({ windows: [60], summaries: true });
  const nodes = { n1: new Summarizer('n1'), n2: new Summarizer('n2') };
  const send = (s: Summarizer, at: number) => hub.applySummary(decodeSummary(encodeSummary(s.take(T0 + at))));
  // The first summaries (the baselines) already say what is open: open connections are a gauge.
  nodes.n1.apply(want.n1[0]!);
  nodes.n2.apply(want.n2[0]!);
  hub.apply([catalog('n1')]);
  send(nodes.n1, 5e6);
  send(nodes.n2, 5e6);
  const metrics = createServeMetrics(hub, new AgentBook(), 100);
  assert.deepEqual(samples(await metrics.scrape(), 'stickyscope_backend_live_connections'), {
    [A]: 3,
    [B]: 1,
    [C]: 1,
  });
  nodes.n1.apply(want.n1[1]!);
  nodes.n2.apply(want.n2[1]!);
  send(nodes.n1, 7e6);
  send(nodes.n2, 7e6);
  const text = await metrics.scrape();
  assert.deepEqual(samples(text, 'stickyscope_backend_live_connections'), { [A]: 2, [B]: 1, [C]: 1 });
  assert.deepEqual(samples(text, 'stickyscope_backend_bytes_total'), { [A]: 1050, [B]: 500, [C]: 700 });

  const report = hub.report('all');
  assert.deepEqual(report.liveSource, { nodes: ['n1', 'n2'], bytes: { n1: true, n2: true }, connectionsDropped: 0 });
  const svc = report.services.find((s) => s.service === KEY)!;
  assert.equal(svc.liveConnections, 4);
  assert.deepEqual(
    svc.backends.map((b) => [b.backend, b.liveConnections, b.bytes]),
    [
      [A, 2, 1050],
      [B, 1, 500],
      [C, 1, 700],
    ],
  );
  assert.equal(svc.loadSpread?.liveConnections.maxOverMean, 2 / (4 / 3));

  // A node whose stream ended: its connections are no longer known open.
  hub.apply([{ type: 'node', ts: T0 + 8e6, node: 'n2', state: 'down' }]);
  assert.deepEqual(samples(await metrics.scrape(), 'stickyscope_backend_live_connections'), {
    [A]: 1,
    [B]: 1,
    [C]: 0,
  });
});

test('a summary without live connections (an older agent) still reads: no live series, no liveSource', async () => {
  const s = new Summarizer('old');
  s.apply([catalog('old')]);
  const sent: NodeSummary = s.take(T0 + 1e6);
  assert.equal(sent.live, undefined);
  const back = decodeSummary(encodeSummary(sent));
  assert.equal(back.live, undefined);
  assert.deepEqual(
    back.services[0]!.backends,
    [A, B, C].map((backend) => ({ backend, selections: 0 })),
    'no live or bytes fields on the backends',
  );
  const hub = new ServeHub({ windows: [60], summaries: true });
  hub.applySummary(back);
  hub.applySummary(decodeSummary(encodeSummary(s.take(T0 + 2e6))));
  assert.equal(hub.summaries!.liveOf(KEY), null);
  const text = await createServeMetrics(hub, new AgentBook(), 100).scrape();
  assert.doesNotMatch(text, /stickyscope_backend_live_connections\{/);
  assert.equal(hub.report('all').liveSource, undefined);
});

test('a reducer started late (the first summary subscriber) takes the connections open then', () => {
  const want = script();
  const source = new FakeSource();
  const book = new LiveBook();
  source.on('events', (e: StickyEvent[]) => book.apply(e));
  const feed = new SummaryFeed('n1', source, 60_000);
  try {
    source.emitEvents(want.n1.flat());
    const first = decodeSummary(Buffer.from(feed.snapshot(book.snapshot(T0 + 20e6))));
    assert.deepEqual(first.live, { bytes: true });
    const live = Object.fromEntries(first.services[0]!.backends.map((b) => [b.backend, b.live]));
    assert.deepEqual(live, want.live.n1);
  } finally {
    feed.stop();
  }
});
