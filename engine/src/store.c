/*
 * store.c - the encrypted store (see eng_store.h for the model and layout).
 *
 * The hot path is: check access (one clock read), then for each run of
 * units inside one extent, in batches of ENG_STORE_BATCH, fill the unit
 * descriptors and call eng_cipher_batch once, then one pread/pwrite for the
 * run. Reads decrypt in place in the caller's buffer; writes encrypt into a
 * staging buffer (file) or straight into the slot (memory store).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bytes_internal.h"
#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

#define NONCE_MAGIC "CMKNC001"
#define NONCE_FILE_BYTES (8 + 4 + 32)

static const char *const kt_name = "keytable";
static const char *const data_name = "data";
static const char *const tags_name = "tags";
static const char *const nonce_name = "nonce";
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
    cfg->extent_units = ENG_STORE_DEFAULT_EXTENT_UNITS;
    cfg->backend = ENG_BACKEND_AUTO;
    cfg->arch = ENG_ARCH_AUTO;
    cfg->revalidate_s = ENG_STORE_DEFAULT_REVALIDATE_S;
    cfg->grace_s = ENG_STORE_DEFAULT_GRACE_S;
}

static uint64_t slot_bytes(const struct eng_store *s)
{
    return (uint64_t)s->kt.extent_units * s->kt.unit_size;
}

static int store_path(const struct eng_store *s, const char *name, char *out, size_t max_out_len)
{
    return eng_path_join(out, max_out_len, s->dir, name);
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
static int unwrap_into(struct eng_store *s, const struct eng_kt_wrapped *w, uint8_t *out,
                       size_t *out_len)
{
    return eng_kek_unwrap(s->kek, &w->kek, out, out_len, ENG_DEK_MAX_BYTES, w->bytes, w->len);
}

static int wrap_into(struct eng_store *s, const struct eng_kek_ref *cur, const uint8_t *key,
                     size_t key_len, struct eng_kt_wrapped *w)
{
    size_t len = 0;
    ENG_GUARD(eng_kek_wrap(s->kek, cur, w->bytes, &len, sizeof(w->bytes), key, key_len));
    w->kek = *cur;
    w->len = (uint16_t)len;
    return 0;
}

static int cipher_for(struct eng_store *s, const uint8_t *dek, size_t dek_len,
                      struct eng_cipher **out)
{
    ENG_ENSURE(dek_len == eng_dek_len((enum eng_mode)s->kt.mode), ENG_ERR_UNWRAP);
    struct eng_cipher *c = eng_cipher_new((enum eng_mode)s->kt.mode, s->cfg.backend, s->cfg.arch,
                                          dek, dek_len);
    ENG_ENSURE(c != NULL, eng_errno());
    s->backend = eng_cipher_backend(c);
    s->arch = eng_cipher_arch(c);
    *out = c;
    return 0;
}

/* The ref must be for the provider and key this store was created with. */
static int ref_matches(struct eng_store *s, const struct eng_kek_ref *r)
{
    struct eng_kek_ref mine;
    ENG_GUARD(eng_kek_describe(s->kek, NULL, &mine));
    ENG_ENSURE(strcmp(mine.provider, r->provider) == 0 && strcmp(mine.key_id, r->key_id) == 0,
               ENG_ERR_KEK_MISMATCH);
    return 0;
}

/*
 * Asks the provider about every KEK version the store depends on (the MAC
 * key's and each active DEK's; usually one). 0, or -1 with its error.
 */
static int check_kek_versions(struct eng_store *s)
{
    struct eng_kek_ref ref;
    const char *last = s->kt.mac_key.kek.version;
    ENG_GUARD(ref_matches(s, &s->kt.mac_key.kek));
    ENG_GUARD(eng_kek_get(s->kek, last, &ref));
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        const struct eng_kt_record *r = &s->kt.records[i];
        if (r->state != ENG_KT_ACTIVE || strcmp(r->w.kek.version, last) == 0) {
            continue;
        }
        last = r->w.kek.version;
        ENG_GUARD(ref_matches(s, &r->w.kek));
        ENG_GUARD(eng_kek_get(s->kek, last, &ref));
    }
    return 0;
}

