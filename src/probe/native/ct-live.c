// The rules of docs/design.md ("Live connections"): a DNATed entry is open unless it is TCP in
// TIME_WAIT or CLOSE. A connection is known by its original tuple; what the helper knows of each
// open one is kept in a table, so a sweep can send what changed and what no message announced.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>
#include "record.h"
#include "ct-stats.h"
#include "fail.h"
#include "output.h"
#include "ct-live.h"

/* Connections the helper heard of this recently are not closed by a sweep that missed them: the
 * DNAT record comes before the kernel confirms the entry. */
#define GRACE_NS 1000000000ULL

static bool is_open(const struct ss_conn *c)
{
	return c->key.proto != SS_PROTO_TCP || (c->tcp_state != SS_TCP_TIME_WAIT && c->tcp_state != SS_TCP_CLOSE);
}

static int emit(uint8_t type, const struct ss_conn *c, uint32_t flags)
{
	struct ss_record r;

	memset(&r, 0, sizeof(r));
	r.ts_ns = ss_monotonic_ns();
	r.type = type;
	r.family = c->key.family;
	r.proto = c->key.proto;
	r.tcp_state = c->tcp_state;
	r.ct_status = c->status;
	r.start_ns = c->start_ns;
	memcpy(r.orig_src.addr, c->key.src, 16);
	r.orig_src.port = c->key.sport;
	memcpy(r.orig_dst.addr, c->key.dst, 16);
	r.orig_dst.port = c->key.dport;
	memcpy(r.reply_src.addr, c->backend, 16);
	r.reply_src.port = c->backend_port;
	if (c->has_counts) {
		flags |= SS_CONN_COUNTS;
		memcpy(r.value, c->counts, sizeof(r.value));
	}
	r.flags = flags;
	return ss_out_record(&r);
}

/* What the helper knew (start, counters) carried into a newer view of the same entry. */
static void merge(struct ss_conn *newer, const struct ss_conn *known)
{
	if (!newer->start_ns)
		newer->start_ns = known->start_ns;
	if (!newer->has_counts && known->has_counts) {
		newer->has_counts = true;
		memcpy(newer->counts, known->counts, sizeof(newer->counts));
	}
	if (newer->key.proto == SS_PROTO_TCP && newer->tcp_state == SS_TCP_NONE)
		newer->tcp_state = known->tcp_state;
}

/* One DNATed entry of a walk. */
static int seen(void *ctx, const struct ss_conn *c)
{
	struct ss_live *l = ctx;
	struct ss_tracked *e = ss_table_find(&l->table, &c->key);
	struct ss_conn now = *c;
	bool added;
	int err = 0;

	l->acct_seen |= c->has_counts;
	if (!is_open(c)) {
		if (!e)
			return 0;
		merge(&now, &e->conn);
		ss_table_remove(&l->table, e);
		return emit(SS_REC_CLOSE, &now, SS_CONN_SWEEP);
	}
	if (e) {
		merge(&now, &e->conn);
		/* TRAFFIC always carries counters: without accounting there is nothing to send */
		if (now.has_counts && (memcmp(now.counts, e->conn.counts, sizeof(now.counts)) || !e->conn.has_counts ||
		                       now.tcp_state != e->conn.tcp_state))
			err = emit(SS_REC_TRAFFIC, &now, 0);
		e->conn = now;
		e->sweep = l->sweep;
		return err;
	}
	e = ss_table_add(&l->table, &c->key, &added);
	if (!e) {
		ss_fail("grow the live connection table past %zu connections: out of memory", l->table.live);
		return -ENOMEM;
	}
	e->conn = now;
	e->added_ns = l->sweep_start;
	e->sweep = l->sweep;
	return emit(SS_REC_OPEN, &now, l->initial ? 0 : SS_CONN_SWEEP);
}

/* After a sweep: what it did not see has ended, unless the helper heard of it only just now. */
static int close_unseen(struct ss_live *l)
{
	for (size_t i = 0; i < l->table.top; i++) {
		struct ss_tracked *e = &l->table.entries[i];
		int err;

		if (!e->used || e->sweep == l->sweep || e->added_ns + GRACE_NS > l->sweep_start)
			continue;
		err = emit(SS_REC_CLOSE, &e->conn, SS_CONN_SWEEP);
		ss_table_remove(&l->table, e);
		if (err)
			return err;
	}
	return 0;
}

