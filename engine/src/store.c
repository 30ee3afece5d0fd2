/*
 * store.c - the encrypted store (see eng_store.h for the model and layout):
 * configuration, the keys every operation shares, revalidation, files,
 * create/open/close and introspection. The data path is in store_io.c,
 * key rotation in store_rotate.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

/* HKDF-SHA-256 info of the unit MAC key: distinct from any other use of a DEK. */
#define UNIT_MAC_INFO "cmk-harness store unit MAC v1"

static const char *const kt_name = "keytable";
static const char *const data_name = "data";
static const char *const tags_name = "tags";
static const char *const macs_name = "macs";
static const char *const lock_name = "lock";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void eng_store_config_init(struct eng_store_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = ENG_MODE_XTS;
    cfg->unit_size = ENG_STORE_DEFAULT_UNIT;
    cfg->num_units = 0;
    cfg->extent_units = 0; /* ENG_STORE_DEFAULT_EXTENT_UNITS, or fewer for a smaller store */
    cfg->backend = ENG_BACKEND_AUTO;
    cfg->arch = ENG_ARCH_AUTO;
    cfg->revalidate_s = ENG_STORE_DEFAULT_REVALIDATE_S;
    cfg->grace_s = ENG_STORE_DEFAULT_GRACE_S;
}

static int store_path(const struct eng_store *s, const char *name, char *out, size_t max_out_len)
{
    return eng_path_join(out, max_out_len, s->dir, name);
}

/* Persists |kt| as the folder store's key table, MAC'd under the store's MAC key. */
int st_save_table(struct eng_store *s, struct eng_keytable *kt)
{
    char p[PATH_MAX];
    ENG_GUARD(store_path(s, kt_name, p, sizeof(p)));
    return eng_kt_save(p, kt, s->mac_key);
}

/* --- keys ---------------------------------------------------------------- */

static void drop_keys(struct eng_store *s)
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
    drop_keys(s);
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

/* Where extent |e|'s unit MAC key lives (NULL without integrity). */
static uint8_t *ikey_at(struct eng_store *s, uint32_t e)
{
    return s->ikeys != NULL ? s->ikeys + (size_t)e * ENG_STORE_MAC_BYTES : NULL;
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
    struct eng_cipher *c = eng_cipher_new((enum eng_mode)s->kt.mode, s->cfg.backend, s->cfg.arch,
                                          dek, dek_len);
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
static int check_kek_versions(struct eng_store *s)
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
                                 ikey_at(s, jobs[i].extent)));
        }
    }
    return 0;
}

/*
 * Unwraps the MAC key, checks the table's MAC, unwraps every active DEK
 * (two or more at once where the provider allows), then makes the DEKs'
 * ciphers. The unwrapped DEKs are wiped on every path.
 */
static int load_keys(struct eng_store *s, const uint8_t *raw, size_t raw_len)
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
            jobs[k] = (struct unwrap_job){.w = &r->w, .out = deks + (k - 1) * ENG_DEK_MAX_BYTES,
                                          .extent = r->extent};
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
    uint64_t now = now_ns();
    if (check_kek_versions(s) == 0) {
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
    if (now_ns() >= s->next_check_ns) {
        ENG_GUARD(revalidate(s));
    }
    return 0;
}

int eng_store_revalidate(struct eng_store *s)
{
    ENG_ENSURE_REF(s);
    return revalidate(s);
}

/* --- files ---------------------------------------------------------------- */

/*
 * Takes the store's lock: shared for a read-only open, else exclusive;
 * polls every 10 ms until cfg.lock_wait_s seconds have passed (0: one try).
 * A read-only open creates the (empty) lock file only when it is missing.
 */
