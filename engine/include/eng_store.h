/*
 * eng_store.h - the encrypted store: data units in a folder (or in memory)
 * under per-extent DEKs wrapped by a KEK provider; encrypted backups;
 * encrypted temporary files.
 *
 * A store is a fixed number of fixed-size data units (512 B .. 64 KiB,
 * default 8 KiB), grouped in extents of extent_units units; each extent has
 * its own DEK, so re-keying one extent re-encrypts only that extent. There
 * is no plaintext mode: every store is encrypted, by default under the
 * service-managed key (eng_smk_open).
 *
 *   XTS  length preserving; tweak = logical unit number. Hides data, does
 *        NOT detect tampering (see eng_cipher.h): a changed, swapped or
 *        moved unit reads back as garbage with no error, unless the store
 *        was created with integrity ENG_STORE_INTEGRITY_HMAC_SHA256:
 *        per slot unit a 32-byte HMAC-SHA-256 tag in the metadata file
 *        "macs" (as dm-integrity keeps tags beside the data), under a key
 *        derived from the extent's DEK with HKDF-SHA-256 (salt = store id,
 *        info = "cmk-harness store unit MAC v1"), so it is independent of
 *        the XTS key and changes with every rekey. The tag covers store id ||
 *        unit number (big-endian u64) || ciphertext, and is checked before
 *        the unit is decrypted: a flipped byte, a unit moved to another
 *        position or store, a swapped "macs" or data file gives ENG_ERR_AUTH
 *        (that unit's plaintext is zeroed, never returned). What it does not
 *        stop, as with dm-integrity: replaying an older (unit, tag) pair of
 *        the same unit under the same DEK at the same position; rolling back
 *        the whole folder. GCM stores authenticate every unit already (tags
 *        below) and take no integrity option.
 *   GCM  per unit a 12-byte nonce and 16-byte tag in the metadata file
 *        "tags"; AAD = store id || unit number (big-endian u64), so a unit
 *        cannot be moved to another position or another store.
 *
 * GCM nonces (SP 800-38D 8.2.2, RBG-based construction): every unit
 * encryption draws a fresh 96-bit nonce from OpenSSL's DRBG (seeded from
 * the OS: getrandom), stored with the tag. No counter is kept in a file, so
 * nothing that is copied or restored (the folder, the tags file, an old
 * "nonce" file) can make a nonce come round again: two copies of a store
 * that go on writing independently draw independent nonces. The bound is
 * probabilistic: q encryptions under one DEK repeat a nonce with
 * probability below q^2 / 2^97. Each DEK's encryptions are counted in its
 * key-table record, reserved (saved) before they are used, so a crash can
 * only over-count; before a DEK would pass 2^28 the store re-keys its
 * extent (eng_store_rekey_extent, automatically, inside the write). One
 * store: q <= 2^28, probability < 2^-41. SP 800-38D 8.3 allows 2^32
 * invocations per key, collision probability then < 2^-33: that leaves
 * room for 16 copies of a store that each write 2^28 times under the same
 * DEK. A DEK from a store made before random nonces (key table version 1,
 * with a "nonce" file holding a boot counter) has an unknown history: its
 * extent is re-keyed before the first write under the new scheme; such
 * stores open and read as before (their nonces are in "tags"), and the
 * "nonce" file is no longer read or written. So no (DEK, nonce) pair is
 * ever used twice, except with the probability above.
 *
 * Freshness: the key table carries a generation, bumped at every save,
 * authenticated by its MAC. A folder store also has a freshness anchor
 * outside the folder: a file per store (id and real path) in
 * cfg.anchor_dir, else $CMK_ANCHOR_DIR, else $HOME/.cmk/anchors (made 0700;
 * refused if it is not ours or others can write it, or if none is given and
 * HOME is unset: ENG_ERR_ANCHOR), holding the highest
 * generation this user has seen there. Every open compares the table's
 * generation with it: older is refused with ENG_ERR_KEYTABLE_ROLLBACK;
 * newer (or no anchor yet: trust on first use, which is how stores made
 * before anchors start) is recorded. Every save of the key table raises the
 * anchor: key rotation, re-key, and the first write of every open (the
 * write-session bump; GCM reservations too). ENG_STORE_NO_ANCHOR turns
 * this off. A copy of the folder at another path gets an anchor of its own
 * (so copying is not mistaken for a rollback).
 * Someone who can write the store folder but not the anchor folder or the
 * KEK:
 *   cannot  roll the key table back to an older one, alone or with the
 *           whole folder (an older copy of the store put back at the same
 *           path), once this user has opened or saved a newer one there:
 *           ENG_ERR_KEYTABLE_ROLLBACK. Since every open that writes saves
 *           the table before its first write, a copy taken before the latest
 *           such open (or re-key, or KEK rotation) is refused; writes later
 *           in the same open are not told apart;
 *   cannot  edit the key table or forge a generation (MAC, see
 *           keytable_internal.h); cannot move a GCM unit to another position
 *           or store, or bring back a unit written under a retired DEK
 *           (ENG_ERR_AUTH);
 *   can     replace a unit (XTS: data; GCM: data and its tags record) with
 *           an older version of the same unit written under the same, still
 *           active DEK: reads return the older data without an error (a
 *           per-unit replay is invisible without per-unit freshness state);
 *           under XTS, any change of data reads as garbage without an error;
 *   can     delete or truncate the store (ENG_ERR_NO_STORE, *_CORRUPT);
 *   can     roll back without notice when the anchor is gone too (lost,
 *           deleted, or another anchor folder used): the next open trusts
 *           what it finds.
 *
 * Locks: an open takes the folder's lock file with flock: shared for
 * ENG_STORE_READ_ONLY opens (any number at once; such a handle never writes
 * to the folder: its files are opened read-only, the lock file is created
 * only if missing), exclusive otherwise. A busy store gives
 * ENG_ERR_STORE_BUSY at once, or after cfg.lock_wait_s seconds of polling.
 *
 * Folder layout (all files 0600, folder 0700):
 *   keytable  wrapped DEKs, geometry, store id (see engine/src/keytable_internal.h)
 *   data      num_extents + 1 slots of extent_units * unit_size bytes; an
 *             extent lives in the slot its active key-table record names,
 *             unit u of extent e at slot * extent_units * unit_size +
 *             (u - e * extent_units) * unit_size. The spare slot receives
 *             an extent being re-keyed.
 *   tags      GCM only: 28 bytes (nonce 12 | tag 16) per slot unit, same order
 *   macs      XTS with integrity only: 32-byte tag per slot unit, same order
 *   nonce     stores made before random nonces only: an old boot counter, unused
 *   lock      flock'ed while the store is open (shared by readers, else one process)
 * Every unit is written (encrypted zeros) at creation, so every unit of a
 * store decrypts and authenticates. The integrity option is recorded in the
 * key table (under its MAC), so it cannot be stripped by deleting "macs";
 * it stays through rotate-kek (DEKs unchanged), rekey (new DEK, new tags in
 * the new slot) and backup/restore (the backup header carries it).
 *
 * Access control: opening a store unwraps its DEKs through the provider;
 * the DEKs then live only inside eng_cipher objects (locked, wiped memory).
 * Every read and write checks, at most once per revalidation interval
 * (monotonic clock), that the KEK is still there (provider get). When it is
 * gone, disabled or no longer permitted, the store frees every cipher (wiping
 * the DEKs) and every later call fails with ENG_ERR_INACCESSIBLE. Transient
 * provider errors (throttled, unreachable) are tolerated until interval +
 * grace_s seconds after the last good check (retried every second until
 * then). So access ends at most revalidate_s seconds after a revocation
 * (+ grace_s while the provider cannot be asked). Reopening works again
 * once the key is back.
 *
 * A store handle is not safe for concurrent calls from several threads.
 * A write that is interrupted (crash, kill) may leave the units it was
 * writing torn (XTS: garbage; GCM: ENG_ERR_AUTH), as a disk may tear a page;
 * every write that returned before stays readable.
 */
