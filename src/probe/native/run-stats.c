// --stats: run time and run count of every loaded program (counted by the kernel only while
// BPF_ENABLE_STATS is held, so the sysctl kernel.bpf_stats_enabled is back as it was when this
// process ends, however it ends) and the helper's own CPU time per record written.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "stickyscope.skel.h"
#include "attach.h"
#include "fail.h"
#include "run-stats.h"

void ss_run_stats_begin(struct ss_run_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	s->stats_err = s->stats_fd < 0 ? errno : 0;
}

void ss_run_stats_attached(struct ss_run_stats *s)
{
	getrusage(RUSAGE_SELF, &s->attached);
}

static uint64_t us_between(const struct timeval *a, const struct timeval *b)
{
	int64_t us = (int64_t)(b->tv_sec - a->tv_sec) * 1000000 + (b->tv_usec - a->tv_usec);

	return us > 0 ? (uint64_t)us : 0;
}

void ss_run_stats_report(struct ss_run_stats *s, const struct ss_attached *a)
{
	char progs[1024] = "";
	struct bpf_program *prog;
	struct rusage now;
	uint64_t user, sys;
	size_t len = 0;

	getrusage(RUSAGE_SELF, &now);
	user = us_between(&s->attached.ru_utime, &now.ru_utime);
	sys = us_between(&s->attached.ru_stime, &now.ru_stime);
	bpf_object__for_each_program(prog, a->skel->obj)
	{
		struct bpf_prog_info info;
		uint32_t info_len = sizeof(info);
		int fd = bpf_program__fd(prog);

		memset(&info, 0, sizeof(info));
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &info_len) || len >= sizeof(progs))
			continue;
		len += snprintf(progs + len, sizeof(progs) - len,
		                " prog.%s.runs=%llu prog.%s.ns=%llu prog.%s.misses=%llu", bpf_program__name(prog),
		                (unsigned long long)info.run_cnt, bpf_program__name(prog),
		                (unsigned long long)info.run_time_ns, bpf_program__name(prog),
		                (unsigned long long)info.recursion_misses);
	}
	if (s->stats_fd >= 0)
		ss_note("stats: mode=%s records=%llu cpu_us=%llu user_us=%llu sys_us=%llu run_time=on%s",
		        ss_mode_name(a->mode), (unsigned long long)s->records, (unsigned long long)(user + sys),
		        (unsigned long long)user, (unsigned long long)sys, progs);
	else
		ss_note("stats: mode=%s records=%llu cpu_us=%llu user_us=%llu sys_us=%llu run_time=off (BPF_ENABLE_STATS: "
		        "%s; needs CAP_SYS_ADMIN)%s",
		        ss_mode_name(a->mode), (unsigned long long)s->records, (unsigned long long)(user + sys),
		        (unsigned long long)user, (unsigned long long)sys, strerror(s->stats_err), progs);
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	s->stats_fd = -1;
}
