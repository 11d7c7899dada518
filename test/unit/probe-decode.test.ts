// The decoder against hand-built records. Offsets come from the C compiler's view of
// bpf/record.h (offsetof), not from record-layout.ts, so a drift between the two fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const recordH = fileURLToPath(new URL('../../../bpf/record.h', import.meta.url));

function cLayout(): Record<string, number | string> {
  const dir = mkdtempSync(join(tmpdir(), 'ss-layout-'));
  try {
    const fields = [
      'ts_ns',
      'type',
      'family',
      'proto',
      'hook',
      'tcp_state',
      'ct_status',
      'ct_id',
      'start_ns',
      'orig_src',
      'orig_dst',
      'reply_src',
      'flags',
      'reply_dst',
      'value',
    ];
    const src =
      `#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include "${recordH}"\nint main(void){\n` +
      fields.map((f) => `printf("${f} %zu\\n", offsetof(struct ss_record, ${f}));`).join('\n') +
      `printf("size %zu\\nport %zu\\nversion %d\\n", sizeof(struct ss_record), offsetof(struct ss_addr, port), SS_RECORD_VERSION);\n` +
      `printf("dnat %d\\nsnat %d\\ninsert %d\\nlost %d\\ncounters %d\\nhello %d\\nattach %d\\n", SS_REC_DNAT, SS_REC_SNAT, SS_REC_INSERT, SS_REC_LOST, SS_REC_COUNTERS, SS_REC_HELLO, SS_REC_ATTACH);\n` +
      `printf("open %d\\nclose %d\\ntraffic %d\\nctLost %d\\nsweep %d\\n", SS_REC_OPEN, SS_REC_CLOSE, SS_REC_TRAFFIC, SS_REC_CT_LOST, SS_REC_SWEEP);\n` +
      `printf("f_counts %d\\nf_sweep %d\\ns_initial %d\\ns_acct %d\\ntcp_established %d\\ntcp_syn_sent2 %d\\n", SS_CONN_COUNTS, SS_CONN_SWEEP, SS_SWEEP_INITIAL, SS_SWEEP_ACCT, SS_TCP_ESTABLISHED, SS_TCP_SYN_SENT2);\n` +
      `printf("prerouting %d\\ninput %d\\nforward %d\\noutput %d\\npostrouting %d\\n", SS_HOOK_PRE_ROUTING, SS_HOOK_LOCAL_IN, SS_HOOK_FORWARD, SS_HOOK_LOCAL_OUT, SS_HOOK_POST_ROUTING);\n` +
      `printf("k_netfilter %d\\nk_fentry %d\\nk_fexit %d\\nk_kprobe %d\\nk_kretprobe %d\\nfunc %s\\n", SS_ATTACH_NETFILTER_LINK, SS_ATTACH_FENTRY, SS_ATTACH_FEXIT, SS_ATTACH_KPROBE, SS_ATTACH_KRETPROBE, SS_CONFIRM_FUNC);\n` +
      `printf("ipv4 %d\\nipv6 %d\\ntcp %d\\nudp %d\\nsctp %d\\n", SS_FAMILY_IPV4, SS_FAMILY_IPV6, SS_PROTO_TCP, SS_PROTO_UDP, SS_PROTO_SCTP);\nreturn 0;}\n`;
    writeFileSync(join(dir, 'layout.c'), src);
    execFileSync('cc', ['-o', join(dir, 'layout'), join(dir, 'layout.c')]);
    const out = execFileSync(join(dir, 'layout'), { encoding: 'utf8' });
    return Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => {
          const [k, v] = l.split(' ');
          return [k!, k === 'func' ? v! : Number(v)];
        }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const C = cLayout() as Record<string, number> & { func: string };

const MONO = 1_000_000_000_000n;
const REAL = 1_700_000_000_123_456_789n;

function hello(version = C.version!, attachRecords = 0): Buffer {
  const b = Buffer.alloc(C.size!);
  b.writeBigUInt64LE(MONO + 10n, C.ts_ns!);
  b[C.type!] = C.hello!;
  b.writeBigUInt64LE(MONO, C.value!);
  b.writeBigUInt64LE(REAL, C.value! + 8);
  b.writeBigUInt64LE(BigInt(version), C.value! + 16);
  b.writeBigUInt64LE(BigInt(attachRecords), C.value! + 24);
  return b;
}

function addr(b: Buffer, at: number, ip: number[], port: number): void {
  Buffer.from(ip).copy(b, at);
  b.writeUInt16BE(port, at + C.port!);
}

function flow(
  type: number,
  tsNs: bigint,
  opts: { family?: number; ips?: number[][]; proto?: number; hook?: number; id?: bigint } = {},
): Buffer {
  const b = Buffer.alloc(C.size!);
  const ips = opts.ips ?? [
    [10, 0, 1, 2],
    [10, 96, 0, 10],
    [10, 1, 3, 2],
    [10, 0, 9, 9],
  ];
  b.writeBigUInt64LE(tsNs, C.ts_ns!);
  b[C.type!] = type;
  b[C.family!] = opts.family ?? 2;
  b[C.proto!] = opts.proto ?? 6;
  b[C.hook!] = opts.hook ?? 0;
  b.writeUInt32LE(0x120, C.ct_status!);
  b.writeBigUInt64LE(opts.id ?? 0x0123456789abcdefn, C.ct_id!);
  addr(b, C.orig_src!, ips[0]!, 39402);
  addr(b, C.orig_dst!, ips[1]!, 80);
  addr(b, C.reply_src!, ips[2]!, 8080);
  addr(b, C.reply_dst!, ips[3]!, 40000);
  return b;
}

function values(type: number, tsNs: bigint, v: bigint[], kind = 0): Buffer {
  const b = Buffer.alloc(C.size!);
  b.writeBigUInt64LE(tsNs, C.ts_ns!);
  b[C.type!] = type;
  b[C.proto!] = kind;
  v.forEach((x, i) => {
    b.writeBigUInt64LE(x, C.value! + 8 * i);
  });
  return b;
}

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

/** An OPEN, CLOSE or TRAFFIC record as the helper writes it: tcp state in the hook byte, start in ct_id, counters in value[]. */
function conn(
  type: number,
  tsNs: bigint,
  opts: { proto?: number; state?: number; startNs?: bigint; flags?: number; counts?: bigint[] } = {},
): Buffer {
  const b = flow(type, tsNs, { proto: opts.proto ?? 6, hook: opts.state ?? 3, id: opts.startNs ?? 0n });
  b.writeUInt32LE(opts.flags ?? 0, C.flags!);
  b.fill(0, C.value!, C.size!);
  (opts.counts ?? []).forEach((x, i) => {
    b.writeBigUInt64LE(x, C.value! + 8 * i);
  });
  return b;
}

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
