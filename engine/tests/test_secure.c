/*
 * test_secure.c - key memory: alignment, zeroing, locking counters, and
 * the proof that freed key memory is wiped (through the debug free hook).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base_buf.h"
#include "bytes_internal.h"
#include "eng_cipher.h"
#include "eng_error.h"
#include "eng_secure.h"

static size_t hook_calls;
static size_t hook_nonzero;
static size_t hook_bytes;

static void hook(const void *p, size_t len)
{
    const uint8_t *b = p;
    hook_calls++;
    hook_bytes += len;
    for (size_t i = 0; i < len; i++) {
        hook_nonzero += b[i] != 0;
    }
}

Test(secure, alloc_is_aligned_zeroed_and_counted)
{
    struct eng_secure_stats before, during, after;
    eng_secure_stats(&before);
    uint8_t *p = eng_secure_alloc(100);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 64, 0);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(p[i], 0);
    }
    eng_secure_stats(&during);
    cr_assert_eq(during.allocs, before.allocs + 1);
    cr_assert_eq(during.total_allocs, before.total_allocs + 1);
    cr_assert_geq(during.bytes, before.bytes + 100);
    eng_secure_free(p);
    eng_secure_stats(&after);
    cr_assert_eq(after.allocs, before.allocs);
    cr_assert_eq(after.bytes, before.bytes);
    eng_secure_free(NULL);
}

/* A libbase buffer on eng_secure_base_alloc: every block is secure memory, outgrown ones are freed.
 */
Test(secure, base_buf_grows_in_secure_memory)
{
    struct eng_secure_stats before, during, after;
    eng_secure_stats(&before);
    struct base_buf b;
    base_buf_init_alloc(&b, 1 << 16, BASE_BUF_WIPE, &eng_secure_base_alloc);
    uint8_t key[100];
    for (int i = 0; i < 50; i++) {
        memset(key, i + 1, sizeof(key));
        cr_assert_eq(base_buf_append(&b, key, sizeof(key), NULL), 0);
    }
    eng_secure_stats(&during);
    cr_assert_gt(during.total_allocs, before.total_allocs + 1, "the buffer never grew");
    cr_assert_eq(during.allocs, before.allocs + 1, "outgrown blocks were not released");
    for (size_t i = 0; i < b.len; i++) {
        cr_assert_eq(b.data[i], i / 100 + 1, "byte %zu lost in growth", i);
    }
    base_buf_free(&b);
    eng_secure_stats(&after);
    cr_assert_eq(after.allocs, before.allocs);
    cr_assert_eq(after.bytes, before.bytes);
}

Test(secure, free_wipes_the_whole_region)
{
    eng_secure_set_free_hook(hook);
    uint8_t *p = eng_secure_alloc(5000);
    cr_assert_not_null(p);
    memset(p, 0xA5, 5000);
    hook_calls = hook_nonzero = hook_bytes = 0;
    eng_secure_free(p);
    cr_assert_eq(hook_calls, 1);
    cr_assert_geq(hook_bytes, 5000);
    cr_assert_eq(hook_nonzero, 0, "%zu key bytes survived free", hook_nonzero);
    eng_secure_set_free_hook(NULL);
}

/* Every back end's key schedule is in secure memory and wiped when the cipher is freed. */
/* Small blocks are pooled: freed ones are wiped, then handed out again zeroed. */
Test(secure, small_blocks_are_wiped_and_reused_zeroed)
{
    eng_secure_set_free_hook(hook);
    for (size_t len = 1; len <= 4096; len = len * 3 + 1) {
        uint8_t *p = eng_secure_alloc(len);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 64, 0);
        memset(p, 0x5A, len);
        hook_calls = hook_nonzero = hook_bytes = 0;
        eng_secure_free(p);
        cr_assert_eq(hook_calls, 1);
        cr_assert_geq(hook_bytes, len);
        cr_assert_eq(hook_nonzero, 0);
        uint8_t *q = eng_secure_alloc(len);
        cr_assert_not_null(q);
        for (size_t i = 0; i < len; i++) {
            cr_assert_eq(q[i], 0, "reused block not zero at %zu (len %zu)", i, len);
        }
        eng_secure_free(q);
    }
    eng_secure_set_free_hook(NULL);
}

