/*
 * test_native_gcm.c - the native AES-256-GCM back end (be_native.c, gcm_vaes_avx2.c).
 *
 * Every native GCM path (ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512) runs the CAVP
 * GCM files (gcmEncryptExtIV256.rsp, gcmDecrypt256.rsp: the shared vectors
 * folder, else python3-cryptography-vectors) and Wycheproof's
 * aes_gcm_test.json (shared folder), read with testlib/tl_vectors.h, and is
 * compared with OpenSSL's EVP AES-256-GCM (called directly, not through the
 * engine) on random keys, nonces, data and AAD: every length 0..300 and
 * every AAD length 0..300,
 * lengths up to 1 MiB, every tag length, misaligned buffers, in place and
 * out of place, and batches of mixed lengths in which a wrong tag or AAD
 * fails and zeroes only its own unit. A path the CPU lacks (or valgrind,
 * which cannot run VAES) is skipped with a logged reason. The generator is
 * seeded with a fixed value (NATIVE_GCM_SEED overrides it, and it is logged).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cipher.h"
#include "eng_cpu.h"
#include "eng_error.h"
#include "eng_secure.h"
#include "kat_testlib.h"
#include "testutil.h"
#include "tl_vectors.h"
#include "vmt_client.h"

static const enum eng_arch gcm_paths[] = {ENG_ARCH_VAES_AVX2, ENG_ARCH_AVX512};
#define NUM_GCM_PATHS (sizeof(gcm_paths) / sizeof(gcm_paths[0]))

/* 1 if the native GCM path |a| can run here; else logs why not. */
static int path_runs(enum eng_arch a)
{
    if (vmt_under_valgrind()) {
        fprintf(stderr, "native_gcm: skipping %s under valgrind (it cannot run VAES)\n",
                eng_arch_name(a));
        return 0;
    }
    if (eng_cpu_best_arch() < a) {
        fprintf(stderr, "native_gcm: skipping %s: this CPU's best path is %s\n", eng_arch_name(a),
                eng_arch_name(eng_cpu_best_arch()));
        return 0;
    }
    return 1;
}

/* Skips the test when no native GCM path runs here. */
static void require_some_path(void)
{
    int any = 0;
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        any |= path_runs(gcm_paths[i]);
    }
    if (!any) {
        cr_skip_test("no native GCM path on this CPU");
    }
}

static void seed(struct tu_rng *r)
{
    const char *env = getenv("NATIVE_GCM_SEED");
    uint64_t s = 0x67636d6e61746976ULL;
    if (env != NULL && *env != '\0') {
        char *end = NULL;
        s = strtoull(env, &end, 0);
        cr_assert(end != env && *end == '\0', "NATIVE_GCM_SEED is not a number: %s", env);
    }
    cr_log_info("seed 0x%llx", (unsigned long long)s);
    tu_rng_seed(r, s);
}

static struct eng_cipher *gcm_new(enum eng_arch a, const uint8_t key[32])
{
    struct eng_cipher *c = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_NATIVE, a, key, 32);
    cr_assert_not_null(c, "eng_cipher_new(gcm, native, %s): %s", eng_arch_name(a),
                       eng_error_name(eng_errno()));
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_NATIVE);
    cr_assert_eq(eng_cipher_arch(c), a);
    return c;
}

/* OpenSSL's AES-256-GCM of (iv, aad, pt): ct and the full 16-byte tag. */
static void ref_gcm(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    cr_assert_not_null(ctx);
    cr_assert_eq(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv), 1);
    if (aad_len > 0) {
        cr_assert_eq(EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len), 1);
    }
    if (len > 0) {
        cr_assert_eq(EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len), 1);
        cr_assert_eq((size_t)n, len);
    }
    cr_assert_eq(EVP_EncryptFinal_ex(ctx, ct + len, &n), 1);
    cr_assert_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(ctx);
}

