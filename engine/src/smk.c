/*
 * smk.c - the service-managed key (SMK) provider: KEK versions in a local
 * key file, AES-256 key wrap with padding (RFC 5649).
 *
 * Key file (big-endian, parsed with the bounds-checked reader):
 *   "CMKSMK01" | key id (16) | u32 n (1..SMK_MAX_VERSIONS) |
 *   n x { version id (16) | u8 enabled (0/1) | u64 created (unix s) | key (32) } |
 *   SHA-256 of everything before (32)
 * The last version is the current one. The file is read again for every
 * operation (it is small), so deleting it, disabling a version or loosening
 * its permissions takes effect at the next call; the parsed copy lives in
 * secure memory only for the duration of that call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base_codec.h"
#include "bytes_internal.h"
#include "eng_keys.h"
#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"

#define SMK_MAGIC        "CMKSMK01"
#define SMK_ID_BYTES     16U
#define SMK_MAX_VERSIONS 1024U
#define SMK_VER_BYTES    (SMK_ID_BYTES + 1 + 8 + ENG_AES256_KEY_BYTES)
#define SMK_MAX_FILE     (8 + SMK_ID_BYTES + 4 + SMK_MAX_VERSIONS * SMK_VER_BYTES + 32)

struct smk_version {
    uint8_t id[SMK_ID_BYTES];
    uint8_t enabled;
    uint64_t created;
    uint8_t key[ENG_AES256_KEY_BYTES];
};

/* Parsed key file; always in secure memory. */
struct smk_file {
    uint8_t key_id[SMK_ID_BYTES];
    uint32_t n;
    struct smk_version v[SMK_MAX_VERSIONS];
};

/*
 * The provider keeps one parsed-file buffer in secure memory for its whole
 * life, filled and wiped again by every call (under |mu|), so that a call
 * does not pay for mapping and locking fresh pages.
 */
struct smk_state {
    char path[PATH_MAX];
    char key_id_hex[2 * SMK_ID_BYTES + 1];
    pthread_mutex_t mu;
    struct smk_file *file;
};

static struct smk_file *smk_file_new(void)
{
    return eng_secure_alloc(sizeof(struct smk_file));
}

/* Parses |buf| into |f|: ENG_ERR_KEYFILE_CORRUPT on any mismatch. */
static int smk_parse(struct smk_file *f, const uint8_t *buf, size_t len)
{
    ENG_ENSURE(len >= 8 + SMK_ID_BYTES + 4 + SHA256_DIGEST_LENGTH, ENG_ERR_KEYFILE_CORRUPT);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(buf, len - SHA256_DIGEST_LENGTH, digest);
    ENG_ENSURE(eng_ct_equal(digest, buf + len - SHA256_DIGEST_LENGTH, SHA256_DIGEST_LENGTH),
               ENG_ERR_KEYFILE_CORRUPT);
    struct eng_rd r;
    eng_rd_init(&r, buf, len - SHA256_DIGEST_LENGTH);
    const uint8_t *magic;
    ENG_ENSURE(eng_rd_view(&r, &magic, 8) == 0 && memcmp(magic, SMK_MAGIC, 8) == 0,
               ENG_ERR_KEYFILE_CORRUPT);
    ENG_ENSURE(eng_rd_bytes(&r, f->key_id, SMK_ID_BYTES) == 0 && eng_rd_u32(&r, &f->n) == 0,
               ENG_ERR_KEYFILE_CORRUPT);
    ENG_ENSURE(f->n >= 1 && f->n <= SMK_MAX_VERSIONS, ENG_ERR_KEYFILE_CORRUPT);
    for (uint32_t i = 0; i < f->n; i++) {
        struct smk_version *v = &f->v[i];
        ENG_ENSURE(eng_rd_bytes(&r, v->id, SMK_ID_BYTES) == 0 && eng_rd_u8(&r, &v->enabled) == 0 &&
                       eng_rd_u64(&r, &v->created) == 0 &&
                       eng_rd_bytes(&r, v->key, sizeof(v->key)) == 0,
                   ENG_ERR_KEYFILE_CORRUPT);
        ENG_ENSURE(v->enabled <= 1, ENG_ERR_KEYFILE_CORRUPT);
    }
    ENG_ENSURE(r.left == 0, ENG_ERR_KEYFILE_CORRUPT);
    return 0;
}

