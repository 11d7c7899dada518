// The decoder against hand-built live-connection records (open, close, traffic, sweep, conntrack loss), at the C
// compiler's offsets for bpf/record.h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordDecoder } from '../../src/probe/decode-records.js';
import { InputError } from '../../src/core/errors.js';
import { C, MONO, REAL, conn, hello, values } from '../helpers/record-builders.js';

test('decodes open, close, traffic, sweep and conntrack lost records', () => {
  const d = new RecordDecoder('node-a');
  const ms = (n: number) => MONO + BigInt(n) * 1_000_000n;
  const us = (n: number) => 1_700_000_000_123_456 + n * 1000;
  const who = { node: 'node-a', client: '10.0.1.2:39402', service: '10.96.0.10:80', backend: '10.1.3.2:8080' };
  const big = 2n ** 40n + 7n;
  const events = d.decode(
    Buffer.concat([
      hello(),
      conn(C.open!, ms(1), { startNs: REAL - 5_000_000_000n, flags: C.f_counts!, counts: [3n, 200n, 2n, big] }),
      conn(C.open!, ms(1), { proto: 17, state: 0 }),
      values(C.sweep!, ms(2), [40n, 2n, 1_500_000n, BigInt(C.s_initial! | C.s_acct!)]),
      conn(C.traffic!, ms(3), { flags: C.f_counts!, counts: [4n, 300n, 3n, big + 1n] }),
      conn(C.close!, ms(4), { state: 7, flags: C.f_counts!, counts: [5n, 400n, 4n, big + 2n] }),
      conn(C.close!, ms(5), { proto: 17, state: 0, flags: C.f_sweep! }),
      values(C.ctLost!, ms(5), [2n]),
      values(C.sweep!, ms(6), [39n, 0n, 900_000n, 0n]),
    ]),
  );
  const counts = (a: number, b: number, c: number, e: bigint) => ({
    origPackets: a,
    origBytes: b,
    replyPackets: c,
    replyBytes: Number(e),
  });
  assert.deepEqual(events, [
    {
      type: 'open',
      ts: us(1),
      ...who,
      proto: 'tcp',
      seen: 'dump',
      tcpState: 'ESTABLISHED',
      start: 1_699_999_995_123_456,
      ...counts(3, 200, 2, big),
    },
    { type: 'open', ts: us(1), ...who, proto: 'udp', seen: 'dump' },
    { type: 'sweep', ts: us(2), node: 'node-a', initial: true, entries: 40, open: 2, acct: true, micros: 1500 },
    { type: 'traffic', ts: us(3), ...who, proto: 'tcp', tcpState: 'ESTABLISHED', ...counts(4, 300, 3, big + 1n) },
    {
      type: 'close',
      ts: us(4),
      ...who,
      proto: 'tcp',
      seen: 'destroy',
      tcpState: 'TIME_WAIT',
      ...counts(5, 400, 4, big + 2n),
    },
    { type: 'close', ts: us(5), ...who, proto: 'udp', seen: 'sweep', since: us(2) },
    { type: 'lost', ts: us(5), node: 'node-a', count: 2, source: 'conntrack' },
    { type: 'sweep', ts: us(6), node: 'node-a', initial: false, entries: 39, open: 0, acct: false, micros: 900 },
  ]);
});

test("a connection record with a tcp state past the kernel's enum is refused, naming it", () => {
  const d = new RecordDecoder('node-a');
  assert.throws(
    () => d.decode(Buffer.concat([hello(), conn(C.open!, MONO + 1n, { state: 42 })])),
    (err: unknown) => err instanceof InputError && /tcp state 42/.test(err.message),
  );
});
