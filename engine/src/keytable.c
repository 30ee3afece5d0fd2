/* keytable.c - serialize, parse and crash-safely replace the key table (see keytable_internal.h).
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base_buf.h"
#include "bytes_internal.h"
#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "keytable_internal.h"

#define KT_TRAILER         (ENG_KT_MAC_BYTES + SHA256_DIGEST_LENGTH)
#define KT_MAX_BYTES_TOTAL (1ULL << 50) /* 1 PiB: keeps offsets far from overflow */

void eng_kt_cleanup(struct eng_keytable *kt)
{
    if (kt == NULL) {
        return;
    }
    free(kt->records);
    memset(kt, 0, sizeof(*kt));
}

int eng_kt_check_geometry(enum eng_mode mode, uint32_t unit_size, uint64_t num_units,
                          uint32_t extent_units)
{
    ENG_ENSURE(mode == ENG_MODE_XTS || mode == ENG_MODE_GCM, ENG_ERR_MODE);
    ENG_ENSURE(unit_size >= 512 && unit_size <= 65536 && (unit_size & (unit_size - 1)) == 0,
               ENG_ERR_ARG);
    ENG_ENSURE(num_units >= 1 && extent_units >= 1 && extent_units <= (1U << 30), ENG_ERR_ARG);
    /* Rounded up without num_units + extent_units - 1, which wraps near UINT64_MAX. */
    uint64_t extents = num_units / extent_units + (num_units % extent_units != 0);
    ENG_ENSURE(extents < ENG_KT_MAX_RECORDS / 2, ENG_ERR_ARG);
    /* Data bytes, slots included, stay far below any off_t limit. */
    ENG_ENSURE((extents + 1) * extent_units <= KT_MAX_BYTES_TOTAL / unit_size, ENG_ERR_ARG);
    return 0;
}

static void wr_wrapped(struct eng_wr *w, const struct eng_kt_wrapped *x)
{
    eng_wr_str8(w, x->kek.provider);
    eng_wr_str8(w, x->kek.key_id);
    eng_wr_str8(w, x->kek.version);
    eng_wr_str8(w, x->kek.alg);
    eng_wr_u16(w, x->len);
    eng_wr_bytes(w, x->bytes, x->len);
}

/* Reads one wrapped key: 0, or -1 leaving r->short_read to tell truncated from malformed. */
static int rd_wrapped(struct eng_rd *r, struct eng_kt_wrapped *x)
{
    if (eng_rd_str8(r, x->kek.provider, sizeof(x->kek.provider)) != 0 ||
        eng_rd_str8(r, x->kek.key_id, sizeof(x->kek.key_id)) != 0 ||
        eng_rd_str8(r, x->kek.version, sizeof(x->kek.version)) != 0 ||
        eng_rd_str8(r, x->kek.alg, sizeof(x->kek.alg)) != 0 || eng_rd_u16(r, &x->len) != 0) {
        return -1;
    }
    if (x->len == 0 || x->len > ENG_WRAPPED_MAX || x->kek.version[0] == '\0') {
        return -1;
    }
    return eng_rd_bytes(r, x->bytes, x->len);
}

