// The hand-written EventBatch encoder against protobufjs: randomized batches of every event type (ASCII, multi-byte,
// lone surrogates, strings long enough for multi-byte length prefixes) must be byte for byte what protobufjs's
// reflection encoder writes from the .proto, and protobufjs must read them back as the events encoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatch } from '../../src/protocol/wire.js';
import type { Hook, Proto, StickyEvent } from '../../src/core/event.js';
import { Batch, referenceDecode } from '../helpers/wire-reference.js';

let seed = 0xe4c0;
const rand = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const protos: Proto[] = ['tcp', 'udp', 'sctp'];
const hooks: Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
const texts = [
  '',
  '10.96.0.10:80',
  '[fd00::10]:53',
  'lab/wéb:http',
  'ns/日本:dns',
  'pod-😀',
  'lone-\uD800-x',
  'x\uDC00',
  'z'.repeat(126),
  'y'.repeat(127),
  'w'.repeat(300),
  'é'.repeat(50),
  'q'.repeat(20_000),
];
const text = (): string => (rand() < 0.5 ? pick(texts) : `10.${int(256)}.${int(256)}.${int(256)}:${int(65536)}`);
// An empty optional string is no string on the wire (proto3): those are absent or non-empty.
const name = (): string => text() || 'n';
const nodes = ['n1', 'node-2', 'nœud-3'];

function flowFields(node: string, ts: number) {
  const f = {
    ts,
    node,
    proto: pick(protos),
    client: text(),
    service: text(),
    backend: text(),
    hook: pick(hooks),
    ctId: int(2 ** 32)
      .toString(16)
      .padStart(16, '0'),
  };
  return { ...f, ...(rand() < 0.5 ? {} : { serviceName: name() }), ...(rand() < 0.5 ? {} : { backendPod: name() }) };
}

function randomEvent(batchNode: string): StickyEvent {
  const node = rand() < 0.8 ? batchNode : pick(nodes);
  const ts = rand() < 0.05 ? 0 : 1.7e15 + int(1e12) + (rand() < 0.1 ? 0.5 : 0);
  switch (int(11)) {
    case 0:
      return { ...flowFields(node, ts), type: 'snat', snat: text() };
    case 1:
      return { ...flowFields(node, ts), type: 'insert' };
    case 2:
      return { type: 'lost', ts, node, count: int(2 ** 40) };
    case 3:
      return {
        type: 'counters',
        ts,
        node,
        insertFailed: int(100),
        drop: int(2 ** 33),
        earlyDrop: 0,
        entries: int(262144),
      };
    case 4:
      return {
        type: 'catalog',
        ts,
        node,
        services: Array.from({ length: int(3) }, () => ({
          service: `${text()}/${pick(protos)}`,
          name: rand() < 0.3 ? null : text(),
          affinity: {
            mode: 'ClientIP' as const,
            timeoutSeconds: 1 + int(86400),
            source: pick(['rules', 'k8s', 'inferred'] as const),
          },
          endpoints: Array.from({ length: int(3) }, text),
        })),
      };
    case 5:
      return {
        type: 'evicted',
        ts,
        node,
        list: 'KUBE-SEP-' + int(1e6),
        endpoint: text(),
        client: text(),
        capacity: int(2 ** 32),
        ...(rand() < 0.5 ? { since: ts - 250_000 } : {}),
      };
    case 6:
      return rand() < 0.5
        ? { type: 'node', ts, node, state: 'up' }
        : { type: 'node', ts, node, state: 'down', reason: name() };
    default:
      return { ...flowFields(node, ts), type: 'dnat' };
  }
}

// The wire message written out from the .proto (field names as declared), independently of src/protocol/wire.ts.
type Msg = Record<string, unknown>;
function referenceEvent(e: StickyEvent, batchNode: string): Msg {
  const w: Msg = { ts: e.ts };
  if (e.node !== batchNode) w.node = e.node;
  switch (e.type) {
    case 'dnat':
    case 'snat':
    case 'insert': {
      const f: Msg = {
        proto: protos.indexOf(e.proto) + 1,
        client: e.client,
        service: e.service,
        backend: e.backend,
        hook: hooks.indexOf(e.hook) + 1,
        ct_id: e.ctId,
      };
      if (e.serviceName !== undefined) f.service_name = e.serviceName;
      if (e.backendPod !== undefined) f.backend_pod = e.backendPod;
      if (e.type === 'snat') f.snat = e.snat;
      w[e.type] = f;
      break;
    }
    case 'lost':
      w.lost = { count: e.count };
      break;
    case 'counters':
      w.counters = { insert_failed: e.insertFailed, drop: e.drop, early_drop: e.earlyDrop, entries: e.entries };
      break;
    case 'catalog':
      w.catalog = {
        services: e.services.map((s) => ({
          service: s.service,
          name: s.name ?? '',
          endpoints: s.endpoints,
          affinity: {
            mode: s.affinity.mode === 'ClientIP' ? 1 : 0,
            timeout_seconds: s.affinity.timeoutSeconds ?? 0,
            source: ['rules', 'k8s', 'inferred'].indexOf(s.affinity.source),
          },
        })),
      };
      break;
    case 'evicted':
      w.evicted = {
        list: e.list,
        endpoint: e.endpoint,
        client: e.client,
        capacity: e.capacity,
        ...(e.since === undefined ? {} : { since: e.since }),
      };
      break;
    case 'node':
      w.node_state = { up: e.state === 'up', reason: e.reason ?? '' };
      break;
  }
  return w;
}

function referenceEncode(events: StickyEvent[]): Uint8Array {
  const node = events.length > 0 ? events[0]!.node : '';
  return Batch.encode({ node, events: events.map((e) => referenceEvent(e, node)) }).finish();
}

test('random batches of every event type encode to the bytes protobufjs writes, and read back as the events', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const batchNode = pick(nodes);
    const events = Array.from({ length: int(40) }, () => randomEvent(batchNode));
    for (const e of events) seen.add(e.type);
    const bytes = encodeBatch(events);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(referenceEncode(events)), `batch ${i}`);
    // protobufjs writes lone surrogates but will not read them back; the bytes above are the contract there.
    if (/\\ud[89a-f]/i.test(JSON.stringify(events))) continue;
    assert.deepEqual(
      referenceDecode(bytes),
      events.map((e) =>
        e.type === 'catalog'
          ? { ...e, services: e.services.map((s) => ({ ...s, name: s.name === '' ? null : s.name })) }
          : e,
      ),
    );
  }
  assert.deepEqual([...seen].sort(), ['catalog', 'counters', 'dnat', 'evicted', 'insert', 'lost', 'node', 'snat']);
});

test('each encoded batch is its own: bytes kept from one batch do not change when the next is encoded', () => {
  const a = [randomEvent('n1'), randomEvent('n1')];
  const first = encodeBatch(a);
  const copy = Buffer.from(first);
  encodeBatch(Array.from({ length: 5000 }, () => randomEvent('n1')));
  assert.deepEqual(Buffer.from(first), copy);
});

test('an empty batch is what protobufjs writes for one', () => {
  assert.deepEqual(Buffer.from(encodeBatch([])), Buffer.from(referenceEncode([])));
});
