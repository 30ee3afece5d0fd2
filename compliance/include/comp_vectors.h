/*
 * comp_vectors.h - readers for known-answer vector files.
 *
 * Two formats:
 *   - NIST CAVP response files (.rsp, and pyca/cryptography's .txt files in
 *     the same syntax): `#` comments, `[ENCRYPT]` / `[DECRYPT]` sections,
 *     `[Name = value]` parameter headers, and records of `NAME = value` lines
 *     separated by blank lines; a bare `FAIL` line in a GCM decrypt record
 *     says the tag must be rejected. LF or CRLF line endings.
 *   - Project Wycheproof JSON test files (read with cJSON): AEAD (AES-GCM),
 *     IND-CPA (AES-XTS), key wrap (AES-KW/KWP) and RSAES-OAEP schemas.
 *
 * The readers are a library: they never print and never abort. Every
 * function that can fail returns -1 (or NULL) and fills a struct base_err
 * with a code (enum comp_err), the 1-based line of the offending input in
 * e.line (0 when there is no line, as for JSON schema errors) and a one-line
 * message. Vector data is public test data, so it lives in ordinary memory.
 *
 * Typical use (a .rsp file):
 *
 *     struct base_err err = BASE_ERR_INIT;
 *     struct comp_rsp *r = comp_rsp_open(path, &err);
 *     struct comp_rsp_info info;
 *     comp_rsp_info(r, &info, &err);
 *     struct comp_rsp_record *rec;
 *     while ((rc = comp_rsp_next(r, &rec)) == 1) {
 *         struct comp_aes_vector v;
 *         if (comp_aes_vector_get(&info, rec, &v, &err) != 0) { ... }
 *     }
 *     if (rc < 0) { ... comp_rsp_error(r) ... }
 *     comp_rsp_free(r);
 */
#ifndef COMP_VECTORS_H
#define COMP_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "base_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The readers' error codes, in the harness convention (base_err.h): each has a
 * category (BASE_CODE) so a caller can branch on the kind of failure, numbered
 * from 0x81 within it so it never collides with a base code.
 * X(name, category, number within the category, message)
 */
#define COMP_ERRORS(X)                                                                        \
    X(COMP_ERR_NULL, USAGE, 0x81, "a required argument is NULL")                              \
    X(COMP_ERR_UNSUPPORTED, USAGE, 0x82,                                                      \
      "the engine back end does not run this mode at this CPU path")                          \
    X(COMP_ERR_IO, IO, 0x81, "cannot open or read the file")                                  \
    X(COMP_ERR_NOMEM, RESOURCE, 0x81, "out of memory")                                        \
    X(COMP_ERR_TOO_BIG, LIMIT, 0x81, "file, header or record exceeds the reader's limits")    \
    X(COMP_ERR_SYNTAX, FORMAT, 0x81, "line is not a comment, [header], NAME = value or FAIL") \
    X(COMP_ERR_SECTION, FORMAT, 0x82, "unknown [section] header")                             \
    X(COMP_ERR_HEX, FORMAT, 0x83, "value is not an even-length hex string")                   \
    X(COMP_ERR_NUMBER, FORMAT, 0x84, "value is not a decimal number")                         \
    X(COMP_ERR_DUPLICATE, FORMAT, 0x85, "field given twice in one record")                    \
    X(COMP_ERR_INCOMPLETE, FORMAT, 0x86,                                                      \
      "record lacks a field its kind requires (truncated record?)")                           \
    X(COMP_ERR_INCONSISTENT, FORMAT, 0x87, "record disagrees with its header or with itself") \
    X(COMP_ERR_UNUSED, FORMAT, 0x88, "record has a field the reader does not use")            \
    X(COMP_ERR_KIND, FORMAT, 0x89, "cannot tell which kind of vector file this is")           \
    X(COMP_ERR_JSON, FORMAT, 0x8a, "not valid JSON")                                          \
    X(COMP_ERR_SCHEMA, FORMAT, 0x8b, "JSON does not follow a known Wycheproof schema")

enum comp_err { COMP_ERRORS(BASE_ERR_ENUM_ROW) };

/*
 * The readers fill a struct base_err (base_err.h): code (enum comp_err), msg
 * (one line, for people: what and where), where (the source line that raised
 * it) and line (the 1-based line of the input at fault, 0 if none, as for JSON
 * schema errors). BASE_ERR_INIT initialises one.
 */

