// SubscribeSummaries across versions, over mutual TLS: a new aggregator gets summaries
// from a new agent and falls back to the raw stream of an agent without the method
// (UNIMPLEMENTED); an old aggregator (raw Subscribe only) still gets a new agent's events.
// Every count is checked against the selections the test itself sent.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Summarizer } from '../../src/summary/producer.js';
import { encodeSummary } from '../../src/protocol/summary-wire.js';
import { getServer } from '../../src/agent/server.js';
import { SummaryFeed } from '../../src/summary/producer.js';
import type { CatalogEvent, StickyEvent } from '../../src/core/event.js';
import type { NodeSummary } from '../../src/core/summary.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import type { AgentStatus } from '../../src/protocol/agent-connection.js';
import { agentCredentials } from '../../src/protocol/tls.js';
import { ServeHub } from '../../src/serve/hub.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { makePki, type Pki } from '../helpers/tls-fixture.js';
import { waitFor, equals, atLeast } from '../helpers/wait.js';

const BACKENDS = ['10.1.0.2:8080', '10.1.1.2:8080', '10.1.2.2:8080'];
const catalog = (ts: number): CatalogEvent => ({
  type: 'catalog',
  ts,
  node: 'n1',
  services: [
    {
      service: '10.96.0.10:80/tcp',
      name: 'lab/web:http',
      affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
      endpoints: BACKENDS,
      pods: {},
    },
  ],
});

/** An agent on loopback with mutual TLS: with SubscribeSummaries (new) or without (old). */
async function agent(t: TestContext, pki: Pki, withSummaries: boolean) {
  const source = new FakeSource();
  const files = { cert: join(pki.dir, 'n1.crt'), key: join(pki.dir, 'n1.key'), clientCa: join(pki.dir, 'ca.crt') };
  const feed = withSummaries ? new SummaryFeed('n1', source, 200) : undefined;
  const server = getServer(source, { node: 'n1', credentials: await agentCredentials(files, 'n1'), summaries: feed });
  const address = await server.bind('127.0.0.1:0');
  t.after(async () => {
    feed?.stop();
    await server.close();
  });
  return { source, address };
}

/** Picks the test makes: backend i % 3, 40 clients; returns what it sent per backend. */
function picks(n: number): { events: StickyEvent[]; perBackend: Record<string, number> } {
  const now = Date.now() * 1000;
  const events: StickyEvent[] = [];
  const perBackend: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const backend = BACKENDS[i % 7 === 0 ? 0 : i % 3]!;
    events.push(dnat(i, 'n1', { ts: now + i, backend, client: `10.0.0.${i % 40}:${30000 + i}` }));
    perBackend[backend] = (perBackend[backend] ?? 0) + 1;
  }
  return { events, perBackend };
}

async function newAggregator(t: TestContext, pki: Pki, address: string) {
  const hub = new ServeHub({ windows: [60], summaries: true });
  const stop = new AbortController();
  const fallbacks: string[] = [];
  const up: AgentStatus[] = [];
  const tick = setInterval(() => hub.takeRawSummaries(), 200);
  const run = (async () => {
    for await (const batch of subscribeAgents([address], {
      signal: stop.signal,
      tls: pki.client('client'),
      onSummary: (_a, s) => hub.applySummary(s),
      onRawFallback: (_a, node) => {
        fallbacks.push(node);
        hub.summariseRaw(node);
      },
      onStatus: (s) => {
        if (s.state === 'up') up.push(s);
      },
    }))
      hub.apply(batch);
  })();
  t.after(async () => {
    clearInterval(tick);
    stop.abort();
    await run;
  });
  return { hub, fallbacks, up };
}

const selections = (hub: ServeHub) => {
  const out: Record<string, number> = {};
  for (const sums of hub.summaries!.totals.values()) for (const [b, n] of sums.backends) out[b] = (out[b] ?? 0) + n;
  return out;
};
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

test('new aggregator, new agent: summaries, counted exactly once', async (t) => {
  const pki = await makePki(t);
  const a = await agent(t, pki, true);
  a.source.emitEvents([catalog(Date.now() * 1000)]);
  const { hub, fallbacks, up } = await newAggregator(t, pki, a.address);
  await waitFor('the subscription and its first summary', () => up.length > 0 && hub.summaries!.received > 0, 10_000);
  const sent = picks(3000);
  for (let i = 0; i < sent.events.length; i += 500) a.source.emitEvents(sent.events.slice(i, i + 500));
  await waitFor('summaries covering every pick', () => atLeast(total(selections(hub)), 3000), 10_000);
  // Two more periods: nothing may be counted twice.
  const after = hub.summaries!.received;
  await waitFor('two more summaries', () => atLeast(hub.summaries!.received, after + 2), 10_000);
  assert.deepEqual(selections(hub), sent.perBackend);
  assert.deepEqual(fallbacks, [], 'no fallback against an agent that has the method');
  const report = hub.report('all');
  assert.equal(report.services[0]!.name, 'lab/web:http', 'the catalog came with the summaries');
  assert.equal(report.services[0]!.selections, 3000);
  assert.equal(report.services[0]!.backends.length, 3);
  assert.ok(Math.abs(report.services[0]!.clientsEstimate! - 40) <= 2, 'about 40 distinct clients');
});

