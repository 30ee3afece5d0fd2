/*
 * base_buf.h - a growable byte buffer with a hard cap.
 *
 * The buffer holds |len| bytes at |data| and always keeps one more byte
 * after them set to NUL, so text built in it is a C string (data is NULL
 * while nothing was ever added; base_buf_str gives "" then). It grows by
 * doubling up to |max| content bytes; a call that would pass |max| fails
 * with BASE_ERR_CAP and leaves the buffer exactly as it was (nothing lost,
 * nothing half-written). Every failure leaves the earlier contents intact.
 *
 * BASE_BUF_WIPE is for secrets: growth allocates a new block, copies, wipes
 * the old block (OPENSSL_cleanse) and frees it; reset, take-over failures and
 * free wipe too. Without it the buffer grows with realloc.
 *
 * An allocator hook (struct base_alloc) lets a caller put the bytes in its
 * own memory, e.g. the engine's locked, non-dumpable eng_secure_alloc. The
 * hook's free is given the block's size and must release it; the buffer
 * wipes before calling it when BASE_BUF_WIPE is set.
 *
 * Not thread-safe: one buffer, one thread at a time.
 */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BASE_BUF_WIPE 1u /* wipe every block before it is freed, and on reset */

struct base_alloc {
    /* Returns |size| bytes (contents need not be zeroed) or NULL. */
    void *(*alloc)(size_t size, void *ctx);
    /* Releases a block from alloc of |size| bytes. */
    void (*free)(void *p, size_t size, void *ctx);
    void *ctx;
};

struct base_buf {
    uint8_t *data; /* NULL until the first growth; data[len] == 0 once allocated */
    size_t len;    /* content bytes */
    size_t cap;    /* allocated bytes (content room is cap - 1) */
    size_t max;    /* hard cap on len */
    unsigned flags;
    const struct base_alloc *a; /* NULL: malloc/realloc/free */
};

/* base_buf_init starts an empty buffer that may hold up to |max| bytes. Allocates nothing. */
void base_buf_init(struct base_buf *b, size_t max, unsigned flags);

/*
 * base_buf_init_alloc is base_buf_init with an allocator hook |a| (borrowed:
 * it must outlive the buffer). Growth then always goes alloc-copy-free.
 */
void base_buf_init_alloc(struct base_buf *b, size_t max, unsigned flags,
                         const struct base_alloc *a);

/*
 * base_buf_reserve makes room for |extra| more content bytes (and the NUL)
 * without changing the contents. 0 on success; -1 with BASE_ERR_CAP when
 * len + extra > max (the message names the cap), BASE_ERR_NOMEM when the
 * allocation fails.
 */
int base_buf_reserve(struct base_buf *b, size_t extra, struct base_err *e);

/* base_buf_append adds |n| bytes from |p| (|p| may be NULL when n == 0). Errors as
 * base_buf_reserve. */
int base_buf_append(struct base_buf *b, const void *p, size_t n, struct base_err *e);

/* base_buf_append_str adds strlen(|s|) bytes of |s| (without its NUL). Errors as base_buf_append.
 */
int base_buf_append_str(struct base_buf *b, const char *s, struct base_err *e);

/*
 * base_buf_printf adds printf-formatted text. Errors as base_buf_reserve,
 * and BASE_ERR_ARG when the format itself fails (vsnprintf < 0); on any
 * error the buffer holds what it held before the call.
 */
int base_buf_printf(struct base_buf *b, struct base_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* base_buf_vprintf is base_buf_printf with a va_list. */
int base_buf_vprintf(struct base_buf *b, struct base_err *e, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* base_buf_str returns the contents as a C string; "" while the buffer is empty. */
const char *base_buf_str(const struct base_buf *b);

/* base_buf_reset empties the buffer (wiping the contents under BASE_BUF_WIPE) and keeps its memory.
 */
void base_buf_reset(struct base_buf *b);

/*
 * base_buf_take hands the bytes to the caller: returns the NUL-terminated
 * block (|*len| = content length, |len| may be NULL) and leaves |b| empty
 * with no memory. An empty buffer with no memory gives a newly allocated ""
 * (never NULL on success); NULL only when that allocation fails (|b| is
 * unchanged then). Default allocator: the caller releases the block with
 * free(). With a hook the block is b->cap bytes (read b->cap before taking)
 * and goes back through the hook's free.
 */
char *base_buf_take(struct base_buf *b, size_t *len);

/* base_buf_free releases the memory (wiping it under BASE_BUF_WIPE) and empties |b|. NULL-safe. */
void base_buf_free(struct base_buf *b);

/* ---- typed arrays ------------------------------------------------------------------------- */

/*
 * base_grow makes room for |need| elements of |elem| bytes in a malloc'd
 * array: |parr| is the address of the array pointer (e.g. &r->rows, NULL
 * while empty), |*cap| its capacity in elements. The capacity doubles from
 * 16 until it holds |need|, never beyond |max| elements. 0 on success (also
 * when it already fits); -1 with BASE_ERR_CAP when need > max or the size in
 * bytes would overflow, BASE_ERR_NOMEM when realloc fails - the array and
 * |*cap| are unchanged then. For arrays of plain records; a byte buffer is
 * struct base_buf, and secret bytes belong in a BASE_BUF_WIPE buffer.
 */
int base_grow(void *parr, size_t *cap, size_t need, size_t elem, size_t max, struct base_err *e);

#ifdef __cplusplus
}
#endif
#endif /* BASE_BUF_H */
