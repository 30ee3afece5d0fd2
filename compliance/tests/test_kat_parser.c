/*
 * test_kat_parser.c - the compliance vector readers on good, malformed and random input.
 *
 * Malformed input must give the exact error code and the line it is on;
 * random input must never crash (run under `make asan` too).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp_kat.h"
#include "comp_vectors.h"
#include "kat_testlib.h"

/* From CAVS 11.1 ECBGFSbox256.rsp (COUNT 0 and 1 of [ENCRYPT], COUNT 0 of [DECRYPT]). */
static const char ecb_sample[] =
    "# CAVS 11.1\n"                                                            /*  1 */
    "# Config info for aes_values\n"                                           /*  2 */
    "# AESVS GFSbox test data for ECB\n"                                       /*  3 */
    "# State : Encrypt and Decrypt\n"                                          /*  4 */
    "# Key Length : 256\n"                                                     /*  5 */
    "# Generated on Fri Apr 22 15:11:30 2011\n"                                /*  6 */
    "\n"                                                                       /*  7 */
    "[ENCRYPT]\n"                                                              /*  8 */
    "\n"                                                                       /*  9 */
    "COUNT = 0\n"                                                              /* 10 */
    "KEY = 0000000000000000000000000000000000000000000000000000000000000000\n" /* 11 */
    "PLAINTEXT = 014730f80ac625fe84f026c60bfd547d\n"                           /* 12 */
    "CIPHERTEXT = 5c9d844ed46f9885085e5d6a4f94c7d7\n"                          /* 13 */
    "\n"                                                                       /* 14 */
    "COUNT = 1\n"                                                              /* 15 */
    "KEY = 0000000000000000000000000000000000000000000000000000000000000000\n" /* 16 */
    "PLAINTEXT = 0b24af36193ce4665f2825d7b4749c98\n"                           /* 17 */
    "CIPHERTEXT = a9ff75bd7cf6613d3731c77c3b6d0c04\n"                          /* 18 */
    "\n"                                                                       /* 19 */
    "[DECRYPT]\n"                                                              /* 20 */
    "\n"                                                                       /* 21 */
    "COUNT = 0\n"                                                              /* 22 */
    "KEY = 0000000000000000000000000000000000000000000000000000000000000000\n" /* 23 */
    "CIPHERTEXT = 5c9d844ed46f9885085e5d6a4f94c7d7\n"                          /* 24 */
    "PLAINTEXT = 014730f80ac625fe84f026c60bfd547d\n";                          /* 25 */

/* From CAVS 14.0 gcmDecrypt256.rsp: the first two records (the second must be refused). */
static const char gcm_dec_sample[] =
    "[Keylen = 256]\n"
    "[IVlen = 96]\n"
    "[PTlen = 0]\n"
    "[AADlen = 0]\n"
    "[Taglen = 128]\n"
    "\n"
    "Count = 0\n"
    "Key = f5a2b27c74355872eb3ef6c5feafaa740e6ae990d9d48c3bd9bb8235e589f010\n"
    "IV = 58d2240f580a31c1d24948e9\n"
    "CT = \n"
    "AAD = \n"
    "Tag = 15e051a5e4a5f5da6cea92e2ebee5bac\n"
    "PT = \n"
    "\n"
    "Count = 1\n"
    "Key = e5a8123f2e2e007d4e379ba114a2fb66e6613f57c72d4e4f024964053028a831\n"
    "IV = 51e43385bf533e168427e1ad\n"
    "CT = \n"
    "AAD = \n"
    "Tag = 38fe845c66e66bdd884c2aecafd280e6\n"
    "FAIL\n";

/* From CAVS 11.0 XTSGenAES256.rsp, data unit sequence number format, COUNT 1 (CRLF as NIST). */
static const char xts_seqno_sample[] =
    "#  CAVS 11.0\r\n"
    "#  XTSGen information \r\n"
    "\r\n"
    "[ENCRYPT]\r\n"
    "\r\n"
    "COUNT = 1\r\n"
    "DataUnitLen = 256\r\n"
    "Key = ef010ca1a3663e32534349bc0bae62232a1573348568fb9ef41768a7674f507a"
    "727f98755397d0e0aa32f830338cc7a926c773f09e57b357cd156afbca46e1a0\r\n"
    "DataUnitSeqNumber = 187\r\n"
    "PT = ed98e01770a853b49db9e6aaf88f0a41b9b56e91a5a2b11d40529254f5523e75\r\n"
    "CT = ca20c55e8dc149687d2541de39c3df6300bb5a163c10ced3666b1357db8bd39d\r\n"
    "\r\n";

/* From CAVS 11.0 XTSGenAES256.rsp, 128-bit hex tweak format, COUNT 201 (a 140-bit unit). */
static const char xts_hex_sample[] =
    "[ENCRYPT]\n"
    "COUNT = 201\n"
    "DataUnitLen = 140\n"
    "Key = 4272a2be234ff9763e4996b1bdcc1b6bfb89fcbaf5097e737ca52c6f1b25807c"
    "81de7433738c6d5347740c8626bc9a7f8609a34298e01c3beb4b2fbd5a824284\n"
    "i = 3034e9dcf27b260970cc555027bc0ec7\n"
    "PT = 77348d634fc8e2b057c940cdf94abda3e050\n"
    "CT = 2c40695ba73014e0db5ecacd54b239557570\n";

/* SP 800-38A F.5.5 as CTRMMT256.rsp writes it (no comments). */
static const char ctr_sample[] =
    "[ENCRYPT]\n"
    "COUNT = 0\n"
    "KEY = 603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4\n"
    "IV = F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF\n"
    "PLAINTEXT = 6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51"
    "30C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710\n"
    "CIPHERTEXT = 601EC313775789A5B7A7F504BBF3D228F443E3CA4D62B59ACA84E990CACAF5C5"
    "2B0930DAA23DE94CE87017BA2D84988DDFC9C58DB67AADA613C2DD08457941A6\n";

