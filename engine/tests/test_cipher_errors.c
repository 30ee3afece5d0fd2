/*
 * test_cipher_errors.c - every refusal of the cipher layer, with its exact code.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cipher.h"
#include "eng_cpu.h"
#include "testutil.h"

static uint8_t key64[64];

static void init_key(void)
{
    for (int i = 0; i < 64; i++) {
        key64[i] = (uint8_t)(i * 37 + 11);
    }
}

TestSuite(cipher_errors, .init = init_key);

static struct eng_cipher *mk(enum eng_mode mode, enum eng_backend b)
{
    struct eng_cipher *c =
        eng_cipher_new(mode, b, ENG_ARCH_AUTO, key64, mode == ENG_MODE_XTS ? 64 : 32);
    cr_assert_not_null(c, "%s/%s: %s", eng_mode_name(mode), eng_backend_name(b),
                       eng_strerror(eng_errno()));
    return c;
}

#define EXPECT_NEW_FAILS(expr, code)                                                      \
    do {                                                                                  \
        eng_clear_error();                                                                \
        struct eng_cipher *c_ = (expr);                                                   \
        cr_assert_null(c_);                                                               \
        cr_assert_eq(eng_errno(), (code), "got %s, want %s", eng_error_name(eng_errno()), \
                     eng_error_name(code));                                               \
    } while (0)

Test(cipher_errors, wrong_key_length)
{
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 31), ENG_ERR_KEY_LEN);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 33), ENG_ERR_KEY_LEN);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 16), ENG_ERR_KEY_LEN);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_CBC, 0, 0, key64, 64), ENG_ERR_KEY_LEN);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_CTR, 0, 0, key64, 0), ENG_ERR_KEY_LEN);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_XTS, 0, 0, key64, 32), ENG_ERR_KEY_LEN);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_XTS, 0, 0, key64, 48), ENG_ERR_KEY_LEN);
}

Test(cipher_errors, null_key_and_bad_mode)
{
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, NULL, 32), ENG_ERR_NULL);
    EXPECT_NEW_FAILS(eng_cipher_new((enum eng_mode)99, 0, 0, key64, 32), ENG_ERR_MODE);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, (enum eng_backend)99, 0, key64, 32),
                     ENG_ERR_BACKEND);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, (enum eng_arch)99, key64, 32), ENG_ERR_ARCH);
}

Test(cipher_errors, xts_equal_halves_refused)
{
    uint8_t k[64];
    memcpy(k, key64, 32);
    memcpy(k + 32, key64, 32);
    for (int b = ENG_BACKEND_AUTO; b < ENG_BACKEND_COUNT; b++) {
        EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_XTS, (enum eng_backend)b, 0, k, 64),
                         ENG_ERR_XTS_KEY_HALVES_EQUAL);
    }
    k[63] ^= 1; /* one bit apart is allowed */
    struct eng_cipher *c = eng_cipher_new(ENG_MODE_XTS, 0, 0, k, 64);
    cr_assert_not_null(c);
    eng_cipher_free(c);
}

Test(cipher_errors, backend_without_mode)
{
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_IPSECMB, 0, key64, 64),
                     ENG_ERR_UNSUPPORTED);
    cr_assert_eq(eng_backend_supports(ENG_BACKEND_IPSECMB, ENG_MODE_XTS, ENG_ARCH_AUTO), 0);
    cr_assert_eq(eng_backend_supports(ENG_BACKEND_OPENSSL, ENG_MODE_XTS, ENG_ARCH_AUTO), 1);
}

/* Runs one unit through a fresh cipher and expects |code|; output must be untouched. */
static void expect_unit_error(enum eng_mode mode, enum eng_dir dir, struct eng_unit u, int code)
{
    for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
        if (!eng_backend_supports((enum eng_backend)b, mode, ENG_ARCH_AUTO)) {
            continue;
        }
        struct eng_cipher *c = mk(mode, (enum eng_backend)b);
        eng_clear_error();
        struct eng_unit v = u;
        cr_assert_eq(eng_cipher_batch(c, dir, &v, 1), -1);
        cr_assert_eq(eng_errno(), code, "%s/%s: got %s, want %s", eng_mode_name(mode),
                     eng_backend_name((enum eng_backend)b), eng_error_name(eng_errno()),
                     eng_error_name(code));
        cr_assert_eq(v.status, code);
        eng_cipher_free(c);
    }
}