/* Buffers of one differential case, with room for misalignment. */
struct gcase {
    uint8_t key[32], iv[12], tag[16], want_tag[16];
    uint8_t *pt, *ct, *out, *aad_buf;
    size_t cap;
};

static void gcase_alloc(struct gcase *g, size_t cap)
{
    g->cap = cap;
    g->pt = malloc(cap + 64);
    g->ct = malloc(cap + 64);
    g->out = malloc(cap + 64);
    g->aad_buf = malloc(cap + 64);
    cr_assert(g->pt && g->ct && g->out && g->aad_buf);
}

static void gcase_free(struct gcase *g)
{
    free(g->pt);
    free(g->ct);
    free(g->out);
    free(g->aad_buf);
}

/*
 * One case on |c| (key g->key): random nonce, data and AAD; |len| bytes at
 * offset |ioff| in, |ooff| out (out of place), or in place when |inplace|;
 * tag of |tag_len| bytes. Encrypt must equal OpenSSL, decrypt must give the
 * plaintext back.
 */
static void check_case(const struct eng_cipher *c, struct gcase *g, struct tu_rng *r, size_t len,
                       size_t aad_len, uint32_t tag_len, size_t ioff, size_t ooff, int inplace)
{
    cr_assert(len <= g->cap && aad_len <= g->cap && ioff < 64 && ooff < 64);
    uint8_t *pt = g->pt + ioff;
    uint8_t *aad = g->aad_buf + (ooff ^ 5) % 32;
    uint8_t *out = inplace ? g->out + ioff : g->out + ooff;
    tu_rng_fill(r, g->iv, sizeof(g->iv));
    tu_rng_fill(r, pt, len);
    tu_rng_fill(r, aad, aad_len);
    ref_gcm(g->key, g->iv, aad, aad_len, pt, len, g->ct, g->want_tag);
    const char *where = inplace ? "in place" : "out of place";
    if (inplace) {
        memcpy(out, pt, len);
    }
    memset(g->tag, 0xa5, sizeof(g->tag));
    struct eng_unit u = {.in = inplace ? out : pt,
                         .out = out,
                         .len = len,
                         .iv = g->iv,
                         .iv_len = 12,
                         .aad = aad,
                         .aad_len = aad_len,
                         .tag = g->tag,
                         .tag_len = tag_len};
    const char *path = eng_arch_name(eng_cipher_arch(c));
    cr_assert_eq(eng_cipher_encrypt(c, &u), 0, "%s enc len %zu aad %zu %s: %s", path, len, aad_len,
                 where, eng_error_name(eng_errno()));
    cr_assert_eq(u.status, ENG_OK);
    cr_assert(memcmp(out, g->ct, len) == 0, "%s enc len %zu aad %zu %s: ciphertext differs", path,
              len, aad_len, where);
    uint32_t t = tag_len == 0 ? 16 : tag_len;
    cr_assert(memcmp(g->tag, g->want_tag, t) == 0, "%s enc len %zu aad %zu tag %u %s: tag differs",
              path, len, aad_len, t, where);
    for (size_t i = t; i < 16; i++) {
        cr_assert_eq(g->tag[i], 0xa5, "%s: tag byte %zu written past tag_len %u", path, i, t);
    }
    if (!inplace) {
        memset(out, 0, len);
        u.in = g->ct;
    }
    u.status = -1;
    cr_assert_eq(eng_cipher_decrypt(c, &u), 0, "%s dec len %zu aad %zu %s: %s", path, len, aad_len,
                 where, eng_error_name(eng_errno()));
    cr_assert_eq(u.status, ENG_OK);
    cr_assert(memcmp(out, pt, len) == 0, "%s dec len %zu aad %zu %s: plaintext differs", path, len,
              aad_len, where);
}

/* ---- known answers ------------------------------------------------------- */