/* Unwraps the MAC key, checks the table's MAC, unwraps every active DEK. */
static int load_keys(struct eng_store *s, const uint8_t *raw, size_t raw_len)
{
    size_t len = 0;
    s->mac_key = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(s->mac_key != NULL, eng_errno());
    ENG_GUARD(unwrap_into(s, &s->kt.mac_key, s->mac_key, &len));
    ENG_ENSURE(len == ENG_KT_MAC_BYTES, ENG_ERR_KEYTABLE_AUTH);
    ENG_GUARD(eng_kt_check_mac(raw, raw_len, s->mac_key));
    s->mac_verified = 1;
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        const struct eng_kt_record *r = &s->kt.records[i];
        if (r->state != ENG_KT_ACTIVE) {
            continue;
        }
        int rc = unwrap_into(s, &r->w, s->scratch_key, &len);
        if (rc == 0) {
            rc = cipher_for(s, s->scratch_key, len, &s->ciphers[r->extent]);
        }
        eng_cleanse(s->scratch_key, ENG_DEK_MAX_BYTES);
        ENG_GUARD(rc);
    }
    return 0;
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

/* --- the batch path ------------------------------------------------------ */

static uint8_t *tag_rec(struct eng_store *s, uint32_t slot, uint64_t index_in_extent)
{
    return s->tags + ((uint64_t)slot * s->kt.extent_units + index_in_extent) * ENG_STORE_TAG_REC;
}

static uint64_t slot_offset(const struct eng_store *s, uint32_t slot, uint64_t index_in_extent)
{
    return (uint64_t)slot * slot_bytes(s) + index_in_extent * s->kt.unit_size;
}

/*
 * Fills the unit descriptors for units |u| .. |u| + |n| - 1 of an extent
 * whose first unit is |first| and that lives in |slot|, and runs one batch.
 * Encrypting under GCM draws fresh nonces into the tag records.
 */
static int crypt_run(struct eng_store *s, const struct eng_cipher *c, enum eng_dir dir,
                     uint32_t slot, uint64_t first, uint64_t u, size_t n, const uint8_t *in,
                     uint8_t *out)
{
    size_t us = s->kt.unit_size;
    int gcm = s->kt.mode == ENG_MODE_GCM;
    if (gcm && dir == ENG_ENCRYPT) {
        ENG_ENSURE(s->counter <= UINT64_MAX - n, ENG_ERR_NONCE_EXHAUSTED);
    }
    for (size_t j = 0; j < n; j++) {
        struct eng_unit *x = &s->units[j];
        memset(x, 0, sizeof(*x));
        x->in = in + j * us;
        x->out = out + j * us;
        x->len = us;
        if (!gcm) {
            eng_xts_tweak_from_u64(s->ivs[j], u + j);
            x->iv = s->ivs[j];
            x->iv_len = ENG_XTS_TWEAK_BYTES;
            continue;
        }
        uint8_t *rec = tag_rec(s, slot, u + j - first);
        if (dir == ENG_ENCRYPT) {
            /*
             *= https://csrc.nist.gov/pubs/sp/800/38/d/final#section-8.2.1
             *# Deterministic construction: the fixed field identifies the
             *# device or context, the invocation field is incremented for
             *# each invocation of the authenticated encryption function.
             * Fixed field = the boot counter, persisted and fsynced before
             * this open encrypts anything; invocation field = a 64-bit
             * counter that only grows while the store is open. No (DEK,
             * nonce) pair repeats, across reopen and crash included; no
             * 2^32-messages bound applies (that is for random IVs, 8.3).
             */
            rec[0] = (uint8_t)(s->boot >> 24);
            rec[1] = (uint8_t)(s->boot >> 16);
            rec[2] = (uint8_t)(s->boot >> 8);
            rec[3] = (uint8_t)s->boot;
            eng_be64_put(rec + 4, s->counter++);
        }
        memcpy(s->aads[j], s->kt.store_id, ENG_STORE_ID_BYTES);
        eng_be64_put(s->aads[j] + ENG_STORE_ID_BYTES, u + j);
        x->iv = rec;
        x->iv_len = ENG_GCM_NONCE_BYTES;
        x->aad = s->aads[j];
        x->aad_len = ENG_STORE_AAD_BYTES;
        x->tag = rec + ENG_GCM_NONCE_BYTES;
        x->tag_len = ENG_GCM_TAG_BYTES;
    }
    return eng_cipher_batch(c, dir, s->units, n);
}

