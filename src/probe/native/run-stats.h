/* --stats: what tracing costs, from the kernel's BPF run-time statistics and this process's CPU time. */
#ifndef SS_RUN_STATS_H
#define SS_RUN_STATS_H
#include <stdint.h>
#include <sys/resource.h>

struct ss_attached;

struct ss_run_stats {
	int stats_fd; /* BPF_ENABLE_STATS: the kernel counts run time while it is open */
	int stats_err;
	struct rusage attached; /* CPU time at attach: loading BTF and programs is not per event */
	uint64_t records;       /* records drained from the ring buffer */
};

/* Before loading: switches BPF run-time statistics on for as long as this process holds them. */
void ss_run_stats_begin(struct ss_run_stats *s);

/* Once attached: the CPU time so far is the start-up cost, not counted per record. */
void ss_run_stats_attached(struct ss_run_stats *s);

/*
 * After the last drain: one note, "stats: mode=M records=N cpu_us=U user_us=A sys_us=B run_time=on|off
 * prog.NAME.runs=R prog.NAME.ns=T prog.NAME.misses=X ...", then the statistics are switched off again.
 */
void ss_run_stats_report(struct ss_run_stats *s, const struct ss_attached *a);

#endif