/*
 * The files are read with the shared testlib's small readers (tl_vectors.h)
 * and every vector runs here through the engine's public API: the engine's
 * tests do not link compliance's readers or its KAT runner (those have their
 * own suites in compliance/tests/test_kat_*.c).
 */

struct kat_count {
    unsigned long passed;  /* includes the refusals */
    unsigned long refused; /* tags refused with ENG_ERR_AUTH, output zeroed */
    unsigned long skipped; /* nonce or key the engine does not take, refused with its usage error */
};

/* A cipher for |key| on native GCM at |a|, reused while the key stays the same. */
static const struct eng_cipher *kat_cipher(enum eng_arch a, const uint8_t *key,
                                           struct eng_cipher **cache, uint8_t cached_key[32])
{
    if (*cache == NULL || memcmp(cached_key, key, 32) != 0) {
        eng_cipher_free(*cache);
        *cache = gcm_new(a, key);
        memcpy(cached_key, key, 32);
    }
    return *cache;
}

/*
 * Runs one AEAD known answer on native GCM at |a|, both ways: encrypt(PT)
 * gives CT and the tag, decrypt(CT, tag) gives PT; a vector marked to fail
 * is refused with ENG_ERR_AUTH and its output zeroed. A key that is not
 * 256 bits, or a nonce that is not 96 bits, must be refused with the exact
 * usage error (counted as skipped). Fails the test on any other outcome.
 */
static void run_aead(enum eng_arch a, const struct tl_aead_vector *v, const char *file,
                     struct eng_cipher **cache, uint8_t cached_key[32], struct kat_count *k)
{
    const char *path = eng_arch_name(a);
    if (v->key_len != 32) {
        cr_assert_null(eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_NATIVE, a, v->key, v->key_len),
                       "%s #%lu native/%s: a %zu-byte key was accepted", file, v->id, path,
                       v->key_len);
        cr_assert_eq(eng_errno(), ENG_ERR_KEY_LEN, "%s #%lu native/%s: %s", file, v->id, path,
                     eng_error_name(eng_errno()));
        k->skipped++;
        return;
    }
    const struct eng_cipher *c = kat_cipher(a, v->key, cache, cached_key);
    size_t len = v->ct_len;
    uint8_t *out = calloc(1, len + 1);
    cr_assert_not_null(out);
    uint8_t tag[16] = {0};
    uint8_t none[1] = {0};
    cr_assert_leq(v->tag_len, sizeof(tag), "%s #%lu: tag of %zu bytes", file, v->id, v->tag_len);
    struct eng_unit u = {.out = out,
                         .len = len,
                         .iv = v->iv != NULL ? v->iv : none,
                         .iv_len = v->iv_len,
                         .aad = v->aad,
                         .aad_len = v->aad_len,
                         .tag = tag,
                         .tag_len = (uint32_t)v->tag_len};
    if (v->iv_len != 12) {
        /* The engine takes 96-bit nonces only: both directions refuse with the usage error. */
        u.in = v->ct != NULL ? v->ct : none;
        cr_assert_eq(eng_cipher_encrypt(c, &u), -1, "%s #%lu native/%s: %zu-byte IV accepted", file,
                     v->id, path, v->iv_len);
        cr_assert_eq(eng_errno(), ENG_ERR_NONCE_LEN, "%s #%lu native/%s: %s", file, v->id, path,
                     eng_error_name(eng_errno()));
        cr_assert_eq(eng_cipher_decrypt(c, &u), -1, "%s #%lu native/%s: %zu-byte IV accepted", file,
                     v->id, path, v->iv_len);
        cr_assert_eq(eng_errno(), ENG_ERR_NONCE_LEN, "%s #%lu native/%s: %s", file, v->id, path,
                     eng_error_name(eng_errno()));
        free(out);
        k->skipped++;
        return;
    }
    if (v->has_pt && !v->fail) {
        cr_assert_eq(v->pt_len, len, "%s #%lu: PT and CT lengths differ", file, v->id);
        u.in = v->pt != NULL ? v->pt : none;
        cr_assert_eq(eng_cipher_encrypt(c, &u), 0, "%s #%lu native/%s enc: %s", file, v->id, path,
                     eng_error_name(eng_errno()));
        cr_assert(len == 0 || memcmp(out, v->ct, len) == 0, "%s #%lu native/%s: CT differs", file,
                  v->id, path);
        cr_assert(memcmp(tag, v->tag, v->tag_len) == 0, "%s #%lu native/%s: tag differs", file,
                  v->id, path);
    }
    memset(out, 0xa5, len);
    memcpy(tag, v->tag, v->tag_len);
    u.in = v->ct != NULL ? v->ct : none;
    u.status = -1;
    int rc = eng_cipher_decrypt(c, &u);
    if (v->fail) {
        cr_assert_eq(rc, -1, "%s #%lu native/%s: a vector marked to fail decrypted", file, v->id,
                     path);
        cr_assert_eq(u.status, ENG_ERR_AUTH, "%s #%lu native/%s: %s", file, v->id, path,
                     eng_error_name(u.status));
        for (size_t i = 0; i < len; i++) {
            cr_assert_eq(out[i], 0, "%s #%lu native/%s: refused output not zeroed", file, v->id,
                         path);
        }
        k->refused++;
    } else {
        cr_assert_eq(rc, 0, "%s #%lu native/%s dec: %s", file, v->id, path,
                     eng_error_name(eng_errno()));
        cr_assert_eq(u.status, ENG_OK);
        cr_assert(!v->has_pt || len == 0 || memcmp(out, v->pt, len) == 0,
                  "%s #%lu native/%s: PT differs", file, v->id, path);
    }
    free(out);
    k->passed++;
}