/* Many live blocks at once never overlap. */
Test(secure, pooled_blocks_do_not_overlap)
{
    enum { N = 300 };
    uint8_t *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = eng_secure_alloc(200);
        cr_assert_not_null(p[i]);
        memset(p[i], i & 0xff, 200);
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 200; j++) {
            cr_assert_eq(p[i][j], i & 0xff, "block %d overwritten", i);
        }
        eng_secure_free(p[i]);
    }
}

Test(secure, cipher_free_wipes_key_schedule)
{
    uint8_t key[64];
    for (int i = 0; i < 64; i++) {
        key[i] = (uint8_t)(0xC0 + i);
    }
    eng_secure_set_free_hook(hook);
    for (int m = 0; m < ENG_MODE_COUNT; m++) {
        for (int b = ENG_BACKEND_NATIVE; b < ENG_BACKEND_COUNT; b++) {
            if (!eng_backend_supports((enum eng_backend)b, (enum eng_mode)m, ENG_ARCH_AUTO)) {
                continue;
            }
            struct eng_secure_stats s0, s1;
            eng_secure_stats(&s0);
            struct eng_cipher *c = eng_cipher_new((enum eng_mode)m, (enum eng_backend)b, 0, key,
                                                  m == ENG_MODE_XTS ? 64 : 32);
            cr_assert_not_null(c);
            eng_secure_stats(&s1);
            cr_assert_gt(s1.allocs, s0.allocs, "%s/%s key not in secure memory",
                         eng_mode_name((enum eng_mode)m), eng_backend_name((enum eng_backend)b));
            hook_calls = hook_nonzero = hook_bytes = 0;
            eng_cipher_free(c);
            cr_assert_geq(hook_calls, 1);
            cr_assert_eq(hook_nonzero, 0);
        }
    }
    eng_secure_set_free_hook(NULL);
}

Test(secure, mlock_policy_from_env)
{
    setenv("ENG_MLOCK", "sometimes", 1);
    eng_clear_error();
    cr_assert_null(eng_secure_alloc(32));
    cr_assert_eq(eng_errno(), ENG_ERR_ENV);
    setenv("ENG_MLOCK", "off", 1);
    void *p = eng_secure_alloc(32);
    cr_assert_not_null(p);
    struct eng_secure_stats s;
    eng_secure_stats(&s);
    cr_assert_eq(s.mlock_policy, 2);
    eng_secure_free(p);
    unsetenv("ENG_MLOCK");
}

Test(secure, ct_equal)
{
    uint8_t a[33], b[33];
    memset(a, 7, sizeof(a));
    memset(b, 7, sizeof(b));
    cr_assert_eq(eng_ct_equal(a, b, sizeof(a)), 1);
    for (size_t i = 0; i < sizeof(a); i++) {
        b[i] ^= 0x80;
        cr_assert_eq(eng_ct_equal(a, b, sizeof(a)), 0, "difference at %zu missed", i);
        b[i] ^= 0x80;
    }
    cr_assert_eq(eng_ct_equal(a, b, 0), 1);
}

Test(errors, table_is_consistent)
{
    int codes[] = {ENG_OK,        ENG_ERR_NULL,     ENG_ERR_AUTH,
                   ENG_ERR_NOMEM, ENG_ERR_INTERNAL, ENG_ERR_KEY_LEN};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        cr_assert_str_neq(eng_strerror(codes[i]), "unknown error code");
        cr_assert_str_neq(eng_error_name(codes[i]), "ENG_ERR_UNKNOWN");
    }
    cr_assert_str_eq(eng_error_name(ENG_ERR_AUTH), "ENG_ERR_AUTH");
    cr_assert_eq(eng_error_category(ENG_ERR_AUTH), ENG_CAT_CRYPTO);
    cr_assert_eq(eng_error_category(ENG_ERR_CBC_LEN), ENG_CAT_USAGE);
    cr_assert_eq(eng_error_category(ENG_ERR_MLOCK), ENG_CAT_RESOURCE);
    cr_assert_str_eq(eng_strerror(0x7fff), "unknown error code");
    eng_clear_error();
    cr_assert_eq(eng_errno(), ENG_OK);
    uint8_t k[8] = {0};
    cr_assert_null(eng_cipher_new(ENG_MODE_GCM, 0, 0, k, 8));
    cr_assert_eq(eng_errno(), ENG_ERR_KEY_LEN);
    cr_assert(strstr(eng_error_where(), "cipher.c") != NULL, "where: %s", eng_error_where());
}