Test(cipher_errors, unit_lengths)
{
    uint8_t in[64] = {0}, out[64], iv[16] = {0}, tag[16];
    struct eng_unit u = {.in = in, .out = out, .iv = iv, .iv_len = 16};
    u.len = 15;
    expect_unit_error(ENG_MODE_XTS, ENG_ENCRYPT, u, ENG_ERR_XTS_UNIT_SHORT);
    u.len = 0;
    expect_unit_error(ENG_MODE_XTS, ENG_DECRYPT, u, ENG_ERR_XTS_UNIT_SHORT);
    u.len = ENG_XTS_MAX_UNIT_BYTES + 1;
    expect_unit_error(ENG_MODE_XTS, ENG_ENCRYPT, u, ENG_ERR_XTS_UNIT_LONG);
    u.len = 17;
    expect_unit_error(ENG_MODE_CBC, ENG_ENCRYPT, u, ENG_ERR_CBC_LEN);
    u.len = 8;
    expect_unit_error(ENG_MODE_CBC, ENG_DECRYPT, u, ENG_ERR_CBC_LEN);
    u.len = 0;
    expect_unit_error(ENG_MODE_CBC, ENG_ENCRYPT, u, ENG_ERR_ZERO_LEN);
    expect_unit_error(ENG_MODE_CTR, ENG_ENCRYPT, u, ENG_ERR_ZERO_LEN);
    struct eng_unit g = {.in = in, .out = out, .len = 16, .iv = iv, .iv_len = 12, .tag = tag};
    g.len = (size_t)1 << 37;
    expect_unit_error(ENG_MODE_GCM, ENG_ENCRYPT, g, ENG_ERR_TOO_LONG);
}

Test(cipher_errors, nonce_sizes)
{
    uint8_t in[32] = {0}, out[32], iv[16] = {0}, tag[16];
    struct eng_unit g = {.in = in, .out = out, .len = 32, .iv = iv, .tag = tag};
    size_t bad_gcm[] = {0, 8, 11, 13, 16};
    for (size_t i = 0; i < sizeof(bad_gcm) / sizeof(bad_gcm[0]); i++) {
        g.iv_len = bad_gcm[i];
        expect_unit_error(ENG_MODE_GCM, ENG_ENCRYPT, g, ENG_ERR_NONCE_LEN);
    }
    struct eng_unit x = {.in = in, .out = out, .len = 32, .iv = iv, .iv_len = 12};
    expect_unit_error(ENG_MODE_XTS, ENG_ENCRYPT, x, ENG_ERR_NONCE_LEN);
    expect_unit_error(ENG_MODE_CTR, ENG_ENCRYPT, x, ENG_ERR_NONCE_LEN);
    expect_unit_error(ENG_MODE_CBC, ENG_ENCRYPT, x, ENG_ERR_NONCE_LEN);
}

Test(cipher_errors, gcm_tag_lengths)
{
    uint8_t in[32] = {0}, out[32], iv[12] = {0}, tag[16];
    struct eng_unit g = {.in = in, .out = out, .len = 32, .iv = iv, .iv_len = 12, .tag = tag};
    uint32_t bad[] = {1, 2, 3, 5, 6, 7, 9, 10, 11, 17, 32};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g.tag_len = bad[i];
        expect_unit_error(ENG_MODE_GCM, ENG_ENCRYPT, g, ENG_ERR_TAG_LEN);
    }
}

