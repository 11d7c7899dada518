/* Failure reporting: one line on stderr, one exit code per kind of failure. */
#ifndef SS_FAIL_H
#define SS_FAIL_H
#include <stdbool.h>

enum ss_exit {
	SS_EXIT_OK = 0,
	SS_EXIT_RUNTIME = 1, /* anything not listed below */
	SS_EXIT_USAGE = 2,
	SS_EXIT_NOT_ROOT = 3,
	SS_EXIT_NO_BTF = 4,
	SS_EXIT_NETNS = 5,
	SS_EXIT_OLD_KERNEL = 6, /* the kernel lacks the attach mode (e.g. netfilter links before 6.4) */
	SS_EXIT_VERIFIER = 7,
};

/* Prints "stickyscope-probe: failed to <fmt>" and a newline. */
void ss_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * While held, ss_fail keeps its line (the last one) instead of printing it: trying
 * one attach mode after another, only the caller knows whether a failure is final.
 */
void ss_fail_hold(bool on);

/* The line ss_fail kept while held ("" if none), without the "failed to " prefix. */
const char *ss_fail_held(void);

/* Prints "stickyscope-probe: note: <fmt>": information, never a failure. */
void ss_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct bpf_object;

/* Where libbpf's messages go: stderr with pass_through (--verbose), else nowhere. */
void ss_libbpf_print(bool pass_through);

/* Gives every program of obj the verifier log buffer (bpf_program__set_log_buf), emptied; 0 or -errno. */
int ss_verifier_log(struct bpf_object *obj);

/* The last n lines of the verifier's log of the program the kernel refused, joined with " | ". */
const char *ss_verifier_tail(int n);

/* The name of the program the kernel refused (the first to load without a descriptor), or "?" */
const char *ss_rejected_prog(const struct bpf_object *obj);

#endif
