// src/protocol/tags.ts checked against proto/stickyscope.proto, parsed here by protobufjs's
// own parser: every field and enum number the hand-written codec uses, and no field or
// value of those messages and enums left out of the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import {
  affinityModeNumber,
  affinitySourceByNumber,
  affinitySourceNumber,
  BatchField,
  EventField,
  FlowField,
  hookByNumber,
  hookNumber,
  protoByNumber,
  protoNumber,
} from '../../src/protocol/tags.js';

const root = protobuf.parse(readFileSync(new URL('../../../proto/stickyscope.proto', import.meta.url), 'utf8'), {
  keepCase: false,
}).root;

function fieldsOf(message: string): Record<string, { id: number; type: string }> {
  const type = root.lookupType(`stickyscope.v1.${message}`);
  return Object.fromEntries(type.fieldsArray.map((f) => [f.name, { id: f.id, type: f.type }]));
}

function valuesOf(enumName: string): Record<string, number> {
  return { ...root.lookupEnum(`stickyscope.v1.${enumName}`).values };
}

test('field numbers are those of the .proto, for every field of the messages the fast codec writes', () => {
  for (const [message, table] of [
    ['EventBatch', BatchField],
    ['Event', EventField],
    ['Flow', FlowField],
  ] as const) {
    const fields = fieldsOf(message);
    const ids = Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.id]));
    assert.deepEqual({ ...table }, ids, `field numbers of ${message}`);
  }
});

test('the fields the fast codec writes have the types whose wire types it assumes', () => {
  const batch = fieldsOf('EventBatch');
  assert.deepEqual([batch.node!.type, batch.events!.type], ['string', 'Event']);
  const event = fieldsOf('Event');
  assert.equal(event.ts!.type, 'double');
  assert.equal(event.node!.type, 'string');
  for (const kind of ['dnat', 'snat', 'insert']) assert.equal(event[kind]!.type, 'Flow');
  for (const [name, f] of Object.entries(fieldsOf('Flow')))
    assert.equal(f.type, name === 'proto' ? 'Proto' : name === 'hook' ? 'Hook' : 'string', `Flow.${name}`);
  const affinity = fieldsOf('Affinity');
  assert.deepEqual([affinity.mode!.type, affinity.source!.type], ['Mode', 'Source']);
  assert.equal(fieldsOf('Filter').protos!.type, 'Proto');
});

test('enum numbers are those of the .proto, for every value but the unspecified one', () => {
  const upper = (names: Record<string, number>, spelled: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(names).map(([n, v]) => [spelled[n] ?? n.toUpperCase(), v]));
  const withoutUnspecified = (values: Record<string, number>) =>
    Object.fromEntries(Object.entries(values).filter(([n]) => !n.endsWith('_UNSPECIFIED')));
  assert.deepEqual(upper(protoNumber), withoutUnspecified(valuesOf('Proto')));
  assert.deepEqual(upper(hookNumber), withoutUnspecified(valuesOf('Hook')));
  assert.deepEqual(upper(affinityModeNumber, { ClientIP: 'CLIENT_IP' }), valuesOf('Affinity.Mode'));
  assert.deepEqual(upper(affinitySourceNumber), valuesOf('Affinity.Source'));
});

test('the lookups by number name each number of the table and nothing else', () => {
  for (const [numbers, byNumber] of [
    [protoNumber, protoByNumber],
    [hookNumber, hookByNumber],
    [affinitySourceNumber, affinitySourceByNumber],
  ] as const) {
    const named = byNumber.flatMap((name, n) => (name === undefined ? [] : [[name, n]]));
    assert.deepEqual(Object.fromEntries(named), { ...numbers });
  }
});
