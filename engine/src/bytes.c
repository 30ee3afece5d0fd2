/* bytes.c - bounds-checked binary reader and capped writer (see bytes_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "bytes_internal.h"
#include "eng_secure.h"

void eng_rd_init(struct eng_rd *r, const uint8_t *data, size_t len)
{
    r->p = data;
    r->left = data == NULL ? 0 : len;
    r->short_read = 0;
}

int eng_rd_view(struct eng_rd *r, const uint8_t **out, size_t len)
{
    if (r->left < len) {
        r->short_read = 1;
        return -1;
    }
    *out = r->p;
    r->p += len;
    r->left -= len;
    return 0;
}

int eng_rd_bytes(struct eng_rd *r, uint8_t *out, size_t len)
{
    const uint8_t *v;
    if (eng_rd_view(r, &v, len) != 0) {
        return -1;
    }
    if (len > 0) {
        memcpy(out, v, len);
    }
    return 0;
}

static int rd_be(struct eng_rd *r, size_t n, uint64_t *out)
{
    const uint8_t *v;
    if (eng_rd_view(r, &v, n) != 0) {
        return -1;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = (x << 8) | v[i];
    }
    *out = x;
    return 0;
}

int eng_rd_u8(struct eng_rd *r, uint8_t *out)
{
    uint64_t x;
    if (rd_be(r, 1, &x) != 0) {
        return -1;
    }
    *out = (uint8_t)x;
    return 0;
}

int eng_rd_u16(struct eng_rd *r, uint16_t *out)
{
    uint64_t x;
    if (rd_be(r, 2, &x) != 0) {
        return -1;
    }
    *out = (uint16_t)x;
    return 0;
}

int eng_rd_u32(struct eng_rd *r, uint32_t *out)
{
    uint64_t x;
    if (rd_be(r, 4, &x) != 0) {
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

int eng_rd_u64(struct eng_rd *r, uint64_t *out)
{
    return rd_be(r, 8, out);
}

int eng_rd_str8(struct eng_rd *r, char *out, size_t max_out_len)
{
    uint8_t n;
    const uint8_t *v;
    if (eng_rd_u8(r, &n) != 0 || eng_rd_view(r, &v, n) != 0) {
        return -1;
    }
    if ((size_t)n + 1 > max_out_len || memchr(v, 0, n) != NULL) {
        return -1;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static void *secure_alloc(size_t size, void *ctx)
{
    (void)ctx;
    return eng_secure_alloc(size);
}

static void secure_free(void *p, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    eng_secure_free(p);
}

const struct base_alloc eng_secure_base_alloc = {secure_alloc, secure_free, NULL};

void eng_wr_init(struct eng_wr *w, size_t max)
{
    base_buf_init(&w->b, max, BASE_BUF_WIPE);
    w->failed = 0;
}

void eng_wr_bytes(struct eng_wr *w, const void *data, size_t len)
{
    if (!w->failed && base_buf_append(&w->b, data, len, NULL) != 0) {
        w->failed = 1;
    }
}

static void wr_be(struct eng_wr *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    eng_wr_bytes(w, b, n);
}

void eng_wr_u8(struct eng_wr *w, uint8_t v)
{
    wr_be(w, v, 1);
}

void eng_wr_u16(struct eng_wr *w, uint16_t v)
{
    wr_be(w, v, 2);
}

void eng_wr_u32(struct eng_wr *w, uint32_t v)
{
    wr_be(w, v, 4);
}

void eng_wr_u64(struct eng_wr *w, uint64_t v)
{
    wr_be(w, v, 8);
}

void eng_wr_str8(struct eng_wr *w, const char *s)
{
    size_t n = strlen(s);
    if (n > 255) {
        w->failed = 1;
        return;
    }
    eng_wr_u8(w, (uint8_t)n);
    eng_wr_bytes(w, s, n);
}

void eng_wr_cleanup(struct eng_wr *w)
{
    base_buf_free(&w->b);
}

void eng_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

uint64_t eng_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}