static bool acct_sysctl_on(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_acct", "r");
	int v = 0;

	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int ss_live_walk(struct ss_live *l, bool initial)
{
	struct ss_ct_stats stats = { 0 };
	uint64_t cpu0 = thread_cpu_ns();
	uint64_t took;
	bool acct;
	int err;

	l->sweep++;
	l->sweep_start = ss_monotonic_ns();
	l->initial = initial;
	l->acct_seen = false;
	ss_fail_hold(true);
	err = ss_ct_dump(&l->nl, seen, l);
	ss_fail_hold(false);
	if (err < 0 && err != -ENOMEM && err != -EPIPE && ss_fail_held()[0]) {
		/* the tracing goes on; the next sweep may read the table */
		ss_note("live connections: failed to %s", ss_fail_held());
		return 0;
	}
	if (err < 0)
		return err;
	if (!initial && (err = close_unseen(l)))
		return err;
	took = ss_monotonic_ns() - l->sweep_start;
	l->walk_cpu_ns = thread_cpu_ns() - cpu0;
	acct = l->acct_seen || acct_sysctl_on();
	if (!acct && !l->acct_noted) {
		ss_note("conntrack byte counters are unavailable (net.netfilter.nf_conntrack_acct is 0): live connections "
		        "are counted without bytes; 'sysctl net.netfilter.nf_conntrack_acct=1' in the node's namespace "
		        "counts them for connections that begin after it");
		l->acct_noted = true;
	}
	ss_ct_stats_read(&stats);
	return ss_out_values(SS_REC_SWEEP, stats.entries, l->table.live, took,
	                     (initial ? SS_SWEEP_INITIAL : 0) | (acct ? SS_SWEEP_ACCT : 0));
}

/* A destroyed entry: the end of a connection the helper follows. */
static int destroyed(void *ctx, const struct ss_conn *c)
{
	struct ss_live *l = ctx;
	struct ss_tracked *e = ss_table_find(&l->table, &c->key);
	struct ss_conn now = *c;

	if (!e)
		return 0; /* closed already by a sweep (TIME_WAIT), or never followed */
	merge(&now, &e->conn);
	ss_table_remove(&l->table, e);
	return emit(SS_REC_CLOSE, &now, 0);
}

int ss_live_events(struct ss_live *l)
{
	int n;

	ss_fail_hold(true);
	n = ss_ct_read_events(&l->nl, destroyed, l);
	ss_fail_hold(false);
	if (n < 0 && n != -ENOMEM && n != -EPIPE && ss_fail_held()[0]) {
		ss_note("live connections: failed to %s (the next sweep finds the ends it missed)", ss_fail_held());
		return 0;
	}
	if (n < 0)
		return n;
	return n > 0 ? ss_out_values(SS_REC_CT_LOST, n, 0, 0, 0) : 0;
}

/*
 * Each destroy message costs the kernel a message built and sent, and this process a wake-up and a parse; while
 * anyone listens, each new conntrack entry also carries the kernel's event extension (nf_conntrack_events=2). Under
 * a flood of new connections that is as much as the tracing itself (docs/design.md, "Live connections"). Past
 * events_max destroy messages or new connections a second (each new one is a destroy message to come), the helper
 * leaves the group for PAUSE_MS at a time; the sweep finds the ends meanwhile, as it finds those of lost messages,
 * and the kernel builds no message, nor extension, while nobody listens.
 */
#define PACE_WINDOW_MS 1000
#define PAUSE_MS 10000

/* Joins or leaves the destroy group; a failure is held, for the caller's note. */
static int join(struct ss_live *l, bool on)
{
	int err;

	ss_fail_hold(true);
	err = ss_ct_events_join(&l->nl, on);
	ss_fail_hold(false);
	return err;
}

static uint64_t pause_events(struct ss_live *l, uint64_t now)
{
	if (join(l, false)) {
		/* still listening: the pacing gives up rather than retrying every message */
		ss_note("live connections: failed to %s; destroy messages are read at any rate", ss_fail_held());
		l->events_max = 0;
		return UINT64_MAX;
	}
	if (!l->flood_ms) {
		ss_note("live connections: over %u new connections or conntrack destroy messages a second (%llu and %llu in "
		        "%llu ms); not listening to destroy messages for %u s at a time while that lasts, the sweep finds "
		        "the ends meanwhile (--conntrack-events-max)",
		        l->events_max, (unsigned long long)(l->announced - l->window_announced),
		        (unsigned long long)(l->nl.destroys - l->window_destroys),
		        (unsigned long long)(now - l->window_ms), PAUSE_MS / 1000);
		l->flood_ms = now;
		l->pauses = 0;
	}
	l->pauses++;
	l->paused_until_ms = now + PAUSE_MS;
	return l->paused_until_ms;
}

uint64_t ss_live_pace(struct ss_live *l, uint64_t now)
{
	if (!l->events_max)
		return UINT64_MAX;
	if (l->paused_until_ms) {
		if (now < l->paused_until_ms)
			return l->paused_until_ms;
		if (join(l, true)) {
			ss_note("live connections: failed to %s; the sweep alone finds the ends from now on",
			        ss_fail_held());
			l->events_max = 0;
			return UINT64_MAX;
		}
		l->paused_until_ms = 0;
		l->resumed_ms = now;
		l->window_ms = now;
		l->window_destroys = l->nl.destroys;
		l->window_announced = l->announced;
	}
	if (now - l->window_ms >= PACE_WINDOW_MS) {
		if (l->flood_ms && now - l->resumed_ms >= PACE_WINDOW_MS) {
			ss_note("live connections: listening to conntrack destroy messages again, under %u new connections "
			        "and messages a second (%u pauses over %llu s)",
			        l->events_max, l->pauses, (unsigned long long)(now - l->flood_ms) / 1000);
			l->flood_ms = 0;
		}
		l->window_ms = now;
		l->window_destroys = l->nl.destroys;
		l->window_announced = l->announced;
	}
	if (l->nl.destroys - l->window_destroys > l->events_max || l->announced - l->window_announced > l->events_max)
		return pause_events(l, now);
	return l->flood_ms ? l->window_ms + PACE_WINDOW_MS : UINT64_MAX;
}

/*
 * Under a flood each new connection is one insert, and an insert's cost is a cache miss on the index (perf: most of
 * the helper's time at 200,000 connections a second). Records are batched: the index slot is asked for when the
 * record comes, and the insert made SS_ANNOUNCE_BATCH records later, when it is there.
 */
void ss_live_announced(struct ss_live *l, const struct ss_record *r)
{
	struct ss_announce *a = &l->batch[l->batched];

	memset(&a->key, 0, sizeof(a->key));
	a->key.family = r->family;
	a->key.proto = r->proto;
	a->key.sport = r->orig_src.port;
	a->key.dport = r->orig_dst.port;
	memcpy(a->key.src, r->orig_src.addr, 16);
	memcpy(a->key.dst, r->orig_dst.addr, 16);
	memcpy(a->backend, r->reply_src.addr, 16);
	a->backend_port = r->reply_src.port;
	a->proto = r->proto;
	a->status = r->ct_status;
	a->ts_ns = r->ts_ns;
	a->hash = ss_table_hash(&a->key);
	ss_table_prefetch(&l->table, a->hash);
	l->announced++;
	if (++l->batched == SS_ANNOUNCE_BATCH)
		ss_live_settle(l);
}

void ss_live_settle(struct ss_live *l)
{
	for (unsigned i = 0; i < l->batched; i++) {
		const struct ss_announce *a = &l->batch[i];
		struct ss_tracked *e;
		bool added;

		e = ss_table_add_hashed(&l->table, &a->key, a->hash, &added);
		if (!e || !added)
			continue; /* out of memory: the next sweep finds it */
		memcpy(e->conn.backend, a->backend, 16);
		e->conn.backend_port = a->backend_port;
		e->conn.status = a->status;
		e->conn.start_ns = a->ts_ns + l->real_minus_mono;
		e->conn.tcp_state = a->proto == SS_PROTO_TCP ? SS_TCP_SYN_SENT : SS_TCP_NONE;
		e->added_ns = a->ts_ns;
		e->sweep = l->sweep;
	}
	l->batched = 0;
}

int ss_live_open(struct ss_live *l, unsigned rcvbuf, unsigned events_max)
{
	struct timespec rt, mono;
	int err;

	memset(l, 0, sizeof(*l));
	if ((err = ss_table_init(&l->table))) {
		ss_note("live connections are not followed: failed to allocate their table: %s", strerror(-err));
		return err;
	}
	ss_fail_hold(true);
	err = ss_ct_open(&l->nl, rcvbuf);
	ss_fail_hold(false);
	if (err) {
		ss_note("live connections are not followed: failed to %s", ss_fail_held());
		ss_table_free(&l->table);
		return err;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	l->real_minus_mono = ((int64_t)rt.tv_sec - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
	l->events_max = events_max;
	return 0;
}

void ss_live_close(struct ss_live *l)
{
	ss_ct_close(&l->nl);
	ss_table_free(&l->table);
}
