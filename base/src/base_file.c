/*
 * base_file.c - whole-file reading with a size cap (see base_file.h).
 */
#include "base_file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int base_fd_read_buf(int fd, const char *name, unsigned flags, struct base_buf *b,
                     struct base_err *e)
{
    if (flags & BASE_FILE_REGULAR) {
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int en = errno;
            return base_err_set_sys(e, BASE_ERR_IO, en, BASE_HERE, "%s: %s", name, strerror(en));
        }
        if (!S_ISREG(st.st_mode)) {
            return base_err_set(e, BASE_ERR_NOT_REGULAR, BASE_HERE, "%s: not a regular file", name);
        }
    }
    size_t start = b->len;
    for (;;) {
        if (b->len == b->max) {
            /* Full: one more byte read tells a file of exactly |max| bytes from a longer one. */
            char probe;
            ssize_t n = read(fd, &probe, 1);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n == 0) {
                return 0;
            }
            OPENSSL_cleanse(&probe, sizeof(probe));
            if (n < 0) {
                int en = errno;
                base_err_set_sys(e, BASE_ERR_IO, en, BASE_HERE, "%s: %s", name, strerror(en));
            } else {
                base_err_set(e, BASE_ERR_CAP, BASE_HERE, "%s: larger than the cap of %zu bytes",
                             name, b->max);
            }
            break;
        }
        size_t want = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
        if (want < 4096) {
            size_t grow = b->max - b->len < 4096 ? b->max - b->len : 4096;
            if (base_buf_reserve(b, grow, e) != 0) {
                base_err_prefix(e, "%s", name);
                break;
            }
            want = b->cap - b->len - 1;
        }
        ssize_t n = read(fd, b->data + b->len, want);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int en = errno;
            base_err_set_sys(e, BASE_ERR_IO, en, BASE_HERE, "%s: %s", name, strerror(en));
            break;
        }
        if (n == 0) {
            b->data[b->len] = '\0';
            return 0;
        }
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    /* Failed: drop (and under BASE_BUF_WIPE wipe) what this call added. */
    if (b->data != NULL) {
        if (b->flags & BASE_BUF_WIPE) {
            OPENSSL_cleanse(b->data + start, b->cap - start);
        }
        b->data[start] = '\0';
    }
    b->len = start;
    return -1;
}

int base_fd_read(int fd, const char *name, size_t max, unsigned flags, char **out, size_t *out_len,
                 struct base_err *e)
{
    *out = NULL;
    if (out_len != NULL) {
        *out_len = 0;
    }
    struct base_buf b;
    base_buf_init(&b, max, (flags & BASE_FILE_WIPE) ? BASE_BUF_WIPE : 0);
    if (base_fd_read_buf(fd, name, flags & BASE_FILE_REGULAR, &b, e) != 0) {
        base_buf_free(&b);
        return -1;
    }
    size_t n = 0;
    char *p = base_buf_take(&b, &n);
    if (p == NULL) {
        base_buf_free(&b);
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "%s: out of memory", name);
    }
    *out = p;
    if (out_len != NULL) {
        *out_len = n;
    }
    return 0;
}

int base_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *out_len,
                   struct base_err *e)
{
    *out = NULL;
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (path == NULL) {
        return base_err_set(e, BASE_ERR_NULL, BASE_HERE, "NULL path");
    }
    int oflags = O_RDONLY | O_CLOEXEC;
    if (flags & BASE_FILE_NOFOLLOW) {
        oflags |= O_NOFOLLOW;
    }
    if (flags & BASE_FILE_REGULAR) {
        oflags |= O_NONBLOCK; /* a FIFO must not block the open; refused below */
    }
    int fd = open(path, oflags);
    if (fd < 0) {
        int en = errno;
        if (en == ELOOP && (flags & BASE_FILE_NOFOLLOW)) {
            return base_err_set_sys(e, BASE_ERR_NOT_REGULAR, en, BASE_HERE,
                                    "%s: not a regular file", path);
        }
        return base_err_set_sys(e, en == ENOENT ? BASE_ERR_NOT_FOUND : BASE_ERR_IO, en, BASE_HERE,
                                "%s: %s", path, strerror(en));
    }
    if (flags & BASE_FILE_REGULAR) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) {
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        }
    }
    int rc = base_fd_read(fd, path, max, flags, out, out_len, e);
    close(fd);
    return rc;
}
