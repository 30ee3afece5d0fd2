/*
 * comp_aes.c - what an AES .rsp file holds: kind detection and typed records.
 *
 * Detection weighs three witnesses: the header comments NIST writes
 * ("AESVS GFSbox test data for CBC", "GCM Decrypt with keysize 256",
 * "XTSGen information"), the fields of the first record (a `Tag` means GCM,
 * `i` or `DataUnitSeqNumber` XTS, no IV ECB) and the file name. Content
 * decides; the name refines what content cannot tell (CBC and CTR records
 * look the same) and must not contradict it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "comp_internal.h"

#define COMMENT_SCAN_LINES 64
#define COMMENT_BYTES      2048

static const char *const kind_names[COMP_KIND_COUNT] = {
    "unknown", "aes-ecb", "aes-cbc", "aes-ctr", "aes-gcm-encrypt", "aes-gcm-decrypt", "aes-xts"};

const char *comp_kind_name(enum comp_kind kind)
{
    return (kind >= 0 && kind < COMP_KIND_COUNT) ? kind_names[kind] : "unknown";
}

/* The '#' lines among the first COMMENT_SCAN_LINES lines, joined by '\n'. */
static void collect_comments(const char *text, size_t len, char *out, size_t max_out)
{
    size_t o = 0;
    size_t pos = 0;
    out[0] = '\0';
    for (int lines = 0; lines < COMMENT_SCAN_LINES && pos < len; lines++) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;
        pos += n + 1;
        while (n > 0 && (*start == ' ' || *start == '\t')) {
            start++;
            n--;
        }
        if (n == 0 || *start != '#') {
            continue;
        }
        for (size_t i = 1; i < n && o + 2 < max_out; i++) {
            out[o++] = start[i] == '\0' ? ' ' : start[i];
        }
        if (o + 1 < max_out) {
            out[o++] = '\n';
        }
        out[o] = '\0';
    }
}

struct hint {
    const char *needle; /* case-insensitive substring */
    enum comp_kind kind;
};

/* What NIST writes in the header comments, first match wins. */
static const struct hint comment_hints[] = {
    {"GCM Encrypt", COMP_KIND_AES_GCM_ENC},
    {"GCM Decrypt", COMP_KIND_AES_GCM_DEC},
    {"XTSGen", COMP_KIND_AES_XTS},
    {"data for ECB", COMP_KIND_AES_ECB},
    {"data for CBC", COMP_KIND_AES_CBC},
    {"Counter", COMP_KIND_AES_CTR},
    {" CTR", COMP_KIND_AES_CTR},
};

/* File names (NIST's and pyca's), first match wins. */
static const struct hint name_hints[] = {
    {"gcmEncrypt", COMP_KIND_AES_GCM_ENC},
    {"gcmDecrypt", COMP_KIND_AES_GCM_DEC},
    {"XTS", COMP_KIND_AES_XTS},
    {"ECB", COMP_KIND_AES_ECB},
    {"CBC", COMP_KIND_AES_CBC},
    {"CTR", COMP_KIND_AES_CTR},
};

static enum comp_kind kind_hint(const char *text, const struct hint *hints, size_t num_hints)
{
    for (size_t i = 0; text != NULL && i < num_hints; i++) {
        if (comp_contains_ci(text, hints[i].needle)) {
            return hints[i].kind;
        }
    }
    return COMP_KIND_UNKNOWN;
}

static enum comp_kind kind_from_name(const char *path)
{
    if (path == NULL) {
        return COMP_KIND_UNKNOWN;
    }
    const char *base = strrchr(path, '/');
    return kind_hint(base != NULL ? base + 1 : path, name_hints,
                     sizeof(name_hints) / sizeof(name_hints[0]));
}

static const char *test_name(enum comp_kind kind, const char *comments, const char *name)
{
    static const char *const aesvs[] = {"GFSbox", "KeySbox", "VarKey", "VarTxt", "MMT"};
    switch (kind) {
        case COMP_KIND_AES_GCM_ENC:
            return comp_contains_ci(name, "ExtIV") ? "ExtIV" : "Encrypt";
        case COMP_KIND_AES_GCM_DEC:
            return "Decrypt";
        case COMP_KIND_AES_XTS:
            return "XTSGen";
        case COMP_KIND_AES_ECB:
        case COMP_KIND_AES_CBC:
        case COMP_KIND_AES_CTR:
            for (size_t i = 0; i < sizeof(aesvs) / sizeof(aesvs[0]); i++) {
                if (comp_contains_ci(comments, aesvs[i]) || comp_contains_ci(name, aesvs[i])) {
                    return aesvs[i];
                }
            }
            return kind == COMP_KIND_AES_CTR ? "CTR" : "unknown";
        case COMP_KIND_UNKNOWN:
        case COMP_KIND_COUNT:
        default:
            return "unknown";
    }
}

