/*
 * persist.c - crash-safe state files and AES-256-GCM sealing of key material.
 */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vmock_dir_private(const char *dir, char *err, size_t err_len)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create state folder %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s is not a folder", dir);
        return -1;
    }
    /* Never loosen or silently tighten someone else's folder (think --state /tmp). */
    if ((st.st_mode & 0077) != 0) {
        snprintf(err, err_len,
                 "state folder %s is open to other users (mode %03o); use a new "
                 "folder or chmod 700 it",
                 dir, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vmock_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                            char *err, size_t err_len)
{
    char path[4096];
    char tmp[4096];
    int n1 = snprintf(path, sizeof(path), "%s/%s", dir, name);
    int n2 = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", dir, name, (long)getpid());
    if (n1 < 0 || (size_t)n1 >= sizeof(path) || n2 < 0 || (size_t)n2 >= sizeof(tmp)) {
        snprintf(err, err_len, "state path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        snprintf(err, err_len, "cannot close %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, err_len, "cannot open folder %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = fsync(dfd);
    close(dfd);
    if (rc != 0) {
        snprintf(err, err_len, "cannot fsync folder %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int vmock_file_read(const char *path, size_t max, char **out, size_t *out_len, char *err,
                    size_t err_len)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 1;
        }
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        snprintf(err, err_len, "%s is not a regular file of at most %zu bytes", path, max);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        snprintf(err, err_len, "out of memory reading %s", path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (got != cap) {
        snprintf(err, err_len, "short read on %s", path);
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    return 0;
}

int vmock_master_key_load(const char *dir, uint8_t key[VMOCK_MASTER_KEY_BYTES], char *err,
                          size_t err_len)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/master.key", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, err_len, "state path too long");
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = vmock_file_read(path, 4096, &buf, &len, err, err_len);
    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        if (len != VMOCK_MASTER_KEY_BYTES) {
            snprintf(err, err_len, "%s has %zu bytes, expected %u", path, len,
                     VMOCK_MASTER_KEY_BYTES);
            OPENSSL_cleanse(buf, len);
            free(buf);
            return -1;
        }
        memcpy(key, buf, VMOCK_MASTER_KEY_BYTES);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return 0;
    }
    if (RAND_priv_bytes(key, VMOCK_MASTER_KEY_BYTES) != 1) {
        snprintf(err, err_len, "random generator failed");
        return -1;
    }
    return vmock_file_write_atomic(dir, "master.key", key, VMOCK_MASTER_KEY_BYTES, err, err_len);
}

/* One AES-256-GCM pass; |enc| 1 seals, 0 opens. Returns the output length or -1. */
static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    int fin = 0;
    int ok = ctx != NULL && in_len <= INT32_MAX && aad_len <= INT32_MAX &&
             EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, VMOCK_SEAL_NONCE_BYTES, NULL) == 1 &&
             EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
             EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1 &&
             EVP_CipherUpdate(ctx, out, &len, in, (int)in_len) == 1;
    if (ok && !enc) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VMOCK_SEAL_TAG_BYTES, tag) == 1;
    }
    ok = ok && EVP_CipherFinal_ex(ctx, out + len, &fin) == 1;
    if (ok && enc) {
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VMOCK_SEAL_TAG_BYTES, tag) == 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok ? len + fin : -1;
}

int vmock_seal(const uint8_t key[VMOCK_MASTER_KEY_BYTES], const uint8_t *aad, size_t aad_len,
               const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t total = in_len + VMOCK_SEAL_OVERHEAD;
    uint8_t *buf = malloc(total);
    if (buf == NULL) {
        return -1;
    }
    uint8_t *nonce = buf;
    uint8_t *ct = buf + VMOCK_SEAL_NONCE_BYTES;
    uint8_t *tag = ct + in_len;
    if (RAND_bytes(nonce, VMOCK_SEAL_NONCE_BYTES) != 1 ||
        gcm(1, key, nonce, aad, aad_len, in, in_len, ct, tag) != (int)in_len) {
        OPENSSL_cleanse(buf, total);
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = total;
    return 0;
}

int vmock_unseal(const uint8_t key[VMOCK_MASTER_KEY_BYTES], const uint8_t *aad, size_t aad_len,
                 const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (in_len < VMOCK_SEAL_OVERHEAD) {
        return -1;
    }
    size_t pt_len = in_len - VMOCK_SEAL_OVERHEAD;
    uint8_t *buf = malloc(pt_len > 0 ? pt_len : 1);
    if (buf == NULL) {
        return -1;
    }
    uint8_t tag[VMOCK_SEAL_TAG_BYTES];
    memcpy(tag, in + in_len - VMOCK_SEAL_TAG_BYTES, sizeof(tag));
    if (gcm(0, key, in, aad, aad_len, in + VMOCK_SEAL_NONCE_BYTES, pt_len, buf, tag) !=
        (int)pt_len) {
        OPENSSL_cleanse(buf, pt_len);
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = pt_len;
    return 0;
}