static int smk_serialize(const struct smk_file *f, struct eng_wr *w)
{
    eng_wr_init(w, SMK_MAX_FILE);
    eng_wr_bytes(w, SMK_MAGIC, 8);
    eng_wr_bytes(w, f->key_id, SMK_ID_BYTES);
    eng_wr_u32(w, f->n);
    for (uint32_t i = 0; i < f->n; i++) {
        eng_wr_bytes(w, f->v[i].id, SMK_ID_BYTES);
        eng_wr_u8(w, f->v[i].enabled);
        eng_wr_u64(w, f->v[i].created);
        eng_wr_bytes(w, f->v[i].key, ENG_AES256_KEY_BYTES);
    }
    if (!w->failed) {
        uint8_t digest[SHA256_DIGEST_LENGTH];
        SHA256(w->b.data, w->b.len, digest);
        eng_wr_bytes(w, digest, sizeof(digest));
    }
    if (w->failed) {
        eng_wr_cleanup(w);
        ENG_BAIL(ENG_ERR_NOMEM);
    }
    return 0;
}

/* Wipes the part of |f| a parse may have filled. */
static void smk_file_wipe(struct smk_file *f)
{
    uint32_t n = f->n <= SMK_MAX_VERSIONS ? f->n : SMK_MAX_VERSIONS;
    eng_cleanse(f, offsetof(struct smk_file, v) + (size_t)n * sizeof(f->v[0]));
}

/* Reads and parses the key file into |f| (secure memory); |f| is wiped on failure. */
static int smk_load(const char *path, struct smk_file *f)
{
    int fd = eng_secret_open(path, ENG_ERR_KEK_NOT_FOUND, ENG_ERR_NOT_REGULAR);
    ENG_GUARD(fd);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = eng_read_fd(fd, SMK_MAX_FILE, ENG_ERR_KEYFILE_CORRUPT, &buf, &len);
    close(fd);
    ENG_GUARD(rc);
    rc = smk_parse(f, buf, len);
    eng_cleanse(buf, len);
    free(buf);
    if (rc != 0) {
        smk_file_wipe(f);
        return -1;
    }
    return 0;
}

static int smk_new_version(struct smk_version *v)
{
    ENG_ENSURE(RAND_bytes(v->id, SMK_ID_BYTES) == 1, ENG_ERR_RANDOM);
    ENG_ENSURE(RAND_priv_bytes(v->key, ENG_AES256_KEY_BYTES) == 1, ENG_ERR_RANDOM);
    v->enabled = 1;
    v->created = (uint64_t)time(NULL);
    return 0;
}

/*
 * Creates the key file if it does not exist: the full content goes to a
 * private temp file first, then link() publishes it only if |path| is still
 * free, so a crash or a concurrent creator never leaves a half-written file.
 */
static int smk_create(const char *path)
{
    struct smk_file *f = smk_file_new();
    ENG_ENSURE(f != NULL, eng_errno());
    int rc = -1;
    struct eng_wr w;
    eng_wr_init(&w, 0);
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
    if (n <= 0 || (size_t)n >= sizeof(tmp)) {
        ENG_SET_ERROR(ENG_ERR_ARG);
        goto out;
    }
    f->n = 1;
    if (RAND_bytes(f->key_id, SMK_ID_BYTES) != 1) {
        ENG_SET_ERROR(ENG_ERR_RANDOM);
        goto out;
    }
    if (smk_new_version(&f->v[0]) != 0 || smk_serialize(f, &w) != 0 ||
        eng_file_replace(tmp, w.b.data, w.b.len, 0600) != 0) {
        goto out;
    }
    if (link(tmp, path) != 0 && errno != EEXIST) {
        ENG_SET_ERROR(ENG_ERR_IO);
        unlink(tmp);
        goto out;
    }
    unlink(tmp);
    rc = eng_fsync_parent(path);
out:
    eng_wr_cleanup(&w);
    eng_secure_free(f);
    return rc;
}

/* Finds |hex| (NULL = current) in |f|; NULL with ENG_ERR_KEK_NOT_FOUND. */
static struct smk_version *smk_find(struct smk_file *f, const char *hex)
{
    if (hex == NULL || hex[0] == '\0') {
        return &f->v[f->n - 1];
    }
    char cur[2 * SMK_ID_BYTES + 1];
    for (uint32_t i = 0; i < f->n; i++) {
        base_hex(cur, f->v[i].id, SMK_ID_BYTES);
        if (strcmp(cur, hex) == 0) {
            return &f->v[i];
        }
    }
    ENG_BAIL_PTR(ENG_ERR_KEK_NOT_FOUND);
}

static void smk_fill_ref(const struct smk_state *s, const char *version, struct eng_kek_ref *out)
{
    snprintf(out->provider, sizeof(out->provider), "%s", ENG_SMK_PROVIDER_NAME);
    snprintf(out->key_id, sizeof(out->key_id), "%s", s->key_id_hex);
    snprintf(out->version, sizeof(out->version), "%s", version != NULL ? version : "");
    snprintf(out->alg, sizeof(out->alg), "%s", ENG_SMK_ALG);
}

/*
 * Loads the file and finds an enabled |version| of *our* key: a file that
 * now holds another key id means our key is gone (KEK_NOT_FOUND).
 */
