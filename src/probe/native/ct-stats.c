// /proc/net/stat/nf_conntrack resolves through /proc/self/net, so after setns() it
// describes the node's namespace. One header row names the columns (their set
// changes between kernels, so they are found by name), then one hex row per CPU.
// `entries` is the namespace-wide table size repeated on every row: not summed.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ct-stats.h"

#define MAX_COLS 64

enum { COL_ENTRIES, COL_INSERT_FAILED, COL_DROP, COL_EARLY_DROP, COL_COUNT };
static const char *const col_names[COL_COUNT] = { "entries", "insert_failed", "drop", "early_drop" };

static int header_columns(char *line, int idx[COL_COUNT])
{
	int col = 0;

	for (int c = 0; c < COL_COUNT; c++)
		idx[c] = -1;
	for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n"), col++)
		for (int c = 0; c < COL_COUNT; c++)
			if (strcmp(tok, col_names[c]) == 0)
				idx[c] = col;
	for (int c = 0; c < COL_COUNT; c++)
		if (idx[c] < 0)
			return -EPROTO;
	return 0;
}

int ss_ct_stats_read(struct ss_ct_stats *out)
{
	char line[1024];
	int idx[COL_COUNT], rows = 0, err;
	FILE *f = fopen("/proc/net/stat/nf_conntrack", "re");

	if (!f)
		return -errno;
	memset(out, 0, sizeof(*out));
	if (!fgets(line, sizeof(line), f) || (err = header_columns(line, idx)) < 0) {
		fclose(f);
		return -EPROTO;
	}
	while (fgets(line, sizeof(line), f)) {
		uint64_t v[MAX_COLS];
		int n = 0;

		for (char *tok = strtok(line, " \t\n"); tok && n < MAX_COLS; tok = strtok(NULL, " \t\n"))
			v[n++] = strtoull(tok, NULL, 16);
		if (n <= idx[COL_ENTRIES] || n <= idx[COL_INSERT_FAILED] || n <= idx[COL_DROP] ||
		    n <= idx[COL_EARLY_DROP])
			continue;
		if (rows++ == 0)
			out->entries = v[idx[COL_ENTRIES]];
		out->insert_failed += v[idx[COL_INSERT_FAILED]];
		out->drop += v[idx[COL_DROP]];
		out->early_drop += v[idx[COL_EARLY_DROP]];
	}
	fclose(f);
	return rows ? 0 : -EPROTO;
}
