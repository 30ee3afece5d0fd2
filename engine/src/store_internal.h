/*
 * store_internal.h - the store's private state, shared by the store's files
 * and backup.c (backups read units through the same batch path). Each file
 * calls only the ones below it (scripts/check-circles.sh keeps it so):
 *   store.c         files, create/open/close, introspection (the top)
 *   store_io.c      the data path: unit and byte ranges, the initial fill
 *   store_rotate.c  KEK rotation, extent re-keying, GCM write reservations
 *   store_chunk.c   the batch path: one extent's units through the cipher
 *   store_keys.c    wrap/unwrap, DEKs, the unwrap at open, revalidation
 *   store_anchor.c  the freshness anchor
 */
#ifndef ENG_STORE_INTERNAL_H
#define ENG_STORE_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include "eng_store.h"
#include "keytable_internal.h"

#define ENG_STORE_BATCH     64U
#define ENG_STORE_TAG_REC   28U /* nonce 12 | tag 16 */
#define ENG_STORE_AAD_BYTES (ENG_STORE_ID_BYTES + 8U)

struct eng_store {
    char dir[PATH_MAX]; /* empty for a memory store */
    int in_memory;
    int inspect_only;
    int data_fd;
    int tags_fd;
    int macs_fd;
    int lock_fd;
    uint8_t *mem_data;           /* memory store: every slot */
    uint8_t *tags;               /* GCM: every slot's nonce|tag records */
    uint8_t *macs;               /* XTS with integrity: every slot unit's tag */
    uint8_t *ikeys;              /* secure memory: per extent, the active DEK's unit MAC key */
    uint8_t *ikey_new;           /* secure memory: the unit MAC key of a DEK being made (rekey) */
    struct evp_mac_ctx_st *hmac; /* HMAC-SHA-256, re-keyed per unit */
    struct eng_store_config cfg;
    struct eng_keytable kt;
    struct eng_kek_provider *kek;
    struct eng_cipher **ciphers; /* per extent: the active DEK */
    uint32_t *active;            /* per extent: index of its active key-table record */
    uint8_t *mac_key;            /* secure memory */
    uint8_t *scratch_key;        /* secure memory: a DEK between unwrap and cipher, then wiped */
    /* GCM: per extent, encryptions its active DEK has made (reserved in the key table first) */
    uint64_t *inv_used;
    uint64_t inv_limit;    /* per DEK; the extent is re-keyed before it would pass this */
    int write_session;     /* the key table was saved (generation bumped) since this open */
    int read_only;         /* shared lock; every write path fails with ENG_ERR_READ_ONLY */
    char anchor[PATH_MAX]; /* freshness anchor file; empty: none (memory store, NO_ANCHOR) */
    /* revalidation, in monotonic nanoseconds */
    uint64_t interval_ns;
    uint64_t grace_ns;
    uint64_t next_check_ns;
    uint64_t last_ok_ns;
    int cause;
    int kek_expired; /* ENG_OK, or ENG_ERR_KEK_EXPIRED / _NOT_YET_VALID: reads only */
    int moving;      /* eng_store_move_kek: refs may name the key at another URL */
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

/* st_slot_bytes is one slot's size; inline because the data path computes offsets with it. */
static inline uint64_t st_slot_bytes(const struct eng_store *s)
{
    return (uint64_t)s->kt.extent_units * s->kt.unit_size;
}

/* The key table's file name in a folder store. */
#define ST_KEYTABLE_NAME "keytable"

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
                                        const struct eng_store_config *cfg, eng_store_fill_fn fill,
                                        void *arg);

/* --- keys (store_keys.c; 0, or -1 with the error set) --- */

/* st_now_ns is CLOCK_MONOTONIC in nanoseconds (the revalidation clock). */
uint64_t st_now_ns(void);
/* st_drop_keys frees (wiping) every DEK cipher, the MAC key and the unit MAC keys. */
void st_drop_keys(struct eng_store *s);
/* st_mark_accessible records a good check now: the next one is due after the interval. */
void st_mark_accessible(struct eng_store *s);
/*
 * st_check_kek_versions asks the provider about every KEK version the store
 * depends on: 0, or -1 with its error; an expired (or not yet valid) version
 * is no failure but sets s->kek_expired (reads only).
 */
int st_check_kek_versions(struct eng_store *s);
/*
 * st_load_keys unwraps the MAC key, checks the table's MAC over |raw|, unwraps
 * every active DEK and makes their ciphers. The unwrapped DEKs are wiped on every path.
 */
int st_load_keys(struct eng_store *s, const uint8_t *raw, size_t raw_len);

/* st_unwrap_into unwraps |w| into |out| (ENG_DEK_MAX_BYTES of secure memory; caller wipes it). */
int st_unwrap_into(struct eng_store *s, const struct eng_kt_wrapped *w, uint8_t *out,
                   size_t *out_len);
/* st_wrap_into wraps |key| under KEK version |cur| into |w|. */
int st_wrap_into(struct eng_store *s, const struct eng_kek_ref *cur, const uint8_t *key,
                 size_t key_len, struct eng_kt_wrapped *w);
