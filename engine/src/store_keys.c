/*
 * store_keys.c - the keys every store operation shares: wrapping and
 * unwrapping under the KEK, each extent's DEK and unit MAC key, the parallel
 * unwrap at open, and revalidation (eng_store_check_access). The bottom of
 * the store's files: it calls none of store.c, store_io.c, store_chunk.c or
 * store_rotate.c (see eng_store.h for the model and layout).
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

/* HKDF-SHA-256 info of the unit MAC key: distinct from any other use of a DEK. */
#define UNIT_MAC_INFO "cmk-harness store unit MAC v1"

uint64_t st_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Persists |kt| as the folder store's key table, MAC'd under the store's MAC key. */
int st_save_table(struct eng_store *s, struct eng_keytable *kt)
{
    char p[PATH_MAX];
    ENG_GUARD(eng_path_join(p, sizeof(p), s->dir, ST_KEYTABLE_NAME));
    return eng_kt_save(p, kt, s->mac_key);
}

/* --- keys ---------------------------------------------------------------- */

void st_drop_keys(struct eng_store *s)
{
    if (s->ciphers != NULL) {
        for (uint32_t e = 0; e < s->kt.num_extents; e++) {
            eng_cipher_free(s->ciphers[e]);
            s->ciphers[e] = NULL;
        }
    }
    eng_secure_free(s->mac_key);
    s->mac_key = NULL;
    eng_secure_free(s->ikeys);
    s->ikeys = NULL;
    eng_secure_free(s->ikey_new);
    s->ikey_new = NULL;
}

/* The store's one way of losing access: wipe every DEK, remember why. */
static void make_inaccessible(struct eng_store *s, int cause)
{
    st_drop_keys(s);
    s->cause = cause;
}

/*
 * Unwraps |w| into |out| (ENG_DEK_MAX_BYTES of secure memory: the store's
 * scratch key, or the MAC key). The caller wipes |out| after use.
 */
int st_unwrap_into(struct eng_store *s, const struct eng_kt_wrapped *w, uint8_t *out,
                   size_t *out_len)
{
    return eng_kek_unwrap(s->kek, &w->kek, out, out_len, ENG_DEK_MAX_BYTES, w->bytes, w->len);
}

int st_wrap_into(struct eng_store *s, const struct eng_kek_ref *cur, const uint8_t *key,
                 size_t key_len, struct eng_kt_wrapped *w)
{
    size_t len = 0;
    ENG_GUARD(eng_kek_wrap(s->kek, cur, w->bytes, &len, sizeof(w->bytes), key, key_len));
    w->kek = *cur;
    w->len = (uint16_t)len;
    return 0;
}

/*
 * The unit MAC key of a DEK: HKDF-SHA-256 (RFC 5869) with the DEK as input
 * key, the store id as salt and UNIT_MAC_INFO as info, so it is independent
 * of the XTS key halves and bound to this store.
 */
static int derive_ikey(const struct eng_store *s, const uint8_t *dek, size_t dek_len,
                       uint8_t ikey[ENG_STORE_MAC_BYTES])
{
    char digest[] = "SHA256";
    char info[] = UNIT_MAC_INFO;
    uint8_t salt[ENG_STORE_ID_BYTES];
    memcpy(salt, s->kt.store_id, sizeof(salt));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)dek, dek_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info) - 1),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    int ok = kctx != NULL && EVP_KDF_derive(kctx, ikey, ENG_STORE_MAC_BYTES, params) == 1;
    EVP_KDF_CTX_free(kctx);
    ENG_ENSURE(ok, ENG_ERR_CRYPTO_LIB);
    return 0;
}

/* A cipher for |dek|, and with integrity its unit MAC key into |ikey|. */
static int cipher_for(struct eng_store *s, const uint8_t *dek, size_t dek_len,
                      struct eng_cipher **out, uint8_t *ikey)
{
    ENG_ENSURE(dek_len == eng_dek_len((enum eng_mode)s->kt.mode), ENG_ERR_UNWRAP);
    if (s->kt.integrity != ENG_STORE_INTEGRITY_NONE) {
        ENG_ENSURE(ikey != NULL, ENG_ERR_INTERNAL);
        ENG_GUARD(derive_ikey(s, dek, dek_len, ikey));
    }
    struct eng_cipher *c =
        eng_cipher_new((enum eng_mode)s->kt.mode, s->cfg.backend, s->cfg.arch, dek, dek_len);
    ENG_ENSURE(c != NULL, eng_errno());
    s->backend = eng_cipher_backend(c);
    s->arch = eng_cipher_arch(c);
    *out = c;
    return 0;
}

