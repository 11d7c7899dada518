// Verdicts that wait for the rules: a re-pick while the old backend is still listed is held pending until the node's
// agent says it read the rules at or after the pick, then judged by that read's catalog. Hand-built timelines of a
// rollout (an endpoint removed: forced) and of a true violation; expected values worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { clientDetails, drainNotable } from '../../src/aggregator/queries.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const MS = 1e3;
const SVC = '10.96.0.11:80';
const NODE_PORT = '192.168.0.2:30080';
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];

const catalog = (ts: number, endpoints: string[], node = 'n1'): CatalogEvent => ({
  type: 'catalog',
  ts,
  node,
  services: [SVC, NODE_PORT].map((addr) => ({
    service: `${addr}/tcp`,
    name: 'lab/sticky:http',
    affinity: { mode: 'ClientIP' as const, timeoutSeconds: 10, source: 'rules' as const },
    endpoints,
  })),
});
const dnat = (ts: number, backend: string, service = SVC, node = 'n1'): DnatEvent =>
  dnatEvent({ ts, node, client: '10.0.1.2:40000', service, backend });
const read = (ts: number, readAt: number, node = 'n1'): StickyEvent => ({ type: 'rulesRead', ts, node, readAt });

function verdicts(events: StickyEvent[], end = false) {
  const state = createState({ windowSeconds: 3600 });
  applyEvents(state, events);
  if (end) state.settlePending();
  const v = buildReport(state, { scope: 'cumulative' }).services.find((s) => s.service === `${SVC}/tcp`)!;
  return { state, v: v.affinityVerdicts };
}

// C removed at T0+500ms; the client, pinned to C, re-picked A at +600ms; the agent read the rules at +900ms.
const rollout = [catalog(T0, [A, B, C]), read(T0 + 1 * MS, T0), dnat(T0 + 100 * MS, C), dnat(T0 + 600 * MS, A)];

test('a re-pick before the rules read is pending, neither violation nor forced re-pick', () => {
  const { state, v } = verdicts(rollout);
  assert.deepEqual([v.pending, v.violation, v.forcedRepick], [1, 0, 0]);
  const n = drainNotable(state).events;
  assert.equal(n.length, 1);
  assert.equal(n[0]!.kind === 'violation' && n[0]!.cause, 'pending');
  assert.equal(clientDetails(state, `${SVC}/tcp`)[0]!.lastSwitch!.verdict, 'pending');
});

test('the read after the pick shows the old backend gone: a forced re-pick, announced as such', () => {
  const { state, v } = verdicts([
    ...rollout.slice(0, -1),
    dnat(T0 + 600 * MS, A),
    catalog(T0 + 950 * MS, [A, B]),
    read(T0 + 951 * MS, T0 + 900 * MS),
  ]);
  assert.deepEqual([v.pending, v.violation, v.forcedRepick, v.held], [0, 0, 1, 0]);
  const n = drainNotable(state).events;
  assert.equal(n.length, 1, 'corrected in place while queued');
  assert.equal(n[0]!.kind === 'violation' && n[0]!.verdict, 'forcedRepick');
  assert.equal(clientDetails(state, `${SVC}/tcp`)[0]!.lastSwitch!.verdict, 'forcedRepick');
});

test('a watermark before the pick settles nothing; the read after it with C still there makes it a violation', () => {
  const early = verdicts([...rollout, read(T0 + 700 * MS, T0 + 550 * MS)]);
  assert.equal(early.v.pending, 1);
  const { state, v } = verdicts([...rollout, read(T0 + 951 * MS, T0 + 900 * MS)]);
  assert.deepEqual([v.pending, v.violation, v.violationCauses.unknown, v.forcedRepick], [0, 1, 1, 0]);
  const last = drainNotable(state).events.at(-1)!;
  assert.equal(last.kind === 'violation' && last.cause, 'unknown');
});

test('the end of a report judges what still waits by the latest rules known', () => {
  assert.deepEqual(
    (({ pending, forcedRepick }) => [pending, forcedRepick])(
      verdicts([...rollout, catalog(T0 + 950 * MS, [A, B])], true).v,
    ),
    [0, 1],
  );
  assert.deepEqual((({ pending, violation }) => [pending, violation])(verdicts(rollout, true).v), [0, 1]);
});

test('a node that never sent a watermark (an older agent or trace) is judged at once, as before', () => {
  const { v } = verdicts([catalog(T0, [A, B, C]), dnat(T0 + 100 * MS, C), dnat(T0 + 600 * MS, A)]);
  assert.deepEqual([v.pending, v.violation, v.violationCauses.unknown], [0, 1, 1]);
});

test('pinned elsewhere through another frontend of the same Service port: crossFrontend', () => {
  // ClusterIP picks C; the NodePort (Local) sends the client to A, setting A's entry; the ClusterIP then follows A.
  const { v } = verdicts([
    catalog(T0, [A, B, C]),
    read(T0 + 1 * MS, T0),
    dnat(T0 + 100 * MS, C),
    dnat(T0 + 200 * MS, A, NODE_PORT),
    dnat(T0 + 300 * MS, A),
    read(T0 + 400 * MS, T0 + 350 * MS),
  ]);
  assert.deepEqual([v.violation, v.violationCauses.crossFrontend, v.violationCauses.unknown], [1, 1, 0]);
  // The Local NodePort's pick came first, then the ClusterIP moved the client off it. kube-proxy's ClusterIP path
  // checks every endpoint's list, so this is a violation of unknown cause; but with the frontends of one Service port
  // merged into one record, the move shows only as "through another frontend", and the catalog does not say which
  // frontend is Local (the topology issue brings the traffic policies in). Until then it is named crossFrontend too.
  const before = verdicts([
    catalog(T0, [A, B, C]),
    read(T0 + 1 * MS, T0),
    dnat(T0 + 50 * MS, A, NODE_PORT),
    dnat(T0 + 100 * MS, C),
    dnat(T0 + 300 * MS, A),
    read(T0 + 400 * MS, T0 + 350 * MS),
  ]).v;
  assert.deepEqual([before.violationCauses.crossFrontend, before.violationCauses.unknown], [1, 1]);
});

test('the backend gone from a catalog after the pick and back by the covering read: forced all the same', () => {
  // The read that saw C gone began before the pick; the next began after C was added back.
  const { v } = verdicts([
    ...rollout,
    catalog(T0 + 700 * MS, [A, B]),
    read(T0 + 701 * MS, T0 + 550 * MS),
    catalog(T0 + 1700 * MS, [A, B, C]),
    read(T0 + 1701 * MS, T0 + 1600 * MS),
  ]);
  assert.deepEqual([v.pending, v.violation, v.forcedRepick], [0, 0, 1]);
});

test('a watermark that is no time (NaN, infinite: a crafted trace) is ignored: later re-picks still wait', () => {
  const crafted = [
    catalog(T0, [A, B, C]),
    read(T0 + 1 * MS, T0),
    read(T0 + 2 * MS, Number.NaN),
    read(T0 + 3 * MS, Number.POSITIVE_INFINITY),
    dnat(T0 + 100 * MS, C),
    dnat(T0 + 600 * MS, A),
  ];
  assert.equal(verdicts(crafted).v.pending, 1, 'held, not judged by rules read before it');
  const { v } = verdicts([...crafted, catalog(T0 + 950 * MS, [A, B]), read(T0 + 951 * MS, T0 + 900 * MS)]);
  assert.deepEqual([v.pending, v.forcedRepick], [0, 1]);
});
