/*
 * test_native_xts.c - the native AES-256-XTS back end (be_native.c, xts_*.c).
 *
 * Every path (SSE, AVX, AVX2: the AES-NI kernel; VAES_AVX2: the ymm VAES
 * kernel; AVX512: the zmm VAES kernel) is checked against IEEE 1619-2007
 * Annex B vectors 10..14 (each value also checked through the OpenSSL back
 * end in the same test) and differentially
 * against the OpenSSL back end on random keys, tweaks, data, lengths (every
 * length 16..528, up to 16 MiB), alignments, in place and out of place, and
 * in batches of mixed lengths. A path the CPU lacks is skipped with a logged
 * reason. The random generator is seeded (NATIVE_XTS_SEED overrides it) and
 * the seed is logged, so a failure can be replayed.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cipher.h"
#include "eng_cpu.h"
#include "eng_error.h"
#include "eng_secure.h"
#include "ieee1619.h"
#include "kat_testlib.h"
#include "vmt_client.h"

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(void)
{
    const char *env = getenv("NATIVE_XTS_SEED");
    uint64_t seed = 0x6e61746976657874ULL; /* fixed: the tests are reproducible */
    if (env != NULL && *env != '\0') {
        char *end = NULL;
        unsigned long long v = strtoull(env, &end, 0);
        cr_assert(end != env && *end == '\0', "NATIVE_XTS_SEED is not a number: %s", env);
        seed = (uint64_t)v;
    }
    rng_state = seed;
    cr_log_info("seed 0x%llx", (unsigned long long)seed);
}

/* splitmix64 */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

static void rng_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0) {
            uint64_t v = rng_next();
            size_t k = n - i < 8 ? n - i : 8;
            memcpy(p + i, &v, k);
        }
    }
}

static void rng_key(uint8_t key[ENG_XTS_KEY_BYTES])
{
    do {
        rng_fill(key, ENG_XTS_KEY_BYTES);
    } while (memcmp(key, key + 32, 32) == 0);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    cr_assert_not_null(p, "malloc(%zu)", n);
    return p;
}

/* Skips the current test (with the reason logged) when the CPU lacks |arch|. */
static void require_arch(enum eng_arch arch)
{
    if (arch >= ENG_ARCH_VAES_AVX2 && vmt_under_valgrind()) {
        fprintf(stderr, "native_xts: skipping the %s path under valgrind (it cannot run VAES)\n",
                eng_arch_name(arch));
        cr_skip_test("valgrind cannot run VAES");
    }
    if (eng_cpu_best_arch() < arch) {
        char flags[256];
        eng_cpu_flags_string(flags, sizeof(flags));
        /* stderr, not cr_log_warn: Criterion 2.4 exits non-zero after a warning. */
        fprintf(stderr,
                "native_xts: skipping the %s path: this CPU's best path is %s (flags: %s)\n",
                eng_arch_name(arch), eng_arch_name(eng_cpu_best_arch()), flags);
        cr_skip_test("CPU lacks the %s path", eng_arch_name(arch));
    }
}

static struct eng_cipher *xts_new(enum eng_backend b, enum eng_arch a, const uint8_t *key)
{
    struct eng_cipher *c = eng_cipher_new(ENG_MODE_XTS, b, a, key, ENG_XTS_KEY_BYTES);
    cr_assert_not_null(c, "eng_cipher_new(xts, %s, %s): %s", eng_backend_name(b), eng_arch_name(a),
                       eng_error_name(eng_errno()));
    cr_assert_eq(eng_cipher_backend(c), b);
    if (a != ENG_ARCH_AUTO) {
        cr_assert_eq(eng_cipher_arch(c), a, "got path %s, asked %s",
                     eng_arch_name(eng_cipher_arch(c)), eng_arch_name(a));
    }
    return c;
}