#ifndef ENG_STORE_H
#define ENG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"
#include "eng_error.h"
#include "eng_keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_STORE_DEFAULT_UNIT         8192U
#define ENG_STORE_DEFAULT_EXTENT_UNITS 1024U
#define ENG_STORE_DEFAULT_REVALIDATE_S 60U
#define ENG_STORE_DEFAULT_GRACE_S      300U
#define ENG_STORE_ID_BYTES             16U

/* Per-unit integrity of an XTS store (see the header comment). */
enum eng_store_integrity {
    ENG_STORE_INTEGRITY_NONE = 0,
    ENG_STORE_INTEGRITY_HMAC_SHA256 = 1, /* "macs": HMAC-SHA-256 per slot unit */
};
#define ENG_STORE_MAC_BYTES 32U

/* eng_store_config flags */
#define ENG_STORE_SYNC      1U /* fdatasync data (and tags) before every write returns */
#define ENG_STORE_READ_ONLY 2U /* open: shared lock, no write of any kind (ENG_ERR_READ_ONLY) */
#define ENG_STORE_NO_ANCHOR 4U /* create/open: no freshness anchor (rollback not detected) */

struct eng_store_config {
    /* Geometry: used by create (and the memory store) only. */
    enum eng_mode mode;    /* ENG_MODE_XTS or ENG_MODE_GCM */
    uint32_t unit_size;    /* power of two, 512 .. 65536 */
    uint64_t num_units;    /* capacity; >= 1 */
    uint32_t extent_units; /* units per DEK, 1 .. num_units; 0 = 1024 or num_units if fewer */
    enum eng_store_integrity integrity; /* XTS only (GCM authenticates already) */
    /* Run time: used by create and open. */
    enum eng_backend backend;
    enum eng_arch arch;
    uint32_t revalidate_s; /* KEK check interval in seconds; >= 1 */
    uint32_t grace_s;      /* transient provider errors tolerated this much past the interval */
    unsigned flags;
    uint32_t lock_wait_s;   /* open: wait this long for a busy store's lock (0: fail at once) */
    const char *anchor_dir; /* freshness anchors (NULL: $CMK_ANCHOR_DIR, else ~/.cmk/anchors) */
};

