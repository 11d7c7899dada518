/* Command line of stickyscope-probe. */
#ifndef SS_OPTIONS_H
#define SS_OPTIONS_H
#include <stdbool.h>

/* How the programs see new connections (--attach). */
enum ss_mode {
	SS_MODE_AUTO = 0,  /* the first of the modes below that this kernel has */
	SS_MODE_NETFILTER, /* netfilter BPF links at the NAT hooks: Linux >= 6.4 */
	SS_MODE_FENTRY,    /* fentry/fexit on __nf_conntrack_confirm: tracing programs */
	SS_MODE_KPROBE,    /* kprobe/kretprobe on __nf_conntrack_confirm: CONFIG_KPROBES */
};

/* "netfilter", "fentry", "kprobe" or "auto". */
const char *ss_mode_name(enum ss_mode m);

/* The conntrack sweep's default period, and the share of a core (1/SS_SWEEP_BUDGET, 0.8%) the sweep may take by
 * default: a table so large that a walk costs more is swept less often (docs/design.md has the measured cost). Below
 * the 1% target, since the walk's CPU time is the last walk's and the helper's other work is on top. */
#define SS_SWEEP_BUDGET 125
/* The longest wait between drains of a ring buffer found empty (see the helper's loop). */
#define SS_IDLE_DRAIN_MS 250
/* Drains of fewer records than this stretch the period up to SS_BATCH_DRAIN_MS (see the helper's loop). */
#define SS_BATCH_RECORDS 64
#define SS_BATCH_DRAIN_MS 40
#define SS_SWEEP_DEFAULT_MS 10000
#define SS_SWEEP_DEFAULT_TEXT "10000"
/* Destroy messages a second beyond which the helper leaves the destroy group for a while (docs/design.md, "Live
 * connections": what they cost under a flood of new connections). */
#define SS_EVENTS_MAX_DEFAULT 20000
#define SS_EVENTS_MAX_DEFAULT_TEXT "20000"

struct ss_options {
	const char *netns; /* NULL: stay in the current network namespace */
	unsigned ringbuf_bytes;
	bool insert_events;
	unsigned counters_ms;
	unsigned poll_ms;
	bool conntrack;                /* follow live connections over netlink (--no-conntrack: not) */
	unsigned conntrack_sweep_ms;   /* --conntrack-sweep-ms */
	bool conntrack_sweep_fixed;    /* given: kept whatever a walk costs */
	unsigned conntrack_rcvbuf;     /* --conntrack-rcvbuf: bytes of the destroy socket, 0 the kernel's */
	unsigned conntrack_events_max; /* --conntrack-events-max: destroy messages a second before a pause */
	bool stats;                    /* --stats: BPF run-time statistics and CPU time, one note at exit */
	bool verbose;                  /* --verbose: libbpf's messages, its debug ones included, on stderr */
	enum ss_mode mode;
};

/* Fills opts from argv; returns 0, 1 after printing --help, or -1 after a usage error line. */
int ss_parse_options(int argc, char **argv, struct ss_options *opts);

#endif
