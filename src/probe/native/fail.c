// Failure lines, libbpf's messages and the verifier's log. libbpf loads each program
// without a log first and, when the kernel refuses one, loads it again with the log going
// into the buffer bpf_program__set_log_buf gave it; only the end of that log says why.
// libbpf's own messages are dropped unless --verbose passes them through.
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "fail.h"

/* What libbpf itself starts with, the most a kernel before 5.2 takes; untouched pages cost nothing. */
#define LOG_SIZE (UINT32_MAX >> 8)

static char *log_buf;
static bool verbose;
static bool holding;
static char held[1024];

void ss_fail_hold(bool on)
{
	holding = on;
	held[0] = '\0';
}

const char *ss_fail_held(void)
{
	return held;
}

void ss_fail(const char *fmt, ...)
{
	va_list ap;

	if (holding) {
		va_start(ap, fmt);
		vsnprintf(held, sizeof(held), fmt, ap);
		va_end(ap);
		return;
	}
	fputs("stickyscope-probe: failed to ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ss_note(const char *fmt, ...)
{
	va_list ap;

	fputs("stickyscope-probe: note: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return verbose ? vfprintf(stderr, fmt, ap) : 0;
}

void ss_libbpf_print(bool pass_through)
{
	verbose = pass_through;
	libbpf_set_print(print);
}

int ss_verifier_log(struct bpf_object *obj)
{
	struct bpf_program *prog;
	int err;

	if (!log_buf && !(log_buf = malloc(LOG_SIZE)))
		return -ENOMEM;
	log_buf[0] = '\0'; /* a new attempt: an earlier one's log would explain the wrong failure */
	bpf_object__for_each_program(prog, obj)
	{
		if ((err = bpf_program__set_log_buf(prog, log_buf, LOG_SIZE)))
			return err;
	}
	return 0;
}

const char *ss_verifier_tail(int n)
{
	static char out[2048];
	char *start = log_buf, *end, *p;
	size_t o = 0;

	if (!start || !*start)
		return "";
	end = start + strlen(start);
	/* walk back n non-empty lines from the end */
	p = end;
	while (p > start && n > 0) {
		p--;
		while (p > start && p[-1] != '\n')
			p--;
		if (p[0] != '\n')
			n--;
	}
	for (char *q = p; q < end && o + 4 < sizeof(out);) {
		char *nl = memchr(q, '\n', end - q);
		size_t len = (nl ? nl : end) - q;

		if (len) {
			if (o)
				o += snprintf(out + o, sizeof(out) - o, " | ");
			if (len > sizeof(out) - o - 1)
				len = sizeof(out) - o - 1;
			memcpy(out + o, q, len);
			o += len;
		}
		q = nl ? nl + 1 : end;
	}
	out[o < sizeof(out) ? o : sizeof(out) - 1] = '\0';
	return out;
}

const char *ss_rejected_prog(const struct bpf_object *obj)
{
	struct bpf_program *prog;

	/* libbpf loads the programs in order and stops at the first the kernel refuses */
	bpf_object__for_each_program(prog, obj)
	{
		if (bpf_program__autoload(prog) && bpf_program__fd(prog) < 0)
			return bpf_program__name(prog);
	}
	return "?";
}
