/*
 * test_rsa15.c - RSA1_5 (RSAES-PKCS1-v1_5) decryption is a padding oracle,
 * so the vault refuses it for decrypt and unwrapKey unless the key is named
 * by --allow-rsa1_5; there, a ciphertext with bad padding and one of a
 * wrong length get byte-identical answers, and each use is audited with a
 * warning. Encrypt and wrapKey (public-key operations) stay allowed.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(rsa1_5, .fini = vmt_teardown, .timeout = 120);

static const uint8_t dek[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* POST {"alg":alg,"value":b64(in)} to /keys/NAME/OP into |r| (caller frees); the status. */
static long call_op(const char *name, const char *op, const char *alg, const uint8_t *in,
                    size_t in_len, struct vmt_resp *r)
{
    char *b64 = vmt_b64(in, in_len);
    cr_assert_not_null(b64);
    char body[4096];
    char path[256];
    snprintf(body, sizeof(body), "{\"alg\":\"%s\",\"value\":\"%s\"}", alg, b64);
    snprintf(path, sizeof(path), "/keys/%s/%s?" VMT_API, name, op);
    free(b64);
    return vmt_call(S, "POST", path, KO, body, r);
}

/*
 * A ciphertext whose PKCS#1 v1.5 padding never checks: the raw RSA of the
 * block 00 01 FF..FF 00 || dek (block type 1, a signature's, not 2).
 */
static uint8_t *bad_padding_ct(EVP_PKEY *pk, size_t *len)
{
    size_t k = (size_t)EVP_PKEY_get_size(pk);
    uint8_t *block = malloc(k);
    uint8_t *ct = malloc(k);
    cr_assert(block != NULL && ct != NULL);
    memset(block, 0xff, k);
    block[0] = 0x00;
    block[1] = 0x01;
    block[k - sizeof(dek) - 1] = 0x00;
    memcpy(block + k - sizeof(dek), dek, sizeof(dek));
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    *len = k;
    cr_assert(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
              EVP_PKEY_encrypt(ctx, ct, len, block, k) == 1 && *len == k);
    EVP_PKEY_CTX_free(ctx);
    free(block);
    return ct;
}

Test(rsa1_5, decryption_is_refused_by_default)
{
    vmt_setup_args(NULL);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    /* wrapping with RSA1_5 is a public-key operation: still served */
    cr_assert_eq(call_op("k", "wrapkey", "RSA1_5", dek, sizeof(dek), &r), 200, "%s", r.body);
    size_t ct_len = 0;
    uint8_t *ct = vmt_unb64(vmt_str(&r, "value"), &ct_len);
    vmt_resp_free(&r);
    cr_assert_not_null(ct);
    static const char *const ops[2][2] = {{"unwrapkey", "unwrapKey"}, {"decrypt", "decrypt"}};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(call_op("k", ops[i][0], "RSA1_5", ct, ct_len, &r), 400, "%s: %s", ops[i][0],
                     r.body);
        cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
        char want[512];
        snprintf(want, sizeof(want),
                 "Algorithm RSA1_5 is not allowed for operation %s on key k: RSAES-PKCS1-v1_5 "
                 "decryption is a padding oracle. Use RSA-OAEP-256, or start the vault with "
                 "--allow-rsa1_5 k.",
                 ops[i][1]);
        cr_assert_str_eq(vmt_str(&r, "error.message"), want);
        vmt_resp_free(&r);
    }
    free(ct);
    /* the other algorithms are not affected */
    cr_assert_eq(call_op("k", "wrapkey", "RSA-OAEP-256", dek, sizeof(dek), &r), 200);
    ct = vmt_unb64(vmt_str(&r, "value"), &ct_len);
    vmt_resp_free(&r);
    cr_assert_eq(call_op("k", "unwrapkey", "RSA-OAEP-256", ct, ct_len, &r), 200);
    vmt_resp_free(&r);
    free(ct);
}

Test(rsa1_5, allowed_per_key_with_one_answer_for_every_bad_ciphertext)
{
    const char *args[] = {"--allow-rsa1_5", "legacy", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "legacy", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_create_key(S, "other", 2048, NULL, NULL), 200);
    EVP_PKEY *pk = vmt_get_public(S, "legacy");
    struct vmt_resp r;
    /* a good ciphertext: served, with a warning in its audit line */
    size_t ct_len = 0;
    uint8_t *ct = vmt_rsa_encrypt(pk, "RSA1_5", dek, sizeof(dek), &ct_len);
    cr_assert_not_null(ct);
    cr_assert_eq(call_op("legacy", "unwrapkey", "RSA1_5", ct, ct_len, &r), 200, "%s", r.body);
    size_t pt_len = 0;
    uint8_t *pt = vmt_unb64(vmt_str(&r, "value"), &pt_len);
    cr_assert(pt != NULL && pt_len == sizeof(dek) && memcmp(pt, dek, sizeof(dek)) == 0);
    free(pt);
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_not_null(line);
    const char *warning = vmt_jstr(line, "warning");
    cr_assert(
        warning != NULL && strstr(warning, "RSA1_5 decryption allowed by --allow-rsa1_5") != NULL,
        "warning %s", warning != NULL ? warning : "(none)");
    cJSON_Delete(line);
    vmt_resp_free(&r);
    /* another key still refuses */
    cr_assert_eq(call_op("other", "unwrapkey", "RSA1_5", ct, ct_len, &r), 400);
    cr_assert(strstr(vmt_str(&r, "error.message"), "is not allowed for operation unwrapKey") !=
              NULL);
    vmt_resp_free(&r);
    free(ct);
    /* bad padding, and wrong lengths (short, long, empty): one answer, byte for byte */
    size_t bad_len = 0;
    uint8_t *bad = bad_padding_ct(pk, &bad_len);
    uint8_t longer[257];
    memset(longer, 0x5a, sizeof(longer));
    const struct {
        const uint8_t *ct;
        size_t len;
        const char *what;
    } cases[] = {{bad, bad_len, "bad padding"},
                 {bad, bad_len - 1, "one byte short"},
                 {longer, sizeof(longer), "one byte long"},
                 {bad, 0, "empty"}};
    for (const char *op = "unwrapkey"; op != NULL;
         op = strcmp(op, "unwrapkey") == 0 ? "decrypt" : NULL) {
        struct vmt_resp first;
        cr_assert_eq(call_op("legacy", op, "RSA1_5", cases[0].ct, cases[0].len, &first), 400, "%s",
                     first.body);
        cr_assert_str_eq(vmt_error_code(&first), "BadParameter");
        cJSON *l0 = vmt_audit_find(S, first.request_id);
        cr_assert_not_null(l0);
        cr_assert_not_null(vmt_jstr(l0, "warning"), "a refused use is audited with the warning");
        for (size_t i = 1; i < sizeof(cases) / sizeof(cases[0]); i++) {
            cr_assert_eq(call_op("legacy", op, "RSA1_5", cases[i].ct, cases[i].len, &r),
                         first.status, "%s %s", op, cases[i].what);
            cr_assert_str_eq(r.body, first.body, "%s %s vs bad padding", op, cases[i].what);
            cr_assert_str_eq(r.content_type, first.content_type);
            cJSON *li = vmt_audit_find(S, r.request_id);
            cr_assert_not_null(li);
            cr_assert_str_eq(vmt_jstr(li, "error"), vmt_jstr(l0, "error"));
            cJSON_Delete(li);
            vmt_resp_free(&r);
        }
        cJSON_Delete(l0);
        vmt_resp_free(&first);
    }
    free(bad);
    EVP_PKEY_free(pk);
}
