/*
 * base_err.h - the one error convention of the harness tools.
 *
 * Modelled on the engine's eng_error.h: every failure has a code whose upper
 * byte is a category (so that a caller can branch on the kind of failure or
 * turn it into an exit code), a one-line message for people, and `where`, the
 * "file:line" that raised it (a debugging aid, like eng_error_where).
 *
 * Unlike the engine (a library with a thread-local errno), the tools pass a
 * struct base_err down explicitly: a function that can fail takes a
 * `struct base_err *e` as its last argument, returns -1 (or NULL) and fills
 * |e|; on success it leaves |e| untouched. |e| may always be NULL (the caller
 * does not want the details). Library code never prints. A parser that knows
 * the line of its input at fault sets e->line after base_err_set (which, like
 * base_err_clear, resets it to 0), so that callers and tests need not dig the
 * line out of the message.
 *
 * A module that needs its own codes declares them with BASE_CODE(category,
 * number) in its own X-table, numbered above 0x80 within the category so they
 * never collide with the base codes below:
 *
 *     X(COMP_ERR_SYNTAX, BASE_CODE(BASE_CAT_FORMAT, 0x81), "line is not ...")
 *
 * Typical use:
 *
 *     struct base_err e = BASE_ERR_INIT;
 *     if (base_file_read(path, cap, 0, &text, &len, &e) != 0) {
 *         fprintf(stderr, "tool: %s\n", e.msg);
 *         return base_err_exit_code(e.code);
 *     }
 */
#ifndef BASE_ERR_H
#define BASE_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum base_err_category {
    BASE_CAT_OK = 0,
    BASE_CAT_USAGE = 1,    /* the caller passed something invalid */
    BASE_CAT_FORMAT = 2,   /* input text/bytes are malformed (hex, base64url, JSON, ...) */
    BASE_CAT_RESOURCE = 3, /* memory */
    BASE_CAT_IO = 4,       /* files, sockets */
    BASE_CAT_LIMIT = 5,    /* a size cap was reached */
    BASE_CAT_INTERNAL = 7,
};

/* BASE_CODE makes a code from a category and a number (1..255) within it. */
#define BASE_CODE(cat, num) (((cat) << 8) | (num))

/* X(name, category, number within category, message) */
#define BASE_ERRORS(X)                                                                    \
    X(BASE_OK, OK, 0, "success")                                                          \
    X(BASE_ERR_NULL, USAGE, 1, "a required argument is NULL")                             \
    X(BASE_ERR_ARG, USAGE, 2, "invalid argument")                                         \
    X(BASE_ERR_HEX_CHAR, FORMAT, 1, "not a hexadecimal digit")                            \
    X(BASE_ERR_HEX_ODD, FORMAT, 2, "hex string has an odd number of digits")              \
    X(BASE_ERR_B64_CHAR, FORMAT, 3, "character outside the base64url alphabet")           \
    X(BASE_ERR_B64_LEN, FORMAT, 4, "impossible base64url length or misplaced padding")    \
    X(BASE_ERR_FORMAT, FORMAT, 5, "malformed input (syntax, or not the expected schema)") \
    X(BASE_ERR_NOMEM, RESOURCE, 1, "out of memory")                                       \
    X(BASE_ERR_IO, IO, 1, "cannot open or read the file")                                 \
    X(BASE_ERR_NOT_FOUND, IO, 2, "no such file")                                          \
    X(BASE_ERR_NOT_REGULAR, IO, 3, "not a regular file")                                  \
    X(BASE_ERR_CAP, LIMIT, 1, "size cap exceeded")                                        \
    X(BASE_ERR_INTERNAL, INTERNAL, 1, "internal error")

/*
 * For an X-table of rows X(name, category, number, message), base's and a
 * module's: BASE_ERR_ENUM_ROW makes the enum constant name = BASE_CODE(BASE_CAT_<category>,
 * number), BASE_ERR_TABLE_ROW the struct base_err_row {name, "name", message}.
 */
#define BASE_ERR_ENUM_ROW(name, cat, num, msg)  name = BASE_CODE(BASE_CAT_##cat, num),
#define BASE_ERR_TABLE_ROW(name, cat, num, msg) {name, #name, msg},

enum base_err_code { BASE_ERRORS(BASE_ERR_ENUM_ROW) };

/* Room for a message naming two long paths and a reason (the tools' messages do). */
#define BASE_ERR_MSG_MAX 2048

struct base_err {
    int code;                   /* 0 (BASE_OK) or a code made with BASE_CODE */
    int sys_errno;              /* errno of the failed system call, 0 if none */
    const char *where;          /* "file.c:123" that raised it (static string), "" if none */
    char msg[BASE_ERR_MSG_MAX]; /* one line for people: what failed and on what (a path, a cap) */
    unsigned long line;         /* 1-based line of the input text at fault (parsers), 0 if none */
};

#define BASE_ERR_INIT    \
    {                    \
        0, 0, "", {0}, 0 \
    }

/* base_err_clear resets |e| to BASE_OK with an empty message. NULL is a no-op. */
void base_err_clear(struct base_err *e);

/*
 * base_err_set fills |e| (unless NULL) with |code|, |where| and the
 * printf-formatted message (truncated to fit msg), sets e->sys_errno and
 * e->line to 0, and returns -1 so that a caller can write `return base_err_set(...)`.
 * A NULL |fmt| stores base_strerror(code) as the message.
 */
int base_err_set(struct base_err *e, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* base_err_set_sys is base_err_set that also records |sys_errno| (errno of the failed call). */
int base_err_set_sys(struct base_err *e, int code, int sys_errno, const char *where,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * base_err_prefix puts the printf-formatted context and ": " before e->msg
 * ("reading bench.json: " + msg), truncating the end if needed. Code, errno, line
 * and where are kept. Returns -1. NULL |e| is a no-op.
 */
int base_err_prefix(struct base_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* base_err_category returns the category of |code| (its upper byte). */
enum base_err_category base_err_category(int code);

/* base_strerror returns a static message for a base code; "unknown error" for others. Never NULL.
 */
const char *base_strerror(int code);

/* base_err_name returns the symbolic name of a base code ("BASE_ERR_CAP"); "?" for others. */
const char *base_err_name(int code);

/*
 * A row of an error table: a module makes its table from its X-table,
 *     static const struct base_err_row rows[] = {MOD_ERRORS(BASE_ERR_TABLE_ROW)};
 * and looks codes up with base_err_row_of (as base_strerror does for the base codes).
 */
struct base_err_row {
    int code;
    const char *name; /* "BASE_ERR_CAP" */
    const char *msg;  /* "size cap exceeded" */
};

/* base_err_row_of returns the row of |code| among the |n| |rows|; NULL when it is not there. */
const struct base_err_row *base_err_row_of(const struct base_err_row *rows, size_t n, int code);

/*
 * base_err_exit_code maps a code's category to a process exit status, for
 * tools that report failures by category: OK -> 0, USAGE -> 2, every other
 * category -> 1 (the usual "operation failed").
 */
int base_err_exit_code(int code);

#define BASE_STR_(x) #x
#define BASE_STR(x)  BASE_STR_(x)
/* BASE_HERE is the "file:line" of the place it is written, for the |where| argument. */
#define BASE_HERE (__FILE__ ":" BASE_STR(__LINE__))
/* BASE_FAIL(e, code, fmt, ...) is base_err_set with |where| = here. */
#define BASE_FAIL(e, code, ...) base_err_set((e), (code), BASE_HERE, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* BASE_ERR_H */
