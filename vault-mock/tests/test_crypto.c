/*
 * test_crypto.c - wrapkey/unwrapkey, encrypt/decrypt, sign/verify for each
 * algorithm, each checked against OpenSSL with the public key from get or
 * a locally generated imported key; attribute rules; malformed input.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

/* RSA1_5 decryption is refused by default (test_rsa15.c); these keys may, for the round trips. */
static void setup_rsa1_5(void)
{
    const char *args[] = {"--allow-rsa1_5", "kek", "--allow-rsa1_5", "pub", NULL};
    vmt_setup_args(args);
}

TestSuite(crypto, .init = setup_rsa1_5, .fini = vmt_teardown, .timeout = 60);

static const char *const enc_algs[3] = {"RSA-OAEP-256", "RSA-OAEP", "RSA1_5"};
static const char *const sig_algs[6] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};

static const uint8_t dek[32] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,  7,
                                8,    9,    10,   11,   12, 13, 14, 15, 16, 17, 18,
                                19,   20,   21,   22,   23, 24, 25, 26, 27, 28};

/* POST {"alg":alg,"value":b64(in)} to /keys/NAME/OP; returns status, decoded value in |out|. */
static long op_bytes(const char *name, const char *op, const char *alg, const uint8_t *in,
                     size_t in_len, uint8_t **out, size_t *out_len, struct vmt_resp *keep)
{
    char *b64 = vmt_b64(in, in_len);
    char body[4096];
    char path[256];
    snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"value\":\"%s\"}", alg, b64);
    snprintf(path, sizeof(path), "/keys/%s/%s?" VMT_API, name, op);
    struct vmt_resp r;
    long st = vmt_call(S, "POST", path, KO, body, &r);
    if (out != NULL) {
        *out = st == 200 ? vmt_unb64(vmt_str(&r, "value"), out_len) : NULL;
    }
    if (keep != NULL) {
        *keep = r;
    } else {
        vmt_resp_free(&r);
    }
    free(b64);
    return st;
}

Test(crypto, wrap_unwrap_round_trip_each_algorithm)
{
    char version[33];
    cr_assert_eq(vmt_create_key(S, "kek", 2048, NULL, version), 200);
    for (int i = 0; i < 3; i++) {
        uint8_t *ct = NULL;
        uint8_t *pt = NULL;
        size_t ct_len = 0;
        size_t pt_len = 0;
        struct vmt_resp r;
        cr_assert_eq(op_bytes("kek", "wrapkey", enc_algs[i], dek, sizeof(dek), &ct, &ct_len, &r),
                     200, "%s", enc_algs[i]);
        cr_assert_eq(ct_len, 256);
        char kid[256];
        snprintf(kid, sizeof(kid), "%s/keys/kek/%s", S->url, version);
        cr_assert_str_eq(vmt_str(&r, "kid"), kid);
        cr_assert_null(strchr(vmt_str(&r, "value"), '='), "base64url out is unpadded");
        vmt_resp_free(&r);
        cr_assert_eq(op_bytes("kek", "unwrapkey", enc_algs[i], ct, ct_len, &pt, &pt_len, NULL),
                     200);
        cr_assert_eq(pt_len, sizeof(dek));
        cr_assert(memcmp(pt, dek, sizeof(dek)) == 0);
        free(ct);
        free(pt);
    }
}

/* OpenSSL encrypts with the public key from get; the vault must unwrap it (and decrypt it). */
Test(crypto, unwraps_what_openssl_wrapped_with_the_public_key)
{
    cr_assert_eq(vmt_create_key(S, "pub", 2048, NULL, NULL), 200);
    EVP_PKEY *pk = vmt_get_public(S, "pub");
    for (int i = 0; i < 3; i++) {
        for (int op = 0; op < 2; op++) {
            size_t ct_len = 0;
            uint8_t *ct = vmt_rsa_encrypt(pk, enc_algs[i], dek, sizeof(dek), &ct_len);
            cr_assert_not_null(ct);
            uint8_t *pt = NULL;
            size_t pt_len = 0;
            cr_assert_eq(op_bytes("pub", op == 0 ? "unwrapkey" : "decrypt", enc_algs[i], ct, ct_len,
                                  &pt, &pt_len, NULL),
                         200, "%s", enc_algs[i]);
            cr_assert_eq(pt_len, sizeof(dek));
            cr_assert(memcmp(pt, dek, sizeof(dek)) == 0);
            free(pt);
            free(ct);
        }
    }
    EVP_PKEY_free(pk);
}

