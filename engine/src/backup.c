/*
 * backup.c - encrypted backup streams of a store, and restore.
 *
 * Stream (big-endian):
 *   header: "CMKBK002" | u32 header_len | u8 mode | u8 integrity |
 *           u32 unit_size | u64 num_units | u32 extent_units | store id (16) |
 *           backup id (16) | u32 chunk_units | u64 num_chunks | wrapped backup
 *           DEK (str8 provider, key_id, version, alg | u16 len | bytes) |
 *           SHA-256 of every header byte before it (32)
 *   (header_len counts the whole header, checksum included.) The checksum
 *   is checked, needing no key, before any header field is used, so a
 *   damaged header is ENG_ERR_BACKUP_CORRUPT, never a KEK error from its
 *   damaged KEK fields. It is not a MAC: deliberate header edits are caught
 *   by the chunk tags (their AAD binds the header's hash). "integrity" is
 *   the store's per-unit MAC option, recreated by restore. Version 1
 *   streams ("CMKBK001": no integrity byte, no checksum) are still read,
 *   with their old behaviour: a damaged KEK field there shows as a KEK error.
 *   chunk i (0 .. num_chunks - 1): u32 ct_len | ciphertext | tag (16)
 * Chunk i holds the plaintext of units i * chunk_units .. (whole units),
 * AES-256-GCM under a fresh backup DEK (wrapped by the store's KEK, current
 * version), nonce = 0^32 || be64(i) (the DEK is used for this one stream
 * only, so a counter nonce is unique), AAD = SHA-256(header) || be64(i) ||
 * u8 final (1 on the last chunk). Editing the header breaks every tag;
 * dropping, reordering or splicing chunks (from this or another backup)
 * breaks one; cutting the stream after a chunk is caught because the last
 * chunk read was not marked final; bytes after the final chunk are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes_internal.h"
#include "eng_secure.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

#define BK_MAGIC        "CMKBK002"
#define BK_MAGIC_V1     "CMKBK001"
#define BK_SUM_BYTES    SHA256_DIGEST_LENGTH
#define BK_MAX_HEADER   4096U
#define BK_CHUNK_TARGET (1U << 20)
#define BK_AAD_BYTES    (SHA256_DIGEST_LENGTH + 8 + 1)

struct bk_header {
    uint8_t mode;
    uint8_t integrity; /* 0 in a version 1 stream */
    uint32_t unit_size;
    uint64_t num_units;
    uint32_t extent_units;
    uint8_t store_id[ENG_STORE_ID_BYTES];
    uint8_t backup_id[16];
    uint32_t chunk_units;
    uint64_t num_chunks;
    struct eng_kt_wrapped dek;
};

struct bk_stream {
    int fd;
    uint64_t off;
    struct bk_header h;
    uint8_t hdr_hash[SHA256_DIGEST_LENGTH];
    struct eng_cipher *c;
    uint64_t chunk;   /* next chunk index */
    uint8_t *plain;   /* one chunk of plaintext */
    uint8_t *ct;      /* one chunk of ciphertext */
    size_t plain_len; /* bytes of the current chunk */
    uint64_t served;  /* units handed out from |plain| so far (restore) */
};

static size_t chunk_len(const struct bk_header *h, uint64_t i)
{
    uint64_t first = i * h->chunk_units;
    uint64_t n = h->num_units - first < h->chunk_units ? h->num_units - first : h->chunk_units;
    return (size_t)(n * h->unit_size);
}

static void chunk_params(const struct bk_stream *b, uint64_t i, uint8_t nonce[12],
                         uint8_t aad[BK_AAD_BYTES])
{
    memset(nonce, 0, 4);
    eng_be64_put(nonce + 4, i);
    memcpy(aad, b->hdr_hash, SHA256_DIGEST_LENGTH);
    eng_be64_put(aad + SHA256_DIGEST_LENGTH, i);
    aad[SHA256_DIGEST_LENGTH + 8] = i + 1 == b->h.num_chunks ? 1 : 0;
}

static void bk_close(struct bk_stream *b)
{
    eng_cipher_free(b->c);
    if (b->plain != NULL) {
        eng_cleanse(b->plain, (size_t)b->h.chunk_units * b->h.unit_size);
    }
    free(b->plain);
    free(b->ct);
    if (b->fd >= 0) {
        close(b->fd);
    }
    memset(b, 0, sizeof(*b));
    b->fd = -1;
}

