/*
 * test_kat_wycheproof.c - Project Wycheproof vectors from the shared folder.
 *
 * aes_gcm_test.json runs on every GCM back end and path: "valid" must
 * encrypt to ct+tag and decrypt back, "invalid" must be refused (by
 * ENG_ERR_AUTH, or by the exact usage error for a nonce the engine does not
 * take), keys other than 256 bits are skipped once their refusal is checked.
 * The RSA-OAEP file is read with the same parser and every test is replayed
 * through OpenSSL, which checks that the reader hands out the right bytes
 * (the vault's key unwrapping uses this schema later).
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "comp_kat.h"
#include "comp_vectors.h"
#include "eng_cpu.h"
#include "kat_log.h"
#include "kat_testlib.h"

/* Opens shared/vectors/wycheproof/|file|, or skips the test when it is not there. */
static struct comp_wp *open_shared(const char *file, char *path, size_t max_path)
{
    char dir[PATH_MAX];
    int have = tl_shared_vectors(dir, sizeof(dir));
    snprintf(path, max_path, "%s/wycheproof/%s", dir, file);
    if (!have || !tl_is_file(path)) {
        tl_note("wycheproof:%s: skipped, file not found: %s", file, path);
        cr_skip_test("%s not found", path);
    }
    struct base_err err = BASE_ERR_INIT;
    struct comp_wp *w = comp_wp_open(path, &err);
    cr_assert_not_null(w, "%s: %s: %s", path, comp_error_name(err.code), err.msg);
    return w;
}

/* What the file says it holds, counted with the reader alone. */
struct gcm_census {
    unsigned long total, key256_iv96_valid, key256_iv96_invalid, key256_other_iv_valid,
        key256_other_iv_invalid, other_keys, acceptable;
};

