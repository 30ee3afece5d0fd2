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

#include "base_file.h"

/* What a file that is not a regular file is, for the error message. */
static const char *type_name(mode_t m)
{
    if (S_ISDIR(m)) {
        return "a folder";
    }
    if (S_ISFIFO(m)) {
        return "a FIFO";
    }
    if (S_ISSOCK(m)) {
        return "a socket";
    }
    if (S_ISLNK(m)) {
        return "a symbolic link";
    }
    if (S_ISCHR(m) || S_ISBLK(m)) {
        return "a device";
    }
    return "not a regular file";
}

int vmock_dir_private(const char *dir, struct base_err *e)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        BASE_FAIL(e, BASE_ERR_CAP, "state folder path is empty or too long");
        return -1;
    }
    /* "DIR/" would follow a symbolic link even with O_NOFOLLOW. */
    memcpy(path, dir, len + 1);
    while (len > 1 && path[len - 1] == '/') {
        path[--len] = '\0';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot create state folder %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int en = errno;
        if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
            BASE_FAIL(e, BASE_ERR_IO, "state folder %s is %s, not a folder; refusing it", dir,
                      type_name(st.st_mode));
        } else {
            base_err_set_sys(e, BASE_ERR_IO, en, BASE_HERE, "cannot open state folder %s: %s", dir,
                             strerror(en));
        }
        return -1;
    }
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot stat state folder %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Whoever owns the folder can rewrite identities.json and vault.json behind our back. */
    if (st.st_uid != geteuid()) {
        BASE_FAIL(e, BASE_ERR_IO,
                  "state folder %s is owned by uid %u, not by uid %u that vault-mock runs as; "
                  "its owner could change the vault's keys and identities: use a folder of "
                  "your own",
                  dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    /* Never loosen or silently tighten someone else's folder (think --state /tmp). */
    if ((st.st_mode & 0077) != 0) {
        BASE_FAIL(e, BASE_ERR_IO,
                  "state folder %s is open to other users (mode %03o); use a new "
                  "folder or chmod 700 it",
                  dir, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

int vmock_file_check(int fd, const char *path, int secret, struct base_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        BASE_FAIL(e, BASE_ERR_IO, "%s is %s, not a regular file; refusing it", path,
                  type_name(st.st_mode));
        return -1;
    }
    if (!secret) {
        return 0;
    }
    if (st.st_uid != geteuid()) {
        BASE_FAIL(e, BASE_ERR_IO,
                  "%s is owned by uid %u, not by uid %u that vault-mock runs as; refusing it "
                  "(it must be owned by the vault's user and have mode 0600)",
                  path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if ((st.st_mode & 0077) != 0) {
        BASE_FAIL(e, BASE_ERR_IO,
                  "%s permissions are looser than 0600 (mode %04o: group or others have "
                  "access); refusing it (chmod 600 %s)",
                  path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

int vmock_file_open(const char *path, int flags, int secret, struct base_err *e)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (or reader); fstat refuses it. */
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | (secret ? O_NOFOLLOW : 0), 0600);
    if (fd < 0) {
        int en = errno;
        struct stat st;
        if (en == ENOENT) {
            base_err_set_sys(e, BASE_ERR_NOT_FOUND, en, BASE_HERE, "%s does not exist", path);
            return -2;
        }
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && secret) {
            BASE_FAIL(e, BASE_ERR_IO,
                      "%s is a symbolic link; refusing to follow it (give the real file)", path);
        } else if ((en == ENXIO || en == ELOOP) && (secret ? lstat : stat)(path, &st) == 0) {
            BASE_FAIL(e, BASE_ERR_IO, "%s is %s, not a regular file; refusing it", path,
                      type_name(st.st_mode));
        } else {
            BASE_FAIL(e, BASE_ERR_IO, "cannot open %s: %s", path, strerror(en));
        }
        return -1;
    }
    if (vmock_file_check(fd, path, secret, e) != 0) {
        close(fd);
        return -1;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot use %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
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
                            struct base_err *e)
{
    char path[4096];
    char tmp[4096];
    int n1 = snprintf(path, sizeof(path), "%s/%s", dir, name);
    int n2 = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", dir, name, (long)getpid());
    if (n1 < 0 || (size_t)n1 >= sizeof(path) || n2 < 0 || (size_t)n2 >= sizeof(tmp)) {
        BASE_FAIL(e, BASE_ERR_CAP, "state path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot close %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot open folder %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = fsync(dfd);
    close(dfd);
    if (rc != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot fsync folder %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Reads the whole file at |path| under the rule |secret|; see vmock_file_read. */
static int file_read(const char *path, int secret, size_t max, char **out, size_t *out_len,
                     struct base_err *e)
{
    *out = NULL;
    *out_len = 0;
    int fd = vmock_file_open(path, O_RDONLY, secret, e);
    if (fd == -2) {
        return 1;
    }
    if (fd < 0) {
        return -1;
    }
    struct base_err be = BASE_ERR_INIT;
    int rc = base_fd_read(fd, path, max, secret ? BASE_FILE_WIPE : 0, out, out_len, &be);
    close(fd);
    if (rc != 0) {
        if (be.code == BASE_ERR_CAP) {
            BASE_FAIL(e, BASE_ERR_CAP, "%s is larger than %zu bytes", path, max);
        } else if (be.code == BASE_ERR_NOMEM) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory reading %s", path);
        } else {
            BASE_FAIL(e, BASE_ERR_IO, "short read on %s", path);
        }
        return -1;
    }
    return 0;
}

int vmock_file_read(const char *path, size_t max, char **out, size_t *out_len, struct base_err *e)
{
    return file_read(path, 1, max, out, out_len, e);
}

int vmock_file_read_public(const char *path, size_t max, char **out, size_t *out_len,
                           struct base_err *e)
{
    return file_read(path, 0, max, out, out_len, e);
}

int vmock_master_key_load(const char *dir, uint8_t key[VMOCK_MASTER_KEY_BYTES], struct base_err *e)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/master.key", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        BASE_FAIL(e, BASE_ERR_CAP, "state path too long");
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = vmock_file_read(path, 4096, &buf, &len, e);
    if (rc < 0) {
        return -1;
    }
    if (rc == 0) {
        if (len != VMOCK_MASTER_KEY_BYTES) {
            BASE_FAIL(e, BASE_ERR_IO, "%s has %zu bytes, expected %u", path, len,
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
    /* A new key would make every sealed key in an existing vault.json unreadable. */
    char state[4096];
    struct stat st;
    snprintf(state, sizeof(state), "%s/vault.json", dir);
    if (lstat(state, &st) == 0) {
        BASE_FAIL(e, BASE_ERR_IO,
                  "state exists but master.key is missing: %s holds keys sealed under %s, which "
                  "does not exist; restore master.key from a backup (or move the state away to "
                  "start empty); nothing was created",
                  state, path);
        return -1;
    }
    if (RAND_priv_bytes(key, VMOCK_MASTER_KEY_BYTES) != 1) {
        BASE_FAIL(e, BASE_ERR_IO, "random generator failed");
        return -1;
    }
    return vmock_file_write_atomic(dir, "master.key", key, VMOCK_MASTER_KEY_BYTES, e);
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