/* Index of the first field called |a| or |b|, or -1. */
static long field_index(const struct comp_rsp_record *rec, const char *a, const char *b)
{
    for (size_t i = 0; i < rec->num_fields; i++) {
        if (strcasecmp(rec->fields[i].name, a) == 0 ||
            (b != NULL && strcasecmp(rec->fields[i].name, b) == 0)) {
            return (long)i;
        }
    }
    return -1;
}

static int parse_param_u64(const struct comp_rsp_record *rec, const char *name, uint64_t *out)
{
    const char *v = comp_rsp_param(rec, name);
    if (v == NULL) {
        return 1; /* absent */
    }
    return comp_parse_u64(v, strlen(v), out) == 0 ? 0 : -1;
}

/* What the fields of the first record say, before hints. */
enum shape { SHAPE_UNKNOWN, SHAPE_ECB, SHAPE_CBC_OR_CTR, SHAPE_GCM, SHAPE_XTS };

/*
 * Lenient on purpose: a first record that lacks a field (a truncated file)
 * still gets a kind, so that comp_aes_vector_get can say which field is
 * missing instead of "unknown kind".
 */
static enum shape record_shape(const struct comp_rsp_record *rec)
{
    if (field_index(rec, "KEY", NULL) < 0) {
        return SHAPE_UNKNOWN;
    }
    if (field_index(rec, "i", "DataUnitSeqNumber") >= 0 ||
        field_index(rec, "DataUnitLen", NULL) >= 0) {
        return SHAPE_XTS;
    }
    if (field_index(rec, "Tag", "AAD") >= 0) {
        return SHAPE_GCM;
    }
    if (field_index(rec, "PLAINTEXT", "PT") < 0 && field_index(rec, "CIPHERTEXT", "CT") < 0) {
        return SHAPE_UNKNOWN;
    }
    return field_index(rec, "IV", NULL) >= 0 ? SHAPE_CBC_OR_CTR : SHAPE_ECB;
}

static enum comp_kind resolve_kind(enum shape shape, enum comp_kind hint,
                                   const struct comp_rsp_record *rec)
{
    switch (shape) {
        case SHAPE_XTS:
            return (hint == COMP_KIND_UNKNOWN || hint == COMP_KIND_AES_XTS) ? COMP_KIND_AES_XTS
                                                                            : COMP_KIND_UNKNOWN;
        case SHAPE_ECB:
            return (hint == COMP_KIND_UNKNOWN || hint == COMP_KIND_AES_ECB) ? COMP_KIND_AES_ECB
                                                                            : COMP_KIND_UNKNOWN;
        case SHAPE_CBC_OR_CTR:
            return (hint == COMP_KIND_AES_CBC || hint == COMP_KIND_AES_CTR) ? hint
                                                                            : COMP_KIND_UNKNOWN;
        case SHAPE_GCM:
            if (hint == COMP_KIND_AES_GCM_ENC || hint == COMP_KIND_AES_GCM_DEC) {
                return hint;
            }
            if (hint != COMP_KIND_UNKNOWN) {
                return COMP_KIND_UNKNOWN;
            }
            /* No hint: a decrypt record lists CT before PT, or has FAIL instead of PT. */
            if (rec->fail || field_index(rec, "PT", "PLAINTEXT") < 0 ||
                field_index(rec, "CT", "CIPHERTEXT") < field_index(rec, "PT", "PLAINTEXT")) {
                return COMP_KIND_AES_GCM_DEC;
            }
            return COMP_KIND_AES_GCM_ENC;
        case SHAPE_UNKNOWN:
        default:
            return COMP_KIND_UNKNOWN;
    }
}

int comp_rsp_detect(const char *name, const char *text, size_t len, struct comp_rsp_info *out,
                    struct base_err *err)
{
    if (out == NULL || (text == NULL && len != 0)) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    memset(out, 0, sizeof(*out));
    out->test = "unknown";
    const char *label = name != NULL ? name : "(memory)";
    char comments[COMMENT_BYTES];
    collect_comments(text, len, comments, sizeof(comments));

