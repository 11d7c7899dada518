// SPDX-License-Identifier: GPL-2.0
/*
 * Backend selection: attached at PRE_ROUTING (forwarded and incoming traffic) and
 * LOCAL_OUT (connections made on the node) right after the NAT hook
 * (NF_IP_PRI_NAT_DST + 1), where the first packet already carries the DNAT decision
 * and the entry is not yet confirmed: one record per translated connection.
 */
#include "stickyscope.h"

const volatile bool ss_emit_dnat = true;

SEC("netfilter")
int ss_dnat(struct ss_nf_ctx *ctx)
{
	struct ss_conn c;

	if (!ss_emit_dnat)
		return SS_NF_ACCEPT;
	if (ss_new_conn(ctx, &c) && (c.status & IPS_DST_NAT) && ss_read_tuples(&c))
		ss_emit(ctx->state->hook, &c, SS_REC_DNAT, ss_ct_id_new(c.ct));
	return SS_NF_ACCEPT;
}

char LICENSE[] SEC("license") = "GPL";
