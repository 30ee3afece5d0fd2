/*
 * test_wipe.c - the proof that key memory is wiped before it is freed.
 *
 * Three hooks watch every release of memory while the engine works with
 * keys the test knows (a KEK, DEKs and cipher keys it chose):
 *   - the engine's secure allocator (eng_secure_set_free_hook): every block
 *     must be all zero when released; allocations and releases are counted
 *     (key objects, DEK/KEK buffers, the native, ipsec-mb and OpenSSL key
 *     schedules that live there);
 *   - OpenSSL's allocator (CRYPTO_set_mem_functions, set before OpenSSL's
 *     first allocation): no block OpenSSL frees or reallocates may hold a
 *     16-byte window of a known key, raw or byte-swapped per 32-bit word
 *     (the layout of OpenSSL's C key schedule), hex or base64 - this covers
 *     EVP cipher contexts, AES key wrap, and TLS record buffers;
 *   - cJSON's allocator (cJSON_InitHooks): the parsed vault answers;
 *   - free() and realloc() of the engine itself (-Wl,--wrap, this program
 *     only): the same check on the engine's own heap blocks (vault request
 *     and answer buffers, parsed key tables).
 * libcurl's blocks are counted through curl_global_init_mem and reported,
 * not asserted: curl keeps the received answer (with the unwrapped DEK in
 * base64url) in its own download buffer and frees it without wiping it; the
 * engine cannot reach that buffer.
 * Not covered at all: copies on stacks, and kernel socket buffers.
 * Under valgrind (CMK_UNDER_VALGRIND=1) the heap scans are off (they read
 * uninitialised slack bytes of blocks, which memcheck reports); the secure
 * allocator check stays on.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_cipher.h"
#include "eng_keys.h"
#include "eng_secure.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "store_helpers.h"
#include "tl_vault.h"
#include "vmt_client.h"
#include "vmt_scan.h"

/* --- the hooks ---------------------------------------------------------------- */

/* free()/realloc() in this program are the wrappers below; the library hooks call the real ones. */
void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

static struct vmt_scan *_Atomic needles; /* known keys; NULL: not scanning */
static pthread_mutex_t scan_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_size_t sec_frees, sec_nonzero;
static atomic_size_t ossl_frees, ossl_hits, eng_frees, eng_hits, curl_frees, curl_hits;
static atomic_size_t cjson_frees, cjson_hits;
static char first_hit[256];
static int ossl_hooked, curl_hooked;

/* Scans |len| bytes at |p| for a known key; 1 if found. */
static int holds_key(const void *p, size_t len, const char *who)
{
    struct vmt_scan *sc = atomic_load(&needles);
    if (sc == NULL || p == NULL || len < 16) {
        return 0;
    }
    struct vmt_scan_hit h;
    pthread_mutex_lock(&scan_mu);
    size_t n = vmt_scan_buf(sc, p, len, who, &h);
    if (n > 0 && first_hit[0] == '\0') {
        snprintf(first_hit, sizeof(first_hit), "%s: %s (%s) at %zu of %zu", who, h.label,
                 h.encoding, h.offset, len);
    }
    pthread_mutex_unlock(&scan_mu);
    return n > 0;
}

static void sec_hook(const void *p, size_t len)
{
    const uint8_t *b = p;
    size_t nz = 0;
    for (size_t i = 0; i < len; i++) {
        nz += b[i] != 0;
    }
    atomic_fetch_add(&sec_frees, 1);
    atomic_fetch_add(&sec_nonzero, nz);
}

static void *o_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return malloc(n);
}

static void *o_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p != NULL && holds_key(p, malloc_usable_size(p), "OpenSSL realloc")) {
        atomic_fetch_add(&ossl_hits, 1);
    }
    return __real_realloc(p, n);
}

static void o_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p != NULL) {
        atomic_fetch_add(&ossl_frees, 1);
        if (holds_key(p, malloc_usable_size(p), "OpenSSL free")) {
            atomic_fetch_add(&ossl_hits, 1);
        }
    }
    __real_free(p);
}