    struct comp_rsp *r = comp_rsp_open_mem(name, text, len, err);
    if (r == NULL) {
        return -1;
    }
    struct comp_rsp_record *rec = NULL;
    int got = comp_rsp_next(r, &rec);
    if (got < 0) {
        if (err != NULL) {
            *err = *comp_rsp_error(r);
        }
        comp_rsp_free(r);
        return -1;
    }
    if (got == 0) {
        comp_rsp_free(r);
        return comp_fail(err, COMP_ERR_KIND, 0, "%s: no records", label);
    }
    enum comp_kind by_comment =
        kind_hint(comments, comment_hints, sizeof(comment_hints) / sizeof(comment_hints[0]));
    enum comp_kind by_name = kind_from_name(name);
    int rc = 1; /* undecided */
    if (by_comment != COMP_KIND_UNKNOWN && by_name != COMP_KIND_UNKNOWN && by_comment != by_name) {
        rc = comp_fail(err, COMP_ERR_KIND, 0, "%s: the name says %s, the comments say %s", label,
                       comp_kind_name(by_name), comp_kind_name(by_comment));
    }
    enum comp_kind hint = by_comment != COMP_KIND_UNKNOWN ? by_comment : by_name;
    enum shape shape = record_shape(rec);
    enum comp_kind kind = resolve_kind(shape, hint, rec);
    if (rc == 1 && kind == COMP_KIND_UNKNOWN) {
        if (shape == SHAPE_CBC_OR_CTR && hint == COMP_KIND_UNKNOWN) {
            rc = comp_fail(err, COMP_ERR_KIND, rec->line,
                           "%s: KEY/IV/PLAINTEXT/CIPHERTEXT records fit CBC and CTR; "
                           "the name or comments must say which",
                           label);
        } else if (shape == SHAPE_UNKNOWN) {
            rc = comp_fail(err, COMP_ERR_KIND, rec->line,
                           "%s: the record at line %lu is no AES ECB/CBC/CTR/GCM/XTS record", label,
                           rec->line);
        } else {
            rc = comp_fail(err, COMP_ERR_KIND, rec->line,
                           "%s: the records do not fit what the name or comments say (%s)", label,
                           comp_kind_name(hint));
        }
    }
    if (rc == 1) {
        /* record_shape checked that KEY exists */
        const struct comp_rsp_field *key = &rec->fields[field_index(rec, "KEY", NULL)];
        uint64_t keylen = 0;
        out->kind = kind;
        out->test = test_name(kind, comments, name);
        if (kind == COMP_KIND_AES_XTS) {
            out->key_bits = (unsigned)(key->len * 4);
            out->xts_tweak =
                field_index(rec, "i", NULL) >= 0 ? COMP_XTS_TWEAK_HEX128 : COMP_XTS_TWEAK_SEQNO;
        } else if ((kind == COMP_KIND_AES_GCM_ENC || kind == COMP_KIND_AES_GCM_DEC) &&
                   parse_param_u64(rec, "Keylen", &keylen) == 0 && keylen < 65536) {
            out->key_bits = (unsigned)keylen;
        } else {
            out->key_bits = (unsigned)(key->len * 8);
        }
        rc = 0;
    }
    comp_rsp_free(r);
    return rc;
}

int comp_rsp_info(const struct comp_rsp *r, struct comp_rsp_info *out, struct base_err *err)
{
    if (r == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL reader");
    }
    const char *name = NULL;
    const char *text = NULL;
    size_t len = 0;
    comp_rsp_source(r, &name, &text, &len);
    return comp_rsp_detect(name, text, len, out, err);
}

/* The first of |a|, |b| present (marked used), or NULL. */
static struct comp_rsp_field *get2(struct comp_rsp_record *rec, const char *a, const char *b)
{
    struct comp_rsp_field *f = comp_rsp_get(rec, a);
    if (f == NULL && b != NULL) {
        f = comp_rsp_get(rec, b);
    }
    return f;
}

static int need(struct comp_rsp_field *f, const char *what, const struct comp_rsp_record *rec,
                struct base_err *err)
{
    if (f == NULL) {
        return comp_fail(err, COMP_ERR_INCOMPLETE, rec->line,
                         "record at line %lu has no %s (truncated record?)", rec->line, what);
    }
    return 0;
}

static int inconsistent(struct base_err *err, unsigned long line, const char *what)
{
    return comp_fail(err, COMP_ERR_INCONSISTENT, line, "record at line %lu: %s", line, what);
}