/*
 * eng_store_config_init fills |cfg| with the defaults (XTS, 8 KiB units, extent_units 0: 1024
 * units per extent, or the whole store when it is smaller; 60 s, 300 s).
 */
ENG_API void eng_store_config_init(struct eng_store_config *cfg);

struct eng_store;

/*
 * eng_store_create makes a new store in folder |dir| (created 0700 if
 * missing; an existing folder must not hold a store: ENG_ERR_EXISTS) and
 * returns it open. Every extent gets a fresh DEK wrapped by |kek|'s current
 * version; every unit is written as encrypted zeros. The store borrows |kek|:
 * keep it alive until eng_store_close. NULL on failure with the error set;
 * nothing is left in |dir| on failure. Geometry out of range (unit size not
 * a power of two in 512 .. 65536, num_units 0, extent_units larger than
 * num_units, a data file over 1 PiB) gives ENG_ERR_GEOMETRY before anything
 * is created; an integrity option on a GCM store (or an unknown one),
 * ENG_ERR_ARG.
 */
ENG_API struct eng_store *eng_store_create(const char *dir, struct eng_kek_provider *kek,
                                           const struct eng_store_config *cfg);

/*
 * eng_store_open opens the store in |dir|: takes the lock (shared with
 * ENG_STORE_READ_ONLY in cfg.flags, else exclusive; waiting up to
 * cfg.lock_wait_s), checks the key table (hash, then the KEK with get, then
 * its MAC, then its generation against the freshness anchor), unwraps the
 * active DEKs. |cfg| may be NULL (defaults); its geometry is ignored. A
 * read-only open writes nothing in |dir| (the anchor, outside, may be
 * recorded or raised).
 * Errors: ENG_ERR_NO_STORE, ENG_ERR_STORE_BUSY, ENG_ERR_KEYTABLE_* (_ROLLBACK
 * included), ENG_ERR_ANCHOR, ENG_ERR_STORE_CORRUPT, the provider's errors (ENG_ERR_KEK_NOT_FOUND,
 * ENG_ERR_KEK_DISABLED, ENG_ERR_KEK_FORBIDDEN, ENG_ERR_VAULT_*,
 * ENG_ERR_UNWRAP), ENG_ERR_KEK_MISMATCH (the table was written under
 * another provider or key name), ENG_ERR_KEK_URL_MISMATCH (the same key
 * name at another vault URL: see eng_store_move_kek) ...
 *
 * KEK expiry (a vault key's exp, or before its nbf: ENG_ERR_KEK_EXPIRED,
 * ENG_ERR_KEK_NOT_YET_VALID from the provider's get) follows the service,
 * where such a key still unwraps but wraps no new key: the store opens and
 * reads, and refuses, with that error, eng_store_write (and the byte form)
 * and everything that wraps under an expired current version: create,
 * eng_store_rekey_extent, eng_store_rotate_kek, eng_store_backup. The way
 * out: a new key version (or a later exp) in the vault, then
 * eng_store_rotate_kek, which rewraps every DEK under it and makes the
 * store writable again. eng_store_info.kek_expired tells which state a
 * store is in; it is updated at every check of the KEK.
 */