/* Every vector of |set| on every native GCM path that runs here. */
static void run_set(const char *file, const struct tl_aead_set *set, struct kat_count *per_path,
                    size_t max_paths)
{
    for (size_t i = 0; i < NUM_GCM_PATHS && i < max_paths; i++) {
        memset(&per_path[i], 0, sizeof(per_path[i]));
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        struct eng_cipher *cache = NULL;
        uint8_t cached_key[32];
        for (size_t j = 0; j < set->n; j++) {
            run_aead(gcm_paths[i], &set->v[j], file, &cache, cached_key, &per_path[i]);
        }
        eng_cipher_free(cache);
        cr_log_info("%s native/%s: %lu passed (%lu refused), %lu skipped", file,
                    eng_arch_name(gcm_paths[i]), per_path[i].passed, per_path[i].refused,
                    per_path[i].skipped);
    }
}

static void run_rsp(const char *shared_rel, const char *pyca_rel, int decrypt_file)
{
    char dir[PATH_MAX], path[PATH_MAX + 128];
    if (!(tl_shared_vectors(dir, sizeof(dir)) &&
          snprintf(path, sizeof(path), "%s/%s", dir, shared_rel) > 0 && tl_is_file(path))) {
        if (!(tl_pyca_aes(dir, sizeof(dir)) &&
              snprintf(path, sizeof(path), "%s/%s", dir, pyca_rel) > 0 && tl_is_file(path))) {
            fprintf(stderr, "native_gcm: %s not found (shared folder or pyca): skipped\n",
                    shared_rel);
            cr_skip_test("%s not found", shared_rel);
        }
    }
    struct tl_aead_set set;
    char why[PATH_MAX + 200];
    cr_assert_eq(tl_gcm_rsp_read(path, &set, why, sizeof(why)), 0, "%s", why);
    cr_assert_gt(set.n, 0, "%s: no records", path);
    struct kat_count k[NUM_GCM_PATHS];
    run_set(path, &set, k, NUM_GCM_PATHS);
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        /* 2625 vectors with 96-bit nonces in either file (the others are skipped). */
        cr_expect_eq(k[i].passed, 2625, "%s native/%s: %lu passed", path,
                     eng_arch_name(gcm_paths[i]), k[i].passed);
        cr_expect_eq(k[i].passed + k[i].skipped, set.n);
        if (decrypt_file) {
            cr_expect_gt(k[i].refused, 0, "%s native/%s: no FAIL record was refused", path,
                         eng_arch_name(gcm_paths[i]));
        }
    }
    tl_aead_set_free(&set);
}

