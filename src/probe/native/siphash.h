/* SipHash-2-4: a keyed hash, so conntrack ids are stable per run but reveal no kernel address. */
#ifndef SS_SIPHASH_H
#define SS_SIPHASH_H
#include <stddef.h>
#include <stdint.h>

/*
 * The 64-bit SipHash-2-4 of len bytes at msg; key[0] and key[1] are the key's two
 * little-endian halves. The helper needs only ss_siphash_u64: this general form is what
 * the paper's reference vectors (messages of every length) check the shared rounds with.
 */
uint64_t ss_siphash(const uint64_t key[2], const void *msg, size_t len);

/* The hash of value's 8 bytes in little-endian order (a conntrack id). */
uint64_t ss_siphash_u64(const uint64_t key[2], uint64_t value);

#endif
