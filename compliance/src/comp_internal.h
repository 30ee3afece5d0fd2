/*
 * comp_internal.h - helpers shared by the vector readers, and what the files of
 * the known-answer runner share (not installed). comp_kat.c holds the vector
 * set, comp_kat_rsp.c runs one (comp_kat_run), comp_kat_wp.c runs a Wycheproof
 * AES-GCM file, comp_kat_check.c holds the ck_ helpers both runners use and
 * comp_kat_summary.c the counts in words. The helpers carry a ck_ prefix
 * because libcomp.a exports them.
 */
#ifndef COMP_INTERNAL_H
#define COMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base_buf.h"
#include "base_codec.h"
#include "base_file.h"
#include "comp_kat.h"
#include "comp_vectors.h"

/*
 * comp_fail_at fills |err| (may be NULL) with |code|, |where|, the formatted
 * message and the input |line| (0 if none), and returns -1. comp_fail passes
 * the calling source line as |where|.
 */
int comp_fail_at(struct base_err *err, int code, unsigned long line, const char *where,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define comp_fail(err, code, line, ...) comp_fail_at((err), (code), (line), BASE_HERE, __VA_ARGS__)

/*
 * Reads the whole file at |path| into a NUL-terminated heap buffer (*out,
 * *out_len without the NUL). Returns 0 or -1 with |err| set.
 */
int comp_read_file(const char *path, char **out, size_t *out_len, struct base_err *err);

/* Copies |len| bytes into a NUL-terminated heap buffer; NULL on no memory. */
char *comp_memdup0(const char *text, size_t len);

/* Parses a decimal unsigned 64-bit number made of digits only. 0 or -1. */
int comp_parse_u64(const char *s, size_t len, uint64_t *out);

/* Case-insensitive "does |hay| contain |needle|". */
int comp_contains_ci(const char *hay, const char *needle);

/*
 * comp_rsp_source gives the name (may be NULL) and the untouched text |r|
 * was opened with (comp_aes.c detects the kind from them). |r| not NULL.
 */
void comp_rsp_source(const struct comp_rsp *r, const char **name, const char **text, size_t *len);

/* ---- the known-answer runner (comp_kat*.c) ---------------------------------------------- */

struct comp_kat_set {
    struct comp_rsp_info info;
    char *name;
    struct comp_aes_vector *v; /* pointers into blobs[i] */
    uint8_t **blobs;
    size_t n;
    size_t cap;
};

#define REFUSAL_CACHE 16

/*
 * A refusal the engine has already shown for this run. Refusals depend on
 * sizes only (cipher.c checks them before any back end sees a unit), so one
 * check per (reason, key, IV and tag length) is enough; the CAVP GCM files
 * would otherwise need thousands of throw-away ciphers per run.
 */
struct refusal {
    int reason;
    size_t key_len, iv_len, tag_len;
};

struct run {
    const struct comp_kat_set *s;
    enum eng_mode mode;
    enum eng_backend b;
    enum eng_arch a;
    int ecb;
    struct comp_kat_result *out;
    struct refusal seen[REFUSAL_CACHE];
    size_t num_seen;
};

/* Stands in for an empty input so that no NULL pointer reaches the engine. */
extern const uint8_t ck_empty[1];

/* Records the first failure of a run (|at|: .rsp line or tcId); later ones are not kept. */
void ck_note(struct comp_kat_result *out, unsigned long at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether the engine takes a GCM tag of |t| bytes (4, 8, 12..16). */
int ck_tag_len_ok(size_t t);

/*
 * A one-unit GCM decrypt with these sizes must fail with |want|. Returns 1
 * if it does, 0 if not (|why| says what happened), -1 on no memory.
 */
int ck_gcm_refuses(const struct eng_cipher *c, const uint8_t *in, size_t len, const uint8_t *iv,
                   size_t iv_len, const uint8_t *aad, size_t aad_len, const uint8_t *tag,
                   size_t tag_len, int want, char *why, size_t why_len);

/* Whether all |n| bytes at |p| are zero. */
int ck_all_zero(const uint8_t *p, size_t n);

/*
 * Clears *out and points |r| at it for |mode| on |b| at |a|; -1 (and the reason
 * noted in *out) when |b| does not run |mode| at |a| or either is AUTO.
 */
int ck_start_run(struct run *r, enum eng_mode mode, enum eng_backend b, enum eng_arch a,
                 struct comp_kat_result *out);

#endif /* COMP_INTERNAL_H */
