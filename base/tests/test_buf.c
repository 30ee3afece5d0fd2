/*
 * test_buf.c - base_buf: growth, the cap (an error that loses nothing),
 * printf, reset, take, and wiping on growth/reset/free through an allocator
 * hook that records what each freed block held.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base_buf.h"

/* ---- a recording allocator: remembers whether each freed block was all zero ---- */

struct rec {
    int allocs;
    int frees;
    int dirty_frees; /* freed blocks with any nonzero byte */
    size_t last_free_size;
};

static void *rec_alloc(size_t n, void *ctx)
{
    struct rec *r = ctx;
    r->allocs++;
    void *p = malloc(n);
    if (p != NULL) {
        memset(p, 0xA5, n); /* garbage, so a missing NUL or copy shows */
    }
    return p;
}

static void rec_free(void *p, size_t n, void *ctx)
{
    struct rec *r = ctx;
    r->frees++;
    r->last_free_size = n;
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            r->dirty_frees++;
            break;
        }
    }
    free(p);
}

/* The last call returned |rc| with BASE_ERR_CAP and |msg|, and |b| still holds exactly |kept|. */
static void expect_cap(const struct base_buf *b, int rc, const struct base_err *e, const char *msg,
                       const char *kept)
{
    cr_assert_eq(rc, -1);
    cr_assert_eq(e->code, BASE_ERR_CAP);
    cr_assert_str_eq(e->msg, msg);
    cr_assert_neq(strstr(e->where, "base_buf.c:"), NULL, "where = %s", e->where);
    cr_assert_str_eq(base_buf_str(b), kept);
    cr_assert_eq(b->len, strlen(kept));
}

Test(buf, append_grows_and_stays_terminated)
{
    struct base_buf b;
    base_buf_init(&b, 1 << 20, 0);
    cr_assert_str_eq(base_buf_str(&b), "");
    cr_assert_null(b.data);
    char chunk[100];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(base_buf_append(&b, chunk, sizeof(chunk), NULL), 0);
    }
    cr_assert_eq(b.len, 5000);
    cr_assert_geq(b.cap, 5001);
    cr_assert_eq(b.data[5000], 0);
    cr_assert_eq(strlen(base_buf_str(&b)), 5000);
    base_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
}

Test(buf, append_zero_bytes_allocates_an_empty_string)
{
    struct base_buf b;
    base_buf_init(&b, 10, 0);
    cr_assert_eq(base_buf_append(&b, NULL, 0, NULL), 0);
    cr_assert_not_null(b.data);
    cr_assert_str_eq(base_buf_str(&b), "");
    base_buf_free(&b);
}

Test(buf, cap_exceeded_is_an_error_and_keeps_contents)
{
    struct base_buf b;
    base_buf_init(&b, 8, 0);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_buf_append_str(&b, "abcdef", &e), 0);
    expect_cap(&b, base_buf_append_str(&b, "ghi", &e), &e,
               "buffer cap of 8 bytes exceeded (holds 6, 3 more asked)", "abcdef");
    /* exactly up to the cap is fine */
    cr_assert_eq(base_buf_append_str(&b, "gh", &e), 0);
    cr_assert_str_eq(base_buf_str(&b), "abcdefgh");
    cr_assert_eq(b.cap, 9);
    base_buf_free(&b);
}

Test(buf, reserve_checks_cap_without_changing_contents)
{
    struct base_buf b;
    base_buf_init(&b, 100, 0);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_buf_reserve(&b, 100, &e), 0);
    cr_assert_eq(b.len, 0);
    cr_assert_geq(b.cap, 101);
    expect_cap(&b, base_buf_reserve(&b, 101, &e), &e,
               "buffer cap of 100 bytes exceeded (holds 0, 101 more asked)", "");
    base_buf_free(&b);
}

Test(buf, printf_appends_formatted_text_across_growth)
{
    struct base_buf b;
    base_buf_init(&b, 1 << 16, 0);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(base_buf_printf(&b, NULL, "%d,", i), 0);
    }
    cr_assert_eq(strncmp(base_buf_str(&b), "0,1,2,3,", 8), 0);
    cr_assert_eq(strcmp(base_buf_str(&b) + b.len - 4, "999,"), 0);
    cr_assert_eq(b.len, strlen(base_buf_str(&b)));
    base_buf_free(&b);
}

Test(buf, printf_over_cap_keeps_previous_text)
{
    struct base_buf b;
    base_buf_init(&b, 12, 0);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_buf_printf(&b, &e, "%s=%d", "abc", 42), 0);
    expect_cap(&b, base_buf_printf(&b, &e, " %s", "too long a tail"), &e,
               "buffer cap of 12 bytes exceeded (holds 6, 16 more asked)", "abc=42");
    base_buf_free(&b);
}

Test(buf, reset_empties_and_keeps_memory)
{
    struct base_buf b;
    base_buf_init(&b, 100, 0);
    cr_assert_eq(base_buf_append_str(&b, "hello", NULL), 0);
    uint8_t *mem = b.data;
    base_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.data, mem);
    cr_assert_str_eq(base_buf_str(&b), "");
    cr_assert_eq(base_buf_append_str(&b, "x", NULL), 0);
    cr_assert_str_eq(base_buf_str(&b), "x");
    base_buf_free(&b);
}

