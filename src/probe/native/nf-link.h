/* Netfilter BPF links through the raw bpf(2) call (Debian's libbpf 1.1 has no API for them). */
#ifndef SS_NF_LINK_H
#define SS_NF_LINK_H

#define SS_PROG_TYPE_NETFILTER 32
#define SS_ATTACH_NETFILTER 45

/* A link fd for prog_fd at (pf, hooknum, priority) in the calling thread's netns, or -errno. */
int ss_nf_link_create(int prog_fd, int pf, int hooknum, int priority);

#endif
