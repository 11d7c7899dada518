/* One conntrack entry as the helper keeps it: what netlink says of a DNATed connection. */
#ifndef SS_CT_CONN_H
#define SS_CT_CONN_H
#include <stdbool.h>
#include <stdint.h>

/* A connection's identity: (family, proto, client, Service address), the original tuple. */
struct ss_conn_key {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t proto;  /* IPPROTO_* */
	uint16_t sport; /* network order, as in records */
	uint16_t dport;
	uint16_t pad;
	uint8_t src[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst[16];
};

struct ss_conn {
	struct ss_conn_key key;
	uint8_t backend[16]; /* reply source */
	uint16_t backend_port;
	uint8_t tcp_state;  /* enum ss_tcp_state; SS_TCP_NONE for UDP and SCTP */
	bool has_counts;    /* counts[] are the kernel's (nf_conntrack_acct) */
	uint32_t status;    /* IPS_* bits */
	uint64_t start_ns;  /* CLOCK_REALTIME; 0 unknown */
	uint64_t counts[4]; /* orig packets, orig bytes, reply packets, reply bytes */
};

#endif
