/* error.c - the thread-local error and the message table. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "error_internal.h"

static _Thread_local int tl_errno = ENG_OK;
static _Thread_local const char *tl_where = "";
static _Thread_local char tl_file[PATH_MAX];
static _Thread_local int tl_file_code = ENG_OK;

void eng_set_error_at(int code, const char *where)
{
    tl_errno = code;
    tl_where = where;
}

int eng_errno(void)
{
    return tl_errno;
}

const char *eng_error_where(void)
{
    return tl_where;
}

void eng_set_error_file(int code, const char *path, const char *where)
{
    eng_set_error_at(code, where);
    snprintf(tl_file, sizeof(tl_file), "%s", path);
    tl_file_code = code;
}

/* The path stays with its code: a later failure with another code named no file. */
const char *eng_error_file(void)
{
    return tl_file_code == tl_errno && tl_errno != ENG_OK ? tl_file : "";
}

void eng_clear_error(void)
{
    tl_errno = ENG_OK;
    tl_where = "";
    tl_file_code = ENG_OK;
}

struct err_entry {
    int code;
    const char *name;
    const char *msg;
};

#define ENG_ERR_ENTRY_(name, cat, num, msg) {name, #name, msg},
static const struct err_entry entries[] = {ENG_ERRORS(ENG_ERR_ENTRY_)};
#undef ENG_ERR_ENTRY_

static const struct err_entry *find(int code)
{
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        if (entries[i].code == code) {
            return &entries[i];
        }
    }
    return NULL;
}

const char *eng_strerror(int code)
{
    const struct err_entry *e = find(code);
    return e != NULL ? e->msg : "unknown error code";
}

const char *eng_error_name(int code)
{
    const struct err_entry *e = find(code);
    return e != NULL ? e->name : "ENG_ERR_UNKNOWN";
}

enum eng_err_category eng_error_category(int code)
{
    return (enum eng_err_category)((code >> 8) & 0xff);
}
