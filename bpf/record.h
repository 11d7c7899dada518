/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one record layout shared by the BPF programs, the probe helper and the
 * TypeScript decoder (src/probe/record-layout.ts mirrors this file; change both
 * together and bump SS_RECORD_VERSION).
 *
 * Every record is SS_RECORD_SIZE bytes, little-endian host order except ports
 * and addresses, which stay in network order as the kernel holds them.
 * Offsets: ts_ns 0, type 8, family 9, proto 10, hook 11, ct_status 12, ct_id 16,
 * orig_src 24, orig_dst 44, reply_src 64, flags 84, reply_dst/value 88 (each ss_addr: addr 0..15, port 16).
 * IPv4 addresses sit in the first 4 bytes of the 16-byte address fields.
 */
#ifndef STICKYSCOPE_RECORD_H
#define STICKYSCOPE_RECORD_H

#define SS_RECORD_VERSION 4
#define SS_RECORD_SIZE 120

enum ss_record_type {
	SS_REC_DNAT = 1,     /* NEW connection whose destination was translated */
	SS_REC_SNAT = 2,     /* NEW connection whose source was translated */
	SS_REC_INSERT = 3,   /* NEW entry about to be confirmed */
	SS_REC_LOST = 4,     /* ring buffer was full: value[0] records dropped */
	SS_REC_COUNTERS = 5, /* conntrack stats: value[] = insert_failed, drop, early_drop, entries */
	/* first record: value[] = CLOCK_MONOTONIC ns, CLOCK_REALTIME ns, SS_RECORD_VERSION, and the
	 * number of ATTACH records that follow it at once */
	SS_REC_HELLO = 6,
	/* one attachment the helper holds; its `proto` byte is an enum ss_attach_kind. netfilter:
	 * value[] = pf, hooknum, priority (signed), kernel link id; the others (on SS_CONFIRM_FUNC):
	 * value[] = 0, 0, program id, link id (0 where the kernel attached it without a BPF link) */
	SS_REC_ATTACH = 7,
	/* The conntrack table as the helper reads it over netlink (src/probe/native/ct-*.c): DNATed entries
	 * only. These carry `hook` = enum ss_tcp_state (SS_TCP_NONE for UDP and SCTP), `start_ns` in place
	 * of ct_id, `flags` (enum ss_conn_flags), and value[] = orig packets, orig bytes, reply packets,
	 * reply bytes where SS_CONN_COUNTS is set. */
	SS_REC_OPEN = 8,     /* an entry open that no DNAT record announced (the dump at attach, or a sweep) */
	SS_REC_CLOSE = 9,    /* an entry ended (the destroy event, or a sweep found it gone) */
	SS_REC_TRAFFIC = 10, /* a sweep's counters of an open entry, when they moved */
	SS_REC_CT_LOST = 11, /* the conntrack event socket overran (ENOBUFS): value[0] overruns */
	/* a walk of the table ended: value[] = the table's entries, DNATed connections open, duration ns, and
	 * enum ss_sweep_flags */
	SS_REC_SWEEP = 12,
};

/* The `flags` of OPEN, CLOSE and TRAFFIC records. */
enum ss_conn_flags {
	SS_CONN_COUNTS = 1, /* value[] holds the entry's counters (nf_conntrack_acct) */
	SS_CONN_SWEEP = 2,  /* OPEN or CLOSE found by a sweep rather than the dump or a destroy event */
};

/* value[3] of a SWEEP record. */
enum ss_sweep_flags {
	SS_SWEEP_INITIAL = 1, /* the dump at attach */
	SS_SWEEP_ACCT = 2,    /* the entries carried counters */
};

/* TCP states as in the kernel's enum tcp_conntrack; SS_TCP_NONE also for protocols without one. */
enum ss_tcp_state {
	SS_TCP_NONE = 0,
	SS_TCP_SYN_SENT = 1,
	SS_TCP_SYN_RECV = 2,
	SS_TCP_ESTABLISHED = 3,
	SS_TCP_FIN_WAIT = 4,
	SS_TCP_CLOSE_WAIT = 5,
	SS_TCP_LAST_ACK = 6,
	SS_TCP_TIME_WAIT = 7,
	SS_TCP_CLOSE = 8,
	SS_TCP_SYN_SENT2 = 9,
};

/* What an ATTACH record describes. */
enum ss_attach_kind {
	SS_ATTACH_NETFILTER_LINK = 0,
	SS_ATTACH_FENTRY = 1,
	SS_ATTACH_FEXIT = 2,
	SS_ATTACH_KPROBE = 3,
	SS_ATTACH_KRETPROBE = 4,
};

/* The kernel function the fentry and kprobe modes attach to (see bpf/confirm-trace.bpf.c). */
#define SS_CONFIRM_FUNC "__nf_conntrack_confirm"

/*
 * The kernel's numbers a record carries, spelled out once for the helper and the
 * decoder (neither sees vmlinux.h); bpf/stickyscope.h checks them against the kernel's.
 */

/* Hook numbers as in enum nf_inet_hooks. */
enum ss_hook {
	SS_HOOK_PRE_ROUTING = 0,
	SS_HOOK_LOCAL_IN = 1,
	SS_HOOK_FORWARD = 2,
	SS_HOOK_LOCAL_OUT = 3,
	SS_HOOK_POST_ROUTING = 4,
};

/* Protocol families as in NFPROTO_IPV4 and NFPROTO_IPV6 (the same as AF_INET, AF_INET6). */
enum ss_family {
	SS_FAMILY_IPV4 = 2,
	SS_FAMILY_IPV6 = 10,
};

/* The transport protocols recorded (the ones with ports), as IPPROTO_*. */
enum ss_proto {
	SS_PROTO_TCP = 6,
	SS_PROTO_UDP = 17,
	SS_PROTO_SCTP = 132,
};

struct ss_addr {
	__u8 addr[16];
	__u16 port; /* network order */
	__u16 pad;
};

struct ss_record {
	__u64 ts_ns; /* kernel CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u8 type;   /* enum ss_record_type */
	__u8 family; /* enum ss_family */
	__u8 proto;  /* enum ss_proto */
	union {
		__u8 hook;      /* enum ss_hook */
		__u8 tcp_state; /* OPEN, CLOSE, TRAFFIC: enum ss_tcp_state */
	};
	__u32 ct_status; /* ct->status at the time of the record */
	union {
		/* keyed hash of the conntrack entry, set by the helper; never a kernel address on stdout */
		__u64 ct_id;
		__u64 start_ns; /* OPEN, CLOSE, TRAFFIC: CLOCK_REALTIME ns the connection began, 0 unknown */
	};
	struct ss_addr orig_src;  /* client */
	struct ss_addr orig_dst;  /* service */
	struct ss_addr reply_src; /* backend */
	__u32 flags;              /* OPEN, CLOSE, TRAFFIC: enum ss_conn_flags; 0 in the others */
	/* reply destination: the source the backend sees; for the other records
	 * than DNAT, SNAT and INSERT this space holds value[] instead. */
	union {
		struct ss_addr reply_dst;
		__u64 value[4];
	};
};

_Static_assert(sizeof(struct ss_record) == SS_RECORD_SIZE,
               "record layout changed: update SS_RECORD_SIZE and the decoder");

#endif
