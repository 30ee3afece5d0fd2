/*
 * comp_util.c - errors, file reading and value decoding for the readers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "comp_internal.h"

static const struct base_err_row err_rows[] = {COMP_ERRORS(BASE_ERR_TABLE_ROW)};

static const struct base_err_row *err_row_of(int code)
{
    return base_err_row_of(err_rows, sizeof(err_rows) / sizeof(err_rows[0]), code);
}

const char *comp_strerror(int code)
{
    const struct base_err_row *r = err_row_of(code);
    return r != NULL ? r->msg : "unknown error";
}

const char *comp_error_name(int code)
{
    const struct base_err_row *r = err_row_of(code);
    return r != NULL ? r->name : "COMP_ERR_UNKNOWN";
}

int comp_error_known(int code)
{
    return err_row_of(code) != NULL;
}

int comp_fail_at(struct base_err *err, int code, unsigned long line, const char *where,
                 const char *fmt, ...)
{
    if (err == NULL) {
        return -1;
    }
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    base_err_set(err, code, where, "%s", n < 0 ? "" : msg);
    err->line = line;
    return -1;
}

char *comp_memdup0(const char *text, size_t len)
{
    char *p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }
    if (len > 0) {
        memcpy(p, text, len);
    }
    p[len] = '\0';
    return p;
}

int comp_read_file(const char *path, char **out, size_t *out_len, struct base_err *err)
{
    if (path == NULL || out == NULL || out_len == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    struct base_err e = BASE_ERR_INIT;
    if (base_file_read(path, COMP_MAX_FILE_BYTES, BASE_FILE_REGULAR, out, out_len, &e) == 0) {
        return 0;
    }
    switch (e.code) {
        case BASE_ERR_CAP: {
            struct stat st;
            long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
            return comp_fail(err, COMP_ERR_TOO_BIG, 0, "%s: %lld bytes, limit %lu", path, size,
                             COMP_MAX_FILE_BYTES);
        }
        case BASE_ERR_NOMEM:
            return comp_fail(err, COMP_ERR_NOMEM, 0, "%s: no memory", path);
        default: /* "<path>: <strerror>", "<path>: not a regular file" */
            return comp_fail(err, COMP_ERR_IO, 0, "%s", e.msg);
    }
}

int comp_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int comp_contains_ci(const char *hay, const char *needle)
{
    return hay != NULL && needle != NULL && strcasestr(hay, needle) != NULL;
}