static int bk_alloc(struct bk_stream *b)
{
    size_t max = (size_t)b->h.chunk_units * b->h.unit_size;
    b->plain = malloc(max);
    b->ct = malloc(max);
    ENG_ENSURE(b->plain != NULL && b->ct != NULL, ENG_ERR_NOMEM);
    return 0;
}

static void wr_header(struct eng_wr *w, const struct bk_header *h)
{
    eng_wr_bytes(w, BK_MAGIC, 8);
    eng_wr_u32(w, 0); /* patched */
    eng_wr_u8(w, h->mode);
    eng_wr_u8(w, h->integrity);
    eng_wr_u32(w, h->unit_size);
    eng_wr_u64(w, h->num_units);
    eng_wr_u32(w, h->extent_units);
    eng_wr_bytes(w, h->store_id, ENG_STORE_ID_BYTES);
    eng_wr_bytes(w, h->backup_id, 16);
    eng_wr_u32(w, h->chunk_units);
    eng_wr_u64(w, h->num_chunks);
    eng_wr_str8(w, h->dek.kek.provider);
    eng_wr_str8(w, h->dek.kek.key_id);
    eng_wr_str8(w, h->dek.kek.version);
    eng_wr_str8(w, h->dek.kek.alg);
    eng_wr_u16(w, h->dek.len);
    eng_wr_bytes(w, h->dek.bytes, h->dek.len);
    uint8_t sum[BK_SUM_BYTES] = {0};
    eng_wr_bytes(w, sum, sizeof(sum)); /* room for the checksum */
    if (!w->failed && w->b.len >= 12 + BK_SUM_BYTES) {
        w->b.data[8] = (uint8_t)(w->b.len >> 24);
        w->b.data[9] = (uint8_t)(w->b.len >> 16);
        w->b.data[10] = (uint8_t)(w->b.len >> 8);
        w->b.data[11] = (uint8_t)w->b.len;
        SHA256(w->b.data, w->b.len - BK_SUM_BYTES, w->b.data + w->b.len - BK_SUM_BYTES);
    }
}

/* Parses the header body (after magic and length, before any checksum). 0 or -1. */
static int rd_header(struct eng_rd *r, struct bk_header *h, int v1)
{
    struct eng_kt_wrapped *d = &h->dek;
    h->integrity = 0;
    if (eng_rd_u8(r, &h->mode) != 0 || (!v1 && eng_rd_u8(r, &h->integrity) != 0) ||
        eng_rd_u32(r, &h->unit_size) != 0 || eng_rd_u64(r, &h->num_units) != 0 ||
        eng_rd_u32(r, &h->extent_units) != 0 ||
        eng_rd_bytes(r, h->store_id, ENG_STORE_ID_BYTES) != 0 ||
        eng_rd_bytes(r, h->backup_id, 16) != 0 || eng_rd_u32(r, &h->chunk_units) != 0 ||
        eng_rd_u64(r, &h->num_chunks) != 0 ||
        eng_rd_str8(r, d->kek.provider, sizeof(d->kek.provider)) != 0 ||
        eng_rd_str8(r, d->kek.key_id, sizeof(d->kek.key_id)) != 0 ||
        eng_rd_str8(r, d->kek.version, sizeof(d->kek.version)) != 0 ||
        eng_rd_str8(r, d->kek.alg, sizeof(d->kek.alg)) != 0 || eng_rd_u16(r, &d->len) != 0 ||
        d->len == 0 || d->len > ENG_WRAPPED_MAX || eng_rd_bytes(r, d->bytes, d->len) != 0) {
        return -1;
    }
    return r->left == 0 ? 0 : -1;
}