static int smk_lookup(struct smk_state *s, const char *version, struct smk_version **out_v)
{
    struct smk_file *f = s->file;
    pthread_mutex_lock(&s->mu);
    if (smk_load(s->path, f) != 0) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    char id[2 * SMK_ID_BYTES + 1];
    base_hex(id, f->key_id, SMK_ID_BYTES);
    struct smk_version *v = NULL;
    int err = ENG_OK;
    if (strcmp(id, s->key_id_hex) != 0) {
        err = ENG_ERR_KEK_NOT_FOUND;
    } else if ((v = smk_find(f, version)) == NULL) {
        err = eng_errno();
    } else if (!v->enabled) {
        err = ENG_ERR_KEK_DISABLED;
    }
    if (err != ENG_OK) {
        smk_file_wipe(f);
        pthread_mutex_unlock(&s->mu);
        ENG_BAIL(err);
    }
    *out_v = v;
    return 0;
}

/* Ends what a successful smk_lookup started: wipes the parsed file, unlocks. */
static void smk_done(struct smk_state *s)
{
    smk_file_wipe(s->file);
    pthread_mutex_unlock(&s->mu);
}

static int smk_get(void *state, const char *version, struct eng_kek_ref *out)
{
    struct smk_state *s = state;
    struct smk_version *v;
    ENG_GUARD(smk_lookup(s, version, &v));
    char hex[2 * SMK_ID_BYTES + 1];
    base_hex(hex, v->id, SMK_ID_BYTES);
    smk_done(s);
    smk_fill_ref(s, hex, out);
    return 0;
}

/*
 * The SMK provider's counters: every field 0. It sends no request to any
 * service (each call reads the local key file), so requests, retries,
 * connections, latency and concurrency do not apply.
 */
static int smk_stats(void *state, struct eng_kek_stats *out)
{
    (void)state;
    memset(out, 0, sizeof(*out));
    return 0;
}

static int smk_describe(void *state, const char *version, struct eng_kek_ref *out)
{
    smk_fill_ref(state, version, out);
    return 0;
}

static int ref_is_ours(const struct smk_state *s, const struct eng_kek_ref *kek)
{
    return strcmp(kek->provider, ENG_SMK_PROVIDER_NAME) == 0 &&
           strcmp(kek->key_id, s->key_id_hex) == 0 && strcmp(kek->alg, ENG_SMK_ALG) == 0 &&
           kek->version[0] != '\0';
}

static EVP_CIPHER *kwp;
static pthread_once_t kwp_once = PTHREAD_ONCE_INIT;

static void kwp_fetch(void)
{
    kwp = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
}

/*
 * One RFC 5649 wrap or unwrap with |key|. OpenSSL's wrap ciphers do the whole
 * operation in one update call; 0 or -1 (ENG_ERR_UNWRAP when unwrapping fails
 * its integrity check).
 */