Test(cipher_errors, null_arguments)
{
    uint8_t in[32] = {0}, out[32], iv[16] = {0}, tag[16];
    struct eng_unit u = {.in = NULL, .out = out, .len = 32, .iv = iv, .iv_len = 16};
    expect_unit_error(ENG_MODE_CTR, ENG_ENCRYPT, u, ENG_ERR_NULL);
    u = (struct eng_unit){.in = in, .out = NULL, .len = 32, .iv = iv, .iv_len = 16};
    expect_unit_error(ENG_MODE_XTS, ENG_ENCRYPT, u, ENG_ERR_NULL);
    u = (struct eng_unit){.in = in, .out = out, .len = 32, .iv = NULL, .iv_len = 16};
    expect_unit_error(ENG_MODE_CBC, ENG_ENCRYPT, u, ENG_ERR_NULL);
    u = (struct eng_unit){.in = in, .out = out, .len = 32, .iv = iv, .iv_len = 12, .tag = NULL};
    expect_unit_error(ENG_MODE_GCM, ENG_ENCRYPT, u, ENG_ERR_NULL);
    u = (struct eng_unit){.in = in,
                          .out = out,
                          .len = 32,
                          .iv = iv,
                          .iv_len = 12,
                          .tag = tag,
                          .aad = NULL,
                          .aad_len = 5};
    expect_unit_error(ENG_MODE_GCM, ENG_ENCRYPT, u, ENG_ERR_NULL);

    struct eng_cipher *c = mk(ENG_MODE_CTR, ENG_BACKEND_AUTO);
    eng_clear_error();
    cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, NULL, 3), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    cr_assert_eq(eng_cipher_batch(NULL, ENG_ENCRYPT, &u, 1), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    cr_assert_eq(eng_cipher_batch(c, (enum eng_dir)7, &u, 1), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, NULL, 0), 0, "an empty batch is a no-op");
    eng_cipher_free(c);
    eng_cipher_free(NULL); /* no-op */
}

Test(cipher_errors, partial_overlap_refused)
{
    uint8_t buf[128] = {0}, iv[16] = {0};
    struct eng_unit u = {.in = buf, .out = buf + 8, .len = 64, .iv = iv, .iv_len = 16};
    expect_unit_error(ENG_MODE_CTR, ENG_ENCRYPT, u, ENG_ERR_ARG);
    u.out = buf + 64; /* adjacent, not overlapping: fine */
    struct eng_cipher *c = mk(ENG_MODE_CTR, ENG_BACKEND_AUTO);
    cr_assert_eq(eng_cipher_encrypt(c, &u), 0);
    eng_cipher_free(c);
}

/* A bad unit anywhere in a batch: nothing is written, every bad unit is marked. */
Test(cipher_errors, bad_unit_in_batch_writes_nothing)
{
    uint8_t in[4][64], out[4][64], iv[16] = {0};
    memset(in, 0x11, sizeof(in));
    memset(out, 0xee, sizeof(out));
    struct eng_unit u[4];
    for (int i = 0; i < 4; i++) {
        u[i] = (struct eng_unit){.in = in[i], .out = out[i], .len = 64, .iv = iv, .iv_len = 16};
    }
    u[2].len = 40; /* not a multiple of 16 */
    for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
        if (!eng_backend_supports((enum eng_backend)b, ENG_MODE_CBC, ENG_ARCH_AUTO)) {
            continue;
        }
        struct eng_cipher *c = mk(ENG_MODE_CBC, (enum eng_backend)b);
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, 4), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_CBC_LEN);
        cr_assert_eq(u[0].status, ENG_OK);
        cr_assert_eq(u[2].status, ENG_ERR_CBC_LEN);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 64; j++) {
                cr_assert_eq(out[i][j], 0xee, "unit %d written despite a bad batch", i);
            }
        }
        eng_cipher_free(c);
    }
}

/* A forged tag fails only its own unit, whose output is zeroed; the others decrypt. */
Test(cipher_errors, gcm_wrong_tag)
{
    for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
        if (!eng_backend_supports((enum eng_backend)b, ENG_MODE_GCM, ENG_ARCH_AUTO)) {
            continue;
        }
        struct eng_cipher *c = mk(ENG_MODE_GCM, (enum eng_backend)b);
        uint8_t pt[3][100], ct[3][100], iv[3][12], tag[3][16], aad[7] = "header";
        struct eng_unit u[3];
        for (int i = 0; i < 3; i++) {
            memset(pt[i], 'a' + i, 100);
            memset(iv[i], i + 1, 12);
            u[i] = (struct eng_unit){.in = pt[i],
                                     .out = ct[i],
                                     .len = 100,
                                     .iv = iv[i],
                                     .iv_len = 12,
                                     .aad = aad,
                                     .aad_len = sizeof(aad),
                                     .tag = tag[i]};
        }
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, 3), 0);
        /* flip one tag bit in unit 1, one ciphertext bit in unit 2 (AAD of unit 0 stays) */
        tag[1][5] ^= 0x10;
        ct[2][99] ^= 0x01;
        uint8_t back[3][100];
        for (int i = 0; i < 3; i++) {
            u[i].in = ct[i];
            u[i].out = back[i];
        }
        eng_clear_error();
        cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, 3), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_AUTH, "%s: got %s", eng_backend_name((enum eng_backend)b),
                     eng_error_name(eng_errno()));
        cr_assert_eq(u[0].status, ENG_OK);
        cr_assert(memcmp(back[0], pt[0], 100) == 0);
        for (int i = 1; i < 3; i++) {
            cr_assert_eq(u[i].status, ENG_ERR_AUTH);
            for (int j = 0; j < 100; j++) {
                cr_assert_eq(back[i][j], 0, "unit %d released unauthenticated plaintext", i);
            }
        }
        /* wrong AAD fails too */
        u[0].aad_len = 3;
        cr_assert_eq(eng_cipher_decrypt(c, &u[0]), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_AUTH);
        eng_cipher_free(c);
    }
}