/* The vault wraps/encrypts with an imported key; OpenSSL decrypts with the private half. */
Test(crypto, openssl_unwraps_what_the_vault_wrapped)
{
    EVP_PKEY *local = vmt_import_local(S, "byok", 3072);
    for (int i = 0; i < 3; i++) {
        for (int op = 0; op < 2; op++) {
            uint8_t *ct = NULL;
            size_t ct_len = 0;
            cr_assert_eq(op_bytes("byok", op == 0 ? "wrapkey" : "encrypt", enc_algs[i], dek,
                                  sizeof(dek), &ct, &ct_len, NULL),
                         200);
            cr_assert_eq(ct_len, 384);
            size_t pt_len = 0;
            uint8_t *pt = vmt_rsa_decrypt(local, enc_algs[i], ct, ct_len, &pt_len);
            cr_assert_not_null(pt, "%s", enc_algs[i]);
            cr_assert_eq(pt_len, sizeof(dek));
            cr_assert(memcmp(pt, dek, sizeof(dek)) == 0);
            free(pt);
            free(ct);
        }
    }
    EVP_PKEY_free(local);
}

static void digest_for(const char *alg, const char *msg, uint8_t *md, size_t *md_len)
{
    unsigned int n = 0;
    const EVP_MD *t = vmt_digest_len(alg) == 32   ? EVP_sha256()
                      : vmt_digest_len(alg) == 48 ? EVP_sha384()
                                                  : EVP_sha512();
    EVP_Digest(msg, strlen(msg), md, &n, t, NULL);
    *md_len = n;
}

static long verify_call(const char *name, const char *alg, const uint8_t *md, size_t md_len,
                        const uint8_t *sig, size_t sig_len, int *valid)
{
    char *d = vmt_b64(md, md_len);
    char *s = vmt_b64(sig, sig_len);
    char body[4096];
    char path[128];
    snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"digest\":\"%s\",\"value\":\"%s\"}", alg, d, s);
    snprintf(path, sizeof(path), "/keys/%s/verify?" VMT_API, name);
    struct vmt_resp r;
    long st = vmt_call(S, "POST", path, KO, body, &r);
    cJSON *v = cJSON_GetObjectItem(r.json, "value");
    *valid = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
    vmt_resp_free(&r);
    free(d);
    free(s);
    return st;
}

Test(crypto, sign_checked_by_openssl_and_verify_by_vault)
{
    cr_assert_eq(vmt_create_key(S, "signer", 2048, NULL, NULL), 200);
    EVP_PKEY *pk = vmt_get_public(S, "signer");
    for (int i = 0; i < 6; i++) {
        uint8_t md[64];
        size_t md_len = 0;
        digest_for(sig_algs[i], "message to sign", md, &md_len);
        uint8_t *sig = NULL;
        size_t sig_len = 0;
        cr_assert_eq(op_bytes("signer", "sign", sig_algs[i], md, md_len, &sig, &sig_len, NULL), 200,
                     "%s", sig_algs[i]);
        cr_assert(vmt_rsa_verify(pk, sig_algs[i], md, md_len, sig, sig_len), "%s", sig_algs[i]);
        int valid = -1;
        cr_assert_eq(verify_call("signer", sig_algs[i], md, md_len, sig, sig_len, &valid), 200);
        cr_assert_eq(valid, 1, "%s", sig_algs[i]);
        sig[10] ^= 1;
        cr_assert_eq(verify_call("signer", sig_algs[i], md, md_len, sig, sig_len, &valid), 200);
        cr_assert_eq(valid, 0, "tampered %s", sig_algs[i]);
        free(sig);
    }
    EVP_PKEY_free(pk);
}

Test(crypto, vault_verifies_openssl_signatures)
{
    EVP_PKEY *local = vmt_import_local(S, "vk", 2048);
    for (int i = 0; i < 6; i++) {
        uint8_t md[64];
        size_t md_len = 0;
        digest_for(sig_algs[i], "signed elsewhere", md, &md_len);
        size_t sig_len = 0;
        uint8_t *sig = vmt_rsa_sign(local, sig_algs[i], md, md_len, &sig_len);
        cr_assert_not_null(sig);
        int valid = -1;
        cr_assert_eq(verify_call("vk", sig_algs[i], md, md_len, sig, sig_len, &valid), 200);
        cr_assert_eq(valid, 1, "%s", sig_algs[i]);
        md[0] ^= 0x80;
        cr_assert_eq(verify_call("vk", sig_algs[i], md, md_len, sig, sig_len, &valid), 200);
        cr_assert_eq(valid, 0, "wrong digest %s", sig_algs[i]);
        free(sig);
    }
    EVP_PKEY_free(local);
}