/* comp_strerror returns a static message for |code|; "unknown error" for others. Never NULL. */
const char *comp_strerror(int code);
/* comp_error_name returns the code's symbolic name ("COMP_ERR_HEX"), "COMP_ERR_UNKNOWN" for
 * a code not in COMP_ERRORS (and for 0). Never NULL. */
const char *comp_error_name(int code);
/* comp_error_known is 1 when |code| is one of COMP_ERRORS, else 0. */
int comp_error_known(int code);

/* ---- CAVP .rsp files ---------------------------------------------------- */

#define COMP_RSP_MAX_FIELDS 32 /* fields in one record */
#define COMP_RSP_MAX_PARAMS 16 /* [Name = value] headers in force */
#define COMP_MAX_FILE_BYTES (64UL << 20)

struct comp_rsp_param {
    char name[32];  /* "Keylen" */
    char value[64]; /* "256" */
};

struct comp_rsp_field {
    const char *name;    /* as written: "KEY", "Key", "i", ... */
    const char *raw;     /* the value as written, trimmed ("" when empty) */
    const uint8_t *data; /* hex fields: the decoded bytes (NULL when empty) */
    size_t len;          /* hex fields: number of bytes */
    uint64_t num;        /* decimal fields (COUNT, DataUnitLen, DataUnitSeqNumber) */
    int is_decimal;      /* 1: decimal field, |num| holds the value; 0: hex field */
    unsigned long line;
    int used; /* set by comp_rsp_get and comp_aes_vector_get */
};

struct comp_rsp_record {
    unsigned long line;                  /* first line of the record */
    const char *section;                 /* "ENCRYPT", "DECRYPT", or "" before any section */
    const struct comp_rsp_param *params; /* the [Name = value] headers in force */
    size_t num_params;
    struct comp_rsp_field *fields; /* in file order */
    size_t num_fields;
    int fail; /* a bare FAIL line was present */
    unsigned long fail_line;
    int fail_used; /* set by comp_aes_vector_get */
};

struct comp_rsp;

/*
 * comp_rsp_open reads the whole file at |path| (at most COMP_MAX_FILE_BYTES)
 * and returns a reader positioned before the first record, or NULL with
 * |err| set (COMP_ERR_NULL, COMP_ERR_IO, COMP_ERR_TOO_BIG, COMP_ERR_NOMEM).
 * The caller owns the reader and frees it with comp_rsp_free.
 */
struct comp_rsp *comp_rsp_open(const char *path, struct base_err *err);

/*
 * comp_rsp_open_mem is comp_rsp_open on |len| bytes at |text|, which are
 * copied (the caller keeps |text|). |name| (may be NULL) stands for the file
 * name in kind detection and messages.
 */
struct comp_rsp *comp_rsp_open_mem(const char *name, const char *text, size_t len,
                                   struct base_err *err);

/* comp_rsp_free releases |r| and every record it returned. NULL is a no-op. */
void comp_rsp_free(struct comp_rsp *r);

/* comp_rsp_name returns the name given at open (the path); never NULL. */
const char *comp_rsp_name(const struct comp_rsp *r);

/*
 * comp_rsp_next parses the next record. Returns 1 with *out set, 0 at the end
 * of the file, -1 on malformed input (see comp_rsp_error; the reader then
 * stays in error). *out belongs to the reader and stays valid until the next
 * call or comp_rsp_free. Syntax is checked here (hex and decimal values,
 * headers, duplicates); what a record must contain is checked by
 * comp_aes_vector_get.
 */
int comp_rsp_next(struct comp_rsp *r, struct comp_rsp_record **out);

/* comp_rsp_error returns the reader's last error (code BASE_OK if none); never NULL. */
const struct base_err *comp_rsp_error(const struct comp_rsp *r);

/* comp_rsp_get returns the field called |name| (case-insensitive) and marks it used, or NULL. */
struct comp_rsp_field *comp_rsp_get(struct comp_rsp_record *rec, const char *name);

/* comp_rsp_param returns the value of the header [|name| = value] in force, or NULL. */
const char *comp_rsp_param(const struct comp_rsp_record *rec, const char *name);

/*
 * comp_rsp_first_unused returns the first field nobody asked for (see
 * comp_rsp_get), or NULL when every field was used. A FAIL line counts as
 * a field named "FAIL".
 */
const char *comp_rsp_first_unused(const struct comp_rsp_record *rec, unsigned long *line);

/* ---- what a .rsp file holds --------------------------------------------- */

