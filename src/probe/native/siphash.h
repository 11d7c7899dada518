/* SipHash-2-4: a keyed hash, so conntrack ids are stable per run but reveal no kernel address. */
#ifndef SS_SIPHASH_H
#define SS_SIPHASH_H
#include <stdint.h>

uint64_t ss_siphash_u64(const uint64_t key[2], uint64_t value);

#endif