ENG_API struct eng_store *eng_store_open(const char *dir, struct eng_kek_provider *kek,
                                         const struct eng_store_config *cfg);

/*
 * eng_store_move_kek records a new address of the store's KEK: for a
 * customer-managed key whose vault moved (a new port, "localhost" for
 * "127.0.0.1"), with |kek| the provider at the new URL and the same key
 * name. It opens the store as eng_store_open does, except that refs naming
 * the same key name under another URL are accepted, so every check of an
 * open is made through |kek|: each KEK version the store uses must exist
 * there (get), the MAC key must unwrap and the key table's MAC verify, and
 * every active DEK must unwrap. Only then every ref's key id (retired
 * records included) is rewritten to |kek|'s and the key table switched as
 * rotation does (new generation, MAC'd, written to a temporary file,
 * fsynced, renamed). Returns 1 when the table was rewritten, 0 when it
 * already named |kek|'s key id, -1 with the error of the failed check:
 * ENG_ERR_KEK_MISMATCH (another provider or key name), ENG_ERR_KEK_NOT_FOUND
 * (a version the store needs is not in that vault), ENG_ERR_UNWRAP or
 * ENG_ERR_KEYTABLE_AUTH (another key with the same name), the provider's
 * and the open's errors. The table is unchanged on failure.
 */
ENG_API int eng_store_move_kek(const char *dir, struct eng_kek_provider *kek,
                               const struct eng_store_config *cfg);

/*
 * eng_store_inspect opens |dir| without any key: only eng_store_get_info
 * and eng_store_dek_info work (reads and writes fail with
 * ENG_ERR_INACCESSIBLE); the key table's hash is checked, its MAC is not.
 */
ENG_API struct eng_store *eng_store_inspect(const char *dir);

/*
 * eng_store_create_memory makes a store whose data and metadata live in
 * memory only (benchmarks, tests); same keys, cipher calls and checks as a
 * folder store.
 */
ENG_API struct eng_store *eng_store_create_memory(struct eng_kek_provider *kek,
                                                  const struct eng_store_config *cfg);

