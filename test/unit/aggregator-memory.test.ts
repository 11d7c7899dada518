// Bounded memory: idle expiry and the pair cap (both counted), the compact pair table
// against a plain Map model, and the measured bytes per pair and throughput.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnatEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { PairTable } from '../../src/aggregator/pair-table.js';
import { measurePairMemory } from '../../scripts/bench/measure-memory.js';
import { measureThroughput } from '../../scripts/bench/measure-throughput.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1e6;

function dnat(ts: number, client: string, backend = '10.1.1.2:80'): DnatEvent {
  return dnatEvent({ ts, client: `${client}:1`, service: '10.96.0.1:80', backend });
}

test('idle entries expire after idleSeconds and are counted', () => {
  const state = createState({ idleSeconds: 10 });
  applyEvents(state, [dnat(T0, '10.0.0.1'), dnat(T0 + 5 * S, '10.0.0.2'), dnat(T0 + 10 * S, '10.0.0.1')]);
  assert.equal(state.pairs.size, 2, 'exactly idleSeconds is not idle yet');
  applyEvents(state, [dnat(T0 + 15 * S + 1, '10.0.0.3')]);
  assert.equal(state.pairs.size, 2, '10.0.0.2 expired 10 s + 1 us after its pick');
  applyEvents(state, [dnat(T0 + 30 * S, '10.0.0.2')]);
  const r = buildReport(state, { scope: 'cumulative' });
  assert.deepEqual(r.evictions, { idle: 3, capacity: 0, services: 0, openViolations: 0 });
  // The returning client starts a new pair: only 10.0.0.1's first pair survives in the figures.
  assert.equal(r.services[0]!.stickiness.pairs, 1);
  assert.deepEqual(
    r.services[0]!.clients.map((c) => c.client),
    ['10.0.0.2'],
  );
});

test('maxPairs evicts the least recently active entry and counts it', () => {
  const state = createState({ maxPairs: 2 });
  applyEvents(state, [
    dnat(T0, '10.0.0.1'),
    dnat(T0 + 1, '10.0.0.2'),
    dnat(T0 + 2, '10.0.0.1'),
    dnat(T0 + 3, '10.0.0.3'),
  ]);
  const r = buildReport(state, { scope: 'cumulative' });
  assert.deepEqual(r.evictions, { idle: 0, capacity: 1, services: 0, openViolations: 0 });
  assert.deepEqual(
    r.services[0]!.clients.map((c) => c.client),
    ['10.0.0.1', '10.0.0.3'],
    '10.0.0.2 was least recently active',
  );
  assert.equal(r.services[0]!.selections, 4, 'service totals keep evicted selections');
});

test('pair table agrees with a Map under random inserts, touches and removals', () => {
  const table = new PairTable();
  const model = new Map<string, number>();
  let x = 12345;
  const rand = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  for (let step = 0; step < 200_000; step++) {
    const node = rand(3);
    const svc = rand(50);
    const client = rand(2000) + (rand(4) === 0 ? 4294967296 : 0);
    const key = `${node}/${svc}/${client}`;
    const p = table.find(node, svc, client);
    assert.equal(p !== -1, model.has(key), `membership of ${key} at step ${step}`);
    if (p === -1) model.set(key, table.insert(node, svc, client, -1));
    else if (rand(3) === 0) {
      table.remove(p);
      model.delete(key);
    } else table.touch(p);
  }
  assert.equal(table.size, model.size);
  for (const [key, p] of model) {
    const [node, svc, client] = key.split('/').map(Number) as [number, number, number];
    assert.equal(table.find(node, svc, client), p);
  }
  assert.equal([...table.newestFirst()].length, model.size);
});

test('memory per pair stays under 200 bytes; throughput is measured', (t) => {
  for (const pairs of [10_000, 100_000]) {
    const m = measurePairMemory(pairs);
    t.diagnostic(
      `${pairs} pairs: ${m.accountedBytesPerPair.toFixed(1)} B/pair accounted, ${m.measuredBytesPerPair.toFixed(1)} B/pair measured, window ${(m.windowBytes / 1e6).toFixed(1)} MB`,
    );
    assert.ok(m.accountedBytesPerPair < 200, `accounted ${m.accountedBytesPerPair} B/pair`);
  }
  const tp = measureThroughput(1_000_000);
  t.diagnostic(`applyEvents: ${Math.round(tp.eventsPerSecond)} events/s over ${tp.events} events (${tp.pairs} pairs)`);
  assert.equal(tp.pairs, 50_000);
});

test('maxServices: selections of a new Service past it are dropped and counted (invented Service keys)', () => {
  const state = createState({ maxServices: 2 });
  const at = (i: number, service: string) => ({ ...dnat(T0 + i, `10.0.0.${i}`), service });
  applyEvents(state, [at(1, '10.96.0.1:80'), at(2, '10.96.0.2:80'), at(3, '10.96.0.3:80'), at(4, '10.96.0.1:80')]);
  const r = buildReport(state, { scope: 'cumulative' });
  assert.deepEqual(
    r.services.map((s) => [s.service, s.selections]),
    [
      ['10.96.0.1:80/tcp', 2],
      ['10.96.0.2:80/tcp', 1],
    ],
  );
  assert.equal(r.evictions.services, 1);
});
