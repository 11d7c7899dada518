// SPDX-License-Identifier: GPL-2.0
/*
 * Entries about to be confirmed: attached at POST_ROUTING (priority INT_MAX - 1) and
 * LOCAL_IN (INT_MAX - 2, IPv6 confirms there at INT_MAX - 1), after source NAT and
 * just before the conntrack confirm hook, so every new connection leaving or ending
 * on the node is seen exactly once, with its final reply tuple (the reply
 * destination is the address the backend sees).
 */
#include "stickyscope.h"

const volatile bool ss_emit_snat = true;
const volatile bool ss_emit_insert = true;

SEC("netfilter")
int ss_confirm(struct ss_nf_ctx *ctx)
{
	bool snat;
	__u8 hook;
	struct ss_conn c;
	__u64 id;

	if (!ss_emit_snat && !ss_emit_insert)
		return SS_NF_ACCEPT;
	if (!ss_new_conn(ctx, &c))
		return SS_NF_ACCEPT;
	snat = ss_emit_snat && (c.status & IPS_SRC_NAT);
	if ((!snat && !ss_emit_insert) || !ss_read_tuples(&c))
		return SS_NF_ACCEPT;
	id = ss_ct_id_last(c.ct);
	hook = ctx->state->hook;
	if (snat)
		ss_emit(hook, &c, SS_REC_SNAT, id);
	if (ss_emit_insert)
		ss_emit(hook, &c, SS_REC_INSERT, id);
	return SS_NF_ACCEPT;
}

char LICENSE[] SEC("license") = "GPL";