/* Opens a stream: header checks, then the backup DEK through |kek|. */
static int bk_open(struct bk_stream *b, const char *path, struct eng_kek_provider *kek)
{
    memset(b, 0, sizeof(*b));
    b->fd = eng_open_regular(path, O_RDONLY, ENG_ERR_NO_STORE);
    ENG_GUARD(b->fd);
    uint8_t pre[12];
    ENG_GUARD(eng_pread_all(b->fd, pre, sizeof(pre), 0, ENG_ERR_BACKUP_TRUNCATED));
    int v1 = memcmp(pre, BK_MAGIC_V1, 8) == 0;
    ENG_ENSURE(v1 || memcmp(pre, BK_MAGIC, 8) == 0, ENG_ERR_BACKUP_CORRUPT);
    size_t sum_len = v1 ? 0 : BK_SUM_BYTES;
    uint32_t hlen =
        ((uint32_t)pre[8] << 24) | ((uint32_t)pre[9] << 16) | ((uint32_t)pre[10] << 8) | pre[11];
    ENG_ENSURE(hlen > sizeof(pre) + sum_len && hlen <= BK_MAX_HEADER, ENG_ERR_BACKUP_CORRUPT);
    uint8_t hdr[BK_MAX_HEADER];
    memcpy(hdr, pre, sizeof(pre));
    ENG_GUARD(eng_pread_all(b->fd, hdr + 12, hlen - 12, 12, ENG_ERR_BACKUP_TRUNCATED));
    if (!v1) {
        /* The checksum first: no field of a damaged header is used, its KEK fields least. */
        uint8_t sum[BK_SUM_BYTES];
        SHA256(hdr, hlen - BK_SUM_BYTES, sum);
        ENG_ENSURE(memcmp(sum, hdr + hlen - BK_SUM_BYTES, BK_SUM_BYTES) == 0,
                   ENG_ERR_BACKUP_CORRUPT);
    }
    struct eng_rd r;
    eng_rd_init(&r, hdr + 12, hlen - 12 - sum_len);
    ENG_ENSURE(rd_header(&r, &b->h, v1) == 0, ENG_ERR_BACKUP_CORRUPT);
    const struct bk_header *h = &b->h;
    ENG_ENSURE(eng_kt_check_geometry((enum eng_mode)h->mode, h->unit_size, h->num_units,
                                     h->extent_units) == 0,
               ENG_ERR_BACKUP_CORRUPT);
    ENG_ENSURE(h->integrity == ENG_STORE_INTEGRITY_NONE ||
                   (h->integrity == ENG_STORE_INTEGRITY_HMAC_SHA256 && h->mode == ENG_MODE_XTS),
               ENG_ERR_BACKUP_CORRUPT);
    ENG_ENSURE(h->chunk_units >= 1 && (uint64_t)h->chunk_units * h->unit_size <= (16U << 20),
               ENG_ERR_BACKUP_CORRUPT);
    ENG_ENSURE(h->num_chunks == (h->num_units + h->chunk_units - 1) / h->chunk_units,
               ENG_ERR_BACKUP_CORRUPT);
    SHA256(hdr, hlen, b->hdr_hash);
    b->off = hlen;
    uint8_t *dek = eng_secure_alloc(ENG_DEK_MAX_BYTES);
    ENG_ENSURE(dek != NULL, eng_errno());
    size_t dek_len = 0;
    int rc = eng_kek_unwrap(kek, &h->dek.kek, dek, &dek_len, ENG_DEK_MAX_BYTES, h->dek.bytes,
                            h->dek.len);
    if (rc == 0 && dek_len != ENG_AES256_KEY_BYTES) {
        ENG_SET_ERROR(ENG_ERR_BACKUP_CORRUPT);
        rc = -1;
    }
    if (rc == 0) {
        b->c = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, dek, dek_len);
        rc = b->c != NULL ? 0 : -1;
    }
    eng_secure_free(dek);
    ENG_GUARD(rc);
    return bk_alloc(b);
}

/* Reads, authenticates and decrypts the next chunk into b->plain. */
static int bk_next(struct bk_stream *b)
{
    ENG_ENSURE(b->chunk < b->h.num_chunks, ENG_ERR_BACKUP_CORRUPT);
    size_t want = chunk_len(&b->h, b->chunk);
    uint8_t pre[4];
    ENG_GUARD(eng_pread_all(b->fd, pre, 4, b->off, ENG_ERR_BACKUP_TRUNCATED));
    uint32_t ct_len =
        ((uint32_t)pre[0] << 24) | ((uint32_t)pre[1] << 16) | ((uint32_t)pre[2] << 8) | pre[3];
    ENG_ENSURE(ct_len == want, ENG_ERR_BACKUP_CORRUPT);
    uint8_t tag[ENG_GCM_TAG_BYTES];
    ENG_GUARD(eng_pread_all(b->fd, b->ct, want, b->off + 4, ENG_ERR_BACKUP_TRUNCATED));
    ENG_GUARD(eng_pread_all(b->fd, tag, sizeof(tag), b->off + 4 + want, ENG_ERR_BACKUP_TRUNCATED));
    uint8_t nonce[12], aad[BK_AAD_BYTES];
    chunk_params(b, b->chunk, nonce, aad);
    struct eng_unit u = {.in = b->ct,
                         .out = b->plain,
                         .len = want,
                         .iv = nonce,
                         .iv_len = sizeof(nonce),
                         .aad = aad,
                         .aad_len = sizeof(aad),
                         .tag = tag,
                         .tag_len = sizeof(tag)};
    if (eng_cipher_decrypt(b->c, &u) != 0) {
        ENG_ENSURE(eng_errno() != ENG_ERR_AUTH, ENG_ERR_BACKUP_CORRUPT);
        return -1;
    }
    b->off += 4 + want + sizeof(tag);
    b->plain_len = want;
    b->chunk++;
    return 0;
}

