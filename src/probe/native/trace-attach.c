// The fentry and kprobe modes: an entry and a return program on __nf_conntrack_confirm,
// attached through libbpf (a BPF link where the kernel has one, else a perf event).
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "stickyscope.skel.h"
#include "record.h"
#include "attach.h"
#include "caps.h"
#include "fail.h"

/* The kernel's id of a program or link fd, 0 if it cannot say. */
static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static uint32_t link_id(struct bpf_link *link)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_link__fd(link);

	memset(&info, 0, sizeof(info));
	return fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static const char *why_fentry =
	"needs BPF trampolines (x86: Linux >= 5.5, >= 5.11 for a function in a module such as "
	"nf_conntrack; arm64: Linux >= 6.4, ftrace direct calls; and a kernel that allows tracing programs)";

/* The kernel-internal ENOTSUPP has no strerror text: arm64 before 6.4 answers fentry with it. */
#define SS_ENOTSUPP 524

static const char *err_text(int err)
{
	return err == SS_ENOTSUPP ? "not supported by this kernel (ENOTSUPP)" : strerror(err);
}
static const char *why_kprobe = "needs CONFIG_KPROBES and nf_conntrack loaded";

/* kernel.perf_event_paranoid, or INT_MIN when unreadable. */
static int perf_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	int v = INT_MIN;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = INT_MIN;
		fclose(f);
	}
	return v;
}

/*
 * A kprobe is a perf event: CAP_PERFMON opens it, unless perf_event_paranoid is above 2, where
 * Debian's and Ubuntu's kernels (their own patch; defaults 3 and 4) let only CAP_SYS_ADMIN.
 */
static int kprobe_refused(const char *name, int err)
{
	static const int perfmon[] = { CAP_PERFMON };
	static const int sys_admin[] = { CAP_PERFMON, CAP_SYS_ADMIN };
	int paranoid = perf_paranoid();
	bool strict = paranoid > 2;
	char why[160];

	if (strict)
		snprintf(why, sizeof(why),
		         "kernel.perf_event_paranoid is %d, at which Debian's and Ubuntu's kernels open perf events "
		         "for CAP_SYS_ADMIN only (2 lets CAP_PERFMON)",
		         paranoid);
	else
		snprintf(why, sizeof(why), "perf_event_open refused it");
	ss_fail("attach %s to %s: %s: %s: %s", name, SS_CONFIRM_FUNC, strerror(err), why,
	        strict ? ss_caps_hint(sys_admin, 2) : ss_caps_hint(perfmon, 1));
	return SS_EXIT_RUNTIME;
}

int ss_trace_link(struct ss_attached *a)
{
	bool fentry = a->mode == SS_MODE_FENTRY;
	struct bpf_program *progs[2] = {
		fentry ? a->skel->progs.ss_fentry_confirm : a->skel->progs.ss_kprobe_confirm,
		fentry ? a->skel->progs.ss_fexit_confirm : a->skel->progs.ss_kretprobe_confirm,
	};
	static const int kinds[2][2] = { { SS_ATTACH_KPROBE, SS_ATTACH_KRETPROBE },
		                         { SS_ATTACH_FENTRY, SS_ATTACH_FEXIT } };
	static const char *names[2][2] = { { "kprobe", "kretprobe" }, { "fentry", "fexit" } };

	/* the return program first: an entry seen without its return would leave its slot taken */
	for (int i = 1; i >= 0; i--) {
		struct bpf_link *link = bpf_program__attach(progs[i]);
		int err = link ? 0 : -errno;

		if (!link && !fentry && (err == -EACCES || err == -EPERM))
			return kprobe_refused(names[fentry][i], -err);
		if (!link) {
			ss_fail("attach %s to %s: %s (%s)", names[fentry][i], SS_CONFIRM_FUNC, err_text(-err),
			        fentry ? why_fentry : why_kprobe);
			return SS_EXIT_OLD_KERNEL;
		}
		a->tlinks[a->ntlinks] = link;
		a->points[a->ntlinks++] = (struct ss_link_point){
			.kind = kinds[fentry][i],
			.prog_id = prog_id(bpf_program__fd(progs[i])),
			.id = link_id(link),
		};
	}
	return 0;
}
