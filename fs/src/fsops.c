/*
 * fsops.c - cmk-fs's FUSE operations (see cmkfs.h): the glue between
 * libfuse's path-based calls and the backing tree, and between open files
 * and the data path (data.c, which also describes the on-disk layout).
 *
 * Every operation works on the backing tree through g_fs.root_fd (openat
 * and friends), and on open files through their own descriptor, so that
 * with nullpath_ok a NULL path (an unlinked or renamed open file) works.
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cmkfs.h"
#include "eng_secure.h"

struct dirh {
    DIR *dp;
    struct dirent *entry;
    off_t offset;
};

/* "/a/b" -> "a/b"; "/" -> "." (relative to g_fs.root_fd). */
static const char *rel(const char *path)
{
    while (*path == '/') {
        path++;
    }
    return *path == '\0' ? "." : path;
}

/*
 * Like rel, but an open file libfuse hides at unlink (".fuse_hidden*": see
 * fs_init) lives in BACKING/orphans, outside the tree: it shows in no
 * listing and keeps no folder from being removed. |slot| 0 or 1 (rename).
 */
static const char *relx(const char *path, int slot)
{
    static __thread char buf[2][PATH_MAX];
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strncmp(base, CMKFS_HIDDEN, strlen(CMKFS_HIDDEN)) != 0) {
        return rel(path);
    }
    snprintf(buf[slot], sizeof(buf[slot]), "../" CMKFS_ORPHANS "/%s", base);
    return buf[slot];
}

static struct cmkfs_handle *fh_of(const struct fuse_file_info *fi)
{
    return (struct cmkfs_handle *)(uintptr_t)fi->fh;
}
/* --- file operations -------------------------------------------------------- */

static int open_handle(int fd, int flags, struct fuse_file_info *fi)
{
    struct cmkfs_handle *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(fd);
        return -ENOMEM;
    }
    h->fd = fd;
    h->append = (flags & O_APPEND) != 0;
    int rc = cmkfs_node_get(fd, &h->n);
    if (rc == 0 && (flags & O_TRUNC) != 0) {
        rc = cmkfs_resize(h, 0);
        if (rc != 0) {
            cmkfs_node_put(h->n, fd);
        }
    }
    if (rc != 0) {
        close(fd);
        free(h);
        return rc;
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    int fd = openat(g_fs.root_fd, relx(path, 0), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    return open_handle(fd, fi->flags, fi);
}

/* Creates a regular file with the caller's owner and a fresh header. */
static int create_file(const char *path, mode_t mode, int *fd_out)
{
    int fd = openat(g_fs.root_fd, relx(path, 0), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW,
                    mode & 07777);
    if (fd < 0) {
        return -errno;
    }
    struct fuse_context *ctx = fuse_get_context();
    int rc = fchown(fd, ctx->uid, ctx->gid) != 0 ? -errno : cmkfs_write_header(fd);
    if (rc != 0) {
        close(fd);
        unlinkat(g_fs.root_fd, relx(path, 0), 0);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    int fd = -1;
    rc = create_file(path, mode, &fd);
    if (rc == -EEXIST && (fi->flags & O_EXCL) == 0) {
        return fs_open(path, fi);
    }
    return rc != 0 ? rc : open_handle(fd, fi->flags & ~O_TRUNC, fi);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct cmkfs_handle *h = fh_of(fi);
    cmkfs_node_put(h->n, h->fd);
    close(h->fd);
    free(h);
    return 0;
}
static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    int rc = cmkfs_key_ok();
    return rc != 0 ? rc : cmkfs_read(fh_of(fi), buf, size, (uint64_t)off);
}

/*
 * write_buf rather than write: the request's data in libfuse's receive
 * buffer is ours to overwrite, so XTS encrypts it in place (no copy, and no
 * plaintext left behind in the buffer). Data in several pieces or in a pipe
 * (splice) is first gathered into one buffer, wiped after.
 */
static int fs_write_buf(const char *path, struct fuse_bufvec *bv, off_t off,
                        struct fuse_file_info *fi)
{
    (void)path;
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    const struct fuse_buf *b = &bv->buf[bv->idx];
    if (bv->count == bv->idx + 1 && (b->flags & FUSE_BUF_IS_FD) == 0 && bv->off <= b->size) {
        return cmkfs_write(fh_of(fi), (char *)b->mem + bv->off, b->size - bv->off, (uint64_t)off);
    }
    size_t size = fuse_buf_size(bv);
    struct fuse_bufvec flat = FUSE_BUFVEC_INIT(size);
    flat.buf[0].mem = malloc(size > 0 ? size : 1);
    if (flat.buf[0].mem == NULL) {
        return -ENOMEM;
    }
    ssize_t got = fuse_buf_copy(&flat, bv, 0);
    rc = got < 0 ? (int)got : cmkfs_write(fh_of(fi), flat.buf[0].mem, (size_t)got, (uint64_t)off);
    eng_cleanse(flat.buf[0].mem, size);
    free(flat.buf[0].mem);
    return rc;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    if (size < 0) {
        return -EINVAL;
    }
    struct fuse_file_info tmp = {.flags = O_RDWR};
    if (fi == NULL) {
        rc = fs_open(path, &tmp);
        if (rc != 0) {
            return rc;
        }
    }
    rc = cmkfs_resize(fh_of(fi != NULL ? fi : &tmp), (uint64_t)size);
    if (fi == NULL) {
        fs_release(path, &tmp);
    }
    return rc;
}
static int fs_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
    (void)path;
    if (mode != 0) {
        return -EOPNOTSUPP;
    }
    if (off < 0 || len <= 0) {
        return -EINVAL;
    }
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    return cmkfs_allocate(fh_of(fi), (uint64_t)off, (uint64_t)len);
}
static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    int fd = fh_of(fi)->fd;
    return (datasync ? fdatasync(fd) : fsync(fd)) != 0 ? -errno : 0;
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    return 0;
}