static void xts_run(const struct eng_cipher *c, enum eng_dir dir, const uint8_t *in, uint8_t *out,
                    size_t len, const uint8_t *tweak)
{
    struct eng_unit u = {.in = in, .out = out, .len = len, .iv = tweak, .iv_len = 16};
    cr_assert_eq(eng_cipher_batch(c, dir, &u, 1), 0, "%s %s len %zu: %s",
                 eng_backend_name(eng_cipher_backend(c)), dir == ENG_ENCRYPT ? "enc" : "dec", len,
                 eng_error_name(eng_errno()));
    cr_assert_eq(u.status, ENG_OK);
}

/* Runs |c| on |in| out of place, then in place; both must give |want|. */
static void expect_both_places(const struct eng_cipher *c, enum eng_dir dir, const uint8_t *in,
                               const uint8_t *want, size_t len, const uint8_t *tweak,
                               const char *what)
{
    uint8_t *out = xmalloc(len);
    xts_run(c, dir, in, out, len, tweak);
    cr_assert(memcmp(out, want, len) == 0, "%s, out of place", what);
    memcpy(out, in, len);
    xts_run(c, dir, out, out, len, tweak);
    cr_assert(memcmp(out, want, len) == 0, "%s, in place", what);
    free(out);
}

/* A native cipher on one path and the OpenSSL reference, same random key. */
struct pair {
    enum eng_arch arch;
    struct eng_cipher *nat;
    struct eng_cipher *ref;
};

static void pair_new(struct pair *p, enum eng_arch arch)
{
    uint8_t key[ENG_XTS_KEY_BYTES];
    rng_key(key);
    p->arch = arch;
    p->nat = xts_new(ENG_BACKEND_NATIVE, arch, key);
    p->ref = xts_new(ENG_BACKEND_OPENSSL, ENG_ARCH_AUTO, key);
    eng_cleanse(key, sizeof(key));
}

/* The common start of a per-path test: skip if the CPU lacks |arch|, seed, make the pair. */
static void pair_start(struct pair *p, enum eng_arch arch)
{
    require_arch(arch);
    rng_seed();
    pair_new(p, arch);
}

static void pair_free(struct pair *p)
{
    eng_cipher_free(p->nat);
    eng_cipher_free(p->ref);
    p->nat = NULL;
    p->ref = NULL;
}

#define GUARD      64 /* bytes either side of every output, checked untouched */
#define GUARD_BYTE 0xa5

/*
 * One differential case: |len| bytes, input at offset |ioff| and output at
 * offset |ooff| of their buffers (alignment), a random tweak. Checks, for
 * encryption and for decryption (of random data, against OpenSSL's
 * decryption, so that decryption is tested on its own): out of place, in
 * place, the round trip, and that nothing outside the unit was written.
 */
static void check_case(const struct pair *p, size_t len, size_t ioff, size_t ooff)
{
    uint8_t tweak[16];
    rng_fill(tweak, sizeof(tweak));
    uint8_t *src = xmalloc(len + 2 * GUARD);
    uint8_t *dst = xmalloc(len + 2 * GUARD);
    uint8_t *want = xmalloc(len);
    uint8_t *back = xmalloc(len);
    const char *a = eng_arch_name(p->arch);
    for (int d = 0; d < 2; d++) {
        enum eng_dir dir = d == 0 ? ENG_ENCRYPT : ENG_DECRYPT;
        const char *dn = d == 0 ? "encrypt" : "decrypt";
        uint8_t *in = src + ioff;
        rng_fill(in, len);
        xts_run(p->ref, dir, in, want, len, tweak);

        /* out of place, guarded */
        memset(dst, GUARD_BYTE, len + 2 * GUARD);
        uint8_t *out = dst + GUARD + ooff % GUARD;
        xts_run(p->nat, dir, in, out, len, tweak);
        cr_assert(memcmp(out, want, len) == 0, "%s %s len %zu in+%zu out+%zu: differs from OpenSSL",
                  a, dn, len, ioff, ooff);
        for (size_t i = 0; i < len + 2 * GUARD; i++) {
            if (dst + i < out || dst + i >= out + len) {
                cr_assert_eq(dst[i], GUARD_BYTE, "%s %s len %zu: wrote outside the unit at %zd", a,
                             dn, len, (ssize_t)(dst + i - out));
            }
        }

        /* the inverse gives the input back */
        xts_run(p->nat, dir == ENG_ENCRYPT ? ENG_DECRYPT : ENG_ENCRYPT, out, back, len, tweak);
        cr_assert(memcmp(back, in, len) == 0, "%s %s len %zu: round trip fails", a, dn, len);

        /* in place, at the output offset */
        memcpy(out, in, len);
        xts_run(p->nat, dir, out, out, len, tweak);
        cr_assert(memcmp(out, want, len) == 0, "%s %s in place len %zu out+%zu: differs", a, dn,
                  len, ooff);
    }
    free(src);
    free(dst);
    free(want);
    free(back);
}

