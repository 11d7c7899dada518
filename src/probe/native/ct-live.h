/* Live connections: the conntrack table turned into OPEN, CLOSE, TRAFFIC, SWEEP and CT_LOST records. */
#ifndef SS_CT_LIVE_H
#define SS_CT_LIVE_H
#include <stdbool.h>
#include <stdint.h>
#include "ct-netlink.h"
#include "ct-table.h"

struct ss_record;

struct ss_live {
	struct ss_ct_netlink nl;
	struct ss_table table;
	uint32_t sweep;          /* the sweep under way, or the last one */
	uint64_t sweep_start;    /* its CLOCK_MONOTONIC start */
	bool initial;            /* the walk under way is the dump at attach */
	bool acct_seen;          /* an entry of the walk carried counters */
	bool acct_noted;         /* the "bytes are unavailable" line was printed */
	int64_t real_minus_mono; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns: a DNAT record's time as a start */
	uint64_t walk_cpu_ns;    /* CPU time (user and kernel) the last walk took */
};

/* Opens the netlink sockets; 0, or -errno after one "failed to ..." line (the helper goes on without). */
int ss_live_open(struct ss_live *l, unsigned rcvbuf);
void ss_live_close(struct ss_live *l);

/* Walks the table: the dump at attach (initial) or a sweep. 0 or -errno (output failed). */
int ss_live_walk(struct ss_live *l, bool initial);

/* Reads the destroy messages waiting. 0 or -errno. */
int ss_live_events(struct ss_live *l);

/* A DNAT record of the BPF programs: a connection already announced, which needs no OPEN. */
void ss_live_announced(struct ss_live *l, const struct ss_record *r);

#endif
