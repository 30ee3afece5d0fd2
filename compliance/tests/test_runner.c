/*
 * test_runner.c - bin/cmk-compliance and comp_runner.c on small files made
 * here: a CAVP file with a wrong ciphertext fails (exit 1), a malformed
 * file gives a message and no crash, an unknown file is skipped, a
 * Wycheproof invalid vector that the engine accepts counts as failed, and
 * the XTS, KWP and RSA-OAEP runners against a second implementation
 * (OpenSSL used directly) or deliberately broken inputs.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comp_report.h"
#include "comp_runner.h"
#include "tl_files.h"
#include "vmt_client.h"

#ifndef COMP_BIN
#define COMP_BIN "bin/cmk-compliance"
#endif

TestSuite(comp_runner, .init = tl_suite_tmpdir_setup, .fini = tl_suite_tmpdir_teardown,
          .timeout = 60);

static void put(const char *name, const char *text, char *path, size_t max_path)
{
    snprintf(path, max_path, "%s/%s", tl_suite_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
}

/* Runs the program on |path|; returns its exit code (-1 if it did not exit normally). */
static int run_bin(const char *path, char *out, size_t max_out)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s --vectors '%s' --out '%s/out' > '%s/stdout' 2> '%s/stderr'",
             getenv("COMP_BIN") ? getenv("COMP_BIN") : COMP_BIN, path, tl_suite_dir, tl_suite_dir,
             tl_suite_dir);
    int st = system(cmd);
    if (out != NULL) {
        char p[128];
        snprintf(p, sizeof(p), "%s/stdout", tl_suite_dir);
        size_t len = 0;
        char *text = vmt_read_file(p, &len);
        snprintf(out, max_out, "%s", text ? text : "");
        free(text);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* FIPS 197 C.3 as a one-record ECB response file; |ct| is the ciphertext to claim. */
static void fips197(char *text, size_t max, const char *ct)
{
    snprintf(text, max,
             "# AESVS GFSbox test data for ECB\n[ENCRYPT]\n\nCOUNT = 0\n"
             "KEY = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
             "PLAINTEXT = 00112233445566778899aabbccddeeff\nCIPHERTEXT = %s\n",
             ct);
}

Test(comp_runner, right_and_wrong_ciphertext)
{
    char text[512], path[128], out[8192];
    fips197(text, sizeof(text), "8ea2b7ca516745bfeafc49904b496089");
    put("ECBfips197.rsp", text, path, sizeof(path));
    cr_assert_eq(run_bin(path, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "1 passed, 0 failed"), "%s", out);

    fips197(text, sizeof(text), "8ea2b7ca516745bfeafc49904b496088"); /* last bit flipped */
    put("ECBwrong.rsp", text, path, sizeof(path));
    cr_assert_eq(run_bin(path, out, sizeof(out)), 1, "%s", out);
    cr_assert_not_null(strstr(out, "0 passed, 1 failed"), "%s", out);

    /* the JSON agrees: every path counted the failure */
    char json[128];
    snprintf(json, sizeof(json), "%s/out/compliance.json", tl_suite_dir);
    size_t len = 0;
    char *t = vmt_read_file(json, &len);
    cJSON *root = cJSON_Parse(t);
    free(t);
    cr_assert_not_null(root);
    cJSON *kats = cJSON_GetObjectItem(root, "kats");
    cr_assert_gt(cJSON_GetArraySize(kats), 0);
    cJSON *k;
    cJSON_ArrayForEach(k, kats)
    {
        cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(k, "failed")), 1);
        cr_assert_not_null(
            strstr(cJSON_GetStringValue(cJSON_GetObjectItem(k, "detail")), "wrong ciphertext"));
    }
    cJSON_Delete(root);
}

Test(comp_runner, malformed_and_unknown_files)
{
    char path[128], out[8192];
    put("CBCbad.rsp",
        "[ENCRYPT]\n\nCOUNT = 0\nKEY = zz\nIV = 00\nPLAINTEXT = 00\nCIPHERTEXT = 00\n", path,
        sizeof(path));
    cr_assert_eq(run_bin(path, out, sizeof(out)), 1, "%s", out);
    cr_assert_not_null(strstr(out, "COMP_ERR_HEX"), "%s", out);

    put("truncated.json", "{\"algorithm\": \"AES-GCM\", \"testGroups\": [", path, sizeof(path));
    cr_assert_eq(run_bin(path, out, sizeof(out)), 1, "%s", out);
    cr_assert_not_null(strstr(out, "COMP_ERR_JSON"), "%s", out);

    put("notes.txt", "nothing to see here\n", path, sizeof(path));
    cr_assert_eq(run_bin(path, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "0 failed, 1 skipped"), "%s", out);

    snprintf(path, sizeof(path), "%s/does-not-exist.rsp", tl_suite_dir);
    cr_assert_eq(run_bin(path, out, sizeof(out)), 1, "%s", out);
}

