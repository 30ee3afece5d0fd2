/*
 * extras.c - measurements that are not interleaved throughput cells: cold
 * opens, the vault's operations and rate, OpenSSL's RSA-OAEP private-key
 * rate, KEK rotation (see benchmarks/SCHEMA.md).
 *
 * The vault-mock runs on this machine and competes with the bench for the
 * same cores: in the vault figures the server's RSA work and the client's
 * HTTPS work share them.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rep_stats.h"
#include "eng_secure.h"
#include "eng_store.h"
#include "eng_vault.h"
#include "vmt_client.h"

void bench_extra_free(struct bench_extra *x)
{
    free(x->samples);
    x->samples = NULL;
}

static void add_sample(struct bench_extra *x, double v)
{
    if (x->nsamples < x->count) {
        x->samples[x->nsamples++] = v;
    }
}

/* Records why |x| failed (a copy; not freed: the process ends soon after). */
static int fail(struct bench_extra *x, const char *why)
{
    x->skip_reason = strdup(why);
    if (x->skip_reason == NULL) {
        x->skip_reason = "failed";
    }
    return -1;
}

static int fail_eng(struct bench_extra *x, const char *what)
{
    char m[256];
    snprintf(m, sizeof(m), "%s: %s", what, eng_strerror(eng_errno()));
    return fail(x, m);
}

/* A folder store of |deks| extents of |extent_units| 8 KiB units under |kek|; returns its folder.
 */
static int make_store(struct eng_kek_provider *kek, enum eng_mode mode, uint32_t deks,
                      uint32_t extent_units, char *dir, size_t dir_max)
{
    struct eng_store_config cfg;
    bench_store_config(&cfg, mode, (uint64_t)deks * extent_units, extent_units, 0);
    if (bench_new_store_dir(dir, dir_max) == NULL) {
        return -1;
    }
    struct eng_store *s = eng_store_create(dir, kek, &cfg);
    if (s == NULL) {
        return -1;
    }
    eng_store_close(s);
    return 0;
}

static int set_fault(int ms)
{
    char body[128];
    if (ms <= 0) {
        return bench_vault_call("admin", "DELETE", "/admin/faults", NULL) == 200 ? 0 : -1;
    }
    snprintf(body, sizeof(body), "{\"faults\":[{\"op\":\"*\",\"latency_ms\":%d}]}", ms);
    return bench_vault_call("admin", "POST", "/admin/faults", body) == 200 ? 0 : -1;
}

static int set_throttle(const char *spec)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"spec\":\"%s\"}", spec);
    return bench_vault_call("admin", "POST", "/admin/throttle", body) == 200 ? 0 : -1;
}

/* Vault counters summed over providers (sign -1 to subtract a starting point). */
struct vcount {
    double requests, gets, unwraps, retries, connects;
};

static void vcount_add(struct vcount *v, const struct eng_kek_provider *p, double sign)
{
    struct eng_kek_stats st;
    if (p != NULL && eng_kek_stats(p, &st) == 0) {
        v->requests += sign * (double)st.requests;
        v->gets += sign * (double)st.gets;
        v->unwraps += sign * (double)st.unwraps;
        v->retries += sign * (double)st.retries;
        v->connects += sign * (double)st.connects;
    }
}