/* After the final chunk the stream must end. */
static int bk_finish(struct bk_stream *b)
{
    ENG_ENSURE(b->chunk == b->h.num_chunks, ENG_ERR_BACKUP_TRUNCATED);
    struct stat st;
    ENG_ENSURE(fstat(b->fd, &st) == 0, ENG_ERR_IO);
    ENG_ENSURE((uint64_t)st.st_size == b->off, ENG_ERR_BACKUP_CORRUPT);
    return 0;
}

int eng_backup_verify(const char *path, struct eng_kek_provider *kek)
{
    ENG_ENSURE_REF(path);
    ENG_ENSURE_REF(kek);
    struct bk_stream b;
    int rc = bk_open(&b, path, kek);
    while (rc == 0 && b.chunk < b.h.num_chunks) {
        rc = bk_next(&b);
    }
    if (rc == 0) {
        rc = bk_finish(&b);
    }
    bk_close(&b);
    return rc;
}

/* Writes the stream body: every chunk from the store. */
static int backup_chunks(struct eng_store *s, struct bk_stream *b)
{
    for (uint64_t i = 0; i < b->h.num_chunks; i++) {
        size_t len = chunk_len(&b->h, i);
        ENG_GUARD(eng_store_read(s, i * b->h.chunk_units, len / b->h.unit_size, b->plain));
        uint8_t nonce[12], aad[BK_AAD_BYTES], tag[ENG_GCM_TAG_BYTES], pre[4];
        chunk_params(b, i, nonce, aad);
        struct eng_unit u = {.in = b->plain,
                             .out = b->ct,
                             .len = len,
                             .iv = nonce,
                             .iv_len = sizeof(nonce),
                             .aad = aad,
                             .aad_len = sizeof(aad),
                             .tag = tag,
                             .tag_len = sizeof(tag)};
        ENG_GUARD(eng_cipher_encrypt(b->c, &u));
        pre[0] = (uint8_t)(len >> 24);
        pre[1] = (uint8_t)(len >> 16);
        pre[2] = (uint8_t)(len >> 8);
        pre[3] = (uint8_t)len;
        ENG_GUARD(eng_pwrite_all(b->fd, pre, 4, b->off));
        ENG_GUARD(eng_pwrite_all(b->fd, b->ct, len, b->off + 4));
        ENG_GUARD(eng_pwrite_all(b->fd, tag, sizeof(tag), b->off + 4 + len));
        b->off += 4 + len + sizeof(tag);
    }
    ENG_ENSURE(fsync(b->fd) == 0, ENG_ERR_IO);
    return 0;
}

/* Fills the header and the backup DEK (wrapped under the KEK's current version). */
static int backup_setup(struct eng_store *s, struct bk_stream *b, struct eng_wr *w)
{
    struct bk_header *h = &b->h;
    h->mode = s->kt.mode;
    h->integrity = s->kt.integrity;
    h->unit_size = s->kt.unit_size;
    h->num_units = s->kt.num_units;
    h->extent_units = s->kt.extent_units;
    memcpy(h->store_id, s->kt.store_id, ENG_STORE_ID_BYTES);
    ENG_ENSURE(RAND_bytes(h->backup_id, 16) == 1, ENG_ERR_RANDOM);
    h->chunk_units = BK_CHUNK_TARGET / h->unit_size;
    if (h->chunk_units == 0) {
        h->chunk_units = 1;
    }
    h->num_chunks = (h->num_units + h->chunk_units - 1) / h->chunk_units;
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    uint8_t *dek = eng_secure_alloc(ENG_AES256_KEY_BYTES);
    ENG_ENSURE(dek != NULL, eng_errno());
    size_t wlen = 0;
    int rc = eng_dek_generate(ENG_MODE_GCM, dek, ENG_AES256_KEY_BYTES);
    if (rc == 0) {
        rc = eng_kek_wrap(s->kek, &cur, h->dek.bytes, &wlen, sizeof(h->dek.bytes), dek,
                          ENG_AES256_KEY_BYTES);
    }
    if (rc == 0) {
        h->dek.kek = cur;
        h->dek.len = (uint16_t)wlen;
        b->c = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, dek,
                              ENG_AES256_KEY_BYTES);
        rc = b->c != NULL ? 0 : -1;
    }
    eng_secure_free(dek);
    ENG_GUARD(rc);
    eng_wr_init(w, BK_MAX_HEADER);
    wr_header(w, h);
    ENG_ENSURE(!w->failed, ENG_ERR_NOMEM);
    SHA256(w->b.data, w->b.len, b->hdr_hash);
    return bk_alloc(b);
}