/* --- metadata and directories ---------------------------------------------- */

static void fix_size(struct stat *st)
{
    if (S_ISREG(st->st_mode)) {
        st->st_size = (off_t)cmkfs_logical_size((uint64_t)st->st_size);
    }
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    int rc = fi != NULL ? fstat(fh_of(fi)->fd, st)
                        : fstatat(g_fs.root_fd, relx(path, 0), st, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) {
        return -errno;
    }
    fix_size(st);
    return 0;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
    ssize_t r = readlinkat(g_fs.root_fd, relx(path, 0), buf, size - 1);
    if (r < 0) {
        return -errno;
    }
    buf[r] = '\0';
    return 0;
}

static int own(const char *path)
{
    struct fuse_context *ctx = fuse_get_context();
    return fchownat(g_fs.root_fd, relx(path, 0), ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW) != 0
               ? -errno
               : 0;
}

static int fs_mknod(const char *path, mode_t mode, dev_t rdev)
{
    if (S_ISREG(mode)) {
        int fd = -1;
        int rc = cmkfs_key_ok();
        if (rc == 0) {
            rc = create_file(path, mode, &fd);
        }
        if (rc == 0) {
            close(fd);
        }
        return rc;
    }
    if (mknodat(g_fs.root_fd, relx(path, 0), mode, rdev) != 0) {
        return -errno;
    }
    return own(path);
}

static int fs_mkdir(const char *path, mode_t mode)
{
    if (mkdirat(g_fs.root_fd, relx(path, 0), mode) != 0) {
        return -errno;
    }
    return own(path);
}

static int fs_symlink(const char *target, const char *path)
{
    if (symlinkat(target, g_fs.root_fd, relx(path, 0)) != 0) {
        return -errno;
    }
    return own(path);
}

static int fs_unlink(const char *path)
{
    return unlinkat(g_fs.root_fd, relx(path, 0), 0) != 0 ? -errno : 0;
}

static int fs_rmdir(const char *path)
{
    return unlinkat(g_fs.root_fd, relx(path, 0), AT_REMOVEDIR) != 0 ? -errno : 0;
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
    return renameat2(g_fs.root_fd, relx(from, 0), g_fs.root_fd, relx(to, 1), flags) != 0 ? -errno
                                                                                         : 0;
}