static int lock_store(struct eng_store *s)
{
    char p[PATH_MAX];
    ENG_GUARD(store_path(s, lock_name, p, sizeof(p)));
    s->lock_fd = open(p, (s->read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC | O_NOFOLLOW,
                      0600);
    if (s->lock_fd < 0 && s->read_only && errno == ENOENT) {
        s->lock_fd = open(p, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    ENG_ENSURE(s->lock_fd >= 0, errno == ENOENT ? ENG_ERR_NO_STORE : ENG_ERR_IO);
    int op = (s->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB;
    uint64_t deadline = now_ns() + (uint64_t)s->cfg.lock_wait_s * 1000000000ULL;
    while (flock(s->lock_fd, op) != 0) {
        ENG_ENSURE(errno == EWOULDBLOCK || errno == EINTR, ENG_ERR_IO);
        ENG_ENSURE(now_ns() < deadline, ENG_ERR_STORE_BUSY);
        struct timespec pause = {0, 10000000L};
        nanosleep(&pause, NULL);
    }
    return 0;
}

/*
 * Opens the store file |name| into *fd and checks that it is |len| bytes
 * (a regular file, not through a symlink); |create| makes it, |len| bytes
 * of zeros.
 */
static int open_sized(struct eng_store *s, const char *name, int create, uint64_t len, int *fd)
{
    char p[PATH_MAX];
    struct stat st;
    ENG_GUARD(store_path(s, name, p, sizeof(p)));
    *fd = create ? open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_CREAT | O_EXCL, 0600)
                 : eng_open_regular(p, (s->read_only ? O_RDONLY : O_RDWR) | O_NOFOLLOW,
                                    ENG_ERR_STORE_CORRUPT);
    ENG_ENSURE(*fd >= 0 || !create, ENG_ERR_IO);
    ENG_GUARD(*fd);
    if (create) {
        ENG_ENSURE(ftruncate(*fd, (off_t)len) == 0, ENG_ERR_IO);
    }
    ENG_ENSURE(fstat(*fd, &st) == 0, ENG_ERR_IO);
    ENG_ENSURE((uint64_t)st.st_size == len, ENG_ERR_STORE_CORRUPT);
    return 0;
}

/* A metadata file of |rec| bytes per slot unit: opened and, unless new, read into |mem|. */
static int open_meta(struct eng_store *s, const char *name, int create, uint8_t *mem, size_t rec,
                     int *fd)
{
    uint64_t len = (uint64_t)s->kt.num_slots * s->kt.extent_units * rec;
    ENG_GUARD(open_sized(s, name, create, len, fd));
    return create ? 0 : eng_pread_all(*fd, mem, len, 0, ENG_ERR_STORE_CORRUPT);
}

static int open_data_files(struct eng_store *s, int create)
{
    ENG_GUARD(open_sized(s, data_name, create, (uint64_t)s->kt.num_slots * st_slot_bytes(s),
                         &s->data_fd));
    if (s->kt.integrity != ENG_STORE_INTEGRITY_NONE) {
        ENG_GUARD(open_meta(s, macs_name, create, s->macs, ENG_STORE_MAC_BYTES, &s->macs_fd));
    }
    if (s->kt.mode == ENG_MODE_GCM) {
        ENG_GUARD(open_meta(s, tags_name, create, s->tags, ENG_STORE_TAG_REC, &s->tags_fd));
    }
    return 0;
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

/* Per-store buffers sized from the key table's geometry. */
static int alloc_runtime(struct eng_store *s)
{
    s->ciphers = calloc(s->kt.num_extents, sizeof(*s->ciphers));
    s->active = calloc(s->kt.num_extents, sizeof(*s->active));
    s->inv_used = calloc(s->kt.num_extents, sizeof(*s->inv_used));
    ENG_ENSURE(s->ciphers != NULL && s->active != NULL && s->inv_used != NULL, ENG_ERR_NOMEM);
    /* One locked page for every key the store handles in the clear, reused and wiped. */
    s->scratch_key = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(s->scratch_key != NULL, eng_errno());
    if (s->kt.mode == ENG_MODE_GCM) {
        s->tags = calloc((size_t)s->kt.num_slots * s->kt.extent_units, ENG_STORE_TAG_REC);
        ENG_ENSURE(s->tags != NULL, ENG_ERR_NOMEM);
    }
    if (s->kt.integrity != ENG_STORE_INTEGRITY_NONE) {
        s->macs = calloc((size_t)s->kt.num_slots * s->kt.extent_units, ENG_STORE_MAC_BYTES);
        ENG_ENSURE(s->macs != NULL, ENG_ERR_NOMEM);
        s->ikeys = eng_secure_alloc((size_t)s->kt.num_extents * ENG_STORE_MAC_BYTES);
        ENG_ENSURE(s->ikeys != NULL, eng_errno());
        s->ikey_new = eng_secure_alloc(ENG_STORE_MAC_BYTES);
        ENG_ENSURE(s->ikey_new != NULL, eng_errno());
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        s->hmac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        ENG_ENSURE(s->hmac != NULL && EVP_MAC_CTX_set_params(s->hmac, params) == 1,
                   ENG_ERR_CRYPTO_LIB);
    }
    if (s->in_memory) {
        s->mem_data = calloc(s->kt.num_slots, (size_t)st_slot_bytes(s));
        ENG_ENSURE(s->mem_data != NULL, ENG_ERR_NOMEM);
    } else {
        s->stage = malloc((size_t)ENG_STORE_BATCH * s->kt.unit_size);
        ENG_ENSURE(s->stage != NULL, ENG_ERR_NOMEM);
    }
    return 0;
}

static struct eng_store *store_new(struct eng_kek_provider *kek, const struct eng_store_config *cfg)
{
    struct eng_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    s->data_fd = -1;
    s->tags_fd = -1;
    s->macs_fd = -1;
    s->lock_fd = -1;
    s->kek = kek;
    if (cfg != NULL) {
        s->cfg = *cfg;
    } else {
        eng_store_config_init(&s->cfg);
    }
    if (s->cfg.revalidate_s == 0) {
        s->cfg.revalidate_s = ENG_STORE_DEFAULT_REVALIDATE_S;
    }
    s->interval_ns = (uint64_t)s->cfg.revalidate_s * 1000000000ULL;
    s->inv_limit = ENG_STORE_GCM_DEK_LIMIT;
    s->grace_ns = (uint64_t)s->cfg.grace_s * 1000000000ULL;
    s->cause = ENG_OK;
    return s;
}

void eng_store_close(struct eng_store *s)
{
    if (s == NULL) {
        return;
    }
    drop_keys(s);
    eng_secure_free(s->scratch_key);
    free(s->ciphers);
    free(s->active);
    free(s->inv_used);
    free(s->tags);
    free(s->macs);
    EVP_MAC_CTX_free(s->hmac);
    free(s->mem_data);
    free(s->stage);
    if (s->data_fd >= 0) {
        close(s->data_fd);
    }
    if (s->tags_fd >= 0) {
        close(s->tags_fd);
    }
    if (s->macs_fd >= 0) {
        close(s->macs_fd);
    }
    if (s->lock_fd >= 0) {
        close(s->lock_fd); /* releases the flock */
    }
    eng_kt_cleanup(&s->kt);
    eng_cleanse(s, sizeof(*s));
    free(s);
}

static void mark_accessible(struct eng_store *s)
{
    s->cause = ENG_OK;
    s->last_ok_ns = now_ns();
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
        st_wrap_into(s, cur, dek, len, &rec->w) == 0 &&
        cipher_for(s, dek, len, out, ikey) == 0) {
        rc = 0;
    }
    eng_cleanse(dek, ENG_DEK_MAX_BYTES);
    return rc;
}

void eng_store_remove_files(const char *dir)
{
    /* "nonce": the boot counter file of stores made before random GCM nonces. */
    static const char *const names[] = {"keytable", "keytable.tmp", "data", "tags", "macs",
                                        "nonce",    "nonce.tmp",    "lock"};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (eng_path_join(p, sizeof(p), dir, names[i]) == 0) {
            unlink(p);
        }
    }
}

/*
 * Geometry of a new store: extent_units 0 means the default (1024, or the
 * whole store when it has fewer units); an extent larger than the store is
 * refused, so the data file (num_extents + 1 slots) is never more than
 * twice the capacity.
 */
static int check_config(struct eng_store_config *cfg)
{
    ENG_ENSURE(cfg->mode == ENG_MODE_XTS || cfg->mode == ENG_MODE_GCM, ENG_ERR_MODE);
    if (cfg->extent_units == 0) {
        cfg->extent_units = cfg->num_units < ENG_STORE_DEFAULT_EXTENT_UNITS
                                ? (uint32_t)cfg->num_units
                                : ENG_STORE_DEFAULT_EXTENT_UNITS;
    }
    ENG_ENSURE(cfg->extent_units <= cfg->num_units, ENG_ERR_GEOMETRY);
    ENG_ENSURE(eng_kt_check_geometry(cfg->mode, cfg->unit_size, cfg->num_units,
                                     cfg->extent_units) == 0,
               ENG_ERR_GEOMETRY);
    ENG_ENSURE(cfg->revalidate_s >= 1, ENG_ERR_ARG);
    ENG_ENSURE((cfg->flags & ENG_STORE_READ_ONLY) == 0, ENG_ERR_READ_ONLY);
    /* GCM: a write may touch a whole extent right after its re-key (st_prepare_write). */
    ENG_ENSURE(cfg->mode != ENG_MODE_GCM || cfg->extent_units <= ENG_STORE_GCM_DEK_LIMIT / 2,
               ENG_ERR_ARG);
    ENG_ENSURE(cfg->integrity == ENG_STORE_INTEGRITY_NONE ||
                   (cfg->integrity == ENG_STORE_INTEGRITY_HMAC_SHA256 && cfg->mode == ENG_MODE_XTS),
               ENG_ERR_ARG);
    return 0;
}


static int create_body(struct eng_store *s, eng_store_fill_fn fill, void *arg)
{
    const struct eng_store_config *cfg = &s->cfg;
    struct eng_keytable *kt = &s->kt;
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    ENG_ENSURE(RAND_bytes(kt->store_id, ENG_KT_ID_BYTES) == 1, ENG_ERR_RANDOM);
    kt->mode = (uint8_t)cfg->mode;
    kt->integrity = (uint8_t)cfg->integrity;
    kt->unit_size = cfg->unit_size;
    kt->num_units = cfg->num_units;
    kt->extent_units = cfg->extent_units;
    kt->num_extents = (uint32_t)((cfg->num_units + cfg->extent_units - 1) / cfg->extent_units);
    kt->num_slots = kt->num_extents + 1;
    ENG_GUARD(alloc_runtime(s));
    s->mac_key = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(s->mac_key != NULL, eng_errno());
    ENG_ENSURE(RAND_priv_bytes(s->mac_key, ENG_KT_MAC_BYTES) == 1, ENG_ERR_RANDOM);
    ENG_GUARD(st_wrap_into(s, &cur, s->mac_key, ENG_KT_MAC_BYTES, &kt->mac_key));
    s->mac_verified = 1;
    uint64_t now = (uint64_t)time(NULL);
    for (uint32_t e = 0; e < kt->num_extents; e++) {
        struct eng_kt_record rec;
        memset(&rec, 0, sizeof(rec));
        rec.dek_id = kt->next_dek_id++;
        rec.extent = e;
        rec.first_unit = (uint64_t)e * kt->extent_units;
        rec.num_units = kt->num_units - rec.first_unit < kt->extent_units
                            ? kt->num_units - rec.first_unit
                            : kt->extent_units;
        rec.slot = e;
        rec.state = ENG_KT_ACTIVE;
        rec.mode = kt->mode;
        rec.created = now;
        if (kt->mode == ENG_MODE_GCM) {
            rec.invocations = rec.num_units; /* the initial fill */
            s->inv_used[e] = rec.num_units;
        }
        ENG_GUARD(st_new_dek(s, &cur, &rec, &s->ciphers[e], ikey_at(s, e)));
        ENG_GUARD(eng_kt_append(kt, &rec));
    }
    st_index_active(s);
    if (!s->in_memory) {
        ENG_GUARD(open_data_files(s, 1));
    }
    mark_accessible(s);
    ENG_GUARD(st_initial_fill(s, fill, arg));
    if (s->in_memory) {
        kt->generation = 1;
        return 0;
    }
    ENG_GUARD(eng_store_sync(s));
    /* The key table goes last: its presence is what makes the folder a store. */
    ENG_GUARD(st_save_table(s, kt));
    ENG_GUARD(st_anchor_locate(s));
    return st_anchor_raise(s);
}

struct eng_store *eng_store_create_from(const char *dir, struct eng_kek_provider *kek,
                                        const struct eng_store_config *cfg,
                                        eng_store_fill_fn fill, void *arg)
{
    if (kek == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    if (cfg == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    struct eng_store_config c = *cfg;
    if (check_config(&c) != 0) {
        return NULL;
    }
    struct eng_store *s = store_new(kek, &c);
    if (s == NULL) {
        return NULL;
    }
    int made_dir = 0;
    if (dir == NULL) {
        s->in_memory = 1;
    } else {
        char p[PATH_MAX];
        int n = snprintf(s->dir, sizeof(s->dir), "%s", dir);
        if (n <= 0 || (size_t)n + 16 >= sizeof(s->dir)) {
            eng_store_close(s);
            ENG_BAIL_PTR(ENG_ERR_ARG);
        }
        if (mkdir(dir, 0700) == 0) {
            made_dir = 1;
        } else if (errno != EEXIST) {
            eng_store_close(s);
            ENG_BAIL_PTR(ENG_ERR_IO);
        }
        if (store_path(s, kt_name, p, sizeof(p)) != 0 || access(p, F_OK) == 0) {
            eng_store_close(s);
            ENG_BAIL_PTR(ENG_ERR_EXISTS);
        }
        if (lock_store(s) != 0) {
            int err = eng_errno();
            eng_store_close(s);
            ENG_BAIL_PTR(err);
        }
    }
    if (create_body(s, fill, arg) != 0) {
        int err = eng_errno();
        char copy[PATH_MAX];
        snprintf(copy, sizeof(copy), "%s", s->dir);
        int in_memory = s->in_memory;
        eng_store_close(s);
        if (!in_memory) {
            eng_store_remove_files(copy);
            if (made_dir) {
                rmdir(copy);
            }
        }
        ENG_BAIL_PTR(err);
    }
    return s;
}

struct eng_store *eng_store_create(const char *dir, struct eng_kek_provider *kek,
                                   const struct eng_store_config *cfg)
{
    if (dir == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    return eng_store_create_from(dir, kek, cfg, NULL, NULL);
}

struct eng_store *eng_store_create_memory(struct eng_kek_provider *kek,
                                          const struct eng_store_config *cfg)
{
    return eng_store_create_from(NULL, kek, cfg, NULL, NULL);
}

static int open_body(struct eng_store *s, const char *dir, int inspect)
{
    char p[PATH_MAX];
    int n = snprintf(s->dir, sizeof(s->dir), "%s", dir);
    ENG_ENSURE(n > 0 && (size_t)n + 16 < sizeof(s->dir), ENG_ERR_ARG);
    ENG_GUARD(store_path(s, kt_name, p, sizeof(p)));
    ENG_ENSURE(access(p, F_OK) == 0, ENG_ERR_NO_STORE);
    if (!inspect) {
        s->read_only = (s->cfg.flags & ENG_STORE_READ_ONLY) != 0;
        ENG_GUARD(lock_store(s));
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    ENG_GUARD(eng_kt_load(p, &s->kt, &raw, &raw_len));
    int rc = alloc_runtime(s);
    if (rc == 0) {
        st_index_active(s);
        for (uint32_t e = 0; e < s->kt.num_extents; e++) {
            s->inv_used[e] = s->kt.records[s->active[e]].invocations; /* all reserved: used */
        }
    }
    if (rc == 0 && inspect) {
        s->inspect_only = 1;
        s->cause = ENG_ERR_INACCESSIBLE;
    } else if (rc == 0) {
        /* Ask the provider before touching any wrapped key: a revoked key is the answer. */
        rc = check_kek_versions(s);
        if (rc == 0) {
            rc = load_keys(s, raw, raw_len);
        }
    }
    free(raw);
    ENG_GUARD(rc);
    if (inspect) {
        return 0;
    }
    /* The generation is authenticated by now (the MAC): compare it with the anchor. */
    ENG_GUARD(st_anchor_locate(s));
    ENG_GUARD(st_anchor_check(s));
    ENG_GUARD(open_data_files(s, 0));
    mark_accessible(s);
    return 0;
}

static struct eng_store *open_common(const char *dir, struct eng_kek_provider *kek,
                                     const struct eng_store_config *cfg, int inspect, int moving)
{
    if (dir == NULL || (kek == NULL && !inspect)) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    struct eng_store *s = store_new(kek, cfg);
    if (s == NULL) {
        return NULL;
    }
    s->moving = moving;
    if (open_body(s, dir, inspect) != 0) {
        int err = eng_errno();
        eng_store_close(s);
        ENG_BAIL_PTR(err);
    }
    return s;
}

struct eng_store *eng_store_open(const char *dir, struct eng_kek_provider *kek,
                                 const struct eng_store_config *cfg)
{
    return open_common(dir, kek, cfg, 0, 0);
}

int eng_store_move_kek(const char *dir, struct eng_kek_provider *kek,
                       const struct eng_store_config *cfg)
{
    struct eng_store *s = open_common(dir, kek, cfg, 0, 1);
    if (s == NULL) {
        return -1;
    }
    int rc = st_move_refs(s);
    int err = eng_errno();
    eng_store_close(s);
    if (rc < 0) {
        ENG_BAIL(err);
    }
    return rc;
}

struct eng_store *eng_store_inspect(const char *dir)
{
    return open_common(dir, NULL, NULL, 1, 0);
}

/* --- introspection ---------------------------------------------------------- */

int eng_store_get_info(const struct eng_store *s, struct eng_store_info *out)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    out->mode = (enum eng_mode)s->kt.mode;
    out->unit_size = s->kt.unit_size;
    out->num_units = s->kt.num_units;
    out->extent_units = s->kt.extent_units;
    out->num_extents = s->kt.num_extents;
    out->num_records = s->kt.num_records;
    out->generation = s->kt.generation;
    out->read_only = s->read_only;
    memcpy(out->store_id, s->kt.store_id, ENG_STORE_ID_BYTES);
    out->accessible = s->cause == ENG_OK;
    out->cause = s->cause;
    out->last_check_error = s->last_check_error;
    out->kek_expired = s->kek_expired;
    out->mac_verified = s->mac_verified;
    out->integrity = (enum eng_store_integrity)s->kt.integrity;
    out->in_memory = s->in_memory;
    out->backend = s->backend;
    out->arch = s->arch;
    out->revalidate_s = s->cfg.revalidate_s;
    return 0;
}

int eng_store_dek_info(const struct eng_store *s, uint32_t index, struct eng_store_dek *out)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE_REF(out);
    ENG_ENSURE(index < s->kt.num_records, ENG_ERR_RANGE);
    const struct eng_kt_record *r = &s->kt.records[index];
    memset(out, 0, sizeof(*out));
    out->dek_id = r->dek_id;
    out->extent = r->extent;
    out->first_unit = r->first_unit;
    out->num_units = r->num_units;
    out->slot = r->slot;
    out->active = r->state == ENG_KT_ACTIVE;
    out->created = r->created;
    out->kek = r->w.kek;
    out->wrapped_len = r->w.len;
    return 0;
}
