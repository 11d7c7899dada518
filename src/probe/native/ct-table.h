/* The connections the helper follows, by their key: dense entries behind an open-addressing index. */
#ifndef SS_CT_TABLE_H
#define SS_CT_TABLE_H
#include <stddef.h>
#include <stdint.h>
#include "ct-conn.h"

struct ss_tracked {
	struct ss_conn conn;
	uint64_t added_ns; /* CLOCK_MONOTONIC when the helper first heard of it */
	uint64_t hash;     /* its key's: where the index puts it */
	uint32_t sweep;    /* the last sweep that saw it; the next free entry + 1 while free */
	uint8_t used;      /* 1 live, 0 free */
};

struct ss_table {
	struct ss_tracked *entries; /* entries[0..top) have been used; `used` says which are live */
	size_t top;
	size_t entries_cap;
	uint32_t free;   /* first free entry + 1, 0 none */
	uint64_t *index; /* a slot: 0 empty, SS_TOMB removed, else (hash high half << 32) | (entry + 1) */
	size_t cap;      /* index slots, a power of two */
	size_t live;
	size_t used; /* index slots live or removed */
};

int ss_table_init(struct ss_table *t);
void ss_table_free(struct ss_table *t);

/* The entry of key, or NULL. */
struct ss_tracked *ss_table_find(struct ss_table *t, const struct ss_conn_key *key);

/* The entry of key, added (zeroed but for the key) when absent; NULL when memory ran out. The pointer holds until the
 * next add. */
struct ss_tracked *ss_table_add(struct ss_table *t, const struct ss_conn_key *key, bool *added);

/* The same, with key's hash (ss_table_hash) already known. */
struct ss_tracked *ss_table_add_hashed(struct ss_table *t, const struct ss_conn_key *key, uint64_t h, bool *added);

uint64_t ss_table_hash(const struct ss_conn_key *key);

/* Asks the CPU for the index slot where the probe of hash h starts: a hint, so that an add a little later does not
 * wait for memory. */
void ss_table_prefetch(const struct ss_table *t, uint64_t h);

void ss_table_remove(struct ss_table *t, struct ss_tracked *e);

#endif
