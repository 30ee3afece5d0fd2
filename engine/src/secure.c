/*
 * secure.c - locked, non-dumpable, wiped memory for keys.
 *
 * Small blocks (key schedules: up to POOL_MAX bytes) come from size-class
 * pools: 64 KiB arenas mapped, excluded from core dumps and locked once,
 * carved into chunks of one class, recycled through a free list after the
 * chunk is wiped. One mapping per key cost 135-230 us per cipher (mmap +
 * mlock + munmap with its TLB shootdown), which a store with one DEK per
 * extent pays at every open. Arenas are kept for reuse, never unmapped.
 * Larger blocks get their own mapping. Every block has a 64-byte header
 * (canary, class, size) so free can check it and wipe the whole block.
 * Under AddressSanitizer the pools are off, so a use after free still
 * faults on an unmapped page.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "eng_secure.h"
#include "error_internal.h"

#define HDR_BYTES 64U /* keeps the user pointer 64-byte aligned */
#define CANARY    0x454e47534543ULL

struct hdr {
    size_t map_len; /* own mapping: its length; pooled: 0 */
    uint64_t canary;
    int locked;
    int cls; /* pooled: size class index; own mapping: -1 */
    struct hdr *next_free;
};

#if defined(__SANITIZE_ADDRESS__)
#define POOLING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOLING 0
#endif
#endif
#ifndef POOLING
#define POOLING 1
#endif

#define ARENA_BYTES (64U * 1024U)
#define NCLASS      7
static const size_t class_bytes[NCLASS] = {64, 128, 256, 512, 1024, 2048, 4096}; /* user bytes */
#define POOL_MAX 4096U

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hdr *free_list[NCLASS];

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
    /* Word-wise, no data-dependent branch: 16-byte tags cost two loads a side. */
    const uint8_t *x = a;
    const uint8_t *y = b;
    uint64_t d = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        d |= u ^ v;
        __asm__("" : "+r"(d)); /* keep the compiler from adding an early exit */
    }
    for (; i < len; i++) {
        d |= (uint64_t)(x[i] ^ y[i]);
        __asm__("" : "+r"(d));
    }
    return (int)(1 ^ ((d | (0 - d)) >> 63));
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

/* Maps |map_len| bytes, excluded from dumps, locked per |policy|; NULL with the error set. */
static void *map_locked(size_t map_len, int policy, int *locked)
{
    void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
#ifdef MADV_DONTDUMP
    (void)madvise(m, map_len, MADV_DONTDUMP);
#endif
    *locked = 0;
    if (policy != 2) {
        if (mlock(m, map_len) == 0) {
            *locked = 1;
        } else if (policy == 1) {
            munmap(m, map_len);
            ENG_BAIL_PTR(ENG_ERR_MLOCK);
        } else {
            atomic_fetch_add(&st_lock_fail, 1);
        }
    }
    return m;
}

/* A chunk of class |cls| from the pool (a new arena when the free list is empty). */
static struct hdr *pool_get(int cls, int policy)
{
    size_t chunk = HDR_BYTES + class_bytes[cls];
    pthread_mutex_lock(&pool_mu);
    if (free_list[cls] == NULL) {
        int locked;
        uint8_t *a = map_locked(ARENA_BYTES, policy, &locked);
        if (a == NULL) {
            pthread_mutex_unlock(&pool_mu);
            return NULL;
        }
        for (size_t off = 0; off + chunk <= ARENA_BYTES; off += chunk) {
            struct hdr *h = (struct hdr *)(a + off);
            h->map_len = 0;
            h->canary = CANARY;
            h->locked = locked;
            h->cls = cls;
            h->next_free = free_list[cls];
            free_list[cls] = h;
        }
    }
    struct hdr *h = free_list[cls];
    free_list[cls] = h->next_free;
    h->next_free = NULL;
    pthread_mutex_unlock(&pool_mu);
    return h;
}

void *eng_secure_alloc(size_t len)
{
    int policy = mlock_policy();
    if (policy < 0) {
        ENG_BAIL_PTR(ENG_ERR_ENV);
    }
    if (len > SIZE_MAX / 2) {
        ENG_BAIL_PTR(ENG_ERR_NOMEM);
    }
    struct hdr *h = NULL;
    size_t bytes = 0;
    if (POOLING && len <= POOL_MAX) {
        int cls = 0;
        while (class_bytes[cls] < len) {
            cls++;
        }
        h = pool_get(cls, policy);
        bytes = class_bytes[cls];
    } else {
        long page = sysconf(_SC_PAGESIZE);
        if (page <= 0) {
            page = 4096;
        }
        size_t map_len = (HDR_BYTES + len + (size_t)page - 1) & ~((size_t)page - 1);
        int locked;
        h = map_locked(map_len, policy, &locked);
        if (h != NULL) {
            h->map_len = map_len;
            h->canary = CANARY;
            h->locked = locked;
            h->cls = -1;
            bytes = map_len - HDR_BYTES;
        }
    }
    if (h == NULL) {
        return NULL;
    }
    atomic_fetch_add(&st_allocs, 1);
    atomic_fetch_add(&st_total, 1);
    atomic_fetch_add(&st_bytes, bytes);
    return (uint8_t *)h + HDR_BYTES; /* zero: fresh mapping, or wiped when freed */
}

void eng_secure_free(void *p)
{
    if (p == NULL) {
        return;
    }
    struct hdr *h = (struct hdr *)((uint8_t *)p - HDR_BYTES);
    if (h->canary != CANARY || h->cls >= NCLASS || (h->cls < 0 && h->map_len == 0)) {
        abort(); /* not ours, or the header was overwritten: never reuse or unmap blindly */
    }
    size_t bytes = h->cls >= 0 ? class_bytes[h->cls] : h->map_len - HDR_BYTES;
    eng_cleanse(p, bytes);
    eng_secure_free_hook hook = atomic_load(&free_hook);
    if (hook != NULL) {
        hook(p, bytes);
    }
    atomic_fetch_sub(&st_allocs, 1);
    atomic_fetch_sub(&st_bytes, bytes);
    if (h->cls >= 0) {
        pthread_mutex_lock(&pool_mu);
        h->next_free = free_list[h->cls];
        free_list[h->cls] = h;
        pthread_mutex_unlock(&pool_mu);
        return;
    }
    size_t map_len = h->map_len;
    if (h->locked) {
        (void)munlock(h, map_len);
    }
    eng_cleanse(h, HDR_BYTES);
    munmap(h, map_len);
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
