/* vmt_scan.c - find secrets in bytes, files and folder trees (see vmt_scan.h). */
#include "vmt_scan.h"

#include <ctype.h>
#include <ftw.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base_buf.h"
#include "base_codec.h"
#include "vmt_client.h"

#define WINDOW  16U /* raw bytes of a secret that must not appear */
#define B64_WIN 16U /* 4 whole base64 groups = 12 bytes, in any 16-byte window */
#define PREFIX  8U  /* hash key: the needle's first 8 bytes */

struct needle {
    uint64_t key;
    uint32_t secret; /* index into labels */
    uint16_t len;
    uint8_t enc;
    uint8_t first;     /* raw window at offset 0 of its secret */
    size_t secret_len; /* of its secret */
    uint8_t *bytes;
};

enum { ENC_RAW, ENC_HEX, ENC_HEX_UP, ENC_B64, ENC_B64URL, ENC_TEXT };
static const char *const enc_names[] = {"raw", "hex", "HEX", "base64", "base64url", "text"};

struct vmt_scan {
    struct needle *n;
    size_t num, cap;
    char (*labels)[64];
    size_t num_labels, cap_labels;
    uint32_t *table; /* open addressing: needle index + 1, 0 = empty */
    size_t table_size;
    int dirty;
};

static uint64_t key_of(const uint8_t *p)
{
    uint64_t k;
    memcpy(&k, p, sizeof(k));
    return k;
}

static size_t slot_of(uint64_t k, size_t size)
{
    k *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(k >> 20) & (size - 1);
}

struct vmt_scan *vmt_scan_new(void)
{
    return calloc(1, sizeof(struct vmt_scan));
}

void vmt_scan_free(struct vmt_scan *sc)
{
    if (sc == NULL) {
        return;
    }
    for (size_t i = 0; i < sc->num; i++) {
        OPENSSL_cleanse(sc->n[i].bytes, sc->n[i].len);
        free(sc->n[i].bytes);
    }
    free(sc->n);
    free(sc->labels);
    free(sc->table);
    free(sc);
}

size_t vmt_scan_count(const struct vmt_scan *sc)
{
    return sc->num_labels;
}

static int add_label(struct vmt_scan *sc, const char *label)
{
    if (base_grow(&sc->labels, &sc->cap_labels, sc->num_labels + 1, sizeof(*sc->labels), SIZE_MAX,
                  NULL) != 0) {
        return -1;
    }
    snprintf(sc->labels[sc->num_labels], sizeof(sc->labels[0]), "%s", label);
    sc->num_labels++;
    return 0;
}

static int add_needle(struct vmt_scan *sc, int enc, const uint8_t *b, size_t len)
{
    if (base_grow(&sc->n, &sc->cap, sc->num + 1, sizeof(*sc->n), SIZE_MAX, NULL) != 0) {
        return -1;
    }
    struct needle *x = &sc->n[sc->num];
    x->bytes = malloc(len);
    if (x->bytes == NULL) {
        return -1;
    }
    memcpy(x->bytes, b, len);
    x->len = (uint16_t)len;
    x->enc = (uint8_t)enc;
    x->secret = (uint32_t)(sc->num_labels - 1);
    x->key = key_of(b);
    x->first = 0;
    x->secret_len = 0;
    sc->num++;
    sc->dirty = 1;
    return 0;
}

/* |len| bytes as 2 * |len| hex digits and a NUL, in upper case when |upper|. */
static void to_hex(char *out, const uint8_t *in, size_t len, int upper)
{
    base_hex(out, in, len);
    for (size_t i = 0; upper && i < 2 * len; i++) {
        out[i] = (char)toupper((unsigned char)out[i]);
    }
}

int vmt_scan_add_secret(struct vmt_scan *sc, const char *label, const uint8_t *secret, size_t len)
{
    if (len < WINDOW || len > 8192) {
        return -1;
    }
    for (size_t i = 0; i < sc->num; i++) {
        const struct needle *x = &sc->n[i];
        if (x->enc == ENC_RAW && x->first && x->secret_len == len &&
            memcmp(x->bytes, secret, WINDOW) == 0 &&
            memcmp(x[len - WINDOW].bytes, secret + len - WINDOW, WINDOW) == 0) {
            return 0; /* the same secret again (collected after every command) */
        }
    }
    if (add_label(sc, label) != 0) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i + WINDOW <= len && rc == 0; i++) {
        rc = add_needle(sc, ENC_RAW, secret + i, WINDOW);
        if (rc == 0) {
            sc->n[sc->num - 1].first = i == 0;
            sc->n[sc->num - 1].secret_len = len;
        }
    }
    char *hex = malloc(2 * len + 1);
    char *b64 = malloc(4 * (len / 3 + 2) + 1);
    if (hex == NULL || b64 == NULL) {
        free(hex);
        free(b64);
        return -1;
    }
    for (int upper = 0; upper < 2 && rc == 0; upper++) {
        to_hex(hex, secret, len, upper);
        for (size_t i = 0; i + WINDOW <= len && rc == 0; i++) {
            rc = add_needle(sc, upper ? ENC_HEX_UP : ENC_HEX, (uint8_t *)hex + 2 * i, 2 * WINDOW);
        }
    }
    /* At alignment s the stream's groups start at secret byte s: whole groups only. */
    for (size_t s = 0; s < 3 && rc == 0; s++) {
        size_t whole = (len - s) / 3 * 3;
        int n = EVP_EncodeBlock((unsigned char *)b64, secret + s, (int)whole);
        for (int url = 0; url < 2 && rc == 0; url++) {
            if (url) {
                for (int i = 0; i < n; i++) {
                    b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
                }
            }
            for (int i = 0; i + (int)B64_WIN <= n && rc == 0; i += 4) {
                if (url && memchr(b64 + i, '-', B64_WIN) == NULL &&
                    memchr(b64 + i, '_', B64_WIN) == NULL) {
                    continue; /* the same characters as the standard window */
                }
                rc = add_needle(sc, url ? ENC_B64URL : ENC_B64, (uint8_t *)b64 + i, B64_WIN);
            }
        }
    }
    OPENSSL_cleanse(hex, 2 * len);
    OPENSSL_cleanse(b64, 4 * (len / 3 + 2) + 1);
    free(hex);
    free(b64);
    return rc;
}

