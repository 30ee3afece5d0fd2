/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <string.h>

void tu_rng_seed(struct tu_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t tu_rng_next(struct tu_rng *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dULL;
}

void tu_rng_fill(struct tu_rng *r, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(tu_rng_next(r) >> 56);
    }
}

size_t tu_rng_range(struct tu_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(tu_rng_next(r) % (uint64_t)(hi - lo + 1));
}

size_t tu_key_len(enum eng_mode mode)
{
    return mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
}

size_t tu_iv_len(enum eng_mode mode)
{
    return mode == ENG_MODE_GCM ? ENG_GCM_NONCE_BYTES : ENG_BLOCK_BYTES;
}

void tu_random_key(struct tu_rng *r, enum eng_mode mode, uint8_t *key)
{
    tu_rng_fill(r, key, tu_key_len(mode));
    if (mode == ENG_MODE_XTS && memcmp(key, key + 32, 32) == 0) {
        key[32] ^= 1;
    }
}
