// Failure lines and libbpf log capture. libbpf prints the verifier log of a rejected
// program between "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --"; only the
// end of it says why, so keep a bounded tail instead of echoing everything.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "fail.h"

#define LOG_CAP (64 * 1024)

static char log_buf[LOG_CAP];
static size_t log_len;

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

static int capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list again;
	char *line;
	const char *keep;
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* one message holds a whole verifier log, whose end says why: format it all, keep the end */
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n <= 0 || !(line = malloc((size_t)n + 1)))
		return n;
	vsnprintf(line, (size_t)n + 1, fmt, ap);
	keep = line;
	if (n > LOG_CAP / 2) {
		keep += n - LOG_CAP / 2;
		n = LOG_CAP / 2;
	}
	if (log_len + n >= LOG_CAP) {
		/* drop the older half: the tail is what explains a rejection */
		memmove(log_buf, log_buf + LOG_CAP / 2, log_len - LOG_CAP / 2);
		log_len -= LOG_CAP / 2;
	}
	memcpy(log_buf + log_len, keep, n);
	log_len += n;
	log_buf[log_len] = '\0';
	free(line);
	return n;
}

void ss_capture_libbpf_log(void)
{
	log_len = 0; /* a new attempt: an earlier one's log would explain the wrong failure */
	log_buf[0] = '\0';
	libbpf_set_print(capture);
}

const char *ss_verifier_tail(int n)
{
	static char out[2048];
	char *end = strstr(log_buf, "-- END PROG LOAD LOG --");
	char *start = strstr(log_buf, "-- BEGIN PROG LOAD LOG --");
	char *p;
	size_t o = 0;

	if (!start)
		return "";
	start = strchr(start, '\n');
	if (!start)
		return "";
	start++;
	if (!end || end < start)
		end = log_buf + log_len;
	/* walk back n non-empty lines from the end marker */
	p = end;
	while (p > start && n > 0) {
		p--;
		while (p > start && p[-1] != '\n')
			p--;
		if (p[0] != '\n' && strncmp(p, "libbpf: ", 8) != 0)
			n--;
	}
	for (char *q = p; q < end && o + 4 < sizeof(out);) {
		char *nl = memchr(q, '\n', end - q);
		size_t len = (nl ? nl : end) - q;

		if (len && strncmp(q, "libbpf: ", 8) != 0) {
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

const char *ss_rejected_prog(void)
{
	static char name[64];
	const char *p = strstr(log_buf, "prog '");
	const char *end = p ? strchr(p + 6, '\'') : NULL;

	if (!end || (size_t)(end - p - 6) >= sizeof(name))
		return "?";
	memcpy(name, p + 6, end - p - 6);
	name[end - p - 6] = '\0';
	return name;
}