/* The key's name in a key id: what follows its last '/' (all of an SMK key id). */
static const char *key_name_of(const char *key_id)
{
    const char *p = strrchr(key_id, '/');
    return p != NULL ? p + 1 : key_id;
}

/* The ref must be for the provider and key this store was created with. */
int st_ref_matches(struct eng_store *s, const struct eng_kek_ref *r)
{
    struct eng_kek_ref mine;
    ENG_GUARD(eng_kek_describe(s->kek, NULL, &mine));
    if (strcmp(mine.provider, r->provider) == 0 && strcmp(mine.key_id, r->key_id) == 0) {
        return 0;
    }
    int same_name = strcmp(mine.provider, r->provider) == 0 &&
                    strcmp(key_name_of(mine.key_id), key_name_of(r->key_id)) == 0;
    ENG_ENSURE(same_name, ENG_ERR_KEK_MISMATCH);
    ENG_ENSURE(s->moving, ENG_ERR_KEK_URL_MISMATCH);
    return 0;
}

/* Asks the provider about one version: 0, or -1 with its error; expiry is noted in |*expired|. */
static int check_version(struct eng_store *s, const struct eng_kek_ref *r, int *expired)
{
    struct eng_kek_ref ref;
    ENG_GUARD(st_ref_matches(s, r));
    if (eng_kek_get(s->kek, r->version, &ref) == 0) {
        return 0;
    }
    int err = eng_errno();
    ENG_ENSURE(err == ENG_ERR_KEK_EXPIRED || err == ENG_ERR_KEK_NOT_YET_VALID, err);
    *expired = *expired != ENG_OK ? *expired : err;
    return 0;
}

/*
 * Asks the provider about every KEK version the store depends on (the MAC
 * key's and each active DEK's; usually one). 0, or -1 with its error. An
 * expired (or not yet valid) version still unwraps: it is no failure, but
 * it makes the store read-only (s->kek_expired) until the next check finds
 * none (after rotate-kek under a valid version, or a new exp).
 */
int st_check_kek_versions(struct eng_store *s)
{
    int expired = ENG_OK;
    const char *last = s->kt.mac_key.kek.version;
    ENG_GUARD(check_version(s, &s->kt.mac_key.kek, &expired));
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        const struct eng_kt_record *r = &s->kt.records[i];
        if (r->state != ENG_KT_ACTIVE || strcmp(r->w.kek.version, last) == 0) {
            continue;
        }
        last = r->w.kek.version;
        ENG_GUARD(check_version(s, &r->w.kek, &expired));
    }
    s->kek_expired = expired;
    return 0;
}

/* --- unwrapping at open ---------------------------------------------------- */

#define UNWRAP_THREADS_MAX 8

/* One unwrap of an open: the wrapped key, where its plaintext goes, what came of it. */
struct unwrap_job {
    const struct eng_kt_wrapped *w;
    uint8_t *out; /* ENG_DEK_MAX_BYTES of secure memory */
    size_t len;
    uint32_t extent; /* of a DEK */
    int rc;          /* 0, -1 failed (err, where), -2 left because an earlier job failed */
    int err;
    const char *where;
};

/*
 * Jobs are taken in index order. A job is left only when a job before it
 * has failed (first_failed < its index), so every job before the first
 * failure runs, and the first failure in order is the one a serial open
 * would have met.
 */
struct unwrap_batch {
    struct eng_store *s;
    struct unwrap_job *jobs;
    size_t n;
    atomic_size_t next;
    atomic_size_t first_failed; /* SIZE_MAX: none */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int mac_checked; /* under mu; a bad MAC is first_failed == 0 */
};

static void record_failure(struct unwrap_batch *b, size_t i)
{
    struct unwrap_job *j = &b->jobs[i];
    j->rc = -1;
    j->err = eng_errno();
    j->where = eng_error_where();
    size_t cur = atomic_load(&b->first_failed);
    while (i < cur && !atomic_compare_exchange_weak(&b->first_failed, &cur, i)) {
    }
}