static void expect_400(const char *path, const char *body)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", path, KO, body, &r), 400, "%s %s -> %s", path, body, r.body);
    cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
    cr_assert_not_null(vmt_str(&r, "error.message"));
    vmt_resp_free(&r);
}

Test(crypto, rejects_bad_input)
{
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    const char *w = "/keys/k/wrapkey?" VMT_API;
    const char *u = "/keys/k/unwrapkey?" VMT_API;
    const char *s = "/keys/k/sign?" VMT_API;
    expect_400(w, "{\"alg\":\"RSA-OAEP-512\",\"value\":\"AAAA\"}");
    expect_400(w, "{\"alg\":\"A256KW\",\"value\":\"AAAA\"}");
    expect_400(w, "{\"alg\":\"RS256\",\"value\":\"AAAA\"}");
    expect_400(w, "{\"value\":\"AAAA\"}");
    expect_400(w, "{\"alg\":\"RSA-OAEP-256\"}");
    expect_400(w, "{\"alg\":\"RSA-OAEP-256\",\"value\":42}");
    expect_400(w, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AA+A/\"}");
    expect_400(w, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"A\"}");
    expect_400(w, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"not base64!\"}");
    expect_400(w, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAAA\"");
    expect_400(w, "not json at all");
    /* 191 bytes: one more than OAEP-256 allows with a 2048-bit key */
    uint8_t big[191] = {0};
    char *b = vmt_b64(big, sizeof(big));
    char body[1024];
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", b);
    expect_400(w, body);
    free(b);
    b = vmt_b64(big, 190);
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", b);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", w, KO, body, &r), 200, "190 bytes fit");
    vmt_resp_free(&r);
    free(b);
    /* unwrap: wrong length, then a right-length garbage ciphertext */
    expect_400(u, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAAA\"}");
    uint8_t junk[256];
    memset(junk, 0x55, sizeof(junk));
    b = vmt_b64(junk, sizeof(junk));
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", b);
    expect_400(u, body);
    free(b);
    /* sign: digest must match the algorithm */
    uint8_t md[20] = {0};
    b = vmt_b64(md, sizeof(md));
    snprintf(body, sizeof(body), "{\"alg\":\"RS256\",\"value\":\"%s\"}", b);
    expect_400(s, body);
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP\",\"value\":\"%s\"}", b);
    expect_400(s, body);
    free(b);
    expect_400("/keys/k/verify?" VMT_API, "{\"alg\":\"RS256\",\"value\":\"AAAA\"}");
}

