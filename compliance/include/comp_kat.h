/*
 * comp_kat.h - run known-answer vector files through the engine.
 *
 * A set is every AES vector of one CAVP file, parsed and checked once
 * (comp_kat_load); comp_kat_run then drives one back end at one CPU path
 * through all of them and counts. Every vector is checked both ways,
 * whatever section it sits in: encrypt(PT) must give CT (and the tag), and
 * decrypt(CT) must give PT back; a GCM FAIL record must be refused with
 * ENG_ERR_AUTH and its output zeroed. Consecutive vectors under the same
 * key go to the engine as one eng_cipher_batch call per direction; decrypt
 * runs in place, encrypt out of place.
 *
 * The engine is AES-256 only and takes 96-bit GCM nonces only, by design.
 * Vectors outside that are skipped and counted by reason, after checking
 * that the engine refuses them with the exact usage error (a skipped vector
 * the engine would silently accept counts as failed).
 *
 * No printing: comp_kat_summary formats the counts for the caller.
 */
#ifndef COMP_KAT_H
#define COMP_KAT_H

#include <stddef.h>

#include "comp_vectors.h"
#include "eng_cipher.h"

#ifdef __cplusplus
extern "C" {
#endif

enum comp_skip {
    COMP_SKIP_KEY_SIZE = 0, /* not AES-256 (a key not 256 bits; not XTS); refused with
                               ENG_ERR_KEY_LEN */
    COMP_SKIP_NONCE_SIZE,   /* GCM IV not 96 bits (GCM only); refused with ENG_ERR_NONCE_LEN */
    COMP_SKIP_TAG_SIZE,     /* GCM tag not 4, 8, 12..16 bytes; refused with ENG_ERR_TAG_LEN
                               (an empty tag cannot be expressed and is not tried) */
    COMP_SKIP_PARTIAL_BYTE, /* XTS DataUnitLen not a multiple of 8 (the engine works in bytes) */
    COMP_SKIP_XTS_EQUAL_HALVES, /* refused with ENG_ERR_XTS_KEY_HALVES_EQUAL */
    COMP_SKIP_XTS_KEY_SIZE,     /* XTS key not 512 bits (AES-128/192-XTS); ENG_ERR_KEY_LEN */
    COMP_SKIP_XTS_TWEAK_SIZE,   /* XTS tweak longer than 128 bits; ENG_ERR_NONCE_LEN. A shorter
                                   one (Wycheproof) is the little-endian data-unit number:
                                   padded with zero bytes on the right and run */
    COMP_SKIP_COUNT,
};

/* How the engine refused a vector that must be refused. */
enum comp_reject {
    COMP_REJECT_AUTH = 0, /* ENG_ERR_AUTH */
    COMP_REJECT_KEY_LEN,  /* ENG_ERR_KEY_LEN */
    COMP_REJECT_NONCE_LEN,
    COMP_REJECT_TAG_LEN,
    COMP_REJECT_COUNT,
};

struct comp_kat_result {
    unsigned long passed; /* includes the expected refusals counted in rejected_by */
    unsigned long failed;
    unsigned long skipped;
    unsigned long skipped_by[COMP_SKIP_COUNT];
    unsigned long rejected_by[COMP_REJECT_COUNT];
    unsigned long acceptable;          /* Wycheproof "acceptable": neither passed nor failed */
    unsigned long acceptable_rejected; /* ... of which the engine refused */
    unsigned long units;               /* engine units processed */
    unsigned long batches;             /* eng_cipher_batch calls */
    unsigned long key_cases;           /* cases with the engine's own key size (AES-256: 32
                                          bytes, 64 for XTS; the SMK wrap's 32), run or not */
    unsigned long first_failure_at;    /* .rsp line or Wycheproof tcId; 0 if none */
    char first_failure[200];           /* what went wrong first; "" if nothing */
};

struct comp_kat_set;

/*
 * comp_kat_load reads, detects and checks every record of the .rsp file at
 * |path| (see comp_rsp_open, comp_rsp_info, comp_aes_vector_get). Returns the
 * set or NULL with |err| set (any code of those three). Free with
 * comp_kat_free.
 */
struct comp_kat_set *comp_kat_load(const char *path, struct base_err *err);

/* comp_kat_load_mem is comp_kat_load on |len| bytes at |text|; |name| as for comp_rsp_open_mem. */
struct comp_kat_set *comp_kat_load_mem(const char *name, const char *text, size_t len,
                                       struct base_err *err);

/* comp_kat_free releases |s|. NULL is a no-op. */
void comp_kat_free(struct comp_kat_set *s);

/* comp_kat_info returns what the file holds (NULL for a NULL set). */
const struct comp_rsp_info *comp_kat_info(const struct comp_kat_set *s);

/* comp_kat_size returns the number of vectors (records) in |s|. */
size_t comp_kat_size(const struct comp_kat_set *s);

/*
 * comp_kat_mode returns the engine mode that runs the set. ECB files run as
 * CBC with an all-zero IV, one 16-byte block per unit, which is the AES
 * block function itself.
 */
enum eng_mode comp_kat_mode(const struct comp_kat_set *s);

/*
 * comp_kat_same_vectors returns 1 when |a| and |b| hold the same vectors in
 * the same order (every byte of key, IV/tweak, PT, CT, AAD, tag, the
 * direction, the XTS unit length and sequence number, FAIL), else 0.
 * Comments, line numbers and line endings do not count: the CR-stripped
 * copy of a NIST file equals the original.
 */
int comp_kat_same_vectors(const struct comp_kat_set *a, const struct comp_kat_set *b);

/*
 * comp_kat_run runs every vector of |s| on back end |b| at path |a| (neither
 * AUTO) and fills *out. Returns 0 when the run happened (read out->failed),
 * or -1 when it could not start: NULL argument, |b| does not support the
 * mode at |a| (eng_backend_supports), no memory; out->first_failure says why.
 */
int comp_kat_run(const struct comp_kat_set *s, enum eng_backend b, enum eng_arch a,
                 struct comp_kat_result *out);

/*
 * comp_kat_run_wycheproof runs every test of an AES-GCM Wycheproof file
 * (AEAD schema) on |b| at |a|: "valid" must encrypt to ct+tag and decrypt
 * back; "invalid" must be refused (ENG_ERR_AUTH with zeroed output, or the
 * exact usage error for an IV/tag size the engine does not take);
 * "acceptable" is run as valid and counted apart. Keys other than 256 bits
 * are skipped once their refusal is checked. Rewinds |w| first. Returns 0
 * when the run happened, -1 with |err| set when it could not (COMP_ERR_NULL,
 * COMP_ERR_SCHEMA for another algorithm or a malformed test, COMP_ERR_HEX,
 * COMP_ERR_UNSUPPORTED when |b| does not run GCM at |a|, COMP_ERR_NOMEM).
 */
int comp_kat_run_wycheproof(struct comp_wp *w, enum eng_backend b, enum eng_arch a,
                            struct comp_kat_result *out, struct base_err *err);

/*
 * comp_kat_key_ran returns how many of r->key_cases ran (were not skipped
 * for a reason other than the key size). 0 for NULL.
 */
unsigned long comp_kat_key_ran(const struct comp_kat_result *r);

/* comp_skip_reason returns e.g. "GCM IV not 96 bits"; never NULL. */
const char *comp_skip_reason(enum comp_skip s);

/* comp_reject_name returns "ENG_ERR_AUTH", ...; never NULL. */
const char *comp_reject_name(enum comp_reject r);

/*
 * comp_kat_summary writes one line such as "2625 passed (1314 refused:
 * 1314 ENG_ERR_AUTH), 0 failed, 5250 skipped (5250 GCM IV not 96 bits); 2625 of 7875
 * AES-256 cases ran" to
 * |out| (truncated to |max_out_len|, always NUL-terminated when non-zero).
 */
void comp_kat_summary(const struct comp_kat_result *r, char *out, size_t max_out_len);

#ifdef __cplusplus
}
#endif
#endif /* COMP_KAT_H */
