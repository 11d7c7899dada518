// BPF_LINK_CREATE for netfilter programs. The netfilter member of link_create is newer
// than the 6.1 UAPI headers Debian ships, so the layout (from Linux 6.4's linux/bpf.h)
// is declared here and padded to the size of the local union bpf_attr.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include "nf-link.h"

struct nf_link_create_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	struct {
		__u32 pf;
		__u32 hooknum;
		__s32 priority;
		__u32 flags;
	} netfilter;
};

union nf_attr {
	struct nf_link_create_attr link_create;
	union bpf_attr full; /* keeps the size the kernel expects, zero-filled */
};

int ss_nf_link_create(int prog_fd, int pf, int hooknum, int priority)
{
	union nf_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog_fd;
	attr.link_create.attach_type = SS_ATTACH_NETFILTER;
	attr.link_create.netfilter.pf = pf;
	attr.link_create.netfilter.hooknum = hooknum;
	attr.link_create.netfilter.priority = priority;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}