enum comp_kind {
    COMP_KIND_UNKNOWN = 0,
    COMP_KIND_AES_ECB,     /* AESAVS KAT (GFSbox, KeySbox, VarKey, VarTxt) and MMT */
    COMP_KIND_AES_CBC,     /* same, CBC */
    COMP_KIND_AES_CTR,     /* SP 800-38A F.5 as .rsp; pyca aes-*-ctr.txt */
    COMP_KIND_AES_GCM_ENC, /* gcmEncryptExtIV*.rsp */
    COMP_KIND_AES_GCM_DEC, /* gcmDecrypt*.rsp (FAIL records) */
    COMP_KIND_AES_XTS,     /* XTSGenAES*.rsp, both tweak formats */
    COMP_KIND_COUNT,
};

enum comp_xts_tweak {
    COMP_XTS_TWEAK_NONE = 0,
    COMP_XTS_TWEAK_HEX128, /* i = 128-bit hex tweak */
    COMP_XTS_TWEAK_SEQNO,  /* DataUnitSeqNumber = decimal data unit number */
};

struct comp_rsp_info {
    enum comp_kind kind;
    unsigned key_bits;             /* AES key size: 128, 192, 256 (XTS: per half) */
    const char *test;              /* "GFSbox", "KeySbox", "VarKey", "VarTxt", "MMT",
                                      "ExtIV", "Decrypt", "XTSGen", "CTR"; never NULL */
    enum comp_xts_tweak xts_tweak; /* XTS only */
};

/* comp_kind_name returns "aes-ecb", "aes-cbc", "aes-ctr", "aes-gcm-encrypt",
 * "aes-gcm-decrypt", "aes-xts" or "unknown"; never NULL. */
const char *comp_kind_name(enum comp_kind kind);

/*
 * comp_rsp_detect tells the kind of vector file from its content (header
 * comments, the fields of its first record, GCM headers) and its |name|
 * (may be NULL): name and content must agree where both speak. Returns 0
 * with *out filled, or -1 with |err| set: COMP_ERR_KIND when the content
 * fits no known kind or contradicts the name, or the parse error of the
 * first record.
 */
int comp_rsp_detect(const char *name, const char *text, size_t len, struct comp_rsp_info *out,
                    struct base_err *err);

/* comp_rsp_info runs comp_rsp_detect on the text and name |r| was opened with. */
int comp_rsp_info(const struct comp_rsp *r, struct comp_rsp_info *out, struct base_err *err);

enum comp_dir {
    COMP_DIR_ENCRYPT = 0,
    COMP_DIR_DECRYPT = 1,
};

/*
 * One AES vector, as the record states it. Pointers point into the record
 * (valid until the reader moves on); an empty value has data NULL, len 0.
 */
struct comp_aes_vector {
    unsigned long line; /* first line of the record */
    uint64_t count;     /* COUNT / Count, 0 if absent */
    enum comp_dir dir;  /* the direction the record tests */
    const uint8_t *key;
    size_t key_len;    /* XTS: both halves */
    const uint8_t *iv; /* IV, GCM IV, or the XTS 128-bit tweak `i` */
    size_t iv_len;
    int has_seqno; /* XTS DataUnitSeqNumber given instead of `i` */
    uint64_t seqno;
    const uint8_t *pt; /* NULL when expect_fail */
    size_t pt_len;
    const uint8_t *ct;
    size_t ct_len;
    const uint8_t *aad; /* GCM */
    size_t aad_len;
    const uint8_t *tag; /* GCM */
    size_t tag_len;
    uint64_t unit_bits; /* XTS DataUnitLen; otherwise 8 * pt_len */
    int expect_fail;    /* GCM decrypt FAIL: the tag must be rejected */
};

/*
 * comp_aes_vector_get reads record |rec| of a file of kind |info| into
 * *out and marks the fields it used. Returns 0, or -1 with |err| set (the
 * line is the offending field's, or the record's first line):
 * COMP_ERR_INCOMPLETE (a required field is missing, as in a truncated
 * record), COMP_ERR_INCONSISTENT (lengths disagree with the [..len]
 * headers, DataUnitLen or each other; FAIL outside a GCM decrypt file),
 * COMP_ERR_NUMBER (a [..len] header is not a number), COMP_ERR_SECTION
 * (ECB/CBC/CTR/XTS record outside [ENCRYPT]/[DECRYPT]), COMP_ERR_UNUSED (a
 * field the kind does not have), COMP_ERR_KIND (unknown kind),
 * COMP_ERR_NULL.
 */
