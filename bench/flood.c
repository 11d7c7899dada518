// flood: new connections as fast as the kernel takes them, for `npm run bench`.
// Sends one packet per flow (a UDP datagram or a TCP SYN) to one Service address,
// each flow from a distinct source ip:port, through a raw socket with our own IP
// header: a socket per flow (what the Node traffic client does) tops out at a few
// thousand connections a second, far below the kernel's own rate.
// Prints one JSON line at the end: {"sent":N,"seconds":S,"first":F,"next":X}.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define BATCH 64
#define PORT_FIRST 1024
#define PORTS (65536 - PORT_FIRST)
#define PKT_MAX 40

static const char usage[] =
	"Usage: flood --dst IP:PORT --src-base IP --src-count N [--proto udp|tcp]\n"
	"             [--rate N] [--duration S] [--count N] [--first N] [--netns PATH] [--cpu N]\n"
	"\n"
	"  --dst IP:PORT     Service address every flow goes to\n"
	"  --src-base IP     first source address; flows use src-base .. src-base+N-1\n"
	"  --src-count N     number of source addresses (each gives 64512 source ports)\n"
	"  --proto P         udp (one datagram per flow, default) or tcp (one SYN per flow)\n"
	"  --rate N          flows per second; 0 (default) sends as fast as the kernel takes them\n"
	"  --duration S      stop after S seconds (default 1)\n"
	"  --count N         stop after N flows (default: no limit)\n"
	"  --first N         index of the first flow (runs with disjoint ranges never share a flow)\n"
	"  --netns PATH      enter this network namespace first\n"
	"  --cpu N           run on CPU N only\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "flood: failed to ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

struct opts {
	struct in_addr dst;
	uint16_t dport;
	uint32_t src_base; /* host order */
	uint32_t src_count;
	int tcp;
	double rate;
	double duration;
	uint64_t count;
	uint64_t first;
	const char *netns;
	int cpu;
};

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

// Builds the packet of flow i: IPv4 header (the kernel fills id and checksum) and a
// UDP or TCP header with a valid checksum, since conntrack verifies it at PRE_ROUTING.
static size_t build(uint8_t *pkt, const struct opts *o, uint64_t i)
{
	uint32_t src = htonl(o->src_base + (uint32_t)((i / PORTS) % o->src_count));
	uint16_t sport = htons((uint16_t)(PORT_FIRST + i % PORTS));
	size_t l4 = o->tcp ? 20 : 8;
	uint8_t pseudo[12];
	uint32_t sum;

	memset(pkt, 0, 20 + l4);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)((20 + l4) >> 8);
	pkt[3] = (uint8_t)(20 + l4);
	pkt[8] = 64;
	pkt[9] = o->tcp ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(pkt + 12, &src, 4);
	memcpy(pkt + 16, &o->dst, 4);
	memcpy(pkt + 20, &sport, 2);
	memcpy(pkt + 22, &o->dport, 2);
	if (o->tcp) {
		uint32_t seq = htonl((uint32_t)(i * 2654435761u));

		memcpy(pkt + 24, &seq, 4);
		pkt[32] = 5 << 4; /* data offset: 20 bytes */
		pkt[33] = 0x02;   /* SYN */
		pkt[34] = 0xfa;   /* window 64240 */
		pkt[35] = 0xf0;
	} else {
		pkt[24] = 0;
		pkt[25] = 8;
	}
	memcpy(pseudo, pkt + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = pkt[9];
	pseudo[10] = 0;
	pseudo[11] = (uint8_t)l4;
	sum = sum16(pseudo, sizeof(pseudo), 0);
	sum = sum16(pkt + 20, l4, sum);
	memcpy(pkt + 20 + (o->tcp ? 16 : 6), &(uint16_t){ fold(sum) }, 2);
	return 20 + l4;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "src-base", required_argument, NULL, 's' },
		{ "src-count", required_argument, NULL, 'n' },
		{ "proto", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "first", required_argument, NULL, 'f' },
		{ "netns", required_argument, NULL, 'N' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *colon, *end;
	struct in_addr a;
	int c, have_dst = 0, have_src = 0;

	*o = (struct opts){ .src_count = 1, .duration = 1, .cpu = -1 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			colon = strrchr(optarg, ':');
			if (!colon || (*colon = 0, inet_pton(AF_INET, optarg, &o->dst) != 1))
				return fail("parse --%s: expected IPv4:PORT, got '%s'", "dst", optarg);
			o->dport = htons((uint16_t)strtoul(colon + 1, NULL, 10));
			have_dst = 1;
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				return fail("parse --%s: expected an IPv4 address, got '%s'", "src-base", optarg);
			o->src_base = ntohl(a.s_addr);
			have_src = 1;
			break;
		case 'n':
			o->src_count = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || !o->src_count)
				return fail("parse --%s: expected a positive integer, got '%s'", "src-count", optarg);
			break;
		case 'p':
			if (strcmp(optarg, "udp") && strcmp(optarg, "tcp"))
				return fail("parse --%s: expected udp or tcp, got '%s'", "proto", optarg);
			o->tcp = !strcmp(optarg, "tcp");
			break;
		case 'r':
			o->rate = strtod(optarg, &end);
			if (*end || o->rate < 0)
				return fail("parse --%s: expected a rate >= 0, got '%s'", "rate", optarg);
			break;
		case 't':
			o->duration = strtod(optarg, &end);
			if (*end || o->duration <= 0)
				return fail("parse --%s: expected seconds > 0, got '%s'", "duration", optarg);
			break;
		case 'c':
			o->count = strtoull(optarg, &end, 10);
			if (*end)
				return fail("parse --%s: expected an integer, got '%s'", "count", optarg);
			break;
		case 'f':
			o->first = strtoull(optarg, &end, 10);
			if (*end)
				return fail("parse --%s: expected an integer, got '%s'", "first", optarg);
			break;
		case 'N':
			o->netns = optarg;
			break;
		case 'C':
			o->cpu = atoi(optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return fail("parse arguments: unknown or incomplete option '%s' (see --help)",
			            argv[optind - 1]);
		}
	}
	if (!have_dst || !have_src)
		return fail("parse arguments: --dst and --src-base are required (see --help)");
	return 0;
}

