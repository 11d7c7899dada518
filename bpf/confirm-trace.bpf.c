// SPDX-License-Identifier: GPL-2.0
/*
 * The second attach mode, for kernels without netfilter BPF links (< 6.4): programs on
 * the conntrack confirmation path, __nf_conntrack_confirm(skb), as fentry/fexit where
 * tracing programs load, else kprobe/kretprobe. An entry counts once, when its
 * confirmation succeeds: dnat, snat and insert records are all written on return.
 */
#include "stickyscope.h"
#include <bpf/bpf_tracing.h>

/* The helper sets these before load: the node's network namespace (these programs see every namespace). */
const volatile __u32 ss_trace_netns_ino = 0;
const volatile bool ss_trace_insert = true;

#define SS_RTF_LOCAL 0x80000000U /* rt6i_flags of a route that delivers locally */
#define SS_SKB_DST_NOREF 1UL
#define SS_PENDING_DEPTH 8

/*
 * From entry to return, per CPU: confirmation runs on one CPU with bottom halves
 * disabled, but the entry probe fires before they are, so a softirq may confirm
 * another packet in between; that call returns first, hence a stack. kretprobe
 * does not see the arguments, so the skb is kept here too.
 */
struct ss_pending {
	__u64 skb;
	__u64 ct; /* 0: not a new connection of the node's namespace */
};

struct ss_pending_stack {
	__u32 depth;
	struct ss_pending e[SS_PENDING_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ss_pending_stack);
} ss_pending SEC(".maps");

static __always_inline void ss_confirm_enter(struct sk_buff *skb)
{
	__u32 zero = 0;
	struct ss_pending_stack *st = bpf_map_lookup_elem(&ss_pending, &zero);
	unsigned long nfct = BPF_CORE_READ(skb, _nfct);
	struct nf_conn *ct = (struct nf_conn *)(nfct & ~SS_NFCT_INFOMASK);
	__u32 d;

	if (!st)
		return;
	d = st->depth;
	if (d >= SS_PENDING_DEPTH) {
		/* returns were missed (kretprobe instances run out): start over rather than stop for good */
		st->depth = 0;
		d = 0;
	}
	if ((nfct & SS_NFCT_INFOMASK) != IP_CT_NEW || !ct ||
	    BPF_CORE_READ(ct, ct_net.net, ns.inum) != ss_trace_netns_ino)
		ct = NULL;
	st->e[d & (SS_PENDING_DEPTH - 1)] = (struct ss_pending){ (__u64)skb, (__u64)ct };
	st->depth = d + 1;
}

/*
 * Where the netfilter mode would have seen the entry confirmed: LOCAL_IN when the
 * packet arrived on an interface and its route delivers it to the node, else
 * POST_ROUTING. (Its translation happened at PRE_ROUTING if it arrived, else at
 * LOCAL_OUT.)
 */
static __always_inline __u8 ss_confirm_hook(struct sk_buff *skb, __u8 family, bool arrived)
{
	struct dst_entry *dst;

	if (!arrived)
		return SS_HOOK_POST_ROUTING;
	dst = (struct dst_entry *)(BPF_CORE_READ(skb, _skb_refdst) & ~SS_SKB_DST_NOREF);
	if (!dst)
		return SS_HOOK_POST_ROUTING;
	if (family == SS_FAMILY_IPV4)
		return BPF_CORE_READ((struct rtable *)dst, rt_type) == RTN_LOCAL ? SS_HOOK_LOCAL_IN
		                                                                 : SS_HOOK_POST_ROUTING;
	return BPF_CORE_READ((struct rt6_info *)dst, rt6i_flags) & SS_RTF_LOCAL ? SS_HOOK_LOCAL_IN
	                                                                        : SS_HOOK_POST_ROUTING;
}

/*
 * On return: records only if the call accepted the packet and confirmed the entry the
 * packet still carries (when a UDP race is resolved the packet moves to the entry that
 * won, which was counted when it was confirmed).
 */
static __always_inline void ss_confirm_exit(struct sk_buff *skb_arg, int ret)
{
	__u32 zero = 0;
	struct ss_pending_stack *st = bpf_map_lookup_elem(&ss_pending, &zero);
	struct sk_buff *skb;
	struct nf_conn *ct;
	struct ss_conn c;
	bool arrived;
	__u64 id;
	__u32 d;
	__u8 hook;

	if (!st || !st->depth)
		return;
	d = --st->depth;
	skb = (struct sk_buff *)st->e[d & (SS_PENDING_DEPTH - 1)].skb;
	ct = (struct nf_conn *)st->e[d & (SS_PENDING_DEPTH - 1)].ct;
	if (!ct || ret != SS_NF_ACCEPT || (skb_arg && skb_arg != skb))
		return;
	if ((BPF_CORE_READ(skb, _nfct) & ~SS_NFCT_INFOMASK) != (unsigned long)ct)
		return;
	c.ct = ct; /* outside the relocated expressions: ss_conn is ours, not the kernel's */
	c.status = (__u32)BPF_CORE_READ(ct, status);
	if (!(c.status & IPS_CONFIRMED) || !ss_read_tuples(&c))
		return;
	id = ss_ct_id_mix(c.ct);
	arrived = BPF_CORE_READ(skb, skb_iif) != 0;
	if (c.status & IPS_DST_NAT)
		ss_emit(arrived ? SS_HOOK_PRE_ROUTING : SS_HOOK_LOCAL_OUT, &c, SS_REC_DNAT, id);
	if (!(c.status & IPS_SRC_NAT) && !ss_trace_insert)
		return;
	hook = ss_confirm_hook(skb, c.th[IP_CT_DIR_ORIGINAL].tuple.src.l3num, arrived);
	if (c.status & IPS_SRC_NAT)
		ss_emit(hook, &c, SS_REC_SNAT, id);
	if (ss_trace_insert)
		ss_emit(hook, &c, SS_REC_INSERT, id);
}

SEC("fentry/__nf_conntrack_confirm")
int BPF_PROG(ss_fentry_confirm, struct sk_buff *skb)
{
	ss_confirm_enter(skb);
	return 0;
}

SEC("fexit/__nf_conntrack_confirm")
int BPF_PROG(ss_fexit_confirm, struct sk_buff *skb, int ret)
{
	ss_confirm_exit(skb, ret);
	return 0;
}

SEC("kprobe/__nf_conntrack_confirm")
int BPF_KPROBE(ss_kprobe_confirm, struct sk_buff *skb)
{
	ss_confirm_enter(skb);
	return 0;
}

SEC("kretprobe/__nf_conntrack_confirm")
int BPF_KRETPROBE(ss_kretprobe_confirm, int ret)
{
	ss_confirm_exit(NULL, ret);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
