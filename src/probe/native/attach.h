/* Loading the BPF object and attaching the programs of one attach mode. */
#ifndef SS_ATTACH_H
#define SS_ATTACH_H
#include <stdint.h>
#include "options.h"

#define SS_LINKS 8

struct stickyscope;
struct bpf_link;

/* One attachment, as the kernel names it (for the ATTACH records). */
struct ss_link_point {
	int kind; /* enum ss_attach_kind */
	int pf;
	int hooknum;
	int priority;
	uint32_t prog_id; /* tracing kinds only */
	uint32_t id;      /* link id, 0 if the kernel made no BPF link */
};

struct ss_attached {
	struct stickyscope *skel;
	enum ss_mode mode;                 /* the mode attached, never SS_MODE_AUTO */
	int links[SS_LINKS];               /* netfilter link fds */
	struct bpf_link *tlinks[SS_LINKS]; /* fentry/kprobe attachments */
	struct ss_link_point points[SS_LINKS];
	int nlinks;
	int ntlinks;
};

/*
 * Opens, configures, loads and attaches in opts->mode, or in auto mode in the first of
 * netfilter, fentry, kprobe that works (a note on stderr says why one was skipped); on
 * failure prints the line and returns its exit code.
 */
int ss_attach(const struct ss_options *opts, struct ss_attached *out);

/* Closes the links: the programs stop seeing packets, their maps stay readable. */
void ss_unlink(struct ss_attached *a);

/* Closes the links and frees the object. */
void ss_detach(struct ss_attached *a);

/* fentry and kprobe modes: attaches the mode's entry and return programs (trace-attach.c). */
int ss_trace_link(struct ss_attached *a);

#endif
