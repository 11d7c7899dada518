// The conntrack table through libnetfilter_conntrack. Dumps ask the kernel for DNATed entries
// only (CTA_STATUS_MASK, Linux >= 5.19; older kernels send every entry) and every entry is
// checked here again, so both behave the same.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include "record.h"
#include "fail.h"
#include "ct-netlink.h"

struct walk {
	struct ss_ct_netlink *nl;
	ss_ct_visit visit;
	void *ctx;
	int err;
};

static void addr(const struct nf_conntrack *ct, uint8_t family, int v4, int v6, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET)
		memcpy(out, nfct_get_attr(ct, v4), 4);
	else
		memcpy(out, nfct_get_attr(ct, v6), 16);
}

/* Fills c from ct; false when it is not a DNATed entry of a family and protocol with ports. */
static bool convert(const struct nf_conntrack *ct, struct ss_conn *c)
{
	uint8_t family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	uint8_t proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);

	if (!nfct_attr_is_set(ct, ATTR_STATUS) || !(nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_DST_NAT))
		return false;
	if ((family != AF_INET && family != AF_INET6) ||
	    (proto != SS_PROTO_TCP && proto != SS_PROTO_UDP && proto != SS_PROTO_SCTP))
		return false;
	memset(c, 0, sizeof(*c));
	c->key.family = family;
	c->key.proto = proto;
	c->key.sport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
	c->key.dport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
	addr(ct, family, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, c->key.src);
	addr(ct, family, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, c->key.dst);
	addr(ct, family, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, c->backend);
	c->backend_port = nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC);
	c->status = nfct_get_attr_u32(ct, ATTR_STATUS);
	if (proto == SS_PROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE))
		c->tcp_state = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START))
		c->start_ns = nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START);
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES) && nfct_attr_is_set(ct, ATTR_REPL_COUNTER_BYTES)) {
		c->has_counts = true;
		c->counts[0] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
		c->counts[1] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
		c->counts[2] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
		c->counts[3] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
	}
	return true;
}

static int on_entry(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct walk *w = data;
	struct ss_conn c;

	if (type == NFCT_T_DESTROY)
		w->nl->destroys++;
	else
		w->nl->entries++;
	if (!convert(ct, &c))
		return NFCT_CB_CONTINUE;
	if ((w->err = w->visit(w->ctx, &c)) < 0)
		return NFCT_CB_STOP;
	return NFCT_CB_CONTINUE;
}

int ss_ct_open(struct ss_ct_netlink *nl, unsigned rcvbuf)
{
	int fd;

	memset(nl, 0, sizeof(*nl));
	nl->dump = nfct_open(CONNTRACK, 0);
	if (!nl->dump) {
		int err = errno ? errno : EIO;

		ss_fail("open a conntrack netlink socket: %s (is nf_conntrack_netlink available?)", strerror(err));
		return -err;
	}
	nl->events = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_DESTROY);
	if (!nl->events) {
		int err = errno;

		ss_fail("subscribe to conntrack destroy events: %s", strerror(err));
		nfct_close(nl->dump);
		return -err;
	}
	fd = nfct_fd(nl->events);
	if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
		int err = errno;

		ss_fail("set the conntrack event socket's buffer to %u bytes: %s", rcvbuf, strerror(err));
		ss_ct_close(nl);
		return -err;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		int err = errno;

		ss_fail("make the conntrack event socket non-blocking: %s", strerror(err));
		ss_ct_close(nl);
		return -err;
	}
	return 0;
}

void ss_ct_close(struct ss_ct_netlink *nl)
{
	if (nl->events)
		nfct_close(nl->events);
	if (nl->dump)
		nfct_close(nl->dump);
	nl->events = nl->dump = NULL;
}

int ss_ct_events_join(struct ss_ct_netlink *nl, bool on)
{
	unsigned group = NFNLGRP_CONNTRACK_DESTROY;

	if (setsockopt(nfct_fd(nl->events), SOL_NETLINK, on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &group,
	               sizeof(group)) < 0) {
		int err = errno;

		ss_fail("%s the conntrack destroy group: %s", on ? "join" : "leave", strerror(err));
		return -err;
	}
	return 0;
}

int ss_ct_events_fd(const struct ss_ct_netlink *nl)
{
	return nfct_fd(nl->events);
}

int ss_ct_dump(struct ss_ct_netlink *nl, ss_ct_visit visit, void *ctx)
{
	struct walk w = { .nl = nl, .visit = visit, .ctx = ctx };
	struct nfct_filter_dump_mark dnat = { .val = IPS_DST_NAT, .mask = IPS_DST_NAT };
	struct nfct_filter_dump *filter = nfct_filter_dump_create();
	int rc;

	if (!filter) {
		int err = errno ? errno : ENOMEM;

		ss_fail("dump the conntrack table: %s", strerror(err));
		return -err;
	}
	nfct_filter_dump_set_attr(filter, NFCT_FILTER_DUMP_STATUS, &dnat);
	nl->entries = 0;
	nfct_callback_register(nl->dump, NFCT_T_ALL, on_entry, &w);
	rc = nfct_query(nl->dump, NFCT_Q_DUMP_FILTER, filter);
	nfct_callback_unregister(nl->dump);
	nfct_filter_dump_destroy(filter);
	if (w.err < 0)
		return w.err;
	if (rc < 0) {
		/* saved first: the message's own writes may change errno (a failed dump then read as success or EPIPE)
		 */
		int err = errno ? errno : EIO;

		ss_fail("dump the conntrack table: %s (is nf_conntrack_netlink available?)", strerror(err));
		return -err;
	}
	return 0;
}

int ss_ct_read_events(struct ss_ct_netlink *nl, ss_ct_visit visit, void *ctx)
{
	struct walk w = { .nl = nl, .visit = visit, .ctx = ctx };
	int overruns = 0;

	nfct_callback_register(nl->events, NFCT_T_DESTROY, on_entry, &w);
	for (;;) {
		if (nfct_catch(nl->events) >= 0 || w.err < 0)
			break;
		if (errno == ENOBUFS) {
			overruns++;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			break;
		w.err = errno ? -errno : -EIO;
		ss_fail("read conntrack destroy events: %s", strerror(-w.err));
		break;
	}
	nfct_callback_unregister(nl->events);
	return w.err < 0 ? w.err : overruns;
}