static uint64_t extent_len(const struct eng_keytable *kt, uint32_t extent)
{
    uint64_t first = (uint64_t)extent * kt->extent_units;
    uint64_t left = kt->num_units - first;
    return left < kt->extent_units ? left : kt->extent_units;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * The invariants both sides enforce: geometry sane, every record within it,
 * DEK ids unique and below next_dek_id, exactly one active record per
 * extent, active records in distinct slots. 0 or -1 (no error set).
 */
static int kt_invariants(const struct eng_keytable *kt)
{
    if (eng_kt_check_geometry((enum eng_mode)kt->mode, kt->unit_size, kt->num_units,
                              kt->extent_units) != 0) {
        return -1;
    }
    uint64_t extents = (kt->num_units + kt->extent_units - 1) / kt->extent_units;
    if (kt->integrity > 1 || (kt->integrity != 0 && kt->mode != ENG_MODE_XTS)) {
        return -1;
    }
    if (kt->num_extents != extents || kt->num_slots != extents + 1 ||
        kt->num_records > ENG_KT_MAX_RECORDS || kt->mac_key.len == 0) {
        return -1;
    }
    int rc = -1;
    uint8_t *active = calloc(kt->num_extents, 1);
    uint8_t *slot_used = calloc(kt->num_slots, 1);
    uint32_t *ids = calloc(kt->num_records + 1, sizeof(uint32_t));
    if (active == NULL || slot_used == NULL || ids == NULL) {
        goto out;
    }
    for (uint32_t i = 0; i < kt->num_records; i++) {
        const struct eng_kt_record *r = &kt->records[i];
        if (r->extent >= kt->num_extents || r->slot >= kt->num_slots || r->mode != kt->mode ||
            r->first_unit != (uint64_t)r->extent * kt->extent_units ||
            r->num_units != extent_len(kt, r->extent) || r->dek_id >= kt->next_dek_id ||
            (r->state != ENG_KT_ACTIVE && r->state != ENG_KT_RETIRED) || r->w.len == 0 ||
            r->w.len > ENG_WRAPPED_MAX) {
            goto out;
        }
        ids[i] = r->dek_id;
        if (r->state == ENG_KT_ACTIVE) {
            if (active[r->extent] || slot_used[r->slot]) {
                goto out;
            }
            active[r->extent] = 1;
            slot_used[r->slot] = 1;
        }
    }
    for (uint32_t e = 0; e < kt->num_extents; e++) {
        if (!active[e]) {
            goto out;
        }
    }
    qsort(ids, kt->num_records, sizeof(uint32_t), cmp_u32);
    for (uint32_t i = 1; i < kt->num_records; i++) {
        if (ids[i] == ids[i - 1]) {
            goto out;
        }
    }
    rc = 0;
out:
    free(active);
    free(slot_used);
    free(ids);
    return rc;
}

int eng_kt_append(struct eng_keytable *kt, const struct eng_kt_record *rec)
{
    ENG_ENSURE(kt->num_records < ENG_KT_MAX_RECORDS, ENG_ERR_TOO_LONG);
    size_t cap = kt->cap_records; /* at most ENG_KT_MAX_RECORDS: fits the u32 */
    ENG_ENSURE(base_grow(&kt->records, &cap, (size_t)kt->num_records + 1, sizeof(*kt->records),
                         ENG_KT_MAX_RECORDS, NULL) == 0,
               ENG_ERR_NOMEM);
    kt->cap_records = (uint32_t)cap;
    kt->records[kt->num_records++] = *rec;
    return 0;
}

long eng_kt_active(const struct eng_keytable *kt, uint32_t extent)
{
    for (uint32_t i = 0; i < kt->num_records; i++) {
        if (kt->records[i].extent == extent && kt->records[i].state == ENG_KT_ACTIVE) {
            return (long)i;
        }
    }
    return -1;
}

int eng_kt_copy(struct eng_keytable *dst, const struct eng_keytable *src)
{
    *dst = *src;
    dst->records = NULL;
    dst->cap_records = 0;
    if (src->num_records > 0) {
        dst->records = malloc((size_t)src->num_records * sizeof(*dst->records));
        if (dst->records == NULL) {
            memset(dst, 0, sizeof(*dst));
            ENG_BAIL(ENG_ERR_NOMEM);
        }
        memcpy(dst->records, src->records, (size_t)src->num_records * sizeof(*dst->records));
        dst->cap_records = src->num_records;
    }
    return 0;
}

int eng_kt_serialize(const struct eng_keytable *kt, const uint8_t mac_key[ENG_KT_MAC_BYTES],
                     uint8_t **out, size_t *out_len)
{
    ENG_ENSURE(kt_invariants(kt) == 0, ENG_ERR_ARG);
    struct eng_wr w;
    eng_wr_init(&w, ENG_KT_MAX_FILE);
    eng_wr_bytes(&w, ENG_KT_MAGIC, 8);
    eng_wr_u32(&w, 0); /* total length, patched below */
    eng_wr_u64(&w, kt->generation);
    eng_wr_bytes(&w, kt->store_id, ENG_KT_ID_BYTES);
    eng_wr_u8(&w, kt->mode);
    eng_wr_u8(&w, kt->integrity);
    eng_wr_u32(&w, kt->unit_size);
    eng_wr_u64(&w, kt->num_units);
    eng_wr_u32(&w, kt->extent_units);
    eng_wr_u32(&w, kt->num_slots);
    eng_wr_u32(&w, kt->next_dek_id);
    wr_wrapped(&w, &kt->mac_key);
    eng_wr_u32(&w, kt->num_records);
    for (uint32_t i = 0; i < kt->num_records; i++) {
        const struct eng_kt_record *r = &kt->records[i];
        eng_wr_u32(&w, r->dek_id);
        eng_wr_u32(&w, r->extent);
        eng_wr_u64(&w, r->first_unit);
        eng_wr_u64(&w, r->num_units);
        eng_wr_u32(&w, r->slot);
        eng_wr_u8(&w, r->state);
        eng_wr_u8(&w, r->mode);
        eng_wr_u64(&w, r->created);
        eng_wr_u64(&w, r->invocations);
        wr_wrapped(&w, &r->w);
    }
    uint8_t zero[KT_TRAILER] = {0};
    eng_wr_bytes(&w, zero, sizeof(zero)); /* room for the trailer */
    if (w.failed) {
        eng_wr_cleanup(&w);
        ENG_BAIL(ENG_ERR_NOMEM);
    }
    size_t total = w.b.len;
    w.b.data[8] = (uint8_t)(total >> 24);
    w.b.data[9] = (uint8_t)(total >> 16);
    w.b.data[10] = (uint8_t)(total >> 8);
    w.b.data[11] = (uint8_t)total;
    unsigned int mac_len = 0;
    size_t body = total - KT_TRAILER;
    if (HMAC(EVP_sha256(), mac_key, ENG_KT_MAC_BYTES, w.b.data, body, w.b.data + body, &mac_len) ==
            NULL ||
        mac_len != ENG_KT_MAC_BYTES) {
        eng_wr_cleanup(&w);
        ENG_BAIL(ENG_ERR_CRYPTO_LIB);
    }
    SHA256(w.b.data, body + ENG_KT_MAC_BYTES, w.b.data + body + ENG_KT_MAC_BYTES);
    *out = w.b.data;
    *out_len = total;
    return 0;
}

/* Bails from eng_kt_parse with TRUNCATED or CORRUPT as the reader tells. */
#define KT_READ(r, expr)                                                                 \
    do {                                                                                 \
        if ((expr) != 0) {                                                               \
            eng_set_error_at(                                                            \
                (r)->short_read ? ENG_ERR_KEYTABLE_TRUNCATED : ENG_ERR_KEYTABLE_CORRUPT, \
                ENG_WHERE);                                                              \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)

int eng_kt_parse(const uint8_t *buf, size_t len, struct eng_keytable *out)
{
    ENG_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    ENG_ENSURE(buf != NULL || len == 0, ENG_ERR_NULL);
    /* Header prefix: magic and declared length decide truncated vs corrupt. */
    size_t head = len < 8 ? len : 8;
    ENG_ENSURE(len >= 12, len == 0 || memcmp(buf, ENG_KT_MAGIC, head) == 0 ||
                                  memcmp(buf, ENG_KT_MAGIC_V1, head) == 0
                              ? ENG_ERR_KEYTABLE_TRUNCATED
                              : ENG_ERR_KEYTABLE_CORRUPT);
    int v1 = memcmp(buf, ENG_KT_MAGIC_V1, 8) == 0;
    ENG_ENSURE(v1 || memcmp(buf, ENG_KT_MAGIC, 8) == 0, ENG_ERR_KEYTABLE_CORRUPT);
    size_t total =
        ((size_t)buf[8] << 24) | ((size_t)buf[9] << 16) | ((size_t)buf[10] << 8) | buf[11];
    ENG_ENSURE(total >= 12 + KT_TRAILER && total <= ENG_KT_MAX_FILE, ENG_ERR_KEYTABLE_CORRUPT);
    ENG_ENSURE(len >= total, ENG_ERR_KEYTABLE_TRUNCATED);
    ENG_ENSURE(len == total, ENG_ERR_KEYTABLE_CORRUPT);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(buf, total - SHA256_DIGEST_LENGTH, digest);
    ENG_ENSURE(memcmp(digest, buf + total - SHA256_DIGEST_LENGTH, sizeof(digest)) == 0,
               ENG_ERR_KEYTABLE_CORRUPT);

    struct eng_rd rd;
    struct eng_rd *r = &rd;
    eng_rd_init(r, buf + 12, total - 12 - KT_TRAILER);
    KT_READ(r, eng_rd_u64(r, &out->generation));
    KT_READ(r, eng_rd_bytes(r, out->store_id, ENG_KT_ID_BYTES));
    KT_READ(r, eng_rd_u8(r, &out->mode));
    if (!v1) {
        KT_READ(r, eng_rd_u8(r, &out->integrity)); /* 0 or 1; kt_invariants checks it */
    }
    KT_READ(r, eng_rd_u32(r, &out->unit_size));
    KT_READ(r, eng_rd_u64(r, &out->num_units));
    KT_READ(r, eng_rd_u32(r, &out->extent_units));
    KT_READ(r, eng_rd_u32(r, &out->num_slots));
    KT_READ(r, eng_rd_u32(r, &out->next_dek_id));
    KT_READ(r, rd_wrapped(r, &out->mac_key));
    uint32_t n;
    KT_READ(r, eng_rd_u32(r, &n));
    /* A record is at least 40 bytes: a count the bytes cannot hold is corrupt, not a big malloc. */
    if (n > ENG_KT_MAX_RECORDS || (uint64_t)n * 40 > r->left) {
        ENG_SET_ERROR(ENG_ERR_KEYTABLE_CORRUPT);
        goto fail;
    }
    if (eng_kt_check_geometry((enum eng_mode)out->mode, out->unit_size, out->num_units,
                              out->extent_units) != 0) {
        ENG_SET_ERROR(ENG_ERR_KEYTABLE_CORRUPT);
        goto fail;
    }
    out->num_extents = (uint32_t)((out->num_units + out->extent_units - 1) / out->extent_units);
    for (uint32_t i = 0; i < n; i++) {
        struct eng_kt_record rec;
        memset(&rec, 0, sizeof(rec));
        KT_READ(r, eng_rd_u32(r, &rec.dek_id));
        KT_READ(r, eng_rd_u32(r, &rec.extent));
        KT_READ(r, eng_rd_u64(r, &rec.first_unit));
        KT_READ(r, eng_rd_u64(r, &rec.num_units));
        KT_READ(r, eng_rd_u32(r, &rec.slot));
        KT_READ(r, eng_rd_u8(r, &rec.state));
        KT_READ(r, eng_rd_u8(r, &rec.mode));
        KT_READ(r, eng_rd_u64(r, &rec.created));
        if (!v1) {
            KT_READ(r, eng_rd_u64(r, &rec.invocations));
        } else if (out->mode == ENG_MODE_GCM) {
            rec.invocations = ENG_KT_INV_UNKNOWN; /* deterministic nonces, count not kept */
        }
        KT_READ(r, rd_wrapped(r, &rec.w));
        if (eng_kt_append(out, &rec) != 0) {
            goto fail;
        }
    }
    if (r->left != 0 || kt_invariants(out) != 0) {
        ENG_SET_ERROR(ENG_ERR_KEYTABLE_CORRUPT);
        goto fail;
    }
    return 0;
fail:
    eng_kt_cleanup(out);
    return -1;
}

int eng_kt_check_mac(const uint8_t *buf, size_t len, const uint8_t mac_key[ENG_KT_MAC_BYTES])
{
    ENG_ENSURE(len >= 12 + KT_TRAILER, ENG_ERR_KEYTABLE_TRUNCATED);
    uint8_t mac[ENG_KT_MAC_BYTES];
    unsigned int mac_len = 0;
    size_t body = len - KT_TRAILER;
    ENG_ENSURE(HMAC(EVP_sha256(), mac_key, ENG_KT_MAC_BYTES, buf, body, mac, &mac_len) != NULL &&
                   mac_len == ENG_KT_MAC_BYTES,
               ENG_ERR_CRYPTO_LIB);
    ENG_ENSURE(eng_ct_equal(mac, buf + body, ENG_KT_MAC_BYTES), ENG_ERR_KEYTABLE_AUTH);
    return 0;
}

int eng_kt_load(const char *path, struct eng_keytable *out, uint8_t **raw, size_t *raw_len)
{
    int fd = eng_open_regular(path, O_RDONLY | O_NOFOLLOW, ENG_ERR_NO_STORE);
    ENG_GUARD(fd);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = eng_read_fd(fd, ENG_KT_MAX_FILE, ENG_ERR_KEYTABLE_CORRUPT, &buf, &len);
    close(fd);
    ENG_GUARD(rc);
    if (eng_kt_parse(buf, len, out) != 0) {
        free(buf);
        return -1;
    }
    *raw = buf;
    *raw_len = len;
    return 0;
}

int eng_kt_save(const char *path, struct eng_keytable *kt, const uint8_t mac_key[ENG_KT_MAC_BYTES])
{
    kt->generation++;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (eng_kt_serialize(kt, mac_key, &buf, &len) != 0) {
        kt->generation--;
        return -1;
    }
    int rc = eng_file_replace(path, buf, len, 0600);
    free(buf);
    if (rc != 0) {
        kt->generation--;
    }
    return rc;
}
