/*
 * vmt_crypto.c - the tests' own RSA through OpenSSL, to check the vault's
 * answers independently of the vault's code paths.
 */
#include "vmt_crypto.h"

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"

char *vmt_b64(const uint8_t *in, size_t len)
{
    return base_b64url_encode_alloc(in, len);
}

uint8_t *vmt_unb64(const char *in, size_t *len)
{
    uint8_t *out = NULL;
    if (in == NULL || base_b64url_decode_alloc(in, strlen(in), &out, len, NULL) != 0) {
        return NULL;
    }
    return out;
}

static BIGNUM *bn_from_b64(const char *s)
{
    size_t len = 0;
    uint8_t *raw = vmt_unb64(s, &len);
    BIGNUM *bn = raw != NULL ? BN_bin2bn(raw, (int)len, NULL) : NULL;
    free(raw);
    return bn;
}

EVP_PKEY *vmt_pubkey(const struct vmt_resp *r)
{
    BIGNUM *n = bn_from_b64(vmt_str(r, "key.n"));
    BIGNUM *e = bn_from_b64(vmt_str(r, "key.e"));
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (n != NULL && e != NULL && bld != NULL && ctx != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return pkey;
}

EVP_PKEY *vmt_rsa_generate(int bits)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

uint8_t *vmt_param_bytes(EVP_PKEY *pkey, const char *ossl_param, size_t *len)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, ossl_param, &bn) != 1) {
        return NULL;
    }
    int n = BN_num_bytes(bn);
    uint8_t *raw = malloc((size_t)n + 1);
    if (raw != NULL) {
        BN_bn2bin(bn, raw);
        *len = (size_t)n;
    }
    BN_clear_free(bn);
    return raw;
}

char *vmt_param_b64(EVP_PKEY *pkey, const char *ossl_param)
{
    size_t len = 0;
    uint8_t *raw = vmt_param_bytes(pkey, ossl_param, &len);
    char *s = raw != NULL ? vmt_b64(raw, len) : NULL;
    free(raw);
    return s;
}

char *vmt_jwk_private(EVP_PKEY *pkey, const char *omit)
{
    static const char *const names[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[8] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    size_t cap = 8192;
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    size_t n = (size_t)snprintf(out, cap, "\"kty\":\"RSA\"");
    for (int i = 0; i < 8; i++) {
        if (omit != NULL && strcmp(omit, names[i]) == 0) {
            continue;
        }
        char *v = vmt_param_b64(pkey, params[i]);
        if (v == NULL) {
            free(out);
            return NULL;
        }
        n += (size_t)snprintf(out + n, cap - n, ",\"%s\":\"%s\"", names[i], v);
        free(v);
    }
    return out;
}

static const EVP_MD *md_of(const char *alg)
{
    if (strcmp(alg, "RSA-OAEP") == 0) {
        return EVP_sha1();
    }
    if (strstr(alg, "384") != NULL) {
        return EVP_sha384();
    }
    if (strstr(alg, "512") != NULL) {
        return EVP_sha512();
    }
    return EVP_sha256();
}

static int setup_enc(EVP_PKEY_CTX *ctx, const char *alg)
{
    if (strcmp(alg, "RSA1_5") == 0) {
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    }
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md_of(alg)) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(alg)) == 1;
}

uint8_t *vmt_rsa_encrypt(EVP_PKEY *pkey, const char *alg, const uint8_t *in, size_t in_len,
                         size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = (size_t)EVP_PKEY_get_size(pkey);
    uint8_t *out = malloc(len);
    int ok = ctx != NULL && out != NULL && EVP_PKEY_encrypt_init(ctx) == 1 && setup_enc(ctx, alg) &&
             EVP_PKEY_encrypt(ctx, out, &len, in, in_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_len = len;
    return out;
}

uint8_t *vmt_rsa_decrypt(EVP_PKEY *pkey, const char *alg, const uint8_t *in, size_t in_len,
                         size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = (size_t)EVP_PKEY_get_size(pkey);
    uint8_t *out = malloc(len);
    int ok = ctx != NULL && out != NULL && EVP_PKEY_decrypt_init(ctx) == 1 && setup_enc(ctx, alg) &&
             EVP_PKEY_decrypt(ctx, out, &len, in, in_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_len = len;
    return out;
}

static int setup_sig(EVP_PKEY_CTX *ctx, const char *alg)
{
    const EVP_MD *md = md_of(alg);
    if (EVP_PKEY_CTX_set_signature_md(ctx, md) != 1) {
        return 0;
    }
    if (alg[0] == 'P') {
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, EVP_MD_get_size(md)) == 1;
    }
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
}

uint8_t *vmt_rsa_sign(EVP_PKEY *pkey, const char *alg, const uint8_t *digest, size_t digest_len,
                      size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = (size_t)EVP_PKEY_get_size(pkey);
    uint8_t *out = malloc(len);
    int ok = ctx != NULL && out != NULL && EVP_PKEY_sign_init(ctx) == 1 && setup_sig(ctx, alg) &&
             EVP_PKEY_sign(ctx, out, &len, digest, digest_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_len = len;
    return out;
}

int vmt_rsa_verify(EVP_PKEY *pkey, const char *alg, const uint8_t *digest, size_t digest_len,
                   const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 && setup_sig(ctx, alg) &&
             EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

size_t vmt_digest_len(const char *alg)
{
    return (size_t)EVP_MD_get_size(md_of(alg));
}

EVP_PKEY *vmt_get_public(struct vmt_server *s, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s?" VMT_API, name);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(s, "GET", path, vmt_token(s, "keyofficer"), NULL, &r), 200);
    EVP_PKEY *pk = vmt_pubkey(&r);
    cr_assert_not_null(pk);
    vmt_resp_free(&r);
    return pk;
}

EVP_PKEY *vmt_import_local(struct vmt_server *s, const char *name, int bits)
{
    EVP_PKEY *local = vmt_rsa_generate(bits);
    cr_assert_not_null(local);
    char *jwk = vmt_jwk_private(local, NULL);
    cr_assert_not_null(jwk);
    char body[8192];
    char path[256];
    snprintf(body, sizeof(body), "{\"key\":{%s}}", jwk);
    snprintf(path, sizeof(path), "/keys/%s?" VMT_API, name);
    vmt_expect(s, "PUT", path, vmt_token(s, "keyofficer"), body, 200);
    free(jwk);
    return local;
}
