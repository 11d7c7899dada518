// SipHash-2-4 (Aumasson and Bernstein), written from the paper's description: the
// message is read as little-endian 64-bit words, 2 compression rounds per word and 4
// finalisation rounds. test/unit/probe-siphash.test.ts checks the paper's vectors.
#include "siphash.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3;
};

static void sipround(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);

	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;

	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;

	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static void compress(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sipround(s);
	sipround(s);
	s->v0 ^= m;
}

/* n (at most 8) bytes as a little-endian word, whatever the host's byte order. */
static uint64_t le_word(const uint8_t *p, size_t n)
{
	uint64_t w = 0;

	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

static struct sip start(const uint64_t key[2])
{
	return (struct sip){
		.v0 = key[0] ^ 0x736f6d6570736575ULL,
		.v1 = key[1] ^ 0x646f72616e646f6dULL,
		.v2 = key[0] ^ 0x6c7967656e657261ULL,
		.v3 = key[1] ^ 0x7465646279746573ULL,
	};
}

/* last: the message's remaining bytes, and its length's low byte in the top byte. */
static uint64_t finish(struct sip *s, uint64_t last)
{
	compress(s, last);
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t ss_siphash(const uint64_t key[2], const void *msg, size_t len)
{
	const uint8_t *p = msg;
	size_t whole = len - len % 8;
	struct sip s = start(key);

	for (size_t i = 0; i < whole; i += 8)
		compress(&s, le_word(p + i, 8));
	return finish(&s, le_word(p + whole, len % 8) | (uint64_t)(len & 0xff) << 56);
}

/* One word, no remaining bytes: the per-record path, so without the byte loop. */
uint64_t ss_siphash_u64(const uint64_t key[2], uint64_t value)
{
	struct sip s = start(key);

	compress(&s, value);
	return finish(&s, (uint64_t)8 << 56);
}
