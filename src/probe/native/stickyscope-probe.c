// stickyscope-probe: enters the node's network namespace, attaches the BPF programs (netfilter
// links, or fentry/kprobe on the conntrack confirmation) and streams their records to stdout
// (see options.c for the command line).
// The programs submit without wake-ups, so the ring buffer is drained on a timer;
// the same loop watches signals and stdin so the helper ends with its reader.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "stickyscope.skel.h"
#include "record.h"
#include "attach.h"
#include "ct-live.h"
#include "ct-stats.h"
#include "fail.h"
#include "output.h"
#include "run-stats.h"
#include "siphash.h"

struct run {
	struct ss_attached att;
	struct ring_buffer *rb;
	uint64_t id_key[2];
	uint64_t lost_reported;
	int out_err;
	struct ss_run_stats stats;
	struct ss_live live;
	bool live_on; /* the conntrack table is followed (netlink opened) */
};

static int enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		ss_fail("open network namespace %s: %s", path, strerror(errno));
		return SS_EXIT_NETNS;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		ss_fail("enter network namespace %s: %s", path, strerror(errno));
		close(fd);
		return SS_EXIT_NETNS;
	}
	close(fd);
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct run *run = ctx;
	struct ss_record r;

	if (size != SS_RECORD_SIZE)
		return 0;
	memcpy(&r, data, sizeof(r));
	if (run->live_on && r.type == SS_REC_DNAT)
		ss_live_announced(&run->live, &r);
	r.ct_id = ss_siphash_u64(run->id_key, r.ct_id);
	run->stats.records++;
	run->out_err = ss_out_record(&r);
	return run->out_err; /* a negative value stops the drain */
}

static int emit_lost(struct run *run)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t values[ncpu > 0 ? ncpu : 1], total = 0;
	uint32_t key = 0;
	uint64_t delta;

	if (ncpu <= 0 || bpf_map_lookup_elem(bpf_map__fd(run->att.skel->maps.ss_lost), &key, values))
		return 0;
	for (int i = 0; i < ncpu; i++)
		total += values[i];
	if (total == run->lost_reported)
		return 0;
	delta = total - run->lost_reported;
	run->lost_reported = total;
	return ss_out_values(SS_REC_LOST, delta, 0, 0, 0);
}

static int emit_counters(void)
{
	struct ss_ct_stats s;

	if (ss_ct_stats_read(&s) < 0)
		return 0;
	return ss_out_values(SS_REC_COUNTERS, s.insert_failed, s.drop, s.early_drop, s.entries);
}

static uint64_t now_ms(void)
{
	return ss_monotonic_ns() / 1000000;
}

/* Drains the ring buffer and writes what it held; -errno of a failed write. *records, if given, gets their number. */
static int drain_counted(struct run *run, int *records)
{
	int n = ring_buffer__consume(run->rb);

	/* the table complete before destroy messages or a walk read it */
	if (run->live_on)
		ss_live_settle(&run->live);
	if (run->out_err)
		return run->out_err;
	if (n < 0) {
		ss_fail("drain the ring buffer: %s", strerror(-n));
		return n;
	}
	if (records)
		*records = n;
	return ss_out_flush();
}

static int drain(struct run *run)
{
	return drain_counted(run, NULL);
}

/* True when stdin has reached end of file (the reader is gone). */
static bool stdin_closed(struct pollfd *p)
{
	char scratch[256];
	ssize_t n;

	if (p->revents & POLLNVAL) {
		p->fd = -1; /* no stdin at all: rely on signals */
		return false;
	}
	if (!(p->revents & (POLLIN | POLLHUP | POLLERR)))
		return false;
	n = read(p->fd, scratch, sizeof(scratch));
	return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
}

/* The earliest of the timers, as a poll timeout from now. */
static int timeout_until(uint64_t now, const uint64_t *timers, size_t n)
{
	uint64_t due = UINT64_MAX;

	for (size_t i = 0; i < n; i++)
		due = timers[i] < due ? timers[i] : due;
	if (due == UINT64_MAX)
		return -1;
	return due > now ? (int)(due - now) : 0;
}

/* The default period stretches so that walking the table takes at most 1/SS_SWEEP_BUDGET of a core. */
static uint64_t sweep_period_ms(const struct run *run, const struct ss_options *opts)
{
	uint64_t budget_ms = run->live.walk_cpu_ns * SS_SWEEP_BUDGET / 1000000;

	if (opts->conntrack_sweep_fixed || budget_ms <= opts->conntrack_sweep_ms)
		return opts->conntrack_sweep_ms;
	return budget_ms;
}