static void c_free(void *p)
{
    if (p != NULL) {
        atomic_fetch_add(&curl_frees, 1);
        /* counted, not asserted (see the top); no first_hit */
        struct vmt_scan *sc = atomic_load(&needles);
        if (sc != NULL) {
            pthread_mutex_lock(&scan_mu);
            size_t n = vmt_scan_buf(sc, p, malloc_usable_size(p), "curl", NULL);
            pthread_mutex_unlock(&scan_mu);
            atomic_fetch_add(&curl_hits, n > 0);
        }
    }
    __real_free(p);
}

static void *c_malloc(size_t n)
{
    return malloc(n);
}

static void *c_realloc(void *p, size_t n)
{
    return __real_realloc(p, n);
}

static char *c_strdup(const char *s)
{
    return strdup(s);
}

static void *c_calloc(size_t n, size_t m)
{
    return calloc(n, m);
}

static void j_free(void *p)
{
    if (p != NULL) {
        atomic_fetch_add(&cjson_frees, 1);
        if (holds_key(p, malloc_usable_size(p), "cJSON free")) {
            atomic_fetch_add(&cjson_hits, 1);
        }
    }
    __real_free(p);
}

/* Before main: OpenSSL accepts new allocators only before its first allocation. */
__attribute__((constructor)) static void install_hooks(void)
{
    ossl_hooked = CRYPTO_set_mem_functions(o_malloc, o_realloc, o_free);
    curl_hooked = curl_global_init_mem(CURL_GLOBAL_DEFAULT, c_malloc, c_free, c_realloc, c_strdup,
                                       c_calloc) == CURLE_OK;
    cJSON_Hooks jh = {.malloc_fn = malloc, .free_fn = j_free};
    cJSON_InitHooks(&jh);
}

void __wrap_free(void *p)
{
    if (p != NULL) {
        atomic_fetch_add(&eng_frees, 1);
        if (holds_key(p, malloc_usable_size(p), "engine free")) {
            atomic_fetch_add(&eng_hits, 1);
        }
    }
    __real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (p != NULL && holds_key(p, malloc_usable_size(p), "engine realloc")) {
        atomic_fetch_add(&eng_hits, 1);
    }
    return __real_realloc(p, n);
}

/* --- the known keys -------------------------------------------------------------- */

static uint8_t kek[32], dek[64], ckey[64];
static char dir[256];
static struct vmt_server vs;

static void add_key(struct vmt_scan *sc, const char *label, const uint8_t *k, size_t len)
{
    cr_assert_eq(vmt_scan_add_secret(sc, label, k, len), 0);
    uint8_t sw[64];
    for (size_t i = 0; i + 4 <= len; i += 4) {
        sw[i] = k[i + 3];
        sw[i + 1] = k[i + 2];
        sw[i + 2] = k[i + 1];
        sw[i + 3] = k[i];
    }
    char l[64];
    snprintf(l, sizeof(l), "%s (words swapped)", label);
    cr_assert_eq(vmt_scan_add_secret(sc, l, sw, len), 0);
}

static void new_keys(void)
{
    RAND_bytes(kek, sizeof(kek));
    RAND_bytes(dek, sizeof(dek));
    RAND_bytes(ckey, sizeof(ckey));
    ckey[40] ^= 1; /* XTS halves differ even if RAND were broken */
}

