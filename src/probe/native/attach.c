// Loads the programs of one attach mode (the others are not loaded at all) and attaches
// them, trying the modes in order in auto mode. Debian's libbpf 1.1 does not know
// SEC("netfilter"): the program type and expected attach type are set by number before
// load, and links are made by nf-link.c in the namespace the caller has already entered.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <linux/capability.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "stickyscope.skel.h"
#include "record.h"
#include "attach.h"
#include "caps.h"
#include "fail.h"
#include "nf-link.h"

#define NF_IP_PRI_NAT_DST (-100)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct hook_spec {
	int dnat; /* which program: 1 = ss_dnat, 0 = ss_confirm */
	int hooknum;
	int priority;
	const char *name;
};

/*
 * LOCAL_IN sits at INT_MAX - 2: IPv6 conntrack confirms there at INT_MAX - 1, and the
 * kernel refuses a BPF hook at a priority another hook already holds (EBUSY).
 */
static const struct hook_spec hooks[] = {
	{ 1, SS_HOOK_PRE_ROUTING, NF_IP_PRI_NAT_DST + 1, "prerouting" },
	{ 1, SS_HOOK_LOCAL_OUT, NF_IP_PRI_NAT_DST + 1, "output" },
	{ 0, SS_HOOK_POST_ROUTING, INT_MAX - 1, "postrouting" },
	{ 0, SS_HOOK_LOCAL_IN, INT_MAX - 2, "input" },
};
_Static_assert(SS_LINKS == 2 * ARRAY_SIZE(hooks), "one link per hook and family");

/* Only the chosen mode's programs are loaded: the others may not even load on this kernel. */
static void choose_programs(struct stickyscope *skel, enum ss_mode mode)
{
	const struct {
		struct bpf_program *prog;
		enum ss_mode mode;
	} all[] = {
		{ skel->progs.ss_dnat, SS_MODE_NETFILTER },        { skel->progs.ss_confirm, SS_MODE_NETFILTER },
		{ skel->progs.ss_fentry_confirm, SS_MODE_FENTRY }, { skel->progs.ss_fexit_confirm, SS_MODE_FENTRY },
		{ skel->progs.ss_kprobe_confirm, SS_MODE_KPROBE }, { skel->progs.ss_kretprobe_confirm, SS_MODE_KPROBE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		bpf_program__set_autoload(all[i].prog, all[i].mode == mode);
		if (all[i].mode == SS_MODE_NETFILTER) {
			bpf_program__set_type(all[i].prog, SS_PROG_TYPE_NETFILTER);
			bpf_program__set_expected_attach_type(all[i].prog, SS_ATTACH_NETFILTER);
		}
	}
}

/* The programs on the confirmation path see every namespace: they keep to the one entered. */
static int netns_inode(uint32_t *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0) {
		ss_fail("identify the network namespace (/proc/self/ns/net): %s", strerror(errno));
		return SS_EXIT_RUNTIME;
	}
	*ino = (uint32_t)st.st_ino;
	return 0;
}

/*
 * Before Linux 5.11 BPF maps and programs count against RLIMIT_MEMLOCK (64 KiB by default there),
 * which libbpf raises only with CAP_SYS_RESOURCE: true, with the limit in KiB, when that is in the way.
 */
static bool memlock_limited(unsigned long long *kib)
{
	struct utsname u;
	struct rlimit r;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2 || major > 5 || (major == 5 && minor >= 11))
		return false;
	if (getrlimit(RLIMIT_MEMLOCK, &r) || r.rlim_cur == RLIM_INFINITY)
		return false;
	*kib = (unsigned long long)r.rlim_cur / 1024;
	return true;
}

