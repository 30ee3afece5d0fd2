/* testutil.h - small helpers shared by the engine's Criterion tests. */
#ifndef ENG_TESTUTIL_H
#define ENG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"

/* Deterministic xorshift PRNG so a failing case can be replayed from its seed. */
struct tu_rng {
    uint64_t s;
};
void tu_rng_seed(struct tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(struct tu_rng *r);
void tu_rng_fill(struct tu_rng *r, uint8_t *out, size_t len);
/* Uniform in [lo, hi]. */
size_t tu_rng_range(struct tu_rng *r, size_t lo, size_t hi);

/* Key length for |mode|: 64 for XTS, else 32. Random keys for XTS have distinct halves. */
size_t tu_key_len(enum eng_mode mode);
size_t tu_iv_len(enum eng_mode mode);
void tu_random_key(struct tu_rng *r, enum eng_mode mode, uint8_t *key);

#endif
