// Spread, stickiness and clients per backend over hand-built selections: K counts
// endpoints with no selections, services without a catalog are inferred, and the
// window drops what is older than windowSeconds while the cumulative figures keep it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const [A, B, C, D] = ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080', '10.1.1.10:8080'];

function dnat(ts: number, client: string, backend: string, service = '10.96.0.10:80'): DnatEvent {
  return dnatEvent({ ts, client: `${client}:40000`, service, backend });
}

const catalog: CatalogEvent = {
  type: 'catalog',
  ts: T0,
  node: 'n1',
  services: [
    {
      service: '10.96.0.10:80/tcp',
      name: 'lab/web:http',
      affinity: { mode: 'None', timeoutSeconds: null, source: 'rules' },
      endpoints: [D, C, B, A],
    },
  ],
};

/** Client .1 picks A A A A B B, client .2 picks A A D D D D: A 6, B 2, C 0, D 4. */
function selections(start: number): DnatEvent[] {
  const out: DnatEvent[] = [];
  const picks: [string, string[]][] = [
    ['10.0.0.1', [A, A, A, A, B, B]],
    ['10.0.0.2', [A, A, D, D, D, D]],
  ];
  for (const [client, backends] of picks) {
    backends.forEach((b, i) => {
      out.push(dnat(start + i * S, client, b));
    });
  }
  return out.sort((x, y) => x.ts - y.ts);
}

test('spread and K include an endpoint with zero selections', () => {
  const state = createState();
  applyEvents(state, [catalog, ...selections(T0 + S)]);
  const svc = buildReport(state, { scope: 'window' }).services[0]!;
  assert.equal(svc.selections, 12);
  assert.deepEqual(svc.backends, [
    { backend: A, selections: 6, share: 0.5, clients: 2 },
    { backend: B, selections: 2, share: 2 / 12, clients: 1 },
    { backend: C, selections: 0, share: 0, clients: 0 },
    { backend: D, selections: 4, share: 4 / 12, clients: 1 },
  ]);
  assert.equal(svc.spread.maxOverMean, 2);
  assert.ok(Math.abs(svc.spread.cv! - Math.sqrt(5) / 3) < 1e-12);
  assert.ok(Math.abs(svc.spread.jain! - 144 / 224) < 1e-12);
  // Client .1: 5 pairs, 4 same (AA AA AA BB ... A->B moves); client .2: 5 pairs, 4 same.
  assert.deepEqual(svc.stickiness, { pairs: 10, sameBackend: 8, ratio: 0.8, expectedRandom: 0.25 });
  assert.deepEqual(svc.clients, [
    { client: '10.0.0.1', selections: 6, backends: { [A]: 4, [B]: 2 }, stickiness: 0.8, violations: 0, nodes: ['n1'] },
    { client: '10.0.0.2', selections: 6, backends: { [A]: 2, [D]: 4 }, stickiness: 0.8, violations: 0, nodes: ['n1'] },
  ]);
  assert.equal(svc.name, 'lab/web:http');
  assert.deepEqual(svc.affinity, { mode: 'None', timeoutSeconds: null, source: 'rules' });
});

test('without a catalog: affinity inferred None and K = backends seen', () => {
  const state = createState();
  applyEvents(state, [dnat(T0, '10.0.0.1', A), dnat(T0 + 1, '10.0.0.1', B), dnat(T0 + 2, '10.0.0.1', B)]);
  const svc = buildReport(state, { scope: 'window' }).services[0]!;
  assert.deepEqual(svc.affinity, { mode: 'None', timeoutSeconds: null, source: 'inferred' });
  assert.equal(svc.name, null);
  assert.equal(svc.backends.length, 2);
  assert.equal(svc.stickiness.expectedRandom, 0.5);
  assert.ok(Math.abs(svc.spread.maxOverMean! - 2 / 1.5) < 1e-12);
});

test('window drops selections older than windowSeconds; cumulative keeps them', () => {
  const state = createState({ windowSeconds: 60 });
  const late = T0 + 100 * S;
  applyEvents(state, [catalog, ...selections(T0), dnat(late, '10.0.0.1', C), dnat(late + S, '10.0.0.1', C)]);
  const win = buildReport(state, { scope: 'window' });
  const cum = buildReport(state, { scope: 'cumulative' });
  // The window's span starts at its first selection counted, not at its nominal start with nothing in it.
  assert.equal(win.window.start, new Date(late / 1000).toISOString().replace('Z', '000Z'));
  assert.equal(win.window.end, new Date((late + S) / 1000).toISOString().replace('Z', '000Z'));
  assert.equal(cum.window.start, new Date(T0 / 1000).toISOString().replace('Z', '000Z'));
  const w = win.services[0]!;
  const c = cum.services[0]!;
  assert.equal(w.selections, 2);
  assert.equal(c.selections, 14);
  // In the window: the pair closed by the first late pick (B -> C, its first selection outside) and C -> C.
  assert.deepEqual(w.stickiness, { pairs: 2, sameBackend: 1, ratio: 0.5, expectedRandom: 0.25 });
  assert.deepEqual(w.clients, [
    { client: '10.0.0.1', selections: 2, backends: { [C]: 2 }, stickiness: 0.5, violations: 0, nodes: ['n1'] },
  ]);
  assert.deepEqual(c.stickiness, { pairs: 12, sameBackend: 9, ratio: 0.75, expectedRandom: 0.25 });
  assert.deepEqual(
    c.clients.map((x) => [x.client, x.backends]),
    [
      ['10.0.0.1', { [A]: 4, [B]: 2, [C]: 2 }],
      ['10.0.0.2', { [A]: 2, [D]: 4 }],
    ],
  );
});

test('reports order services, backends and clients by address and do not depend on batching', () => {
  const ev: StickyEvent[] = [
    dnat(T0, '10.0.0.10', '10.1.1.10:80', '10.96.0.10:80'),
    dnat(T0 + 1, '10.0.0.9', '10.1.1.9:80', '10.96.0.9:80'),
    dnat(T0 + 2, '10.0.0.9', '10.1.1.2:80', '10.96.0.10:80'),
  ];
  const one = createState();
  applyEvents(one, ev);
  const many = createState();
  for (const e of ev) applyEvents(many, [e]);
  const r = buildReport(one, { scope: 'window' });
  assert.deepEqual(
    r.services.map((s) => s.service),
    ['10.96.0.9:80/tcp', '10.96.0.10:80/tcp'],
  );
  assert.deepEqual(
    r.services[1]!.backends.map((b) => b.backend),
    ['10.1.1.2:80', '10.1.1.10:80'],
  );
  assert.deepEqual(
    r.services[1]!.clients.map((c) => c.client),
    ['10.0.0.9', '10.0.0.10'],
  );
  assert.deepEqual(buildReport(many, { scope: 'window' }), r);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'the report is plain JSON');
});