/* A [Name = bits] header, if present, must equal 8 * |len|. */
static int check_bits(const struct comp_rsp_record *rec, const char *param, size_t len,
                      struct base_err *err)
{
    uint64_t bits = 0;
    int rc = parse_param_u64(rec, param, &bits);
    if (rc < 0) {
        return comp_fail(err, COMP_ERR_NUMBER, rec->line,
                         "record at line %lu: [%s = ...] is not a decimal number", rec->line,
                         param);
    }
    if (rc == 0 && bits != (uint64_t)len * 8) {
        return comp_fail(err, COMP_ERR_INCONSISTENT, rec->line,
                         "record at line %lu: %zu bytes, but [%s = %llu]", rec->line, len, param,
                         (unsigned long long)bits);
    }
    return 0;
}

static void take(const struct comp_rsp_field *f, const uint8_t **data, size_t *len)
{
    *data = f != NULL ? f->data : NULL;
    *len = f != NULL ? f->len : 0;
}

/* A required 128-bit field (IV, tweak) into *data / *len. */
static int need16(struct comp_rsp_record *rec, const char *name, const uint8_t **data, size_t *len,
                  struct base_err *err)
{
    struct comp_rsp_field *f = comp_rsp_get(rec, name);
    if (need(f, name, rec, err) != 0) {
        return -1;
    }
    if (f->len != 16) {
        return comp_fail(err, COMP_ERR_INCONSISTENT, f->line, "line %lu: %s must be 128 bits",
                         f->line, name);
    }
    take(f, data, len);
    return 0;
}

/* Required, non-empty and equally long plaintext and ciphertext (either spelling). */
static int need_pt_ct(struct comp_rsp_record *rec, struct comp_aes_vector *v, struct base_err *err)
{
    struct comp_rsp_field *pt = get2(rec, "PLAINTEXT", "PT");
    struct comp_rsp_field *ct = get2(rec, "CIPHERTEXT", "CT");
    if (need(pt, "PLAINTEXT (PT)", rec, err) || need(ct, "CIPHERTEXT (CT)", rec, err)) {
        return -1;
    }
    if (pt->len != ct->len || pt->len == 0) {
        return inconsistent(err, rec->line,
                            "plaintext and ciphertext empty or of different length");
    }
    take(pt, &v->pt, &v->pt_len);
    take(ct, &v->ct, &v->ct_len);
    return 0;
}

static int get_gcm(struct comp_rsp_record *rec, int decrypt, struct comp_aes_vector *v,
                   struct base_err *err)
{
    struct comp_rsp_field *iv = comp_rsp_get(rec, "IV");
    struct comp_rsp_field *aad = comp_rsp_get(rec, "AAD");
    struct comp_rsp_field *tag = comp_rsp_get(rec, "Tag");
    struct comp_rsp_field *pt = get2(rec, "PT", "PLAINTEXT");
    struct comp_rsp_field *ct = get2(rec, "CT", "CIPHERTEXT");
    if (need(iv, "IV", rec, err) || need(aad, "AAD", rec, err) || need(tag, "Tag", rec, err) ||
        need(ct, "CT", rec, err)) {
        return -1;
    }
    if (rec->fail) {
        if (!decrypt) {
            return inconsistent(err, rec->fail_line, "FAIL in a GCM encrypt file");
        }
        if (pt != NULL) {
            return inconsistent(err, rec->fail_line, "both PT and FAIL");
        }
        rec->fail_used = 1;
        v->expect_fail = 1;
    } else if (need(pt, decrypt ? "PT or FAIL" : "PT", rec, err) != 0) {
        return -1;
    }
    take(iv, &v->iv, &v->iv_len);
    take(aad, &v->aad, &v->aad_len);
    take(tag, &v->tag, &v->tag_len);
    take(pt, &v->pt, &v->pt_len);
    take(ct, &v->ct, &v->ct_len);
    if (pt != NULL && pt->len != ct->len) {
        return inconsistent(err, rec->line, "PT and CT differ in length");
    }
    if (v->iv_len == 0) {
        return inconsistent(err, rec->line, "empty IV");
    }
    if (v->tag_len == 0 || v->tag_len > 16) {
        return inconsistent(err, rec->line, "Tag must be 1..16 bytes");
    }
    if (check_bits(rec, "Keylen", v->key_len, err) || check_bits(rec, "IVlen", v->iv_len, err) ||
        check_bits(rec, "PTlen", v->ct_len, err) || check_bits(rec, "AADlen", v->aad_len, err) ||
        check_bits(rec, "Taglen", v->tag_len, err)) {
        return -1;
    }
    v->dir = decrypt ? COMP_DIR_DECRYPT : COMP_DIR_ENCRYPT;
    v->unit_bits = (uint64_t)v->ct_len * 8;
    return 0;
}

