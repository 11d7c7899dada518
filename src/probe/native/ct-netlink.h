/* The node's conntrack table over netlink (libnetfilter_conntrack): dumps, and destroy events. */
#ifndef SS_CT_NETLINK_H
#define SS_CT_NETLINK_H
#include <stdbool.h>
#include <stdint.h>
#include "ct-conn.h"

struct nfct_handle;

struct ss_ct_netlink {
	struct nfct_handle *dump;   /* requests: one dump at a time */
	struct nfct_handle *events; /* the destroy group */
	uint64_t entries;           /* entries the last dump read, DNATed or not */
	uint64_t destroys;          /* destroy messages read, DNATed or not */
};

/* Called for each DNATed entry of a dump, or each destroyed one; a negative return stops the walk. */
typedef int (*ss_ct_visit)(void *ctx, const struct ss_conn *c);

/* Opens both sockets in the current namespace; rcvbuf (bytes, 0: the kernel's default) sizes the
 * events socket. 0, or -errno after one "failed to ..." line. */
int ss_ct_open(struct ss_ct_netlink *nl, unsigned rcvbuf);
void ss_ct_close(struct ss_ct_netlink *nl);

/* The events socket, for poll(). */
int ss_ct_events_fd(const struct ss_ct_netlink *nl);

/* Walks the table (both families), calling visit for every entry whose status has IPS_DST_NAT. */
int ss_ct_dump(struct ss_ct_netlink *nl, ss_ct_visit visit, void *ctx);

/* Joins (on) or leaves the destroy group; messages already queued stay readable. 0, or -errno after one "failed
 * to ..." line. */
int ss_ct_events_join(struct ss_ct_netlink *nl, bool on);

/* Reads the destroy messages waiting, calling visit for DNATed ones. Returns the overruns met
 * (ENOBUFS: the kernel dropped messages), or -errno. */
int ss_ct_read_events(struct ss_ct_netlink *nl, ss_ct_visit visit, void *ctx);

#endif
