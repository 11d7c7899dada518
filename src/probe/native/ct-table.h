/* The connections the helper follows, by their key: open addressing, grown at half full. */
#ifndef SS_CT_TABLE_H
#define SS_CT_TABLE_H
#include <stddef.h>
#include <stdint.h>
#include "ct-conn.h"

struct ss_tracked {
	struct ss_conn conn;
	uint64_t added_ns; /* CLOCK_MONOTONIC when the helper first heard of it */
	uint32_t sweep;    /* the last sweep that saw it */
	uint8_t used;      /* 0 empty, 1 live, 2 removed (a tombstone: probes go on past it) */
};

struct ss_table {
	struct ss_tracked *slots;
	size_t cap; /* a power of two */
	size_t live;
	size_t used; /* live + tombstones */
};

int ss_table_init(struct ss_table *t);
void ss_table_free(struct ss_table *t);

/* The entry of key, or NULL. */
struct ss_tracked *ss_table_find(struct ss_table *t, const struct ss_conn_key *key);

/* The entry of key, added (zeroed but for the key) when absent; NULL when memory ran out. */
struct ss_tracked *ss_table_add(struct ss_table *t, const struct ss_conn_key *key, bool *added);

void ss_table_remove(struct ss_table *t, struct ss_tracked *e);

#endif
