// Hand-built EventBatch bytes protobufjs's encoder never writes but another implementation may (unknown fields, wrong
// wire types, repeated and reordered fields, merged kinds, over-long varints, bad enums and UTF-8); the expected events
// are written out by hand from the .proto rules and checked against protobufjs's reading of the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch } from '../../src/protocol/wire.js';
import { decodeBatchFast } from '../../src/protocol/batch-decoder.js';
import type { StickyEvent } from '../../src/core/event.js';
import { outcome, referenceDecode, referenceDecodeEvent } from '../helpers/wire-reference.js';
import { dnatEvent } from '../helpers/events.js';

type Bytes = number[];
const varint = (n: number): Bytes => {
  const out: Bytes = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
};
const tag = (field: number, wireType: number): Bytes => varint(field * 8 + wireType);
const vint = (field: number, n: number): Bytes => [...tag(field, 0), ...varint(n)];
const raw = (field: number, b: Bytes | Uint8Array): Bytes => [...tag(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string): Bytes => raw(field, Buffer.from(s, 'utf8'));
const f64 = (field: number, x: number): Bytes => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return [...tag(field, 1), ...b];
};
const f32 = (field: number, x: number): Bytes => [
  ...tag(field, 5),
  x & 255,
  (x >> 8) & 255,
  (x >> 16) & 255,
  (x >>> 24) & 255,
];
/** Unknown fields of the four wire types a reader skips by length. */
const unknowns = (base: number): Bytes => [
  ...vint(base, 300),
  ...f64(base + 1, 1.5),
  ...raw(base + 2, [1, 2, 3, 0xff]),
  ...f32(base + 3, 7),
  ...tag(base + 4, 0),
  ...minusOne,
];
/** -1 as an int64 varint: ten bytes. */
const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

const flow = (client: string, extra: Bytes = []): Bytes => [
  ...vint(1, 1),
  ...str(2, client),
  ...str(3, '10.96.0.10:80'),
  ...str(4, '10.1.0.2:8080'),
  ...vint(5, 1),
  ...str(6, 'ab12'),
  ...extra,
];
const event = (ts: number, body: Bytes, node?: string): Bytes => [
  ...f64(1, ts),
  ...(node === undefined ? [] : str(2, node)),
  ...body,
];
const batch = (node: string, events: Bytes[], extra: Bytes = []): Buffer =>
  Buffer.from([...str(1, node), ...events.flatMap((e) => raw(2, e)), ...extra]);
const dnat = (ts: number, node: string, client: string, more: Partial<StickyEvent> = {}): StickyEvent =>
  ({ ...dnatEvent({ ts, node, client, ctId: 'ab12' }), ...more }) as StickyEvent;

/** decodeBatch gives `expected`, as protobufjs reads the bytes; `fast` says the hand-written path must take them itself. */
function check(bytes: Buffer, expected: StickyEvent[], fast: boolean): void {
  for (const input of [bytes, new Uint8Array(bytes)]) {
    assert.deepEqual(referenceDecode(input), expected, 'the expectation disagrees with protobufjs');
    assert.deepEqual(decodeBatch(input), expected);
    if (fast) assert.deepEqual(decodeBatchFast(input, referenceDecodeEvent), expected);
  }
}

test('unknown fields of every skippable wire type are skipped at batch, event and flow level, on the fast path', () => {
  const bytes = batch(
    'n1',
    [
      [...unknowns(3), ...event(5, [...unknowns(60), ...raw(10, flow('10.0.0.1:1', unknowns(30)))])],
      event(6, raw(12, [...unknowns(40), ...flow('10.0.0.2:2')]), 'n2'),
    ],
    unknowns(100),
  );
  check(bytes, [dnat(5, 'n1', '10.0.0.1:1'), { ...dnat(6, 'n2', '10.0.0.2:2'), type: 'insert' } as StickyEvent], true);
});

