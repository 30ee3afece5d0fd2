/*
 * kind_vault.c - the vault and RSA extras: one provider call at a time
 * (get, wrapkey, unwrapkey; ms), provider calls per second from 1 and 2
 * clients, and next to them OpenSSL's own RSA-OAEP-256 private-key rate
 * (the work the vault does per unwrap), from 1 and 2 threads.
 *
 * The vault-mock runs on this machine and competes with the bench for the
 * same cores: in the vault figures the server's RSA work and the client's
 * HTTPS work share them.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "eng_secure.h"
#include "eng_vault.h"

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

static int vault_op_run(struct bench_extra *x, struct base_err *e)
{
    struct vclient v;
    int rc = vclient_init(&v, x);
    if (rc != 0) {
        rc = bench_fail_lib(e, "vault client");
    }
    for (size_t i = 0; rc == 0 && i < x->count + 3; i++) {
        double t0 = bench_now();
        if (vclient_op(&v) != 0) {
            rc = bench_fail_lib(e, x->op);
        } else if (i >= 3) { /* three untimed calls first */
            bench_extra_sample(x, (bench_now() - t0) * 1e3);
        }
    }
    vclient_free(&v);
    return rc;
}

/* RSA-OAEP with SHA-256 and MGF1-SHA-256 (the vault's RSA-OAEP-256) on an initialised context; 1 on
 * success. */
static int set_oaep256(EVP_PKEY_CTX *ctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
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
static int rate_run(struct bench_extra *x, struct base_err *e)
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
            return base_err_set(e, BENCH_ERR_LIB, BASE_HERE,
                                "OpenSSL RSA key generation or encryption failed");
        }
    }
    int ready = 0;
    for (int t = 0; t < n && rc == 0; t++) {
        if (x->type == BENCH_X_RSA_RATE) {
            if (rsa_thread_init(&v[t], x, pkey, ct, ct_len) != 0) {
                rc = base_err_set(e, BENCH_ERR_LIB, BASE_HERE,
                                  "OpenSSL RSA decryption set-up failed");
                rsa_thread_free(&v[t]);
                break;
            }
        } else if (vclient_init(&v[t], x) != 0) {
            rc = bench_fail_lib(e, "vault client");
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
                rc = base_err_set(e, BASE_ERR_INTERNAL, BASE_HERE, "pthread_create failed");
                break;
            }
            started++;
        }
        uint64_t ops = 0;
        for (int t = 0; t < started; t++) {
            pthread_join(th[t], NULL);
            ops += v[t].ops;
            if (v[t].rc != 0 && rc == 0) {
                rc = x->type == BENCH_X_RSA_RATE
                         ? base_err_set(e, BENCH_ERR_LIB, BASE_HERE, "RSA decrypt failed")
                         : bench_fail_lib(e, x->op);
            }
        }
        if (rc == 0) {
            bench_extra_sample(x, (double)ops / (bench_now() - t0));
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

/*
 * The vault's operations and OpenSSL's RSA rate, per RSA size (quick: 2048
 * only, the unwrapkey rate at 2 clients only): each operation's latency with
 * its rates beside it, then OpenSSL's rate at the same size.
 */
static void vault_plan(struct bench_plan *pl)
{
    const struct bench_profile *p = pl->profile;
    const int *sizes;
    size_t nsizes = bench_profile_rsa_sizes(p, &sizes);
    static const char *const ops[] = {"get", "wrapkey", "unwrapkey"};
    for (size_t i = 0; i < nsizes; i++) {
        if (!p->all_rsa && sizes[i] != 2048) {
            continue;
        }
        for (size_t o = 0; o < 3; o++) {
            bench_plan_add_extra(pl, &bench_extra_vault_op,
                                 (struct bench_extra){.keys = "cmk",
                                                      .op = ops[o],
                                                      .condition = "",
                                                      .rsa_bits = sizes[i],
                                                      .count = p->vault_ops});
            for (int t = 1; t <= 2; t++) {
                if (!p->all_rsa && (t == 1 || o != 2)) {
                    continue;
                }
                bench_plan_add_extra(pl, &bench_extra_vault_rate,
                                     (struct bench_extra){.keys = "cmk",
                                                          .op = ops[o],
                                                          .condition = "",
                                                          .threads = t,
                                                          .rsa_bits = sizes[i],
                                                          .count = p->windows,
                                                          .window_s = p->window_s});
            }
        }
        for (int t = 1; t <= 2; t++) {
            bench_plan_add_extra(pl, &bench_extra_rsa_rate,
                                 (struct bench_extra){.keys = "none",
                                                      .condition = "",
                                                      .threads = t,
                                                      .rsa_bits = sizes[i],
                                                      .count = p->windows,
                                                      .window_s = p->window_s});
        }
    }
}

static void vault_op_describe(const struct bench_extra *x, const char *rsa, char *out, size_t max)
{
    snprintf(out, max, "vault %s%s 1 client", x->op, rsa);
}

static void vault_rate_describe(const struct bench_extra *x, const char *rsa, char *out, size_t max)
{
    snprintf(out, max, "vault-rate %s%s %d client%s", x->op, rsa, x->threads,
             x->threads > 1 ? "s" : "");
}

static void rsa_rate_describe(const struct bench_extra *x, const char *rsa, char *out, size_t max)
{
    snprintf(out, max, "openssl-rsa decrypt%s %d thread%s", rsa, x->threads,
             x->threads > 1 ? "s" : "");
}

const struct bench_extra_ops bench_extra_vault_op = {
    .id = BENCH_X_VAULT_OP,
    .kind = "vault",
    .unit = "ms",
    .mode = "rsa-oaep-256",
    .plan = vault_plan,
    .describe = vault_op_describe,
    .run = vault_op_run,
    .write_results = bench_extra_write_percentiles,
};

const struct bench_extra_ops bench_extra_vault_rate = {
    .id = BENCH_X_VAULT_RATE,
    .kind = "vault-rate",
    .unit = "ops/s",
    .mode = "rsa-oaep-256",
    .describe = vault_rate_describe,
    .run = rate_run,
};

const struct bench_extra_ops bench_extra_rsa_rate = {
    .id = BENCH_X_RSA_RATE,
    .kind = "openssl-rsa",
    .unit = "ops/s",
    .op = "rsa-oaep-256-decrypt",
    .mode = "rsa-oaep-256",
    .side = "openssl",
    .describe = rsa_rate_describe,
    .run = rate_run,
};
