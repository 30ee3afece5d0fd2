/* fileio.c - retried and durable file I/O (see fileio_internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base_file.h"
#include "error_internal.h"
#include "fileio_internal.h"

int eng_open_regular(const char *path, int flags, int missing_code)
{
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int code = errno == ENOENT  ? missing_code
                   : errno == ELOOP ? ENG_ERR_NOT_REGULAR
                                    : ENG_ERR_IO;
        eng_set_error_file(code, path, ENG_WHERE);
        return -1;
    }
    struct stat st;
    int code = ENG_OK;
    if (fstat(fd, &st) != 0) {
        code = ENG_ERR_IO;
    } else if (!S_ISREG(st.st_mode)) {
        code = ENG_ERR_NOT_REGULAR;
    } else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        code = ENG_ERR_IO;
    }
    if (code != ENG_OK) {
        close(fd);
        eng_set_error_file(code, path, ENG_WHERE);
        return -1;
    }
    return fd;
}

int eng_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENG_ENSURE(n >= 0 || (errno != ENOSPC && errno != EDQUOT), ENG_ERR_NO_SPACE);
        ENG_ENSURE(n > 0, ENG_ERR_IO);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int eng_pread_all(int fd, void *buf, size_t len, uint64_t off, int eof_code)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENG_ENSURE(n >= 0, ENG_ERR_IO);
        ENG_ENSURE(n > 0, eof_code);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int eng_read_fd(int fd, size_t max_len, int too_long_code, uint8_t **out, size_t *out_len)
{
    ENG_ENSURE(lseek(fd, 0, SEEK_SET) == 0, ENG_ERR_IO);
    /* Key files and key tables: every block the reader outgrows is wiped before it is freed. */
    char *buf = NULL;
    struct base_err e = BASE_ERR_INIT;
    if (base_fd_read(fd, "", max_len, BASE_FILE_REGULAR | BASE_FILE_WIPE, &buf, out_len, &e) != 0) {
        ENG_BAIL(e.code == BASE_ERR_CAP     ? too_long_code
                 : e.code == BASE_ERR_NOMEM ? ENG_ERR_NOMEM
                                            : ENG_ERR_IO);
    }
    *out = (uint8_t *)buf;
    return 0;
}

int eng_path_join(char *out, size_t max_out_len, const char *dir, const char *name)
{
    int n = snprintf(out, max_out_len, "%s/%s", dir, name);
    ENG_ENSURE(n > 0 && (size_t)n < max_out_len, ENG_ERR_ARG);
    return 0;
}

int eng_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ENG_ENSURE(fd >= 0, ENG_ERR_IO);
    int rc = fsync(fd);
    close(fd);
    ENG_ENSURE(rc == 0, ENG_ERR_IO);
    return 0;
}

int eng_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return eng_fsync_dir(".");
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) {
        return eng_fsync_dir("/");
    }
    ENG_ENSURE(n < sizeof(dir), ENG_ERR_ARG);
    memcpy(dir, path, n);
    dir[n] = '\0';
    return eng_fsync_dir(dir);
}

int eng_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ENG_ENSURE(n > 0 && (size_t)n < sizeof(tmp), ENG_ERR_ARG);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    ENG_ENSURE(fd >= 0, ENG_ERR_IO);
    /* O_CREAT honours the umask only; an existing stale temp keeps its mode: set it. */
    if (fchmod(fd, mode) != 0 || eng_pwrite_all(fd, data, len, 0) != 0 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        ENG_BAIL(ENG_ERR_IO);
    }
    ENG_ENSURE(close(fd) == 0, ENG_ERR_IO);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        ENG_BAIL(ENG_ERR_IO);
    }
    return eng_fsync_parent(path);
}

int eng_secret_open(const char *path, int missing_code, int not_regular_code)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        ENG_ENSURE(errno != ENOENT, missing_code);
        ENG_ENSURE(errno != ELOOP, ENG_ERR_NOT_REGULAR); /* a symbolic link */
        ENG_ENSURE(errno != EACCES, ENG_ERR_KEK_FORBIDDEN);
        ENG_BAIL(ENG_ERR_IO);
    }
    struct stat st;
    int err = ENG_OK;
    if (fstat(fd, &st) != 0) {
        err = ENG_ERR_IO;
    } else if (!S_ISREG(st.st_mode)) {
        err = not_regular_code;
    } else if (st.st_uid != geteuid()) {
        err = ENG_ERR_PERM_OWNER;
    } else if ((st.st_mode & 077) != 0) {
        err = ENG_ERR_PERM_LOOSE;
    }
    if (err != ENG_OK) {
        close(fd);
        ENG_BAIL(err);
    }
    return fd;
}