static const enum eng_arch all_paths[] = {ENG_ARCH_SSE, ENG_ARCH_AVX, ENG_ARCH_AVX2,
                                          ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512};

/* ---- per-path tests ----------------------------------------------------- */

static void test_ieee1619(enum eng_arch arch)
{
    require_arch(arch);
    uint8_t key[ENG_XTS_KEY_BYTES];
    cr_assert_eq(tl_hex(key, sizeof(key), ieee1619_key_hex), sizeof(key));
    struct eng_cipher *nat = xts_new(ENG_BACKEND_NATIVE, arch, key);
    struct eng_cipher *ref = xts_new(ENG_BACKEND_OPENSSL, ENG_ARCH_AUTO, key);
    uint8_t pt[IEEE1619_UNIT_BYTES];
    uint8_t ct[IEEE1619_UNIT_BYTES];
    ieee1619_plaintext(pt);
    for (size_t v = 0; v < IEEE1619_VECTORS; v++) {
        const struct ieee1619_vector *iv = &ieee1619_vectors[v];
        uint8_t tweak[16];
        eng_xts_tweak_from_u64(tweak, iv->seq);
        cr_assert_eq(tl_hex(ct, sizeof(ct), iv->ct_hex), sizeof(ct));
        struct eng_cipher *cs[2] = {ref, nat};
        for (int k = 0; k < 2; k++) {
            const char *who = k == 0 ? "openssl" : eng_arch_name(arch);
            char what[64];
            snprintf(what, sizeof(what), "vector %d encrypt (%s)", iv->number, who);
            expect_both_places(cs[k], ENG_ENCRYPT, pt, ct, sizeof(pt), tweak, what);
            snprintf(what, sizeof(what), "vector %d decrypt (%s)", iv->number, who);
            expect_both_places(cs[k], ENG_DECRYPT, ct, pt, sizeof(ct), tweak, what);
        }
    }
    eng_cipher_free(nat);
    eng_cipher_free(ref);
    eng_cleanse(key, sizeof(key));
}

/* Every length 16 .. 16*33 (so every length modulo 16, with 0..32 whole blocks). */
static void test_every_length(enum eng_arch arch)
{
    struct pair p;
    pair_start(&p, arch);
    for (size_t len = 16; len <= 16 * 33; len++) {
        if (len % 64 == 0) { /* a fresh random key now and then */
            pair_free(&p);
            pair_new(&p, arch);
        }
        check_case(&p, len, 0, 0);
    }
    pair_free(&p);
}

/* Every input and output misalignment 0..63, on lengths with and without stealing. */
static void test_unaligned(enum eng_arch arch)
{
    struct pair p;
    pair_start(&p, arch);
    static const size_t lens[] = {16, 17, 31, 32, 33, 255, 256, 257, 512, 4096 + 15};
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        for (size_t off = 1; off < 64; off++) {
            check_case(&p, lens[l], off, (off * 7) % 64);
        }
    }
    pair_free(&p);
}

/* Large units: up to 1 MiB, random lengths, and the 16 MiB maximum once. */
static void test_large_units(enum eng_arch arch)
{
    struct pair p;
    pair_start(&p, arch);
    static const size_t lens[] = {4096,       8192,
                                  8192 + 1,   65536 - 1,
                                  65536 + 17, (1U << 20) - 15,
                                  1U << 20,   ENG_XTS_MAX_UNIT_BYTES};
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        check_case(&p, lens[l], l % 3, l % 5);
    }
    for (int i = 0; i < 6; i++) {
        check_case(&p, 16 + rng_below((1U << 20) - 15), rng_below(64), rng_below(64));
    }
    pair_free(&p);
}

