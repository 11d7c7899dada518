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

/*
 * The conntrack entry of a packet that opens a connection, or NULL. Only entries not
 * yet confirmed count: the original direction keeps ctinfo NEW until a reply is seen,
 * so a retransmitted SYN or a second unanswered datagram would otherwise look new again.
 */
static __always_inline struct nf_conn *ss_new_conn(struct bpf_nf_ctx *ctx, __u32 *status)
{
	unsigned long nfct = ctx->skb->_nfct;
	struct nf_conn *ct = (struct nf_conn *)(nfct & ~SS_NFCT_INFOMASK);
	__u8 proto;

	if ((nfct & SS_NFCT_INFOMASK) != IP_CT_NEW || !ct)
		return NULL;
	*status = (__u32)BPF_CORE_READ(ct, status);
	if (*status & IPS_CONFIRMED)
		return NULL;
	proto = BPF_CORE_READ(ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.dst.protonum);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return NULL;
	return ct;
}

static __always_inline void ss_count_lost(void)
{
	__u32 key = 0;
	__u64 *lost = bpf_map_lookup_elem(&ss_lost, &key);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* A new id for an entry seen for the first time (pointer mixed with the time). */
static __always_inline __u64 ss_ct_id_new(struct nf_conn *ct)
{
	__u32 zero = 0;
	struct ss_ct_slot *slot = bpf_map_lookup_elem(&ss_ct_ids, &zero);
	__u64 id = (__u64)ct ^ (bpf_ktime_get_ns() * 0x9E3779B97F4A7C15ULL);

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
	return (__u64)ct ^ (bpf_ktime_get_ns() * 0x9E3779B97F4A7C15ULL);
}

/*
 * One record for ct. ct_id is not yet opaque (it mixes the kernel pointer): the
 * helper replaces it with a keyed hash before anything leaves it.
 */
static __always_inline void ss_emit(struct bpf_nf_ctx *ctx, struct nf_conn *ct, __u32 status, __u8 type, __u64 ct_id)
{
	struct ss_record *r = bpf_ringbuf_reserve(&ss_events, sizeof(*r), 0);

	if (!r) {
		ss_count_lost();
		return;
	}
	r->ts_ns = bpf_ktime_get_ns();
	r->type = type;
	r->family = BPF_CORE_READ(ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.src.l3num);
	r->proto = BPF_CORE_READ(ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.dst.protonum);
	r->hook = ctx->state->hook;
	r->ct_status = status;
	r->ct_id = ct_id;
	BPF_CORE_READ_INTO(&r->orig_src.addr, ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.src.u3);
	BPF_CORE_READ_INTO(&r->orig_src.port, ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.src.u.all);
	BPF_CORE_READ_INTO(&r->orig_dst.addr, ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.dst.u3);
	BPF_CORE_READ_INTO(&r->orig_dst.port, ct, tuplehash[IP_CT_DIR_ORIGINAL].tuple.dst.u.all);
	BPF_CORE_READ_INTO(&r->reply_src.addr, ct, tuplehash[IP_CT_DIR_REPLY].tuple.src.u3);
	BPF_CORE_READ_INTO(&r->reply_src.port, ct, tuplehash[IP_CT_DIR_REPLY].tuple.src.u.all);
	/* value[] overlays reply_dst: clear it so no stale ring bytes leave the kernel. */
	r->value[0] = r->value[1] = r->value[2] = r->value[3] = 0;
	BPF_CORE_READ_INTO(&r->reply_dst.addr, ct, tuplehash[IP_CT_DIR_REPLY].tuple.dst.u3);
	BPF_CORE_READ_INTO(&r->reply_dst.port, ct, tuplehash[IP_CT_DIR_REPLY].tuple.dst.u.all);
	r->orig_src.pad = r->orig_dst.pad = r->reply_src.pad = 0;
	r->pad = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

#endif