/* Cold opens: eng_store_open + eng_store_read of unit 0 (get, unwraps, MAC, first read). */
static int run_cold_open(struct bench_extra *x)
{
    const char *err = NULL;
    struct eng_kek_provider *kek = bench_open_provider(x->keys, x->rsa_bits, &err);
    if (kek == NULL) {
        return fail(x, err);
    }
    char dir[512];
    if (make_store(kek, ENG_MODE_XTS, 1, 128, dir, sizeof(dir)) != 0) {
        eng_kek_provider_free(kek);
        return fail_eng(x, "create");
    }
    uint8_t *buf = malloc(8192);
    int rc = buf == NULL ? -1 : 0;
    if (rc == 0 && x->fault_ms > 0 && set_fault(x->fault_ms) != 0) {
        rc = fail(x, "vault-mock refused the fault rule");
    }
    if (rc == 0 && x->throttle &&
        set_throttle("rsa2048=20,rsa3072=20,rsa4096=20,window_ms=1000") != 0) {
        rc = fail(x, "vault-mock refused the throttle limits");
    }
    struct vcount vc = {0};
    vcount_add(&vc, kek, -1);
    for (size_t i = 0; rc == 0 && i < x->count; i++) {
        struct eng_kek_provider *p = kek;
        double t0 = bench_now();
        if (x->fresh_conn) {
            p = bench_vault_provider(x->rsa_bits);
        }
        struct eng_store *s = p != NULL ? eng_store_open(dir, p, NULL) : NULL;
        if (s == NULL || eng_store_read(s, 0, 1, buf) != 0) {
            rc = fail_eng(x, "open");
        } else {
            add_sample(x, (bench_now() - t0) * 1e3);
        }
        eng_store_close(s);
        if (x->fresh_conn) {
            vcount_add(&vc, p, 1);
            eng_kek_provider_free(p);
        }
    }
    vcount_add(&vc, kek, 1);
    if (rc == 0 && strcmp(x->keys, "cmk") == 0 && x->nsamples > 0) {
        double n = (double)x->nsamples;
        snprintf(x->note, sizeof(x->note),
                 "per open: %.2f vault requests (%.2f get, %.2f unwrapkey, %.2f retries), %.2f new "
                 "connections",
                 vc.requests / n, vc.gets / n, vc.unwraps / n, vc.retries / n, vc.connects / n);
    }
    if (x->fault_ms > 0) {
        set_fault(0);
    }
    if (x->throttle) {
        set_throttle("off");
    }
    free(buf);
    eng_kek_provider_free(kek);
    bench_remove_tree(dir);
    return rc;
}

/* What one vault client does: a provider, a wrapped DEK to unwrap, a secure buffer. */
struct vclient {
    struct bench_extra *x;
    struct eng_kek_provider *p;
    struct eng_kek_ref ref;
    uint8_t wrapped[ENG_WRAPPED_MAX];
    size_t wrapped_len;
    uint8_t *dek;
    double deadline;
    uint64_t ops;
    int rc;
    EVP_PKEY *pkey;     /* RSA rate: this thread's own copy of the key */
    EVP_PKEY_CTX *dctx; /* RSA rate: decryption set up once, used for every operation */
    uint8_t ct[512];
    size_t ct_len;
};

static int vclient_init(struct vclient *v, struct bench_extra *x)
{
    memset(v, 0, sizeof(*v));
    v->x = x;
    v->p = bench_vault_provider(x->rsa_bits);
    v->dek = eng_secure_alloc(64);
    if (v->p == NULL || v->dek == NULL || RAND_bytes(v->dek, 32) != 1 ||
        eng_kek_get(v->p, NULL, &v->ref) != 0 ||
        eng_kek_wrap(v->p, &v->ref, v->wrapped, &v->wrapped_len, sizeof(v->wrapped), v->dek, 32) !=
            0) {
        return -1;
    }
    return 0;
}

static void vclient_free(struct vclient *v)
{
    eng_kek_provider_free(v->p);
    if (v->dek != NULL) {
        eng_secure_free(v->dek);
    }
    v->p = NULL;
    v->dek = NULL;
}

static int vclient_op(struct vclient *v)
{
    struct eng_kek_ref r;
    uint8_t w[ENG_WRAPPED_MAX];
    size_t len;
    const char *op = v->x->op;
    if (strcmp(op, "get") == 0) {
        return eng_kek_get(v->p, v->ref.version, &r);
    }
    if (strcmp(op, "wrapkey") == 0) {
        return eng_kek_wrap(v->p, &v->ref, w, &len, sizeof(w), v->dek, 32);
    }
    return eng_kek_unwrap(v->p, &v->ref, v->dek, &len, 64, v->wrapped, v->wrapped_len);
}

static int run_vault_op(struct bench_extra *x)
{
    struct vclient v;
    int rc = vclient_init(&v, x);
    if (rc != 0) {
        rc = fail_eng(x, "vault client");
    }
    for (size_t i = 0; rc == 0 && i < x->count + 3; i++) {
        double t0 = bench_now();
        if (vclient_op(&v) != 0) {
            rc = fail_eng(x, x->op);
        } else if (i >= 3) { /* three untimed calls first */
            add_sample(x, (bench_now() - t0) * 1e3);
        }
    }
    vclient_free(&v);
    return rc;
}