/*
 * Batches of mixed lengths, offsets and placements; counts around the
 * kernels' groups of 8 and 16 units. Each unit is compared with the OpenSSL
 * back end run on it alone.
 */
static void test_mixed_batch(enum eng_arch arch)
{
    require_arch(arch);
    rng_seed();
    static const size_t counts[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100};
    for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
        struct pair p;
        pair_new(&p, arch);
        size_t n = counts[ci];
        struct eng_unit *u = xmalloc(n * sizeof(*u));
        uint8_t **src = xmalloc(n * sizeof(*src));
        uint8_t **dst = xmalloc(n * sizeof(*dst));
        uint8_t **want = xmalloc(n * sizeof(*want));
        uint8_t(*tw)[16] = xmalloc(n * 16);
        for (int d = 0; d < 2; d++) {
            enum eng_dir dir = d == 0 ? ENG_ENCRYPT : ENG_DECRYPT;
            for (size_t i = 0; i < n; i++) {
                size_t len;
                switch (rng_below(4)) {
                    case 0:
                        len = 512;
                        break;
                    case 1:
                        len = 8192;
                        break;
                    case 2:
                        len = 16 * (1 + rng_below(64));
                        break;
                    default:
                        len = 16 + rng_below(9000);
                        break;
                }
                int in_place = rng_below(2) == 0;
                size_t ioff = rng_below(16);
                src[i] = xmalloc(len + 16);
                dst[i] = in_place ? src[i] : xmalloc(len + 16);
                want[i] = xmalloc(len);
                rng_fill(src[i] + ioff, len);
                rng_fill(tw[i], 16);
                xts_run(p.ref, dir, src[i] + ioff, want[i], len, tw[i]);
                u[i] = (struct eng_unit){.in = src[i] + ioff,
                                         .out = in_place ? src[i] + ioff : dst[i] + rng_below(16),
                                         .len = len,
                                         .iv = tw[i],
                                         .iv_len = 16,
                                         .status = -1};
            }
            cr_assert_eq(eng_cipher_batch(p.nat, dir, u, n), 0, "%s batch of %zu: %s",
                         eng_arch_name(arch), n, eng_error_name(eng_errno()));
            for (size_t i = 0; i < n; i++) {
                cr_assert_eq(u[i].status, ENG_OK);
                cr_assert(memcmp(u[i].out, want[i], u[i].len) == 0,
                          "%s %s batch of %zu: unit %zu (len %zu, %s) differs", eng_arch_name(arch),
                          d == 0 ? "encrypt" : "decrypt", n, i, u[i].len,
                          u[i].in == u[i].out ? "in place" : "out of place");
                if (dst[i] != src[i]) {
                    free(dst[i]);
                }
                free(src[i]);
                free(want[i]);
            }
        }
        free(u);
        free(src);
        free(dst);
        free(want);
        free(tw);
        pair_free(&p);
    }
}