int vmt_scan_add_text(struct vmt_scan *sc, const char *label, const char *text)
{
    size_t len = strlen(text);
    if (len < PREFIX || len > 4096 || add_label(sc, label) != 0) {
        return -1;
    }
    return add_needle(sc, ENC_TEXT, (const uint8_t *)text, len);
}

static int build_table(struct vmt_scan *sc)
{
    size_t size = 1024;
    while (size < sc->num * 4) {
        size *= 2;
    }
    uint32_t *t = calloc(size, sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    for (size_t i = 0; i < sc->num; i++) {
        size_t h = slot_of(sc->n[i].key, size);
        while (t[h] != 0) {
            h = (h + 1) & (size - 1);
        }
        t[h] = (uint32_t)(i + 1);
    }
    free(sc->table);
    sc->table = t;
    sc->table_size = size;
    sc->dirty = 0;
    return 0;
}

size_t vmt_scan_buf(struct vmt_scan *sc, const void *buf, size_t len, const char *where,
                    struct vmt_scan_hit *first)
{
    if (sc->num == 0 || len < PREFIX) {
        return 0;
    }
    if (sc->dirty && build_table(sc) != 0) {
        return (size_t)-1;
    }
    const uint8_t *b = buf;
    size_t hits = 0;
    for (size_t i = 0; i + PREFIX <= len; i++) {
        uint64_t k = key_of(b + i);
        for (size_t h = slot_of(k, sc->table_size); sc->table[h] != 0;
             h = (h + 1) & (sc->table_size - 1)) {
            const struct needle *x = &sc->n[sc->table[h] - 1];
            if (x->key != k || i + x->len > len || memcmp(b + i, x->bytes, x->len) != 0) {
                continue;
            }
            if (hits == 0 && first != NULL) {
                snprintf(first->label, sizeof(first->label), "%s", sc->labels[x->secret]);
                snprintf(first->encoding, sizeof(first->encoding), "%s", enc_names[x->enc]);
                snprintf(first->where, sizeof(first->where), "%s", where);
                first->offset = i;
            }
            hits++;
        }
    }
    return hits;
}

size_t vmt_scan_file(struct vmt_scan *sc, const char *path, struct vmt_scan_hit *first)
{
    size_t len = 0;
    char *b = vmt_read_file(path, &len);
    if (b == NULL) {
        return (size_t)-1;
    }
    size_t hits = vmt_scan_buf(sc, b, len, path, first);
    free(b);
    return hits;
}

/* nftw has no user pointer: the walk in progress (tests are single-threaded here). */
static struct {
    struct vmt_scan *sc;
    int (*skip)(const char *path);
    size_t files, hits;
    int failed;
    struct vmt_scan_hit *first;
} walk;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_F || (walk.skip != NULL && walk.skip(path))) {
        return 0;
    }
    struct vmt_scan_hit h;
    size_t n = vmt_scan_file(walk.sc, path, &h);
    if (n == (size_t)-1) {
        walk.failed = 1;
        return 0;
    }
    if (n > 0 && walk.hits == 0 && walk.first != NULL) {
        *walk.first = h;
    }
    walk.hits += n;
    walk.files++;
    return 0;
}

size_t vmt_scan_tree(struct vmt_scan *sc, const char *dir, int (*skip)(const char *path),
                     size_t *files, struct vmt_scan_hit *first)
{
    walk.sc = sc;
    walk.skip = skip;
    walk.files = walk.hits = 0;
    walk.failed = 0;
    walk.first = first;
    int rc = nftw(dir, visit, 16, FTW_PHYS);
    if (files != NULL) {
        *files = walk.files;
    }
    return rc != 0 || walk.failed ? (size_t)-1 : walk.hits;
}
