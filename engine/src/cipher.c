/*
 * cipher.c - eng_cipher: validation, back-end choice and dispatch.
 *
 * Everything a back end may assume is checked here, once per unit, before
 * any unit is processed, so that a batch with a bad unit writes nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cipher_internal.h"

static const char *const mode_names[ENG_MODE_COUNT] = {"xts", "gcm", "ctr", "cbc"};
static const char *const backend_names[ENG_BACKEND_COUNT] = {"auto", "native", "ipsec-mb",
                                                             "openssl"};

static const struct eng_backend_ops *ops_of(enum eng_backend b)
{
    switch (b) {
        case ENG_BACKEND_NATIVE:
            return &eng_backend_native_ops;
        case ENG_BACKEND_IPSECMB:
            return &eng_backend_ipsecmb_ops;
        case ENG_BACKEND_OPENSSL:
            return &eng_backend_openssl_ops;
        case ENG_BACKEND_AUTO:
        case ENG_BACKEND_COUNT:
        default:
            return NULL;
    }
}

const char *eng_mode_name(enum eng_mode m)
{
    return (m >= 0 && m < ENG_MODE_COUNT) ? mode_names[m] : "unknown";
}

const char *eng_backend_name(enum eng_backend b)
{
    return (b >= 0 && b < ENG_BACKEND_COUNT) ? backend_names[b] : "unknown";
}

static int lookup(const char *name, const char *const *names, int n)
{
    if (name == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int eng_mode_from_name(const char *name, enum eng_mode *out)
{
    ENG_ENSURE_REF(out);
    int i = lookup(name, mode_names, ENG_MODE_COUNT);
    ENG_ENSURE(i >= 0, ENG_ERR_MODE);
    *out = (enum eng_mode)i;
    return 0;
}

int eng_backend_from_name(const char *name, enum eng_backend *out)
{
    ENG_ENSURE_REF(out);
    int i = lookup(name, backend_names, ENG_BACKEND_COUNT);
    if (i < 0 && name != NULL && strcasecmp(name, "ipsecmb") == 0) {
        i = ENG_BACKEND_IPSECMB;
    }
    ENG_ENSURE(i >= 0, ENG_ERR_BACKEND);
    *out = (enum eng_backend)i;
    return 0;
}

/*
 * ENG_BACKEND is either one back end for every mode ("openssl") or a
 * comma-separated list of mode:backend pairs ("xts:openssl,gcm:ipsec-mb").
 * Sets *out to AUTO when the variable says nothing about |mode|.
 */
static int env_backend(enum eng_mode mode, enum eng_backend *out)
{
    *out = ENG_BACKEND_AUTO;
    const char *env = getenv("ENG_BACKEND");
    if (env == NULL || *env == '\0') {
        return 0;
    }
    char buf[128];
    ENG_ENSURE(strlen(env) < sizeof(buf), ENG_ERR_ENV);
    memcpy(buf, env, strlen(env) + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        enum eng_backend b;
        if (colon == NULL) {
            ENG_ENSURE(eng_backend_from_name(tok, &b) == 0, ENG_ERR_ENV);
            *out = b;
            continue;
        }
        *colon = '\0';
        enum eng_mode m;
        ENG_ENSURE(eng_mode_from_name(tok, &m) == 0, ENG_ERR_ENV);
        ENG_ENSURE(eng_backend_from_name(colon + 1, &b) == 0, ENG_ERR_ENV);
        if (m == mode) {
            *out = b;
        }
    }
    return 0;
}

int eng_backend_supports(enum eng_backend b, enum eng_mode mode, enum eng_arch arch)
{
    const struct eng_backend_ops *ops = ops_of(b);
    if (ops == NULL || mode < 0 || mode >= ENG_MODE_COUNT || arch < 0 || arch >= ENG_ARCH_COUNT) {
        return 0;
    }
    if (arch == ENG_ARCH_AUTO) {
        arch = eng_cpu_best_arch();
    } else if (arch > eng_cpu_best_arch()) {
        return 0;
    }
    return ops->supports(mode, arch);
}

