/*
 * be_native.c - the project's own SIMD AES-256-XTS (VAES zmm/ymm, AES-NI)
 * and AES-256-GCM (VAES + VPCLMULQDQ ymm and zmm).
 *
 * GCM: the key is expanded once (round keys, powers H^1..H^32 of the hash
 * key) into c->sched (struct eng_gcm_sched, secure memory) and every batch
 * runs gcm_vaes_avx2.c, at ENG_ARCH_VAES_AVX2 (16 blocks per step in ymm) and
 * at ENG_ARCH_AVX512 (32 blocks per step in zmm, gcm_vaes_avx512.c, then the
 * ymm code for the rest of each unit); narrower paths do not support GCM here
 * (ipsec-mb or OpenSSL).
 *
 * XTS: the key is expanded once (key1 encryption and decryption
 * schedules, key2 encryption schedule) into c->sched, in secure memory; the
 * batch runs the kernel of the path cipher.c resolved (c->arch):
 *   ENG_ARCH_AVX512            xts_vaes.c, 32 blocks in flight in zmm
 *   ENG_ARCH_VAES_AVX2         xts_vaes_avx2.c, 16 blocks in flight in ymm
 *   ENG_ARCH_AVX, ENG_ARCH_AVX2 xts_aesni.c VEX-encoded, 8 blocks in xmm
 *   ENG_ARCH_SSE               xts_aesni.c legacy SSE encoding, 8 blocks
 *   ENG_ARCH_NOAESNI           not supported: AUTO falls back to OpenSSL.
 */
#include "cipher_internal.h"
#include "gcm_internal.h"
#include "xts_internal.h"

/*
 * Overwrites the stack below the caller's frame, where a kernel that just
 * returned may have spilled tweaks or key-expansion temporaries. The kernels
 * wipe what they keep in arrays themselves; this covers register spills the
 * compiler chose (their frames are well under 2 KiB).
 */
static __attribute__((noinline)) void burn_stack(void)
{
    uint8_t pad[2048];
    eng_cleanse(pad, sizeof(pad));
}

static int native_supports(enum eng_mode mode, enum eng_arch arch)
{
    if (mode == ENG_MODE_GCM) {
        return arch == ENG_ARCH_VAES_AVX2 || arch == ENG_ARCH_AVX512;
    }
    return mode == ENG_MODE_XTS && arch >= ENG_ARCH_SSE && arch <= ENG_ARCH_AVX512;
}

static int native_gcm_key_init(struct eng_cipher *c, const uint8_t *key)
{
    struct eng_gcm_sched *ks = eng_secure_alloc(sizeof(*ks));
    if (ks == NULL) {
        return -1;
    }
    c->sched = ks;
    c->sched_len = sizeof(*ks);
    eng_gcm_vaes_avx2_init(ks, key);
    burn_stack();
    return 0;
}

static int native_gcm_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                            size_t n)
{
    eng_gcm_batch_vaes_avx2(c->sched, dir == ENG_DECRYPT, c->arch == ENG_ARCH_AVX512, units, n);
    burn_stack();
    for (size_t i = 0; i < n; i++) {
        if (units[i].status != ENG_OK) {
            ENG_BAIL(units[i].status);
        }
    }
    return 0;
}

static int native_key_init(struct eng_cipher *c, const uint8_t *key)
{
    ENG_ENSURE(native_supports(c->mode, c->arch), ENG_ERR_UNSUPPORTED);
    /* cipher.c checked the arch against the CPU; check again before running AES-NI. */
    ENG_ENSURE(c->arch <= eng_cpu_best_arch(), ENG_ERR_CPU);
    if (c->mode == ENG_MODE_GCM) {
        return native_gcm_key_init(c, key);
    }
    struct eng_xts_sched *ks = eng_secure_alloc(sizeof(*ks));
    if (ks == NULL) {
        return -1;
    }
    c->sched = ks;
    c->sched_len = sizeof(*ks);
    eng_xts_expand_key(ks, key);
    if (c->arch == ENG_ARCH_AVX512) {
        eng_xts_vaes_init(ks);
    } else if (c->arch == ENG_ARCH_VAES_AVX2) {
        eng_xts_vaes_avx2_init(ks);
    }
    burn_stack();
    return 0;
}

static int native_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                        size_t n)
{
    if (c->mode == ENG_MODE_GCM) {
        return native_gcm_batch(c, dir, units, n);
    }
    const struct eng_xts_sched *ks = c->sched;
    int dec = dir == ENG_DECRYPT;
    switch (c->arch) {
        case ENG_ARCH_AVX512:
            eng_xts_batch_vaes(ks, dec, units, n);
            break;
        case ENG_ARCH_VAES_AVX2:
            eng_xts_batch_vaes_avx2(ks, dec, units, n);
            break;
        case ENG_ARCH_AVX:
        case ENG_ARCH_AVX2:
            eng_xts_batch_avx(ks, dec, units, n);
            break;
        case ENG_ARCH_SSE:
            eng_xts_batch_sse(ks, dec, units, n);
            break;
        case ENG_ARCH_AUTO:
        case ENG_ARCH_NOAESNI:
        case ENG_ARCH_COUNT:
        default:
            for (size_t i = 0; i < n; i++) {
                units[i].status = ENG_ERR_INTERNAL;
            }
            ENG_BAIL(ENG_ERR_INTERNAL);
    }
    burn_stack();
    for (size_t i = 0; i < n; i++) {
        units[i].status = ENG_OK;
    }
    return 0;
}

const struct eng_backend_ops eng_backend_native_ops = {
    .id = ENG_BACKEND_NATIVE,
    .supports = native_supports,
    .key_init = native_key_init,
    .key_cleanup = NULL,
    .batch = native_batch,
};
