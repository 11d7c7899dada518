// Node-level figures: node-local divergence, missing spans from node down/up, lost
// events, and UDP continuity (backend and reflective address across conntrack entries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnatEvent, SnatEvent, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { drainNotable } from '../../src/aggregator/queries.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const iso = (ts: number) => new Date(ts / 1000).toISOString().replace('Z', '000Z');
const [A, B] = ['10.1.1.2:53', '10.1.1.3:53'];

function dnat(
  ts: number,
  client: string,
  backend: string,
  node: string,
  proto: 'tcp' | 'udp' = 'tcp',
  ctId = String(ts),
): DnatEvent {
  return dnatEvent({ ts, node, proto, client, service: '10.96.0.10:53', backend, ctId });
}

function snat(ts: number, client: string, backend: string, to: string, ctId: string): SnatEvent {
  return {
    type: 'snat',
    ts,
    node: 'n1',
    proto: 'udp',
    client,
    service: '10.96.0.10:53',
    backend,
    hook: 'postrouting',
    ctId,
    snat: to,
  };
}

test('node-local divergence: a client whose last backend differs between nodes', () => {
  const state = createState();
  applyEvents(state, [
    dnat(T0, '10.0.0.1:1000', A, 'n1'),
    dnat(T0 + 1, '10.0.0.1:1001', B, 'n2'), // diverges
    dnat(T0 + 2, '10.0.0.2:1000', A, 'n1'),
    dnat(T0 + 3, '10.0.0.2:1001', A, 'n2'), // same on both
    dnat(T0 + 4, '10.0.0.3:1000', A, 'n1'),
    dnat(T0 + 5, '10.0.0.3:1001', B, 'n1'), // one node only
  ]);
  const svc = buildReport(state, { scope: 'window' }).services[0]!;
  assert.deepEqual(svc.nodeDivergence, { clients: 1, examples: [{ client: '10.0.0.1', backends: { n1: A, n2: B } }] });
  assert.deepEqual(svc.clients.find((c) => c.client === '10.0.0.1')!.nodes, ['n1', 'n2']);
});

test("node-local divergence: one Service port reached at its cluster IP and each node's NodePort address", () => {
  const [P1, P2, P3] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];
  const info = (service: string, name: string | null, endpoints: string[]) => ({
    service,
    name,
    affinity: { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
    endpoints,
  });
  const flow = (ts: number, client: string, service: string, backend: string, node: string): DnatEvent =>
    dnatEvent({ ts, node, client, service, backend });
  const state = createState();
  applyEvents(state, [
    {
      type: 'catalog',
      ts: T0,
      node: 'n1',
      services: [
        info('10.96.0.13:80/tcp', 'lab/edge:http', [P1, P2, P3]),
        info('10.3.0.1:30080/tcp', 'lab/edge:http', [P1]),
      ],
    },
    {
      type: 'catalog',
      ts: T0,
      node: 'n2',
      services: [
        info('10.96.0.13:80/tcp', 'lab/edge:http', [P1, P2, P3]),
        info('10.3.0.2:30080/tcp', 'lab/edge:http', [P2]),
      ],
    },
    flow(T0 + 1, '10.2.1.2:1000', '10.3.0.1:30080', P1, 'n1'),
    flow(T0 + 2, '10.2.1.2:1001', '10.3.0.2:30080', P2, 'n2'), // diverges across the two NodePorts
    flow(T0 + 3, '10.2.2.2:1000', '10.3.0.1:30080', P1, 'n1'),
    flow(T0 + 4, '10.2.2.2:1001', '10.96.0.13:80', P1, 'n2'), // NodePort on n1, cluster IP on n2: same pod
    flow(T0 + 5, '10.2.3.2:1000', '10.3.0.1:30080', P1, 'n1'),
    flow(T0 + 6, '10.2.3.2:1001', '10.96.0.13:80', P3, 'n1'), // one node: its latest pick counts
    flow(T0 + 7, '10.2.3.2:1002', '10.96.0.13:80', P3, 'n2'),
    // Unnamed addresses stay apart.
    flow(T0 + 8, '10.2.4.2:1000', '10.50.0.1:80', P1, 'n1'),
    flow(T0 + 9, '10.2.4.2:1001', '10.50.0.2:80', P2, 'n2'),
  ]);
  for (const scope of ['window', 'cumulative'] as const) {
    const by = Object.fromEntries(buildReport(state, { scope }).services.map((s) => [s.service, s.nodeDivergence]));
    const across = {
      client: '10.2.1.2',
      backends: { n1: P1, n2: P2 },
      via: { n1: '10.3.0.1:30080/tcp', n2: '10.3.0.2:30080/tcp' },
    };
    // The cluster IP and both nodes' NodePorts are one Service port: 10.2.1.2 diverges, through two addresses;
    // 10.2.2.2 got one pod, 10.2.3.2's latest picks agree.
    assert.deepEqual(by['10.96.0.13:80/tcp'], { clients: 1, examples: [across] }, `${scope}: one Service`);
    assert.equal(by['10.3.0.1:30080/tcp'], undefined, `${scope}: no row of its own for a NodePort address`);
    assert.deepEqual(by['10.50.0.1:80/tcp'], { clients: 0, examples: [] });
    assert.deepEqual(by['10.50.0.2:80/tcp'], { clients: 0, examples: [] });
  }
});