/*
 * st_ref_matches fails unless |r| names the store's provider and key:
 * ENG_ERR_KEK_URL_MISMATCH when only the part before the key name differs
 * (the vault's URL; accepted while s->moving), else ENG_ERR_KEK_MISMATCH.
 */
int st_ref_matches(struct eng_store *s, const struct eng_kek_ref *r);
/*
 * st_new_dek makes one extent's DEK: random, wrapped under |cur| into |rec|, loaded into |out|;
 * for a store with integrity, its unit MAC key goes to |ikey| (ENG_STORE_MAC_BYTES).
 */
int st_new_dek(struct eng_store *s, const struct eng_kek_ref *cur, struct eng_kt_record *rec,
               struct eng_cipher **out, uint8_t *ikey);
/* st_ikey is extent |e|'s unit MAC key (NULL without integrity). */
static inline const uint8_t *st_ikey(const struct eng_store *s, uint32_t e)
{
    return s->ikeys != NULL ? s->ikeys + (size_t)e * ENG_STORE_MAC_BYTES : NULL;
}
/* st_ikey_at is where extent |e|'s unit MAC key lives, to be written (NULL without integrity). */
static inline uint8_t *st_ikey_at(struct eng_store *s, uint32_t e)
{
    return s->ikeys != NULL ? s->ikeys + (size_t)e * ENG_STORE_MAC_BYTES : NULL;
}
/* st_index_active records, per extent, which key-table record is active. */
void st_index_active(struct eng_store *s);
/* st_save_table persists |kt| as the folder store's key table, under the store's MAC key. */
int st_save_table(struct eng_store *s, struct eng_keytable *kt);

/* --- rotation (store_rotate.c) --- */

/* st_move_refs rewrites every ref's key id to the provider's (eng_store_move_kek); 1 if changed. */
int st_move_refs(struct eng_store *s);
/*
 * st_commit_table replaces the store's key table with |nk| (persisted first
 * for a folder store, then installed, then the freshness anchor raised).
 * Once the table is on disk it is installed even if the anchor update
 * fails (ENG_ERR_ANCHOR): memory and disk never disagree.
 */
int st_commit_table(struct eng_store *s, struct eng_keytable *nk);
/*
 * st_prepare_write readies units first_unit .. + num_units for writing:
 * ENG_ERR_READ_ONLY for a read-only handle; GCM extents whose DEK would pass
 * s->inv_limit (or whose count is unknown, version 1 tables) are re-keyed;
 * the encryptions are reserved in the key table, which is saved (and the
 * anchor raised) at the first write of each open and whenever a
 * reservation runs out.
 */
int st_prepare_write(struct eng_store *s, uint64_t first_unit, uint64_t num_units);

/* GCM: encryptions per DEK before a forced re-key (SP 800-38D 8.3; see eng_store.h). */
#define ENG_STORE_GCM_DEK_LIMIT (1ULL << 28)
/* GCM: encryptions reserved in the key table at a time. */
#define ENG_STORE_GCM_RESERVE (1ULL << 16)
/*
 * st_set_dek_limit (tests) lowers the per-DEK limit of |s|; it must be at
 * least twice the extent size. 0 or -1 (ENG_ERR_ARG).
 */
int st_set_dek_limit(struct eng_store *s, uint64_t limit);

/* --- freshness anchor (store_anchor.c) --- */

/* st_anchor_locate sets s->anchor for the folder store s->dir (cfg, $CMK_ANCHOR_DIR, $HOME). */
int st_anchor_locate(struct eng_store *s);
/*
 * st_anchor_check compares the verified table's generation with the anchor:
 * older gives ENG_ERR_KEYTABLE_ROLLBACK; none yet (trust on first use) or
 * newer records the table's generation. No-op without an anchor.
 */
int st_anchor_check(struct eng_store *s);
/* st_anchor_raise records the table's generation (after a save). No-op without an anchor. */
int st_anchor_raise(struct eng_store *s);

/* --- the batch path (store_chunk.c) and the data path (store_io.c) --- */

/*
 * st_write_chunk encrypts |n| <= ENG_STORE_BATCH units of one extent from |in| into |slot|
 * (and, with integrity, tags them under |ikey|).
 */
int st_write_chunk(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                   uint32_t slot, uint64_t first, uint64_t u, size_t n, const uint8_t *in);
/*
 * st_read_chunk decrypts |n| <= ENG_STORE_BATCH units of one extent from |slot| into |out|
 * (with integrity, each unit's tag under |ikey| is checked first: ENG_ERR_AUTH, unit zeroed).
 */
int st_read_chunk(struct eng_store *s, const struct eng_cipher *c, const uint8_t *ikey,
                  uint32_t slot, uint64_t first, uint64_t u, size_t n, uint8_t *out);
/* st_initial_fill writes every unit of a new store once: zeros, or what |fill| supplies. */
int st_initial_fill(struct eng_store *s, eng_store_fill_fn fill, void *arg);

#endif /* ENG_STORE_INTERNAL_H */