static int persist_tags(struct eng_store *s, uint32_t slot, uint64_t index, size_t n)
{
    if (s->kt.mode != ENG_MODE_GCM || s->in_memory) {
        return 0;
    }
    uint64_t off = ((uint64_t)slot * s->kt.extent_units + index) * ENG_STORE_TAG_REC;
    return eng_pwrite_all(s->tags_fd, tag_rec(s, slot, index), n * ENG_STORE_TAG_REC, off);
}

/* Encrypts |n| <= BATCH units of one extent from |in| into |slot|. */
static int write_chunk(struct eng_store *s, const struct eng_cipher *c, uint32_t slot,
                       uint64_t first, uint64_t u, size_t n, const uint8_t *in)
{
    uint64_t index = u - first;
    if (s->in_memory) {
        return crypt_run(s, c, ENG_ENCRYPT, slot, first, u, n, in,
                         s->mem_data + slot_offset(s, slot, index));
    }
    ENG_GUARD(crypt_run(s, c, ENG_ENCRYPT, slot, first, u, n, in, s->stage));
    ENG_GUARD(eng_pwrite_all(s->data_fd, s->stage, n * s->kt.unit_size,
                             slot_offset(s, slot, index)));
    return persist_tags(s, slot, index, n);
}

/* Decrypts |n| <= BATCH units of one extent from |slot| into |out|. */
static int read_chunk(struct eng_store *s, const struct eng_cipher *c, uint32_t slot,
                      uint64_t first, uint64_t u, size_t n, uint8_t *out)
{
    uint64_t index = u - first;
    if (s->in_memory) {
        return crypt_run(s, c, ENG_DECRYPT, slot, first, u, n,
                         s->mem_data + slot_offset(s, slot, index), out);
    }
    ENG_GUARD(eng_pread_all(s->data_fd, out, n * s->kt.unit_size, slot_offset(s, slot, index),
                            ENG_ERR_STORE_CORRUPT));
    return crypt_run(s, c, ENG_DECRYPT, slot, first, u, n, out, out);
}

typedef int (*chunk_fn)(struct eng_store *s, const struct eng_cipher *c, uint32_t slot,
                        uint64_t first, uint64_t u, size_t n, uint8_t *buf);

static int write_chunk_fn(struct eng_store *s, const struct eng_cipher *c, uint32_t slot,
                          uint64_t first, uint64_t u, size_t n, uint8_t *buf)
{
    return write_chunk(s, c, slot, first, u, n, buf);
}

/* Splits [first_unit, first_unit + num_units) at extent and batch boundaries. */
static int for_each_chunk(struct eng_store *s, uint64_t first_unit, size_t num_units,
                          uint8_t *buf, chunk_fn fn)
{
    ENG_ENSURE(first_unit <= s->kt.num_units && num_units <= s->kt.num_units - first_unit,
               ENG_ERR_RANGE);
    size_t us = s->kt.unit_size;
    uint64_t u = first_unit;
    uint64_t end = first_unit + num_units;
    int first_err = ENG_OK;
    while (u < end) {
        uint32_t e = (uint32_t)(u / s->kt.extent_units);
        ENG_ENSURE(s->ciphers[e] != NULL, ENG_ERR_INTERNAL);
        const struct eng_kt_record *r = &s->kt.records[s->active[e]];
        uint64_t ext_end = r->first_unit + r->num_units;
        size_t n = (size_t)((ext_end < end ? ext_end : end) - u);
        if (n > ENG_STORE_BATCH) {
            n = ENG_STORE_BATCH;
        }
        if (fn(s, s->ciphers[e], r->slot, r->first_unit, u, n, buf + (u - first_unit) * us) != 0) {
            /* An authentication failure affects only its units (zeroed); go on, report it. */
            if (eng_errno() != ENG_ERR_AUTH) {
                return -1;
            }
            first_err = ENG_ERR_AUTH;
        }
        u += n;
    }
    ENG_ENSURE(first_err == ENG_OK, first_err);
    return 0;
}

