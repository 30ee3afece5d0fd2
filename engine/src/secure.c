/*
 * secure.c - locked, non-dumpable, wiped memory for keys.
 *
 * Each allocation is its own anonymous mapping: a header page-aligned block
 * (size + canary) followed by the user region, so that free can always wipe
 * the whole region and munlock/munmap it. Allocations are few (one per key)
 * and long-lived, so the page granularity costs little.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "eng_secure.h"
#include "error_internal.h"

#define HDR_BYTES 64U /* keeps the user pointer 64-byte aligned */
#define CANARY 0x454e47534543ULL

struct hdr {
    size_t map_len;
    uint64_t canary;
    int locked;
};

static atomic_uint_fast64_t st_allocs, st_bytes, st_lock_fail, st_total;
static _Atomic(eng_secure_free_hook) free_hook;

void eng_cleanse(void *p, size_t len)
{
    if (p == NULL || len == 0) {
        return;
    }
    explicit_bzero(p, len);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

int eng_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < len; i++) {
        d |= (uint8_t)(x[i] ^ y[i]);
    }
    return (int)(1 & ((d - 1) >> 8));
}

/* 0 best-effort (default), 1 require, 2 off. */
static int mlock_policy(void)
{
    const char *v = getenv("ENG_MLOCK");
    if (v == NULL || *v == '\0' || strcasecmp(v, "best-effort") == 0) {
        return 0;
    }
    if (strcasecmp(v, "require") == 0) {
        return 1;
    }
    if (strcasecmp(v, "off") == 0) {
        return 2;
    }
    return -1;
}

void *eng_secure_alloc(size_t len)
{
    int policy = mlock_policy();
    if (policy < 0) {
        ENG_BAIL_PTR(ENG_ERR_ENV);
    }
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        page = 4096;
    }
    if (len > SIZE_MAX / 2) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    size_t map_len = (HDR_BYTES + len + (size_t)page - 1) & ~((size_t)page - 1);
    void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
#ifdef MADV_DONTDUMP
    (void)madvise(m, map_len, MADV_DONTDUMP);
#endif
    int locked = 0;
    if (policy != 2) {
        if (mlock(m, map_len) == 0) {
            locked = 1;
        } else if (policy == 1) {
            munmap(m, map_len);
            ENG_BAIL_PTR(ENG_ERR_MLOCK);
        } else {
            atomic_fetch_add(&st_lock_fail, 1);
        }
    }
    struct hdr *h = m;
    h->map_len = map_len;
    h->canary = CANARY;
    h->locked = locked;
    atomic_fetch_add(&st_allocs, 1);
    atomic_fetch_add(&st_total, 1);
    atomic_fetch_add(&st_bytes, map_len);
    return (uint8_t *)m + HDR_BYTES;
}

void eng_secure_free(void *p)
{
    if (p == NULL) {
        return;
    }
    struct hdr *h = (struct hdr *)((uint8_t *)p - HDR_BYTES);
    if (h->canary != CANARY) {
        abort(); /* not ours, or the header was overwritten: never unmap blindly */
    }
    size_t map_len = h->map_len;
    eng_cleanse(p, map_len - HDR_BYTES);
    eng_secure_free_hook hook = atomic_load(&free_hook);
    if (hook != NULL) {
        hook(p, map_len - HDR_BYTES);
    }
    if (h->locked) {
        (void)munlock(h, map_len);
    }
    eng_cleanse(h, HDR_BYTES);
    munmap(h, map_len);
    atomic_fetch_sub(&st_allocs, 1);
    atomic_fetch_sub(&st_bytes, map_len);
}

void eng_secure_stats(struct eng_secure_stats *out)
{
    if (out == NULL) {
        return;
    }
    out->allocs = atomic_load(&st_allocs);
    out->bytes = atomic_load(&st_bytes);
    out->lock_failures = atomic_load(&st_lock_fail);
    out->total_allocs = atomic_load(&st_total);
    out->mlock_policy = mlock_policy();
}

void eng_secure_set_free_hook(eng_secure_free_hook hook)
{
    atomic_store(&free_hook, hook);
}