/* The GCM specification's test case 14 as a Wycheproof AEAD file, labelled |result|, tag byte 0 =
 * |t0|. */
static void gcm_json(char *text, size_t max, const char *result, const char *t0)
{
    snprintf(text, max,
             "{\"algorithm\": \"AES-GCM\", \"numberOfTests\": 1, \"testGroups\": [{\"type\": "
             "\"AeadTest\", \"keySize\": 256, \"ivSize\": 96, \"tagSize\": 128, \"tests\": [{"
             "\"tcId\": 1, \"comment\": \"\", \"flags\": [], \"key\": "
             "\"0000000000000000000000000000000000000000000000000000000000000000\", \"iv\": "
             "\"000000000000000000000000\", \"aad\": \"\", \"msg\": "
             "\"00000000000000000000000000000000\", \"ct\": \"cea7403d4d606b6e074ec5d3baf39d18\", "
             "\"tag\": \"%s d1c8a799996bf0265b98b5d48ab919\", \"result\": \"%s\"}]}]}",
             t0, result);
    char *sp = strstr(text, " d1c8"); /* join the tag halves */
    memmove(sp, sp + 1, strlen(sp));
}

static void run_mem(const char *name, const char *text, struct comp_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    cr_assert_eq(comp_run_text(name, text, strlen(text), rep), 0);
    cr_assert_gt(rep->num_kats, 0);
}

Test(comp_runner, wycheproof_invalid_accepted_is_a_failure)
{
    char text[2048];
    struct comp_report rep;
    gcm_json(text, sizeof(text), "valid", "d0");
    run_mem("gcm-valid.json", text, &rep);
    for (size_t i = 0; i < rep.num_kats; i++) {
        cr_assert_eq(rep.kats[i].passed, 1, "%s/%s: %s", rep.kats[i].backend, rep.kats[i].arch,
                     rep.kats[i].detail);
        cr_assert_eq(rep.kats[i].failed, 0);
    }
    comp_report_cleanup(&rep);
    /* tampered copy: the same correct vector claimed invalid; the engine accepts it */
    gcm_json(text, sizeof(text), "invalid", "d0");
    run_mem("gcm-tampered.json", text, &rep);
    for (size_t i = 0; i < rep.num_kats; i++) {
        cr_assert_eq(rep.kats[i].failed, 1);
        cr_assert_not_null(strstr(rep.kats[i].detail, "invalid vector accepted"), "%s",
                           rep.kats[i].detail);
    }
    comp_report_cleanup(&rep);
    /* a wrong tag labelled invalid must be refused: passed */
    gcm_json(text, sizeof(text), "invalid", "d1");
    run_mem("gcm-badtag.json", text, &rep);
    for (size_t i = 0; i < rep.num_kats; i++) {
        cr_assert_eq(rep.kats[i].passed, 1);
    }
    comp_report_cleanup(&rep);
    /* acceptable is counted apart */
    gcm_json(text, sizeof(text), "acceptable", "d0");
    run_mem("gcm-acceptable.json", text, &rep);
    cr_assert_eq(rep.kats[0].acceptable, 1);
    cr_assert_eq(rep.kats[0].passed + rep.kats[0].failed, 0);
    comp_report_cleanup(&rep);
}

static void hex(char *out, const uint8_t *in, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        snprintf(out + 2 * i, 3, "%02x", in[i]);
    }
    out[2 * len] = '\0';
}