Test(native_gcm, cavp_encrypt)
{
    require_some_path();
    run_rsp("cavp-aes/GCM/gcmEncryptExtIV256.rsp", "GCM/gcmEncryptExtIV256.rsp", 0);
}

Test(native_gcm, cavp_decrypt)
{
    require_some_path();
    run_rsp("cavp-aes/GCM/gcmDecrypt256.rsp", "GCM/gcmDecrypt256.rsp", 1);
}

Test(native_gcm, wycheproof)
{
    require_some_path();
    char dir[PATH_MAX], path[PATH_MAX + 64];
    int have = tl_shared_vectors(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/wycheproof/aes_gcm_test.json", dir);
    if (!have || !tl_is_file(path)) {
        fprintf(stderr, "native_gcm: %s not found: skipped\n", path);
        cr_skip_test("%s not found", path);
    }
    struct tl_aead_set set;
    char why[PATH_MAX + 200];
    cr_assert_eq(tl_wycheproof_aead_read(path, &set, why, sizeof(why)), 0, "%s", why);
    struct kat_count k[NUM_GCM_PATHS];
    run_set(path, &set, k, NUM_GCM_PATHS);
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        cr_expect_gt(k[i].passed, 0);
        cr_expect_gt(k[i].refused, 0, "no invalid tag was refused");
        cr_expect_eq(k[i].passed + k[i].skipped, set.n);
    }
    tl_aead_set_free(&set);
}

/* ---- differential against OpenSSL EVP -------------------------------------- */

Test(native_gcm, every_small_length_and_aad_length)
{
    require_some_path();
    struct tu_rng r;
    seed(&r);
    struct gcase g;
    gcase_alloc(&g, 512);
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        tu_rng_fill(&r, g.key, sizeof(g.key));
        struct eng_cipher *c = gcm_new(gcm_paths[i], g.key);
        for (size_t len = 0; len <= 300; len++) {
            size_t aad = tu_rng_range(&r, 0, 300);
            check_case(c, &g, &r, len, aad, 16, 0, 0, 0);
            check_case(c, &g, &r, len, aad, 16, 0, 0, 1);
        }
        for (size_t aad = 0; aad <= 300; aad++) {
            size_t len = tu_rng_range(&r, 0, 300);
            check_case(c, &g, &r, len, aad, 16, 0, 0, 0);
            check_case(c, &g, &r, len, aad, 16, 0, 0, 1);
        }
        eng_cipher_free(c);
    }
    gcase_free(&g);
}

Test(native_gcm, every_tag_length_and_misaligned)
{
    require_some_path();
    static const uint32_t tag_lens[] = {0, 4, 8, 12, 13, 14, 15, 16};
    struct tu_rng r;
    seed(&r);
    struct gcase g;
    gcase_alloc(&g, 4096);
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        tu_rng_fill(&r, g.key, sizeof(g.key));
        struct eng_cipher *c = gcm_new(gcm_paths[i], g.key);
        for (size_t t = 0; t < sizeof(tag_lens) / sizeof(tag_lens[0]); t++) {
            check_case(c, &g, &r, tu_rng_range(&r, 0, 4096), tu_rng_range(&r, 0, 300), tag_lens[t],
                       0, 0, 0);
        }
        for (size_t ioff = 0; ioff < 33; ioff++) {
            size_t ooff = (ioff * 7 + 3) % 33;
            size_t len = tu_rng_range(&r, 1, 4096);
            check_case(c, &g, &r, len, tu_rng_range(&r, 0, 300), 16, ioff, ooff, 0);
            check_case(c, &g, &r, len, tu_rng_range(&r, 0, 300), 16, ioff, ooff, 1);
        }
        eng_cipher_free(c);
    }
    gcase_free(&g);
}

