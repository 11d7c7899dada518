// Live connections in the aggregator: open now, oldest, bytes in the window, per client, the connections predating
// the newest endpoints and the three spreads, against the synthetic node's own script (test/helpers/live-trace.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { loadSpreads, predatingText, serviceLoad } from '../../src/aggregator/live-queries.js';
import { shownBackends } from '../../src/aggregator/services.js';
import { A, B, C, D, E, liveTrace, S, SERVICE, T0 } from '../helpers/live-trace.js';
import { dnatEvent } from '../helpers/events.js';

const WINDOW = 25;

test('live connections: open per backend and client, oldest, bytes in the window and since tracing began', () => {
  const { events, truth } = liveTrace();
  const state = createState({ windowSeconds: WINDOW });
  applyEvents(state, events);
  const svc = state.services.existing(`${SERVICE}/tcp`)!;
  const win = serviceLoad(state, svc, true);
  const cum = serviceLoad(state, svc, false);
  const wantBytes = truth.windowBytes(WINDOW);
  assert.equal(win.live, truth.openTotal);
  for (const backend of [A, B, C, D, E]) {
    const b = svc.backendOf(backend);
    const l = win.backends.get(b);
    assert.equal(l?.live ?? 0, truth.open[backend], `open on ${backend}`);
    assert.equal(l?.bytes ?? 0, wantBytes[backend], `window bytes on ${backend}`);
    assert.equal(cum.backends.get(b)?.bytes ?? 0, truth.cumulativeBytes[backend], `bytes on ${backend}`);
    const oldest = truth.oldestSeconds[backend];
    if (oldest === undefined) assert.ok(!(l && l.live > 0));
    else assert.ok(Math.abs((truth.end - l!.oldestStart) / S - oldest) < 1e-6, `oldest on ${backend}`);
  }
  const byClient = Object.fromEntries(
    [...win.clients].filter(([, c]) => c.live > 0).map(([k, c]) => [state.clients.name(k), c.live]),
  );
  assert.deepEqual(byClient, truth.openByClient);
  // The idle pod and the one with two thirds of the open connections.
  assert.equal(truth.open[C], 0);
  assert.equal(truth.open[A]! / truth.openTotal, 2 / 3);
  assert.ok(wantBytes[A]! > 0 && wantBytes[C] === 0);
});

test('live connections: every open one predates the two newest endpoints, and says so', () => {
  const { events, truth } = liveTrace();
  const state = createState();
  applyEvents(state, events);
  const svc = state.services.existing(`${SERVICE}/tcp`)!;
  const p = serviceLoad(state, svc, true).predating!;
  assert.deepEqual(p.newest.map((b) => svc.backendNames[b]).sort(), [D, E]);
  assert.equal(p.joinedTs, truth.endpointsAddedAt);
  assert.equal(p.predating, truth.predating);
  assert.equal(
    predatingText(p),
    `${truth.openTotal} of ${truth.openTotal} open connections predate the 2 newest endpoints`,
  );
  // A connection after the change: no longer every one.
  applyEvents(state, [dnat(truth.end + S, '10.0.0.9:5', D)]);
  assert.equal(predatingText(serviceLoad(state, svc, true).predating), null);
});

test('live connections: selections stay selections (opens are not new connections); spreads three ways', () => {
  const { events, truth } = liveTrace();
  const state = createState({ windowSeconds: WINDOW });
  applyEvents(state, events);
  const svc = state.services.existing(`${SERVICE}/tcp`)!;
  assert.equal(svc.cum.selections, 1, 'only the one dnat is a selection');
  const shown = shownBackends(svc, svc.win);
  const spreads = loadSpreads(svc, svc.win, shown, true);
  // By hand: open connections [2, 1, 0, 0, 0] over 5 backends: mean 0.6, max/mean 2/0.6.
  assert.equal(shown.length, 5);
  assert.ok(Math.abs(spreads.liveConnections.maxOverMean! - 2 / 0.6) < 1e-9);
  const bytes = [A, B, C, D, E].map((b) => truth.windowBytes(WINDOW)[b]!);
  const mean = bytes.reduce((x, y) => x + y) / 5;
  assert.ok(Math.abs(spreads.bytes.maxOverMean! - Math.max(...bytes) / mean) < 1e-9);
  assert.equal(spreads.bytes.verdict, 'skewed');
});

test('live connections: dnats of a node before its first conntrack event count; a restart drops what its dump did not confirm', () => {
  const service = {
    service: `${SERVICE}/tcp`,
    name: null,
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
    endpoints: [A, B],
  };
  const state = createState();
  applyEvents(state, [
    { type: 'catalog', ts: T0, node: 'n', services: [service] },
    dnat(T0 + 1, '10.0.0.1:1', A, 'n'),
    { type: 'sweep', ts: T0 + 2, node: 'n', initial: true, entries: 1, open: 1, acct: false, micros: 1 },
  ]);
  const svc = state.services.existing(`${SERVICE}/tcp`)!;
  assert.equal(svc.load.openTotal, 1);
  // A node without a conntrack source (an old trace): its dnats open nothing.
  applyEvents(state, [dnat(T0 + 3, '10.0.0.2:1', A, 'old')]);
  assert.equal(svc.load.openTotal, 1);
  // The helper restarted: its dump confirms only one of two, the other's close never came.
  applyEvents(state, [
    dnat(T0 + 4, '10.0.0.3:1', B, 'n'),
    {
      type: 'open',
      ts: T0 + 100 * S,
      node: 'n',
      seen: 'dump',
      proto: 'tcp',
      client: '10.0.0.3:1',
      service: SERVICE,
      backend: B,
    },
    { type: 'sweep', ts: T0 + 100 * S + 10, node: 'n', initial: true, entries: 1, open: 1, acct: false, micros: 100 },
  ]);
  assert.equal(svc.load.openTotal, 1);
  assert.equal(svc.load.openOf(svc.backendOf(B)), 1);
  // Closes of unknown connections and counters going backwards (a new entry of the tuple) are harmless.
  applyEvents(state, [
    {
      type: 'close',
      ts: T0 + 101 * S,
      node: 'n',
      seen: 'destroy',
      proto: 'tcp',
      client: '10.0.0.7:1',
      service: SERVICE,
      backend: A,
    },
    {
      type: 'traffic',
      ts: T0 + 102 * S,
      node: 'n',
      proto: 'tcp',
      client: '10.0.0.3:1',
      service: SERVICE,
      backend: B,
      origPackets: 1,
      origBytes: 500,
      replyPackets: 1,
      replyBytes: 500,
    },
    {
      type: 'traffic',
      ts: T0 + 103 * S,
      node: 'n',
      proto: 'tcp',
      client: '10.0.0.3:1',
      service: SERVICE,
      backend: B,
      origPackets: 1,
      origBytes: 10,
      replyPackets: 1,
      replyBytes: 10,
    },
  ]);
  assert.equal(svc.load.openTotal, 1);
  assert.equal(svc.load.bytesOf(svc.backendOf(B), false), 1020);
});

function dnat(ts: number, client: string, backend: string, node = 'node-a'): StickyEvent {
  return dnatEvent({ ts, node, client, service: SERVICE, backend });
}