/* One Criterion test per kind of check and per path: kind_path, e.g. unaligned_avx512. */
#define PATH_TEST(kind, name, arch) \
    Test(native_xts, kind##_##name) \
    {                               \
        test_##kind(arch);          \
    }
#define PATH_TESTS(name, arch)          \
    PATH_TEST(ieee1619, name, arch)     \
    PATH_TEST(every_length, name, arch) \
    PATH_TEST(unaligned, name, arch)    \
    PATH_TEST(large_units, name, arch)  \
    PATH_TEST(mixed_batch, name, arch)

PATH_TESTS(sse, ENG_ARCH_SSE)
PATH_TESTS(avx, ENG_ARCH_AVX)
PATH_TESTS(avx2, ENG_ARCH_AVX2)
PATH_TESTS(vaes_avx2, ENG_ARCH_VAES_AVX2)
PATH_TESTS(avx512, ENG_ARCH_AVX512)

/* The paths agree with each other on one batch (a second cross-check, no OpenSSL). */
Test(native_xts, paths_agree)
{
    rng_seed();
    uint8_t key[ENG_XTS_KEY_BYTES];
    rng_key(key);
    enum { N = 40 };
    struct eng_unit u[N];
    uint8_t *in[N];
    uint8_t *first[N];
    uint8_t tw[N][16];
    for (size_t i = 0; i < N; i++) {
        size_t len = 16 + rng_below(3000);
        in[i] = xmalloc(len);
        first[i] = xmalloc(len);
        rng_fill(in[i], len);
        rng_fill(tw[i], 16);
        u[i] = (struct eng_unit){.in = in[i], .len = len, .iv = tw[i], .iv_len = 16};
    }
    int ran = 0;
    for (size_t a = 0; a < sizeof(all_paths) / sizeof(all_paths[0]); a++) {
        if (eng_cpu_best_arch() < all_paths[a] ||
            (all_paths[a] >= ENG_ARCH_VAES_AVX2 && vmt_under_valgrind())) {
            fprintf(stderr, "native_xts: paths_agree: %s not on this CPU (or under valgrind)\n",
                    eng_arch_name(all_paths[a]));
            continue;
        }
        struct eng_cipher *c = xts_new(ENG_BACKEND_NATIVE, all_paths[a], key);
        uint8_t *out[N];
        for (size_t i = 0; i < N; i++) {
            out[i] = xmalloc(u[i].len);
            u[i].out = out[i];
        }
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, N), 0);
        for (size_t i = 0; i < N; i++) {
            if (ran == 0) {
                memcpy(first[i], out[i], u[i].len);
            } else {
                cr_assert(memcmp(first[i], out[i], u[i].len) == 0, "%s differs from %s, unit %zu",
                          eng_arch_name(all_paths[a]), eng_arch_name(all_paths[0]), i);
            }
            free(out[i]);
        }
        ran++;
        eng_cipher_free(c);
    }
    cr_assert_geq(ran, 1, "no native path on this CPU");
    for (size_t i = 0; i < N; i++) {
        free(in[i]);
        free(first[i]);
    }
    eng_cleanse(key, sizeof(key));
}

/* ---- back-end contract -------------------------------------------------- */

Test(native_xts, supports_xts_with_aesni_and_gcm_with_vaes)
{
    cr_assert_eq(eng_backend_supports(ENG_BACKEND_NATIVE, ENG_MODE_XTS, ENG_ARCH_NOAESNI), 0);
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        for (size_t a = 0; a < sizeof(all_paths) / sizeof(all_paths[0]); a++) {
            enum eng_arch p = all_paths[a];
            int gcm = m == ENG_MODE_GCM && (p == ENG_ARCH_VAES_AVX2 || p == ENG_ARCH_AVX512);
            int want = (m == ENG_MODE_XTS || gcm) && eng_cpu_best_arch() >= p;
            cr_assert_eq(eng_backend_supports(ENG_BACKEND_NATIVE, (enum eng_mode)m, all_paths[a]),
                         want, "mode %s path %s", eng_mode_name((enum eng_mode)m),
                         eng_arch_name(all_paths[a]));
        }
    }
}

Test(native_xts, auto_prefers_native_and_falls_back_without_aesni)
{
    unsetenv("ENG_BACKEND");
    unsetenv("ENG_ARCH");
    require_arch(ENG_ARCH_SSE);
    uint8_t key[ENG_XTS_KEY_BYTES];
    rng_seed();
    rng_key(key);
    struct eng_cipher *c =
        eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key, sizeof(key));
    cr_assert_not_null(c);
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_NATIVE);
    cr_assert_eq(eng_cipher_arch(c), eng_cpu_best_arch());
    eng_cipher_free(c);
    c = eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_AUTO, ENG_ARCH_NOAESNI, key, sizeof(key));
    cr_assert_not_null(c);
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_OPENSSL);
    eng_cipher_free(c);
    /* The ENG_ARCH cap picks the AES-NI kernel under AUTO. */
    setenv("ENG_ARCH", "sse", 1);
    c = eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AUTO, key, sizeof(key));
    cr_assert_not_null(c);
    cr_assert_eq(eng_cipher_arch(c), ENG_ARCH_SSE);
    eng_cipher_free(c);
    eng_cleanse(key, sizeof(key));
}