/* RSA-OAEP with SHA-256 and MGF1-SHA-256 (the vault's RSA-OAEP-256) on an initialised context; 1 on success. */
static int set_oaep256(EVP_PKEY_CTX *ctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
}

/*
 * Each thread decrypts with its own copy of the key and a context set up once,
 * as `openssl speed` does: a key shared between threads, or a context made per
 * operation, measures OpenSSL 3's locks rather than RSA.
 */
static int rsa_thread_init(struct vclient *v, struct bench_extra *x, EVP_PKEY *pkey,
                           const uint8_t *ct, size_t ct_len)
{
    memset(v, 0, sizeof(*v));
    v->x = x;
    memcpy(v->ct, ct, ct_len);
    v->ct_len = ct_len;
    v->pkey = EVP_PKEY_dup(pkey);
    v->dctx = v->pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, v->pkey, NULL) : NULL;
    return v->dctx != NULL && EVP_PKEY_decrypt_init(v->dctx) == 1 && set_oaep256(v->dctx) ? 0 : -1;
}

static void rsa_thread_free(struct vclient *v)
{
    EVP_PKEY_CTX_free(v->dctx);
    EVP_PKEY_free(v->pkey);
    v->dctx = NULL;
    v->pkey = NULL;
}

static int rsa_decrypt_once(struct vclient *v)
{
    uint8_t out[512];
    size_t outl = sizeof(out);
    int ok = EVP_PKEY_decrypt(v->dctx, out, &outl, v->ct, v->ct_len) == 1 && outl == 32;
    OPENSSL_cleanse(out, sizeof(out));
    return ok ? 0 : -1;
}

static void *rate_worker(void *arg)
{
    struct vclient *v = arg;
    v->ops = 0;
    while (v->rc == 0 && bench_now() < v->deadline) {
        v->rc = v->x->type == BENCH_X_RSA_RATE ? rsa_decrypt_once(v) : vclient_op(v);
        v->ops += v->rc == 0;
    }
    return NULL;
}

/* An RSA-OAEP-256 ciphertext of 32 random bytes under |pkey|. */
static int rsa_encrypt(EVP_PKEY *pkey, uint8_t *ct, size_t *ct_len)
{
    uint8_t msg[32];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && RAND_bytes(msg, sizeof(msg)) == 1 && EVP_PKEY_encrypt_init(ctx) == 1 &&
             set_oaep256(ctx) && EVP_PKEY_encrypt(ctx, ct, ct_len, msg, sizeof(msg)) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Rates: |count| windows of window_s seconds, |threads| clients at once; sample = sum of ops/s. */
static int run_rate(struct bench_extra *x)
{
    struct vclient v[BENCH_MAX_THREADS];
    int n = x->threads;
    int rc = 0;
    EVP_PKEY *pkey = NULL;
    uint8_t ct[512];
    size_t ct_len = sizeof(ct);
    if (x->type == BENCH_X_RSA_RATE) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)x->rsa_bits);
        if (pkey == NULL || rsa_encrypt(pkey, ct, &ct_len) != 0) {
            EVP_PKEY_free(pkey);
            return fail(x, "OpenSSL RSA key generation or encryption failed");
        }
    }
    int ready = 0;
    for (int t = 0; t < n && rc == 0; t++) {
        if (x->type == BENCH_X_RSA_RATE) {
            if (rsa_thread_init(&v[t], x, pkey, ct, ct_len) != 0) {
                rc = fail(x, "OpenSSL RSA decryption set-up failed");
                rsa_thread_free(&v[t]);
                break;
            }
        } else if (vclient_init(&v[t], x) != 0) {
            rc = fail_eng(x, "vault client");
            vclient_free(&v[t]);
            break;
        }
        ready++;
    }
    for (size_t w = 0; rc == 0 && w < x->count; w++) {
        pthread_t th[BENCH_MAX_THREADS];
        double t0 = bench_now();
        int started = 0;
        for (int t = 0; t < n; t++) {
            v[t].deadline = t0 + x->window_s;
            if (pthread_create(&th[t], NULL, rate_worker, &v[t]) != 0) {
                rc = fail(x, "pthread_create failed");
                break;
            }
            started++;
        }
        uint64_t ops = 0;
        for (int t = 0; t < started; t++) {
            pthread_join(th[t], NULL);
            ops += v[t].ops;
            if (v[t].rc != 0 && rc == 0) {
                rc = x->type == BENCH_X_RSA_RATE ? fail(x, "RSA decrypt failed")
                                                 : fail_eng(x, x->op);
            }
        }
        if (rc == 0) {
            add_sample(x, (double)ops / (bench_now() - t0));
        }
    }
    for (int t = 0; t < ready; t++) {
        if (x->type == BENCH_X_RSA_RATE) {
            rsa_thread_free(&v[t]);
        } else {
            vclient_free(&v[t]);
        }
    }
    EVP_PKEY_free(pkey);
    return rc;
}

