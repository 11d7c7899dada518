// Mirrors bpf/record.h, the one record layout shared with the BPF programs and the
// probe helper: change both together (the helper's HELLO carries SS_RECORD_VERSION,
// which the decoder checks against RECORD_VERSION).
import type { Hook, Proto } from '../core/event.js';

export const RECORD_VERSION = 4;
export const RECORD_SIZE = 120;

/** Byte offsets inside one record. */
export const Off = {
  tsNs: 0,
  type: 8,
  family: 9,
  proto: 10,
  hook: 11,
  /** OPEN, CLOSE, TRAFFIC: enum ss_tcp_state in place of the hook. */
  tcpState: 11,
  ctStatus: 12,
  ctId: 16,
  /** OPEN, CLOSE, TRAFFIC: CLOCK_REALTIME ns the connection began (0 unknown), in place of ct_id. */
  startNs: 16,
  origSrc: 24,
  origDst: 44,
  replySrc: 64,
  /** OPEN, CLOSE, TRAFFIC: enum ss_conn_flags. */
  flags: 84,
  replyDst: 88,
  /** value[4] (u64 each) overlays replyDst in every record but DNAT, SNAT and INSERT. */
  value: 88,
} as const;

/** Inside an ss_addr: 16 address bytes (IPv4 in the first 4), then the port in network order. */
export const ADDR_PORT_OFFSET = 16;

export const RecordType = {
  dnat: 1,
  snat: 2,
  insert: 3,
  lost: 4,
  counters: 5,
  hello: 6,
  attach: 7,
  open: 8,
  close: 9,
  traffic: 10,
  ctLost: 11,
  sweep: 12,
} as const;

/** enum ss_conn_flags. */
export const ConnFlag = { counts: 1, sweep: 2 } as const;
/** enum ss_sweep_flags (value[3] of a SWEEP record). */
export const SweepFlag = { initial: 1, acct: 2 } as const;
/** enum ss_attach_kind, the `proto` byte of an ATTACH record, by number. */
export const ATTACH_KINDS = ['netfilter', 'fentry', 'fexit', 'kprobe', 'kretprobe'] as const;

/** The attach modes (stickyscope-probe --attach), and which mode an ATTACH kind belongs to. */
export const ATTACH_MODES = ['netfilter', 'fentry', 'kprobe'] as const;
export type AttachMode = (typeof ATTACH_MODES)[number];
export const MODE_OF_KIND: Readonly<Record<(typeof ATTACH_KINDS)[number], AttachMode>> = {
  netfilter: 'netfilter',
  fentry: 'fentry',
  fexit: 'fentry',
  kprobe: 'kprobe',
  kretprobe: 'kprobe',
};

/** SS_CONFIRM_FUNC: where the fentry and kprobe attach modes attach. */
export const CONFIRM_FUNC = '__nf_conntrack_confirm';

/** enum ss_family (the kernel's NFPROTO_IPV4 and NFPROTO_IPV6). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** Indexed by enum ss_hook (the kernel's enum nf_inet_hooks). */
export const HOOKS: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

/** enum ss_proto (IPPROTO_*). */
export const PROTOS: Readonly<Record<Proto, number>> = { tcp: 6, udp: 17, sctp: 132 };

export function protoName(n: number): Proto | undefined {
  return n === PROTOS.tcp ? 'tcp' : n === PROTOS.udp ? 'udp' : n === PROTOS.sctp ? 'sctp' : undefined;
}