test('new aggregator, old agent (no SubscribeSummaries): UNIMPLEMENTED, then its raw stream, summarised here', async (t) => {
  const pki = await makePki(t);
  const a = await agent(t, pki, false);
  const { hub, fallbacks, up } = await newAggregator(t, pki, a.address);
  await waitFor('the fallback and the raw subscription', () => fallbacks.length === 1 && up.length > 0, 10_000);
  a.source.emitEvents([catalog(Date.now() * 1000)]);
  const sent = picks(2000);
  a.source.emitEvents(sent.events);
  await waitFor('the raw picks summarised', () => atLeast(total(selections(hub)), 2000), 10_000);
  assert.deepEqual(selections(hub), sent.perBackend);
  assert.deepEqual(fallbacks, ['n1']);
});

test('old aggregator (raw Subscribe only), new agent: the raw stream as before', async (t) => {
  const pki = await makePki(t);
  const a = await agent(t, pki, true);
  const stop = new AbortController();
  const got: Record<string, number> = {};
  let upSeen = false;
  const run = (async () => {
    for await (const batch of subscribeAgents([a.address], {
      signal: stop.signal,
      tls: pki.client('client'),
      onStatus: (s) => {
        if (s.state === 'up') upSeen = true;
      },
    }))
      for (const e of batch) if (e.type === 'dnat') got[e.backend] = (got[e.backend] ?? 0) + 1;
  })();
  t.after(async () => {
    stop.abort();
    await run;
  });
  await waitFor('the raw subscription', () => upSeen, 10_000);
  const sent = picks(1500);
  a.source.emitEvents(sent.events);
  await waitFor('every raw pick', () => atLeast(total(got), 1500), 10_000);
  assert.deepEqual(got, sent.perBackend);
});

/** Serves one hostile summary (a snapshot of node `node`, changed by `spoil`) to a summary-mode hub; returns the hub and the warnings. */
async function hostile(t: TestContext, node: string, spoil: (s: NodeSummary) => void) {
  const pki = await makePki(t);
  const source = new FakeSource();
  const files = { cert: join(pki.dir, 'n1.crt'), key: join(pki.dir, 'n1.key'), clientCa: join(pki.dir, 'ca.crt') };
  const bad = new Summarizer(node);
  bad.apply([catalog(Date.now() * 1000), ...picks(10).events]);
  const snapshot = bad.snapshot(Date.now() * 1000, []);
  spoil(snapshot);
  const feed = Object.assign(new EventEmitter(), { snapshot: () => encodeSummary(snapshot) });
  const server = getServer(source, { node: 'n1', credentials: await agentCredentials(files, 'n1'), summaries: feed });
  const address = await server.bind('127.0.0.1:0');
  t.after(() => server.close());
  const hub = new ServeHub({ windows: [60], summaries: true });
  const warnings: string[] = [];
  const stop = new AbortController();
  const run = (async () => {
    for await (const batch of subscribeAgents([address], {
      signal: stop.signal,
      tls: pki.client('client'),
      rejected: hub.rejected,
      onWarning: (w) => warnings.push(w),
      onSummary: (_a, s) => hub.applySummary(s),
    }))
      hub.apply(batch);
  })();
  t.after(async () => {
    stop.abort();
    await run;
  });
  await waitFor('the rejection', () => equals(hub.rejected.total, 1), 10_000);
  return { hub, warnings };
}

test('a hostile summary (a Service key that is no address) is dropped whole, counted and said once', async (t) => {
  const { hub, warnings } = await hostile(t, 'n1', (s) => {
    s.services[0]!.service = '<script>/tcp';
  });
  assert.equal(hub.summaries!.received, 0);
  assert.equal(hub.rejected.reasons.badAddress, 1);
  assert.match(warnings[0] ?? '', /sent a summary that is rejected: .*<script>\/tcp/);
});

test("a summary naming another node than the agent's is dropped (invented names would grow serve's store)", async (t) => {
  const { hub, warnings } = await hostile(t, 'someone-else', () => {});
  assert.equal(hub.summaries!.received, 0);
  assert.equal(hub.summaries!.nodes, 0);
  assert.equal(hub.rejected.reasons.malformed, 1);
  assert.match(warnings[0] ?? '', /summary.node is 'someone-else'; expected the agent's own node 'n1'/);
});
