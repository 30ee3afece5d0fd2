/*
 * test_cipher_diff.c - every back end and CPU path against OpenSSL.
 *
 * OpenSSL EVP is the reference: for random keys, IVs, lengths and AAD,
 * each (back end, path) that supports a mode must produce the same
 * ciphertext and tag, in place and out of place, from unaligned buffers,
 * and decrypt back to the plaintext. Seeds are fixed so failures replay.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cipher.h"
#include "kat_testlib.h"
#include "testutil.h"

#define MAXP   16
#define NUNITS 24

struct ref_unit {
    uint8_t *pt, *ct, *out;
    uint8_t iv[16], tag[16], rtag[16], aad[64];
    size_t len, aad_len, off;
    uint32_t tag_len;
};

static size_t pick_len(struct tu_rng *r, enum eng_mode mode, size_t i)
{
    static const size_t fixed[] = {16,   17,   31,   32,    33,     512,
                                   4096, 8192, 8207, 65536, 200001, 1048576};
    size_t len = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : tu_rng_range(r, 16, 20000);
    if (mode == ENG_MODE_CBC) {
        len = (len + 15) & ~(size_t)15;
    }
    return len;
}

/* Encrypt with OpenSSL (reference) then with |p|; compare; decrypt with |p|. */
static void diff_one(enum eng_mode mode, struct eng_path p, uint64_t seed, int in_place)
{
    struct tu_rng r;
    tu_rng_seed(&r, seed);
    uint8_t key[64];
    tu_random_key(&r, mode, key);
    struct eng_cipher *ref =
        eng_cipher_new(mode, ENG_BACKEND_OPENSSL, ENG_ARCH_AUTO, key, tu_key_len(mode));
    struct eng_cipher *c = eng_cipher_new(mode, p.backend, p.arch, key, tu_key_len(mode));
    cr_assert_not_null(ref, "openssl: %s", eng_strerror(eng_errno()));
    cr_assert_not_null(c, "%s/%s: %s", eng_backend_name(p.backend), eng_arch_name(p.arch),
                       eng_strerror(eng_errno()));
    cr_assert_eq(eng_cipher_backend(c), p.backend);
    cr_assert_eq(eng_cipher_arch(c), p.arch);

    struct ref_unit ru[NUNITS];
    struct eng_unit ref_u[NUNITS], u[NUNITS];
    for (size_t i = 0; i < NUNITS; i++) {
        struct ref_unit *x = &ru[i];
        x->len = pick_len(&r, mode, i);
        x->off = tu_rng_range(&r, 0, 7); /* unaligned on purpose */
        x->pt = malloc(x->len + 8);
        x->ct = malloc(x->len + 8);
        x->out = malloc(x->len + 8);
        tu_rng_fill(&r, x->pt + x->off, x->len);
        tu_rng_fill(&r, x->iv, sizeof(x->iv));
        x->aad_len = mode == ENG_MODE_GCM ? tu_rng_range(&r, 0, sizeof(x->aad)) : 0;
        tu_rng_fill(&r, x->aad, sizeof(x->aad));
        static const uint32_t tl[] = {16, 16, 16, 12, 13, 14, 15, 8, 4};
        x->tag_len = tl[i % (sizeof(tl) / sizeof(tl[0]))];
        ref_u[i] = (struct eng_unit){.in = x->pt + x->off,
                                     .out = x->ct + x->off,
                                     .len = x->len,
                                     .iv = x->iv,
                                     .iv_len = tu_iv_len(mode),
                                     .aad = x->aad,
                                     .aad_len = x->aad_len,
                                     .tag = x->rtag,
                                     .tag_len = x->tag_len};
        uint8_t *dst = in_place ? x->out + x->off : x->out + ((x->off + 3) % 8);
        if (in_place) {
            memcpy(dst, x->pt + x->off, x->len);
        }
        u[i] = (struct eng_unit){.in = in_place ? dst : x->pt + x->off,
                                 .out = dst,
                                 .len = x->len,
                                 .iv = x->iv,
                                 .iv_len = tu_iv_len(mode),
                                 .aad = x->aad,
                                 .aad_len = x->aad_len,
                                 .tag = x->tag,
                                 .tag_len = x->tag_len};
    }
    for (size_t i = 0; i < NUNITS; i++) {
        cr_assert_eq(eng_cipher_encrypt(ref, &ref_u[i]), 0, "ref unit %zu len %zu at %s: %s", i,
                     ref_u[i].len, eng_error_where(), eng_strerror(eng_errno()));
    }
    int brc = eng_cipher_batch(c, ENG_ENCRYPT, u, NUNITS);
    for (size_t i = 0; brc != 0 && i < NUNITS; i++) {
        cr_log_error("unit %zu len %zu status %s", i, u[i].len, eng_error_name(u[i].status));
    }
    cr_assert_eq(brc, 0, "%s/%s in_place=%d: %s", eng_backend_name(p.backend),
                 eng_arch_name(p.arch), in_place, eng_strerror(eng_errno()));
    for (size_t i = 0; i < NUNITS; i++) {
        cr_assert_eq(u[i].status, ENG_OK);
        cr_assert(memcmp(u[i].out, ru[i].ct + ru[i].off, ru[i].len) == 0,
                  "%s %s/%s seed %llu unit %zu len %zu: ciphertext differs", eng_mode_name(mode),
                  eng_backend_name(p.backend), eng_arch_name(p.arch), (unsigned long long)seed, i,
                  ru[i].len);
        if (mode == ENG_MODE_GCM) {
            cr_assert(memcmp(ru[i].tag, ru[i].rtag, ru[i].tag_len) == 0, "unit %zu: tag differs",
                      i);
        }
        /* decrypt in place from the ciphertext */
        u[i].in = u[i].out;
    }
    cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, NUNITS), 0, "%s", eng_strerror(eng_errno()));
    for (size_t i = 0; i < NUNITS; i++) {
        cr_assert(memcmp(u[i].out, ru[i].pt + ru[i].off, ru[i].len) == 0, "unit %zu: round trip",
                  i);
        free(ru[i].pt);
        free(ru[i].ct);
        free(ru[i].out);
    }
    eng_cipher_free(ref);
    eng_cipher_free(c);
}

