// The decoder against hand-built records. Offsets come from the C compiler's view of
// bpf/record.h (offsetof), not from record-layout.ts, so a drift between the two fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordDecoder } from '../../src/probe/decode-records.js';
import {
  ATTACH_KINDS,
  CONFIRM_FUNC,
  AF_INET,
  AF_INET6,
  HOOKS,
  Off,
  PROTOS,
  RECORD_SIZE,
  RECORD_VERSION,
  RecordType,
  ConnFlag,
  SweepFlag,
} from '../../src/probe/record-layout.js';
import { EnvironmentError, InputError } from '../../src/core/errors.js';
import { TCP_STATES, type StickyEvent } from '../../src/core/event.js';

import { C, MONO, flow, hello, values } from '../helpers/record-builders.js';

test('record-layout.ts mirrors bpf/record.h', () => {
  assert.equal(RECORD_SIZE, C.size);
  assert.equal(RECORD_VERSION, C.version);
  assert.deepEqual(
    { ...Off },
    {
      tsNs: C.ts_ns,
      type: C.type,
      family: C.family,
      proto: C.proto,
      hook: C.hook,
      tcpState: C.tcp_state,
      ctStatus: C.ct_status,
      ctId: C.ct_id,
      startNs: C.start_ns,
      origSrc: C.orig_src,
      origDst: C.orig_dst,
      replySrc: C.reply_src,
      flags: C.flags,
      replyDst: C.reply_dst,
      value: C.value,
    },
  );
  assert.deepEqual(
    { ...RecordType },
    {
      dnat: C.dnat,
      snat: C.snat,
      insert: C.insert,
      lost: C.lost,
      counters: C.counters,
      hello: C.hello,
      attach: C.attach,
      open: C.open,
      close: C.close,
      traffic: C.traffic,
      ctLost: C.ctLost,
      sweep: C.sweep,
    },
  );
  assert.deepEqual({ ...ConnFlag }, { counts: C.f_counts, sweep: C.f_sweep });
  assert.deepEqual({ ...SweepFlag }, { initial: C.s_initial, acct: C.s_acct });
  assert.deepEqual(
    [TCP_STATES.indexOf('ESTABLISHED'), TCP_STATES.indexOf('SYN_SENT2')],
    [C.tcp_established, C.tcp_syn_sent2],
  );
  assert.deepEqual(
    HOOKS.map((h) => C[h]),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual([AF_INET, AF_INET6], [C.ipv4, C.ipv6]);
  assert.deepEqual({ ...PROTOS }, { tcp: C.tcp, udp: C.udp, sctp: C.sctp });
});

test('decodes flow, lost and counters records with wall-clock time from HELLO', () => {
  const d = new RecordDecoder('node-a');
  assert.equal(d.started, false);
  const events = d.decode(
    Buffer.concat([
      hello(),
      flow(C.dnat!, MONO + 2_500_000n),
      flow(C.snat!, MONO + 3_000_000n, { proto: 17, hook: 4 }),
      flow(C.insert!, MONO + 3_000_001n, { proto: 132, hook: 1 }),
      values(C.lost!, MONO + 1_000_000_000n, [7n]),
      values(C.counters!, MONO + 1_000_000_000n, [1n, 2n, 3n, 2n ** 40n]),
    ]),
  );
  assert.equal(d.started, true);
  // (REAL + 2.5 ms) in whole microseconds: 1700000000123456789 + 2500000 = 1700000000125956789 ns
  assert.deepEqual(events[0], {
    type: 'dnat',
    ts: 1_700_000_000_125_956,
    node: 'node-a',
    proto: 'tcp',
    client: '10.0.1.2:39402',
    service: '10.96.0.10:80',
    backend: '10.1.3.2:8080',
    hook: 'prerouting',
    ctId: '0123456789abcdef',
  });
  assert.deepEqual(events[1], {
    type: 'snat',
    ts: 1_700_000_000_126_456,
    node: 'node-a',
    proto: 'udp',
    client: '10.0.1.2:39402',
    service: '10.96.0.10:80',
    backend: '10.1.3.2:8080',
    hook: 'postrouting',
    ctId: '0123456789abcdef',
    snat: '10.0.9.9:40000',
  });
  assert.equal(events[2]!.type, 'insert');
  assert.equal((events[2] as { proto: string }).proto, 'sctp');
  assert.equal((events[2] as { hook: string }).hook, 'input');
  assert.deepEqual(events[3], { type: 'lost', ts: 1_700_000_001_123_456, node: 'node-a', count: 7 });
  assert.deepEqual(events[4], {
    type: 'counters',
    ts: 1_700_000_001_123_456,
    node: 'node-a',
    insertFailed: 1,
    drop: 2,
    earlyDrop: 3,
    entries: 2 ** 40,
  });
});

test('formats IPv6 addresses the RFC 5952 way', () => {
  const v6 = (s: string) => {
    const groups = s.split(':').map((g) => parseInt(g, 16));
    return groups.flatMap((g) => [g >> 8, g & 0xff]);
  };
  const ips = [v6('fd77:1:0:0:0:0:0:2'), v6('0:0:0:0:0:0:0:0'), v6('2001:db8:0:1:0:0:0:1'), v6('2001:0:0:1:0:0:0:1')];
  const d = new RecordDecoder('n');
  const [e] = d.decode(Buffer.concat([hello(), flow(C.snat!, MONO, { family: 10, ips })]));
  assert.deepEqual(
    [
      (e as { client: string }).client,
      (e as { service: string }).service,
      (e as { backend: string }).backend,
      (e as { snat: string }).snat,
    ],
    ['[fd77:1::2]:39402', '[::]:80', '[2001:db8:0:1::1]:8080', '[2001:0:0:1::1]:40000'],
  );
});

test('records split across chunks at any byte decode the same', () => {
  const stream = Buffer.concat([
    hello(),
    flow(C.dnat!, MONO + 1n),
    flow(C.insert!, MONO + 2n, { id: 42n }),
    values(C.lost!, MONO + 3n, [1n]),
  ]);
  const whole = new RecordDecoder('n').decode(stream);
  assert.equal(whole.length, 3);
  for (let cut = 1; cut < stream.length; cut++) {
    const d = new RecordDecoder('n');
    const got = [...d.decode(stream.subarray(0, cut)), ...d.decode(stream.subarray(cut))];
    assert.deepEqual(got, whole, `split at byte ${cut}`);
    assert.equal(d.pending, 0);
  }
  const d = new RecordDecoder('n');
  const oneByOne: StickyEvent[] = [];
  for (let i = 0; i < stream.length; i++) oneByOne.push(...d.decode(stream.subarray(i, i + 1)));
  assert.deepEqual(oneByOne, whole);
});

test('ATTACH records after HELLO name the attach points; started waits for all the HELLO announced', () => {
  const d = new RecordDecoder('n');
  const prio = (p: number) => BigInt.asUintN(64, BigInt(p)); // the helper sign-extends to 64 bits
  d.decode(Buffer.concat([hello(C.version!, 2), values(C.attach!, MONO, [2n, 0n, prio(-99), 17n])]));
  assert.equal(d.started, false, 'one of two ATTACH records is still to come');
  d.decode(values(C.attach!, MONO, [10n, 4n, prio(2147483646), 18n]));
  assert.equal(d.started, true);
  assert.deepEqual(d.attachPoints, [
    'netfilter ipv4 prerouting prio -99 link 17',
    'netfilter ipv6 postrouting prio 2147483646 link 18',
  ]);
});

test('ATTACH kinds and the confirm function mirror record.h; tracing attachments name kind, program and link', () => {
  assert.deepEqual(
    ATTACH_KINDS.map((k) => C[`k_${k}`]),
    [0, 1, 2, 3, 4],
  );
  assert.equal(CONFIRM_FUNC, C.func);
  const d = new RecordDecoder('n');
  d.decode(
    Buffer.concat([
      hello(C.version!, 2),
      values(C.attach!, MONO, [0n, 0n, 31n, 0n], C.k_kretprobe!),
      values(C.attach!, MONO, [0n, 0n, 30n, 12n], C.k_kprobe!),
    ]),
  );
  assert.equal(d.started, true);
  assert.equal(d.attachMode, 'kprobe');
  assert.deepEqual(d.attachPoints, [
    'kretprobe __nf_conntrack_confirm prog 31',
    'kprobe __nf_conntrack_confirm prog 30 link 12',
  ]);
  assert.throws(
    () => new RecordDecoder('n').decode(Buffer.concat([hello(C.version!, 1), values(C.attach!, MONO, [], 9)])),
    /ATTACH record of kind 9/,
  );
});

test('a helper speaking another record version is refused', () => {
  assert.throws(
    () => new RecordDecoder('n').decode(hello(C.version! + 1)),
    (err: Error) =>
      err instanceof EnvironmentError &&
      err.message.includes(`record version ${C.version! + 1}`) &&
      err.message.includes(`reads version ${C.version}`),
  );
});

test('a stream not starting with HELLO, or with an unknown type, is refused', () => {
  assert.throws(() => new RecordDecoder('n').decode(flow(C.dnat!, MONO)), InputError);
  assert.throws(
    () => new RecordDecoder('n').decode(Buffer.concat([hello(), values(99, MONO, [])])),
    /unknown record type 99/,
  );
});

// The rate is a figure to read, not a pass mark: speed targets are checked by `npm run bench` on a quiet machine.
test('decodes 300k records in 64 KiB chunks, every one of them', (t) => {
  const count = 300_000;
  const one = flow(C.dnat!, MONO + 5n);
  const buf = Buffer.alloc(count * C.size!);
  for (let i = 0; i < count; i++) {
    one.writeBigUInt64LE(MONO + BigInt(i) * 1000n, C.ts_ns!);
    one.writeUInt16BE(1024 + (i % 60000), C.orig_src! + C.port!);
    one.copy(buf, i * C.size!);
  }
  const d = new RecordDecoder('n');
  d.decode(hello());
  const start = process.hrtime.bigint();
  let n = 0;
  for (let at = 0; at < buf.length; at += 65536) n += d.decode(buf.subarray(at, at + 65536)).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  assert.equal(n, count);
  const rate = Math.round(count / seconds);
  t.diagnostic(`decoded ${count} dnat records in ${seconds.toFixed(3)} s: ${rate} records/s`);
});