int eng_store_write(struct eng_store *s, uint64_t first_unit, size_t num_units, const void *in)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(in != NULL || num_units == 0, ENG_ERR_NULL);
    ENG_GUARD(eng_store_check_access(s));
    /* The chunk walker takes a mutable buffer for both directions; writes only read it. */
    uint8_t *buf = (uint8_t *)(uintptr_t)in;
    ENG_GUARD(for_each_chunk(s, first_unit, num_units, buf, write_chunk_fn));
    if ((s->cfg.flags & ENG_STORE_SYNC) != 0) {
        ENG_GUARD(eng_store_sync(s));
    }
    return 0;
}

int eng_store_read(struct eng_store *s, uint64_t first_unit, size_t num_units, void *out)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(out != NULL || num_units == 0, ENG_ERR_NULL);
    ENG_GUARD(eng_store_check_access(s));
    return for_each_chunk(s, first_unit, num_units, out, read_chunk);
}

int eng_store_sync(struct eng_store *s)
{
    ENG_ENSURE_REF(s);
    if (s->in_memory || s->inspect_only) {
        return 0;
    }
    ENG_ENSURE(fdatasync(s->data_fd) == 0, ENG_ERR_IO);
    if (s->kt.mode == ENG_MODE_GCM) {
        ENG_ENSURE(fdatasync(s->tags_fd) == 0, ENG_ERR_IO);
    }
    return 0;
}

/* Byte ranges: whole units go straight through; a partial head or tail is read, patched, written. */
static int bytes_op(struct eng_store *s, uint64_t offset, uint8_t *buf, size_t len, int write)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(buf != NULL || len == 0, ENG_ERR_NULL);
    uint64_t total = s->kt.num_units * s->kt.unit_size;
    ENG_ENSURE(offset <= total && len <= total - offset, ENG_ERR_RANGE);
    size_t us = s->kt.unit_size;
    uint8_t *unit = malloc(us);
    ENG_ENSURE(unit != NULL, ENG_ERR_NOMEM);
    int rc = 0;
    while (len > 0 && rc == 0) {
        uint64_t u = offset / us;
        size_t in_unit = (size_t)(offset % us);
        if (in_unit == 0 && len >= us) {
            size_t n = len / us;
            rc = write ? eng_store_write(s, u, n, buf) : eng_store_read(s, u, n, buf);
            n *= us;
            buf += n;
            offset += n;
            len -= n;
            continue;
        }
        size_t take = us - in_unit < len ? us - in_unit : len;
        rc = eng_store_read(s, u, 1, unit);
        if (rc == 0 && write) {
            memcpy(unit + in_unit, buf, take);
            rc = eng_store_write(s, u, 1, unit);
        } else if (rc == 0) {
            memcpy(buf, unit + in_unit, take);
        }
        buf += take;
        offset += take;
        len -= take;
    }
    eng_cleanse(unit, us);
    free(unit);
    return rc;
}

int eng_store_write_bytes(struct eng_store *s, uint64_t offset, const void *in, size_t in_len)
{
    return bytes_op(s, offset, (uint8_t *)(uintptr_t)in, in_len, 1);
}

int eng_store_read_bytes(struct eng_store *s, uint64_t offset, void *out, size_t out_len)
{
    return bytes_op(s, offset, out, out_len, 0);
}

/* --- files ---------------------------------------------------------------- */

static int lock_store(struct eng_store *s)
{
    char p[PATH_MAX];
    ENG_GUARD(store_path(s, lock_name, p, sizeof(p)));
    s->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    ENG_ENSURE(s->lock_fd >= 0, errno == ENOENT ? ENG_ERR_NO_STORE : ENG_ERR_IO);
    ENG_ENSURE(flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0, ENG_ERR_STORE_BUSY);
    return 0;
}