/* From here on every release is checked (the test's own helpers run before). */
static void start_watching(void)
{
    cr_assert(ossl_hooked, "CRYPTO_set_mem_functions refused: OpenSSL allocated before main");
    cr_assert(curl_hooked, "curl_global_init_mem failed");
    struct vmt_scan *sc = vmt_scan_new();
    cr_assert_not_null(sc);
    add_key(sc, "KEK", kek, sizeof(kek));
    add_key(sc, "DEK", dek, sizeof(dek));
    add_key(sc, "cipher key", ckey, sizeof(ckey));
    /* Build the lookup table now: scanning inside a hook must not allocate. */
    cr_assert_eq(vmt_scan_buf(sc, "0123456789abcdef", 16, "warm-up", NULL), 0);
    eng_secure_set_free_hook(sec_hook);
    if (!vmt_under_valgrind()) {
        atomic_store(&needles, sc);
    } else {
        fprintf(stderr, "wipe: heap scans off under valgrind (uninitialised slack bytes)\n");
        vmt_scan_free(sc);
    }
}

static void stop_watching(void)
{
    eng_secure_set_free_hook(NULL);
    struct vmt_scan *sc = atomic_exchange(&needles, NULL);
    vmt_scan_free(sc);
}

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    memset(&vs, 0, sizeof(vs));
}

static void teardown(void)
{
    stop_watching();
    vmt_cleanup(&vs);
    tl_rmtree(dir);
}

TestSuite(wipe, .init = setup, .fini = teardown, .timeout = 600);

/* Every mode on every back end that has it, with the known cipher key. */
static void run_ciphers(void)
{
    uint8_t in[4096], out[4096], iv[16] = {1, 2, 3};
    memset(in, 0x3c, sizeof(in));
    int n = 0;
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
            if (!eng_backend_supports((enum eng_backend)b, (enum eng_mode)m, ENG_ARCH_AUTO)) {
                continue;
            }
            struct eng_cipher *c = eng_cipher_new((enum eng_mode)m, (enum eng_backend)b, 0, ckey,
                                                  m == ENG_MODE_XTS ? 64 : 32);
            cr_assert_not_null(c, "%s/%s: %s", eng_mode_name((enum eng_mode)m),
                               eng_backend_name((enum eng_backend)b), eng_error_name(eng_errno()));
            struct eng_unit u = {.in = in,
                                 .out = out,
                                 .len = sizeof(in),
                                 .iv = iv,
                                 .iv_len = m == ENG_MODE_GCM ? 12 : 16};
            uint8_t tag[16];
            if (m == ENG_MODE_GCM) {
                u.tag = tag;
                u.tag_len = 16;
            }
            cr_assert_eq(eng_cipher_batch(c, ENG_ENCRYPT, &u, 1), 0, "%s/%s: %s",
                         eng_mode_name((enum eng_mode)m), eng_backend_name((enum eng_backend)b),
                         eng_error_name(eng_errno()));
            eng_cipher_free(c);
            n++;
        }
    }
    cr_assert_geq(n, 7, "cipher objects: %d", n);
}

/* Wrap and unwrap the known DEK; the unwrapped copy must equal it. */
static void wrap_unwrap(struct eng_kek_provider *p)
{
    struct eng_kek_ref ref;
    cr_assert_eq(eng_kek_get(p, NULL, &ref), 0, "%s", eng_error_name(eng_errno()));
    uint8_t w[ENG_WRAPPED_MAX];
    size_t wlen = 0, olen = 0;
    cr_assert_eq(eng_kek_wrap(p, &ref, w, &wlen, sizeof(w), dek, sizeof(dek)), 0, "%s",
                 eng_error_name(eng_errno()));
    uint8_t *o = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    cr_assert_not_null(o);
    cr_assert_eq(eng_kek_unwrap(p, &ref, o, &olen, ENG_DEK_MAX_BYTES, w, wlen), 0, "%s",
                 eng_error_name(eng_errno()));
    cr_assert_eq(olen, sizeof(dek));
    cr_assert_eq(memcmp(o, dek, sizeof(dek)), 0);
    eng_secure_free(o);
}

