/*
 * keytable_internal.h - the persistent list of wrapped DEKs of a store.
 *
 * The key table never holds an unwrapped key. Each record says which extent
 * (run of data units) a DEK encrypts, where that extent lives in the data
 * file (its slot), whether the DEK is active or retired, and which KEK
 * version wrapped it (eng_kek_ref, as the provider describes it).
 *
 * File format (big-endian), parsed with the bounds-checked reader:
 *   "CMKKT002" | u32 total_len | u64 generation | store id (16) |
 *   u8 mode | u8 integrity | u32 unit_size | u64 num_units | u32 extent_units |
 *   u32 num_slots | u32 next_dek_id | wrapped MAC key |
 *   u32 num_records | records | HMAC-SHA-256 (32) | SHA-256 (32)
 * integrity: 0 none, 1 per-unit HMAC-SHA-256 (XTS only; the store's `macs`
 * file). The byte is under the table's MAC: removing the option is an edit
 * the MAC catches; programs older than version 2 refuse every version 2
 * table (bad magic), so none reads an integrity store without its MACs.
 * wrapped  = str8 provider | str8 key_id | str8 version | str8 alg | u16 len | bytes
 * record   = u32 dek_id | u32 extent | u64 first_unit | u64 num_units |
 *            u32 slot | u8 state | u8 mode | u64 created | u64 invocations |
 *            wrapped
 * invocations: GCM, how many unit encryptions the DEK may have made (an
 * upper bound: the store reserves counts here before it uses them; see
 * eng_store.h); ENG_KT_INV_UNKNOWN for a DEK from a version 1 table; 0 for
 * XTS. Version 1 ("CMKKT001", written before random GCM nonces) has no
 * integrity byte (0) and no invocations field; it is still parsed, and
 * written back as version 2.
 *
 * Integrity, in two layers, because they answer different threats:
 *  - SHA-256 over everything before it catches corruption and truncation
 *    with no key at all, so the parser (and a fuzzer, and `cmk status` on an
 *    inaccessible store) can reject a damaged table with a specific error.
 *  - HMAC-SHA-256 keyed with a random table MAC key, itself stored wrapped
 *    by the KEK like a DEK, stops deliberate edits by anyone who can write
 *    the folder but cannot use the KEK: re-pointing an extent at another
 *    DEK or slot, reviving a retired DEK, changing the geometry. A hash
 *    alone would be recomputed by such an attacker. (Rolling the whole
 *    folder back to an older, consistent copy is not detectable from
 *    inside the folder: the store's freshness anchor, kept outside,
 *    records the highest generation seen; see eng_store.h "Freshness".)
 * Updates are crash-safe: serialize, write "<path>.tmp", fsync, rename,
 * fsync the folder (eng_file_replace). A reader sees the old or the new
 * table, never a mix, so no record is ever half switched.
 */
#ifndef ENG_KEYTABLE_INTERNAL_H
#define ENG_KEYTABLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "eng_keys.h"

#define ENG_KT_MAGIC       "CMKKT002"
#define ENG_KT_MAGIC_V1    "CMKKT001"
#define ENG_KT_INV_UNKNOWN UINT64_MAX
#define ENG_KT_MAC_BYTES   32U
#define ENG_KT_ID_BYTES    16U
#define ENG_KT_MAX_RECORDS (1U << 20)
#define ENG_KT_MAX_FILE    (64U << 20)

enum eng_kt_state {
    ENG_KT_ACTIVE = 1,
    ENG_KT_RETIRED = 2,
};

struct eng_kt_wrapped {
    struct eng_kek_ref kek;
    uint16_t len;
    uint8_t bytes[ENG_WRAPPED_MAX];
};

struct eng_kt_record {
    uint32_t dek_id;
    uint32_t extent;
    uint64_t first_unit;
    uint64_t num_units;
    uint32_t slot;
    uint8_t state;
    uint8_t mode;
    uint64_t created;
    uint64_t invocations; /* GCM: encryptions reserved for this DEK (see the format) */
    struct eng_kt_wrapped w;
};

struct eng_keytable {
    uint64_t generation;
    uint8_t store_id[ENG_KT_ID_BYTES];
    uint8_t mode;
    uint8_t integrity; /* enum eng_store_integrity; XTS only */
    uint32_t unit_size;
    uint64_t num_units;
    uint32_t extent_units;
    uint32_t num_extents; /* derived: ceil(num_units / extent_units) */
    uint32_t num_slots;   /* num_extents + 1: one spare slot for DEK rotation */
    uint32_t next_dek_id;
    struct eng_kt_wrapped mac_key;
    uint32_t num_records;
    uint32_t cap_records;
    struct eng_kt_record *records;
};

/* eng_kt_cleanup frees the records; the table is then empty. Safe on a zeroed table. */
void eng_kt_cleanup(struct eng_keytable *kt);

/*
 * eng_kt_parse checks the length, then the SHA-256, then the structure of
 * |buf| and fills |out| (zeroed first). ENG_ERR_KEYTABLE_TRUNCATED when the
 * bytes end before the declared length, ENG_ERR_KEYTABLE_CORRUPT for any
 * other mismatch, ENG_ERR_NOMEM. Never reads outside |buf|. It does not
 * check the MAC (that needs the KEK): see eng_kt_check_mac. Versions 1 and
 * 2 are accepted (version 1 GCM records get ENG_KT_INV_UNKNOWN).
 */
int eng_kt_parse(const uint8_t *buf, size_t len, struct eng_keytable *out);

/* eng_kt_check_mac verifies the HMAC of a parsed table's bytes: 0, or ENG_ERR_KEYTABLE_AUTH. */
int eng_kt_check_mac(const uint8_t *buf, size_t len, const uint8_t mac_key[ENG_KT_MAC_BYTES]);

/*
 * eng_kt_serialize writes |kt| with its HMAC (under |mac_key|) and hash into
 * a new malloc'd buffer. 0 or -1 (ENG_ERR_NOMEM, ENG_ERR_ARG for a table
 * that breaks the invariants eng_kt_parse enforces).
 */
int eng_kt_serialize(const struct eng_keytable *kt, const uint8_t mac_key[ENG_KT_MAC_BYTES],
                     uint8_t **out, size_t *out_len);

/* eng_kt_load reads and parses |path|; *raw (malloc'd) keeps the bytes for the MAC check. */
int eng_kt_load(const char *path, struct eng_keytable *out, uint8_t **raw, size_t *raw_len);

/* eng_kt_save bumps the generation, serializes and replaces |path| crash-safely. */
int eng_kt_save(const char *path, struct eng_keytable *kt, const uint8_t mac_key[ENG_KT_MAC_BYTES]);

/* eng_kt_append adds a copy of |rec| (growing the array). 0 or -1 (ENG_ERR_NOMEM /
 * ENG_ERR_TOO_LONG). */
int eng_kt_append(struct eng_keytable *kt, const struct eng_kt_record *rec);

/* eng_kt_active returns the index of the active record of |extent|, or -1. */
long eng_kt_active(const struct eng_keytable *kt, uint32_t extent);

/* eng_kt_copy deep-copies |src| into |dst| (zeroed first). 0 or -1 (ENG_ERR_NOMEM). */
int eng_kt_copy(struct eng_keytable *dst, const struct eng_keytable *src);

/* eng_kt_check_geometry validates unit size, counts and mode: 0 or -1 with ENG_ERR_ARG. */
int eng_kt_check_geometry(enum eng_mode mode, uint32_t unit_size, uint64_t num_units,
                          uint32_t extent_units);

#endif /* ENG_KEYTABLE_INTERNAL_H */
