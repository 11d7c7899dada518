// Names the capabilities a step refused with EPERM needs and which of them the process lacks, so
// a container's operator reads what to grant instead of a bare "Operation not permitted".
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "caps.h"

static const char *cap_name(int cap)
{
	switch (cap) {
	case CAP_NET_ADMIN:
		return "CAP_NET_ADMIN";
	case CAP_NET_RAW:
		return "CAP_NET_RAW";
	case CAP_SYS_ADMIN:
		return "CAP_SYS_ADMIN";
	case CAP_PERFMON:
		return "CAP_PERFMON";
	case CAP_BPF:
		return "CAP_BPF";
	case CAP_SYS_RESOURCE:
		return "CAP_SYS_RESOURCE";
	default:
		return "CAP_?";
	}
}

/* The effective set from capget(2); all held if the kernel will not say. */
static bool held(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return true;
	return data[cap / 32].effective & (1u << (cap % 32));
}

static void append(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "%s", s);
}

const char *ss_caps_hint(const int *caps, size_t n)
{
	static char out[256];
	char missing[128] = "";

	snprintf(out, sizeof(out), "needs ");
	for (size_t i = 0; i < n; i++) {
		append(out, sizeof(out), i ? ", " : "");
		append(out, sizeof(out), cap_name(caps[i]));
		if (!held(caps[i])) {
			append(missing, sizeof(missing), *missing ? ", " : "");
			append(missing, sizeof(missing), cap_name(caps[i]));
		}
	}
	if (*missing) {
		append(out, sizeof(out), "; missing ");
		append(out, sizeof(out), missing);
	} else {
		append(out, sizeof(out),
		       ", all held: refused for another reason (CAP_SYS_ADMIN for some steps, seccomp, an LSM)");
	}
	return out;
}