size_t eng_paths(enum eng_mode mode, struct eng_path *out, size_t max_out)
{
    enum eng_arch best = eng_cpu_best_arch();
    size_t n = 0;
    for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
        for (int a = ENG_ARCH_NOAESNI; a <= (int)best; a++) {
            if (b == ENG_BACKEND_OPENSSL && a != (int)best) {
                continue;
            }
            /* ipsec-mb runs its avx2 code there: the same path as avx2. */
            if (b == ENG_BACKEND_IPSECMB && a == ENG_ARCH_VAES_AVX2) {
                continue;
            }
            if (eng_backend_supports((enum eng_backend)b, mode, (enum eng_arch)a)) {
                if (n < max_out && out != NULL) {
                    out[n] = (struct eng_path){(enum eng_backend)b, (enum eng_arch)a};
                }
                n++;
            }
        }
    }
    return n;
}

/*
 * The automatic choice: per mode and CPU path, the back ends in order of
 * measured merit; the first that supports (mode, path) is taken, so a back
 * end that gains a mode must be placed here by measurement, never by
 * default (a slower native GCM must not outrank ipsec-mb). ENG_BACKEND
 * overrides it. Decided with cmk-bench (1 thread, batches of 64, 512 B and
 * 8 KiB units, encrypt and decrypt, every path forced with ENG_ARCH) on an
 * AMD EPYC Zen 4 class CPU (AVX-512, VAES), 2026-12-07, a shared machine
 * (load 6-8 on 2 cores); GB/s at 8 KiB encrypt (512 B in brackets):
 *   XTS  native over OpenSSL at every path with AES-NI: sse 7.96 (6.44) vs
 *        6.53 (3.17); avx 7.96 (6.49) vs 6.51 (3.17); avx2 7.99 (6.49) vs
 *        6.45 (2.96); vaes-avx2 13.9 (11.0) vs 6.45 (2.97); avx512 14.0
 *        (11.9) vs 6.45 (2.96). noaesni: OpenSSL only.
 *   GCM  ipsec-mb over OpenSSL: sse 5.19 (4.16) vs 4.12 (1.62); avx 5.32
 *        (4.32) vs 4.12 (1.65); avx2 4.88 (4.08) vs 4.12 (1.65); avx512
 *        10.56 (7.70) vs 4.12 (1.65). Native GCM (gcm_vaes_avx2.c, ymm),
 *        measured in the same run as ipsec-mb (cmk-bench standard profile,
 *        cells interleaved, 2026-12-07, load 5-7 on 2 cores): at vaes-avx2,
 *        where ipsec-mb 1.3 runs its avx2 code, native first: 8.91 (5.65)
 *        vs ipsec-mb 4.85 (4.07) vs OpenSSL 4.04 (1.52) encrypt, decrypt
 *        9.00 (5.67) vs 4.78 (3.99). At avx512, since the native zmm loop
 *        (32 blocks per step, gcm_vaes_avx512.c), native first: cmk-bench
 *        quick, 3 runs, 2026-12-07, load 9-10 on 2 cores, native vs the
 *        engine's ipsec-mb at 8 KiB encrypt 11.43 / 9.42 / 9.71 vs 9.87 /
 *        9.22 / 9.30, decrypt 11.72 / 9.75 / 9.73 vs 9.79 / 9.42 / 9.47
 *        (raw ipsec-mb 10.01 / 9.37 / 9.56 encrypt); at 512 B a tie, each
 *        ahead in some runs: encrypt 6.00 / 4.86 / 4.97 vs 5.31 / 5.38 /
 *        5.56, decrypt 6.84 / 5.43 / 5.56 vs 7.52 / 5.35 / 5.45. (Before
 *        it, with a 16-block zmm step, ipsec-mb was first: 10.45 (7.64) vs
 *        native 8.88 (5.65) encrypt.)
 *   CTR  ipsec-mb over OpenSSL: at 8 KiB a tie up to avx2 (avx 7.61 vs
 *        7.72, avx2 7.62 vs 7.66, vaes-avx2 7.61 vs 7.63), at 512 B
 *        ipsec-mb 1.8x (6.80 vs 3.79); avx512 16.05 (11.32) vs 7.66 (3.79).
 *   CBC  ipsec-mb over OpenSSL (encryption is serial per unit: ipsec-mb's
 *        bursts run units in parallel): avx2 encrypt 6.81 vs 0.99, decrypt
 *        8.19 vs 7.35; avx512 encrypt 10.71 vs 1.02, decrypt 16.19 vs 7.40.
 * noaesni: not measured; native has no such path, and ipsec-mb is taken
 * only when its build has no-AES-NI code (Debian's has not: then OpenSSL).
 * OpenSSL is last everywhere. Each (mode, path) has its own entry; the
 * native GCM goes before ipsec-mb only where it beats it (vaes-avx2, avx512).
 */
