// Dense entries behind an open-addressing index of 8-byte slots (linear probing; removed slots are tombstones until
// the next rebuild): one entry per connection followed, no pointer per entry, which matters at a million connections.
//
// Under a flood every new connection's DNAT record is an insert (ss_live_announced), so the table's cost is the
// helper's. Profiled at 190,000 connections a second with entries in the slots themselves, the helper spent its time
// zeroing and copying a table of 120-byte slots grown by doubling at half full (about 500 bytes a connection) and
// probing it. Now only the index (8 bytes a slot) is rebuilt; the entries grow by realloc, which moves pages
// without copying them; and a slot holds half its key's hash, so a probe reads an entry only on a match.
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "ct-table.h"

#define MIN_CAP 1024
#define SS_TOMB UINT64_MAX

uint64_t ss_table_hash(const struct ss_conn_key *k)
{
	const uint64_t *w = (const uint64_t *)k;
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	_Static_assert(sizeof(*k) == 40, "the key is hashed as five 64-bit words");
	for (int i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	/* a final mix (murmur3's): keys that differ in a port alone differ in every bit */
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

int ss_table_init(struct ss_table *t)
{
	memset(t, 0, sizeof(*t));
	t->index = calloc(MIN_CAP, sizeof(*t->index));
	t->entries = malloc(MIN_CAP / 2 * sizeof(*t->entries));
	if (!t->index || !t->entries) {
		ss_table_free(t);
		return -ENOMEM;
	}
	t->cap = MIN_CAP;
	t->entries_cap = MIN_CAP / 2;
	return 0;
}

void ss_table_free(struct ss_table *t)
{
	free(t->index);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

static uint64_t slot_of(uint64_t h, size_t entry)
{
	return (h & 0xffffffff00000000ULL) | (uint64_t)(entry + 1);
}

/* The index slot of key (hash h): its live slot, else (want_free) the first removed or empty one met, else NULL. */
static uint64_t *probe(const struct ss_table *t, const struct ss_conn_key *key, uint64_t h, bool want_free)
{
	size_t i = h & (t->cap - 1);
	uint64_t *tomb = NULL;

	for (;; i = (i + 1) & (t->cap - 1)) {
		uint64_t *s = &t->index[i];

		if (*s == 0)
			return want_free ? (tomb ? tomb : s) : NULL;
		if (*s == SS_TOMB) {
			if (!tomb)
				tomb = s;
			continue;
		}
		if ((*s >> 32) == (h >> 32) && !memcmp(&t->entries[(*s & 0xffffffff) - 1].conn.key, key, sizeof(*key)))
			return s;
	}
}

/* Rebuilds the index into cap slots, dropping tombstones. */
static int rebuild(struct ss_table *t, size_t cap)
{
	uint64_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t e = 0; e < t->top; e++) {
		size_t i;

		if (!t->entries[e].used)
			continue;
		for (i = t->entries[e].hash & (cap - 1); index[i]; i = (i + 1) & (cap - 1))
			;
		index[i] = slot_of(t->entries[e].hash, e);
	}
	free(t->index);
	t->index = index;
	t->cap = cap;
	t->used = t->live;
	return 0;
}

/* A free entry: one removed before, else one past the top (the array grown by realloc when full). */
static struct ss_tracked *entry_alloc(struct ss_table *t)
{
	if (t->free) {
		struct ss_tracked *e = &t->entries[t->free - 1];

		t->free = e->sweep;
		return e;
	}
	if (t->top == t->entries_cap) {
		struct ss_tracked *grown = realloc(t->entries, t->entries_cap * 2 * sizeof(*grown));

		if (!grown)
			return NULL;
		t->entries = grown;
		t->entries_cap *= 2;
	}
	return &t->entries[t->top++];
}

struct ss_tracked *ss_table_find(struct ss_table *t, const struct ss_conn_key *key)
{
	uint64_t *s = probe(t, key, ss_table_hash(key), false);

	return s ? &t->entries[(*s & 0xffffffff) - 1] : NULL;
}

void ss_table_prefetch(const struct ss_table *t, uint64_t h)
{
	__builtin_prefetch(&t->index[h & (t->cap - 1)], 1);
}

struct ss_tracked *ss_table_add(struct ss_table *t, const struct ss_conn_key *key, bool *added)
{
	return ss_table_add_hashed(t, key, ss_table_hash(key), added);
}

struct ss_tracked *ss_table_add_hashed(struct ss_table *t, const struct ss_conn_key *key, uint64_t h, bool *added)
{
	uint64_t *s = probe(t, key, h, true);
	struct ss_tracked *e;

	*added = false;
	if (*s != 0 && *s != SS_TOMB)
		return &t->entries[(*s & 0xffffffff) - 1];
	if ((t->used + 1) * 2 > t->cap) {
		/* grow when live entries fill it, else only sweep the tombstones out */
		if (rebuild(t, (t->live + 1) * 4 > t->cap ? t->cap * 2 : t->cap))
			return NULL;
		s = probe(t, key, h, true);
	}
	if (t->top >= 0xfffffffeU && !t->free)
		return NULL; /* an entry number must fit a slot's low half */
	e = entry_alloc(t);
	if (!e)
		return NULL;
	if (*s == 0)
		t->used++;
	memset(e, 0, sizeof(*e));
	e->conn.key = *key;
	e->hash = h;
	e->used = 1;
	*s = slot_of(h, (size_t)(e - t->entries));
	t->live++;
	*added = true;
	return e;
}

void ss_table_remove(struct ss_table *t, struct ss_tracked *e)
{
	uint64_t *s = probe(t, &e->conn.key, e->hash, false);

	if (s)
		*s = SS_TOMB;
	e->used = 0;
	e->sweep = t->free;
	t->free = (uint32_t)(e - t->entries) + 1;
	t->live--;
}