/* A store's life under provider |p|: DEKs made, used, rotated, rewrapped. */
static void run_store(struct eng_kek_provider *p, const char *name)
{
    char sd[320];
    tl_path(sd, sizeof(sd), dir, name);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = ENG_MODE_XTS;
    cfg.unit_size = 4096;
    cfg.num_units = 32;
    cfg.extent_units = 8;
    struct eng_store *s = eng_store_create(sd, p, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t buf[4096];
    memset(buf, 0x5a, sizeof(buf));
    for (uint64_t u = 0; u < 32; u += 3) {
        cr_assert_eq(eng_store_write(s, u, 1, buf), 0);
    }
    cr_assert_eq(eng_store_rekey_extent(s, 1), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_rotate_kek(s), 0, "%s", eng_error_name(eng_errno()));
    eng_store_close(s);
    s = eng_store_open(sd, p, NULL);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_read(s, 3, 1, buf), 0);
    cr_assert_eq(buf[100], 0x5a);
    eng_store_close(s);
}

static void report_and_check(const char *what, size_t allocs0)
{
    struct eng_secure_stats st;
    eng_secure_stats(&st);
    size_t allocs = (size_t)st.total_allocs - allocs0;
    stop_watching();
    size_t frees = atomic_load(&sec_frees), nz = atomic_load(&sec_nonzero);
    fprintf(stderr, "wipe: %zu secure allocations, %zu freed, %zu non-zero (%s)\n", allocs, frees,
            nz, what);
    fprintf(stderr,
            "wipe: heap blocks holding a known key when released: OpenSSL %zu of %zu, "
            "engine %zu of %zu, cJSON %zu of %zu; libcurl %zu of %zu (not wiped by the "
            "engine)\n",
            atomic_load(&ossl_hits), atomic_load(&ossl_frees), atomic_load(&eng_hits),
            atomic_load(&eng_frees), atomic_load(&cjson_hits), atomic_load(&cjson_frees),
            atomic_load(&curl_hits), atomic_load(&curl_frees));
    cr_assert_gt(allocs, 10, "%s: too few secure allocations to mean anything", what);
    cr_assert_eq(frees, allocs, "%s: %zu secure allocations but %zu released", what, allocs, frees);
    cr_assert_eq(nz, 0, "%s: %zu key bytes survived release", what, nz);
    cr_assert_eq(atomic_load(&ossl_hits) + atomic_load(&eng_hits) + atomic_load(&cjson_hits), 0,
                 "%s: first: %s", what, first_hit);
    if (!vmt_under_valgrind()) {
        cr_assert_gt(atomic_load(&ossl_frees), 0, "OpenSSL hook saw nothing");
        cr_assert_gt(atomic_load(&eng_frees), 0, "free wrapper saw nothing");
    }
}

Test(wipe, ciphers_smk_and_store)
{
    struct eng_secure_stats st;
    eng_secure_stats(&st);
    size_t allocs0 = (size_t)st.total_allocs;
    char kf[320];
    tl_path(kf, sizeof(kf), dir, "smk.key");
    new_keys();
    cr_assert_eq(tl_write_key_file(kf, kek), 0);
    start_watching();
    run_ciphers();
    struct eng_kek_provider *p = eng_smk_open(kf, 0);
    cr_assert_not_null(p, "%s", eng_error_name(eng_errno()));
    wrap_unwrap(p);
    run_store(p, "store");
    eng_kek_provider_free(p);
    report_and_check("ciphers, SMK, store", allocs0);
}

Test(wipe, vault_provider)
{
    tl_vault_start(&vs);
    cr_assert_eq(vmt_create_key(&vs, "kek", 2048, NULL, NULL), 200);
    struct eng_secure_stats st;
    eng_secure_stats(&st);
    size_t allocs0 = (size_t)st.total_allocs;
    new_keys();
    start_watching();
    struct eng_vault_config cfg = {.vault_url = vs.url,
                                   .key_name = "kek",
                                   .token = vmt_token(&vs, "dbservice"),
                                   .ca_file = vs.ca};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p);
    for (int i = 0; i < 3; i++) {
        wrap_unwrap(p);
    }
    run_store(p, "vstore");
    eng_kek_provider_free(p);
    report_and_check("vault provider, store", allocs0);
}
