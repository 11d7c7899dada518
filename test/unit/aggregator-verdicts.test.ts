// Affinity verdicts on hand-built timelines: gaps just under, equal to and just over T,
// violations with and without an xt_recent eviction, a forced re-pick after an
// endpoint is removed, and services without affinity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, ServiceInfo, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { drainNotable } from '../../src/aggregator/queries.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const SVC = '10.96.0.10:80';
const [A, B, C] = ['10.1.1.2:8080', '10.1.1.3:8080', '10.1.1.4:8080'];

function dnat(ts: number, client: string, backend: string, node = 'n1'): DnatEvent {
  return dnatEvent({ ts, node, client: `${client}:40000`, service: SVC, backend });
}

function catalog(ts: number, endpoints: string[], affinity: ServiceInfo['affinity'], node = 'n1'): CatalogEvent {
  return {
    type: 'catalog',
    ts,
    node,
    services: [{ service: `${SVC}/tcp`, name: 'lab/web:http', affinity, endpoints }],
  };
}

const clientIP = (timeoutSeconds: number): ServiceInfo['affinity'] => ({
  mode: 'ClientIP',
  timeoutSeconds,
  source: 'k8s',
});

test('verdicts: held at g < T and g = T, expired at g = T + 1us, violations by cause, forced re-pick', () => {
  const T = 10 * S;
  let t = T0;
  const ev: StickyEvent[] = [catalog(t, [A, B, C], clientIP(10))];
  ev.push(dnat(t, '10.0.0.1', A));
  t += T - 1;
  ev.push(dnat(t, '10.0.0.1', A)); // held, just under T
  t += T;
  ev.push(dnat(t, '10.0.0.1', A)); // held, exactly T
  t += T + 1;
  ev.push(dnat(t, '10.0.0.1', B)); // expired, moved
  t += S;
  ev.push(dnat(t, '10.0.0.1', C)); // violation: B still an endpoint, no eviction
  ev.push({
    type: 'evicted',
    ts: t + S / 2,
    node: 'n1',
    list: 'KUBE-SEP-C',
    endpoint: C,
    client: '10.0.0.1',
    capacity: 100,
  });
  t += S;
  ev.push(dnat(t, '10.0.0.1', A)); // violation, listFull: C's entry evicted in between
  ev.push(catalog(t + S / 2, [B, C], clientIP(10))); // A removed
  t += S;
  ev.push(dnat(t, '10.0.0.1', B)); // forced re-pick: A no longer an endpoint
  const state = createState({ windowSeconds: 3600 });
  applyEvents(state, ev);
  const svc = buildReport(state, { scope: 'cumulative' }).services[0]!;
  assert.deepEqual(svc.affinityVerdicts, {
    held: 2,
    violation: 2,
    forcedRepick: 1,
    expired: 1,
    compliance: 0.5,
    violationCauses: { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 1 },
    pending: 0,
    expiredMoved: 1,
  });
  assert.deepEqual(svc.stickiness, { pairs: 6, sameBackend: 2, ratio: 2 / 6, expectedRandom: 1 / 3 });
  // The client's row counts its two violations, whatever their cause, in the window as over everything.
  const win = buildReport(state, { scope: 'window' }).services[0]!;
  assert.deepEqual(
    [svc.clients.map((c) => [c.client, c.violations]), win.clients.map((c) => [c.client, c.violations])],
    [[['10.0.0.1', 2]], [['10.0.0.1', 2]]],
  );
  const violations = drainNotable(state).events.filter((n) => n.kind === 'violation');
  assert.deepEqual(
    violations.map((v) => v.kind === 'violation' && [v.from, v.to, v.cause, v.gapSeconds]),
    [
      [B, C, 'unknown', 1],
      [C, A, 'listFull', 1],
    ],
  );
  assert.deepEqual(drainNotable(state).events, [], 'drained events are gone');
});

test('an eviction outside the two selections does not make a violation listFull', () => {
  const ev: StickyEvent[] = [
    catalog(T0, [A, B], clientIP(100)),
    { type: 'evicted', ts: T0 + 1, node: 'n1', list: 'KUBE-SEP-A', endpoint: A, client: '10.0.0.2', capacity: 100 },
    dnat(T0 + 2, '10.0.0.2', A),
    dnat(T0 + 3 * S, '10.0.0.2', B), // violation; the eviction was before the first pick
    { type: 'evicted', ts: T0 + 4 * S, node: 'n2', list: 'KUBE-SEP-B', endpoint: B, client: '10.0.0.2', capacity: 100 },
    dnat(T0 + 5 * S, '10.0.0.2', A), // violation; that eviction was on another node
  ];
  const state = createState();
  applyEvents(state, ev);
  const v = buildReport(state, { scope: 'cumulative' }).services[0]!.affinityVerdicts;
  assert.deepEqual(v.violationCauses, { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 2 });
  assert.equal(v.compliance, 0);
});

test('a service without affinity gets no verdicts, only stickiness', () => {
  const ev: StickyEvent[] = [catalog(T0, [A, B], { mode: 'None', timeoutSeconds: null, source: 'k8s' })];
  for (const [i, b] of [A, A, B, A].entries()) ev.push(dnat(T0 + i * S, '10.0.0.3', b));
  const state = createState();
  applyEvents(state, ev);
  const svc = buildReport(state, { scope: 'window' }).services[0]!;
  assert.deepEqual(svc.affinityVerdicts, {
    held: 0,
    violation: 0,
    forcedRepick: 0,
    expired: 0,
    compliance: null,
    violationCauses: { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 0 },
    pending: 0,
    expiredMoved: 0,
  });
  assert.deepEqual(svc.stickiness, { pairs: 3, sameBackend: 1, ratio: 1 / 3, expectedRandom: 0.5 });
});

test('affinity is per node: a pick on another node starts its own pair', () => {
  const ev: StickyEvent[] = [catalog(T0, [A, B], clientIP(10), 'n1'), catalog(T0, [A, B], clientIP(10), 'n2')];
  ev.push(dnat(T0 + 1, '10.0.0.4', A, 'n1'), dnat(T0 + 2, '10.0.0.4', B, 'n2'), dnat(T0 + 3, '10.0.0.4', A, 'n1'));
  const state = createState();
  applyEvents(state, ev);
  const v = buildReport(state, { scope: 'cumulative' }).services[0]!.affinityVerdicts;
  assert.equal(v.held, 1);
  assert.equal(v.violation, 0);
});