/*
 * Records are submitted without a wake-up and drained every --poll-ms while they come in numbers. A ring found empty is
 * drained less and less often, the period doubling up to SS_IDLE_DRAIN_MS: an idle node costs a few wake-ups a second,
 * not 100, and the first record after a quiet spell waits at most that long. A drain of fewer than SS_BATCH_RECORDS
 * doubles the period up to SS_BATCH_DRAIN_MS, a fuller one halves it down to --poll-ms: a node making 1,000
 * connections a second hands the agent 25 batches a second, not 100, since what a batch costs the agent is mostly
 * per batch. (The kernel's adaptive wake-up, tried instead, made the ring pollable but reads the reader's position, a
 * cache line the reader writes, on every record; it measured the same within noise, and this keeps the hot path as
 * it was.) The conntrack socket is read at most once per --poll-ms for the same reason: one wake-up per destroy
 * message was most of the helper's time at 1,000 connections a second.
 */
static uint64_t next_drain_ms(uint64_t drain_ms, int records, const struct ss_options *opts)
{
	const uint64_t idle_ms = opts->poll_ms > SS_IDLE_DRAIN_MS ? opts->poll_ms : SS_IDLE_DRAIN_MS;
	const uint64_t batch_ms = opts->poll_ms > SS_BATCH_DRAIN_MS ? opts->poll_ms : SS_BATCH_DRAIN_MS;
	uint64_t most = records ? batch_ms : idle_ms;

	if (records >= SS_BATCH_RECORDS)
		return drain_ms / 2 > opts->poll_ms ? drain_ms / 2 : opts->poll_ms;
	if (drain_ms > most)
		return most;
	return drain_ms * 2 < most ? drain_ms * 2 : most;
}

static int loop(struct run *run, const struct ss_options *opts, int sigfd)
{
	const int ct_fd = run->live_on ? ss_ct_events_fd(&run->live.nl) : -1;
	struct pollfd fds[3] = { { .fd = sigfd, .events = POLLIN },
		                 { .fd = STDIN_FILENO, .events = POLLIN },
		                 { .fd = ct_fd, .events = POLLIN } };
	uint64_t drain_ms = opts->poll_ms;
	uint64_t ct_again = 0; /* the conntrack socket is polled again from then */
	uint64_t next_drain = now_ms() + drain_ms, next_counters = now_ms() + opts->counters_ms;
	uint64_t next_sweep = run->live_on ? now_ms() + sweep_period_ms(run, opts) : UINT64_MAX;
	uint64_t next_pace = UINT64_MAX;
	int err, records;

	for (;;) {
		uint64_t now = now_ms();
		const uint64_t timers[] = { next_drain, next_counters, next_sweep, next_pace,
			                    ct_again > now ? ct_again : UINT64_MAX };

		fds[2].fd = now >= ct_again ? ct_fd : -1;
		fds[2].revents = 0;
		if (poll(fds, 3, timeout_until(now, timers, 5)) < 0 && errno != EINTR) {
			ss_fail("wait for events: %s", strerror(errno));
			return SS_EXIT_RUNTIME;
		}
		if ((fds[0].revents & POLLIN) || stdin_closed(&fds[1]))
			return 0;
		now = now_ms();
		records = 0;
		/* the ring buffer first: a DNAT record then comes before its connection's destroy message */
		if (now >= next_drain || (fds[2].revents & POLLIN)) {
			if ((err = drain_counted(run, &records)))
				return err == -EPIPE ? 0 : SS_EXIT_RUNTIME;
			drain_ms = next_drain_ms(drain_ms, records, opts);
			next_drain = now + drain_ms;
		}
		if ((fds[2].revents & POLLIN) && (err = ss_live_events(&run->live)))
			return err == -EPIPE ? 0 : SS_EXIT_RUNTIME;
		if (fds[2].revents & POLLIN)
			ct_again = now + opts->poll_ms;
		if (run->live_on && (records || (fds[2].revents & POLLIN) || now >= next_pace))
			next_pace = ss_live_pace(&run->live, now);
		if (now >= next_sweep) {
			if ((err = drain(run)) || (err = ss_live_walk(&run->live, false)) || (err = ss_out_flush()))
				return err == -EPIPE ? 0 : SS_EXIT_RUNTIME;
			next_sweep = now_ms() + sweep_period_ms(run, opts);
		}
		if (now >= next_counters) {
			if ((err = emit_counters()) || (err = emit_lost(run)) || (err = ss_out_flush()))
				return err == -EPIPE ? 0 : SS_EXIT_RUNTIME;
			next_counters = now + opts->counters_ms;
		}
	}
}

/* Opens the conntrack table and dumps it once: the connections open when tracing begins. Without
 * it (no nf_conntrack_netlink) the helper says so on one line and traces new connections only. */