#define AUTO_ORDER_LEN 3
#define NAT_OSSL                                \
    {                                           \
        ENG_BACKEND_NATIVE, ENG_BACKEND_OPENSSL \
    }
#define IMB_OSSL                                 \
    {                                            \
        ENG_BACKEND_IPSECMB, ENG_BACKEND_OPENSSL \
    }
#define NAT_IMB_OSSL                                                 \
    {                                                                \
        ENG_BACKEND_NATIVE, ENG_BACKEND_IPSECMB, ENG_BACKEND_OPENSSL \
    }
#define EVERY_PATH(order)                                                                \
    {                                                                                    \
        [ENG_ARCH_NOAESNI] = order, [ENG_ARCH_SSE] = order, [ENG_ARCH_AVX] = order,      \
        [ENG_ARCH_AVX2] = order, [ENG_ARCH_VAES_AVX2] = order, [ENG_ARCH_AVX512] = order \
    }
static const enum eng_backend auto_order[ENG_MODE_COUNT][ENG_ARCH_COUNT][AUTO_ORDER_LEN] = {
    [ENG_MODE_XTS] = EVERY_PATH(NAT_OSSL),
    [ENG_MODE_GCM] = {[ENG_ARCH_NOAESNI] = IMB_OSSL,
                      [ENG_ARCH_SSE] = IMB_OSSL,
                      [ENG_ARCH_AVX] = IMB_OSSL,
                      [ENG_ARCH_AVX2] = IMB_OSSL,
                      [ENG_ARCH_VAES_AVX2] = NAT_IMB_OSSL,
                      [ENG_ARCH_AVX512] = NAT_IMB_OSSL},
    [ENG_MODE_CTR] = EVERY_PATH(IMB_OSSL),
    [ENG_MODE_CBC] = EVERY_PATH(IMB_OSSL),
};

int eng_resolve(enum eng_mode mode, enum eng_backend backend, enum eng_arch arch,
                enum eng_backend *out_backend, enum eng_arch *out_arch)
{
    ENG_ENSURE_REF(out_backend);
    ENG_ENSURE_REF(out_arch);
    ENG_ENSURE(mode >= 0 && mode < ENG_MODE_COUNT, ENG_ERR_MODE);
    ENG_ENSURE(backend >= 0 && backend < ENG_BACKEND_COUNT, ENG_ERR_BACKEND);
    enum eng_arch a;
    ENG_GUARD(eng_arch_effective(arch, &a));
    if (backend == ENG_BACKEND_AUTO) {
        ENG_GUARD(env_backend(mode, &backend));
    }
    if (backend == ENG_BACKEND_AUTO) {
        const enum eng_backend *order = auto_order[mode][a];
        for (size_t i = 0; i < AUTO_ORDER_LEN && order[i] != ENG_BACKEND_AUTO; i++) {
            if (ops_of(order[i])->supports(mode, a)) {
                backend = order[i];
                break;
            }
        }
        ENG_ENSURE(backend != ENG_BACKEND_AUTO, ENG_ERR_UNSUPPORTED);
    } else {
        ENG_ENSURE(ops_of(backend)->supports(mode, a), ENG_ERR_UNSUPPORTED);
    }
    *out_backend = backend;
    *out_arch = a;
    return 0;
}