Test(buf, take_hands_over_the_bytes)
{
    struct base_buf b;
    base_buf_init(&b, 100, 0);
    cr_assert_eq(base_buf_append_str(&b, "payload", NULL), 0);
    size_t n = 0;
    char *p = base_buf_take(&b, &n);
    cr_assert_str_eq(p, "payload");
    cr_assert_eq(n, 7);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    free(p);
    /* an empty buffer gives an allocated "" */
    p = base_buf_take(&b, &n);
    cr_assert_not_null(p);
    cr_assert_str_eq(p, "");
    cr_assert_eq(n, 0);
    free(p);
}

Test(buf, wipe_mode_clears_old_block_on_growth)
{
    struct rec r = {0};
    struct base_alloc a = {rec_alloc, rec_free, &r};
    struct base_buf b;
    base_buf_init_alloc(&b, 1 << 20, BASE_BUF_WIPE, &a);
    uint8_t secret[40];
    memset(secret, 0x5C, sizeof(secret));
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(base_buf_append(&b, secret, sizeof(secret), NULL), 0);
    }
    cr_assert_gt(r.allocs, 1, "growth must have happened");
    cr_assert_eq(r.frees, r.allocs - 1);
    cr_assert_eq(r.dirty_frees, 0, "an old block was freed unwiped");
    for (size_t i = 0; i < b.len; i++) {
        cr_assert_eq(b.data[i], 0x5C, "byte %zu lost in growth", i);
    }
    size_t cap = b.cap;
    base_buf_free(&b);
    cr_assert_eq(r.frees, r.allocs);
    cr_assert_eq(r.dirty_frees, 0, "the last block was freed unwiped");
    cr_assert_eq(r.last_free_size, cap);
}

Test(buf, wipe_mode_reset_clears_contents)
{
    struct rec r = {0};
    struct base_alloc a = {rec_alloc, rec_free, &r};
    struct base_buf b;
    base_buf_init_alloc(&b, 64, BASE_BUF_WIPE, &a);
    cr_assert_eq(base_buf_append_str(&b, "secret-key-bytes", NULL), 0);
    base_buf_reset(&b);
    for (size_t i = 0; i < b.cap; i++) {
        cr_assert_eq(b.data[i], 0, "byte %zu survived the reset", i);
    }
    base_buf_free(&b);
    cr_assert_eq(r.dirty_frees, 0);
}

Test(buf, without_wipe_the_hook_sees_the_bytes)
{
    /* the control for the two tests above: the recorder does notice unwiped blocks */
    struct rec r = {0};
    struct base_alloc a = {rec_alloc, rec_free, &r};
    struct base_buf b;
    base_buf_init_alloc(&b, 1024, 0, &a);
    cr_assert_eq(base_buf_append_str(&b, "public", NULL), 0);
    base_buf_free(&b);
    cr_assert_eq(r.frees, 1);
    cr_assert_eq(r.dirty_frees, 1);
}

static void *fail_alloc(size_t n, void *ctx)
{
    (void)n;
    int *left = ctx;
    if (*left == 0) {
        return NULL;
    }
    (*left)--;
    return malloc(n);
}

static void plain_free(void *p, size_t n, void *ctx)
{
    (void)n;
    (void)ctx;
    free(p);
}

Test(buf, out_of_memory_keeps_contents)
{
    int left = 1;
    struct base_alloc a = {fail_alloc, plain_free, &left};
    struct base_buf b;
    base_buf_init_alloc(&b, 1 << 20, BASE_BUF_WIPE, &a);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_buf_append_str(&b, "kept", &e), 0);
    char big[200];
    memset(big, 'z', sizeof(big));
    cr_assert_eq(base_buf_append(&b, big, sizeof(big), &e), -1);
    cr_assert_eq(e.code, BASE_ERR_NOMEM);
    cr_assert_str_eq(e.msg, "out of memory growing a buffer to 256 bytes");
    cr_assert_str_eq(base_buf_str(&b), "kept");
    char *p = base_buf_take(&b, NULL);
    cr_assert_str_eq(p, "kept");
    free(p);
}

/* ---- base_grow ---- */

struct row {
    int a;
    double b;
};

Test(grow, doubles_from_sixteen_and_keeps_elements)
{
    struct row *rows = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < 100; i++) {
        cr_assert_eq(base_grow(&rows, &cap, i + 1, sizeof(*rows), 1000, NULL), 0);
        rows[i].a = (int)i;
        rows[i].b = (double)i / 2;
    }
    cr_assert_eq(cap, 128);
    for (size_t i = 0; i < 100; i++) {
        cr_assert_eq(rows[i].a, (int)i);
    }
    /* already fits: nothing changes */
    struct row *same = rows;
    cr_assert_eq(base_grow(&rows, &cap, 50, sizeof(*rows), 1000, NULL), 0);
    cr_assert_eq(rows, same);
    free(rows);
}

Test(grow, max_is_an_exact_error_and_keeps_the_array)
{
    int *v = NULL;
    size_t cap = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_grow(&v, &cap, 20, sizeof(*v), 20, &e), 0);
    cr_assert_eq(cap, 20, "capped at max, not doubled past it");
    v[19] = 7;
    cr_assert_eq(base_grow(&v, &cap, 21, sizeof(*v), 20, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(e.msg, "array cap of 20 elements exceeded (21 asked)");
    cr_assert_eq(cap, 20);
    cr_assert_eq(v[19], 7);
    free(v);
}

Test(grow, byte_size_overflow_is_refused)
{
    char *v = NULL;
    size_t cap = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_grow(&v, &cap, (size_t)-1 / 8 + 1, 16, (size_t)-1, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_null(v);
    cr_assert_eq(cap, 0);
}