/* LF -> CRLF, into a heap buffer the caller frees. */
static char *to_crlf(const char *text, size_t *out_len)
{
    size_t n = strlen(text);
    char *out = malloc(2 * n + 1);
    cr_assert_not_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') {
            out[o++] = '\r';
        }
        out[o++] = text[i];
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- good input ------------------------------------------------------------------------ */

static void check_ecb_records(const char *text, size_t len)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_rsp *r = comp_rsp_open_mem("ECBGFSbox256.rsp", text, len, &err);
    cr_assert_not_null(r);
    struct comp_rsp_info info;
    cr_assert_eq(comp_rsp_info(r, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.kind, COMP_KIND_AES_ECB);
    cr_assert_str_eq(info.test, "GFSbox");
    cr_assert_eq(info.key_bits, 256);
    static const unsigned long lines[] = {10, 15, 22};
    static const enum comp_dir dirs[] = {COMP_DIR_ENCRYPT, COMP_DIR_ENCRYPT, COMP_DIR_DECRYPT};
    static const uint64_t counts[] = {0, 1, 0};
    uint8_t pt0[16];
    tl_hex(pt0, sizeof(pt0), "014730f80ac625fe84f026c60bfd547d");
    struct comp_rsp_record *rec = NULL;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(comp_rsp_next(r, &rec), 1, "record %d: %s", i, comp_rsp_error(r)->msg);
        cr_assert_eq(rec->line, lines[i]);
        cr_assert_str_eq(rec->section, i < 2 ? "ENCRYPT" : "DECRYPT");
        cr_assert_eq(rec->num_fields, 4);
        struct comp_aes_vector v;
        cr_assert_eq(comp_aes_vector_get(&info, rec, &v, &err), 0, "%s", err.msg);
        cr_assert_eq(v.dir, dirs[i]);
        cr_assert_eq(v.count, counts[i]);
        cr_assert_eq(v.key_len, 32);
        cr_assert_eq(v.pt_len, 16);
        cr_assert_eq(v.unit_bits, 128);
        if (i != 1) {
            cr_assert_arr_eq(v.pt, pt0, 16);
        }
    }
    cr_assert_eq(comp_rsp_next(r, &rec), 0);
    cr_assert_eq(comp_rsp_next(r, &rec), 0, "the end stays the end");
    comp_rsp_free(r);
}

/* The readers' codes follow the harness convention: a category, a name, a message. */
Test(kat_parser, error_codes_have_categories_names_and_messages)
{
    cr_assert_eq(base_err_category(COMP_ERR_NULL), BASE_CAT_USAGE);
    cr_assert_eq(base_err_category(COMP_ERR_IO), BASE_CAT_IO);
    cr_assert_eq(base_err_category(COMP_ERR_NOMEM), BASE_CAT_RESOURCE);
    cr_assert_eq(base_err_category(COMP_ERR_TOO_BIG), BASE_CAT_LIMIT);
    cr_assert_eq(base_err_category(COMP_ERR_HEX), BASE_CAT_FORMAT);
    cr_assert_eq(base_err_category(COMP_ERR_SCHEMA), BASE_CAT_FORMAT);
    cr_assert_str_eq(comp_error_name(COMP_ERR_INCOMPLETE), "COMP_ERR_INCOMPLETE");
    cr_assert_str_eq(comp_strerror(COMP_ERR_HEX), "value is not an even-length hex string");
    cr_assert_str_eq(comp_error_name(BASE_OK), "COMP_ERR_UNKNOWN");
    cr_assert_str_eq(comp_error_name(BASE_ERR_HEX_CHAR), "COMP_ERR_UNKNOWN", "no base code");
    cr_assert_str_eq(comp_strerror(-1), "unknown error");
    cr_assert(comp_error_known(COMP_ERR_UNSUPPORTED));
    cr_assert(!comp_error_known(BASE_ERR_IO));
}

Test(kat_parser, rsp_lf_and_crlf_read_alike)
{
    check_ecb_records(ecb_sample, strlen(ecb_sample));
    size_t n = 0;
    char *crlf = to_crlf(ecb_sample, &n);
    check_ecb_records(crlf, n);
    free(crlf);
}

/* The sample's values are NIST's: loaded as a set they pass on every path. */
Test(kat_parser, rsp_sample_set_passes_on_every_cbc_path)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_kat_set *s =
        comp_kat_load_mem("ECBGFSbox256.rsp", ecb_sample, strlen(ecb_sample), &err);
    cr_assert_not_null(s, "%s", err.msg);
    cr_assert_eq(comp_kat_size(s), 3);
    cr_assert_eq(comp_kat_mode(s), ENG_MODE_CBC);
    struct tl_path p[TL_MAX_PATHS];
    size_t n = tl_paths(ENG_MODE_CBC, p, TL_MAX_PATHS);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        struct comp_kat_result res;
        cr_assert_eq(comp_kat_run(s, p[i].b, p[i].a, &res), 0);
        cr_assert_eq(res.passed, 3, "%s", res.first_failure);
        cr_assert_eq(res.failed, 0);
        cr_assert_eq(res.batches, 2, "one key: one batch per direction");
        cr_assert_eq(res.units, 6);
    }
    comp_kat_free(s);
}

