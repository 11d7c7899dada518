// Merging nodes' streams in time order: by hand-built timelines on a fake clock, then
// through two real agents with subscribeAgents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamMerger } from '../../src/protocol/merge-streams.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import type { AgentStatus } from '../../src/protocol/agent-connection.js';
import { getServer } from '../../src/agent/server.js';
import type { StickyEvent } from '../../src/core/event.js';
import { FakeSource, dnat, sleep } from '../helpers/agent-fake-source.js';
import { waitFor, equals } from '../helpers/wait.js';

const ev = (ts: number, node: string): StickyEvent => ({ type: 'lost', ts, node, count: 1 });

test('a source lagging by less than the delay is merged in order', () => {
  const m = new StreamMerger({ delayMs: 200 });
  const out: StickyEvent[] = [];
  // Node a's events of each 50 ms arrive at once; node b's same-time events arrive 150 ms later.
  for (let now = 0; now <= 2000; now += 10) {
    if (now % 50 === 0 && now <= 1000) m.push('a', [ev(now * 1000 + 1, 'a'), ev(now * 1000 + 30_001, 'a')], now);
    if (now % 50 === 0 && now >= 150 && now <= 1150) m.push('b', [ev((now - 150) * 1000 + 15_001, 'b')], now);
    out.push(...m.drain(now));
  }
  assert.equal(out.length, 21 * 2 + 21);
  assert.equal(m.size, 0);
  const ts = out.map((e) => e.ts);
  assert.deepEqual(
    ts,
    [...ts].sort((x, y) => x - y),
  );
});

test('out-of-order events inside one batch come out sorted', () => {
  const m = new StreamMerger({ delayMs: 100 });
  m.push('a', [ev(3, 'a'), ev(1, 'a'), ev(2, 'a')], 0);
  assert.deepEqual(m.drain(50), []);
  assert.deepEqual(
    m.drain(100).map((e) => e.ts),
    [1, 2, 3],
  );
});

test('no event waits more than twice the delay, even behind a node whose clock is 10 s late', () => {
  const m = new StreamMerger({ delayMs: 200 });
  let worst = 0;
  const arrived = new Map<StickyEvent, number>();
  for (let now = 0; now <= 3000; now += 10) {
    const a = ev(1_000_000_000 + now * 1000, 'a');
    const b = ev(1_000_000_000 + now * 1000 - 10_000_000, 'b');
    arrived.set(a, now).set(b, now);
    m.push('a', [a], now);
    m.push('b', [b], now);
    for (const e of m.drain(now)) worst = Math.max(worst, now - arrived.get(e)!);
  }
  assert.ok(worst <= 400, `worst wait ${worst} ms`);
  assert.ok(m.size < 2 * 41 + 2, `held ${m.size}`);
  m.drain(Infinity);
  assert.equal(m.size, 0);
});

test('two agents through subscribeAgents: one time-ordered stream, nothing missing', async (t) => {
  const s1 = new FakeSource();
  const s2 = new FakeSource();
  const a1 = getServer(s1, { node: 'n1' });
  const a2 = getServer(s2, { node: 'n2' });
  const addrs = [await a1.bind('127.0.0.1:0'), await a2.bind('127.0.0.1:0')];
  t.after(() => a1.close());
  t.after(() => a2.close());
  const ac = new AbortController();
  const statuses: AgentStatus[] = [];
  const got: StickyEvent[] = [];
  const consumer = (async () => {
    for await (const batch of subscribeAgents(addrs, {
      signal: ac.signal,
      onStatus: (s) => statuses.push(s),
      reorderDelayMs: 200,
    }))
      got.push(...batch);
  })();
  t.after(() => ac.abort());
  await waitFor('both subscriptions', () => a1.info().subscribers === 1 && a2.info().subscribers === 1, 10_000);

  // n1 has even timestamps, n2 odd ones, near the present as a live probe's are; n2's
  // batches leave 80 ms after n1's.
  // Both streams carry one event end to end first (and report their nodes up), so what
  // is measured is the merge, not a stream's first-message set-up, which could exceed
  // the reorder delay.
  const w0 = Date.now() * 1000;
  s1.emitEvents([dnat(0, 'n1', { ts: w0 })]);
  s2.emitEvents([dnat(1, 'n2', { ts: w0 + 1 })]);
  // (The node-up events are stamped as the first message arrives, after that message's
  // own event: the warm-up is left out of the order check.)
  await waitFor(
    'one event through each stream',
    () => got.filter((e) => e.type === 'dnat').length === 2 && got.filter((e) => e.type === 'node').length === 2,
    5000,
  );
  const warm = got.length;
  const t0 = Date.now() * 1000 + 1000;
  const at = (i: number, node: string) => dnat(i, node, { ts: t0 + i });
  for (let round = 0; round < 10; round++) {
    const base = round * 100;
    s1.emitEvents(Array.from({ length: 50 }, (_v, i) => at(base + 2 * i, 'n1')));
    setTimeout(() => s2.emitEvents(Array.from({ length: 50 }, (_v, i) => at(base + 2 * i + 1, 'n2'))), 80);
    await sleep(30);
  }
  await waitFor('all 1000 events', () => got.filter((e) => e.type === 'dnat').length === 1002, 5000);
  ac.abort();
  await consumer;
  const flows = got.filter((e) => e.type === 'dnat' && e.ts >= t0);
  const ts = flows.map((e) => e.ts);
  assert.deepEqual(
    ts,
    Array.from({ length: 1000 }, (_v, i) => t0 + i),
  );
  const all = got.slice(warm).map((e) => e.ts);
  assert.deepEqual(
    all,
    [...all].sort((x, y) => x - y),
    'one time-ordered stream',
  );
  assert.deepEqual(statuses.map((s) => `${s.node}:${s.state}`).sort(), ['n1:up', 'n2:up']);
  await waitFor(
    'the agents to see the subscriptions closed when the consumer stopped',
    () => equals(a1.info().subscribers + a2.info().subscribers, 0),
    3000,
  );
});
