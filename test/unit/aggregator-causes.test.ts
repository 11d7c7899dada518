// A violation's cause settled late: the xt_recent eviction behind it reported after the
// violation, as the agent's 250 ms list reads do when a client comes back milliseconds
// after a re-pick pushed it out. Hand-built timelines; expected values worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEvent, DnatEvent, EvictedEvent, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState, type StateOptions } from '../../src/aggregator/state.js';
import { clientDetails, drainNotable } from '../../src/aggregator/queries.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const MS = 1e3;
const SVC = '10.96.0.11:80';
const [A, B, C] = ['10.1.1.2:8080', '10.1.2.2:8080', '10.1.3.2:8080'];

const catalog = (node = 'n1'): CatalogEvent => ({
  type: 'catalog',
  ts: T0,
  node,
  services: [
    {
      service: `${SVC}/tcp`,
      name: 'lab/sticky:http',
      affinity: { mode: 'ClientIP', timeoutSeconds: 10, source: 'rules' },
      endpoints: [A, B, C],
    },
  ],
});
const dnat = (ts: number, client: string, backend: string, node = 'n1'): DnatEvent =>
  dnatEvent({ ts, node, client: `${client}:40000`, service: SVC, backend });
const evicted = (since: number, ts: number, client: string, endpoint: string, node = 'n1'): EvictedEvent => ({
  type: 'evicted',
  ts,
  since,
  node,
  list: `KUBE-SEP-${endpoint}`,
  endpoint,
  client,
  capacity: 100,
});
/** Advances event time without selections (the probe's periodic counters). */
const tick = (ts: number, node = 'n1'): StickyEvent => ({
  type: 'counters',
  ts,
  node,
  insertFailed: 0,
  drop: 0,
  earlyDrop: 0,
  entries: 0,
});

function run(events: StickyEvent[], opts: StateOptions = {}) {
  const state = createState({ windowSeconds: 3600, ...opts });
  applyEvents(state, events);
  return state;
}

const causes = (state: ReturnType<typeof run>, scope: 'window' | 'cumulative' = 'cumulative') =>
  buildReport(state, { scope }).services[0]!.affinityVerdicts.violationCauses;

const violationNotables = (state: ReturnType<typeof run>) =>
  drainNotable(state).events.flatMap((n) =>
    n.kind === 'violation'
      ? [
          {
            client: n.client,
            from: n.from,
            to: n.to,
            cause: n.cause,
            ts: n.ts,
            ...(n.revised ? { revised: true } : {}),
          },
        ]
      : [],
  );

test('an eviction reported after the violation makes it listFull: tallies, window, client detail, notable revised', () => {
  const v = T0 + 5 * S;
  const state = run([
    catalog(),
    dnat(T0 + S, '10.0.0.1', A),
    // The re-pick of another client evicts 10.0.0.1 from A's list at v - 3 ms; it comes back at v.
    dnat(v, '10.0.0.1', B),
  ]);
  assert.deepEqual(
    causes(state),
    { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 1 },
    'open: counted unknown meanwhile',
  );
  assert.deepEqual(
    violationNotables(state),
    [{ client: '10.0.0.1', from: A, to: B, cause: 'unknown', ts: v }],
    'announced at once',
  );
  assert.equal(clientDetails(state, `${SVC}/tcp`)[0]!.lastSwitch?.cause, 'unknown');

  // The list read that began 200 ms before the violation and ended 50 ms after it missed the entry.
  applyEvents(state, [evicted(v - 200 * MS, v + 50 * MS, '10.0.0.1', A)]);
  assert.deepEqual(causes(state), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 0 });
  assert.deepEqual(causes(state, 'window'), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 0 });
  const detail = clientDetails(state, `${SVC}/tcp`)[0]!;
  assert.deepEqual(detail.lastSwitch, { at: detail.lastSwitch!.at, from: A, verdict: 'violation', cause: 'listFull' });
  assert.deepEqual(
    violationNotables(state),
    [{ client: '10.0.0.1', from: A, to: B, cause: 'listFull', ts: v, revised: true }],
    'announced again: the first was drained',
  );
  assert.equal(state.causes.reclassified, 1);

  // Much later, nothing more is emitted for it.
  applyEvents(state, [tick(v + 10 * S)]);
  assert.deepEqual(violationNotables(state), []);
  assert.deepEqual(causes(state), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 0 });
});

test('evictions that cannot explain the violation leave it unknown; after the horizon none can', () => {
  const v = T0 + 5 * S;
  const state = run([
    catalog(),
    catalog('n2'),
    dnat(T0 + S, '10.0.0.1', A),
    dnat(v, '10.0.0.1', B),
    evicted(v + 1, v + 250 * MS, '10.0.0.1', A), // the interval starts after the violation
    evicted(v - 250 * MS, v + 10 * MS, '10.0.0.1', B), // the list it moved to, not the one it left
    evicted(v - 250 * MS, v + 10 * MS, '10.0.0.1', A, 'n2'), // another node's list
    evicted(v - 250 * MS, v + 10 * MS, '10.0.0.9', A), // another client
    tick(v + 2 * S - 1),
  ]);
  assert.deepEqual(violationNotables(state), [{ client: '10.0.0.1', from: A, to: B, cause: 'unknown', ts: v }]);
  assert.equal(state.causes.openCount, 1, 'still open just under the 2 s horizon');
  applyEvents(state, [tick(v + 2 * S)]);
  assert.equal(state.causes.openCount, 0);
  // An explaining eviction after the horizon comes too late: the cause stays settled.
  applyEvents(state, [evicted(v - 100 * MS, v + 2 * S + 1, '10.0.0.1', A)]);
  assert.deepEqual(causes(state), { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 1 });
  assert.deepEqual(violationNotables(state), []);
});

