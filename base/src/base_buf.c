/*
 * base_buf.c - the capped growable byte buffer (see base_buf.h).
 */
#include "base_buf.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void base_buf_init_alloc(struct base_buf *b, size_t max, unsigned flags, const struct base_alloc *a)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max < (size_t)-2 ? max : (size_t)-3; /* room for the NUL and the doubling */
    b->flags = flags;
    b->a = a;
}

void base_buf_init(struct base_buf *b, size_t max, unsigned flags)
{
    base_buf_init_alloc(b, max, flags, NULL);
}

static void *blk_alloc(const struct base_buf *b, size_t n)
{
    return b->a != NULL ? b->a->alloc(n, b->a->ctx) : malloc(n);
}

static void blk_free(const struct base_buf *b, void *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    if (b->flags & BASE_BUF_WIPE) {
        OPENSSL_cleanse(p, n);
    }
    if (b->a != NULL) {
        b->a->free(p, n, b->a->ctx);
    } else {
        free(p);
    }
}

int base_buf_reserve(struct base_buf *b, size_t extra, struct base_err *e)
{
    if (extra > b->max - b->len) {
        return base_err_set(e, BASE_ERR_CAP, BASE_HERE,
                            "buffer cap of %zu bytes exceeded (holds %zu, %zu more asked)", b->max,
                            b->len, extra);
    }
    size_t need = b->len + extra + 1; /* the NUL */
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap != 0 ? b->cap : 64;
    while (cap < need) {
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    uint8_t *nb;
    if (b->a == NULL && !(b->flags & BASE_BUF_WIPE)) {
        nb = realloc(b->data, cap);
        if (nb == NULL) {
            return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE,
                                "out of memory growing a buffer to %zu bytes", cap);
        }
    } else {
        nb = blk_alloc(b, cap);
        if (nb == NULL) {
            return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE,
                                "out of memory growing a buffer to %zu bytes", cap);
        }
        if (b->data != NULL) {
            memcpy(nb, b->data, b->len);
        }
        blk_free(b, b->data, b->cap);
    }
    nb[b->len] = '\0';
    b->data = nb;
    b->cap = cap;
    return 0;
}

int base_buf_append(struct base_buf *b, const void *p, size_t n, struct base_err *e)
{
    if (base_buf_reserve(b, n, e) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int base_buf_append_str(struct base_buf *b, const char *s, struct base_err *e)
{
    return base_buf_append(b, s, strlen(s), e);
}

int base_buf_vprintf(struct base_buf *b, struct base_err *e, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[1];
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room > 0 ? (char *)b->data + b->len : small, room > 0 ? room : sizeof(small),
                      fmt, ap);
    if (n < 0) {
        va_end(ap2);
        if (b->data != NULL) {
            b->data[b->len] = '\0';
        }
        return base_err_set(e, BASE_ERR_ARG, BASE_HERE, "printf format failed");
    }
    if ((size_t)n < room) {
        va_end(ap2);
        b->len += (size_t)n;
        return 0;
    }
    /* Did not fit: restore the terminator, grow, format again. */
    if (b->data != NULL) {
        if (b->flags & BASE_BUF_WIPE) {
            OPENSSL_cleanse(b->data + b->len, room);
        }
        b->data[b->len] = '\0';
    }
    if (base_buf_reserve(b, (size_t)n, e) != 0) {
        va_end(ap2);
        return -1;
    }
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

int base_buf_printf(struct base_buf *b, struct base_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = base_buf_vprintf(b, e, fmt, ap);
    va_end(ap);
    return rc;
}

const char *base_buf_str(const struct base_buf *b)
{
    return b->data != NULL ? (const char *)b->data : "";
}

void base_buf_reset(struct base_buf *b)
{
    if (b->data != NULL) {
        if (b->flags & BASE_BUF_WIPE) {
            OPENSSL_cleanse(b->data, b->cap);
        }
        b->data[0] = '\0';
    }
    b->len = 0;
}

char *base_buf_take(struct base_buf *b, size_t *len)
{
    char *p = (char *)b->data;
    if (p == NULL) {
        p = blk_alloc(b, 1);
        if (p == NULL) {
            return NULL;
        }
        p[0] = '\0';
    }
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void base_buf_free(struct base_buf *b)
{
    if (b == NULL) {
        return;
    }
    blk_free(b, b->data, b->cap);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int base_grow(void *parr, size_t *cap, size_t need, size_t elem, size_t max, struct base_err *e)
{
    if (need <= *cap) {
        return 0;
    }
    if (elem == 0 || need > max || need > (size_t)-1 / elem) {
        return base_err_set(e, BASE_ERR_CAP, BASE_HERE,
                            "array cap of %zu elements exceeded (%zu asked)", max, need);
    }
    size_t n = *cap != 0 ? *cap : 16;
    while (n < need) {
        n = n > (size_t)-1 / 2 ? need : n * 2;
    }
    if (n > max) {
        n = max;
    }
    if (n > (size_t)-1 / elem) {
        n = need;
    }
    void *old;
    memcpy(&old, parr, sizeof(old));
    void *p = realloc(old, n * elem);
    if (p == NULL) {
        return base_err_set(e, BASE_ERR_NOMEM, BASE_HERE, "out of memory for %zu elements", n);
    }
    memcpy(parr, &p, sizeof(p));
    *cap = n;
    return 0;
}
