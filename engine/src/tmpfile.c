/*
 * tmpfile.c - encrypted temporary (spill) files under an ephemeral DEK.
 *
 * The DEK is drawn at creation, handed to an eng_cipher (secure memory) and
 * the raw bytes wiped at once; it is never written anywhere, not even
 * wrapped. The file is unlinked from the start (O_TMPFILE, else mkstemp +
 * unlink). Plaintext is cut into 64 KiB chunks; a full chunk is sealed with
 * AES-256-GCM, nonce = 0^32 || be64(chunk index), AAD = be64(chunk index),
 * and written once at index * (64 KiB + 16) (ciphertext | tag). Chunks are
 * append-only, so each nonce is used once under the one key. The last,
 * incomplete chunk stays in memory until it fills.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes_internal.h"
#include "eng_secure.h"
#include "eng_store.h"
#include "error_internal.h"
#include "fileio_internal.h"

#define TMP_CHUNK (64U * 1024U)
#define TMP_REC   (TMP_CHUNK + ENG_GCM_TAG_BYTES)

struct eng_tmpfile {
    int fd;
    struct eng_cipher *c;
    uint64_t size;    /* plaintext bytes written */
    uint64_t sealed;  /* chunks on disk */
    uint8_t *tail;    /* plaintext of chunk |sealed| (size - sealed * TMP_CHUNK bytes) */
    uint8_t *scratch; /* one chunk of ciphertext or plaintext */
};

static int open_unlinked(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        return fd;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/cmk-spill-XXXXXX", dir);
    ENG_ENSURE(n > 0 && (size_t)n < sizeof(path), ENG_ERR_ARG);
    fd = mkostemp(path, O_CLOEXEC);
    ENG_ENSURE(fd >= 0, ENG_ERR_TMPFILE);
    unlink(path);
    return fd;
}

struct eng_tmpfile *eng_tmpfile_new(const char *dir)
{
    if (dir == NULL) {
        dir = getenv("TMPDIR");
        if (dir == NULL || dir[0] == '\0') {
            dir = "/tmp";
        }
    }
    struct eng_tmpfile *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    t->fd = -1;
    t->tail = malloc(TMP_CHUNK);
    t->scratch = malloc(TMP_REC);
    uint8_t *dek = eng_secure_alloc(ENG_AES256_KEY_BYTES);
    int err = ENG_OK;
    if (t->tail == NULL || t->scratch == NULL) {
        err = ENG_ERR_NOMEM;
    } else if (dek == NULL) {
        err = eng_errno();
    } else if (RAND_priv_bytes(dek, ENG_AES256_KEY_BYTES) != 1) {
        err = ENG_ERR_RANDOM;
    } else if ((t->c = eng_cipher_new(ENG_MODE_GCM, ENG_BACKEND_AUTO, ENG_ARCH_AUTO, dek,
                                      ENG_AES256_KEY_BYTES)) == NULL) {
        err = eng_errno();
    } else if ((t->fd = open_unlinked(dir)) < 0) {
        err = eng_errno();
    }
    eng_secure_free(dek);
    if (err != ENG_OK) {
        eng_tmpfile_free(t);
        ENG_BAIL_PTR(err);
    }
    return t;
}

static void chunk_iv(uint64_t i, uint8_t nonce[12], uint8_t aad[8])
{
    memset(nonce, 0, 4);
    eng_be64_put(nonce + 4, i);
    eng_be64_put(aad, i);
}

static int seal_tail(struct eng_tmpfile *t)
{
    uint8_t nonce[12], aad[8];
    chunk_iv(t->sealed, nonce, aad);
    struct eng_unit u = {.in = t->tail,
                         .out = t->scratch,
                         .len = TMP_CHUNK,
                         .iv = nonce,
                         .iv_len = sizeof(nonce),
                         .aad = aad,
                         .aad_len = sizeof(aad),
                         .tag = t->scratch + TMP_CHUNK,
                         .tag_len = ENG_GCM_TAG_BYTES};
    ENG_GUARD(eng_cipher_encrypt(t->c, &u));
    ENG_GUARD(eng_pwrite_all(t->fd, t->scratch, TMP_REC, t->sealed * TMP_REC));
    t->sealed++;
    return 0;
}

int eng_tmpfile_write(struct eng_tmpfile *t, const void *in, size_t in_len)
{
    ENG_ENSURE_REF(t);
    ENG_ENSURE(in != NULL || in_len == 0, ENG_ERR_NULL);
    const uint8_t *p = in;
    while (in_len > 0) {
        size_t at = (size_t)(t->size - t->sealed * TMP_CHUNK);
        size_t n = TMP_CHUNK - at < in_len ? TMP_CHUNK - at : in_len;
        memcpy(t->tail + at, p, n);
        t->size += n;
        p += n;
        in_len -= n;
        if (at + n == TMP_CHUNK) {
            ENG_GUARD(seal_tail(t));
        }
    }
    return 0;
}

int eng_tmpfile_read(struct eng_tmpfile *t, uint64_t offset, void *out, size_t out_len)
{
    ENG_ENSURE_REF(t);
    ENG_ENSURE(out != NULL || out_len == 0, ENG_ERR_NULL);
    ENG_ENSURE(offset <= t->size && out_len <= t->size - offset, ENG_ERR_RANGE);
    uint8_t *o = out;
    while (out_len > 0) {
        uint64_t i = offset / TMP_CHUNK;
        size_t at = (size_t)(offset % TMP_CHUNK);
        size_t n = TMP_CHUNK - at < out_len ? TMP_CHUNK - at : out_len;
        if (i == t->sealed) {
            memcpy(o, t->tail + at, n);
        } else {
            uint8_t nonce[12], aad[8];
            chunk_iv(i, nonce, aad);
            ENG_GUARD(eng_pread_all(t->fd, t->scratch, TMP_REC, i * TMP_REC, ENG_ERR_TMPFILE));
            struct eng_unit u = {.in = t->scratch,
                                 .out = t->scratch,
                                 .len = TMP_CHUNK,
                                 .iv = nonce,
                                 .iv_len = sizeof(nonce),
                                 .aad = aad,
                                 .aad_len = sizeof(aad),
                                 .tag = t->scratch + TMP_CHUNK,
                                 .tag_len = ENG_GCM_TAG_BYTES};
            ENG_GUARD(eng_cipher_decrypt(t->c, &u));
            memcpy(o, t->scratch + at, n);
            eng_cleanse(t->scratch, TMP_CHUNK);
        }
        o += n;
        offset += n;
        out_len -= n;
    }
    return 0;
}

uint64_t eng_tmpfile_size(const struct eng_tmpfile *t)
{
    return t == NULL ? 0 : t->size;
}

int eng_tmpfile_fd(const struct eng_tmpfile *t)
{
    return t == NULL ? -1 : t->fd;
}

void eng_tmpfile_free(struct eng_tmpfile *t)
{
    if (t == NULL) {
        return;
    }
    eng_cipher_free(t->c); /* wipes the only copy of the key */
    if (t->tail != NULL) {
        eng_cleanse(t->tail, TMP_CHUNK);
    }
    if (t->scratch != NULL) {
        eng_cleanse(t->scratch, TMP_REC);
    }
    free(t->tail);
    free(t->scratch);
    if (t->fd >= 0) {
        close(t->fd);
    }
    eng_cleanse(t, sizeof(*t));
    free(t);
}