Test(native_gcm, large_units_up_to_1mib)
{
    require_some_path();
    static const size_t lens[] = {
        1023, 1024, 4096, 8191, 8192, 8193, 65536 + 17, 262144 - 1, (1U << 20) - 15, 1U << 20};
    struct tu_rng r;
    seed(&r);
    struct gcase g;
    gcase_alloc(&g, 1U << 20);
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        tu_rng_fill(&r, g.key, sizeof(g.key));
        struct eng_cipher *c = gcm_new(gcm_paths[i], g.key);
        for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
            size_t aad = k % 3 == 0 ? 0 : tu_rng_range(&r, 1, k % 3 == 1 ? 300 : 70000);
            check_case(c, &g, &r, lens[k], aad, 16, k % 16, (k * 5) % 16, k % 2);
        }
        eng_cipher_free(c);
    }
    gcase_free(&g);
}

#define BATCH         64
#define BATCH_MAX_LEN 20000

/*
 * A batch of 64 units of mixed lengths (0..20000, several multiples of 128)
 * matches OpenSSL unit by unit; decrypting it with a wrong tag in two units
 * and a wrong AAD in another fails those three with ENG_ERR_AUTH and zeroes
 * their output, and only theirs.
 */
Test(native_gcm, mixed_batch_and_per_unit_failure)
{
    require_some_path();
    struct tu_rng r;
    seed(&r);
    uint8_t key[32];
    uint8_t iv[BATCH][12], tag[BATCH][16], want_tag[BATCH][16], aad[BATCH][64];
    size_t lens[BATCH];
    uint8_t *pt = malloc((size_t)BATCH * BATCH_MAX_LEN);
    uint8_t *ct = malloc((size_t)BATCH * BATCH_MAX_LEN);
    uint8_t *out = malloc((size_t)BATCH * BATCH_MAX_LEN);
    cr_assert(pt && ct && out);
    struct eng_unit u[BATCH];
    for (size_t i = 0; i < NUM_GCM_PATHS; i++) {
        if (!path_runs(gcm_paths[i])) {
            continue;
        }
        tu_rng_fill(&r, key, sizeof(key));
        struct eng_cipher *c = gcm_new(gcm_paths[i], key);
        for (size_t j = 0; j < BATCH; j++) {
            lens[j] =
                j % 4 == 0 ? 128 * tu_rng_range(&r, 0, 150) : tu_rng_range(&r, 0, BATCH_MAX_LEN);
            if (j == 3 || j == 17 || j == 40) {
                lens[j] = tu_rng_range(&r, 1, BATCH_MAX_LEN); /* the units made to fail */
            }
            uint8_t *p = pt + j * BATCH_MAX_LEN;
            tu_rng_fill(&r, iv[j], 12);
            tu_rng_fill(&r, p, lens[j]);
            tu_rng_fill(&r, aad[j], sizeof(aad[j]));
            size_t alen = j % 64;
            ref_gcm(key, iv[j], aad[j], alen, p, lens[j], ct + j * BATCH_MAX_LEN, want_tag[j]);
            u[j] = (struct eng_unit){.in = p,
                                     .out = out + j * BATCH_MAX_LEN,
                                     .len = lens[j],
                                     .iv = iv[j],
                                     .iv_len = 12,
                                     .aad = aad[j],
                                     .aad_len = alen,
                                     .tag = tag[j],
                                     .tag_len = 16};
        }
        cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, u, BATCH), 0, "%s",
                     eng_error_name(eng_errno()));
        for (size_t j = 0; j < BATCH; j++) {
            cr_assert_eq(u[j].status, ENG_OK);
            cr_assert(memcmp(out + j * BATCH_MAX_LEN, ct + j * BATCH_MAX_LEN, lens[j]) == 0,
                      "unit %zu (len %zu): ciphertext differs", j, lens[j]);
            cr_assert(memcmp(tag[j], want_tag[j], 16) == 0, "unit %zu: tag differs", j);
        }
        /* Decrypt in place with unit 3's and 40's tags and unit 17's AAD altered. */
        for (size_t j = 0; j < BATCH; j++) {
            memcpy(out + j * BATCH_MAX_LEN, ct + j * BATCH_MAX_LEN, lens[j]);
            u[j].in = out + j * BATCH_MAX_LEN;
            u[j].status = -1;
        }
        tag[3][0] ^= 0x01;
        tag[40][15] ^= 0x80;
        aad[17][0] ^= 0x01;
        cr_assert_eq(eng_cipher_batch(c, ENG_DECRYPT, u, BATCH), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_AUTH, "%s", eng_error_name(eng_errno()));
        for (size_t j = 0; j < BATCH; j++) {
            const uint8_t *o = out + j * BATCH_MAX_LEN;
            if (j == 3 || j == 17 || j == 40) {
                cr_assert_eq(u[j].status, ENG_ERR_AUTH, "unit %zu: %s", j,
                             eng_error_name(u[j].status));
                for (size_t b = 0; b < lens[j]; b++) {
                    cr_assert_eq(o[b], 0, "failed unit %zu: byte %zu not zeroed", j, b);
                }
            } else {
                cr_assert_eq(u[j].status, ENG_OK, "unit %zu: %s", j, eng_error_name(u[j].status));
                cr_assert(memcmp(o, pt + j * BATCH_MAX_LEN, lens[j]) == 0,
                          "unit %zu (len %zu): plaintext differs", j, lens[j]);
            }
        }
        eng_cipher_free(c);
    }
    free(pt);
    free(ct);
    free(out);
}