/* CPUID features to path: a VAES + AVX2 CPU without AVX-512 (Zen 3) gets the ymm VAES path. */
Test(native_xts, arch_of_features)
{
    struct eng_cpu_features f = {.aesni = 1, .pclmul = 1, .sse41 = 1, .avx = 1, .avx2 = 1};
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_AVX2, "AVX2 without VAES");
    f.vaes = 1;
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_AVX2, "VAES without VPCLMULQDQ");
    f.vpclmulqdq = 1;
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_VAES_AVX2, "Zen 3: AVX2 + VAES + VPCLMULQDQ");
    f.avx512f = 1;
    f.avx512bw = 1;
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_VAES_AVX2, "AVX-512 without VL");
    f.avx512vl = 1;
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_AVX512, "Zen 4: AVX-512 + VAES + VPCLMULQDQ");
    f.vaes = 0;
    f.vpclmulqdq = 0;
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_AVX2, "AVX-512 without VAES (Skylake-X)");
    f.avx2 = 0;
    cr_assert_eq(eng_cpu_arch_of(&f), ENG_ARCH_AVX);
    cr_assert_eq(eng_cpu_arch_of(NULL), ENG_ARCH_NOAESNI);
    cr_assert_str_eq(eng_arch_name(ENG_ARCH_VAES_AVX2), "vaes-avx2");
    enum eng_arch a;
    cr_assert_eq(eng_arch_from_name("VAES-AVX2", &a), 0);
    cr_assert_eq(a, ENG_ARCH_VAES_AVX2);
}

/* ENG_ARCH=vaes-avx2 runs the ymm kernel even on an AVX-512 CPU (so that it is testable there). */
Test(native_xts, eng_arch_selects_vaes_avx2)
{
    require_arch(ENG_ARCH_VAES_AVX2);
    unsetenv("ENG_BACKEND");
    setenv("ENG_ARCH", "vaes-avx2", 1);
    uint8_t key[ENG_XTS_KEY_BYTES];
    cr_assert_eq(tl_hex(key, sizeof(key), ieee1619_key_hex), sizeof(key));
    struct eng_cipher *v = eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key, 64);
    cr_assert_not_null(v, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_cipher_backend(v), ENG_BACKEND_NATIVE);
    cr_assert_eq(eng_cipher_arch(v), ENG_ARCH_VAES_AVX2, "got %s",
                 eng_arch_name(eng_cipher_arch(v)));
    /* and it computes XTS: IEEE 1619 vector 10 through this cipher */
    uint8_t pt[IEEE1619_UNIT_BYTES];
    uint8_t ct[IEEE1619_UNIT_BYTES];
    uint8_t tweak[16];
    ieee1619_plaintext(pt);
    cr_assert_eq(tl_hex(ct, sizeof(ct), ieee1619_vectors[0].ct_hex), sizeof(ct));
    eng_xts_tweak_from_u64(tweak, ieee1619_vectors[0].seq);
    expect_both_places(v, ENG_ENCRYPT, pt, ct, sizeof(pt), tweak, "vaes-avx2 via ENG_ARCH");
    unsetenv("ENG_ARCH");
    eng_cipher_free(v);
    eng_cleanse(key, sizeof(key));
}