static int fs_link(const char *from, const char *to)
{
    return linkat(g_fs.root_fd, relx(from, 0), g_fs.root_fd, relx(to, 1), 0) != 0 ? -errno : 0;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int rc =
        fi != NULL ? fchmod(fh_of(fi)->fd, mode) : fchmodat(g_fs.root_fd, relx(path, 0), mode, 0);
    return rc != 0 ? -errno : 0;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    int rc = fi != NULL ? fchown(fh_of(fi)->fd, uid, gid)
                        : fchownat(g_fs.root_fd, relx(path, 0), uid, gid, AT_SYMLINK_NOFOLLOW);
    return rc != 0 ? -errno : 0;
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    int rc = fi != NULL ? futimens(fh_of(fi)->fd, tv)
                        : utimensat(g_fs.root_fd, relx(path, 0), tv, AT_SYMLINK_NOFOLLOW);
    return rc != 0 ? -errno : 0;
}

static int fs_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    return fstatvfs(g_fs.root_fd, st) != 0 ? -errno : 0;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
    int fd = openat(g_fs.root_fd, relx(path, 0), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    struct dirh *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->dp = fdopendir(fd)) == NULL) {
        int rc = d == NULL ? -ENOMEM : -errno;
        close(fd);
        free(d);
        return rc;
    }
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)path;
    (void)flags;
    struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
    if (offset != d->offset) {
        seekdir(d->dp, offset);
        d->entry = NULL;
        d->offset = offset;
    }
    for (;;) {
        if (d->entry == NULL) {
            errno = 0;
            d->entry = readdir(d->dp);
            if (d->entry == NULL) {
                return errno != 0 ? -errno : 0;
            }
        }
        struct stat st;
        memset(&st, 0, sizeof(st));
        st.st_ino = d->entry->d_ino;
        st.st_mode = (mode_t)d->entry->d_type << 12;
        off_t next = telldir(d->dp);
        if (filler(buf, d->entry->d_name, &st, next, 0) != 0) {
            break;
        }
        d->entry = NULL;
        d->offset = next;
    }
    return 0;
}

static int fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    int rc = cmkfs_key_ok();
    if (rc != 0) {
        return rc;
    }
    int fd = dirfd(((struct dirh *)(uintptr_t)fi->fh)->dp);
    return (datasync ? fdatasync(fd) : fsync(fd)) != 0 ? -errno : 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
    closedir(d->dp);
    free(d);
    return 0;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /*
     * Requests are read into memory, never spliced into a pipe (libfuse asks
     * for splice when write_buf exists): fs_write_buf then always gets the
     * data in one buffer it may encrypt in place.
     */
    conn->want &= ~FUSE_CAP_SPLICE_READ;
    cfg->nullpath_ok = 1; /* handles work without a path (unlinked or renamed open files) */
    /*
     * hard_remove stays 0: libfuse renames an unlinked file that is still
     * open to .fuse_hidden* until its last close (the kernel sends fstat()
     * without the file handle, and the high-level API cannot find a removed
     * node's path); relx keeps such files in BACKING/orphans.
     */
    cfg->direct_io = 1; /* every read and write reaches us: key loss takes effect at once */
    cfg->use_ino = 1;
    return NULL;
}

void cmkfs_operations(struct fuse_operations *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->init = fs_init;
    ops->getattr = fs_getattr;
    ops->readlink = fs_readlink;
    ops->mknod = fs_mknod;
    ops->mkdir = fs_mkdir;
    ops->symlink = fs_symlink;
    ops->unlink = fs_unlink;
    ops->rmdir = fs_rmdir;
    ops->rename = fs_rename;
    ops->link = fs_link;
    ops->chmod = fs_chmod;
    ops->chown = fs_chown;
    ops->truncate = fs_truncate;
    ops->open = fs_open;
    ops->create = fs_create;
    ops->read = fs_read;
    ops->write_buf = fs_write_buf;
    ops->statfs = fs_statfs;
    ops->flush = fs_flush;
    ops->release = fs_release;
    ops->fsync = fs_fsync;
    ops->fallocate = fs_fallocate;
    ops->utimens = fs_utimens;
    ops->opendir = fs_opendir;
    ops->readdir = fs_readdir;
    ops->fsyncdir = fs_fsyncdir;
    ops->releasedir = fs_releasedir;
}
