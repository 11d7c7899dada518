// Encode once, send slices: the batch node field followed by any run of an indexed batch's events decodes to exactly
// those events, and the agent's subscribers without a filter, fed one shared encoding, receive every event in order
// through messages cut at other boundaries than the source's batches (small maxBatch), while a filtered one gets its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch, encodeBatchWithIndex } from '../../src/protocol/wire.js';
import type { StickyEvent } from '../../src/core/event.js';
import { getServer } from '../../src/agent/server.js';
import { AgentConnection } from '../../src/protocol/agent-connection.js';
import { FakeSource, dnat } from '../helpers/agent-fake-source.js';
import { waitFor, equals } from '../helpers/wait.js';

function mixed(n: number, other = 'n2'): StickyEvent[] {
  const out: StickyEvent[] = [];
  for (let i = 0; i < n; i++) {
    // Mostly the batch's node, some from another (they carry their own node field), a rare kind now and then.
    if (i % 17 === 5) out.push({ type: 'lost', ts: dnat(i, 'n1').ts, node: 'n1', count: i });
    else
      out.push({
        ...dnat(i, i % 7 === 3 ? other : 'n1', { proto: i % 3 === 0 ? 'udp' : 'tcp' }),
        serviceName: i % 2 ? 'lab/web:http' : undefined,
      });
  }
  // Absent optional fields are not there at all after decoding.
  return JSON.parse(JSON.stringify(out)) as StickyEvent[];
}

test('any run of an indexed batch, after its node field, is the EventBatch of that run', () => {
  const events = mixed(60);
  const b = encodeBatchWithIndex(events);
  assert.deepEqual(b.bytes, Buffer.from(encodeBatch(events)), 'the same bytes as encodeBatch');
  assert.equal(b.starts.length, events.length + 1);
  assert.equal(b.starts[events.length], b.bytes.length);
  for (const [i, j] of [
    [0, 60],
    [0, 1],
    [3, 4],
    [5, 6],
    [10, 37],
    [59, 60],
    [20, 20],
  ] as const) {
    const msg = Buffer.concat([b.bytes.subarray(0, b.starts[0]), b.bytes.subarray(b.starts[i], b.starts[j])]);
    const want = events.slice(i, j).map((e) => ({ ...e }));
    assert.deepEqual(decodeBatch(msg), want, `events [${i}, ${j})`);
  }
});

test('unfiltered subscribers share one encoding and get every event, in order, whatever the message cuts', async (t) => {
  const source = new FakeSource();
  const agent = getServer(source, { node: 'n1', maxBatch: 7 });
  const addr = await agent.bind('127.0.0.1:0');
  t.after(() => agent.close());
  const got: StickyEvent[][] = [[], [], []];
  const conns = [
    new AgentConnection(addr, {}),
    new AgentConnection(addr, {}),
    new AgentConnection(addr, { protos: ['udp'] }),
  ];
  conns.forEach((c, k) => {
    // The connection's own `node` up event is not the agent's.
    c.on('events', (evs: StickyEvent[]) => got[k]!.push(...evs.filter((e) => e.type !== 'node')));
    t.after(() => c.stop());
  });
  await waitFor('three subscribers', () => equals(agent.info().subscribers, 3), 10_000);
  const sent: StickyEvent[] = [];
  for (let round = 0; round < 40; round++) {
    // The agent's own node only: a client refuses events naming another (agent-node-bound.test.ts).
    const batch = mixed(1 + ((round * 5) % 13), 'n1').map((e, i) => ({ ...e, ts: e.ts + round * 1000 + i }));
    sent.push(...batch);
    source.emitEvents(batch);
  }
  // A protocol filter holds back the other protocol's flows only (lost counts pass).
  const udp = sent.filter((e) => e.type !== 'dnat' || e.proto === 'udp');
  await waitFor('every event', () => got.every((g, k) => g.length >= (k < 2 ? sent : udp).length), 10_000);
  for (const k of [0, 1]) assert.deepEqual(got[k], sent, `subscriber ${k}: every event, in order`);
  assert.deepEqual(got[2], udp, 'the filtered subscriber: its own encoding of what passes');
});