static void diff_mode(enum eng_mode mode)
{
    struct eng_path paths[MAXP];
    size_t n = eng_paths(mode, paths, MAXP);
    cr_assert_gt(n, 0, "no back end supports %s", eng_mode_name(mode));
    for (size_t i = 0; i < n; i++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            diff_one(mode, paths[i], seed * 1000 + i, 0);
            diff_one(mode, paths[i], seed * 1000 + i + 500, 1);
        }
    }
    cr_log_info("%s: %zu back-end paths checked against OpenSSL", eng_mode_name(mode), n);
}

Test(cipher_diff, xts)
{
    diff_mode(ENG_MODE_XTS);
}

Test(cipher_diff, gcm)
{
    diff_mode(ENG_MODE_GCM);
}

Test(cipher_diff, ctr)
{
    diff_mode(ENG_MODE_CTR);
}

Test(cipher_diff, cbc)
{
    diff_mode(ENG_MODE_CBC);
}

/* The CTR counter is a 128-bit big-endian integer: check carries at 2^32, 2^64 and 2^128. */
Test(cipher_diff, ctr_counter_wraps)
{
    static const char *const ivs[] = {
        "000000000000000000000000fffffffe", "0000000000000000fffffffffffffffe",
        "fffffffffffffffffffffffffffffffe", "0123456789abcdef01234567ffffffff",
        "00000000000000000000000000000000"};
    uint8_t key[32], pt[200], ref_ct[200], ct[200], iv[16];
    struct tu_rng r;
    tu_rng_seed(&r, 77);
    tu_rng_fill(&r, key, sizeof(key));
    tu_rng_fill(&r, pt, sizeof(pt));
    struct eng_cipher *ref = eng_cipher_new(ENG_MODE_CTR, ENG_BACKEND_OPENSSL, 0, key, 32);
    cr_assert_not_null(ref);
    struct eng_path paths[MAXP];
    size_t n = eng_paths(ENG_MODE_CTR, paths, MAXP);
    for (size_t k = 0; k < sizeof(ivs) / sizeof(ivs[0]); k++) {
        cr_assert_eq(tl_hex(iv, 16, ivs[k]), 16);
        struct eng_unit ru = {.in = pt, .out = ref_ct, .len = sizeof(pt), .iv = iv, .iv_len = 16};
        cr_assert_eq(eng_cipher_encrypt(ref, &ru), 0);
        for (size_t i = 0; i < n; i++) {
            struct eng_cipher *c =
                eng_cipher_new(ENG_MODE_CTR, paths[i].backend, paths[i].arch, key, 32);
            cr_assert_not_null(c);
            /* a batch where the wrapping unit sits between two ordinary ones */
            uint8_t other[2][48], iv0[16] = {0};
            struct eng_unit u[3] = {
                {.in = pt, .out = other[0], .len = 48, .iv = iv0, .iv_len = 16},
                {.in = pt, .out = ct, .len = sizeof(pt), .iv = iv, .iv_len = 16},
                {.in = pt, .out = other[1], .len = 48, .iv = iv0, .iv_len = 16},
            };
            cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, 3), 0);
            cr_assert(memcmp(ct, ref_ct, sizeof(pt)) == 0, "%s/%s iv %s: wrong carry",
                      eng_backend_name(paths[i].backend), eng_arch_name(paths[i].arch), ivs[k]);
            cr_assert(memcmp(other[0], other[1], 48) == 0);
            eng_cipher_free(c);
        }
    }
    eng_cipher_free(ref);
}

