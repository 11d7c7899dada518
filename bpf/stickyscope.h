/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by every bpf/NAME.bpf.c: the maps all programs write to (declared __weak so
 * the static linker merges the copies each file sees into one) and the code that
 * turns a conntrack entry into a struct ss_record.
 */
#ifndef STICKYSCOPE_BPF_H
#define STICKYSCOPE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "record.h"

/* record.h spells out kernel numbers for the helper and the decoder: each must equal the kernel's. */
#define SS_SAME_AS_KERNEL(ours, kernel) _Static_assert((ours) == (kernel), #ours " differs from the kernel's " #kernel)
SS_SAME_AS_KERNEL(SS_HOOK_PRE_ROUTING, NF_INET_PRE_ROUTING);
SS_SAME_AS_KERNEL(SS_HOOK_LOCAL_IN, NF_INET_LOCAL_IN);
SS_SAME_AS_KERNEL(SS_HOOK_FORWARD, NF_INET_FORWARD);
SS_SAME_AS_KERNEL(SS_HOOK_LOCAL_OUT, NF_INET_LOCAL_OUT);
SS_SAME_AS_KERNEL(SS_HOOK_POST_ROUTING, NF_INET_POST_ROUTING);
SS_SAME_AS_KERNEL(SS_FAMILY_IPV4, NFPROTO_IPV4);
SS_SAME_AS_KERNEL(SS_FAMILY_IPV6, NFPROTO_IPV6);
SS_SAME_AS_KERNEL(SS_PROTO_TCP, IPPROTO_TCP);
SS_SAME_AS_KERNEL(SS_PROTO_UDP, IPPROTO_UDP);
SS_SAME_AS_KERNEL(SS_PROTO_SCTP, IPPROTO_SCTP);

/* The helper resizes this before load (--ringbuf-bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} ss_events SEC(".maps") __weak;

/* Records dropped because the ring buffer was full; the helper reports deltas. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ss_lost SEC(".maps") __weak;

/*
 * Identity of a new entry from the hook that translated it to the hook just before
 * its confirmation. The kernel reuses a freed entry's memory for the next one, so the
 * pointer alone would give two connections the same id; pointer and first-seen time
 * do not. A packet's path from PRE_ROUTING (or LOCAL_OUT) to POST_ROUTING (or
 * LOCAL_IN) runs on one CPU, so one slot per CPU carries the id between the two
 * programs: a per-CPU array costs a fraction of a hash map on this per-flow path. A
 * locally generated packet preempted between its hooks may find the slot taken, and
 * then gets a fresh id at confirmation (its dnat and insert ids differ).
 */
struct ss_ct_slot {
	__u64 ct;
	__u64 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_ct_slot);
} ss_ct_ids SEC(".maps") __weak;

#define SS_NF_ACCEPT 1
#define SS_NFCT_INFOMASK 7UL

/* What the programs need of a new entry, copied out of the kernel in two reads. */
struct ss_conn {
	struct nf_conn *ct;
	__u32 status;
	struct nf_conntrack_tuple_hash th[IP_CT_DIR_MAX];
};

/*
 * The netfilter programs' context (the kernel's struct bpf_nf_ctx, Linux >= 6.4) spelled out: a
 * vmlinux.h made from an older kernel's BTF, as the arm64 build's from Debian's 6.1, lacks it. The
 * verifier checks context reads by offset, and these two offsets are the netfilter programs' ABI.
 */
struct ss_nf_ctx {
	const struct nf_hook_state *state;
	struct sk_buff *skb;
};

/*
 * Fills c's entry and status for a packet that opens a connection; false for any
 * other packet. Only entries not yet confirmed count: the original direction keeps
 * ctinfo NEW until a reply is seen, so a retransmitted SYN or a second unanswered
 * datagram would otherwise look new again.
 */
static __always_inline bool ss_new_conn(struct ss_nf_ctx *ctx, struct ss_conn *c)
{
	unsigned long nfct = ctx->skb->_nfct;
	struct nf_conn *ct = (struct nf_conn *)(nfct & ~SS_NFCT_INFOMASK);

	if ((nfct & SS_NFCT_INFOMASK) != IP_CT_NEW || !ct)
		return false;
	c->ct = ct;
	c->status = (__u32)BPF_CORE_READ(ct, status);
	return !(c->status & IPS_CONFIRMED);
}