struct eng_cipher *eng_cipher_new(enum eng_mode mode, enum eng_backend backend, enum eng_arch arch,
                                  const uint8_t *key, size_t key_len)
{
    if (key == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    if (mode < 0 || mode >= ENG_MODE_COUNT) {
        ENG_BAIL_PTR(ENG_ERR_MODE);
    }
    size_t want = mode == ENG_MODE_XTS ? ENG_XTS_KEY_BYTES : ENG_AES256_KEY_BYTES;
    if (key_len != want) {
        ENG_BAIL_PTR(ENG_ERR_KEY_LEN);
    }
    /*
     *= SP 800-38E, section 5.1 / FIPS 140-3 IG C.I
     *# The two keys used by XTS-AES (Key_1 and Key_2) must be different.
     */
    if (mode == ENG_MODE_XTS && eng_ct_equal(key, key + 32, 32)) {
        ENG_BAIL_PTR(ENG_ERR_XTS_KEY_HALVES_EQUAL);
    }
    enum eng_backend b;
    enum eng_arch a;
    if (eng_resolve(mode, backend, arch, &b, &a) != 0) {
        return NULL;
    }
    struct eng_cipher *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    c->mode = mode;
    c->backend = b;
    c->arch = a;
    c->ops = ops_of(b);
    if (c->ops->key_init(c, key) != 0) {
        int err = eng_errno();
        eng_cipher_free(c);
        ENG_BAIL_PTR(err);
    }
    return c;
}

void eng_cipher_free(struct eng_cipher *c)
{
    if (c == NULL) {
        return;
    }
    if (c->ops != NULL && c->ops->key_cleanup != NULL) {
        c->ops->key_cleanup(c);
    }
    eng_secure_free(c->sched);
    eng_cleanse(c, sizeof(*c));
    free(c);
}

enum eng_mode eng_cipher_mode(const struct eng_cipher *c)
{
    return c->mode;
}

enum eng_backend eng_cipher_backend(const struct eng_cipher *c)
{
    return c->backend;
}

enum eng_arch eng_cipher_arch(const struct eng_cipher *c)
{
    return c->arch;
}

void eng_xts_tweak_from_u64(uint8_t tweak[ENG_XTS_TWEAK_BYTES], uint64_t n)
{
    for (int i = 0; i < 8; i++) {
        tweak[i] = (uint8_t)(n >> (8 * i));
    }
    memset(tweak + 8, 0, 8);
}

static int overlaps(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (a == b || len == 0) {
        return 0;
    }
    return (a < b) ? (size_t)(b - a) < len : (size_t)(a - b) < len;
}

/* Checks one unit; returns ENG_OK or the error code. Resolves tag_len 0 to 16. */
static int check_unit(enum eng_mode mode, struct eng_unit *u)
{
    if (u->iv == NULL) {
        return ENG_ERR_NULL;
    }
    size_t want_iv = mode == ENG_MODE_GCM ? ENG_GCM_NONCE_BYTES : ENG_BLOCK_BYTES;
    if (u->iv_len != want_iv) {
        return ENG_ERR_NONCE_LEN;
    }
    switch (mode) {
        case ENG_MODE_XTS:
            if (u->len < ENG_BLOCK_BYTES) {
                return ENG_ERR_XTS_UNIT_SHORT;
            }
            if (u->len > ENG_XTS_MAX_UNIT_BYTES) {
                return ENG_ERR_XTS_UNIT_LONG;
            }
            break;
        case ENG_MODE_CBC:
            if (u->len == 0) {
                return ENG_ERR_ZERO_LEN;
            }
            if (u->len % ENG_BLOCK_BYTES != 0) {
                return ENG_ERR_CBC_LEN;
            }
            break;
        case ENG_MODE_CTR:
            if (u->len == 0) {
                return ENG_ERR_ZERO_LEN;
            }
            break;
        case ENG_MODE_GCM: {
            if (u->tag == NULL || (u->aad == NULL && u->aad_len != 0)) {
                return ENG_ERR_NULL;
            }
            uint32_t t = u->tag_len == 0 ? ENG_GCM_TAG_BYTES : u->tag_len;
            if (!(t == 4 || t == 8 || (t >= 12 && t <= 16))) {
                return ENG_ERR_TAG_LEN;
            }
            u->tag_len = t;
            /* SP 800-38D 5.2.1.1: len(P) <= 2^39 - 256 bits. */
            if ((uint64_t)u->len > ((1ULL << 36) - 32)) {
                return ENG_ERR_TOO_LONG;
            }
            if (u->len == 0) {
                return ENG_OK;
            }
            break;
        }
        case ENG_MODE_COUNT:
        default:
            return ENG_ERR_MODE;
    }
    if (u->in == NULL || u->out == NULL) {
        return ENG_ERR_NULL;
    }
    if (overlaps(u->in, u->out, u->len)) {
        return ENG_ERR_ARG;
    }
    return ENG_OK;
}

/*
 * ENG_TEST_SLOWDOWN=MODE:PERCENT (test-only): after each batch of MODE the
 * engine also runs the same cipher over PERCENT% of the batch's bytes into
 * a scratch buffer: deterministic extra work, the same under any machine
 * load, so that the regression gate can be shown to catch a slowdown of one
 * engine path. Never set it in production; cmk-bench records it.
 */
static int slow_mode = -1;
static double slow_frac;
static pthread_once_t slow_once = PTHREAD_ONCE_INIT;

static void slow_init(void)
{
    const char *v = getenv("ENG_TEST_SLOWDOWN");
    char name[8];
    unsigned pct;
    enum eng_mode m;
    if (v != NULL && sscanf(v, "%7[a-z]:%u", name, &pct) == 2 && pct > 0 && pct <= 1000 &&
        eng_mode_from_name(name, &m) == 0) {
        slow_mode = (int)m;
        slow_frac = pct / 100.0;
    }
}

#define SLOW_CHUNK 65536U

static int batch_slowed(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                        size_t n)
{
    static _Thread_local uint8_t scratch[SLOW_CHUNK + ENG_BLOCK_BYTES];
    static const uint8_t iv[ENG_BLOCK_BYTES];
    uint8_t tag[ENG_GCM_TAG_BYTES];
    int rc = c->ops->batch(c, dir, units, n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += units[i].len;
    }
    size_t extra = (size_t)((double)total * slow_frac);
    while (extra > 0) {
        size_t len = extra < SLOW_CHUNK ? extra : SLOW_CHUNK;
        extra -= len;
        len =
            (len + ENG_BLOCK_BYTES - 1) & ~(size_t)(ENG_BLOCK_BYTES - 1); /* valid for every mode */
        struct eng_unit u = {
            .in = scratch,
            .out = scratch,
            .len = len,
            .iv = iv,
            .iv_len = c->mode == ENG_MODE_GCM ? ENG_GCM_NONCE_BYTES : ENG_BLOCK_BYTES,
            .tag = tag,
            .tag_len = ENG_GCM_TAG_BYTES};
        (void)c->ops->batch(c, ENG_ENCRYPT, &u, 1);
    }
    return rc;
}

int eng_cipher_batch(const struct eng_cipher *c, enum eng_dir dir, struct eng_unit *units,
                     size_t num_units)
{
    ENG_ENSURE_REF(c);
    ENG_ENSURE(num_units == 0 || units != NULL, ENG_ERR_NULL);
    ENG_ENSURE(dir == ENG_ENCRYPT || dir == ENG_DECRYPT, ENG_ERR_ARG);
    int first = ENG_OK;
    for (size_t i = 0; i < num_units; i++) {
        units[i].status = check_unit(c->mode, &units[i]);
        if (first == ENG_OK && units[i].status != ENG_OK) {
            first = units[i].status;
        }
    }
    if (first != ENG_OK) {
        ENG_BAIL(first);
    }
    if (num_units == 0) {
        return 0;
    }
    pthread_once(&slow_once, slow_init);
    if (slow_mode == (int)c->mode) {
        return batch_slowed(c, dir, units, num_units);
    }
    return c->ops->batch(c, dir, units, num_units);
}

int eng_cipher_encrypt(const struct eng_cipher *c, struct eng_unit *unit)
{
    return eng_cipher_batch(c, ENG_ENCRYPT, unit, 1);
}

int eng_cipher_decrypt(const struct eng_cipher *c, struct eng_unit *unit)
{
    return eng_cipher_batch(c, ENG_DECRYPT, unit, 1);
}
