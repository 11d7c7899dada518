// Every event type survives encode -> decode, and the bytes mean what the .proto says
// (read back with a reflection decoder built from the .proto alone, not with wire.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import {
  decodeBatch,
  decodeFilter,
  decodeInfo,
  encodeBatch,
  encodeFilter,
  encodeInfo,
} from '../../src/protocol/wire.js';
import type { StickyEvent } from '../../src/core/event.js';
import { eventFromJson, eventToJson } from '../../src/core/event-json.js';

const ts = 1_795_435_865_123_456;
const every: StickyEvent[] = [
  {
    type: 'dnat',
    ts,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.2:39402',
    service: '10.96.0.10:80',
    backend: '10.1.3.2:8080',
    hook: 'prerouting',
    ctId: 'a1b2c3d4e5f60718',
    serviceName: 'lab/web:http',
    backendPod: 'web-0',
  },
  {
    type: 'dnat',
    ts: ts + 1,
    node: 'n1',
    proto: 'udp',
    client: '[fd00::2]:5353',
    service: '[fd00::10]:53',
    backend: '[fd00:1::3]:53',
    hook: 'output',
    ctId: '01',
  },
  {
    type: 'snat',
    ts: ts + 2,
    node: 'n1',
    proto: 'udp',
    client: '10.0.1.2:3478',
    service: '10.96.0.20:3478',
    backend: '10.1.3.2:3478',
    hook: 'postrouting',
    ctId: 'ff',
    snat: '10.50.0.1:61000',
  },
  {
    type: 'insert',
    ts: ts + 3,
    node: 'n1',
    proto: 'sctp',
    client: '10.0.1.2:9',
    service: '10.0.9.9:9',
    backend: '10.0.9.9:9',
    hook: 'forward',
    ctId: '02',
  },
  {
    type: 'insert',
    ts: ts + 3,
    node: 'n1',
    proto: 'tcp',
    client: '10.0.1.2:9',
    service: '10.0.9.9:9',
    backend: '10.0.9.9:9',
    hook: 'input',
    ctId: '03',
  },
  { type: 'lost', ts: ts + 4, node: 'n1', count: 2 ** 40 + 7 },
  { type: 'counters', ts: ts + 5, node: 'n1', insertFailed: 3, drop: 4, earlyDrop: 5, entries: 262144 },
  {
    type: 'catalog',
    ts: ts + 6,
    node: 'n1',
    proxyMode: 'nftables',
    services: [
      {
        service: '10.96.0.10:80/tcp',
        name: 'lab/web:http',
        affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
        endpoints: ['10.1.1.2:8080', '10.1.2.2:8080'],
        pods: { '10.1.1.2:8080': 'web-0' },
      },
      {
        service: '10.96.0.11:53/udp',
        name: null,
        affinity: { mode: 'None', timeoutSeconds: null, source: 'k8s' },
        endpoints: [],
      },
      {
        service: '10.96.0.12:53/udp',
        name: 'a/b',
        affinity: { mode: 'ClientIP', timeoutSeconds: 5, source: 'inferred' },
        endpoints: ['10.1.1.9:53'],
      },
    ],
  },
  {
    type: 'evicted',
    ts: ts + 7,
    node: 'n1',
    list: 'KUBE-SEP-ABC',
    endpoint: '10.1.1.2:8080',
    client: '10.0.1.77',
    capacity: 100,
  },
  { type: 'node', ts: ts + 8, node: 'n2', state: 'down', reason: 'connection refused' },
  { type: 'node', ts: ts + 9, node: 'n2', state: 'up' },
  {
    type: 'evicted',
    ts: ts + 10,
    node: 'n1',
    list: 'KUBE-SEP-ABC',
    endpoint: '10.1.1.2:8080',
    client: '10.0.1.78',
    capacity: 100,
    since: ts - 250_000,
  },
];

test('every event type round-trips through an EventBatch', () => {
  assert.deepEqual(decodeBatch(encodeBatch(every)), every);
});

test('each event alone round-trips (a batch of one names its own node)', () => {
  for (const e of every) assert.deepEqual(decodeBatch(encodeBatch([e])), [e]);
});

test('an empty batch round-trips', () => {
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
});

