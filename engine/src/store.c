/*
 * store.c - the encrypted store (see eng_store.h for the model and layout):
 * configuration, files, create/open/close and introspection. The keys every
 * operation shares and revalidation are in store_keys.c, the batch path in
 * store_chunk.c, the data path in store_io.c, key rotation in
 * store_rotate.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

static const char *const kt_name = ST_KEYTABLE_NAME;
static const char *const data_name = "data";
static const char *const tags_name = "tags";
static const char *const macs_name = "macs";
static const char *const lock_name = "lock";

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
    /* O_NONBLOCK: a FIFO in its place must not block the open. */
    const int common = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
    s->lock_fd = open(p, (s->read_only ? O_RDONLY : O_RDWR | O_CREAT) | common, 0600);
    if (s->lock_fd < 0 && s->read_only && errno == ENOENT) {
        s->lock_fd = open(p, O_RDONLY | O_CREAT | common, 0600);
    }
    int code = s->lock_fd < 0 ? (errno == ENOENT  ? ENG_ERR_NO_STORE
                                 : errno == ELOOP ? ENG_ERR_NOT_REGULAR
                                                  : ENG_ERR_IO)
                              : ENG_OK;
    struct stat st;
    if (code == ENG_OK) {
        code = fstat(s->lock_fd, &st) != 0 ? ENG_ERR_IO
               : !S_ISREG(st.st_mode)      ? ENG_ERR_NOT_REGULAR
                                           : ENG_OK;
    }
    if (code != ENG_OK) {
        if (s->lock_fd >= 0) {
            close(s->lock_fd);
            s->lock_fd = -1;
        }
        eng_set_error_file(code, p, ENG_WHERE);
        return -1;
    }
    int op = (s->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB;
    uint64_t deadline = st_now_ns() + (uint64_t)s->cfg.lock_wait_s * 1000000000ULL;
    while (flock(s->lock_fd, op) != 0) {
        ENG_ENSURE(errno == EWOULDBLOCK || errno == EINTR, ENG_ERR_IO);
        ENG_ENSURE(st_now_ns() < deadline, ENG_ERR_STORE_BUSY);
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
        /* Every byte is written at creation: refuse up front rather than fill the disk. */
        struct statvfs fs;
        if (fstatvfs(*fd, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < len) {
            char named[PATH_MAX + 96];
            snprintf(named, sizeof(named), "%s: needs %" PRIu64 " bytes, %" PRIu64 " free", p, len,
                     (uint64_t)fs.f_bavail * fs.f_frsize);
            eng_set_error_file(ENG_ERR_NO_SPACE, named, ENG_WHERE);
            return -1;
        }
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
    st_drop_keys(s);
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

void eng_store_remove_files(const char *dir)
{
    /* "nonce": the boot counter file of stores made before random GCM nonces. */
    static const char *const names[] = {"keytable", "keytable.tmp", "data",      "tags",
                                        "macs",     "nonce",        "nonce.tmp", "lock"};
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
    ENG_ENSURE(
        eng_kt_check_geometry(cfg->mode, cfg->unit_size, cfg->num_units, cfg->extent_units) == 0,
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
        ENG_GUARD(st_new_dek(s, &cur, &rec, &s->ciphers[e], st_ikey_at(s, e)));
        ENG_GUARD(eng_kt_append(kt, &rec));
    }
    st_index_active(s);
    if (!s->in_memory) {
        ENG_GUARD(open_data_files(s, 1));
    }
    st_mark_accessible(s);
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
                                        const struct eng_store_config *cfg, eng_store_fill_fn fill,
                                        void *arg)
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
        rc = st_check_kek_versions(s);
        if (rc == 0) {
            rc = st_load_keys(s, raw, raw_len);
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
    st_mark_accessible(s);
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
