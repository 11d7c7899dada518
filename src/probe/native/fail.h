/* Failure reporting: one line on stderr, one exit code per kind of failure. */
#ifndef SS_FAIL_H
#define SS_FAIL_H

enum ss_exit {
	SS_EXIT_OK = 0,
	SS_EXIT_RUNTIME = 1, /* anything not listed below */
	SS_EXIT_USAGE = 2,
	SS_EXIT_NOT_ROOT = 3,
	SS_EXIT_NO_BTF = 4,
	SS_EXIT_NETNS = 5,
	SS_EXIT_OLD_KERNEL = 6, /* no netfilter BPF programs or links: Linux < 6.4 */
	SS_EXIT_VERIFIER = 7,
};

/* Prints "stickyscope-probe: failed to <fmt>" and a newline. */
void ss_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Captures libbpf's messages so a rejected program can be explained. */
void ss_capture_libbpf_log(void);

/* The last n lines of the kernel verifier log libbpf printed, joined with " | ". */
const char *ss_verifier_tail(int n);

/* The name of the program libbpf reported as failing to load, or "?" */
const char *ss_rejected_prog(void);

#endif