Test(cipher_errors, names_round_trip_and_refuse_unknown)
{
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        enum eng_mode x;
        cr_assert_eq(eng_mode_from_name(eng_mode_name((enum eng_mode)m), &x), 0);
        cr_assert_eq(x, m);
    }
    for (int b = 0; b < ENG_BACKEND_COUNT; b++) {
        enum eng_backend x;
        cr_assert_eq(eng_backend_from_name(eng_backend_name((enum eng_backend)b), &x), 0);
        cr_assert_eq(x, b);
    }
    for (int a = 0; a < ENG_ARCH_COUNT; a++) {
        enum eng_arch x;
        cr_assert_eq(eng_arch_from_name(eng_arch_name((enum eng_arch)a), &x), 0);
        cr_assert_eq(x, a);
    }
    enum eng_mode m;
    enum eng_backend b;
    enum eng_arch a;
    cr_assert_eq(eng_mode_from_name("ecb", &m), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_MODE);
    cr_assert_eq(eng_backend_from_name("gnutls", &b), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_BACKEND);
    cr_assert_eq(eng_arch_from_name("neon", &a), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARCH);
    cr_assert_eq(eng_mode_from_name(NULL, &m), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_MODE);
}

Test(cipher_errors, env_backend_forces_and_rejects)
{
    setenv("ENG_BACKEND", "openssl", 1);
    struct eng_cipher *c = mk(ENG_MODE_GCM, ENG_BACKEND_AUTO);
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_OPENSSL);
    eng_cipher_free(c);
    /* an explicit back end wins over the variable */
    c = mk(ENG_MODE_GCM, ENG_BACKEND_IPSECMB);
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_IPSECMB);
    eng_cipher_free(c);

    setenv("ENG_BACKEND", "gcm:openssl,cbc:ipsec-mb", 1);
    c = mk(ENG_MODE_GCM, ENG_BACKEND_AUTO);
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_OPENSSL);
    eng_cipher_free(c);
    c = mk(ENG_MODE_CBC, ENG_BACKEND_AUTO);
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_IPSECMB);
    eng_cipher_free(c);

    setenv("ENG_BACKEND", "ipsec-mb", 1);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_XTS, 0, 0, key64, 64), ENG_ERR_UNSUPPORTED);
    setenv("ENG_BACKEND", "quantum", 1);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 32), ENG_ERR_ENV);
    setenv("ENG_BACKEND", "gcm:quantum", 1);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 32), ENG_ERR_ENV);
    setenv("ENG_BACKEND", "ecb:openssl", 1);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 32), ENG_ERR_ENV);
    unsetenv("ENG_BACKEND");
}

/*
 * The automatic choice per mode and path (cipher.c, auto_order, with the
 * measurements behind it): XTS native wherever it runs, GCM native on the
 * VAES paths, GCM (other paths) / CTR / CBC ipsec-mb wherever it runs, else
 * OpenSSL; on every path of this CPU.
 */