static int load(struct stickyscope *skel, const struct ss_options *opts, enum ss_mode mode)
{
	const char *tail;
	int err;

	choose_programs(skel, mode);
	err = bpf_map__set_max_entries(skel->maps.ss_events, opts->ringbuf_bytes);
	if (err) {
		ss_fail("size the ring buffer to %u bytes: %s", opts->ringbuf_bytes, strerror(-err));
		return SS_EXIT_RUNTIME;
	}
	skel->rodata->ss_emit_insert = opts->insert_events;
	skel->rodata->ss_trace_insert = opts->insert_events;
	if (mode != SS_MODE_NETFILTER && (err = netns_inode((uint32_t *)&skel->rodata->ss_trace_netns_ino)))
		return err;
	err = stickyscope__load(skel);
	if (!err)
		return 0;
	tail = ss_verifier_tail(5);
	if (*tail) {
		ss_fail("load BPF program '%s': the verifier rejected it (%s): %s", ss_rejected_prog(skel->obj),
		        strerror(-err), tail);
		return SS_EXIT_VERIFIER;
	}
	if (mode == SS_MODE_NETFILTER && (err == -EINVAL || err == -EOPNOTSUPP)) {
		ss_fail("load BPF programs: the kernel refused netfilter programs (%s): needs Linux >= 6.4",
		        strerror(-err));
		return SS_EXIT_OLD_KERNEL;
	}
	if (err == -EPERM) {
		/*
		 * Maps and programs need CAP_BPF; a netfilter program is a networking one (CAP_NET_ADMIN), the
		 * others are tracing ones (CAP_PERFMON), and CAP_PERFMON lets the verifier pass the conntrack reads.
		 */
		static const int nf_caps[] = { CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON };
		static const int trace_caps[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN };
		/*
		 * fentry names its target by BTF id: when nf_conntrack is a module, libbpf walks the kernel's
		 * BTF objects by id to find the module's, which takes CAP_SYS_ADMIN (measured on 6.1).
		 */
		bool module_btf = mode == SS_MODE_FENTRY && access("/sys/kernel/btf/nf_conntrack", F_OK) == 0;
		static const int memlock_caps[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE };
		unsigned long long kib;

		if (memlock_limited(&kib)) {
			ss_fail("load the %s programs for %s: %s (before Linux 5.11 BPF memory counts against "
			        "RLIMIT_MEMLOCK, %llu KiB here, which libbpf raises only with CAP_SYS_RESOURCE): %s",
			        ss_mode_name(mode), SS_CONFIRM_FUNC, strerror(-err), kib,
			        ss_caps_hint(memlock_caps, ARRAY_SIZE(memlock_caps)));
			return SS_EXIT_RUNTIME;
		}
		if (mode == SS_MODE_NETFILTER)
			ss_fail("load BPF programs: %s: %s", strerror(-err),
			        ss_caps_hint(nf_caps, ARRAY_SIZE(nf_caps)));
		else
			ss_fail("load the %s programs for %s: %s%s: %s", ss_mode_name(mode), SS_CONFIRM_FUNC,
			        strerror(-err),
			        module_btf ? " (nf_conntrack is a module: finding its BTF takes CAP_SYS_ADMIN)" : "",
			        ss_caps_hint(trace_caps, module_btf ? 3 : 2));
		return SS_EXIT_RUNTIME;
	}
	if (mode == SS_MODE_NETFILTER) {
		ss_fail("load BPF programs: %s", strerror(-err));
		return SS_EXIT_RUNTIME;
	}
	ss_fail("load the %s programs for %s: %s (%s)", ss_mode_name(mode), SS_CONFIRM_FUNC, strerror(-err),
	        mode == SS_MODE_FENTRY ? "needs tracing programs and BTF of nf_conntrack: Linux >= 5.11"
	                               : "needs kprobe programs: CONFIG_KPROBES, CONFIG_BPF_EVENTS");
	return SS_EXIT_OLD_KERNEL;
}

