/* Conntrack statistics of the current network namespace. */
#ifndef SS_CT_STATS_H
#define SS_CT_STATS_H
#include <stdint.h>

struct ss_ct_stats {
	uint64_t insert_failed, drop, early_drop, entries;
};

/* Reads /proc/net/stat/nf_conntrack (per-CPU rows, summed); 0 or -errno. */
int ss_ct_stats_read(struct ss_ct_stats *out);

#endif