/* A new current KEK version: SMK key file, or vault key rotation (keyofficer). */
static int new_kek_version(const char *keys, const char *smk_path, const char *vault_key)
{
    if (strcmp(keys, "smk") == 0) {
        return eng_smk_rotate(smk_path, NULL, 0);
    }
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s/rotate?" VMT_API, vault_key);
    return bench_vault_call("keyofficer", "POST", path, NULL) == 200 ? 0 : -1;
}

/* KEK rotation of a folder store with x->dek_count DEKs (8 units of 8 KiB each). */
static int run_rotation(struct bench_extra *x)
{
    char smk_path[512], key[32] = "bench-rot";
    const char *tmp = bench_tmpdir();
    struct eng_kek_provider *kek;
    if (tmp == NULL) {
        return fail(x, "no temporary folder");
    }
    if (strcmp(x->keys, "smk") == 0) {
        snprintf(smk_path, sizeof(smk_path), "%s/rot-%d.key", tmp, x->dek_count);
        kek = eng_smk_open(smk_path, 1);
    } else {
        snprintf(key, sizeof(key), "bench-rot-%d", x->dek_count);
        if (bench_vault_create_key(key, x->rsa_bits) != 200) {
            return fail(x, "vault-mock did not create the rotation key");
        }
        kek = bench_vault_provider_named(key, -1);
    }
    if (kek == NULL) {
        return fail_eng(x, "provider");
    }
    char dir[512];
    int rc = 0;
    if (make_store(kek, ENG_MODE_XTS, (uint32_t)x->dek_count, 8, dir, sizeof(dir)) != 0) {
        rc = fail_eng(x, "create");
    }
    struct eng_store *s = rc == 0 ? eng_store_open(dir, kek, NULL) : NULL;
    if (rc == 0 && s == NULL) {
        rc = fail_eng(x, "open");
    }
    for (size_t i = 0; rc == 0 && i < x->count; i++) {
        if (new_kek_version(x->keys, smk_path, key) != 0) {
            rc = fail(x, "could not make a new KEK version");
            break;
        }
        double t0 = bench_now();
        if (eng_store_rotate_kek(s) != 0) {
            rc = fail_eng(x, "rotate");
        } else {
            add_sample(x, (bench_now() - t0) * 1e3);
        }
    }
    eng_store_close(s);
    eng_kek_provider_free(kek);
    bench_remove_tree(dir);
    return rc;
}

/* Dirty + Writeback from /proc/meminfo, in KiB (0 if unreadable). */
static long dirty_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) {
        return 0;
    }
    char line[256];
    long total = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        long v;
        if (sscanf(line, "Dirty: %ld kB", &v) == 1 || sscanf(line, "Writeback: %ld kB", &v) == 1) {
            total += v;
        }
    }
    fclose(f);
    return total;
}

/*
 * The same number of DEKs (16) in a 1 GiB and a 4 GiB store (every unit
 * written at creation): rotation must not depend on the data size. Before
 * sampling the creation's writeback is let finish (sync, then Dirty +
 * Writeback < 4 MiB, at most 60 s), else the rotation's fsyncs queue behind
 * gigabytes. Samples alternate between the two stores (and which goes first).
 * samples: the 1 GiB store's ms; extra_value: the 4 GiB store's median.
 */