/*
 * Copies both tuples in one read (on this per-flow path each kernel read is a helper
 * call: one per field cost several percent of the node's new-connection rate);
 * false for protocols without ports.
 */
static __always_inline bool ss_read_tuples(struct ss_conn *c)
{
	struct nf_conn *ct = c->ct; /* outside the relocated expression: ss_conn is ours, not the kernel's */
	__u8 proto;

	if (bpf_core_read(&c->th, sizeof(c->th), &ct->tuplehash))
		return false;
	proto = c->th[IP_CT_DIR_ORIGINAL].tuple.dst.protonum;
	return proto == SS_PROTO_TCP || proto == SS_PROTO_UDP || proto == SS_PROTO_SCTP;
}

static __always_inline void ss_count_lost(void)
{
	__u32 key = 0;
	__u64 *lost = bpf_map_lookup_elem(&ss_lost, &key);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/*
 * A new id for ct: the pointer mixed with the time, so an entry that reuses a freed
 * entry's memory gets an id of its own.
 */
static __always_inline __u64 ss_ct_id_mix(struct nf_conn *ct)
{
	return (__u64)ct ^ (bpf_ktime_get_ns() * 0x9E3779B97F4A7C15ULL);
}

/* A new id for an entry seen for the first time, left in this CPU's slot for its confirmation. */
static __always_inline __u64 ss_ct_id_new(struct nf_conn *ct)
{
	__u32 zero = 0;
	struct ss_ct_slot *slot = bpf_map_lookup_elem(&ss_ct_ids, &zero);
	__u64 id = ss_ct_id_mix(ct);

	if (slot) {
		slot->ct = (__u64)ct;
		slot->id = id;
	}
	return id;
}

/* The id this entry was given when first seen on this CPU, else a new one. */
static __always_inline __u64 ss_ct_id_last(struct nf_conn *ct)
{
	__u32 zero = 0;
	struct ss_ct_slot *slot = bpf_map_lookup_elem(&ss_ct_ids, &zero);

	if (slot && slot->ct == (__u64)ct) {
		slot->ct = 0;
		return slot->id;
	}
	return ss_ct_id_mix(ct);
}

/*
 * One record for ct, seen at hook. ct_id is not yet opaque (it mixes the kernel pointer): the
 * helper replaces it with a keyed hash before anything leaves it.
 */
static __always_inline void ss_emit(__u8 hook, const struct ss_conn *c, __u8 type, __u64 ct_id)
{
	const struct nf_conntrack_tuple *orig = &c->th[IP_CT_DIR_ORIGINAL].tuple;
	const struct nf_conntrack_tuple *reply = &c->th[IP_CT_DIR_REPLY].tuple;
	struct ss_record *r = bpf_ringbuf_reserve(&ss_events, sizeof(*r), 0);

	if (!r) {
		ss_count_lost();
		return;
	}
	r->ts_ns = bpf_ktime_get_ns();
	r->type = type;
	r->family = orig->src.l3num;
	r->proto = orig->dst.protonum;
	r->hook = hook;
	r->ct_status = c->status;
	r->ct_id = ct_id;
	__builtin_memcpy(r->orig_src.addr, &orig->src.u3, 16);
	r->orig_src.port = orig->src.u.all;
	__builtin_memcpy(r->orig_dst.addr, &orig->dst.u3, 16);
	r->orig_dst.port = orig->dst.u.all;
	__builtin_memcpy(r->reply_src.addr, &reply->src.u3, 16);
	r->reply_src.port = reply->src.u.all;
	/* value[] overlays reply_dst: clear it so no stale ring bytes leave the kernel. */
	r->value[0] = r->value[1] = r->value[2] = r->value[3] = 0;
	__builtin_memcpy(r->reply_dst.addr, &reply->dst.u3, 16);
	r->reply_dst.port = reply->dst.u.all;
	r->orig_src.pad = r->orig_dst.pad = r->reply_src.pad = 0;
	r->flags = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

#endif