test('a known field with the wrong wire type is skipped like an unknown one', () => {
  // client as a varint, ts as a length-delimited field, the flow as a fixed64.
  const bytes = batch('n1', [
    [...f64(1, 9), ...raw(1, [1, 2]), ...f64(11, 3), ...raw(10, [...flow('10.0.0.3:3'), ...vint(2, 7)])],
  ]);
  check(bytes, [dnat(9, 'n1', '10.0.0.3:3')], true);
});

test('the last of repeated scalar fields wins, an empty one clears, and the batch node may come last', () => {
  const bytes = Buffer.from([
    ...raw(2, [
      ...f64(1, 1),
      ...f64(1, 2),
      ...str(2, 'x'),
      ...str(2, ''),
      ...raw(11, [
        ...flow('10.0.0.4:4'),
        ...str(9, 'a:1'),
        ...str(9, '10.50.0.1:9'),
        ...str(7, 'svc'),
        ...vint(1, 2),
        ...vint(5, 4),
      ]),
    ]),
    ...str(1, 'first'),
    ...raw(2, event(3, raw(10, flow('10.0.0.5:5')), 'own')),
    ...str(1, 'last'),
  ]);
  check(
    bytes,
    [
      dnat(2, 'last', '10.0.0.4:4', {
        type: 'snat',
        proto: 'udp',
        hook: 'output',
        serviceName: 'svc',
        snat: '10.50.0.1:9',
      } as Partial<StickyEvent>),
      dnat(3, 'own', '10.0.0.5:5'),
    ],
    true,
  );
});

test('a second kind in one event follows protobufjs: the same kind merges, another replaces', () => {
  const merged = batch('n1', [event(1, [...raw(10, flow('10.0.0.6:6')), ...raw(10, str(8, 'pod-a'))])]);
  check(merged, [dnat(1, 'n1', '10.0.0.6:6', { backendPod: 'pod-a' })], false);
  const replaced = batch('n1', [event(1, [...raw(10, flow('10.0.0.6:6')), ...raw(13, vint(1, 5))])]);
  check(replaced, [{ type: 'lost', ts: 1, node: 'n1', count: 5 }], false);
  const flowLast = batch('n1', [event(1, [...raw(13, vint(1, 5)), ...raw(12, flow('10.0.0.7:7'))])]);
  check(flowLast, [{ ...dnat(1, 'n1', '10.0.0.7:7'), type: 'insert' } as StickyEvent], false);
});

test('every rare kind decodes amid flow events, with the batch node filled in', () => {
  const bytes = batch('n1', [
    event(1, raw(10, flow('10.0.0.8:8'))),
    event(2, raw(14, [...vint(1, 3), ...vint(2, 2 ** 33), ...vint(4, 9)])),
    event(3, raw(16, [...str(1, 'KUBE-SEP-X'), ...str(2, '10.1.0.2:8080'), ...str(3, '10.0.0.8'), ...vint(4, 100)])),
    event(4, raw(17, [...vint(1, 1), ...unknowns(5)]), 'n2'),
    event(
      5,
      raw(
        15,
        raw(1, [
          ...str(1, '10.96.0.10:80/tcp'),
          ...raw(3, [...vint(1, 1), ...vint(2, 60)]),
          ...str(4, 'e1'),
          ...raw(5, [...str(1, 'e1'), ...str(2, 'pod-1')]),
        ]),
      ),
    ),
  ]);
  check(
    bytes,
    [
      dnat(1, 'n1', '10.0.0.8:8'),
      { type: 'counters', ts: 2, node: 'n1', insertFailed: 3, drop: 2 ** 33, earlyDrop: 0, entries: 9 },
      {
        type: 'evicted',
        ts: 3,
        node: 'n1',
        list: 'KUBE-SEP-X',
        endpoint: '10.1.0.2:8080',
        client: '10.0.0.8',
        capacity: 100,
      },
      { type: 'node', ts: 4, node: 'n2', state: 'up' },
      {
        type: 'catalog',
        ts: 5,
        node: 'n1',
        services: [
          {
            service: '10.96.0.10:80/tcp',
            name: null,
            affinity: { mode: 'ClientIP', timeoutSeconds: 60, source: 'rules' },
            endpoints: ['e1'],
            pods: { e1: 'pod-1' },
          },
        ],
      },
    ],
    true,
  );
});