static int nonce_write(struct eng_store *s, uint32_t boot)
{
    char p[PATH_MAX];
    uint8_t buf[NONCE_FILE_BYTES];
    ENG_GUARD(store_path(s, nonce_name, p, sizeof(p)));
    memcpy(buf, NONCE_MAGIC, 8);
    buf[8] = (uint8_t)(boot >> 24);
    buf[9] = (uint8_t)(boot >> 16);
    buf[10] = (uint8_t)(boot >> 8);
    buf[11] = (uint8_t)boot;
    SHA256(buf, 12, buf + 12);
    return eng_file_replace(p, buf, sizeof(buf), 0600);
}

/* Reads the boot counter, then persists boot + 1 (fsynced) before anything is encrypted. */
static int nonce_bump(struct eng_store *s)
{
    char p[PATH_MAX];
    ENG_GUARD(store_path(s, nonce_name, p, sizeof(p)));
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ENG_ENSURE(fd >= 0, ENG_ERR_STORE_CORRUPT);
    uint8_t buf[NONCE_FILE_BYTES];
    uint8_t digest[32];
    int rc = eng_pread_all(fd, buf, sizeof(buf), 0, ENG_ERR_STORE_CORRUPT);
    close(fd);
    ENG_GUARD(rc);
    SHA256(buf, 12, digest);
    ENG_ENSURE(memcmp(buf, NONCE_MAGIC, 8) == 0 && memcmp(digest, buf + 12, 32) == 0,
               ENG_ERR_STORE_CORRUPT);
    uint32_t boot = ((uint32_t)buf[8] << 24) | ((uint32_t)buf[9] << 16) |
                    ((uint32_t)buf[10] << 8) | buf[11];
    ENG_ENSURE(boot < UINT32_MAX, ENG_ERR_NONCE_EXHAUSTED);
    ENG_GUARD(nonce_write(s, boot + 1));
    s->boot = boot + 1;
    s->counter = 0;
    return 0;
}

static int open_data_files(struct eng_store *s, int create)
{
    char p[PATH_MAX];
    uint64_t data_len = (uint64_t)s->kt.num_slots * slot_bytes(s);
    uint64_t tags_len = (uint64_t)s->kt.num_slots * s->kt.extent_units * ENG_STORE_TAG_REC;
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_EXCL : 0);
    struct stat st;
    ENG_GUARD(store_path(s, data_name, p, sizeof(p)));
    s->data_fd = open(p, flags, 0600);
    ENG_ENSURE(s->data_fd >= 0, create ? ENG_ERR_IO : ENG_ERR_STORE_CORRUPT);
    if (create) {
        ENG_ENSURE(ftruncate(s->data_fd, (off_t)data_len) == 0, ENG_ERR_IO);
    }
    ENG_ENSURE(fstat(s->data_fd, &st) == 0, ENG_ERR_IO);
    ENG_ENSURE((uint64_t)st.st_size == data_len, ENG_ERR_STORE_CORRUPT);
    if (s->kt.mode != ENG_MODE_GCM) {
        return 0;
    }
    ENG_GUARD(store_path(s, tags_name, p, sizeof(p)));
    s->tags_fd = open(p, flags, 0600);
    ENG_ENSURE(s->tags_fd >= 0, create ? ENG_ERR_IO : ENG_ERR_STORE_CORRUPT);
    if (create) {
        ENG_ENSURE(ftruncate(s->tags_fd, (off_t)tags_len) == 0, ENG_ERR_IO);
        return 0;
    }
    ENG_ENSURE(fstat(s->tags_fd, &st) == 0, ENG_ERR_IO);
    ENG_ENSURE((uint64_t)st.st_size == tags_len, ENG_ERR_STORE_CORRUPT);
    return eng_pread_all(s->tags_fd, s->tags, tags_len, 0, ENG_ERR_STORE_CORRUPT);
}

