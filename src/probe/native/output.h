/* Buffered record output on stdout. */
#ifndef SS_OUTPUT_H
#define SS_OUTPUT_H
#include <stdint.h>

struct ss_record;

/* Queues one record; flushes when the buffer is full. 0, or -errno of a failed write. */
int ss_out_record(const struct ss_record *r);

/* A record the helper makes itself (HELLO, COUNTERS, LOST), stamped now. */
int ss_out_values(uint8_t type, uint64_t v0, uint64_t v1, uint64_t v2, uint64_t v3);

/* Writes everything queued. 0 or -errno (-EPIPE when the reader is gone). */
int ss_out_flush(void);

uint64_t ss_monotonic_ns(void);

#endif
