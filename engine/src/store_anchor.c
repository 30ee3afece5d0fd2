/*
 * store_anchor.c - the freshness anchor of a folder store: the highest key
 * table generation this user has seen for a store at a path, kept outside
 * the store folder, so that a key table rolled back inside the folder is
 * refused (see eng_store.h, "Freshness").
 *
 * One file per (store id, real path of the folder) in the anchor folder:
 *   "CMKAN001" | store id (16) | u64 generation | SHA-256 of the 32 bytes before
 * Written crash-safely: a unique temporary file, fsync, rename, fsync the
 * folder. Readers with shared locks may raise the same anchor at once; they
 * write the same generation, and the unique names keep their renames apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base_codec.h"
#include "bytes_internal.h"
#include "error_internal.h"
#include "fileio_internal.h"
#include "store_internal.h"

#define ANCHOR_MAGIC "CMKAN001"
#define ANCHOR_BYTES (8 + ENG_STORE_ID_BYTES + 8 + SHA256_DIGEST_LENGTH)

/* Records ENG_ERR_ANCHOR naming |path| and |why| ("PATH: why"); returns -1. */
static int anchor_fail(const char *path, const char *why, const char *where)
{
    char named[PATH_MAX + 96];
    snprintf(named, sizeof(named), "%s: %s", path, why);
    eng_set_error_file(ENG_ERR_ANCHOR, named, where);
    return -1;
}

/* Makes |dir| (mode 0700) if missing; it must then be a folder of ours that others cannot write. */
static int private_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return anchor_fail(dir, strerror(errno), ENG_WHERE);
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return anchor_fail(dir, "not a folder", ENG_WHERE);
    }
    if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        return anchor_fail(dir, "folder owned by another user or writable by group or others",
                           ENG_WHERE);
    }
    return 0;
}

/* The anchor folder: cfg, else $CMK_ANCHOR_DIR, else $HOME/.cmk/anchors (made 0700). */
static int anchor_dir(const struct eng_store *s, char *out, size_t max_out_len)
{
    const char *d = s->cfg.anchor_dir;
    if (d == NULL || d[0] == '\0') {
        d = getenv("CMK_ANCHOR_DIR");
    }
    if (d != NULL && d[0] != '\0') {
        ENG_ENSURE(strlen(d) < max_out_len, ENG_ERR_ANCHOR);
        snprintf(out, max_out_len, "%s", d);
        return private_dir(out);
    }
    const char *home = getenv("HOME");
    ENG_ENSURE(home != NULL && home[0] != '\0', ENG_ERR_ANCHOR);
    int n = snprintf(out, max_out_len, "%s/.cmk", home);
    ENG_ENSURE(n > 0 && (size_t)n < max_out_len, ENG_ERR_ANCHOR);
    ENG_GUARD(private_dir(out));
    n = snprintf(out, max_out_len, "%s/.cmk/anchors", home);
    ENG_ENSURE(n > 0 && (size_t)n < max_out_len, ENG_ERR_ANCHOR);
    return private_dir(out);
}

int st_anchor_locate(struct eng_store *s)
{
    s->anchor[0] = '\0';
    if (s->in_memory || (s->cfg.flags & ENG_STORE_NO_ANCHOR) != 0) {
        return 0;
    }
    char dir[PATH_MAX], real[PATH_MAX];
    ENG_GUARD(anchor_dir(s, dir, sizeof(dir)));
    ENG_ENSURE(realpath(s->dir, real) != NULL, ENG_ERR_IO);
    uint8_t path_hash[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)real, strlen(real), path_hash);
    char id_hex[2 * ENG_STORE_ID_BYTES + 1], path_hex[2 * 8 + 1];
    base_hex(id_hex, s->kt.store_id, ENG_STORE_ID_BYTES);
    base_hex(path_hex, path_hash, 8);
    int n = snprintf(s->anchor, sizeof(s->anchor), "%s/%s-%s", dir, id_hex, path_hex);
    ENG_ENSURE(n > 0 && (size_t)n + 8 < sizeof(s->anchor), ENG_ERR_ANCHOR);
    return 0;
}

