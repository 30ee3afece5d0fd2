/*
 * eng_keyring.h - one master DEK under the store's key table, for callers
 * that derive their own keys from it (cmk-fs derives one key per file).
 *
 * A keyring is an eng_store of one extent of one unit, so it has everything
 * the store's key table has: the wrapped DEK and the table MAC key under a
 * KEK provider, crash-safe updates, KEK rotation that rewraps only the
 * table, the freshness anchor (rollback of the table is refused), the
 * folder lock (one writer), revalidation of the KEK with revalidate_s and
 * grace_s, and wiping on revocation and close. See eng_store.h for each.
 * The keyring adds a copy of the unwrapped master DEK in secure memory and
 * HKDF-SHA256 (RFC 5869, OpenSSL) over it.
 *
 * Threads: eng_keyring_derive may be called from any number of threads,
 * also while one other thread calls eng_keyring_revalidate; the KEK call
 * of a revalidation holds no lock that derive needs, so a slow or hung
 * provider never blocks a derivation. Every other call needs the caller to
 * serialize it.
 */
#ifndef ENG_KEYRING_H
#define ENG_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"
#include "eng_error.h"
#include "eng_keys.h"
#include "eng_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_KEYRING_ID_BYTES ENG_STORE_ID_BYTES

struct eng_keyring_config {
    enum eng_mode mode;    /* create: ENG_MODE_XTS (64-byte master) or ENG_MODE_GCM (32) */
    uint32_t unit_size;    /* create: recorded (authenticated) for the caller; 512 .. 65536 */
    uint32_t revalidate_s; /* >= 1; see eng_store_config */
    uint32_t grace_s;
    const char *anchor_dir; /* NULL: as eng_store_config */
    unsigned flags;         /* ENG_STORE_NO_ANCHOR, ENG_STORE_READ_ONLY (open only) */
};

struct eng_keyring;

/* eng_keyring_config_init: XTS, 4096, revalidate 60 s, grace 300 s, default anchors. */
ENG_API void eng_keyring_config_init(struct eng_keyring_config *cfg);

/*
 * eng_keyring_create makes a keyring in folder |dir| (created 0700 if
 * missing; ENG_ERR_EXISTS if it holds a store) with a fresh master DEK
 * wrapped by |kek|'s current version, and returns it open. The keyring
 * borrows |kek| until eng_keyring_close. NULL with the error set on failure
 * (nothing is left in |dir|).
 */
ENG_API struct eng_keyring *eng_keyring_create(const char *dir, struct eng_kek_provider *kek,
                                               const struct eng_keyring_config *cfg);

/*
 * eng_keyring_open opens the keyring in |dir| as eng_store_open opens a
 * store (lock, hash, KEK check, MAC, freshness anchor) and unwraps the
 * master DEK. cfg's mode and unit_size are ignored (see eng_keyring_info).
 * NULL with the store's errors (ENG_ERR_NO_STORE, ENG_ERR_STORE_BUSY,
 * ENG_ERR_KEK_*, ENG_ERR_KEYTABLE_*, ENG_ERR_UNWRAP, ...).
 */
ENG_API struct eng_keyring *eng_keyring_open(const char *dir, struct eng_kek_provider *kek,
                                             const struct eng_keyring_config *cfg);

/*
 * eng_keyring_derive writes HKDF-SHA256(ikm = master DEK, salt = keyring id,
 * info = |label| || |context|) into |out| (|out_len| bytes, 1 .. 255 * 32;
 * the caller's secure memory; wiped on failure). -1 with
 * ENG_ERR_INACCESSIBLE once a revalidation found the KEK gone (the master
 * DEK is wiped then), ENG_ERR_NULL, ENG_ERR_ARG, ENG_ERR_INTERNAL (OpenSSL).
 */
ENG_API int eng_keyring_derive(struct eng_keyring *kr, const char *label, const uint8_t *context,
                               size_t context_len, uint8_t *out, size_t out_len);

/*
 * eng_keyring_revalidate asks the KEK provider now (eng_store_revalidate):
 * 0 while accessible (transient provider errors within revalidate_s +
 * grace_s of the last good check included); -1 with ENG_ERR_INACCESSIBLE
 * once the KEK is gone, disabled or not permitted, after wiping the master
 * DEK. Final: a revoked keyring stays revoked until reopened.
 */
ENG_API int eng_keyring_revalidate(struct eng_keyring *kr);

/* eng_keyring_rotate_kek rewraps the master DEK and MAC key under the current KEK version. */
ENG_API int eng_keyring_rotate_kek(struct eng_keyring *kr);

/* eng_keyring_info fills |out| with the underlying store's info (mode, unit_size, id, KEK). */
ENG_API int eng_keyring_info(const struct eng_keyring *kr, struct eng_store_info *out);

/* eng_keyring_dek_info: the record of the master DEK (its KEK ref, dates). */
ENG_API int eng_keyring_dek_info(const struct eng_keyring *kr, struct eng_store_dek *out);

/* eng_keyring_close wipes the master DEK and closes the store. NULL is a no-op. */
ENG_API void eng_keyring_close(struct eng_keyring *kr);

#ifdef __cplusplus
}
#endif
#endif /* ENG_KEYRING_H */