Test(crypto, unknown_key_or_version_is_404)
{
    struct vmt_resp r;
    const char *body = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAAA\"}";
    cr_assert_eq(vmt_call(S, "POST", "/keys/ghost/wrapkey?" VMT_API, KO, body, &r), 404);
    cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound");
    vmt_resp_free(&r);
    cr_assert_eq(vmt_create_key(S, "real", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_call(S, "POST", "/keys/real/0123456789abcdef0123456789abcdef/wrapkey?" VMT_API,
                          KO, body, &r),
                 404);
    cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound");
    vmt_resp_free(&r);
}

Test(crypto, versioned_and_versionless_paths)
{
    char v1[33];
    cr_assert_eq(vmt_create_key(S, "vv", 2048, NULL, v1), 200);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    char name[64];
    snprintf(name, sizeof(name), "vv/%s", v1);
    cr_assert_eq(op_bytes(name, "wrapkey", "RSA-OAEP-256", dek, 32, &ct, &ct_len, NULL), 200);
    free(ct);
    /* the JS SDK's versionless form: /keys/NAME//wrapkey, and mixed-case verbs */
    cr_assert_eq(op_bytes("vv/", "wrapkey", "RSA-OAEP-256", dek, 32, &ct, &ct_len, NULL), 200);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    cr_assert_eq(op_bytes("vv", "unwrapKey", "RSA-OAEP-256", ct, ct_len, &pt, &pt_len, NULL), 200);
    cr_assert(pt_len == 32 && memcmp(pt, dek, 32) == 0);
    free(pt);
    free(ct);
}

static void patch(const char *name, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s?" VMT_API, name);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "PATCH", path, KO, body, &r), 200, "%s", r.body);
    vmt_resp_free(&r);
}

static void expect_403(const char *name, const char *op, const char *alg, const uint8_t *in,
                       size_t in_len, const char *inner)
{
    struct vmt_resp r;
    cr_assert_eq(op_bytes(name, op, alg, in, in_len, NULL, NULL, &r), 403, "%s %s: %s", name, op,
                 r.body);
    cr_assert_str_eq(vmt_error_code(&r), "Forbidden");
    cr_assert_str_eq(vmt_inner_code(&r), inner, "%s", r.body);
    vmt_resp_free(&r);
}

Test(crypto, disabled_key_refuses_crypto)
{
    cr_assert_eq(vmt_create_key(S, "dis", 2048, NULL, NULL), 200);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    cr_assert_eq(op_bytes("dis", "wrapkey", "RSA-OAEP-256", dek, 32, &ct, &ct_len, NULL), 200);
    patch("dis", "{\"attributes\":{\"enabled\":false}}");
    expect_403("dis", "wrapkey", "RSA-OAEP-256", dek, 32, "KeyDisabled");
    expect_403("dis", "unwrapkey", "RSA-OAEP-256", ct, ct_len, "KeyDisabled");
    expect_403("dis", "encrypt", "RSA-OAEP-256", dek, 32, "KeyDisabled");
    expect_403("dis", "decrypt", "RSA-OAEP-256", ct, ct_len, "KeyDisabled");
    expect_403("dis", "sign", "RS256", dek, 32, "KeyDisabled");
    /* get still works on a disabled key, and re-enabling restores unwrap */
    vmt_expect(S, "GET", "/keys/dis?" VMT_API, KO, NULL, 200);
    patch("dis", "{\"attributes\":{\"enabled\":true}}");
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    cr_assert_eq(op_bytes("dis", "unwrapkey", "RSA-OAEP-256", ct, ct_len, &pt, &pt_len, NULL), 200);
    free(pt);
    free(ct);
}

Test(crypto, outside_nbf_exp_only_decrypt_unwrap_verify_work)
{
    cr_assert_eq(vmt_create_key(S, "timed", 2048, NULL, NULL), 200);
    uint8_t md[32] = {7};
    uint8_t *ct = NULL;
    uint8_t *sig = NULL;
    size_t ct_len = 0;
    size_t sig_len = 0;
    cr_assert_eq(op_bytes("timed", "wrapkey", "RSA-OAEP-256", dek, 32, &ct, &ct_len, NULL), 200);
    cr_assert_eq(op_bytes("timed", "sign", "PS256", md, 32, &sig, &sig_len, NULL), 200);
    char body[128];
    long now = (long)time(NULL);
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 0) {
            snprintf(body, sizeof(body), "{\"attributes\":{\"exp\":%ld}}", now - 3600);
        } else {
            snprintf(body, sizeof(body), "{\"attributes\":{\"exp\":null,\"nbf\":%ld}}", now + 3600);
        }
        patch("timed", body);
        const char *inner = phase == 0 ? "KeyExpired" : "KeyNotYetValid";
        expect_403("timed", "wrapkey", "RSA-OAEP-256", dek, 32, inner);
        expect_403("timed", "encrypt", "RSA-OAEP", dek, 32, inner);
        expect_403("timed", "sign", "PS256", md, 32, inner);
        uint8_t *pt = NULL;
        size_t pt_len = 0;
        cr_assert_eq(op_bytes("timed", "unwrapkey", "RSA-OAEP-256", ct, ct_len, &pt, &pt_len, NULL),
                     200);
        free(pt);
        cr_assert_eq(op_bytes("timed", "decrypt", "RSA-OAEP-256", ct, ct_len, &pt, &pt_len, NULL),
                     200);
        free(pt);
        int valid = -1;
        cr_assert_eq(verify_call("timed", "PS256", md, 32, sig, sig_len, &valid), 200);
        cr_assert_eq(valid, 1);
    }
    free(ct);
    free(sig);
}

Test(crypto, key_ops_restrict_operations)
{
    cr_assert_eq(
        vmt_create_key(S, "wraponly", 2048, "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]", NULL), 200);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    cr_assert_eq(op_bytes("wraponly", "wrapkey", "RSA-OAEP-256", dek, 32, &ct, &ct_len, NULL), 200);
    expect_403("wraponly", "encrypt", "RSA-OAEP-256", dek, 32, "KeyOperationForbidden");
    expect_403("wraponly", "decrypt", "RSA-OAEP-256", ct, ct_len, "KeyOperationForbidden");
    uint8_t md[32] = {1};
    expect_403("wraponly", "sign", "RS256", md, 32, "KeyOperationForbidden");
    /* update can widen key_ops */
    patch("wraponly", "{\"key_ops\":[\"wrapKey\",\"unwrapKey\",\"decrypt\"]}");
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    cr_assert_eq(op_bytes("wraponly", "decrypt", "RSA-OAEP-256", ct, ct_len, &pt, &pt_len, NULL),
                 200);
    free(pt);
    free(ct);
}
