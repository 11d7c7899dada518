// How the aggregator weighs the API's catalog (node '', source 'k8s') against each node's rules, on timelines worked
// out by hand: the spec decides name, affinity and pods; a node's rules decide its endpoints; the API's endpoints stand
// in where a node's rules say nothing; a service the API drops falls back to the rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const SVC = '10.96.12.34:80';
const KEY = `${SVC}/tcp`;
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.3:8080', '10.1.4.5:8080'];
const PODS = { [A]: 'shop/web-a', [B]: 'shop/web-b', [C]: 'shop/web-c' };

function dnat(ts: number, client: string, backend: string, node: string): DnatEvent {
  return dnatEvent({ ts, node, client: `${client}:40000`, service: SVC, backend });
}

const rules = (
  ts: number,
  node: string,
  endpoints: string[],
  timeoutSeconds: number | null,
  name: string | null = null,
): CatalogEvent => ({
  type: 'catalog',
  ts,
  node,
  services: [
    {
      service: KEY,
      name,
      affinity: { mode: timeoutSeconds === null ? 'None' : 'ClientIP', timeoutSeconds, source: 'rules' },
      endpoints,
    },
  ],
});

/** As src/k8s/metadata.ts emits it: the whole cluster's Services, node ''. */
const k8s = (ts: number, services: ServiceInfo[]): CatalogEvent => ({ type: 'catalog', ts, node: '', services });
const web = (endpoints: string[], timeoutSeconds: number): ServiceInfo => ({
  service: KEY,
  name: 'shop/web:http',
  affinity: { mode: 'ClientIP', timeoutSeconds, source: 'k8s' },
  endpoints,
  pods: Object.fromEntries(endpoints.map((e) => [e, PODS[e]!])),
});
const other: ServiceInfo = {
  service: '10.96.7.7:443/tcp',
  name: 'shop/api',
  affinity: { mode: 'None', timeoutSeconds: null, source: 'k8s' },
  endpoints: ['10.1.5.6:8443'],
};

function report(events: StickyEvent[]) {
  const state = createState({ windowSeconds: 3600 });
  applyEvents(state, events);
  const r = buildReport(state, { scope: 'cumulative' });
  return { state, r, web: r.services.find((s) => s.service === KEY)! };
}

// One client on n1 whose rules say timeout 10800 while the spec says 30:
//   +0 A; +20 A (gap 20); +60 B (gap 40); +70 C (gap 10); +110 C (gap 40).
// Judged with 30: held, expired (moved), violation (B still listed), expired.
// Judged with 10800: held, violation, violation, held.
const timeline = (node: string) => [
  dnat(T0, '10.0.0.1', A, node),
  dnat(T0 + 20 * S, '10.0.0.1', A, node),
  dnat(T0 + 60 * S, '10.0.0.1', B, node),
  dnat(T0 + 70 * S, '10.0.0.1', C, node),
  dnat(T0 + 110 * S, '10.0.0.1', C, node),
];

test('the spec affinity overrides the rules, whichever catalog came last', () => {
  for (const order of ['k8s first', 'rules first'] as const) {
    const catalogs = [
      rules(T0 - 2 * S, 'n1', [A, B, C], 10800, 'shop/web:http'),
      k8s(T0 - 2 * S, [web([A, B, C], 30), other]),
    ];
    if (order === 'k8s first') catalogs.reverse();
    const { r, web: svc, state } = report([...catalogs, ...timeline('n1')]);
    assert.deepEqual(svc.affinity, { mode: 'ClientIP', timeoutSeconds: 30, source: 'k8s' }, order);
    assert.equal(svc.name, 'shop/web:http', order);
    assert.deepEqual(
      svc.affinityVerdicts,
      {
        held: 1,
        violation: 1,
        forcedRepick: 0,
        expired: 2,
        compliance: 0.5,
        violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 1 },
        pending: 0,
        expiredMoved: 1,
      },
      order,
    );
    assert.deepEqual(r.nodes, ['n1'], `${order}: the API is no node`);
    assert.deepEqual(
      state.services.list.find((s) => s.key === KEY)!.latest!.info.pods,
      PODS,
      `${order}: pods from the API`,
    );
    // A service only the API knows is named and counted with its endpoint.
    const api = r.services.find((s) => s.service === '10.96.7.7:443/tcp')!;
    assert.equal(api.name, 'shop/api');
    assert.deepEqual(
      api.backends.map((b) => b.backend),
      ['10.1.5.6:8443'],
    );
  }
});