/* A large batch (more than one ipsec-mb burst of 128) with mixed lengths. */
Test(cipher_diff, batch_larger_than_one_burst)
{
    enum eng_mode modes[] = {ENG_MODE_CBC, ENG_MODE_CTR, ENG_MODE_GCM, ENG_MODE_XTS};
    for (size_t m = 0; m < 4; m++) {
        enum eng_mode mode = modes[m];
        struct tu_rng r;
        tu_rng_seed(&r, 4242 + m);
        uint8_t key[64];
        tu_random_key(&r, mode, key);
        size_t n = 300, ulen = 1024;
        uint8_t *pt = malloc(n * ulen), *a = malloc(n * ulen), *b = malloc(n * ulen);
        uint8_t *ivs = malloc(n * 16), *tags = malloc(n * 32);
        tu_rng_fill(&r, pt, n * ulen);
        tu_rng_fill(&r, ivs, n * 16);
        struct eng_unit *ua = calloc(n, sizeof(*ua)), *ub = calloc(n, sizeof(*ub));
        for (size_t i = 0; i < n; i++) {
            size_t len = mode == ENG_MODE_CBC ? ulen - 16 * (i % 3) : ulen - (i % 17);
            ua[i] = (struct eng_unit){.in = pt + i * ulen,
                                      .out = a + i * ulen,
                                      .len = len,
                                      .iv = ivs + i * 16,
                                      .iv_len = tu_iv_len(mode),
                                      .tag = tags + i * 32};
            ub[i] = ua[i];
            ub[i].out = b + i * ulen;
            ub[i].tag = tags + i * 32 + 16;
        }
        struct eng_cipher *ref =
            eng_cipher_new(mode, ENG_BACKEND_OPENSSL, 0, key, tu_key_len(mode));
        struct eng_cipher *c = eng_cipher_new(mode, ENG_BACKEND_AUTO, 0, key, tu_key_len(mode));
        cr_assert_not_null(ref);
        cr_assert_not_null(c);
        cr_assert_eq(eng_cipher_batch(ref, ENG_ENCRYPT, ua, n), 0);
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, ub, n), 0);
        for (size_t i = 0; i < n; i++) {
            cr_assert(memcmp(a + i * ulen, b + i * ulen, ua[i].len) == 0, "%s unit %zu",
                      eng_mode_name(mode), i);
            if (mode == ENG_MODE_GCM) {
                cr_assert(memcmp(tags + i * 32, tags + i * 32 + 16, 16) == 0);
            }
        }
        eng_cipher_free(ref);
        eng_cipher_free(c);
        free(pt), free(a), free(b), free(ivs), free(tags), free(ua), free(ub);
    }
}
