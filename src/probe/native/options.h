/* Command line of stickyscope-probe. */
#ifndef SS_OPTIONS_H
#define SS_OPTIONS_H
#include <stdbool.h>

struct ss_options {
	const char *netns; /* NULL: stay in the current network namespace */
	unsigned ringbuf_bytes;
	bool insert_events;
	unsigned counters_ms;
	unsigned poll_ms;
};

/* Fills opts from argv; returns 0, 1 after printing --help, or -1 after a usage error line. */
int ss_parse_options(int argc, char **argv, struct ss_options *opts);

#endif