/* Reads the anchor: 1 with *gen, 0 when there is none yet, -1 (ENG_ERR_ANCHOR) when unusable. */
static int anchor_read(const struct eng_store *s, uint64_t *gen)
{
    int fd = open(s->anchor, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        return 0;
    }
    if (fd < 0) {
        return anchor_fail(s->anchor, errno == ELOOP ? "a symbolic link" : strerror(errno),
                           ENG_WHERE);
    }
    struct stat st;
    uint8_t buf[ANCHOR_BYTES];
    const char *why = fstat(fd, &st) != 0      ? "cannot stat"
                      : !S_ISREG(st.st_mode)   ? "not a regular file"
                      : st.st_uid != geteuid() ? "owned by another user"
                      : (st.st_mode & 077) != 0
                          ? "readable or writable by group or others (want mode 0600)"
                      : st.st_size != ANCHOR_BYTES ? "wrong size (corrupt)"
                      : eng_pread_all(fd, buf, sizeof(buf), 0, ENG_ERR_ANCHOR) != 0 ? "read failed"
                                                                                    : NULL;
    close(fd);
    if (why != NULL) {
        return anchor_fail(s->anchor, why, ENG_WHERE);
    }
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(buf, ANCHOR_BYTES - SHA256_DIGEST_LENGTH, digest);
    if (memcmp(buf, ANCHOR_MAGIC, 8) != 0 ||
        memcmp(buf + 8, s->kt.store_id, ENG_STORE_ID_BYTES) != 0 ||
        memcmp(digest, buf + ANCHOR_BYTES - SHA256_DIGEST_LENGTH, sizeof(digest)) != 0) {
        return anchor_fail(s->anchor, "corrupt (checksum or store id wrong)", ENG_WHERE);
    }
    *gen = eng_be64_get(buf + 8 + ENG_STORE_ID_BYTES);
    return 1;
}

static int anchor_write(const struct eng_store *s, uint64_t gen)
{
    uint8_t buf[ANCHOR_BYTES];
    memcpy(buf, ANCHOR_MAGIC, 8);
    memcpy(buf + 8, s->kt.store_id, ENG_STORE_ID_BYTES);
    eng_be64_put(buf + 8 + ENG_STORE_ID_BYTES, gen);
    SHA256(buf, ANCHOR_BYTES - SHA256_DIGEST_LENGTH, buf + ANCHOR_BYTES - SHA256_DIGEST_LENGTH);
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", s->anchor);
    ENG_ENSURE(n > 0 && (size_t)n < sizeof(tmp), ENG_ERR_ANCHOR);
    int fd = mkostemp(tmp, O_CLOEXEC);
    ENG_ENSURE(fd >= 0, ENG_ERR_ANCHOR);
    int ok =
        fchmod(fd, 0600) == 0 && eng_pwrite_all(fd, buf, sizeof(buf), 0) == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, s->anchor) == 0;
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return anchor_fail(s->anchor,
                           e == ENOSPC || e == EDQUOT ? "no space left on device" : "write failed",
                           ENG_WHERE);
    }
    ENG_ENSURE(eng_fsync_parent(s->anchor) == 0, ENG_ERR_ANCHOR);
    return 0;
}

int st_anchor_check(struct eng_store *s)
{
    if (s->anchor[0] == '\0') {
        return 0;
    }
    uint64_t gen = 0;
    int have = anchor_read(s, &gen);
    ENG_GUARD(have < 0 ? -1 : 0);
    ENG_ENSURE(!have || s->kt.generation >= gen, ENG_ERR_KEYTABLE_ROLLBACK);
    if (have && s->kt.generation == gen) {
        return 0;
    }
    return anchor_write(s, s->kt.generation); /* first open (trust on first use), or newer */
}

int st_anchor_raise(struct eng_store *s)
{
    if (s->anchor[0] == '\0') {
        return 0;
    }
    return anchor_write(s, s->kt.generation);
}
