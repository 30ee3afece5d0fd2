/*
 * be_native.c - the project's own SIMD AES-256-XTS (VAES/AVX-512, AES-NI).
 *
 * Slot reserved by the foundation; the kernels come with their own issue.
 * Until then the back end reports that it supports nothing, and AUTO picks
 * the next back end.
 */
#include "cipher_internal.h"

static int native_supports(enum eng_mode mode, enum eng_arch arch)
{
    (void)mode;
    (void)arch;
    return 0;
}

static int native_key_init(struct eng_cipher *c, const uint8_t *key)
{
    (void)c;
    (void)key;
    ENG_BAIL(ENG_ERR_UNSUPPORTED);
}

static int native_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                        size_t n)
{
    (void)c;
    (void)dir;
    (void)units;
    (void)n;
    ENG_BAIL(ENG_ERR_UNSUPPORTED);
}

const struct eng_backend_ops eng_backend_native_ops = {
    .id = ENG_BACKEND_NATIVE,
    .supports = native_supports,
    .key_init = native_key_init,
    .key_cleanup = NULL,
    .batch = native_batch,
};
