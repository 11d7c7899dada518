// UDP flows are told apart by node, service and the client's exact ip:port text, and
// the least recently active flow is the one dropped at the cap. Expected counts are
// worked out by hand from the events listed in each test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnatEvent } from '../../src/core/event.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { buildReport } from '../../src/report/build-report.js';
import { dnatEvent } from '../helpers/events.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;
const [A, B] = ['10.1.1.2:53', '10.1.1.3:53'];

function dnat(ts: number, client: string, backend: string, ctId: string, node = 'n1'): DnatEvent {
  return dnatEvent({ ts, node, proto: 'udp', client, service: '10.96.0.10:53', backend, ctId });
}

const replacements = (events: DnatEvent[], maxPairs?: number) => {
  const state = createState(maxPairs ? { maxPairs } : {});
  applyEvents(state, events);
  return buildReport(state, { scope: 'cumulative' }).services[0]!.udpContinuity!;
};

test('UDP flows differ by port, node, IPv6 address and port spelling', () => {
  const clients = ['10.0.0.1:53', '10.0.0.1:053', '10.0.0.1:54', '[fd00::1]:53', '[fd00::2]:53'];
  const events: DnatEvent[] = [];
  let ts = T0;
  // Each flow: a first entry, then a second on another backend. Another node's flow with the
  // same client gets only one entry, so it must not count as a replacement of the first.
  for (const c of clients) events.push(dnat(ts++, c, A, `${c}-1`));
  events.push(dnat(ts++, clients[0]!, A, 'other-node', 'n2'));
  for (const c of clients) events.push(dnat(ts++, c, B, `${c}-2`));
  assert.deepEqual(replacements(events), { replacements: 5, backendChanged: 5, reflectiveChanged: 0 });
});

test('at the cap the least recently active UDP flow is dropped, so its next entry is a new flow', () => {
  const [x, y, z] = ['10.0.0.1:1000', '[fd00::1]:1000', '10.0.0.3:1000'];
  const events = [
    dnat(T0, x, A, 'x1'),
    dnat(T0 + 1, y, A, 'y1'),
    dnat(T0 + 2, x, A, 'x1'), // x is now more recently active than y
    dnat(T0 + 3, z, A, 'z1'), // third flow: y goes
    dnat(T0 + 4, x, B, 'x2'), // replacement of x's entry
    dnat(T0 + 5, y, B, 'y2'), // y is new again (z goes): no replacement
    dnat(T0 + 6, y, A, 'y3'), // replacement of y's entry
  ];
  assert.deepEqual(replacements(events, 2), { replacements: 2, backendChanged: 2, reflectiveChanged: 0 });
});