test('without the API the same timeline is judged with the rules (the catalog is what changed the verdicts)', () => {
  const { web: svc } = report([rules(T0 - 2 * S, 'n1', [A, B, C], 10800), ...timeline('n1')]);
  assert.deepEqual(svc.affinity, { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' });
  assert.equal(svc.name, null);
  assert.deepEqual(svc.affinityVerdicts, {
    held: 2,
    violation: 2,
    forcedRepick: 0,
    expired: 0,
    compliance: 0.5,
    violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 2 },
    pending: 0,
    expiredMoved: 0,
  });
});

test('a service missing from a later API catalog falls back to the rules', () => {
  // The spec's 30 s holds up to +65, then the API catalog lacks shop/web: +70 C (gap 10)
  // and +110 C (gap 40) are judged with the rules' 10800: violation, held.
  // Before: +20 held, +60 expired (moved). Total: held 2, violation 1, expired 1.
  const ev: StickyEvent[] = [
    rules(T0 - 2 * S, 'n1', [A, B, C], 10800, 'shop/web:http-rules'),
    k8s(T0 - S, [web([A, B, C], 30), other]),
  ];
  ev.push(...timeline('n1'));
  ev.splice(5, 0, k8s(T0 + 65 * S, [other]));
  const { web: svc } = report(ev.sort((x, y) => x.ts - y.ts));
  assert.deepEqual(svc.affinityVerdicts, {
    held: 2,
    violation: 1,
    forcedRepick: 0,
    expired: 1,
    compliance: 2 / 3,
    violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 1 },
    pending: 0,
    expiredMoved: 1,
  });
  assert.deepEqual(svc.affinity, { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' });
  assert.equal(svc.name, 'shop/web:http-rules');
});

test('an EndpointSlice change mid-stream turns a violation into a forced re-pick where the node has no rules for the service', () => {
  // n2 sends no rules; n1's rules still list B after the API dropped it (kube-proxy lags).
  // n2, client .2: +1 A; +2 B (A listed: violation); API drops B at +2.5;
  //   +3 C (B gone from the API: forcedRepick); +4 A (C listed: violation).
  // n1, client .3: +2 B; +3 C: n1's own rules still list B, so violation.
  // The API brings B back at +4.5: K = {A, B, C}.
  const ev: StickyEvent[] = [
    rules(T0, 'n1', [A, B, C], 100),
    k8s(T0, [web([A, B, C], 100)]),
    dnat(T0 + 1 * S, '10.0.0.2', A, 'n2'),
    dnat(T0 + 2 * S, '10.0.0.2', B, 'n2'),
    dnat(T0 + 2 * S + 1, '10.0.0.3', B, 'n1'),
    k8s(T0 + 2.5 * S, [web([A, C], 100)]),
    dnat(T0 + 3 * S, '10.0.0.2', C, 'n2'),
    dnat(T0 + 3 * S + 1, '10.0.0.3', C, 'n1'),
    dnat(T0 + 4 * S, '10.0.0.2', A, 'n2'),
    k8s(T0 + 4.5 * S, [web([A, B, C], 100)]),
  ];
  const { r, web: svc } = report(ev);
  assert.deepEqual(svc.affinityVerdicts, {
    held: 0,
    violation: 3,
    forcedRepick: 1,
    expired: 0,
    compliance: 0,
    violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 3 },
    pending: 0,
    expiredMoved: 0,
  });
  assert.deepEqual(r.nodes, ['n1', 'n2']);
  assert.deepEqual(
    svc.backends.map((b) => [b.backend, b.selections]),
    [
      [A, 2],
      [B, 2],
      [C, 2],
    ],
  );
  assert.equal(svc.stickiness.expectedRandom, 1 / 3);
});

test('the API endpoints count toward K only where some node is judged against them', () => {
  // n1's rules list A and B; the API lists A, B and C. Only n1 selects: K = 2.
  const base: StickyEvent[] = [
    rules(T0, 'n1', [A, B], 100),
    k8s(T0, [web([A, B, C], 100)]),
    dnat(T0 + S, '10.0.0.4', A, 'n1'),
  ];
  assert.deepEqual(
    report(base).web.backends.map((b) => b.backend),
    [A, B],
  );
  // n2, without rules, selects too: it is judged against the API, so C counts: K = 3.
  const both = report([...base, dnat(T0 + 2 * S, '10.0.0.4', A, 'n2')]).web;
  assert.deepEqual(
    both.backends.map((b) => b.backend),
    [A, B, C],
  );
  assert.equal(both.stickiness.expectedRandom, 1 / 3);
});
