// Open addressing with linear probing: one allocation, no pointer per entry, which matters at a
// million connections. Removed entries leave tombstones until the next rebuild.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ct-table.h"

#define MIN_CAP 1024

static uint64_t hash(const struct ss_conn_key *k)
{
	const uint64_t *w = (const uint64_t *)k;
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	_Static_assert(sizeof(*k) == 40, "the key is hashed as five 64-bit words");
	for (int i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

int ss_table_init(struct ss_table *t)
{
	memset(t, 0, sizeof(*t));
	t->slots = calloc(MIN_CAP, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->cap = MIN_CAP;
	return 0;
}

void ss_table_free(struct ss_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct ss_tracked *probe(struct ss_tracked *slots, size_t cap, const struct ss_conn_key *key, bool want_free)
{
	size_t i = hash(key) & (cap - 1);
	struct ss_tracked *tomb = NULL;

	for (;; i = (i + 1) & (cap - 1)) {
		struct ss_tracked *e = &slots[i];

		if (e->used == 0)
			return want_free ? (tomb ? tomb : e) : NULL;
		if (e->used == 2) {
			if (!tomb)
				tomb = e;
			continue;
		}
		if (!memcmp(&e->conn.key, key, sizeof(*key)))
			return e;
	}
}

/* Rebuilds into cap slots, dropping tombstones. */
static int rebuild(struct ss_table *t, size_t cap)
{
	struct ss_tracked *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots[i].used == 1)
			*probe(slots, cap, &t->slots[i].conn.key, true) = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	t->used = t->live;
	return 0;
}

struct ss_tracked *ss_table_find(struct ss_table *t, const struct ss_conn_key *key)
{
	return probe(t->slots, t->cap, key, false);
}

struct ss_tracked *ss_table_add(struct ss_table *t, const struct ss_conn_key *key, bool *added)
{
	struct ss_tracked *e = probe(t->slots, t->cap, key, true);

	*added = false;
	if (e->used == 1)
		return e;
	if ((t->used + 1) * 2 > t->cap) {
		/* grow when live entries fill it, else only sweep the tombstones out */
		if (rebuild(t, (t->live + 1) * 4 > t->cap ? t->cap * 2 : t->cap))
			return NULL;
		e = probe(t->slots, t->cap, key, true);
	}
	if (e->used == 0)
		t->used++;
	memset(e, 0, sizeof(*e));
	e->conn.key = *key;
	e->used = 1;
	t->live++;
	*added = true;
	return e;
}

void ss_table_remove(struct ss_table *t, struct ss_tracked *e)
{
	e->used = 2;
	t->live--;
}
