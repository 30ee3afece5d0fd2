/*
 * error_internal.h - setting the thread-local error (s2n-style BAIL/GUARD).
 */
#ifndef ENG_ERROR_INTERNAL_H
#define ENG_ERROR_INTERNAL_H

#include "eng_error.h"

void eng_set_error_at(int code, const char *where);
/* eng_set_error_file records |code| like eng_set_error_at and the file |path| it concerns. */
void eng_set_error_file(int code, const char *path, const char *where);

#define ENG_STR2_(x) #x
#define ENG_STR_(x)  ENG_STR2_(x)
#define ENG_WHERE    __FILE__ ":" ENG_STR_(__LINE__)

/* Record |code| and return -1 from the current function. */
#define ENG_BAIL(code)                       \
    do {                                     \
        eng_set_error_at((code), ENG_WHERE); \
        return -1;                           \
    } while (0)
/* Record |code| and return NULL. */
#define ENG_BAIL_PTR(code)                   \
    do {                                     \
        eng_set_error_at((code), ENG_WHERE); \
        return NULL;                         \
    } while (0)
/* Bail with |code| unless |cond| holds. */
#define ENG_ENSURE(cond, code) \
    do {                       \
        if (!(cond)) {         \
            ENG_BAIL(code);    \
        }                      \
    } while (0)
#define ENG_ENSURE_REF(p) ENG_ENSURE((p) != NULL, ENG_ERR_NULL)
/* Propagate a -1 from a call whose error is already recorded. */
#define ENG_GUARD(x)   \
    do {               \
        if ((x) < 0) { \
            return -1; \
        }              \
    } while (0)
/* OpenSSL returns 1 on success. */
#define ENG_GUARD_OSSL(x, code) \
    do {                        \
        if ((x) != 1) {         \
            ENG_BAIL(code);     \
        }                       \
    } while (0)
/* Record |code| in a function that goes on to a cleanup label. */
#define ENG_SET_ERROR(code) eng_set_error_at((code), ENG_WHERE)

#endif /* ENG_ERROR_INTERNAL_H */
