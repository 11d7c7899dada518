/* Live connections: the conntrack table turned into OPEN, CLOSE, TRAFFIC, SWEEP and CT_LOST records. */
#ifndef SS_CT_LIVE_H
#define SS_CT_LIVE_H
#include <stdbool.h>
#include <stdint.h>
#include "ct-netlink.h"
#include "ct-table.h"

struct ss_record;

/* A DNAT record's connection, waiting in a batch to join the table (see ss_live_announced). */
struct ss_announce {
	struct ss_conn_key key;
	uint64_t hash;
	uint8_t backend[16];
	uint16_t backend_port;
	uint8_t proto;
	uint32_t status;
	uint64_t ts_ns;
};

#define SS_ANNOUNCE_BATCH 32

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
	/* Pacing of the destroy messages (ss_live_pace), times in CLOCK_MONOTONIC ms */
	unsigned events_max;       /* messages a second before a pause; 0: never paused */
	uint64_t window_ms;        /* start of the current one-second window */
	uint64_t window_destroys;  /* nl.destroys at its start */
	uint64_t announced;        /* DNAT records (new connections) followed */
	uint64_t window_announced; /* announced at its start */
	struct ss_announce batch[SS_ANNOUNCE_BATCH];
	unsigned batched;
	uint64_t paused_until_ms; /* 0: listening */
	uint64_t flood_ms;        /* first pause of a flood still going on; 0: none */
	uint64_t resumed_ms;      /* listening again since */
	unsigned pauses;          /* pauses of the flood going on */
};

/* Opens the netlink sockets; 0, or -errno after one "failed to ..." line (the helper goes on without). events_max:
 * destroy messages a second beyond which the helper stops listening for a while (0: never). */
int ss_live_open(struct ss_live *l, unsigned rcvbuf, unsigned events_max);
void ss_live_close(struct ss_live *l);

/* Walks the table: the dump at attach (initial) or a sweep. 0 or -errno (output failed). */
int ss_live_walk(struct ss_live *l, bool initial);

/* Reads the destroy messages waiting. 0 or -errno. */
int ss_live_events(struct ss_live *l);

/* Leaves the destroy group while messages come faster than events_max a second, joins it again after a pause; to
 * be called after reading messages and when the time it returns (CLOCK_MONOTONIC ms, UINT64_MAX: none) comes. */
uint64_t ss_live_pace(struct ss_live *l, uint64_t now_ms);

/* A DNAT record of the BPF programs: a connection already announced, which needs no OPEN. Batched: ss_live_settle
 * must come before anything reads the table (destroy messages, a walk). */
void ss_live_announced(struct ss_live *l, const struct ss_record *r);

/* Puts the batched announcements into the table. */
void ss_live_settle(struct ss_live *l);

#endif