static struct gcm_census census(struct comp_wp *w)
{
    struct gcm_census c = {0};
    struct comp_wp_test t;
    struct base_err err = BASE_ERR_INIT;
    int rc;
    comp_wp_rewind(w);
    while ((rc = comp_wp_next(w, &t, &err)) == 1) {
        c.total++;
        cr_assert_eq(t.key.len * 8, t.key_size, "tcId %lu: key length vs keySize", t.tc_id);
        if (t.result == COMP_WP_ACCEPTABLE) {
            c.acceptable++;
        } else if (t.key.len != 32) {
            c.other_keys++;
        } else if (t.iv.len == 12) {
            c.key256_iv96_valid += t.result == COMP_WP_VALID;
            c.key256_iv96_invalid += t.result == COMP_WP_INVALID;
        } else {
            c.key256_other_iv_valid += t.result == COMP_WP_VALID;
            c.key256_other_iv_invalid += t.result == COMP_WP_INVALID;
        }
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    return c;
}

Test(kat_wycheproof, aes_gcm_on_every_path)
{
    char path[PATH_MAX + 64];
    struct comp_wp *w = open_shared("aes_gcm_test.json", path, sizeof(path));
    cr_assert_eq(comp_wp_schema(w), COMP_WP_AEAD);
    cr_assert_str_eq(comp_wp_algorithm(w), "AES-GCM");
    struct gcm_census c = census(w);
    cr_assert_eq(c.total, comp_wp_declared_tests(w), "read %lu tests, the file declares %lu",
                 c.total, comp_wp_declared_tests(w));
    cr_assert_gt(c.key256_iv96_valid, 0);
    struct tl_path paths[TL_MAX_PATHS];
    size_t n = tl_paths(ENG_MODE_GCM, paths, TL_MAX_PATHS);
    cr_assert_gt(n, 0);
    char what[64];
    snprintf(what, sizeof(what), "AES-GCM, %lu tests", c.total);
    for (size_t i = 0; i < n; i++) {
        char pname[64];
        struct comp_kat_result r;
        struct base_err err = BASE_ERR_INIT;
        tl_path_name(&paths[i], pname, sizeof(pname));
        int rc = comp_kat_run_wycheproof(w, paths[i].b, paths[i].a, &r, &err);
        cr_assert_eq(rc, 0, "%s: %s", pname, err.msg);
        tl_log_result("wycheproof:aes_gcm_test.json", what, &paths[i], &r);
        cr_expect_eq(r.failed, 0, "%s: %lu failed; first: %s", pname, r.failed, r.first_failure);
        cr_expect_eq(r.passed,
                     c.key256_iv96_valid + c.key256_iv96_invalid + c.key256_other_iv_invalid,
                     "%s: passed", pname);
        cr_expect_eq(r.rejected_by[COMP_REJECT_AUTH], c.key256_iv96_invalid, "%s", pname);
        cr_expect_eq(r.rejected_by[COMP_REJECT_NONCE_LEN], c.key256_other_iv_invalid, "%s", pname);
        cr_expect_eq(r.skipped_by[COMP_SKIP_KEY_SIZE], c.other_keys, "%s", pname);
        cr_expect_eq(r.skipped_by[COMP_SKIP_NONCE_SIZE], c.key256_other_iv_valid, "%s", pname);
        cr_expect_eq(r.acceptable, c.acceptable, "%s", pname);
        cr_expect_eq(r.passed + r.failed + r.skipped + r.acceptable, c.total, "%s", pname);
    }
    comp_wp_free(w);
}

Test(kat_wycheproof, runner_refuses_a_file_of_another_algorithm)
{
    char path[PATH_MAX + 64];
    struct comp_wp *w =
        open_shared("rsa_oaep_2048_sha256_mgf1sha256_test.json", path, sizeof(path));
    struct comp_kat_result r;
    struct base_err err = BASE_ERR_INIT;
    cr_assert_eq(comp_kat_run_wycheproof(w, ENG_BACKEND_OPENSSL, eng_cpu_best_arch(), &r, &err),
                 -1);
    cr_assert_eq(err.code, COMP_ERR_SCHEMA);
    comp_wp_free(w);
}

static const EVP_MD *md_named(const char *name)
{
    return strcmp(name, "SHA-1") == 0     ? EVP_sha1()
           : strcmp(name, "SHA-224") == 0 ? EVP_sha224()
           : strcmp(name, "SHA-256") == 0 ? EVP_sha256()
           : strcmp(name, "SHA-384") == 0 ? EVP_sha384()
           : strcmp(name, "SHA-512") == 0 ? EVP_sha512()
                                          : NULL;
}

/* 1 if OpenSSL decrypts |t| to its msg, 0 if it refuses it. */
static int oaep_decrypts(const struct comp_wp_test *t)
{
    const unsigned char *der = t->private_key_pkcs8.data;
    EVP_PKEY *pkey = d2i_AutoPrivateKey(NULL, &der, (long)t->private_key_pkcs8.len);
    cr_assert_not_null(pkey, "tcId %lu: privateKeyPkcs8 does not parse", t->tc_id);
    cr_assert_eq(EVP_PKEY_get_bits(pkey), (int)t->key_size, "tcId %lu", t->tc_id);
    const EVP_MD *md = md_named(t->sha);
    const EVP_MD *mgf = md_named(t->mgf_sha);
    cr_assert(md != NULL && mgf != NULL && strcmp(t->mgf, "MGF1") == 0, "tcId %lu", t->tc_id);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    cr_assert_not_null(ctx);
    cr_assert_eq(EVP_PKEY_decrypt_init(ctx), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md), 1);
    cr_assert_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf), 1);
    if (t->label.len > 0) {
        unsigned char *label = OPENSSL_memdup(t->label.data, t->label.len);
        cr_assert_not_null(label);
        cr_assert_eq(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)t->label.len), 1);
    }
    unsigned char out[1024];
    size_t out_len = sizeof(out);
    int ok = EVP_PKEY_decrypt(ctx, out, &out_len, t->ct.data, t->ct.len) == 1 &&
             out_len == t->msg.len && (out_len == 0 || memcmp(out, t->msg.data, out_len) == 0);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}

Test(kat_wycheproof, rsa_oaep_reader_feeds_openssl)
{
    char path[PATH_MAX + 64];
    struct comp_wp *w =
        open_shared("rsa_oaep_2048_sha256_mgf1sha256_test.json", path, sizeof(path));
    cr_assert_eq(comp_wp_schema(w), COMP_WP_RSA_OAEP);
    struct comp_wp_test t;
    struct base_err err = BASE_ERR_INIT;
    unsigned long total = 0;
    unsigned long valid = 0;
    unsigned long invalid = 0;
    int rc;
    while ((rc = comp_wp_next(w, &t, &err)) == 1) {
        total++;
        int ok = oaep_decrypts(&t);
        if (t.result == COMP_WP_VALID) {
            cr_expect(ok, "tcId %lu (%s): valid, OpenSSL refused it", t.tc_id, t.comment);
            valid++;
        } else if (t.result == COMP_WP_INVALID) {
            cr_expect(!ok, "tcId %lu (%s): invalid, OpenSSL took it", t.tc_id, t.comment);
            invalid++;
        }
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(total, comp_wp_declared_tests(w));
    cr_assert_gt(valid, 0);
    tl_note(
        "wycheproof:rsa_oaep_2048_sha256_mgf1sha256_test.json: %lu tests read, %lu valid "
        "decrypted and %lu invalid refused by OpenSSL",
        total, valid, invalid);
    comp_wp_free(w);
}
