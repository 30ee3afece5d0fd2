/*
 * eng_secure.h - memory for key material, and wiping.
 *
 * eng_secure_alloc returns page-aligned memory that is locked in RAM
 * (mlock) and excluded from core dumps (MADV_DONTDUMP) where the system
 * allows. By default a failed mlock is tolerated and counted (see
 * eng_secure_stats); ENG_MLOCK=require makes it an error (ENG_ERR_MLOCK),
 * ENG_MLOCK=off skips locking. eng_secure_free wipes before it releases.
 */
#ifndef ENG_SECURE_H
#define ENG_SECURE_H

#include <stddef.h>
#include <stdint.h>

#include "eng_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* eng_cleanse zeroes |len| bytes at |p| in a way the compiler cannot remove. NULL/0 is a no-op. */
ENG_API void eng_cleanse(void *p, size_t len);

/* eng_ct_equal compares in constant time; 1 if equal, 0 if not. */
ENG_API int eng_ct_equal(const void *a, const void *b, size_t len);

/*
 * eng_secure_alloc returns |len| zeroed bytes of locked, non-dumpable memory,
 * 64-byte aligned, or NULL with ENG_ERR_NOMEM / ENG_ERR_MLOCK. Free with
 * eng_secure_free, which wipes first.
 */
ENG_API void *eng_secure_alloc(size_t len);

/* eng_secure_free wipes and releases memory from eng_secure_alloc. NULL is a no-op. */
ENG_API void eng_secure_free(void *p);

struct eng_secure_stats {
    uint64_t allocs;        /* live allocations */
    uint64_t bytes;         /* live bytes (page-rounded) */
    uint64_t lock_failures; /* allocations whose mlock failed (tolerated) */
    uint64_t total_allocs;  /* since start */
    int mlock_policy;       /* 0 best-effort, 1 require, 2 off */
};

/* eng_secure_stats fills |out| with this process's counters. */
ENG_API void eng_secure_stats(struct eng_secure_stats *out);

/*
 * Debug hook for tests that prove wiping: when set, called with the region
 * just before it is unmapped (after the wipe). NULL disables.
 */
typedef void (*eng_secure_free_hook)(const void *p, size_t len);
ENG_API void eng_secure_set_free_hook(eng_secure_free_hook hook);

#ifdef __cplusplus
}
#endif
#endif /* ENG_SECURE_H */