/* eng_store_close wipes every DEK, releases the store and its lock. NULL is a no-op. */
ENG_API void eng_store_close(struct eng_store *s);

/*
 * eng_store_write encrypts |num_units| whole units from |in| to units
 * first_unit .. first_unit + num_units - 1, in batches (one eng_cipher_batch
 * call per run of units under one DEK, up to 64 units). eng_store_read is
 * the inverse into |out|. 0, or -1: ENG_ERR_RANGE, ENG_ERR_INACCESSIBLE,
 * ENG_ERR_IO, ENG_ERR_AUTH (GCM, or XTS with integrity: a unit failed
 * authentication; no plaintext of a failing unit is returned: it is zeroed;
 * the other units are), ENG_ERR_READ_ONLY (write on a read-only handle),
 * ENG_ERR_ANCHOR, ... The first write of an open saves the key table
 * (generation + 1) before any unit; under GCM a write may also save it to
 * reserve encryptions, or re-key an extent first (see "GCM nonces" above).
 */
ENG_API int eng_store_write(struct eng_store *s, uint64_t first_unit, size_t num_units,
                            const void *in);
ENG_API int eng_store_read(struct eng_store *s, uint64_t first_unit, size_t num_units, void *out);

/* Byte-range forms (read-modify-write for partial units). */
ENG_API int eng_store_write_bytes(struct eng_store *s, uint64_t offset, const void *in,
                                  size_t in_len);
ENG_API int eng_store_read_bytes(struct eng_store *s, uint64_t offset, void *out, size_t out_len);

/* eng_store_sync makes every returned write durable (fdatasync data and tags). */
ENG_API int eng_store_sync(struct eng_store *s);

/*
 * eng_store_revalidate checks the KEK now, whatever the interval. 0 if the
 * store is still accessible (transient errors within grace included), else
 * -1 with ENG_ERR_INACCESSIBLE (the DEKs are wiped by then).
 */
ENG_API int eng_store_revalidate(struct eng_store *s);

/*
 * eng_store_rotate_kek rewraps every DEK (and the table MAC key) under the
 * provider's current KEK version, without touching data, and switches the
 * key table atomically. Time depends on the number of DEKs only.
 */
ENG_API int eng_store_rotate_kek(struct eng_store *s);

/*
 * eng_store_rekey_extent re-encrypts extent |extent| under a fresh DEK into
 * the spare slot, fsyncs it, then switches the key table atomically (old
 * record retired, new record active in the new slot). A crash at any point
 * leaves either the old or the new extent, both readable.
 */
ENG_API int eng_store_rekey_extent(struct eng_store *s, uint32_t extent);

struct eng_store_info {
    enum eng_mode mode;
    uint32_t unit_size;
    uint64_t num_units;
    uint32_t extent_units;
    uint32_t num_extents;
    uint32_t num_records; /* active + retired */
    uint64_t generation;  /* key table generation */
    int read_only;        /* opened with ENG_STORE_READ_ONLY (shared lock) */
    uint8_t store_id[ENG_STORE_ID_BYTES];
    int accessible;       /* 1 while DEKs are loaded */
    int cause;            /* why not accessible (ENG_OK if accessible) */
    int last_check_error; /* ENG_OK or the last provider error seen at a check */
    int kek_expired;      /* ENG_OK, or ENG_ERR_KEK_EXPIRED / _NOT_YET_VALID: read-only */
    int mac_verified;     /* key table MAC checked (0 for eng_store_inspect) */
    enum eng_store_integrity integrity; /* per-unit MACs (XTS) */
    int in_memory;
    enum eng_backend backend; /* what the DEK ciphers run on */
    enum eng_arch arch;
    uint32_t revalidate_s;
};

/* eng_store_get_info fills |out|. 0 or -1 (ENG_ERR_NULL). */
ENG_API int eng_store_get_info(const struct eng_store *s, struct eng_store_info *out);