int comp_aes_vector_get(const struct comp_rsp_info *info, struct comp_rsp_record *rec,
                        struct comp_aes_vector *out, struct base_err *err);

/* ---- Wycheproof JSON ------------------------------------------------------ */

enum comp_wp_schema {
    COMP_WP_UNKNOWN = 0,
    COMP_WP_AEAD,     /* aead_test_schema: AES-GCM, ... */
    COMP_WP_IND_CPA,  /* ind_cpa_test_schema: AES-XTS, AES-CBC-PKCS5, ... */
    COMP_WP_KEYWRAP,  /* keywrap_test_schema: AES-WRAP, AES-KWP */
    COMP_WP_RSA_OAEP, /* rsaes_oaep_decrypt_schema */
};

enum comp_wp_result {
    COMP_WP_VALID = 0,
    COMP_WP_INVALID,
    COMP_WP_ACCEPTABLE,
};

#define COMP_WP_MAX_FLAGS 16

/* Decoded hex; |present| says whether the JSON had the member at all. */
struct comp_bytes {
    const uint8_t *data; /* NULL when empty */
    size_t len;
    int present;
};

/*
 * One Wycheproof test with its group's attributes. Pointers belong to the
 * reader and stay valid until the next comp_wp_next, comp_wp_rewind or
 * comp_wp_free. Members a schema does not have are 0 / NULL / absent.
 */
struct comp_wp_test {
    size_t group; /* index in testGroups */
    unsigned long tc_id;
    enum comp_wp_result result;
    const char *comment; /* never NULL */
    const char *flags[COMP_WP_MAX_FLAGS];
    size_t num_flags;
    /* group attributes */
    unsigned key_size, iv_size, tag_size; /* bits */
    const char *sha, *mgf, *mgf_sha;      /* RSA-OAEP */
    struct comp_bytes private_key_pkcs8;  /* RSA-OAEP: DER */
    const char *private_key_pem;          /* RSA-OAEP */
    /* test members */
    struct comp_bytes key, iv, aad, msg, ct, tag, label;
};

struct comp_wp;

/*
 * comp_wp_open reads and parses the Wycheproof file at |path| and checks its
 * top level (algorithm, testGroups). Returns the reader or NULL with |err|
 * set: COMP_ERR_IO, COMP_ERR_TOO_BIG, COMP_ERR_NOMEM, COMP_ERR_JSON (with the
 * line of the parse error), COMP_ERR_SCHEMA (not a known schema, or no
 * testGroups array). Free with comp_wp_free.
 */
struct comp_wp *comp_wp_open(const char *path, struct base_err *err);

/* comp_wp_open_mem is comp_wp_open on |len| bytes at |text| (copied). */
struct comp_wp *comp_wp_open_mem(const char *name, const char *text, size_t len,
                                 struct base_err *err);

/* comp_wp_free releases |w|. NULL is a no-op. */
void comp_wp_free(struct comp_wp *w);

/* comp_wp_schema returns the schema detected at open (COMP_WP_UNKNOWN for NULL). */
enum comp_wp_schema comp_wp_schema(const struct comp_wp *w);
/* comp_wp_schema_name returns "aead", "ind-cpa", "keywrap", "rsa-oaep" or "unknown". */
const char *comp_wp_schema_name(enum comp_wp_schema s);
/* comp_wp_algorithm returns the file's "algorithm" ("AES-GCM"); never NULL. */
const char *comp_wp_algorithm(const struct comp_wp *w);
/* comp_wp_declared_tests returns the file's "numberOfTests" (0 if absent). */
unsigned long comp_wp_declared_tests(const struct comp_wp *w);
/* comp_wp_name returns the name given at open; never NULL. */
const char *comp_wp_name(const struct comp_wp *w);

/*
 * comp_wp_next reads the next test. Returns 1 with *out filled, 0 after the
 * last test, -1 with |err| set: COMP_ERR_SCHEMA (a member the schema requires
 * is missing or of the wrong type, an unknown result, too many flags; the
 * message names testGroups[g].tests[t] and the tcId), COMP_ERR_HEX (a hex
 * member is malformed), COMP_ERR_NOMEM.
 */
int comp_wp_next(struct comp_wp *w, struct comp_wp_test *out, struct base_err *err);

/* comp_wp_rewind positions |w| before its first test again. */
void comp_wp_rewind(struct comp_wp *w);

#ifdef __cplusplus
}
#endif
#endif /* COMP_VECTORS_H */
