/* Loading the BPF object and attaching its programs to the netfilter hooks. */
#ifndef SS_ATTACH_H
#define SS_ATTACH_H
#include "options.h"

#define SS_LINKS 8

struct stickyscope;

struct ss_attached {
	struct stickyscope *skel;
	int links[SS_LINKS];
	int nlinks;
};

/* Opens, configures, loads and links; on failure prints the line and returns its exit code. */
int ss_attach(const struct ss_options *opts, struct ss_attached *out);

/* Closes the links: the programs stop seeing packets, their maps stay readable. */
void ss_unlink(struct ss_attached *a);

/* Closes the links and frees the object. */
void ss_detach(struct ss_attached *a);

#endif
