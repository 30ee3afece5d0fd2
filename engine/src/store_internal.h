/*
 * store_internal.h - the store's private state, shared by store.c and
 * backup.c (backups read units through the same batch path).
 */
#ifndef ENG_STORE_INTERNAL_H
#define ENG_STORE_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include "eng_store.h"
#include "keytable_internal.h"

#define ENG_STORE_BATCH 64U
#define ENG_STORE_TAG_REC 28U /* nonce 12 | tag 16 */
#define ENG_STORE_AAD_BYTES (ENG_STORE_ID_BYTES + 8U)

struct eng_store {
    char dir[PATH_MAX]; /* empty for a memory store */
    int in_memory;
    int inspect_only;
    int data_fd;
    int tags_fd;
    int lock_fd;
    uint8_t *mem_data; /* memory store: every slot */
    uint8_t *tags;     /* GCM: every slot's nonce|tag records */
    struct eng_store_config cfg;
    struct eng_keytable kt;
    struct eng_kek_provider *kek;
    struct eng_cipher **ciphers; /* per extent: the active DEK */
    uint32_t *active;            /* per extent: index of its active key-table record */
    uint8_t *mac_key;            /* secure memory */
    uint8_t *scratch_key;        /* secure memory: a DEK between unwrap and cipher, then wiped */
    /* GCM nonce = boot (u32) || counter (u64) */
    uint32_t boot;
    uint64_t counter;
    /* revalidation, in monotonic nanoseconds */
    uint64_t interval_ns;
    uint64_t grace_ns;
    uint64_t next_check_ns;
    uint64_t last_ok_ns;
    int cause;
    int last_check_error;
    int mac_verified;
    enum eng_backend backend;
    enum eng_arch arch;
    /* batch scratch */
    struct eng_unit units[ENG_STORE_BATCH];
    uint8_t ivs[ENG_STORE_BATCH][ENG_XTS_TWEAK_BYTES];
    uint8_t aads[ENG_STORE_BATCH][ENG_STORE_AAD_BYTES];
    uint8_t *stage; /* ENG_STORE_BATCH units, for encrypting before pwrite */
};

/* eng_store_check_access bails with ENG_ERR_INACCESSIBLE, revalidating when the interval is up. */
int eng_store_check_access(struct eng_store *s);

/* eng_store_remove_files unlinks every file a store folder may hold (not the folder). */
void eng_store_remove_files(const char *dir);

/*
 * eng_store_create_from makes a store like eng_store_create but with
 * geometry |cfg| and, when |fill| is not NULL, calls fill(arg, first, n, buf)
 * to get the plaintext of units instead of zeros (restore).
 */
typedef int (*eng_store_fill_fn)(void *arg, uint64_t first_unit, size_t num_units, uint8_t *out);
struct eng_store *eng_store_create_from(const char *dir, struct eng_kek_provider *kek,
                                        const struct eng_store_config *cfg,
                                        eng_store_fill_fn fill, void *arg);

#endif /* ENG_STORE_INTERNAL_H */