static int run_rotation_size(struct bench_extra *x)
{
    const char *tmp = bench_tmpdir();
    if (tmp == NULL) {
        return fail(x, "no temporary folder");
    }
    char smk_path[512], dirs[2][512];
    snprintf(smk_path, sizeof(smk_path), "%s/rotsize.key", tmp);
    struct eng_kek_provider *kek = eng_smk_open(smk_path, 1);
    if (kek == NULL) {
        return fail_eng(x, "key file");
    }
    int rc = 0;
    struct eng_store *st[2] = {NULL, NULL};
    for (int k = 0; k < 2 && rc == 0; k++) {
        uint64_t bytes = x->store_bytes << (2 * k); /* 1x and 4x */
        uint32_t eu = (uint32_t)(bytes / 8192 / 16);
        if (make_store(kek, ENG_MODE_XTS, 16, eu, dirs[k], sizeof(dirs[k])) != 0 ||
            (st[k] = eng_store_open(dirs[k], kek, NULL)) == NULL) {
            rc = fail_eng(x, "create");
        }
    }
    double t0 = bench_now();
    sync();
    while (dirty_kib() > 4096 && bench_now() - t0 < 60.0) {
        usleep(100 * 1000);
    }
    double *large = calloc(x->count, sizeof(double));
    size_t nl = 0;
    if (large == NULL) {
        rc = fail(x, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < x->count; i++) {
        for (int j = 0; j < 2 && rc == 0; j++) {
            int k = (int)((i + (size_t)j) % 2);
            if (eng_smk_rotate(smk_path, NULL, 0) != 0) {
                rc = fail_eng(x, "smk rotate");
                break;
            }
            double a = bench_now();
            if (eng_store_rotate_kek(st[k]) != 0) {
                rc = fail_eng(x, "rotate");
                break;
            }
            double ms = (bench_now() - a) * 1e3;
            if (k == 0) {
                add_sample(x, ms);
            } else {
                large[nl++] = ms;
            }
        }
    }
    if (rc == 0 && nl > 0) {
        qsort(large, nl, sizeof(double), bench_cmp_double);
        x->extra_value = rep_quantile_sorted(large, nl, 0.5);
    }
    free(large);
    for (int k = 0; k < 2; k++) {
        eng_store_close(st[k]);
        bench_remove_tree(dirs[k]);
    }
    eng_kek_provider_free(kek);
    return rc;
}

void bench_affinity_widen(cpu_set_t *saved)
{
    CPU_ZERO(saved);
    (void)sched_getaffinity(0, sizeof(*saved), saved);
    cpu_set_t all;
    CPU_ZERO(&all);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++) {
        CPU_SET((int)i, &all);
    }
    (void)sched_setaffinity(0, sizeof(all), &all);
}

void bench_affinity_restore(const cpu_set_t *saved)
{
    if (CPU_COUNT(saved) > 0) {
        (void)sched_setaffinity(0, sizeof(*saved), saved);
    }
}

static int run_extra(struct bench_extra *x)
{
    switch (x->type) {
        case BENCH_X_COLD_OPEN:
            return run_cold_open(x);
        case BENCH_X_VAULT_OP:
            return run_vault_op(x);
        case BENCH_X_VAULT_RATE:
        case BENCH_X_RSA_RATE:
            return run_rate(x);
        case BENCH_X_ROTATION:
            return run_rotation(x);
        case BENCH_X_ROTATION_SIZE:
            return run_rotation_size(x);
        default:
            return fail(x, "unknown extra");
    }
}

int bench_extra_run(struct bench_extra *x)
{
    x->samples = calloc(x->count > 0 ? x->count : 1, sizeof(double));
    if (x->samples == NULL) {
        return fail(x, "out of memory");
    }
    int needs_vault = strcmp(x->keys, "cmk") == 0;
    if (needs_vault && !bench_vault_running()) {
        return fail(x, "the vault is not running");
    }
    cpu_set_t saved;
    bench_affinity_widen(&saved);
    int rc = run_extra(x);
    bench_affinity_restore(&saved);
    return rc;
}
