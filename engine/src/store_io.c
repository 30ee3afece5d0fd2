/*
 * store_io.c - the store's data path: units in and out of slots, byte
 * ranges, the initial fill (see eng_store.h for the model and layout).
 *
 * The hot path is: check access (one clock read), then for each run of
 * units inside one extent, in batches of ENG_STORE_BATCH, fill the unit
 * descriptors and call eng_cipher_batch once, then one pread/pwrite for the
 * run. Reads decrypt in place in the caller's buffer; writes encrypt into a
 * staging buffer (file) or straight into the slot (memory store).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes_internal.h"
#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

/* --- the batch path ------------------------------------------------------ */

static uint8_t *tag_rec(struct eng_store *s, uint32_t slot, uint64_t index_in_extent)
{
    return s->tags + ((uint64_t)slot * s->kt.extent_units + index_in_extent) * ENG_STORE_TAG_REC;
}

static uint64_t slot_offset(const struct eng_store *s, uint32_t slot, uint64_t index_in_extent)
{
    return (uint64_t)slot * st_slot_bytes(s) + index_in_extent * s->kt.unit_size;
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

/* --- per-unit MACs of an XTS store with integrity ------------------------- */

static uint64_t mac_off(const struct eng_store *s, uint32_t slot, uint64_t index_in_extent)
{
    return ((uint64_t)slot * s->kt.extent_units + index_in_extent) * ENG_STORE_MAC_BYTES;
}

/* HMAC-SHA-256 under |ikey| of store id || be64(unit |u|) || the unit's ciphertext |ct|. */
static int unit_mac(struct eng_store *s, const uint8_t *ikey, uint64_t u, const uint8_t *ct,
                    uint8_t tag[ENG_STORE_MAC_BYTES])
{
    uint8_t hdr[ENG_STORE_AAD_BYTES];
    size_t len = 0;
    ENG_ENSURE(ikey != NULL, ENG_ERR_INTERNAL);
    memcpy(hdr, s->kt.store_id, ENG_STORE_ID_BYTES);
    eng_be64_put(hdr + ENG_STORE_ID_BYTES, u);
    ENG_ENSURE(EVP_MAC_init(s->hmac, ikey, ENG_STORE_MAC_BYTES, NULL) == 1 &&
                   EVP_MAC_update(s->hmac, hdr, sizeof(hdr)) == 1 &&
                   EVP_MAC_update(s->hmac, ct, s->kt.unit_size) == 1 &&
                   EVP_MAC_final(s->hmac, tag, &len, ENG_STORE_MAC_BYTES) == 1 &&
                   len == ENG_STORE_MAC_BYTES,
               ENG_ERR_CRYPTO_LIB);
    return 0;
}

/* Tags units |u| .. |u| + |n| - 1 (ciphertext |ct|) in memory, then in "macs". */
static int tag_units(struct eng_store *s, const uint8_t *ikey, uint32_t slot, uint64_t first,
                     uint64_t u, size_t n, const uint8_t *ct)
{
    if (s->kt.integrity == ENG_STORE_INTEGRITY_NONE) {
        return 0;
    }
    uint64_t index = u - first;
    for (size_t j = 0; j < n; j++) {
        ENG_GUARD(unit_mac(s, ikey, u + j, ct + j * s->kt.unit_size,
                           s->macs + mac_off(s, slot, index + j)));
    }
    if (s->in_memory) {
        return 0;
    }
    return eng_pwrite_all(s->macs_fd, s->macs + mac_off(s, slot, index), n * ENG_STORE_MAC_BYTES,
                          mac_off(s, slot, index));
}

/*
 * Checks every unit's tag before anything is decrypted, then decrypts
 * |ct| into |out| (may be the same buffer). A unit whose tag does not
 * match is not decrypted: it is zeroed, the others are decrypted, and the
 * result is ENG_ERR_AUTH.
 */
static int read_checked(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                        uint32_t slot, uint64_t first, uint64_t u, size_t n, const uint8_t *ct,
                        uint8_t *out)
{
    if (s->kt.integrity == ENG_STORE_INTEGRITY_NONE) {
        return crypt_run(s, c, ENG_DECRYPT, slot, first, u, n, ct, out);
    }
    size_t us = s->kt.unit_size;
    uint8_t ok[ENG_STORE_BATCH];
    uint8_t tag[ENG_STORE_MAC_BYTES];
    int all_ok = 1;
    for (size_t j = 0; j < n; j++) {
        ENG_GUARD(unit_mac(s, ikey, u + j, ct + j * us, tag));
        ok[j] = (uint8_t)eng_ct_equal(tag, s->macs + mac_off(s, slot, u + j - first),
                                      ENG_STORE_MAC_BYTES);
        all_ok &= ok[j];
    }
    if (all_ok) {
        return crypt_run(s, c, ENG_DECRYPT, slot, first, u, n, ct, out);
    }
    for (size_t j = 0; j < n; j++) {
        if (ok[j]) {
            ENG_GUARD(crypt_run(s, c, ENG_DECRYPT, slot, first, u + j, 1, ct + j * us,
                                out + j * us));
        } else {
            memset(out + j * us, 0, us);
        }
    }
    ENG_BAIL(ENG_ERR_AUTH);
}

/* Encrypts |n| <= BATCH units of one extent from |in| into |slot|. */
int st_write_chunk(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                   uint32_t slot, uint64_t first, uint64_t u, size_t n, const uint8_t *in)
{
    uint64_t index = u - first;
    if (s->in_memory) {
        uint8_t *ct = s->mem_data + slot_offset(s, slot, index);
        ENG_GUARD(crypt_run(s, c, ENG_ENCRYPT, slot, first, u, n, in, ct));
        return tag_units(s, ikey, slot, first, u, n, ct);
    }
    ENG_GUARD(crypt_run(s, c, ENG_ENCRYPT, slot, first, u, n, in, s->stage));
    ENG_GUARD(eng_pwrite_all(s->data_fd, s->stage, n * s->kt.unit_size,
                             slot_offset(s, slot, index)));
    ENG_GUARD(tag_units(s, ikey, slot, first, u, n, s->stage));
    return persist_tags(s, slot, index, n);
}

/* Decrypts |n| <= BATCH units of one extent from |slot| into |out|. */
int st_read_chunk(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                  uint32_t slot, uint64_t first, uint64_t u, size_t n, uint8_t *out)
{
    uint64_t index = u - first;
    if (s->in_memory) {
        return read_checked(s, c, ikey, slot, first, u, n,
                            s->mem_data + slot_offset(s, slot, index), out);
    }
    ENG_GUARD(eng_pread_all(s->data_fd, out, n * s->kt.unit_size, slot_offset(s, slot, index),
                            ENG_ERR_STORE_CORRUPT));
    return read_checked(s, c, ikey, slot, first, u, n, out, out);
}

typedef int (*chunk_fn)(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                        uint32_t slot, uint64_t first, uint64_t u, size_t n, uint8_t *buf);

static int write_chunk_fn(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                          uint32_t slot, uint64_t first, uint64_t u, size_t n, uint8_t *buf)
{
    return st_write_chunk(s, c, ikey, slot, first, u, n, buf);
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
        if (fn(s, s->ciphers[e], st_ikey(s, e), r->slot, r->first_unit, u, n,
               buf + (u - first_unit) * us) != 0) {
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

/* Writes every unit once: zeros, or what |fill| supplies. */
int st_initial_fill(struct eng_store *s, eng_store_fill_fn fill, void *arg)
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
    return for_each_chunk(s, first_unit, num_units, out, st_read_chunk);
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
    if (s->kt.integrity != ENG_STORE_INTEGRITY_NONE) {
        ENG_ENSURE(fdatasync(s->macs_fd) == 0, ENG_ERR_IO);
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
