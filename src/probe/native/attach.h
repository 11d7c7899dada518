/* Loading the BPF object and attaching its programs to the netfilter hooks. */
#ifndef SS_ATTACH_H
#define SS_ATTACH_H
#include <stdint.h>
#include "options.h"

#define SS_LINKS 8

struct stickyscope;

/* Where one link is attached, as the kernel names it (for the ATTACH records). */
struct ss_link_point {
	int pf;
	int hooknum;
	int priority;
	uint32_t id;
};

struct ss_attached {
	struct stickyscope *skel;
	int links[SS_LINKS];
	struct ss_link_point points[SS_LINKS];
	int nlinks;
};

/* Opens, configures, loads and links; on failure prints the line and returns its exit code. */
int ss_attach(const struct ss_options *opts, struct ss_attached *out);

/* Closes the links: the programs stop seeing packets, their maps stay readable. */
void ss_unlink(struct ss_attached *a);

/* Closes the links and frees the object. */
void ss_detach(struct ss_attached *a);

#endif