Test(native_xts, refuses_noaesni_other_modes_and_bad_keys)
{
    unsetenv("ENG_ARCH");
    uint8_t key[ENG_XTS_KEY_BYTES];
    rng_seed();
    rng_key(key);
    cr_assert_null(eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_NOAESNI, key, 64));
    cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED);
    /* GCM has native code only on the VAES paths (test_native_gcm.c). */
    cr_assert_null(eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_NATIVE, ENG_ARCH_NOAESNI, key, 32));
    cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED, "%s", eng_error_name(eng_errno()));
    static const enum eng_mode others[] = {ENG_MODE_CTR, ENG_MODE_CBC};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        cr_assert_null(eng_cipher_new(others[i], ENG_BACKEND_NATIVE, ENG_ARCH_AUTO, key, 32));
        cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED, "mode %s: %s", eng_mode_name(others[i]),
                     eng_error_name(eng_errno()));
    }
    require_arch(ENG_ARCH_SSE);
    memcpy(key + 32, key, 32);
    cr_assert_null(eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_SSE, key, 64));
    cr_assert_eq(eng_errno(), ENG_ERR_XTS_KEY_HALVES_EQUAL);
    cr_assert_null(eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_SSE, key, 32));
    cr_assert_eq(eng_errno(), ENG_ERR_KEY_LEN);
    if (eng_cpu_best_arch() < ENG_ARCH_AVX512) {
        rng_key(key);
        cr_assert_null(eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_AVX512, key, 64));
        cr_assert_eq(eng_errno(), ENG_ERR_CPU);
    }
    if (eng_cpu_best_arch() < ENG_ARCH_VAES_AVX2) {
        rng_key(key);
        cr_assert_null(
            eng_cipher_new(ENG_MODE_XTS, ENG_BACKEND_NATIVE, ENG_ARCH_VAES_AVX2, key, 64));
        cr_assert_eq(eng_errno(), ENG_ERR_CPU);
    }
    eng_cleanse(key, sizeof(key));
}

Test(native_xts, bad_units_write_nothing)
{
    require_arch(ENG_ARCH_SSE);
    uint8_t key[ENG_XTS_KEY_BYTES];
    rng_seed();
    rng_key(key);
    struct eng_cipher *c = xts_new(ENG_BACKEND_NATIVE, ENG_ARCH_AUTO, key);
    uint8_t buf[64];
    uint8_t out[64];
    uint8_t tw[16] = {0};
    memset(out, 0x5a, sizeof(out));
    struct eng_unit u[2] = {
        {.in = buf, .out = out, .len = 32, .iv = tw, .iv_len = 16},
        {.in = buf, .out = out, .len = 15, .iv = tw, .iv_len = 16},
    };
    cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, 2), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_XTS_UNIT_SHORT);
    cr_assert_eq(u[1].status, ENG_ERR_XTS_UNIT_SHORT);
    for (size_t i = 0; i < sizeof(out); i++) {
        cr_assert_eq(out[i], 0x5a, "byte %zu written by a rejected batch", i);
    }
    u[1].len = ENG_XTS_MAX_UNIT_BYTES + 1;
    cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, 2), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_XTS_UNIT_LONG);
    u[1].len = 32;
    u[1].iv_len = 12;
    cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, 2), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NONCE_LEN);
    u[1].iv_len = 16;
    u[1].out = buf + 1; /* partial overlap */
    cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, 2), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    eng_cipher_free(c);
    eng_cleanse(key, sizeof(key));
}

/* The key schedule lives in secure memory, which is wiped before it is released. */
static size_t hook_calls;
static size_t hook_nonzero;
static size_t hook_bytes;

static void free_hook(const void *p, size_t len)
{
    const volatile uint8_t *b = p;
    hook_calls++;
    hook_bytes += len;
    for (size_t i = 0; i < len; i++) {
        hook_nonzero += b[i] != 0;
    }
}

Test(native_xts, schedule_wiped_on_free)
{
    require_arch(ENG_ARCH_SSE);
    uint8_t key[ENG_XTS_KEY_BYTES];
    rng_seed();
    rng_key(key);
    struct eng_secure_stats before;
    eng_secure_stats(&before);
    struct eng_cipher *c = xts_new(ENG_BACKEND_NATIVE, ENG_ARCH_AUTO, key);
    struct eng_secure_stats during;
    eng_secure_stats(&during);
    cr_assert_eq(during.allocs, before.allocs + 1, "the schedule is one secure allocation");
    eng_secure_set_free_hook(free_hook);
    eng_cipher_free(c);
    eng_secure_set_free_hook(NULL);
    cr_assert_eq(hook_calls, 1);
    /* 3 schedules of 15 round keys */
    cr_assert_geq(hook_bytes, 3 * 15 * 16);
    cr_assert_eq(hook_nonzero, 0, "%zu schedule bytes not wiped", hook_nonzero);
    eng_cleanse(key, sizeof(key));
}
