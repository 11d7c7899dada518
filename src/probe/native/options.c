#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fail.h"
#include "options.h"

static const char usage[] =
	"Usage: stickyscope-probe [--netns PATH] [--attach MODE] [--ringbuf-bytes N]\n"
	"                         [--no-insert] [--counters-ms N] [--poll-ms N] [--stats]\n"
	"                         [--verbose]\n"
	"                         [--no-conntrack] [--conntrack-sweep-ms N] [--conntrack-rcvbuf N]\n"
	"                         [--conntrack-events-max N]\n"
	"\n"
	"Attaches stickyscope's BPF programs for a network namespace and writes\n"
	"fixed-size binary records (bpf/record.h) to stdout: HELLO once attached, then\n"
	"dnat/snat/insert events, periodic COUNTERS and LOST, and the live DNATed\n"
	"connections of the conntrack table (OPEN, CLOSE, TRAFFIC, SWEEP). Runs until SIGINT, SIGTERM\n"
	"or end of stdin (so it ends with the process that reads it).\n"
	"\n"
	"  --netns PATH        enter this network namespace first (e.g. /run/netns/node)\n"
	"  --attach MODE       netfilter (links at the NAT hooks, Linux >= 6.4), fentry\n"
	"                      (fentry/fexit on __nf_conntrack_confirm), kprobe (kprobe/\n"
	"                      kretprobe there), or auto: the first of these that works\n"
	"                      (default); ATTACH records say which\n"
	"  --ringbuf-bytes N   ring buffer size, a power of two >= 4096 (default 8388608)\n"
	"  --no-insert         do not emit insert events (one per new conntrack entry)\n"
	"  --counters-ms N     conntrack statistics period (default 1000)\n"
	"  --poll-ms N         ring buffer drain period (default 10)\n"
	"  --no-conntrack      do not read the conntrack table over netlink (no live connections)\n"
	"  --conntrack-sweep-ms N  period of the conntrack table sweep: counters of open\n"
	"                      connections, and ends no destroy message told (default " SS_SWEEP_DEFAULT_TEXT
	")\n"
	"  --conntrack-rcvbuf N    receive buffer of the conntrack destroy socket, bytes\n"
	"                      (default: the kernel's)\n"
	"  --conntrack-events-max N  destroy messages a second beyond which the helper stops\n"
	"                      listening for 10 s at a time, the sweep finding the ends\n"
	"                      meanwhile: what each message costs the node stays bounded under\n"
	"                      a flood (default " SS_EVENTS_MAX_DEFAULT_TEXT
	")\n"
	"  --stats             measure what tracing costs: switch the kernel's BPF run-time\n"
	"                      statistics on while running (needs CAP_SYS_ADMIN; off again\n"
	"                      at exit) and print one 'stats:' note at exit with the records\n"
	"                      written, this process's CPU time since attaching, and each\n"
	"                      program's run count and run time\n"
	"  --verbose           pass libbpf's messages, debug ones included, to stderr\n";

static const char *const mode_names[] = { "auto", "netfilter", "fentry", "kprobe" };

const char *ss_mode_name(enum ss_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

static int mode(const char *text, enum ss_mode *out)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(text, mode_names[i])) {
			*out = (enum ss_mode)i;
			return 0;
		}
	}
	ss_fail("parse --attach: expected netfilter, fentry, kprobe or auto, got '%s'", text);
	return -1;
}

static int number(const char *flag, const char *text, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || end == text || v == 0 || v > 0x80000000UL) {
		ss_fail("parse %s: expected a positive integer, got '%s'", flag, text);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int ss_parse_options(int argc, char **argv, struct ss_options *opts)
{
	static const struct option longopts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "attach", required_argument, NULL, 'a' },
		{ "ringbuf-bytes", required_argument, NULL, 'r' },
		{ "no-insert", no_argument, NULL, 'I' },
		{ "counters-ms", required_argument, NULL, 'c' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-conntrack", no_argument, NULL, 'C' },
		{ "conntrack-sweep-ms", required_argument, NULL, 'S' },
		{ "conntrack-rcvbuf", required_argument, NULL, 'B' },
		{ "conntrack-events-max", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*opts = (struct ss_options){
		.ringbuf_bytes = 8u << 20,
		.insert_events = true,
		.counters_ms = 1000,
		.poll_ms = 10,
		.conntrack = true,
		.conntrack_sweep_ms = SS_SWEEP_DEFAULT_MS,
		.conntrack_events_max = SS_EVENTS_MAX_DEFAULT,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			opts->netns = optarg;
			break;
		case 'a':
			if (mode(optarg, &opts->mode))
				return -1;
			break;
		case 'r':
			if (number("--ringbuf-bytes", optarg, &opts->ringbuf_bytes))
				return -1;
			break;
		case 'I':
			opts->insert_events = false;
			break;
		case 'c':
			if (number("--counters-ms", optarg, &opts->counters_ms))
				return -1;
			break;
		case 'p':
			if (number("--poll-ms", optarg, &opts->poll_ms))
				return -1;
			break;
		case 's':
			opts->stats = true;
			break;
		case 'v':
			opts->verbose = true;
			break;
		case 'C':
			opts->conntrack = false;
			break;
		case 'S':
			if (number("--conntrack-sweep-ms", optarg, &opts->conntrack_sweep_ms))
				return -1;
			opts->conntrack_sweep_fixed = true;
			break;
		case 'B':
			if (number("--conntrack-rcvbuf", optarg, &opts->conntrack_rcvbuf))
				return -1;
			break;
		case 'E':
			if (number("--conntrack-events-max", optarg, &opts->conntrack_events_max))
				return -1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			ss_fail("parse arguments: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		ss_fail("parse arguments: unexpected '%s' (see --help)", argv[optind]);
		return -1;
	}
	if (opts->ringbuf_bytes < 4096 || (opts->ringbuf_bytes & (opts->ringbuf_bytes - 1))) {
		ss_fail("parse --ringbuf-bytes: expected a power of two >= 4096, got %u", opts->ringbuf_bytes);
		return -1;
	}
	return 0;
}