/* ---- selection ------------------------------------------------------------ */

Test(native_gcm, supported_paths_and_env_selection)
{
    for (int a = ENG_ARCH_NOAESNI; a < ENG_ARCH_COUNT; a++) {
        int want =
            (a == ENG_ARCH_VAES_AVX2 || a == ENG_ARCH_AVX512) && (int)eng_cpu_best_arch() >= a;
        cr_assert_eq(eng_backend_supports(ENG_BACKEND_NATIVE, ENG_MODE_GCM, (enum eng_arch)a), want,
                     "path %s", eng_arch_name((enum eng_arch)a));
    }
    uint8_t key[32] = {1};
    cr_assert_null(eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_NATIVE, ENG_ARCH_AVX2, key, 32));
    cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED, "%s", eng_error_name(eng_errno()));
    require_some_path();
    unsetenv("ENG_ARCH");
    cr_assert_eq(setenv("ENG_BACKEND", "xts:openssl,gcm:native", 1), 0);
    struct eng_cipher *c = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key, 32);
    cr_assert_not_null(c, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_NATIVE);
    eng_cipher_free(c);
    cr_assert_eq(setenv("ENG_ARCH", "vaes-avx2", 1), 0);
    c = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key, 32);
    cr_assert_not_null(c, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_cipher_backend(c), ENG_BACKEND_NATIVE);
    cr_assert_eq(eng_cipher_arch(c), ENG_ARCH_VAES_AVX2);
    eng_cipher_free(c);
    /* Narrower than any native GCM path: forcing native is refused with the exact error. */
    cr_assert_eq(setenv("ENG_ARCH", "avx2", 1), 0);
    cr_assert_null(eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, key, 32));
    cr_assert_eq(eng_errno(), ENG_ERR_UNSUPPORTED, "%s", eng_error_name(eng_errno()));
    unsetenv("ENG_ARCH");
    unsetenv("ENG_BACKEND");
}