/* Records, per extent, which key-table record is active (the table's invariants make it unique). */
static void index_active(struct eng_store *s)
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
    ENG_ENSURE(s->ciphers != NULL && s->active != NULL, ENG_ERR_NOMEM);
    /* One locked page for every key the store handles in the clear, reused and wiped. */
    s->scratch_key = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(s->scratch_key != NULL, eng_errno());
    if (s->kt.mode == ENG_MODE_GCM) {
        s->tags = calloc((size_t)s->kt.num_slots * s->kt.extent_units, ENG_STORE_TAG_REC);
        ENG_ENSURE(s->tags != NULL, ENG_ERR_NOMEM);
    }
    if (s->in_memory) {
        s->mem_data = calloc(s->kt.num_slots, (size_t)slot_bytes(s));
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
    free(s->tags);
    free(s->mem_data);
    free(s->stage);
    if (s->data_fd >= 0) {
        close(s->data_fd);
    }
    if (s->tags_fd >= 0) {
        close(s->tags_fd);
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
static int new_dek(struct eng_store *s, const struct eng_kek_ref *cur, struct eng_kt_record *rec,
                   struct eng_cipher **out)
{
    size_t len = eng_dek_len((enum eng_mode)s->kt.mode);
    uint8_t *dek = s->scratch_key;
    int rc = -1;
    if (eng_dek_generate((enum eng_mode)s->kt.mode, dek, ENG_DEK_MAX_BYTES) == 0 &&
        wrap_into(s, cur, dek, len, &rec->w) == 0 && cipher_for(s, dek, len, out) == 0) {
        rc = 0;
    }
    eng_cleanse(dek, ENG_DEK_MAX_BYTES);
    return rc;
}

void eng_store_remove_files(const char *dir)
{
    static const char *const names[] = {"keytable", "keytable.tmp", "data", "tags",
                                        "nonce",    "nonce.tmp",    "lock"};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (eng_path_join(p, sizeof(p), dir, names[i]) == 0) {
            unlink(p);
        }
    }
}

static int check_config(const struct eng_store_config *cfg)
{
    ENG_ENSURE_REF(cfg);
    ENG_GUARD(eng_kt_check_geometry(cfg->mode, cfg->unit_size, cfg->num_units, cfg->extent_units));
    ENG_ENSURE(cfg->revalidate_s >= 1, ENG_ERR_ARG);
    return 0;
}

/* Writes every unit once: zeros, or what |fill| supplies. */
static int initial_fill(struct eng_store *s, eng_store_fill_fn fill, void *arg)
{
    size_t chunk = ENG_STORE_BATCH;
    uint8_t *buf = calloc(chunk, s->kt.unit_size);
    ENG_ENSURE(buf != NULL, ENG_ERR_NOMEM);
    int rc = 0;
    for (uint64_t u = 0; u < s->kt.num_units && rc == 0; u += chunk) {
        size_t n = s->kt.num_units - u < chunk ? (size_t)(s->kt.num_units - u) : chunk;
        if (fill != NULL) {
            rc = fill(arg, u, n, buf);
        }
        if (rc == 0) {
            rc = for_each_chunk(s, u, n, buf, write_chunk_fn);
        }
    }
    eng_cleanse(buf, chunk * s->kt.unit_size);
    free(buf);
    return rc;
}

static int create_body(struct eng_store *s, eng_store_fill_fn fill, void *arg)
{
    const struct eng_store_config *cfg = &s->cfg;
    struct eng_keytable *kt = &s->kt;
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    ENG_ENSURE(RAND_bytes(kt->store_id, ENG_KT_ID_BYTES) == 1, ENG_ERR_RANDOM);
    kt->mode = (uint8_t)cfg->mode;
    kt->unit_size = cfg->unit_size;
    kt->num_units = cfg->num_units;
    kt->extent_units = cfg->extent_units;
    kt->num_extents = (uint32_t)((cfg->num_units + cfg->extent_units - 1) / cfg->extent_units);
    kt->num_slots = kt->num_extents + 1;
    ENG_GUARD(alloc_runtime(s));
    s->mac_key = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(s->mac_key != NULL, eng_errno());
    ENG_ENSURE(RAND_priv_bytes(s->mac_key, ENG_KT_MAC_BYTES) == 1, ENG_ERR_RANDOM);
    ENG_GUARD(wrap_into(s, &cur, s->mac_key, ENG_KT_MAC_BYTES, &kt->mac_key));
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
        ENG_GUARD(new_dek(s, &cur, &rec, &s->ciphers[e]));
        ENG_GUARD(eng_kt_append(kt, &rec));
    }
    index_active(s);
    s->boot = 1;
    s->counter = 0;
    if (!s->in_memory) {
        ENG_GUARD(open_data_files(s, 1));
        if (kt->mode == ENG_MODE_GCM) {
            ENG_GUARD(nonce_write(s, s->boot));
        }
    }
    mark_accessible(s);
    ENG_GUARD(initial_fill(s, fill, arg));
    if (s->in_memory) {
        kt->generation = 1;
        return 0;
    }
    ENG_GUARD(eng_store_sync(s));
    /* The key table goes last: its presence is what makes the folder a store. */
    char p[PATH_MAX];
    ENG_GUARD(store_path(s, kt_name, p, sizeof(p)));
    return eng_kt_save(p, kt, s->mac_key);
}