test('groups, over-long varints and non-ASCII strings decode as protobufjs decodes them', () => {
  const group = [...tag(7, 3), ...vint(1, 1), ...tag(7, 4)];
  check(batch('n1', [event(1, [...group, ...raw(10, flow('10.0.0.9:9'))])]), [dnat(1, 'n1', '10.0.0.9:9')], false);
  // proto = 1 as a 6-byte varint; a 5-byte tag for field 10.
  const longVarints = [0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, ...flow('10.0.0.9:9').slice(2)];
  check(
    batch('n1', [event(1, [0xd2, 0x80, 0x80, 0x80, 0x00, longVarints.length, ...longVarints])]),
    [dnat(1, 'n1', '10.0.0.9:9')],
    false,
  );
  check(
    batch('n1', [event(1, [...vint(536870911, 1), ...raw(10, flow('10.0.0.9:9'))])]),
    [dnat(1, 'n1', '10.0.0.9:9')],
    false,
  );
  check(
    batch('nœud', [event(1, raw(10, flow('[fd00::1]:9', str(7, 'ns/wéb-日本-😀'))))]),
    [dnat(1, 'nœud', '[fd00::1]:9', { serviceName: 'ns/wéb-日本-😀' })],
    true,
  );
  // U+FFFD written out validly is a string like any other.
  check(batch('n1', [event(1, raw(10, flow('\uFFFD')))]), [dnat(1, 'n1', '\uFFFD')], true);
});

test('bytes protobufjs rejects are rejected: bad enums, invalid UTF-8, lengths past the end, a missing kind', () => {
  const bad: Buffer[] = [
    batch('n1', [event(1, raw(10, [...flow('10.0.0.1:1'), ...vint(1, 0)]))]),
    batch('n1', [event(1, raw(10, [...flow('10.0.0.1:1'), ...vint(5, 6)]))]),
    batch('n1', [event(1, raw(10, [...vint(1, 1), ...raw(2, [0x31, 0x80, 0x32]), ...vint(5, 1)]))]),
    batch('n1', [event(1, raw(10, [...vint(1, 1), ...raw(2, [0xed, 0xa0, 0x80]), ...vint(5, 1)]))]),
    batch('n1', [event(1, [])]),
    Buffer.from([...str(1, 'n1'), ...tag(2, 2), 50, ...event(1, raw(10, flow('10.0.0.1:1')))]),
    Buffer.from([...tag(0, 0), 1]),
    Buffer.from([...tag(3, 7), 1]),
  ];
  for (const bytes of bad) {
    for (const input of [bytes, new Uint8Array(bytes)]) {
      assert.ok('error' in outcome(() => referenceDecode(input)), `protobufjs should reject ${bytes.toString('hex')}`);
      assert.throws(() => decodeBatch(input));
    }
  }
});

test('every truncation of a batch gives what protobufjs gives', () => {
  const whole = batch(
    'n1',
    [event(1, raw(10, flow('10.0.0.1:1', unknowns(20)))), event(2, raw(14, vint(4, 3)))],
    unknowns(50),
  );
  for (let n = 0; n < whole.length; n++) {
    const cut = whole.subarray(0, n);
    const want = outcome(() => referenceDecode(cut));
    const got = outcome(() => decodeBatch(cut));
    if ('error' in want) assert.ok('error' in got, `${n} bytes: protobufjs rejects them`);
    else assert.deepEqual(got, want, `${n} bytes`);
  }
});