Test(cipher_errors, auto_order_per_mode_and_path)
{
    unsetenv("ENG_BACKEND");
    unsetenv("ENG_ARCH");
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        for (int a = ENG_ARCH_NOAESNI; a <= (int)eng_cpu_best_arch(); a++) {
            /* native GCM first only on the VAES paths, where it beat ipsec-mb */
            int nat = m == ENG_MODE_XTS ||
                      (m == ENG_MODE_GCM && (a == ENG_ARCH_VAES_AVX2 || a == ENG_ARCH_AVX512));
            enum eng_backend first = nat ? ENG_BACKEND_NATIVE : ENG_BACKEND_IPSECMB;
            enum eng_backend want = eng_backend_supports(first, (enum eng_mode)m, (enum eng_arch)a)
                                        ? first
                                        : ENG_BACKEND_OPENSSL;
            enum eng_backend b;
            enum eng_arch ra;
            cr_assert_eq(eng_resolve((enum eng_mode)m, ENG_BACKEND_AUTO, (enum eng_arch)a, &b, &ra),
                         0, "%s/%s: %s", eng_mode_name((enum eng_mode)m),
                         eng_arch_name((enum eng_arch)a), eng_error_name(eng_errno()));
            cr_assert_eq(b, want, "%s at %s: %s, expected %s", eng_mode_name((enum eng_mode)m),
                         eng_arch_name((enum eng_arch)a), eng_backend_name(b),
                         eng_backend_name(want));
            cr_assert_eq(ra, (enum eng_arch)a);
        }
    }
    /* the native XTS on every AES-NI path, vaes-avx2 included where the CPU has it */
    if (eng_cpu_best_arch() >= ENG_ARCH_VAES_AVX2) {
        enum eng_backend b;
        enum eng_arch ra;
        cr_assert_eq(eng_resolve(ENG_MODE_XTS, ENG_BACKEND_AUTO, ENG_ARCH_VAES_AVX2, &b, &ra), 0);
        cr_assert_eq(b, ENG_BACKEND_NATIVE);
        cr_assert_eq(ra, ENG_ARCH_VAES_AVX2);
    }
    /* ENG_BACKEND still forces one mode and leaves the others to the table */
    setenv("ENG_BACKEND", "xts:openssl", 1);
    enum eng_backend b;
    enum eng_arch ra;
    cr_assert_eq(eng_resolve(ENG_MODE_XTS, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, &b, &ra), 0);
    cr_assert_eq(b, ENG_BACKEND_OPENSSL);
    cr_assert_eq(eng_resolve(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, &b, &ra), 0);
    cr_assert_eq(b, eng_cpu_best_arch() >= ENG_ARCH_VAES_AVX2 ? ENG_BACKEND_NATIVE
                    : eng_backend_supports(ENG_BACKEND_IPSECMB, ENG_MODE_GCM, ENG_ARCH_AUTO)
                        ? ENG_BACKEND_IPSECMB
                        : ENG_BACKEND_OPENSSL);
    /* the native GCM runs only on the VAES paths; ENG_BACKEND forces it there */
    setenv("ENG_BACKEND", "gcm:native", 1);
    cr_assert_eq(eng_resolve(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AVX2, &b, &ra), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED);
    if (eng_cpu_best_arch() >= ENG_ARCH_VAES_AVX2) {
        cr_assert_eq(eng_resolve(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, &b, &ra), 0);
        cr_assert_eq(b, ENG_BACKEND_NATIVE);
    } else {
        cr_assert_eq(eng_resolve(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, &b, &ra), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED);
    }
    unsetenv("ENG_BACKEND");
}

Test(cipher_errors, env_arch_caps_the_path)
{
    setenv("ENG_ARCH", "sse", 1);
    struct eng_cipher *c = mk(ENG_MODE_GCM, ENG_BACKEND_IPSECMB);
    cr_assert_eq(eng_cipher_arch(c), ENG_ARCH_SSE);
    eng_cipher_free(c);
    setenv("ENG_ARCH", "noaesni", 1);
    c = mk(ENG_MODE_CBC, ENG_BACKEND_AUTO);
    cr_assert_eq(eng_cipher_arch(c), ENG_ARCH_NOAESNI);
    /* AUTO falls back to a back end that has a software path (OpenSSL at least) */
    cr_assert(eng_backend_supports(eng_cipher_backend(c), ENG_MODE_CBC, ENG_ARCH_NOAESNI));
    eng_cipher_free(c);
    setenv("ENG_ARCH", "pentium", 1);
    EXPECT_NEW_FAILS(eng_cipher_new(ENG_MODE_GCM, 0, 0, key64, 32), ENG_ERR_ENV);
    unsetenv("ENG_ARCH");
    enum eng_arch a;
    cr_assert_eq(eng_arch_effective(ENG_ARCH_AUTO, &a), 0);
    cr_assert_eq(a, eng_cpu_best_arch());
}