Test(comp_runner, wycheproof_xts_against_openssl)
{
    uint8_t key[64], tw[16], msg[48], ct[48];
    RAND_bytes(key, sizeof(key));
    key[0] = (uint8_t)~key[32]; /* halves differ */
    RAND_bytes(tw, sizeof(tw));
    RAND_bytes(msg, sizeof(msg));
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    cr_assert_eq(EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL, key, tw), 1);
    cr_assert_eq(EVP_EncryptUpdate(c, ct, &n, msg, sizeof(msg)), 1);
    EVP_CIPHER_CTX_free(c);
    char k[129], t[33], m[97], x[97], text[2048];
    hex(k, key, 64);
    hex(t, tw, 16);
    hex(m, msg, 48);
    hex(x, ct, 48);
    snprintf(text, sizeof(text),
             "{\"algorithm\": \"AES-XTS\", \"testGroups\": [{\"keySize\": 512, \"ivSize\": 128, "
             "\"tests\": [{\"tcId\": 1, \"comment\": \"\", \"flags\": [], \"key\": \"%s\", \"iv\": "
             "\"%s\", \"msg\": \"%s\", \"ct\": \"%s\", \"result\": \"valid\"}, {\"tcId\": 2, "
             "\"comment\": \"short\", \"flags\": [], \"key\": \"%s\", \"iv\": \"%s\", \"msg\": "
             "\"%.16s\", \"ct\": \"%.16s\", \"result\": \"invalid\"}]}]}",
             k, t, m, x, k, t, m, x);
    struct comp_report rep;
    run_mem("xts.json", text, &rep);
    for (size_t i = 0; i < rep.num_kats; i++) {
        cr_assert_eq(rep.kats[i].passed, 2, "%s/%s: %s", rep.kats[i].backend, rep.kats[i].arch,
                     rep.kats[i].detail);
    }
    comp_report_cleanup(&rep);
}

Test(comp_runner, wycheproof_kwp_refuses_garbage)
{
    uint8_t key[32], junk[24];
    RAND_bytes(key, sizeof(key));
    RAND_bytes(junk, sizeof(junk));
    char k[65], j[49], text[1024];
    hex(k, key, 32);
    hex(j, junk, 24);
#define KWP_FMT                                                                    \
    "{\"algorithm\": \"AES-KWP\", \"testGroups\": [{\"keySize\": 256, \"tests\": " \
    "[{\"tcId\": 1, \"comment\": \"\", \"flags\": [], \"key\": \"%s\", \"msg\": "  \
    "\"00112233445566778899aabbccddeeff\", \"ct\": \"%s\", \"result\": \"%s\"}]}]}"
    snprintf(text, sizeof(text), KWP_FMT, k, j, "invalid");
    struct comp_report rep;
    run_mem("kwp.json", text, &rep);
    cr_assert_eq(rep.kats[0].passed, 1, "%s", rep.kats[0].detail);
    comp_report_cleanup(&rep);
    snprintf(text, sizeof(text), KWP_FMT, k, j, "valid"); /* claimed valid: must fail */
    run_mem("kwp-tampered.json", text, &rep);
    cr_assert_eq(rep.kats[0].failed, 1);
    comp_report_cleanup(&rep);
}

