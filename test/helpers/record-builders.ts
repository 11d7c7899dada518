// Records built by hand the way the helper writes them, at the offsets the C compiler gives for bpf/record.h
// (offsetof), not record-layout.ts's: a drift between the two fails the tests that use them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export const C = cLayout() as Record<string, number> & { func: string };

export const MONO = 1_000_000_000_000n;
export const REAL = 1_700_000_000_123_456_789n;

export function hello(version = C.version!, attachRecords = 0): Buffer {
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

export function flow(
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

export function values(type: number, tsNs: bigint, v: bigint[], kind = 0): Buffer {
  const b = Buffer.alloc(C.size!);
  b.writeBigUInt64LE(tsNs, C.ts_ns!);
  b[C.type!] = type;
  b[C.proto!] = kind;
  v.forEach((x, i) => {
    b.writeBigUInt64LE(x, C.value! + 8 * i);
  });
  return b;
}

/** An OPEN, CLOSE or TRAFFIC record as the helper writes it: tcp state in the hook byte, start in ct_id, counters in value[]. */
export function conn(
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