struct eng_store_dek {
    uint32_t dek_id;
    uint32_t extent;
    uint64_t first_unit;
    uint64_t num_units;
    uint32_t slot;
    int active; /* 1 active, 0 retired */
    uint64_t created;
    struct eng_kek_ref kek;
    size_t wrapped_len;
};

/* eng_store_dek_info describes key-table record |index| (< num_records). 0 or -1 (ENG_ERR_RANGE).
 */
ENG_API int eng_store_dek_info(const struct eng_store *s, uint32_t index,
                               struct eng_store_dek *out);

/*
 * Backups. eng_store_backup writes every unit's plaintext, re-encrypted with
 * AES-256-GCM in chunks under a fresh backup DEK wrapped by the store's KEK
 * (current version), to the file |path| (created 0600, must not exist).
 * Each chunk's AAD binds the SHA-256 of the header, the chunk index and a
 * final-chunk flag, so truncation, reordering, splicing between backups and
 * header edits are all detected. The header carries a SHA-256 checksum,
 * checked before any of its fields is used (a damaged header is
 * ENG_ERR_BACKUP_CORRUPT, not a KEK error), and the store's integrity
 * option, which restore recreates. Version 1 backups are still read.
 */
ENG_API int eng_store_backup(struct eng_store *s, const char *path);

/*
 * eng_backup_verify checks a whole backup stream (every chunk's tag, order
 * and the final flag) without writing anything. ENG_ERR_BACKUP_TRUNCATED,
 * ENG_ERR_BACKUP_CORRUPT, or the provider's errors (the backup DEK must unwrap).
 */
ENG_API int eng_backup_verify(const char *path, struct eng_kek_provider *kek);

/*
 * eng_store_restore verifies the whole stream first (as eng_backup_verify)
 * and only then creates a new store in |dir| (with the backup's geometry,
 * fresh DEKs, a new store id) from it; the store appears in |dir| only when
 * complete. |cfg| gives run-time options only (may be NULL).
 */
ENG_API int eng_store_restore(const char *backup_path, const char *dir,
                              struct eng_kek_provider *kek, const struct eng_store_config *cfg);

/*
 * Temporary (spill) files: written sequentially, read at any offset,
 * encrypted with AES-256-GCM in 64 KiB chunks under an ephemeral DEK made
 * at eng_tmpfile_new, held in secure memory only and never written, not
 * even wrapped: once the handle is closed or the process is gone, the file
 * is unreadable. The file is created unlinked (O_TMPFILE) in |dir| (NULL =
 * $TMPDIR or /tmp), so nothing is left behind by a crash either.
 */
struct eng_tmpfile;
ENG_API struct eng_tmpfile *eng_tmpfile_new(const char *dir);
/* eng_tmpfile_write appends |in_len| bytes. 0 or -1. */
ENG_API int eng_tmpfile_write(struct eng_tmpfile *t, const void *in, size_t in_len);
/*
 * eng_tmpfile_read reads |out_len| bytes at |offset|. 0 or -1: ENG_ERR_RANGE,
 * ENG_ERR_AUTH (the file was altered), ENG_ERR_TMPFILE (short file).
 */
ENG_API int eng_tmpfile_read(struct eng_tmpfile *t, uint64_t offset, void *out, size_t out_len);
/* eng_tmpfile_size returns the bytes written so far. */
ENG_API uint64_t eng_tmpfile_size(const struct eng_tmpfile *t);
/* eng_tmpfile_fd returns the file descriptor (for inspection; do not write to it). */
ENG_API int eng_tmpfile_fd(const struct eng_tmpfile *t);
/* eng_tmpfile_free wipes the ephemeral DEK and closes the file. NULL is a no-op. */
ENG_API void eng_tmpfile_free(struct eng_tmpfile *t);

#ifdef __cplusplus
}
#endif
#endif /* ENG_STORE_H */