/* An RSA-2048 key and an OAEP-SHA256 encryption of |msg| made by OpenSSL directly. */
static EVP_PKEY *oaep_fixture(const uint8_t *msg, size_t msg_len, uint8_t *ct, size_t *ct_len)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    cr_assert_not_null(k);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
    cr_assert_eq(EVP_PKEY_encrypt_init(c), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL), 1);
    cr_assert_eq(EVP_PKEY_encrypt(c, ct, ct_len, msg, msg_len), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

Test(comp_runner, rsa_oaep_wycheproof_and_pyca_text)
{
    uint8_t msg[32], ct[256];
    size_t ct_len = sizeof(ct);
    RAND_bytes(msg, sizeof(msg));
    EVP_PKEY *k = oaep_fixture(msg, sizeof(msg), ct, &ct_len);
    BIO *b = BIO_new(BIO_s_mem());
    cr_assert_eq(i2d_PKCS8PrivateKey_bio(b, k, NULL, NULL, 0, NULL, NULL), 1);
    unsigned char *der = NULL;
    long der_len = BIO_get_mem_data(b, &der);
    cr_assert_gt(der_len, 0);
    char *pkcs8 = malloc(2 * (size_t)der_len + 1);
    hex(pkcs8, der, (size_t)der_len);
    char m[65], x[513], bad[513];
    hex(m, msg, sizeof(msg));
    hex(x, ct, ct_len);
    snprintf(bad, sizeof(bad), "%s", x);
    bad[10] = bad[10] == '0' ? '1' : '0';
    char *text = malloc(16384);
    snprintf(text, 16384,
             "{\"algorithm\": \"RSAES-OAEP\", \"testGroups\": [{\"sha\": \"SHA-256\", \"mgf\": "
             "\"MGF1\", \"mgfSha\": \"SHA-256\", \"keySize\": 2048, \"privateKeyPkcs8\": \"%s\", "
             "\"tests\": [{\"tcId\": 1, \"comment\": \"\", \"flags\": [], \"msg\": \"%s\", \"ct\": "
             "\"%s\", \"label\": \"\", \"result\": \"valid\"}, {\"tcId\": 2, \"comment\": \"\", "
             "\"flags\": [], \"msg\": \"%s\", \"ct\": \"%s\", \"label\": \"\", \"result\": "
             "\"invalid\"}]}]}",
             pkcs8, m, x, m, bad);
    struct comp_report rep;
    run_mem("oaep.json", text, &rep);
    cr_assert_eq(rep.kats[0].passed, 2, "%s", rep.kats[0].detail);
    cr_assert_eq(rep.kats[0].failed, 0);
    comp_report_cleanup(&rep);

    /* the same key and ciphertext in pyca's text layout (integers in hex, no leading zeros) */
    BIGNUM *n = NULL, *e = NULL, *d = NULL;
    cr_assert_eq(EVP_PKEY_get_bn_param(k, "n", &n), 1);
    cr_assert_eq(EVP_PKEY_get_bn_param(k, "e", &e), 1);
    cr_assert_eq(EVP_PKEY_get_bn_param(k, "d", &d), 1);
    char *nh = BN_bn2hex(n), *eh = BN_bn2hex(e), *dh = BN_bn2hex(d);
#define OAEP_TXT_FMT                                                            \
    "# Example\n# Public key\n# Modulus:\n%s\n# Exponent:\n%s\n# Private key\n" \
    "# Modulus:\n%s\n# Public exponent:\n%s\n# Exponent:\n%s\n"                 \
    "# OAEP Example 1 alg=sha256 mgf1=sha256\n# Message:\n%s\n# Encryption:\n%s\n"
    snprintf(text, 16384, OAEP_TXT_FMT, nh, eh, nh, eh, dh, m, x);
    run_mem("oaep-sha256-sha256.txt", text, &rep);
    cr_assert_eq(rep.kats[0].passed, 1, "%s", rep.kats[0].detail);
    comp_report_cleanup(&rep);
    snprintf(text, 16384, OAEP_TXT_FMT, nh, eh, nh, eh, dh, m, bad);
    run_mem("oaep-bad.txt", text, &rep);
    cr_assert_eq(rep.kats[0].failed, 1);
    comp_report_cleanup(&rep);
    OPENSSL_free(nh);
    OPENSSL_free(eh);
    OPENSSL_free(dh);
    BN_free(n);
    BN_free(e);
    BN_free(d);
    free(text);
    free(pkcs8);
    BIO_free(b);
    EVP_PKEY_free(k);
}

Test(comp_runner, oaep_text_without_key_is_malformed)
{
    const char *text =
        "# OAEP Example 1 alg=sha256 mgf1=sha256\n# Message:\n00\n# Encryption:\n00\n";
    struct comp_report rep;
    run_mem("oaep-nokey.txt", text, &rep);
    cr_assert_eq(rep.kats[0].failed, 1);
    cr_assert_not_null(strstr(rep.kats[0].detail, "COMP_ERR_INCOMPLETE"), "%s", rep.kats[0].detail);
    comp_report_cleanup(&rep);
}

Test(comp_runner, embedded_vectors_pass_on_every_path)
{
    struct comp_report rep = {0};
    cr_assert_eq(comp_run_embedded(&rep), 0);
    cr_assert_geq(rep.num_kats, 4);
    for (size_t i = 0; i < rep.num_kats; i++) {
        cr_assert_eq(rep.kats[i].passed, 1, "%s %s/%s: %s", rep.kats[i].file, rep.kats[i].backend,
                     rep.kats[i].arch, rep.kats[i].detail);
    }
    comp_report_cleanup(&rep);
}

/*
 * Project Wycheproof's AES-XTS tweaks shorter than 16 bytes are the
 * little-endian data-unit number, padded with zero bytes on the right: all
 * 36 AES-256-XTS cases of the subset (35 of them with 1..15-byte tweaks)
 * must run and pass on every path; the one AES-128-XTS case is skipped as
 * an XTS key size, never as a GCM IV.
 */
Test(comp_runner, wycheproof_xts_short_tweaks_run)
{
    struct comp_report rep = {0};
    cr_assert_eq(comp_run_path("compliance/tests/data/wycheproof_aes_xts_subset.json", &rep), 0);
    cr_assert_gt(rep.num_kats, 0);
    for (size_t i = 0; i < rep.num_kats; i++) {
        const struct comp_kat_row *k = &rep.kats[i];
        cr_assert_eq(k->failed, 0, "%s/%s: %s", k->backend, k->arch, k->detail);
        cr_assert_eq(k->passed, 36, "%s/%s: %lu passed, %lu skipped (%s)", k->backend, k->arch,
                     k->passed, k->skipped, k->skip_reason);
        cr_assert_eq(k->skipped, 1);
        cr_assert_str_eq(k->skip_reason, "1 XTS key not 512 bits (not AES-256-XTS)");
        cr_assert_eq(k->key_cases, 36);
        cr_assert_eq(k->key_ran, 36);
    }
    comp_report_cleanup(&rep);
}

/* One valid AES-256-XTS test with tweak |tweak_hex| (any length) and a made-up message. */
static void xts_json(char *text, size_t max, const char *tweak_hex)
{
    snprintf(text, max,
             "{\"algorithm\": \"AES-XTS\", \"schema\": \"ind_cpa_test_schema.json\", "
             "\"testGroups\": [{\"keySize\": 512, \"ivSize\": %zu, \"tests\": [{\"tcId\": 1, "
             "\"comment\": \"\", \"flags\": [], \"key\": \"%0128d\", \"iv\": \"%s\", "
             "\"msg\": \"%032d\", \"ct\": \"%032d\", \"result\": \"valid\"}]}]}",
             strlen(tweak_hex) * 4, 1, tweak_hex, 0, 0);
}

/*
 * A tweak longer than 16 bytes is refused by the engine (ENG_ERR_NONCE_LEN)
 * and skipped with an XTS reason; a file whose every AES-256 case is
 * skipped fails with the count in words.
 */
Test(comp_runner, xts_long_tweak_skipped_and_all_skipped_fails)
{
    char text[2048];
    struct comp_report rep = {0};
    xts_json(text, sizeof(text), "000102030405060708090a0b0c0d0e0f10");
    cr_assert_eq(comp_run_text("xts-long.json", text, strlen(text), &rep), 0);
    cr_assert_gt(rep.num_kats, 0);
    for (size_t i = 0; i < rep.num_kats; i++) {
        const struct comp_kat_row *k = &rep.kats[i];
        cr_assert_eq(k->skipped, 1, "%s/%s", k->backend, k->arch);
        cr_assert_str_eq(k->skip_reason, "1 XTS tweak longer than 128 bits");
        cr_assert_eq(k->key_cases, 1);
        cr_assert_eq(k->key_ran, 0);
        cr_assert_eq(k->failed, 1);
        cr_assert_str_eq(k->detail, "none of the 1 AES-256 cases ran: every one was skipped");
    }
    comp_report_cleanup(&rep);
}

/* CAVP's AES-128-XTS file (256-bit keys) is skipped as an XTS key size, not "key not 256 bits". */
Test(comp_runner, cavp_xts128_skip_names_xts_key)
{
    const char *path =
        "/usr/lib/python3/dist-packages/cryptography_vectors/ciphers/AES/XTS/"
        "tweak-128hexstr/XTSGenAES128.rsp";
    struct comp_report rep = {0};
    cr_assert_eq(comp_run_path(path, &rep), 0, "scripts/deps.sh installs %s", path);
    cr_assert_gt(rep.num_kats, 0);
    for (size_t i = 0; i < rep.num_kats; i++) {
        const struct comp_kat_row *k = &rep.kats[i];
        cr_assert_eq(k->failed, 0, "%s", k->detail);
        cr_assert_eq(k->passed, 0);
        cr_assert_gt(k->skipped, 0);
        char want[96];
        snprintf(want, sizeof(want), "%lu XTS key not 512 bits (not AES-256-XTS)", k->skipped);
        cr_assert_str_eq(k->skip_reason, want);
        cr_assert_eq(k->key_cases, 0);
    }
    comp_report_cleanup(&rep);
}