struct eng_store *eng_store_create_from(const char *dir, struct eng_kek_provider *kek,
                                        const struct eng_store_config *cfg,
                                        eng_store_fill_fn fill, void *arg)
{
    if (kek == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    if (check_config(cfg) != 0) {
        return NULL;
    }
    struct eng_store *s = store_new(kek, cfg);
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
        ENG_GUARD(lock_store(s));
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    ENG_GUARD(eng_kt_load(p, &s->kt, &raw, &raw_len));
    int rc = alloc_runtime(s);
    if (rc == 0) {
        index_active(s);
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
    ENG_GUARD(open_data_files(s, 0));
    if (s->kt.mode == ENG_MODE_GCM) {
        ENG_GUARD(nonce_bump(s));
    }
    mark_accessible(s);
    return 0;
}

static struct eng_store *open_common(const char *dir, struct eng_kek_provider *kek,
                                     const struct eng_store_config *cfg, int inspect)
{
    if (dir == NULL || (kek == NULL && !inspect)) {
        ENG_BAIL_PTR(ENG_ERR_NULL);
    }
    struct eng_store *s = store_new(kek, cfg);
    if (s == NULL) {
        return NULL;
    }
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
    return open_common(dir, kek, cfg, 0);
}

struct eng_store *eng_store_inspect(const char *dir)
{
    return open_common(dir, NULL, NULL, 1);
}

/* --- rotation -------------------------------------------------------------- */

/* Replaces the store's key table with |nk| (persisted first for a folder store). */
static int commit_table(struct eng_store *s, struct eng_keytable *nk)
{
    if (s->in_memory) {
        nk->generation++;
    } else {
        char p[PATH_MAX];
        ENG_GUARD(store_path(s, kt_name, p, sizeof(p)));
        ENG_GUARD(eng_kt_save(p, nk, s->mac_key));
    }
    eng_kt_cleanup(&s->kt);
    s->kt = *nk;
    memset(nk, 0, sizeof(*nk));
    index_active(s);
    return 0;
}

/* Unwraps |w| with its own KEK version and wraps it again under |cur|. */
static int rewrap(struct eng_store *s, const struct eng_kek_ref *cur, struct eng_kt_wrapped *w)
{
    if (strcmp(w->kek.version, cur->version) == 0 && strcmp(w->kek.alg, cur->alg) == 0) {
        return 0;
    }
    size_t len = 0;
    int rc = unwrap_into(s, w, s->scratch_key, &len);
    if (rc == 0) {
        rc = wrap_into(s, cur, s->scratch_key, len, w);
    }
    eng_cleanse(s->scratch_key, ENG_DEK_MAX_BYTES);
    return rc;
}

int eng_store_rotate_kek(struct eng_store *s)
{
    ENG_ENSURE_REF(s);
    ENG_GUARD(eng_store_check_access(s));
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    ENG_GUARD(ref_matches(s, &cur));
    struct eng_keytable nk;
    ENG_GUARD(eng_kt_copy(&nk, &s->kt));
    int rc = rewrap(s, &cur, &nk.mac_key);
    for (uint32_t i = 0; i < nk.num_records && rc == 0; i++) {
        rc = rewrap(s, &cur, &nk.records[i].w);
    }
    if (rc == 0) {
        rc = commit_table(s, &nk);
    }
    eng_kt_cleanup(&nk);
    return rc;
}

/* The one slot no active record uses (there is always exactly one). */
static long spare_slot(const struct eng_store *s)
{
    uint8_t *used = calloc(s->kt.num_slots, 1);
    if (used == NULL) {
        ENG_SET_ERROR(ENG_ERR_NOMEM);
        return -1;
    }
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        if (s->kt.records[i].state == ENG_KT_ACTIVE) {
            used[s->kt.records[i].slot] = 1;
        }
    }
    long slot = -1;
    for (uint32_t i = 0; i < s->kt.num_slots && slot < 0; i++) {
        if (!used[i]) {
            slot = i;
        }
    }
    free(used);
    if (slot < 0) {
        ENG_SET_ERROR(ENG_ERR_INTERNAL);
    }
    return slot;
}

/* Copies extent |old| (under |from|) into |to_slot| under |to|, batch by batch. */
static int reencrypt_extent(struct eng_store *s, const struct eng_kt_record *old,
                            const struct eng_cipher *from, uint32_t to_slot,
                            const struct eng_cipher *to)
{
    size_t bytes = (size_t)ENG_STORE_BATCH * s->kt.unit_size;
    uint8_t *buf = malloc(bytes);
    ENG_ENSURE(buf != NULL, ENG_ERR_NOMEM);
    int rc = 0;
    uint64_t end = old->first_unit + old->num_units;
    for (uint64_t u = old->first_unit; u < end && rc == 0; u += ENG_STORE_BATCH) {
        size_t n = end - u < ENG_STORE_BATCH ? (size_t)(end - u) : ENG_STORE_BATCH;
        rc = read_chunk(s, from, old->slot, old->first_unit, u, n, buf);
        if (rc == 0) {
            rc = write_chunk(s, to, to_slot, old->first_unit, u, n, buf);
        }
    }
    eng_cleanse(buf, bytes);
    free(buf);
    ENG_GUARD(rc);
    return eng_store_sync(s);
}

int eng_store_rekey_extent(struct eng_store *s, uint32_t extent)
{
    ENG_ENSURE_REF(s);
    ENG_GUARD(eng_store_check_access(s));
    ENG_ENSURE(extent < s->kt.num_extents, ENG_ERR_RANGE);
    long ri = eng_kt_active(&s->kt, extent);
    long slot = spare_slot(s);
    ENG_ENSURE(ri >= 0, ENG_ERR_INTERNAL);
    ENG_GUARD(slot < 0 ? -1 : 0);
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    ENG_GUARD(ref_matches(s, &cur));
    struct eng_kt_record rec = s->kt.records[ri];
    rec.slot = (uint32_t)slot;
    rec.created = (uint64_t)time(NULL);
    struct eng_cipher *c = NULL;
    ENG_GUARD(new_dek(s, &cur, &rec, &c));
    /* New data goes to the spare slot only; the table still points at the old one. */
    int rc = reencrypt_extent(s, &s->kt.records[ri], s->ciphers[extent], rec.slot, c);
    struct eng_keytable nk;
    memset(&nk, 0, sizeof(nk));
    if (rc == 0) {
        rc = eng_kt_copy(&nk, &s->kt);
    }
    if (rc == 0) {
        rec.dek_id = nk.next_dek_id++;
        nk.records[ri].state = ENG_KT_RETIRED;
        rc = eng_kt_append(&nk, &rec);
    }
    if (rc == 0) {
        rc = commit_table(s, &nk); /* the switch: one rename */
    }
    eng_kt_cleanup(&nk);
    if (rc != 0) {
        eng_cipher_free(c);
        return -1;
    }
    eng_cipher_free(s->ciphers[extent]);
    s->ciphers[extent] = c;
    return 0;
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
    out->boot = s->boot;
    memcpy(out->store_id, s->kt.store_id, ENG_STORE_ID_BYTES);
    out->accessible = s->cause == ENG_OK;
    out->cause = s->cause;
    out->last_check_error = s->last_check_error;
    out->mac_verified = s->mac_verified;
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