static int kwp_run(int enc, const uint8_t *key, uint8_t *out, size_t *out_len, size_t max_out_len,
                   const uint8_t *in, size_t in_len)
{
    pthread_once(&kwp_once, kwp_fetch);
    ENG_ENSURE(kwp != NULL, ENG_ERR_CRYPTO_LIB);
    /* Wrapping pads to 8 bytes and adds the 8-byte integrity block. */
    ENG_ENSURE(enc || in_len >= 16, ENG_ERR_UNWRAP);
    size_t need = enc ? ((in_len + 7) / 8) * 8 + 8 : in_len - 8;
    ENG_ENSURE(max_out_len >= need, ENG_ERR_WRAPPED_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    ENG_ENSURE(ctx != NULL, ENG_ERR_NOMEM);
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    int outl = 0;
    int fin = 0;
    int err = ENG_OK;
    if (EVP_CipherInit_ex2(ctx, kwp, key, NULL, enc, NULL) != 1) {
        err = ENG_ERR_CRYPTO_LIB;
    } else if (EVP_CipherUpdate(ctx, out, &outl, in, (int)in_len) != 1 || outl <= 0 ||
               EVP_CipherFinal_ex(ctx, out + outl, &fin) != 1) {
        err = enc ? ENG_ERR_CRYPTO_LIB : ENG_ERR_UNWRAP;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (err != ENG_OK) {
        eng_cleanse(out, max_out_len);
        ENG_BAIL(err);
    }
    *out_len = (size_t)outl + (size_t)fin;
    return 0;
}

static int smk_crypt(void *state, int enc, const struct eng_kek_ref *kek, uint8_t *out,
                     size_t *out_len, size_t max_out_len, const uint8_t *in, size_t in_len)
{
    struct smk_state *s = state;
    ENG_ENSURE(ref_is_ours(s, kek), ENG_ERR_KEK_MISMATCH);
    struct smk_version *v;
    ENG_GUARD(smk_lookup(s, kek->version, &v));
    int rc = kwp_run(enc, v->key, out, out_len, max_out_len, in, in_len);
    smk_done(s);
    return rc;
}

static int smk_wrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                    size_t max_out_len, const uint8_t *dek, size_t dek_len)
{
    return smk_crypt(state, 1, kek, out, out_len, max_out_len, dek, dek_len);
}

static int smk_unwrap(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                      size_t max_out_len, const uint8_t *in, size_t in_len)
{
    return smk_crypt(state, 0, kek, out, out_len, max_out_len, in, in_len);
}

static void smk_free(void *state)
{
    struct smk_state *s = state;
    if (s != NULL) {
        eng_secure_free(s->file);
        pthread_mutex_destroy(&s->mu);
        eng_cleanse(s, sizeof(*s));
        free(s);
    }
}

struct eng_kek_provider *eng_smk_open(const char *path, int create)
{
    if (path == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    if (strlen(path) + 16 >= PATH_MAX) {
        ENG_BAIL_PTR(ENG_ERR_ARG);
    }
    if (create && access(path, F_OK) != 0 && errno == ENOENT && smk_create(path) != 0) {
        return NULL;
    }
    struct smk_state *s = calloc(1, sizeof(*s));
    struct eng_kek_provider *p = calloc(1, sizeof(*p));
    if (s == NULL || p == NULL) {
        free(s);
        free(p);
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    pthread_mutex_init(&s->mu, NULL);
    s->file = smk_file_new();
    if (s->file == NULL || smk_load(path, s->file) != 0) {
        int err = eng_errno();
        smk_free(s);
        free(p);
        ENG_BAIL_PTR(err);
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    base_hex(s->key_id_hex, s->file->key_id, SMK_ID_BYTES);
    smk_file_wipe(s->file);
    p->name = ENG_SMK_PROVIDER_NAME;
    p->state = s;
    p->get = smk_get;
    p->wrap = smk_wrap;
    p->unwrap = smk_unwrap;
    p->describe = smk_describe;
    p->stats = smk_stats;
    p->free = smk_free;
    return p;
}

/* Runs |edit| on the key file under an exclusive lock on "<path>.lock", then replaces it. */
static int smk_edit(const char *path, int (*edit)(struct smk_file *f, const void *arg),
                    const void *arg)
{
    char lock_path[PATH_MAX];
    int n = snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
    ENG_ENSURE(n > 0 && (size_t)n < sizeof(lock_path), ENG_ERR_ARG);
    int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    ENG_ENSURE(lfd >= 0, ENG_ERR_IO);
    if (flock(lfd, LOCK_EX) != 0) {
        close(lfd);
        ENG_BAIL(ENG_ERR_IO);
    }
    struct smk_file *f = smk_file_new();
    struct eng_wr w;
    eng_wr_init(&w, 0);
    int rc = -1;
    if (f != NULL && smk_load(path, f) == 0 && edit(f, arg) == 0 && smk_serialize(f, &w) == 0) {
        rc = eng_file_replace(path, w.b.data, w.b.len, 0600);
    }
    eng_wr_cleanup(&w);
    eng_secure_free(f);
    close(lfd); /* releases the lock */
    return rc;
}

struct rotate_arg {
    char *out_version;
    size_t max_out_len;
};

static int edit_rotate(struct smk_file *f, const void *arg)
{
    const struct rotate_arg *a = arg;
    ENG_ENSURE(f->n < SMK_MAX_VERSIONS, ENG_ERR_TOO_LONG);
    ENG_GUARD(smk_new_version(&f->v[f->n]));
    if (a->out_version != NULL) {
        ENG_ENSURE(a->max_out_len >= 2 * SMK_ID_BYTES + 1, ENG_ERR_ARG);
        base_hex(a->out_version, f->v[f->n].id, SMK_ID_BYTES);
    }
    f->n++;
    return 0;
}

int eng_smk_rotate(const char *path, char *out_version, size_t max_out_len)
{
    ENG_ENSURE_REF(path);
    struct rotate_arg a = {out_version, max_out_len};
    return smk_edit(path, edit_rotate, &a);
}

struct enable_arg {
    const char *version;
    int enabled;
};

static int edit_enable(struct smk_file *f, const void *arg)
{
    const struct enable_arg *a = arg;
    struct smk_version *v = smk_find(f, a->version);
    ENG_ENSURE(v != NULL, ENG_ERR_KEK_NOT_FOUND);
    v->enabled = a->enabled ? 1 : 0;
    return 0;
}

int eng_smk_set_enabled(const char *path, const char *version, int enabled)
{
    ENG_ENSURE_REF(path);
    struct enable_arg a = {version, enabled};
    return smk_edit(path, edit_enable, &a);
}
