// The agent's rules-read watermark on the wire: kept in its place among the events by our decoder, skipped by a
// reader that knows only the older .proto (no rules_read field), which still gets every event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { decodeBatch, encodeBatch } from '../../src/protocol/wire.js';
import type { StickyEvent } from '../../src/core/event.js';
import { eventFromJson, eventToJson } from '../../src/core/event-json.js';
import { eventProblem } from '../../src/protocol/validate.js';

const ts = 1_795_435_865_123_456;
const events: StickyEvent[] = [
  {
    type: 'dnat',
    ts,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.2:39402',
    service: '10.96.0.11:80',
    backend: '10.1.3.2:8080',
    hook: 'prerouting',
    ctId: 'a1',
  },
  { type: 'rulesRead', ts: ts + 5, node: 'n1', readAt: ts - 20 },
  { type: 'rulesRead', ts: ts + 6, node: 'n2', readAt: ts + 1 },
  { type: 'lost', ts: ts + 7, node: 'n1', count: 1 },
];

test('watermarks round-trip in their place, another node named where it differs', () => {
  assert.deepEqual(decodeBatch(encodeBatch(events)), events);
  assert.deepEqual(decodeBatch(encodeBatch([events[1]!])), [events[1]]);
});

test('a reader of the .proto without rules_read reads the same batch: every other event, nothing refused', () => {
  const text = readFileSync(new URL('../../../proto/stickyscope.proto', import.meta.url), 'utf8');
  const older = text.replace(/^\s*repeated RulesRead rules_read = 3;$/m, '');
  assert.notEqual(older, text, 'the field was taken out of the older .proto');
  const Batch = protobuf.parse(older, { keepCase: true }).root.lookupType('stickyscope.v1.EventBatch');
  const plain = Batch.toObject(Batch.decode(encodeBatch(events)), { longs: Number }) as {
    events: { dnat?: unknown; lost?: unknown }[];
  };
  assert.equal(plain.events.length, 2);
  assert.ok(plain.events[0]!.dnat && plain.events[1]!.lost);
});

test('JSON export carries readAt as a time and reads it back', () => {
  const e = events[1]!;
  const json = eventToJson(e);
  assert.equal(typeof json.readAt, 'string');
  assert.deepEqual(eventFromJson(JSON.parse(JSON.stringify(json))), e);
});

test('a watermark ahead of its own event is refused (it would settle verdicts on rules not read yet)', () => {
  const now = ts + 1e6;
  assert.equal(eventProblem(events[1], now), null);
  assert.equal(eventProblem({ ...events[1]!, readAt: ts + 10 }, now)?.field, 'readAt');
});
