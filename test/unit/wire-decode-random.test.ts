// The hand-written EventBatch decoder against protobufjs: randomized batches of every
// event type must read back as the events that were encoded and as protobufjs reads
// them, and damaged bytes must give what protobufjs gives (the same events, or an error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch } from '../../src/protocol/wire.js';
import { decodeBatchFast } from '../../src/protocol/batch-decoder.js';
import type { Hook, Proto, StickyEvent } from '../../src/core/event.js';
import { outcome, referenceDecode, referenceDecodeEvent } from '../helpers/wire-reference.js';

let seed = 0x5eed;
const rand = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const protos: Proto[] = ['tcp', 'udp', 'sctp'];
const hooks: Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
// Repeating values (as Services and backends repeat), unique ones, non-ASCII and long ones.
const texts = [
  '10.96.0.10:80',
  '10.96.0.11:443',
  '[fd00::10]:53',
  'lab/wéb:http',
  'ns/日本:dns',
  'pod-😀',
  'x'.repeat(70),
  'y'.repeat(200),
  'a',
  'É',
];
const text = (): string => (rand() < 0.6 ? pick(texts) : `10.${int(256)}.${int(256)}.${int(256)}:${int(65536)}`);
const optional = (): string | undefined => (rand() < 0.5 ? undefined : text());
const nodes = ['n1', 'node-2', 'nœud-3'];

function flowFields(node: string) {
  const f = {
    ts: 1.7e15 + int(1e9),
    node,
    proto: pick(protos),
    client: text(),
    service: text(),
    backend: text(),
    hook: pick(hooks),
    ctId: int(2 ** 32).toString(16),
  };
  const serviceName = optional();
  const backendPod = optional();
  return {
    ...f,
    ...(serviceName === undefined ? {} : { serviceName }),
    ...(backendPod === undefined ? {} : { backendPod }),
  };
}

function randomEvent(batchNode: string): StickyEvent {
  const node = rand() < 0.8 ? batchNode : pick(nodes);
  const ts = rand() < 0.05 ? 0 : 1.7e15 + int(1e12) + (rand() < 0.1 ? 0.5 : 0);
  switch (int(10)) {
    case 0:
      return { ...flowFields(node), ts, type: 'snat', snat: text() };
    case 1:
      return { ...flowFields(node), ts, type: 'insert' };
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
    case 4: {
      const services = Array.from({ length: int(4) }, () => {
        const endpoints = Array.from({ length: int(4) }, text);
        const pods = rand() < 0.5 && endpoints.length > 0 ? { [endpoints[0]!]: text() } : undefined;
        return {
          service: `${text()}/${pick(protos)}`,
          name: rand() < 0.3 ? null : text(),
          affinity:
            rand() < 0.5
              ? {
                  mode: 'ClientIP' as const,
                  timeoutSeconds: rand() < 0.2 ? null : 1 + int(86400),
                  source: pick(['rules', 'k8s', 'inferred'] as const),
                }
              : { mode: 'None' as const, timeoutSeconds: null, source: 'rules' as const },
          endpoints,
          ...(pods ? { pods } : {}),
        };
      });
      return { type: 'catalog', ts, node, services };
    }
    case 5:
      return {
        type: 'evicted',
        ts,
        node,
        list: 'KUBE-SEP-' + int(1e6),
        endpoint: text(),
        client: text(),
        capacity: int(2 ** 32),
      };
    case 6:
      return rand() < 0.5
        ? { type: 'node', ts, node, state: 'up' }
        : { type: 'node', ts, node, state: 'down', reason: text() };
    default:
      return { ...flowFields(node), ts, type: 'dnat' };
  }
}

const randomBatch = (n: number): StickyEvent[] => {
  const node = pick(nodes);
  return Array.from({ length: n }, () => randomEvent(node));
};
const asPlainArray = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b);

test('random batches of every event type decode to the events encoded, on the fast path, as protobufjs reads them', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const events = randomBatch(int(40));
    for (const e of events) seen.add(e.type);
    const bytes = encodeBatch(events);
    for (const input of [asBuffer(bytes), asPlainArray(bytes)]) {
      assert.deepEqual(decodeBatch(input), events);
      assert.deepEqual(decodeBatchFast(input, referenceDecodeEvent), referenceDecode(input));
    }
  }
  assert.deepEqual([...seen].sort(), ['catalog', 'counters', 'dnat', 'evicted', 'insert', 'lost', 'node', 'snat']);
});

test('the fast path leaves no trace between batches: the same bytes decode alike before and after others', () => {
  const a = encodeBatch(randomBatch(50));
  const first = decodeBatch(asBuffer(a));
  for (let i = 0; i < 50; i++) decodeBatch(encodeBatch(randomBatch(50)));
  assert.deepEqual(decodeBatch(asBuffer(a)), first);
});

test('damaged bytes give what protobufjs gives: the same events, or an error', () => {
  let fastAccepted = 0;
  let readable = 0;
  for (let i = 0; i < 3000; i++) {
    const clean = encodeBatch(randomBatch(1 + int(12)));
    const bytes = Buffer.from(clean);
    let mutated: Uint8Array = bytes;
    switch (int(4)) {
      case 0:
        bytes[int(bytes.length)] = int(256);
        break;
      case 1:
        bytes[int(bytes.length)]! ^= 0x80;
        break;
      case 2:
        mutated = bytes.subarray(0, int(bytes.length));
        break;
      default: {
        const at = int(bytes.length);
        mutated = Buffer.concat([
          bytes.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + int(6) }, () => int(256))),
          bytes.subarray(at),
        ]);
      }
    }
    for (const input of [mutated, asPlainArray(mutated)]) {
      const want = outcome(() => referenceDecode(input));
      if ('value' in want) readable++;
      const got = outcome(() => decodeBatch(input));
      if ('error' in want)
        assert.ok('error' in got, `protobufjs rejects these bytes (${want.error}) but decodeBatch returned events`);
      else assert.deepEqual(got, want);
      const fast = outcome(() => decodeBatchFast(input, referenceDecodeEvent));
      if ('value' in fast) {
        fastAccepted++;
        assert.deepEqual(fast, want, 'the fast path returned events protobufjs does not read from these bytes');
      }
    }
  }
  // Damage that leaves the bytes readable (to string contents, timestamps) mostly stays on the fast path: it must be exercised.
  assert.ok(
    fastAccepted > readable / 2,
    `only ${fastAccepted} of the ${readable} damaged but readable batches were taken by the fast path`,
  );
});
