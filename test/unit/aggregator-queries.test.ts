// What the live UI reads: per-service summaries from the window, the most recently
// active clients of a service with their last switch, checked against hand-built picks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnatEvent, StickyEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { clientDetails, serviceSummaries } from '../../src/aggregator/queries.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;
const iso = (ts: number) => new Date(ts / 1000).toISOString().replace('Z', '000Z');
const [A, B] = ['10.1.1.2:80', '10.1.1.3:80'];

function dnat(ts: number, client: string, backend: string, node = 'n1'): DnatEvent {
  return dnatEvent({ ts, node, client: `${client}:1`, service: '10.96.0.1:80', backend });
}

test('serviceSummaries: rate over the last whole seconds, shares, stickiness, violations, nodes', () => {
  const ev: StickyEvent[] = [
    {
      type: 'catalog',
      ts: T0,
      node: 'n1',
      services: [
        {
          service: '10.96.0.1:80/tcp',
          name: 'lab/web:http',
          affinity: { mode: 'ClientIP', timeoutSeconds: 60, source: 'rules' },
          endpoints: [A, B],
        },
      ],
    },
  ];
  // Seconds 0..9: client .1 picks A every 0.5 s (20 picks); at 9.5 s it moves to B (a violation).
  for (let i = 0; i < 19; i++) ev.push(dnat(T0 + (i * S) / 2, '10.0.0.1', A));
  ev.push(dnat(T0 + 9.5 * S, '10.0.0.1', B, 'n1'));
  ev.push(dnat(T0 + 9.6 * S, '10.0.0.2', B, 'n2'));
  ev.push({ type: 'node', ts: T0 + 9.7 * S, node: 'n2', state: 'down' });
  const state = createState();
  applyEvents(state, ev);
  const [s] = serviceSummaries(state, { rateSeconds: 5 });
  assert.ok(s);
  assert.equal(s.selectionsPerSecond, 2, 'seconds 4..8 hold 2 picks each');
  assert.equal(s.selections, 21);
  assert.deepEqual(
    s.backends.map((b) => [b.backend, b.selections]),
    [
      [A, 19],
      [B, 2],
    ],
  );
  assert.equal(s.stickiness, 18 / 19);
  assert.equal(s.expectedRandom, 0.5);
  assert.equal(s.violations, 1);
  // 21 selections look skewed (p < 0.01), but under affinity they are 3 picks: one per client, and the violation's.
  assert.ok(s.chi2P! < 0.01);
  assert.equal(s.spread.verdict, 'tooFew');
  assert.equal(s.spread.text, 'too few to judge (3 clients on 2 pods: 1 2)');
  assert.deepEqual(s.nodesReporting, ['n1'], 'n2 is down');
});

test('clientDetails: newest first, with the last switch and its verdict', () => {
  const state = createState();
  applyEvents(state, [
    dnat(T0, '10.0.0.1', A),
    dnat(T0 + S, '10.0.0.2', A),
    dnat(T0 + 2 * S, '10.0.0.1', B),
    dnat(T0 + 3 * S, '10.0.0.1', B),
  ]);
  assert.deepEqual(clientDetails(state, '10.96.0.1:80/tcp'), [
    {
      client: '10.0.0.1',
      node: 'n1',
      backend: B,
      picks: 3,
      stickiness: 0.5,
      lastSelection: iso(T0 + 3 * S),
      lastSwitch: { at: iso(T0 + 2 * S), from: A, verdict: null },
    },
    {
      client: '10.0.0.2',
      node: 'n1',
      backend: A,
      picks: 1,
      stickiness: null,
      lastSelection: iso(T0 + S),
      lastSwitch: null,
    },
  ]);
  assert.equal(clientDetails(state, '10.96.0.1:80/tcp', 1).length, 1);
  assert.deepEqual(clientDetails(state, '10.96.0.99:80/tcp'), []);
});