int eng_store_backup(struct eng_store *s, const char *path)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE_REF(path);
    ENG_GUARD(eng_store_check_access(s));
    struct bk_stream b;
    memset(&b, 0, sizeof(b));
    b.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    ENG_ENSURE(b.fd >= 0, errno == EEXIST ? ENG_ERR_EXISTS : ENG_ERR_IO);
    struct eng_wr w;
    eng_wr_init(&w, 0);
    int rc = backup_setup(s, &b, &w);
    if (rc == 0) {
        rc = eng_pwrite_all(b.fd, w.b.data, w.b.len, 0);
        b.off = w.b.len;
    }
    if (rc == 0) {
        rc = backup_chunks(s, &b);
    }
    eng_wr_cleanup(&w);
    bk_close(&b);
    if (rc != 0) {
        int err = eng_errno();
        unlink(path);
        ENG_BAIL(err);
    }
    return eng_fsync_parent(path);
}

/* Restore's fill callback: hands out units in order from the verified stream. */
static int restore_fill(void *arg, uint64_t first_unit, size_t num_units, uint8_t *out)
{
    struct bk_stream *b = arg;
    size_t us = b->h.unit_size;
    ENG_ENSURE(first_unit == b->served, ENG_ERR_INTERNAL);
    size_t done = 0;
    while (done < num_units) {
        uint64_t chunk_first = (b->chunk == 0 ? 0 : (b->chunk - 1) * b->h.chunk_units);
        uint64_t avail_end = chunk_first + b->plain_len / us;
        if (b->chunk == 0 || b->served >= avail_end) {
            ENG_GUARD(bk_next(b));
            continue;
        }
        size_t n = (size_t)(avail_end - b->served);
        if (n > num_units - done) {
            n = num_units - done;
        }
        memcpy(out + done * us, b->plain + (b->served - chunk_first) * us, n * us);
        done += n;
        b->served += n;
    }
    return 0;
}

int eng_store_restore(const char *backup_path, const char *dir, struct eng_kek_provider *kek,
                      const struct eng_store_config *cfg)
{
    ENG_ENSURE_REF(backup_path);
    ENG_ENSURE_REF(dir);
    ENG_ENSURE_REF(kek);
    ENG_ENSURE(access(dir, F_OK) != 0, ENG_ERR_EXISTS);
    /* Pass 1: the whole stream must verify before anything is written. */
    ENG_GUARD(eng_backup_verify(backup_path, kek));
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.restore-%ld", dir, (long)getpid());
    ENG_ENSURE(n > 0 && (size_t)n < sizeof(tmp), ENG_ERR_ARG);
    struct bk_stream b;
    ENG_GUARD(bk_open(&b, backup_path, kek));
    struct eng_store_config c;
    if (cfg != NULL) {
        c = *cfg;
    } else {
        eng_store_config_init(&c);
    }
    c.mode = (enum eng_mode)b.h.mode;
    c.integrity = (enum eng_store_integrity)b.h.integrity;
    c.unit_size = b.h.unit_size;
    c.num_units = b.h.num_units;
    /* Stores made before extents were capped at the store's size keep their data, not that. */
    c.extent_units = b.h.extent_units <= b.h.num_units ? b.h.extent_units : 0;
    /* Pass 2 decrypts (and authenticates) again as it fills a store under a temporary name. */
    struct eng_store *s = eng_store_create_from(tmp, kek, &c, restore_fill, &b);
    int rc = s != NULL ? 0 : -1;
    if (rc == 0) {
        rc = bk_finish(&b);
    }
    int err = eng_errno();
    bk_close(&b);
    eng_store_close(s);
    if (rc == 0 && rename(tmp, dir) != 0) {
        err = errno == EEXIST || errno == ENOTEMPTY ? ENG_ERR_EXISTS : ENG_ERR_IO;
        rc = -1;
    }
    if (rc != 0) {
        eng_store_remove_files(tmp);
        rmdir(tmp);
        ENG_BAIL(err);
    }
    return eng_fsync_parent(dir);
}