/* Takes the next job and runs it (or leaves it); 0 once none is left. */
static int run_next(struct unwrap_batch *b)
{
    size_t i = atomic_fetch_add(&b->next, 1);
    if (i >= b->n) {
        return 0;
    }
    struct unwrap_job *j = &b->jobs[i];
    if (atomic_load(&b->first_failed) < i) {
        j->rc = -2;
    } else if (st_unwrap_into(b->s, j->w, j->out, &j->len) != 0) {
        record_failure(b, i);
    }
    return 1;
}

/*
 * A helper thread: one DEK while the MAC is checked, then the rest (which
 * run_next leaves when the MAC did not authenticate: job 0 failed).
 */
static void *unwrap_helper(void *arg)
{
    struct unwrap_batch *b = arg;
    (void)run_next(b);
    pthread_mutex_lock(&b->mu);
    while (!b->mac_checked) {
        pthread_cond_wait(&b->cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    while (run_next(b)) {
    }
    return NULL;
}

/* The MAC key (job 0): unwrapped on the calling thread, and the table's MAC checked with it. */
static int unwrap_mac_key(struct eng_store *s, struct unwrap_job *j, const uint8_t *raw,
                          size_t raw_len)
{
    ENG_GUARD(st_unwrap_into(s, j->w, j->out, &j->len));
    ENG_ENSURE(j->len == ENG_KT_MAC_BYTES, ENG_ERR_KEYTABLE_AUTH);
    ENG_GUARD(eng_kt_check_mac(raw, raw_len, j->out));
    return 0;
}

/*
 * Runs the jobs. Helper threads (concurrency - 1 of them, when the provider
 * serves calls at once: a vault, where each unwrap is an RSA private
 * operation on the server) unwrap one DEK each while this thread unwraps
 * the MAC key and checks the table's MAC, and go on only if it
 * authenticates: at most concurrency - 1 DEKs are unwrapped for a table
 * that does not (none with a serial provider, which keeps the old order:
 * MAC key, MAC, then each DEK). Then this thread takes DEKs too.
 */
static void unwrap_all(struct unwrap_batch *b, const uint8_t *raw, size_t raw_len)
{
    int conc = b->s->kek->concurrency;
    size_t extra = conc > 1 ? (size_t)conc - 1 : 0;
    if (extra > b->n - 1) {
        extra = b->n - 1;
    }
    if (extra > UNWRAP_THREADS_MAX) {
        extra = UNWRAP_THREADS_MAX;
    }
    pthread_t th[UNWRAP_THREADS_MAX];
    size_t started = 0;
    while (started < extra && pthread_create(&th[started], NULL, unwrap_helper, b) == 0) {
        started++; /* a thread that cannot start leaves its share to the others */
    }
    if (unwrap_mac_key(b->s, &b->jobs[0], raw, raw_len) != 0) {
        record_failure(b, 0);
    } else {
        b->s->mac_verified = 1;
    }
    pthread_mutex_lock(&b->mu);
    b->mac_checked = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    while (run_next(b)) {
    }
    for (size_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
}

/* The first failure in job order, as the thread that met it recorded it; else the ciphers. */
static int install_keys(struct eng_store *s, const struct unwrap_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ENG_ENSURE(jobs[i].rc != -2, ENG_ERR_INTERNAL); /* cannot be first: see unwrap_batch */
        if (jobs[i].rc != 0) {
            eng_set_error_at(jobs[i].err, jobs[i].where);
            return -1;
        }
        if (i > 0) {
            ENG_GUARD(cipher_for(s, jobs[i].out, jobs[i].len, &s->ciphers[jobs[i].extent],
                                 st_ikey_at(s, jobs[i].extent)));
        }
    }
    return 0;
}

/*
 * Unwraps the MAC key, checks the table's MAC, unwraps every active DEK
 * (two or more at once where the provider allows), then makes the DEKs'
 * ciphers. The unwrapped DEKs are wiped on every path.
 */
int st_load_keys(struct eng_store *s, const uint8_t *raw, size_t raw_len)
{
    s->mac_key = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(s->mac_key != NULL, eng_errno());
    size_t n = 1;
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        n += s->kt.records[i].state == ENG_KT_ACTIVE;
    }
    struct unwrap_job *jobs = calloc(n, sizeof(*jobs));
    ENG_ENSURE(jobs != NULL, ENG_ERR_NOMEM);
    uint8_t *deks = NULL;
    if (n > 1 && (deks = eng_secure_alloc((n - 1) * ENG_DEK_MAX_BYTES)) == NULL) {
        free(jobs);
        return -1; /* eng_secure_alloc's error: NOMEM, or MLOCK under ENG_MLOCK=require */
    }
    jobs[0] = (struct unwrap_job){.w = &s->kt.mac_key, .out = s->mac_key};
    for (uint32_t i = 0, k = 1; i < s->kt.num_records; i++) {
        const struct eng_kt_record *r = &s->kt.records[i];
        if (r->state == ENG_KT_ACTIVE) {
            jobs[k] = (struct unwrap_job){
                .w = &r->w, .out = deks + (k - 1) * ENG_DEK_MAX_BYTES, .extent = r->extent};
            k++;
        }
    }
    struct unwrap_batch b = {.s = s, .jobs = jobs, .n = n};
    atomic_init(&b.next, 1);
    atomic_init(&b.first_failed, SIZE_MAX);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    unwrap_all(&b, raw, raw_len);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    int rc = install_keys(s, jobs, n);
    eng_secure_free(deks); /* wipes */
    free(jobs);
    return rc;
}

/* --- revalidation -------------------------------------------------------- */

/*
 * One check of the KEK. Revocations (not found, disabled, forbidden, ...)
 * make the store inaccessible at once; transient errors only once the last
 * good check is older than interval + grace. Returns 0 while accessible.
 */
static int revalidate(struct eng_store *s)
{
    ENG_ENSURE(s->cause == ENG_OK, ENG_ERR_INACCESSIBLE);
    uint64_t now = st_now_ns();
    if (st_check_kek_versions(s) == 0) {
        s->last_ok_ns = now;
        s->next_check_ns = now + s->interval_ns;
        s->last_check_error = ENG_OK;
        return 0;
    }
    int err = eng_errno();
    s->last_check_error = err;
    if (eng_kek_error_is_transient(err) && now - s->last_ok_ns <= s->interval_ns + s->grace_ns) {
        /* Ask again soon, not on every call. */
        uint64_t retry = s->interval_ns < 1000000000ULL ? s->interval_ns : 1000000000ULL;
        s->next_check_ns = now + retry;
        return 0;
    }
    make_inaccessible(s, err);
    ENG_BAIL(ENG_ERR_INACCESSIBLE);
}

int eng_store_check_access(struct eng_store *s)
{
    ENG_ENSURE(s->cause == ENG_OK, ENG_ERR_INACCESSIBLE);
    if (st_now_ns() >= s->next_check_ns) {
        ENG_GUARD(revalidate(s));
    }
    return 0;
}

int eng_store_revalidate(struct eng_store *s)
{
    ENG_ENSURE_REF(s);
    return revalidate(s);
}

/* Records, per extent, which key-table record is active (the table's invariants make it unique). */
void st_index_active(struct eng_store *s)
{
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        if (s->kt.records[i].state == ENG_KT_ACTIVE) {
            s->active[s->kt.records[i].extent] = i;
        }
    }
}

void st_mark_accessible(struct eng_store *s)
{
    s->cause = ENG_OK;
    s->last_ok_ns = st_now_ns();
    s->next_check_ns = s->last_ok_ns + s->interval_ns;
}

/* Creates one extent's DEK: random, wrapped under |cur|, loaded into a cipher. */
int st_new_dek(struct eng_store *s, const struct eng_kek_ref *cur, struct eng_kt_record *rec,
               struct eng_cipher **out, uint8_t *ikey)
{
    size_t len = eng_dek_len((enum eng_mode)s->kt.mode);
    uint8_t *dek = s->scratch_key;
    int rc = -1;
    if (eng_dek_generate((enum eng_mode)s->kt.mode, dek, ENG_DEK_MAX_BYTES) == 0 &&
        st_wrap_into(s, cur, dek, len, &rec->w) == 0 && cipher_for(s, dek, len, out, ikey) == 0) {
        rc = 0;
    }
    eng_cleanse(dek, ENG_DEK_MAX_BYTES);
    return rc;
}