test('node down/up gives missing spans; lost events count in window and cumulatively', () => {
  const state = createState({ windowSeconds: 60 });
  const ev: StickyEvent[] = [
    { type: 'lost', ts: T0, node: 'n1', count: 5 },
    { type: 'node', ts: T0 + 10 * S, node: 'n2', state: 'down', reason: 'stream ended' },
    { type: 'node', ts: T0 + 20 * S, node: 'n2', state: 'up' },
    { type: 'lost', ts: T0 + 90 * S, node: 'n1', count: 3 },
    { type: 'node', ts: T0 + 95 * S, node: 'n1', state: 'down' },
    dnat(T0 + 100 * S, '10.0.0.1:1', A, 'n2'),
  ];
  applyEvents(state, ev);
  const cum = buildReport(state, { scope: 'cumulative' });
  assert.equal(cum.lostEvents, 8);
  assert.deepEqual(cum.nodes, ['n1', 'n2']);
  assert.deepEqual(cum.window.missing, [
    { node: 'n2', start: iso(T0 + 10 * S), end: iso(T0 + 20 * S), ongoing: false },
    { node: 'n1', start: iso(T0 + 95 * S), end: iso(T0 + 100 * S), ongoing: true },
  ]);
  const win = buildReport(state, { scope: 'window' });
  assert.equal(win.lostEvents, 3);
  assert.deepEqual(
    win.window.missing.map((m) => m.node),
    ['n1'],
    'the n2 gap ended before the window',
  );
  assert.deepEqual(
    drainNotable(state).events.map((n) => n.kind),
    ['lost', 'nodeDown', 'nodeUp', 'lost', 'nodeDown'],
  );
});

test('UDP continuity: backend and reflective address across replaced conntrack entries', () => {
  const c = '10.0.0.7:5000';
  const state = createState();
  applyEvents(state, [
    dnat(T0, c, A, 'n1', 'udp', 'ct1'),
    snat(T0 + 1, c, A, '192.168.0.1:5000', 'ct1'),
    dnat(T0 + 2, c, A, 'n1', 'udp', 'ct1'), // the same entry again: no replacement
    dnat(T0 + S, c, B, 'n1', 'udp', 'ct2'),
    snat(T0 + S + 1, c, B, '192.168.0.1:6000', 'ct2'), // both changed
    dnat(T0 + 2 * S, c, B, 'n1', 'udp', 'ct3'),
    snat(T0 + 2 * S + 1, c, B, '192.168.0.1:6000', 'ct3'), // neither
    dnat(T0 + 3 * S, c, B, 'n1', 'udp', 'ct4'), // no SNAT: the backend now sees the client itself
    dnat(T0 + 6 * S, '10.0.0.8:1', A, 'n1', 'udp', 'other'), // time passes: ct4 gets no snat
  ]);
  const u = buildReport(state, { scope: 'cumulative' }).services.find(
    (s) => s.service === '10.96.0.10:53/udp',
  )!.udpContinuity;
  assert.deepEqual(u, { replacements: 3, backendChanged: 1, reflectiveChanged: 2 });
  const kinds = drainNotable(state).events.map((n) =>
    n.kind === 'reflectiveChanged' || n.kind === 'backendChanged' ? [n.kind, n.from, n.to] : n.kind,
  );
  assert.deepEqual(kinds, [
    ['backendChanged', A, B],
    ['reflectiveChanged', '192.168.0.1:5000', '192.168.0.1:6000'],
    ['reflectiveChanged', '192.168.0.1:6000', c],
  ]);
  assert.equal(buildReport(state, { scope: 'window' }).services[0]!.udpContinuity!.replacements, 3);
});

test('UDP continuity counts an unsettled replacement by what is known so far', () => {
  const c = '10.0.0.7:5000';
  const state = createState();
  applyEvents(state, [
    dnat(T0, c, A, 'n1', 'udp', 'ct1'),
    snat(T0 + 1, c, A, '192.168.0.1:5000', 'ct1'),
    dnat(T0 + S, c, A, 'n1', 'udp', 'ct2'), // report comes before any snat for ct2
  ]);
  const r = buildReport(state, { scope: 'cumulative' }).services[0]!;
  assert.deepEqual(r.udpContinuity, { replacements: 1, backendChanged: 0, reflectiveChanged: 1 });
  assert.equal(buildReport(createState(), { scope: 'cumulative' }).services.length, 0);
});