static int setup(const struct opts *o)
{
	int fd;

	if (o->netns) {
		int ns = open(o->netns, O_RDONLY | O_CLOEXEC);

		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
			return -fail("enter network namespace %s: %s", o->netns, strerror(errno));
		close(ns);
	}
	if (o->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			return -fail("pin to CPU %d: %s", o->cpu, strerror(errno));
	}
	// IPPROTO_RAW implies IP_HDRINCL: the source address is ours to choose.
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return -fail("open a raw socket: %s (needs CAP_NET_RAW)", strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t pkts[BATCH][PKT_MAX];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct opts o;
	uint64_t i, sent = 0;
	double t0, elapsed;
	int fd;

	if (parse(argc, argv, &o))
		return 2;
	// Never outlive the bench that started us, whatever happens to it.
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fd = setup(&o);
	if (fd < 0)
		return 1;
	to.sin_addr = o.dst;
	memset(msgs, 0, sizeof(msgs));
	for (int k = 0; k < BATCH; k++) {
		iov[k].iov_base = pkts[k];
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
		msgs[k].msg_hdr.msg_name = &to;
		msgs[k].msg_hdr.msg_namelen = sizeof(to);
	}
	i = o.first;
	t0 = now();
	while (!stop && (elapsed = now() - t0) < o.duration && (!o.count || sent < o.count)) {
		unsigned n = BATCH;
		int done;

		if (o.rate > 0) {
			double due = elapsed * o.rate - (double)sent;

			if (due < 1) {
				struct timespec ts = { 0, (long)((1 - due) / o.rate * 1e9) + 1000 };

				nanosleep(&ts, NULL);
				continue;
			}
			if (due < n)
				n = (unsigned)due;
		}
		if (o.count && o.count - sent < n)
			n = (unsigned)(o.count - sent);
		for (unsigned k = 0; k < n; k++)
			iov[k].iov_len = build(pkts[k], &o, i + k);
		done = sendmmsg(fd, msgs, n, 0);
		if (done < 0) {
			// A full device queue drops the packet in the kernel; ENOBUFS says so here.
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return fail("send: %s", strerror(errno));
		}
		i += (unsigned)done;
		sent += (unsigned)done;
	}
	printf("{\"sent\":%llu,\"seconds\":%.6f,\"first\":%llu,\"next\":%llu}\n", (unsigned long long)sent, now() - t0,
	       (unsigned long long)o.first, (unsigned long long)i);
	return 0;
}