test('the bytes follow the .proto: read back by a decoder built from the .proto text', () => {
  const root = protobuf.parse(readFileSync(new URL('../../../proto/stickyscope.proto', import.meta.url), 'utf8'), {
    keepCase: true,
  }).root;
  const Batch = root.lookupType('stickyscope.v1.EventBatch');
  const plain = Batch.toObject(Batch.decode(encodeBatch(every)), { enums: String, longs: Number, defaults: false });
  // biome-ignore lint/suspicious/noExplicitAny: protobufjs's plain object, read field by field below
  const obj = plain as any;
  assert.equal(obj.node, 'n1');
  assert.equal(obj.events[0].ts, ts);
  assert.equal(obj.events[0].node, undefined, 'same node as the batch is not repeated');
  assert.deepEqual(obj.events[0].dnat, {
    proto: 'TCP',
    client: '10.0.1.2:39402',
    service: '10.96.0.10:80',
    backend: '10.1.3.2:8080',
    hook: 'PREROUTING',
    ct_id: 'a1b2c3d4e5f60718',
    service_name: 'lab/web:http',
    backend_pod: 'web-0',
  });
  assert.equal(obj.events[2].snat.snat, '10.50.0.1:61000');
  assert.equal(obj.events[2].snat.hook, 'POSTROUTING');
  assert.equal(obj.events[5].lost.count, 2 ** 40 + 7);
  assert.equal(obj.events[6].counters.insert_failed, 3);
  assert.equal(obj.events[7].catalog.services[0].affinity.mode, 'CLIENT_IP');
  assert.equal(obj.events[7].catalog.services[0].affinity.timeout_seconds, 10800);
  assert.equal(obj.events[7].catalog.services[0].pods['10.1.1.2:8080'], 'web-0');
  assert.equal(obj.events[8].evicted.capacity, 100);
  assert.equal(obj.events[8].evicted.since, undefined, 'an unknown start is not written');
  assert.equal(obj.events[11].evicted.since, ts - 250_000);
  assert.equal(obj.events[9].node, 'n2');
  assert.equal(obj.events[9].node_state.reason, 'connection refused');
});

test('garbage is refused, not decoded into nonsense', () => {
  assert.throws(() => decodeBatch(Uint8Array.from([0x12, 0x05, 0x01])));
});

test('filter and info round-trip', () => {
  const f = {
    services: ['lab/web', '10.96.0.10:80/tcp'],
    clients: ['10.0.1.2'],
    protos: ['tcp', 'udp'] as ('tcp' | 'udp')[],
  };
  assert.deepEqual(decodeFilter(encodeFilter(f)), f);
  const info = {
    nodeName: 'n1',
    kernelRelease: '6.18.0',
    attachPoints: ['prerouting/-99', 'output/-99'],
    counters: { insertFailed: 1, drop: 2, earlyDrop: 3, entries: 4 },
    lostEvents: 5,
    subscribers: 2,
    subscriberLost: 9,
    services: 3,
    limits: {
      rejectedSubscribers: 11,
      invalidFilters: 12,
      oversizedMessages: 13,
      stalledSubscribers: 14,
      pingFloods: 15,
    },
    maxSubscribers: 16,
    proxyMode: 'nftables',
  };
  assert.deepEqual(decodeInfo(encodeInfo(info)), info);
  assert.deepEqual(decodeInfo(encodeInfo({ ...info, counters: null })).counters, null);
});

test('an Info from an agent older than the limit fields reads as no limit hit', () => {
  // node_name = "n1" (field 1) and subscribers = 2 (field 6), written as such an agent writes them.
  const old = decodeInfo(Uint8Array.from([0x0a, 0x02, 0x6e, 0x31, 0x30, 0x02]));
  assert.equal(old.nodeName, 'n1');
  assert.equal(old.subscribers, 2);
  assert.deepEqual(old.limits, {
    rejectedSubscribers: 0,
    invalidFilters: 0,
    oversizedMessages: 0,
    stalledSubscribers: 0,
    pingFloods: 0,
  });
  assert.equal(old.maxSubscribers, 0);
});

test('JSONL export: an eviction interval reads back as written', () => {
  const e = every.at(-1)!;
  const json = eventToJson(e);
  assert.equal(json.since, '2026-11-23T12:11:04.873456Z');
  assert.deepEqual(eventFromJson(JSON.parse(JSON.stringify(json))), e);
});