/* The one line for a link that failed; the kernel refuses netfilter links before 6.4. */
static int link_failed(const struct hook_spec *s, int family, int err)
{
	static const int caps[] = { CAP_NET_ADMIN };
	bool old_kernel = err == -EINVAL || err == -EOPNOTSUPP;

	ss_fail("attach netfilter BPF link at %s (%s, priority %d): %s%s%s", s->name,
	        family == SS_FAMILY_IPV4 ? "IPv4" : "IPv6", s->priority, strerror(-err),
	        old_kernel      ? ": needs Linux >= 6.4"
	        : err == -EPERM ? ": "
	                        : "",
	        err == -EPERM ? ss_caps_hint(caps, ARRAY_SIZE(caps)) : "");
	return old_kernel ? SS_EXIT_OLD_KERNEL : SS_EXIT_RUNTIME;
}

/* The kernel's id of a link (what `bpftool link` lists), 0 if it cannot say. */
static uint32_t link_id(int fd)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static int link_all(struct ss_attached *a)
{
	static const int families[] = { SS_FAMILY_IPV4, SS_FAMILY_IPV6 };

	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		for (size_t h = 0; h < ARRAY_SIZE(hooks); h++) {
			const struct hook_spec *s = &hooks[h];
			struct bpf_program *prog = s->dnat ? a->skel->progs.ss_dnat : a->skel->progs.ss_confirm;
			int fd = ss_nf_link_create(bpf_program__fd(prog), families[f], s->hooknum, s->priority);

			if (fd < 0)
				return link_failed(s, families[f], fd);
			a->points[a->nlinks] = (struct ss_link_point){ .kind = SS_ATTACH_NETFILTER_LINK,
				                                       .pf = families[f],
				                                       .hooknum = s->hooknum,
				                                       .priority = s->priority,
				                                       .id = link_id(fd) };
			a->links[a->nlinks++] = fd;
		}
	}
	return 0;
}

static int attach_mode(const struct ss_options *opts, enum ss_mode mode, struct ss_attached *out)
{
	int code;

	memset(out, 0, sizeof(*out));
	out->mode = mode;
	out->skel = stickyscope__open();
	if (!out->skel) {
		ss_fail("open the BPF object: %s", strerror(errno));
		return SS_EXIT_RUNTIME;
	}
	if ((code = ss_verifier_log(out->skel->obj))) {
		ss_fail("give the BPF programs a verifier log: %s", strerror(-code));
		ss_detach(out);
		return SS_EXIT_RUNTIME;
	}
	code = load(out->skel, opts, mode);
	if (!code)
		code = mode == SS_MODE_NETFILTER ? link_all(out) : ss_trace_link(out);
	if (code)
		ss_detach(out);
	return code;
}

/*
 * Auto mode: the first mode that loads and attaches. Any failure moves on to the next
 * mode (a note says why); if none works, one line gives each mode's reason.
 */
int ss_attach(const struct ss_options *opts, struct ss_attached *out)
{
	static const enum ss_mode order[] = { SS_MODE_NETFILTER, SS_MODE_FENTRY, SS_MODE_KPROBE };
	char why[3][1024];
	int code = 0;

	if (opts->mode != SS_MODE_AUTO)
		return attach_mode(opts, opts->mode, out);
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		ss_fail_hold(true);
		code = attach_mode(opts, order[i], out);
		snprintf(why[i], sizeof(why[i]), "%s", ss_fail_held());
		ss_fail_hold(false);
		if (!code)
			return 0;
		if (i + 1 < ARRAY_SIZE(order))
			ss_note("attach mode %s unavailable (failed to %s); trying %s", ss_mode_name(order[i]), why[i],
			        ss_mode_name(order[i + 1]));
	}
	ss_fail("attach in any mode: netfilter: %s; fentry: %s; kprobe: %s", why[0], why[1], why[2]);
	return code;
}

void ss_unlink(struct ss_attached *a)
{
	while (a->nlinks > 0)
		close(a->links[--a->nlinks]);
	while (a->ntlinks > 0)
		bpf_link__destroy(a->tlinks[--a->ntlinks]);
}

void ss_detach(struct ss_attached *a)
{
	ss_unlink(a);
	stickyscope__destroy(a->skel);
	a->skel = NULL;
}