test('an eviction seen before the violation settles it at once; each eviction explains one violation', () => {
  const state = run([
    catalog(),
    dnat(T0 + S, '10.0.0.1', A),
    dnat(T0 + S + 1, '10.0.0.2', A),
    evicted(T0 + 2 * S, T0 + 2 * S + 250 * MS, '10.0.0.1', A),
    dnat(T0 + 3 * S, '10.0.0.1', B), // listFull, settled now
    dnat(T0 + 4 * S, '10.0.0.1', A), // back to A with B still listed and no eviction from B: violation
    dnat(T0 + 5 * S, '10.0.0.1', B), // the eviction from A was used up by the first violation
    tick(T0 + 8 * S),
  ]);
  assert.deepEqual(
    violationNotables(state).map((n) => [n.ts, n.cause]),
    [
      [T0 + 3 * S, 'listFull'],
      [T0 + 4 * S, 'unknown'],
      [T0 + 5 * S, 'unknown'],
    ],
  );
  assert.deepEqual(causes(state), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 2 });
});

test('an eviction arriving before the notable was drained corrects it in place: one line, final cause', () => {
  const v = T0 + 5 * S;
  const state = run([
    catalog(),
    dnat(T0 + S, '10.0.0.1', A),
    dnat(v, '10.0.0.1', B),
    dnat(v + 3 * MS, '10.0.0.2', C),
    evicted(v - 240 * MS, v + 10 * MS, '10.0.0.1', A),
  ]);
  assert.deepEqual(violationNotables(state), [{ client: '10.0.0.1', from: A, to: B, cause: 'listFull', ts: v }]);
});

test('a reclassified violation that already left the window changes only the cumulative figures', () => {
  const v = T0 + 5 * S;
  const state = run(
    [
      catalog(),
      dnat(T0 + S, '10.0.0.1', A),
      dnat(v, '10.0.0.1', B),
      tick(v + 1500 * MS), // a 1 s window no longer holds the violation
      evicted(v - 100 * MS, v + 1500 * MS, '10.0.0.1', A),
    ],
    { windowSeconds: 1 },
  );
  assert.deepEqual(causes(state), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 0 });
  assert.deepEqual(causes(state, 'window'), { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 0 });
  // And the window's tallies stay whole when its selections leave: none goes negative.
  applyEvents(state, [tick(v + 10 * S)]);
  assert.deepEqual(causes(state, 'window'), { listFull: 0, setFull: 0, crossFrontend: 0, unknown: 0 });
});

test('open violations are bounded: the oldest is settled unknown early and counted', () => {
  const state = run(
    [
      catalog(),
      dnat(T0, '10.0.0.1', A),
      dnat(T0 + 1, '10.0.0.2', A),
      dnat(T0 + S, '10.0.0.1', B), // open
      dnat(T0 + S + 1, '10.0.0.2', C), // opens too, pushing the first out
      evicted(T0 + S - 100 * MS, T0 + S + 100 * MS, '10.0.0.1', A),
      evicted(T0 + S - 100 * MS, T0 + S + 100 * MS, '10.0.0.2', A),
    ],
    { maxOpenViolations: 1 },
  );
  assert.deepEqual(causes(state), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 1 });
  assert.deepEqual(
    violationNotables(state).map((n) => [n.client, n.cause]),
    [
      ['10.0.0.1', 'unknown'],
      ['10.0.0.2', 'listFull'],
    ],
  );
  assert.equal(buildReport(state, { scope: 'cumulative' }).evictions.openViolations, 1);
  assert.equal(state.causes.openCount, 0);
});

test('older traces: an eviction without `since` counts as happening at its ts', () => {
  const state = run([
    catalog(),
    dnat(T0, '10.0.0.1', A),
    dnat(T0 + S, '10.0.0.1', B),
    {
      type: 'evicted',
      ts: T0 + S + 100 * MS,
      node: 'n1',
      list: 'KUBE-SEP-A',
      endpoint: A,
      client: '10.0.0.1',
      capacity: 100,
    },
    dnat(T0 + 2 * S, '10.0.0.2', A),
    {
      type: 'evicted',
      ts: T0 + 2 * S + 100 * MS,
      node: 'n1',
      list: 'KUBE-SEP-A',
      endpoint: A,
      client: '10.0.0.2',
      capacity: 100,
    },
    dnat(T0 + 3 * S, '10.0.0.2', C),
  ]);
  // 10.0.0.1: evicted (as far as is known) after its violation; 10.0.0.2: in between its picks.
  assert.deepEqual(causes(state), { listFull: 1, setFull: 0, crossFrontend: 0, unknown: 1 });
});
