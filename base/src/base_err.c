/*
 * base_err.c - the harness tools' error records (see base_err.h).
 */
#include "base_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void base_err_clear(struct base_err *e)
{
    if (e == NULL) {
        return;
    }
    e->code = BASE_OK;
    e->sys_errno = 0;
    e->where = "";
    e->msg[0] = '\0';
    e->line = 0;
}

__attribute__((format(printf, 5, 0))) static void err_vset(struct base_err *e, int code,
                                                           int sys_errno, const char *where,
                                                           const char *fmt, va_list ap)
{
    e->code = code;
    e->sys_errno = sys_errno;
    e->where = where != NULL ? where : "";
    e->line = 0;
    if (fmt == NULL) {
        snprintf(e->msg, sizeof(e->msg), "%s", base_strerror(code));
        return;
    }
    if (vsnprintf(e->msg, sizeof(e->msg), fmt, ap) < 0) {
        snprintf(e->msg, sizeof(e->msg), "%s", base_strerror(code));
    }
}

int base_err_set(struct base_err *e, int code, const char *where, const char *fmt, ...)
{
    if (e == NULL) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, 0, where, fmt, ap);
    va_end(ap);
    return -1;
}

int base_err_set_sys(struct base_err *e, int code, int sys_errno, const char *where,
                     const char *fmt, ...)
{
    if (e == NULL) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, sys_errno, where, fmt, ap);
    va_end(ap);
    return -1;
}

int base_err_prefix(struct base_err *e, const char *fmt, ...)
{
    if (e == NULL) {
        return -1;
    }
    char head[sizeof(e->msg)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }
    /* head ": " old, cut to fit msg */
    char joined[2 * sizeof(e->msg) + 2];
    size_t h = strnlen(head, sizeof(head) - 1);
    size_t o = strnlen(e->msg, sizeof(e->msg) - 1);
    memcpy(joined, head, h);
    memcpy(joined + h, ": ", 2);
    memcpy(joined + h + 2, e->msg, o);
    size_t total = h + 2 + o;
    if (total > sizeof(e->msg) - 1) {
        total = sizeof(e->msg) - 1;
    }
    memcpy(e->msg, joined, total);
    e->msg[total] = '\0';
    return -1;
}

enum base_err_category base_err_category(int code)
{
    return (enum base_err_category)((unsigned)code >> 8);
}

const struct base_err_row *base_err_row_of(const struct base_err_row *rows, size_t n, int code)
{
    for (size_t i = 0; rows != NULL && i < n; i++) {
        if (rows[i].code == code) {
            return &rows[i];
        }
    }
    return NULL;
}

static const struct base_err_row rows[] = {BASE_ERRORS(BASE_ERR_TABLE_ROW)};

static const struct base_err_row *row_of(int code)
{
    return base_err_row_of(rows, sizeof(rows) / sizeof(rows[0]), code);
}

const char *base_strerror(int code)
{
    const struct base_err_row *r = row_of(code);
    return r != NULL ? r->msg : "unknown error";
}

const char *base_err_name(int code)
{
    const struct base_err_row *r = row_of(code);
    return r != NULL ? r->name : "?";
}

int base_err_exit_code(int code)
{
    switch (base_err_category(code)) {
        case BASE_CAT_OK:
            return 0;
        case BASE_CAT_USAGE:
            return 2;
        default:
            return 1;
    }
}