static int start_live(struct run *run, const struct ss_options *opts)
{
	int err;

	if (!opts->conntrack)
		return 0;
	if (ss_live_open(&run->live, opts->conntrack_rcvbuf, opts->conntrack_events_max))
		return 0; /* it said why, as a note: new connections are still traced */
	/* DNAT records already written are announced connections: the dump must not open them again */
	if ((err = drain(run))) {
		ss_live_close(&run->live);
		return err;
	}
	err = ss_live_walk(&run->live, true);
	if (err && err != -EPIPE) {
		/* a socket that opens but cannot dump (the module gone or refused since): new connections are still
		 * traced */
		ss_note("live connections are not followed: failed to read the conntrack table: %s", strerror(-err));
		ss_live_close(&run->live);
		return 0;
	}
	if (err) {
		ss_live_close(&run->live);
		return err;
	}
	run->live_on = true;
	return ss_out_flush();
}

static int checks(const struct ss_options *opts)
{
	struct ss_ct_stats stats;
	int err;

	if (geteuid() != 0) {
		ss_fail("start: needs root (with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN); running as uid %u",
		        (unsigned)geteuid());
		return SS_EXIT_NOT_ROOT;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		ss_fail("find kernel BTF at /sys/kernel/btf/vmlinux: %s (needs a kernel built with CONFIG_DEBUG_INFO_BTF)",
		        strerror(errno));
		return SS_EXIT_NO_BTF;
	}
	if (opts->netns && (err = enter_netns(opts->netns)))
		return err;
	if ((err = ss_ct_stats_read(&stats)) < 0) {
		ss_fail("read /proc/net/stat/nf_conntrack: %s (is nf_conntrack available?)", strerror(-err));
		return SS_EXIT_RUNTIME;
	}
	return 0;
}

/* One ATTACH record: where one program is attached. */
static int attach_record(const struct ss_link_point *p)
{
	struct ss_record r;

	memset(&r, 0, sizeof(r));
	r.ts_ns = ss_monotonic_ns();
	r.type = SS_REC_ATTACH;
	r.proto = (uint8_t)p->kind;
	if (p->kind == SS_ATTACH_NETFILTER_LINK) {
		r.value[0] = p->pf;
		r.value[1] = p->hooknum;
		r.value[2] = (uint64_t)(int64_t)p->priority;
	} else {
		r.value[2] = p->prog_id;
	}
	r.value[3] = p->id;
	return ss_out_record(&r);
}

/* HELLO, then where every program is attached, in one write: the reader knows both at once. */
static int hello(const struct ss_attached *att)
{
	struct timespec rt;
	uint64_t mono = ss_monotonic_ns();
	int n = att->nlinks + att->ntlinks;
	int err;

	clock_gettime(CLOCK_REALTIME, &rt);
	if ((err = ss_out_values(SS_REC_HELLO, mono, (uint64_t)rt.tv_sec * 1000000000ULL + rt.tv_nsec,
	                         SS_RECORD_VERSION, n)))
		return err;
	for (int i = 0; i < n; i++) {
		if ((err = attach_record(&att->points[i])))
			return err;
	}
	return ss_out_flush();
}

int main(int argc, char **argv)
{
	struct ss_options opts;
	struct run run = { 0 };
	sigset_t mask;
	int code, sigfd, err;

	code = ss_parse_options(argc, argv, &opts);
	if (code)
		return code > 0 ? SS_EXIT_OK : SS_EXIT_USAGE;
	ss_libbpf_print(opts.verbose);
	if ((code = checks(&opts)))
		return code;
	if (getrandom(run.id_key, sizeof(run.id_key), 0) != sizeof(run.id_key)) {
		ss_fail("get a random key for conntrack ids: %s", strerror(errno));
		return SS_EXIT_RUNTIME;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		ss_fail("watch signals: %s", strerror(errno));
		return SS_EXIT_RUNTIME;
	}
	if (opts.stats)
		ss_run_stats_begin(&run.stats);
	if ((code = ss_attach(&opts, &run.att)))
		return code;
	run.rb = ring_buffer__new(bpf_map__fd(run.att.skel->maps.ss_events), on_record, &run, NULL);
	if (!run.rb) {
		ss_fail("open the ring buffer: %s", strerror(errno));
		ss_detach(&run.att);
		return SS_EXIT_RUNTIME;
	}
	if (opts.stats)
		ss_run_stats_attached(&run.stats);
	/* a start that fails (the reader gone, a write refused) says why where it failed: only a closed pipe is no
	 * error */
	if ((err = hello(&run.att)) || (err = start_live(&run, &opts))) {
		code = err == -EPIPE ? 0 : SS_EXIT_RUNTIME;
		if (code)
			ss_fail("start tracing: %s", strerror(-err));
	} else
		code = loop(&run, &opts, sigfd);
	/* detach first so the final drain sees everything the programs will ever write */
	ss_unlink(&run.att);
	if (!code && !drain(&run) && !emit_lost(&run))
		ss_out_flush();
	if (opts.stats)
		ss_run_stats_report(&run.stats, &run.att);
	ring_buffer__free(run.rb);
	ss_detach(&run.att);
	if (run.live_on)
		ss_live_close(&run.live);
	return code;
}