Test(kat_parser, rsp_gcm_params_and_fail_record)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_rsp *r =
        comp_rsp_open_mem("gcmDecrypt256.rsp", gcm_dec_sample, strlen(gcm_dec_sample), &err);
    cr_assert_not_null(r);
    struct comp_rsp_info info;
    cr_assert_eq(comp_rsp_info(r, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.kind, COMP_KIND_AES_GCM_DEC);
    cr_assert_eq(info.key_bits, 256);
    struct comp_rsp_record *rec = NULL;
    struct comp_aes_vector v;
    cr_assert_eq(comp_rsp_next(r, &rec), 1);
    cr_assert_str_eq(comp_rsp_param(rec, "Taglen"), "128");
    cr_assert_str_eq(comp_rsp_param(rec, "ivlen"), "96", "parameter names are case-insensitive");
    cr_assert_null(comp_rsp_param(rec, "Nonce"));
    cr_assert_eq(comp_aes_vector_get(&info, rec, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v.expect_fail, 0);
    cr_assert_eq(v.iv_len, 12);
    cr_assert_eq(v.tag_len, 16);
    cr_assert_eq(v.ct_len, 0);
    cr_assert_null(v.ct, "an empty value has no data");
    cr_assert_eq(v.dir, COMP_DIR_DECRYPT);
    cr_assert_eq(comp_rsp_next(r, &rec), 1);
    cr_assert_eq(rec->fail, 1);
    cr_assert_eq(rec->fail_line, 21);
    cr_assert_eq(comp_aes_vector_get(&info, rec, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v.expect_fail, 1);
    cr_assert_null(v.pt);
    cr_assert_eq(v.count, 1);
    cr_assert_eq(comp_rsp_next(r, &rec), 0);
    comp_rsp_free(r);
}

Test(kat_parser, rsp_xts_both_tweak_formats)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_rsp_info info;
    cr_assert_eq(comp_rsp_detect(NULL, xts_seqno_sample, strlen(xts_seqno_sample), &info, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(info.kind, COMP_KIND_AES_XTS);
    cr_assert_eq(info.xts_tweak, COMP_XTS_TWEAK_SEQNO);
    cr_assert_eq(info.key_bits, 256);
    struct comp_rsp *r = comp_rsp_open_mem(NULL, xts_seqno_sample, strlen(xts_seqno_sample), &err);
    cr_assert_not_null(r);
    struct comp_rsp_record *rec = NULL;
    struct comp_aes_vector v;
    cr_assert_eq(comp_rsp_next(r, &rec), 1);
    cr_assert_eq(comp_aes_vector_get(&info, rec, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v.has_seqno, 1);
    cr_assert_eq(v.seqno, 187);
    cr_assert_eq(v.unit_bits, 256);
    cr_assert_eq(v.key_len, 64);
    comp_rsp_free(r);

    cr_assert_eq(
        comp_rsp_detect("XTSGenAES256.rsp", xts_hex_sample, strlen(xts_hex_sample), &info, &err), 0,
        "%s", err.msg);
    cr_assert_eq(info.xts_tweak, COMP_XTS_TWEAK_HEX128);
    r = comp_rsp_open_mem(NULL, xts_hex_sample, strlen(xts_hex_sample), &err);
    cr_assert_eq(comp_rsp_next(r, &rec), 1);
    cr_assert_eq(comp_aes_vector_get(&info, rec, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v.unit_bits, 140);
    cr_assert_eq(v.pt_len, 18);
    cr_assert_eq(v.iv_len, 16);
    cr_assert_eq(v.has_seqno, 0);
    comp_rsp_free(r);
}

/* A 140-bit data unit cannot be given to a byte-oriented engine: counted as skipped. */
Test(kat_parser, xts_partial_byte_unit_is_counted_as_skipped)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_kat_set *s =
        comp_kat_load_mem("XTSGenAES256.rsp", xts_hex_sample, strlen(xts_hex_sample), &err);
    cr_assert_not_null(s, "%s", err.msg);
    struct tl_path p[TL_MAX_PATHS];
    size_t n = tl_paths(ENG_MODE_XTS, p, TL_MAX_PATHS);
    cr_assert_gt(n, 0);
    struct comp_kat_result res;
    cr_assert_eq(comp_kat_run(s, p[0].b, p[0].a, &res), 0);
    cr_assert_eq(res.skipped, 1);
    cr_assert_eq(res.skipped_by[COMP_SKIP_PARTIAL_BYTE], 1);
    cr_assert_eq(res.passed + res.failed, 0);
    comp_kat_free(s);
}

struct detect_case {
    const char *name;
    const char *text;
    int rc;
    enum comp_kind kind;
};

Test(kat_parser, rsp_detect_kind_from_content_and_name)
{
    static const char gcm_enc_renamed[] =
        "[Keylen = 256]\n[IVlen = 96]\n[PTlen = 0]\n"
        "[AADlen = 0]\n[Taglen = 128]\n\nCount = 0\n"
        "Key = b52c505a37d78eda5dd34f20c22540ea"
        "1b58963cf8e5bf8ffa85f9f2492505b4\n"
        "IV = 516c33929df5a3284ff463d7\nPT = \nAAD = \nCT = \n"
        "Tag = bdc1ac884d332457a1d2664f168c76f0\n";
    const struct detect_case cases[] = {
        {"ECBGFSbox256.rsp", ecb_sample, 0, COMP_KIND_AES_ECB},
        {NULL, ecb_sample, 0, COMP_KIND_AES_ECB},
        {"CBCGFSbox256.rsp", ecb_sample, -1, COMP_KIND_UNKNOWN}, /* name and comments disagree */
        {"gcmDecrypt256.rsp", gcm_dec_sample, 0, COMP_KIND_AES_GCM_DEC},
        {NULL, gcm_dec_sample, 0, COMP_KIND_AES_GCM_DEC},  /* CT before PT */
        {NULL, gcm_enc_renamed, 0, COMP_KIND_AES_GCM_ENC}, /* PT before CT */
        {"gcmEncryptExtIV256.rsp", gcm_enc_renamed, 0, COMP_KIND_AES_GCM_ENC},
        {"CBCMMT256.rsp", gcm_enc_renamed, -1, COMP_KIND_UNKNOWN}, /* GCM records, CBC name */
        {"CTRMMT256.rsp", ctr_sample, 0, COMP_KIND_AES_CTR},
        {"aes-256-ctr.txt", ctr_sample, 0, COMP_KIND_AES_CTR},
        {"CBCMMT256.rsp", ctr_sample, 0, COMP_KIND_AES_CBC},
        {NULL, ctr_sample, -1, COMP_KIND_UNKNOWN},            /* CBC or CTR: nothing says */
        {"ECBMMT256.rsp", ctr_sample, -1, COMP_KIND_UNKNOWN}, /* has an IV: not ECB */
        {"XTSGenAES256.rsp", xts_seqno_sample, 0, COMP_KIND_AES_XTS},
        {"x.rsp", "# nothing here\n", -1, COMP_KIND_UNKNOWN},
        {"x.rsp", "[ENCRYPT]\nCOUNT = 0\nFOO = 00\n", -1, COMP_KIND_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct base_err err = BASE_ERR_INIT;
        struct comp_rsp_info info;
        int rc = comp_rsp_detect(cases[i].name, cases[i].text, strlen(cases[i].text), &info, &err);
        cr_assert_eq(rc, cases[i].rc, "case %zu: rc %d (%s)", i, rc, err.msg);
        if (rc == 0) {
            cr_assert_eq(info.kind, cases[i].kind, "case %zu: %s", i, comp_kind_name(info.kind));
        } else {
            cr_assert_eq(err.code, COMP_ERR_KIND, "case %zu: %s", i, comp_error_name(err.code));
            cr_assert_neq(err.msg[0], '\0');
        }
    }
}

/* ---- malformed input: exact code and line ------------------------------------------- */

/* Reads every record of |text| as a set; returns the error. */
static struct base_err load_error(const char *name, const char *text)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_kat_set *s = comp_kat_load_mem(name, text, strlen(text), &err);
    cr_assert_null(s, "malformed input was accepted");
    return err;
}

static char *ecb_prefix(size_t lines)
{
    const char *p = ecb_sample;
    for (size_t i = 0; i < lines; i++) {
        p = strchr(p, '\n') + 1;
    }
    size_t n = (size_t)(p - ecb_sample);
    char *out = malloc(n + 1);
    cr_assert_not_null(out);
    memcpy(out, ecb_sample, n);
    out[n] = '\0';
    return out;
}

Test(kat_parser, truncated_record_is_incomplete)
{
    char *text = ecb_prefix(12); /* the first record stops after PLAINTEXT */
    struct base_err err = load_error("ECBGFSbox256.rsp", text);
    cr_assert_eq(err.code, COMP_ERR_INCOMPLETE, "%s", comp_error_name(err.code));
    cr_assert_eq(err.line, 10, "reported at the record's first line");
    cr_assert(strstr(err.msg, "CIPHERTEXT") != NULL, "%s", err.msg);
    free(text);
}

Test(kat_parser, value_cut_mid_line_is_odd_hex)
{
    char *text = ecb_prefix(13);
    text[strlen(text) - 6] = '\0'; /* CIPHERTEXT loses its last 5 digits and the newline */
    struct base_err err = load_error("ECBGFSbox256.rsp", text);
    cr_assert_eq(err.code, COMP_ERR_HEX);
    cr_assert_eq(err.line, 13);
    free(text);
}

struct bad_case {
    const char *text;
    int code;
    unsigned long line;
};

Test(kat_parser, malformed_lines_give_exact_error_and_line)
{
    const struct bad_case cases[] = {
        {"[ENCRYPT]\nCOUNT = 0\nKEY = 000\n", COMP_ERR_HEX, 3},
        {"[ENCRYPT]\nCOUNT = 0\nKEY = 0g\n", COMP_ERR_HEX, 3},
        {"# x\n\n[FOO]\nCOUNT = 0\n", COMP_ERR_SECTION, 3},
        {"[ENCRYPT\nCOUNT = 0\n", COMP_ERR_SYNTAX, 1},
        {"[ENCRYPT]\nCOUNT = 0\nhello world\n", COMP_ERR_SYNTAX, 3},
        {"[ENCRYPT]\nCOUNT = 0\n= 00\n", COMP_ERR_SYNTAX, 3},
        {"[ENCRYPT]\nCOUNT = 0\nKEY = 00\nKey = 00\n", COMP_ERR_DUPLICATE, 4},
        {"[ENCRYPT]\nCOUNT = x1\n", COMP_ERR_NUMBER, 2},
        {"[ENCRYPT]\nCOUNT = 99999999999999999999999\n", COMP_ERR_NUMBER, 2},
        {"[ENCRYPT]\n\nFAIL\n", COMP_ERR_SYNTAX, 3},
        {"[ENCRYPT]\nCOUNT = 0\nFAIL\nFAIL\n", COMP_ERR_DUPLICATE, 4},
        {"[Keylen = ]\n", COMP_ERR_SYNTAX, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct base_err err = BASE_ERR_INIT;
        struct comp_rsp *r = comp_rsp_open_mem("x.rsp", cases[i].text, strlen(cases[i].text), &err);
        cr_assert_not_null(r);
        struct comp_rsp_record *rec = NULL;
        int rc;
        while ((rc = comp_rsp_next(r, &rec)) == 1) {
        }
        cr_assert_eq(rc, -1, "case %zu accepted", i);
        const struct base_err *e = comp_rsp_error(r);
        cr_assert_eq(e->code, cases[i].code, "case %zu: %s (%s)", i, comp_error_name(e->code),
                     e->msg);
        cr_assert_eq(e->line, cases[i].line, "case %zu: line %lu", i, e->line);
        cr_assert_eq(comp_rsp_next(r, &rec), -1, "case %zu: an error is sticky", i);
        comp_rsp_free(r);
    }
}

Test(kat_parser, nul_byte_is_a_syntax_error)
{
    static const char text[] = "[ENCRYPT]\nCOUNT = 0\nKEY = 00\0 11\n";
    struct base_err err = BASE_ERR_INIT;
    struct comp_rsp *r = comp_rsp_open_mem("x.rsp", text, sizeof(text) - 1, &err);
    cr_assert_not_null(r);
    struct comp_rsp_record *rec = NULL;
    cr_assert_eq(comp_rsp_next(r, &rec), -1);
    cr_assert_eq(comp_rsp_error(r)->code, COMP_ERR_SYNTAX);
    cr_assert_eq(comp_rsp_error(r)->line, 3);
    comp_rsp_free(r);
}

Test(kat_parser, records_that_break_their_kind)
{
    const struct bad_case cases[] = {
        /* FAIL in an ECB file */
        {"[ENCRYPT]\nCOUNT = 0\nKEY = "
         "0000000000000000000000000000000000000000000000000000000000000000\n"
         "PLAINTEXT = 014730f80ac625fe84f026c60bfd547d\nCIPHERTEXT = "
         "5c9d844ed46f9885085e5d6a4f94c7d7\n"
         "FAIL\n",
         COMP_ERR_INCONSISTENT, 6},
        /* a field ECB does not have */
        {"[ENCRYPT]\nCOUNT = 0\nKEY = "
         "0000000000000000000000000000000000000000000000000000000000000000\n"
         "PLAINTEXT = 014730f80ac625fe84f026c60bfd547d\nEXTRA = 00\n"
         "CIPHERTEXT = 5c9d844ed46f9885085e5d6a4f94c7d7\n",
         COMP_ERR_UNUSED, 5},
        /* outside [ENCRYPT]/[DECRYPT] */
        {"COUNT = 0\nKEY = 0000000000000000000000000000000000000000000000000000000000000000\n"
         "PLAINTEXT = 014730f80ac625fe84f026c60bfd547d\nCIPHERTEXT = "
         "5c9d844ed46f9885085e5d6a4f94c7d7\n",
         COMP_ERR_SECTION, 1},
        /* not whole blocks */
        {"[ENCRYPT]\nCOUNT = 0\nKEY = "
         "0000000000000000000000000000000000000000000000000000000000000000\n"
         "PLAINTEXT = 014730f80ac625fe84f026c60bfd54\nCIPHERTEXT = "
         "5c9d844ed46f9885085e5d6a4f94c7\n",
         COMP_ERR_INCONSISTENT, 2},
        /* a 20-byte key */
        {"[ENCRYPT]\nCOUNT = 0\nKEY = 0000000000000000000000000000000000000000\n"
         "PLAINTEXT = 014730f80ac625fe84f026c60bfd547d\nCIPHERTEXT = "
         "5c9d844ed46f9885085e5d6a4f94c7d7\n",
         COMP_ERR_INCONSISTENT, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct base_err err = load_error("ECBGFSbox256.rsp", cases[i].text);
        cr_assert_eq(err.code, cases[i].code, "case %zu: %s (%s)", i, comp_error_name(err.code),
                     err.msg);
        cr_assert_eq(err.line, cases[i].line, "case %zu: line %lu (%s)", i, err.line, err.msg);
    }
}

Test(kat_parser, gcm_and_xts_lengths_must_match_their_headers)
{
    /* [PTlen = 128] but 8 bytes */
    static const char gcm[] =
        "[Keylen = 256]\n[IVlen = 96]\n[PTlen = 128]\n[AADlen = 0]\n"
        "[Taglen = 128]\n\nCount = 0\n"
        "Key = b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4\n"
        "IV = 516c33929df5a3284ff463d7\nPT = 0001020304050607\nAAD = \n"
        "CT = 0001020304050607\nTag = bdc1ac884d332457a1d2664f168c76f0\n";
    struct base_err err = load_error("gcmEncryptExtIV256.rsp", gcm);
    cr_assert_eq(err.code, COMP_ERR_INCONSISTENT, "%s", err.msg);
    cr_assert_eq(err.line, 7);
    /* DataUnitLen 256 but 18 bytes */
    char *xts = strdup(xts_hex_sample);
    cr_assert_not_null(xts);
    memcpy(strstr(xts, "DataUnitLen = 140"), "DataUnitLen = 256", 17);
    err = load_error("XTSGenAES256.rsp", xts);
    cr_assert_eq(err.code, COMP_ERR_INCONSISTENT, "%s", err.msg);
    cr_assert_eq(err.line, 3);
    free(xts);
    /* GCM decrypt record with neither PT nor FAIL */
    char *dec = strdup(gcm_dec_sample);
    cr_assert_not_null(dec);
    *strstr(dec, "PT = \n") = '\0';
    err = load_error("gcmDecrypt256.rsp", dec);
    cr_assert_eq(err.code, COMP_ERR_INCOMPLETE, "%s", err.msg);
    cr_assert_eq(err.line, 7);
    free(dec);
}

Test(kat_parser, first_unused_names_the_field)
{
    static const char text[] = "[ENCRYPT]\nCOUNT = 0\nKEY = 00\nZZZ = 01\n";
    struct base_err err = BASE_ERR_INIT;
    struct comp_rsp *r = comp_rsp_open_mem("x.rsp", text, strlen(text), &err);
    struct comp_rsp_record *rec = NULL;
    cr_assert_eq(comp_rsp_next(r, &rec), 1);
    unsigned long line = 0;
    cr_assert_str_eq(comp_rsp_first_unused(rec, &line), "COUNT");
    cr_assert_eq(line, 2);
    cr_assert_not_null(comp_rsp_get(rec, "count"));
    cr_assert_not_null(comp_rsp_get(rec, "KEY"));
    cr_assert_str_eq(comp_rsp_first_unused(rec, &line), "ZZZ");
    cr_assert_eq(line, 4);
    cr_assert_not_null(comp_rsp_get(rec, "zzz"));
    cr_assert_null(comp_rsp_first_unused(rec, &line));
    comp_rsp_free(r);
}

Test(kat_parser, missing_file_is_io)
{
    struct base_err err = BASE_ERR_INIT;
    cr_assert_null(comp_rsp_open("/nonexistent/kat/ECBGFSbox256.rsp", &err));
    cr_assert_eq(err.code, COMP_ERR_IO);
    cr_assert_null(comp_wp_open("/nonexistent/kat/aes_gcm_test.json", &err));
    cr_assert_eq(err.code, COMP_ERR_IO);
    cr_assert_null(comp_rsp_open("/", &err), "a folder is not a vector file");
    cr_assert_eq(err.code, COMP_ERR_IO);
}

/* ---- Wycheproof JSON -------------------------------------------------------------------- */

/* From Wycheproof aes_gcm_test.json (tcId 1) and aes_xts/aes_kwp/rsa_oaep layouts. */
static const char wp_aead[] =
    "{\"algorithm\": \"AES-GCM\", \"schema\": \"aead_test_schema_v1.json\", \"numberOfTests\": 1,\n"
    " \"testGroups\": [{\"ivSize\": 96, \"keySize\": 128, \"tagSize\": 128, \"type\": "
    "\"AeadTest\",\n"
    "  \"tests\": [{\"tcId\": 1, \"comment\": \"\", \"flags\": [\"Ktv\"],\n"
    "   \"key\": \"5b9604fe14eadba931b0ccf34843dab9\", \"iv\": \"028318abc1824029138141a2\",\n"
    "   \"aad\": \"\", \"msg\": \"001d0c231287c1182784554ca3a21908\",\n"
    "   \"ct\": \"26073cc1d851beff176384dc9896d5ff\", \"tag\": "
    "\"0a3ea7a5487cb5f7d70fb6c58d038554\",\n"
    "   \"result\": \"valid\"}]}]}\n";

static const char wp_xts[] =
    "{\"algorithm\": \"AES-XTS\", \"schema\": \"ind_cpa_test_schema.json\", \"numberOfTests\": 1,\n"
    " \"testGroups\": [{\"type\": \"IndCpaTest\", \"keySize\": 256, \"ivSize\": 64, \"tests\": [\n"
    "  {\"tcId\": 1, \"comment\": \"message size = 16\", \"flags\": [\"Pseudorandom\"],\n"
    "   \"key\": \"6e9841dd6f35b53c48084f9558deabdebe8a712fd6343046a0f92bfdcfe16e07\",\n"
    "   \"iv\": \"6e08e4314925b6cf\", \"msg\": \"7252a0545fcaa07fc468c636203de219\",\n"
    "   \"ct\": \"d107e084fbaed19c5be05ac4f48b7732\", \"result\": \"valid\"}]}]}\n";

static const char wp_kwp[] =
    "{\"algorithm\": \"AES-KWP\", \"schema\": \"keywrap_test_schema.json\", \"numberOfTests\": 2,\n"
    " \"testGroups\": [{\"type\": \"KeywrapTest\", \"keySize\": 128, \"tests\": [\n"
    "  {\"tcId\": 1, \"comment\": \"\", \"flags\": [\"Normal\"],\n"
    "   \"key\": \"6f67486d1e914419cb43c28509c7c1ea\", \"msg\": "
    "\"8dc0632d92ee0be4f740028410b08270\",\n"
    "   \"ct\": \"8cd63fa6788aa5edfa753fc87d645a672b14107c3b4519e7\", \"result\": \"valid\"},\n"
    "  {\"tcId\": 26, \"comment\": \"Modified IV\", \"flags\": [\"ModifiedPadding\"],\n"
    "   \"key\": \"4f710eb6b5e28703becfc3dc52fa8bc1\", \"msg\": \"a828cbda9b5ff0ae37\",\n"
    "   \"ct\": \"4cdd2962f23ec897d41d14c3f818516c055799185f459e2d\", \"result\": "
    "\"invalid\"}]}]}\n";

static const char wp_oaep[] =
    "{\"algorithm\": \"RSAES-OAEP\", \"schema\": \"rsaes_oaep_decrypt_schema_v1.json\",\n"
    " \"testGroups\": [{\"type\": \"RsaesOaepDecrypt\", \"keySize\": 2048, \"sha\": \"SHA-256\",\n"
    "  \"mgf\": \"MGF1\", \"mgfSha\": \"SHA-256\", \"privateKeyPkcs8\": \"3082\",\n"
    "  \"privateKeyPem\": \"-----BEGIN PRIVATE KEY-----\", \"tests\": [\n"
    "  {\"tcId\": 7, \"comment\": \"\", \"flags\": [], \"msg\": \"\", \"ct\": \"6e62\",\n"
    "   \"label\": \"00\", \"result\": \"acceptable\"}]}]}\n";

static struct comp_wp *wp_open(const char *text)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_wp *w = comp_wp_open_mem("mem.json", text, strlen(text), &err);
    cr_assert_not_null(w, "%s: %s", comp_error_name(err.code), err.msg);
    return w;
}

Test(kat_parser, wycheproof_schemas_read)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_wp_test t;
    struct comp_wp *w = wp_open(wp_aead);
    cr_assert_eq(comp_wp_schema(w), COMP_WP_AEAD);
    cr_assert_str_eq(comp_wp_algorithm(w), "AES-GCM");
    cr_assert_eq(comp_wp_declared_tests(w), 1);
    cr_assert_eq(comp_wp_next(w, &t, &err), 1, "%s", err.msg);
    cr_assert_eq(t.tc_id, 1);
    cr_assert_eq(t.result, COMP_WP_VALID);
    cr_assert_eq(t.key_size, 128);
    cr_assert_eq(t.iv_size, 96);
    cr_assert_eq(t.tag_size, 128);
    cr_assert_eq(t.num_flags, 1);
    cr_assert_str_eq(t.flags[0], "Ktv");
    cr_assert_eq(t.key.len, 16);
    cr_assert_eq(t.iv.len, 12);
    cr_assert_eq(t.aad.len, 0);
    cr_assert_eq(t.aad.present, 1);
    cr_assert_eq(t.msg.len, 16);
    cr_assert_eq(t.tag.len, 16);
    cr_assert_eq(t.tag.data[15], 0x54);
    cr_assert_eq(comp_wp_next(w, &t, &err), 0);
    comp_wp_rewind(w);
    cr_assert_eq(comp_wp_next(w, &t, &err), 1, "rewind starts again");
    comp_wp_free(w);

    w = wp_open(wp_xts);
    cr_assert_eq(comp_wp_schema(w), COMP_WP_IND_CPA);
    cr_assert_eq(comp_wp_next(w, &t, &err), 1, "%s", err.msg);
    cr_assert_eq(t.key.len, 32);
    cr_assert_eq(t.iv.len, 8);
    cr_assert_eq(t.iv_size, 64);
    cr_assert_eq(t.tag.present, 0);
    comp_wp_free(w);

    w = wp_open(wp_kwp);
    cr_assert_eq(comp_wp_schema(w), COMP_WP_KEYWRAP);
    cr_assert_eq(comp_wp_next(w, &t, &err), 1, "%s", err.msg);
    cr_assert_eq(t.ct.len, 24);
    cr_assert_eq(comp_wp_next(w, &t, &err), 1, "%s", err.msg);
    cr_assert_eq(t.tc_id, 26);
    cr_assert_eq(t.result, COMP_WP_INVALID);
    cr_assert_str_eq(t.comment, "Modified IV");
    cr_assert_eq(t.msg.len, 9);
    comp_wp_free(w);

    w = wp_open(wp_oaep);
    cr_assert_eq(comp_wp_schema(w), COMP_WP_RSA_OAEP);
    cr_assert_eq(comp_wp_declared_tests(w), 0);
    cr_assert_eq(comp_wp_next(w, &t, &err), 1, "%s", err.msg);
    cr_assert_eq(t.result, COMP_WP_ACCEPTABLE);
    cr_assert_eq(t.key_size, 2048);
    cr_assert_str_eq(t.mgf_sha, "SHA-256");
    cr_assert_eq(t.private_key_pkcs8.len, 2);
    cr_assert_str_eq(t.private_key_pem, "-----BEGIN PRIVATE KEY-----");
    cr_assert_eq(t.label.len, 1);
    cr_assert_eq(t.num_flags, 0);
    comp_wp_free(w);
}

Test(kat_parser, garbage_json_gives_json_error_with_line)
{
    static const char text[] = "{\"algorithm\": \"AES-GCM\",\n  \"testGroups\": [ }\n";
    struct base_err err = BASE_ERR_INIT;
    cr_assert_null(comp_wp_open_mem("bad.json", text, strlen(text), &err));
    cr_assert_eq(err.code, COMP_ERR_JSON);
    cr_assert_eq(err.line, 2);
    static const char trailing[] = "{\"algorithm\": \"AES-GCM\", \"testGroups\": []}\n}\n";
    cr_assert_null(comp_wp_open_mem("bad.json", trailing, strlen(trailing), &err));
    cr_assert_eq(err.code, COMP_ERR_JSON);
    cr_assert_eq(err.line, 2);
    cr_assert_null(comp_wp_open_mem("bad.json", "", 0, &err));
    cr_assert_eq(err.code, COMP_ERR_JSON);
}

Test(kat_parser, json_that_is_not_wycheproof_gives_schema_error)
{
    static const char *const texts[] = {
        "[1, 2, 3]",
        "{\"algorithm\": \"AES-GCM\"}",                                  /* no testGroups */
        "{\"schema\": \"x_schema.json\", \"testGroups\": []}",           /* unknown schema */
        "{\"algorithm\": \"SHA-1\", \"testGroups\": []}",                /* unknown algorithm */
        "{\"algorithm\": \"AES-GCM\", \"testGroups\": {\"tests\": []}}", /* not an array */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct base_err err = BASE_ERR_INIT;
        cr_assert_null(comp_wp_open_mem("x.json", texts[i], strlen(texts[i]), &err), "case %zu", i);
        cr_assert_eq(err.code, COMP_ERR_SCHEMA, "case %zu: %s", i, comp_error_name(err.code));
    }
}

/* Replaces the first |from| in |text| by |to|; the caller frees. */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    cr_assert_not_null(at, "%s not in the sample", from);
    size_t n = strlen(text) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    cr_assert_not_null(out);
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    return out;
}

Test(kat_parser, wycheproof_bad_test_members)
{
    const struct {
        const char *from, *to;
        int code;
    } cases[] = {
        {"\"tcId\": 1", "\"tcid\": 1", COMP_ERR_SCHEMA},
        {"\"tcId\": 1", "\"tcId\": -1", COMP_ERR_SCHEMA},
        {"\"tcId\": 1", "\"tcId\": 1.5", COMP_ERR_SCHEMA},
        {"\"valid\"", "\"maybe\"", COMP_ERR_SCHEMA},
        {"\"028318abc1824029138141a2\"", "\"028318abc182402913814\"", COMP_ERR_HEX},
        {"\"028318abc1824029138141a2\"", "\"028318abc18240291381zz\"", COMP_ERR_HEX},
        {"\"028318abc1824029138141a2\"", "28", COMP_ERR_SCHEMA},
        {"\"tagSize\": 128", "\"tagSize\": \"128\"", COMP_ERR_SCHEMA},
        {"[\"Ktv\"]", "[1]", COMP_ERR_SCHEMA},
        {"[\"Ktv\"]", "\"Ktv\"", COMP_ERR_SCHEMA},
        {"\"tests\": [", "\"tests\": 7, \"x\": [", COMP_ERR_SCHEMA},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = replace(wp_aead, cases[i].from, cases[i].to);
        struct comp_wp *w = wp_open(text);
        struct comp_wp_test t;
        struct base_err err = BASE_ERR_INIT;
        cr_assert_eq(comp_wp_next(w, &t, &err), -1, "case %zu accepted", i);
        cr_assert_eq(err.code, cases[i].code, "case %zu: %s (%s)", i, comp_error_name(err.code),
                     err.msg);
        cr_assert(strstr(err.msg, "testGroups[0]") != NULL, "case %zu: %s", i, err.msg);
        comp_wp_free(w);
        free(text);
    }
}

/* ---- garbage never crashes ------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random edits of |sample|: byte changes toward the syntax's own characters, cuts, splices. */
static size_t mutate(const char *sample, char *out, size_t max_out)
{
    static const char alphabet[] = "0123456789abcdefABCDEF =[]#\n\r\t\"{}:,FAILxyz\0\xff";
    size_t n = strlen(sample);
    if (n > max_out) {
        n = max_out;
    }
    memcpy(out, sample, n);
    int edits = 1 + (int)(rng() % 6);
    for (int e = 0; e < edits && n > 0; e++) {
        size_t at = (size_t)(rng() % n);
        switch (rng() % 4) {
            case 0:
                out[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
                break;
            case 1:
                out[at] = (char)(rng() & 0xff);
                break;
            case 2:
                n = at; /* truncate */
                break;
            default: { /* duplicate a slice */
                size_t len = (size_t)(rng() % 40);
                if (at + len <= n && n + len <= max_out) {
                    memmove(out + at + len, out + at, n - at);
                    n += len;
                }
                break;
            }
        }
    }
    return n;
}

static void check_error(int rc, const struct base_err *err, const char *what, size_t iter)
{
    if (rc < 0) {
        cr_assert(comp_error_known(err->code), "%s %zu: code %d", what, iter, err->code);
        cr_assert_neq(err->msg[0], '\0', "%s %zu: no detail", what, iter);
    }
}

static void feed_rsp(const char *buf, size_t n, size_t iter)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_rsp_info info;
    int drc = comp_rsp_detect("fuzz.rsp", buf, n, &info, &err);
    check_error(drc, &err, "detect", iter);
    struct comp_rsp *r = comp_rsp_open_mem("fuzz.rsp", buf, n, &err);
    cr_assert_not_null(r);
    struct comp_rsp_record *rec = NULL;
    int rc;
    while ((rc = comp_rsp_next(r, &rec)) == 1) {
        struct comp_aes_vector v;
        if (drc == 0) {
            int vrc = comp_aes_vector_get(&info, rec, &v, &err);
            check_error(vrc, &err, "vector", iter);
        }
    }
    cr_assert(rc == 0 || rc == -1);
    check_error(rc, comp_rsp_error(r), "next", iter);
    comp_rsp_free(r);
    struct comp_kat_set *s = comp_kat_load_mem("fuzz.rsp", buf, n, &err);
    check_error(s == NULL ? -1 : 0, &err, "load", iter);
    comp_kat_free(s);
}

static void feed_json(const char *buf, size_t n, size_t iter)
{
    struct base_err err = BASE_ERR_INIT;
    struct comp_wp *w = comp_wp_open_mem("fuzz.json", buf, n, &err);
    check_error(w == NULL ? -1 : 0, &err, "wp_open", iter);
    if (w == NULL) {
        return;
    }
    struct comp_wp_test t;
    int rc;
    int guard = 0;
    while ((rc = comp_wp_next(w, &t, &err)) == 1 && guard++ < 1000) {
    }
    check_error(rc, &err, "wp_next", iter);
    comp_wp_free(w);
}

Test(kat_parser, random_and_mutated_input_never_crashes)
{
    static const char *const rsp_samples[] = {ecb_sample, gcm_dec_sample, xts_seqno_sample,
                                              xts_hex_sample, ctr_sample};
    static const char *const json_samples[] = {wp_aead, wp_xts, wp_kwp, wp_oaep};
    char buf[4096];
    for (size_t i = 0; i < 3000; i++) {
        size_t n = mutate(rsp_samples[i % 5], buf, sizeof(buf));
        feed_rsp(buf, n, i);
    }
    for (size_t i = 0; i < 500; i++) {
        size_t n = (size_t)(rng() % sizeof(buf));
        for (size_t k = 0; k < n; k++) {
            buf[k] = (char)(rng() & 0xff);
        }
        feed_rsp(buf, n, i);
        feed_json(buf, n, i);
    }
    for (size_t i = 0; i < 3000; i++) {
        size_t n = mutate(json_samples[i % 4], buf, sizeof(buf));
        feed_json(buf, n, i);
    }
}

/* Every prefix of a real file either reads or fails with a code that fits a cut. */
Test(kat_parser, every_prefix_of_a_file_reads_or_fails_cleanly)
{
    size_t len = strlen(ecb_sample);
    size_t ok = 0;
    for (size_t n = 0; n <= len; n++) {
        struct base_err err = BASE_ERR_INIT;
        struct comp_kat_set *s = comp_kat_load_mem("ECBGFSbox256.rsp", ecb_sample, n, &err);
        if (s != NULL) {
            ok++;
            cr_assert_leq(comp_kat_size(s), 3);
            comp_kat_free(s);
            continue;
        }
        cr_assert(err.code == COMP_ERR_KIND || err.code == COMP_ERR_SYNTAX ||
                      err.code == COMP_ERR_NUMBER || err.code == COMP_ERR_HEX ||
                      err.code == COMP_ERR_INCOMPLETE || err.code == COMP_ERR_INCONSISTENT,
                  "prefix %zu: %s (%s)", n, comp_error_name(err.code), err.msg);
        if (err.code != COMP_ERR_KIND) {
            cr_assert_gt(err.line, 0, "prefix %zu: %s without a line", n, err.msg);
        }
    }
    cr_assert_gt(ok, 0, "the whole file reads");
}