static int get_xts(const struct comp_rsp_info *info, struct comp_rsp_record *rec,
                   struct comp_aes_vector *v, struct base_err *err)
{
    struct comp_rsp_field *bits = comp_rsp_get(rec, "DataUnitLen");
    if (need(bits, "DataUnitLen", rec, err) || need_pt_ct(rec, v, err)) {
        return -1;
    }
    if (info->xts_tweak == COMP_XTS_TWEAK_SEQNO) {
        struct comp_rsp_field *seq = comp_rsp_get(rec, "DataUnitSeqNumber");
        if (need(seq, "DataUnitSeqNumber", rec, err) != 0) {
            return -1;
        }
        v->has_seqno = 1;
        v->seqno = seq->num;
    } else if (need16(rec, "i", &v->iv, &v->iv_len, err) != 0) {
        return -1;
    }
    v->unit_bits = bits->num;
    if (bits->num > (uint64_t)v->pt_len * 8 || bits->num <= (uint64_t)(v->pt_len - 1) * 8) {
        return inconsistent(err, bits->line, "DataUnitLen does not match the length of PT");
    }
    if (v->key_len != 32 && v->key_len != 64) {
        return inconsistent(err, rec->line, "XTS key must be 256 or 512 bits");
    }
    return 0;
}

static int get_block(enum comp_kind kind, struct comp_rsp_record *rec, struct comp_aes_vector *v,
                     struct base_err *err)
{
    if (need_pt_ct(rec, v, err) != 0) {
        return -1;
    }
    if (kind != COMP_KIND_AES_ECB && need16(rec, "IV", &v->iv, &v->iv_len, err) != 0) {
        return -1;
    }
    if (kind != COMP_KIND_AES_CTR && v->pt_len % 16 != 0) {
        return inconsistent(err, rec->line, "ECB/CBC data must be whole 16-byte blocks");
    }
    v->unit_bits = (uint64_t)v->pt_len * 8;
    return 0;
}

int comp_aes_vector_get(const struct comp_rsp_info *info, struct comp_rsp_record *rec,
                        struct comp_aes_vector *out, struct base_err *err)
{
    if (info == NULL || rec == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    memset(out, 0, sizeof(*out));
    out->line = rec->line;
    struct comp_rsp_field *count = comp_rsp_get(rec, "COUNT");
    if (count != NULL) {
        out->count = count->num;
    }
    struct comp_rsp_field *key = comp_rsp_get(rec, "KEY");
    if (need(key, "KEY", rec, err) != 0) {
        return -1;
    }
    take(key, &out->key, &out->key_len);
    int rc;
    switch (info->kind) {
        case COMP_KIND_AES_GCM_ENC:
        case COMP_KIND_AES_GCM_DEC:
            rc = get_gcm(rec, info->kind == COMP_KIND_AES_GCM_DEC, out, err);
            break;
        case COMP_KIND_AES_XTS:
        case COMP_KIND_AES_ECB:
        case COMP_KIND_AES_CBC:
        case COMP_KIND_AES_CTR:
            if (strcmp(rec->section, "ENCRYPT") != 0 && strcmp(rec->section, "DECRYPT") != 0) {
                return comp_fail(err, COMP_ERR_SECTION, rec->line,
                                 "record at line %lu is outside [ENCRYPT] / [DECRYPT]", rec->line);
            }
            out->dir = strcmp(rec->section, "DECRYPT") == 0 ? COMP_DIR_DECRYPT : COMP_DIR_ENCRYPT;
            rc = info->kind == COMP_KIND_AES_XTS ? get_xts(info, rec, out, err)
                                                 : get_block(info->kind, rec, out, err);
            if (rc == 0 && info->kind != COMP_KIND_AES_XTS && out->key_len != 16 &&
                out->key_len != 24 && out->key_len != 32) {
                rc = inconsistent(err, key->line, "AES key must be 128, 192 or 256 bits");
            }
            break;
        case COMP_KIND_UNKNOWN:
        case COMP_KIND_COUNT:
        default:
            return comp_fail(err, COMP_ERR_KIND, rec->line, "unknown file kind");
    }
    if (rc != 0) {
        return -1;
    }
    if (rec->fail && !rec->fail_used) {
        return inconsistent(err, rec->fail_line, "FAIL outside a GCM decrypt file");
    }
    unsigned long line = 0;
    const char *unused = comp_rsp_first_unused(rec, &line);
    if (unused != NULL) {
        return comp_fail(err, COMP_ERR_UNUSED, line,
                         "line %lu: field %s is not part of a %s record", line, unused,
                         comp_kind_name(info->kind));
    }
    return 0;
}
