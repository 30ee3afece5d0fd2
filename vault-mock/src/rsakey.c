/*
 * rsakey.c - RSA through OpenSSL 3 EVP; no RSA arithmetic of our own.
 */
#include "rsakey.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"

static const struct {
    const char *name;
    enum vmock_alg alg;
} alg_names[] = {
    {"RSA-OAEP-256", VMOCK_ALG_RSA_OAEP_256},
    {"RSA-OAEP", VMOCK_ALG_RSA_OAEP},
    {"RSA1_5", VMOCK_ALG_RSA1_5},
    {"RS256", VMOCK_ALG_RS256},
    {"RS384", VMOCK_ALG_RS384},
    {"RS512", VMOCK_ALG_RS512},
    {"PS256", VMOCK_ALG_PS256},
    {"PS384", VMOCK_ALG_PS384},
    {"PS512", VMOCK_ALG_PS512},
};

enum vmock_alg vmock_alg_parse(const char *name)
{
    if (name == NULL) {
        return VMOCK_ALG_NONE;
    }
    for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (strcmp(name, alg_names[i].name) == 0) {
            return alg_names[i].alg;
        }
    }
    return VMOCK_ALG_NONE;
}

int vmock_alg_is_encryption(enum vmock_alg alg)
{
    return alg == VMOCK_ALG_RSA_OAEP_256 || alg == VMOCK_ALG_RSA_OAEP || alg == VMOCK_ALG_RSA1_5;
}

EVP_PKEY *vmock_rsa_generate(int bits, unsigned long e)
{
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_e = BN_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (bn_e == NULL || ctx == NULL || BN_set_word(bn_e, e) != 1 ||
        EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn_e) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn_e);
    return pkey;
}

/* Decode the base64url member |name| of |jwk| into a secure BIGNUM. */
static BIGNUM *jwk_bn(const cJSON *jwk, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(jwk, name);
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        return NULL;
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (base_b64url_decode_alloc(item->valuestring, strlen(item->valuestring), &raw, &raw_len,
                                 NULL) != 0) {
        return NULL;
    }
    BIGNUM *bn = NULL;
    if (raw_len > 0 && raw_len <= 1024) {
        bn = BN_secure_new();
        if (bn != NULL && BN_bin2bn(raw, (int)raw_len, bn) == NULL) {
            BN_clear_free(bn);
            bn = NULL;
        }
    }
    OPENSSL_cleanse(raw, raw_len);
    free(raw);
    return bn;
}

EVP_PKEY *vmock_rsa_from_jwk(const cJSON *jwk, const char **why)
{
    static const char *const names[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    static const char *const params[8] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    BIGNUM *bn[8] = {NULL};
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *ossl = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY_CTX *check = NULL;

    *why = "The key must carry the RSA members n, e, d, p, q, dp, dq and qi as base64url.";
    for (int i = 0; i < 8; i++) {
        bn[i] = jwk_bn(jwk, names[i]);
        if (bn[i] == NULL) {
            goto out;
        }
    }
    int bits = BN_num_bits(bn[0]);
    if (bits != 2048 && bits != 3072 && bits != 4096) {
        *why = "RSA key size must be 2048, 3072 or 4096 bits.";
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        goto out;
    }
    for (int i = 0; i < 8; i++) {
        if (OSSL_PARAM_BLD_push_BN(bld, params[i], bn[i]) != 1) {
            goto out;
        }
    }
    ossl = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ossl == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, ossl) != 1) {
        *why = "The RSA key parameters are not consistent.";
        goto out;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || EVP_PKEY_check(check) != 1) {
        *why = "The RSA key parameters are not consistent.";
        EVP_PKEY_free(pkey);
        pkey = NULL;
        goto out;
    }
    *why = NULL;
out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(ossl);
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i < 8; i++) {
        BN_clear_free(bn[i]);
    }
    return pkey;
}

int vmock_rsa_bits(const EVP_PKEY *pkey)
{
    return EVP_PKEY_get_bits(pkey);
}

char *vmock_rsa_public_b64(const EVP_PKEY *pkey, char which)
{
    BIGNUM *bn = NULL;
    const char *param = which == 'n' ? OSSL_PKEY_PARAM_RSA_N : OSSL_PKEY_PARAM_RSA_E;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        return NULL;
    }
    int len = BN_num_bytes(bn);
    uint8_t *raw = malloc(len > 0 ? (size_t)len : 1);
    char *out = NULL;
    if (raw != NULL && BN_bn2bin(bn, raw) == len) {
        out = base_b64url_encode_alloc(raw, (size_t)len);
    }
    free(raw);
    BN_free(bn);
    return out;
}

int vmock_rsa_to_der(EVP_PKEY *pkey, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    if (p8 == NULL) {
        return -1;
    }
    uint8_t *der = NULL;
    int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (len <= 0) {
        return -1;
    }
    /* Copy into plain malloc memory so the caller's free() matches. */
    uint8_t *copy = malloc((size_t)len);
    if (copy != NULL) {
        memcpy(copy, der, (size_t)len);
    }
    OPENSSL_clear_free(der, (size_t)len);
    if (copy == NULL) {
        return -1;
    }
    *out = copy;
    *out_len = (size_t)len;
    return 0;
}

EVP_PKEY *vmock_rsa_from_der(const uint8_t *der, size_t der_len)
{
    if (der_len > 16384) {
        return NULL;
    }
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
    if (p8 == NULL) {
        return NULL;
    }
    EVP_PKEY *pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (pkey != NULL && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

static const EVP_MD *alg_md(enum vmock_alg alg)
{
    switch (alg) {
        case VMOCK_ALG_RSA_OAEP_256:
        case VMOCK_ALG_RS256:
        case VMOCK_ALG_PS256:
            return EVP_sha256();
        case VMOCK_ALG_RS384:
        case VMOCK_ALG_PS384:
            return EVP_sha384();
        case VMOCK_ALG_RS512:
        case VMOCK_ALG_PS512:
            return EVP_sha512();
        case VMOCK_ALG_RSA_OAEP:
            return EVP_sha1();
        case VMOCK_ALG_RSA1_5:
        case VMOCK_ALG_NONE:
        default:
            return NULL;
    }
}

/* Set padding and hashes of an encrypt/decrypt context for |alg|. */
static int set_enc_padding(EVP_PKEY_CTX *ctx, enum vmock_alg alg)
{
    if (alg == VMOCK_ALG_RSA1_5) {
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 ? 0 : -1;
    }
    const EVP_MD *md = alg_md(alg);
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1) {
        return -1;
    }
    return 0;
}

/* Largest plaintext for |alg| with a |k|-byte modulus (RFC 8017 7.1.1, 7.2.1). */
static size_t max_plaintext(enum vmock_alg alg, size_t k)
{
    size_t overhead = alg == VMOCK_ALG_RSA1_5 ? 11 : 2 * (size_t)EVP_MD_get_size(alg_md(alg)) + 2;
    return k > overhead ? k - overhead : 0;
}

int vmock_rsa_encrypt(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *in, size_t in_len,
                      uint8_t **out, size_t *out_len, const char **why)
{
    *out = NULL;
    *out_len = 0;
    if (!vmock_alg_is_encryption(alg)) {
        *why = "The algorithm is not an RSA encryption algorithm.";
        return -1;
    }
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    if (in_len > max_plaintext(alg, k)) {
        *why = "The value is too long for the key size and algorithm.";
        return -1;
    }
    *why = "The crypto library failed.";
    uint8_t *buf = malloc(k);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = k;
    int ok = buf != NULL && ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
             set_enc_padding(ctx, alg) == 0 && EVP_PKEY_encrypt(ctx, buf, &len, in, in_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        free(buf);
        return -1;
    }
    *why = NULL;
    *out = buf;
    *out_len = len;
    return 0;
}

int vmock_rsa_decrypt(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *in, size_t in_len,
                      uint8_t **out, size_t *out_len, const char **why)
{
    *out = NULL;
    *out_len = 0;
    if (!vmock_alg_is_encryption(alg)) {
        *why = "The algorithm is not an RSA encryption algorithm.";
        return -1;
    }
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    uint8_t *stand_in = NULL;
    if (in_len != k) {
        if (alg != VMOCK_ALG_RSA1_5) {
            *why = "The ciphertext length does not match the key size.";
            return -1;
        }
        /*
         * RSA1_5: a wrong length must look like bad padding (same answer,
         * and the same private-key operation, on a zero block, whose
         * padding never checks), or the two answers form an oracle.
         */
        stand_in = calloc(1, k);
        in = stand_in;
        in_len = k;
    }
    uint8_t *buf = malloc(k);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = k;
    int ok = buf != NULL && ctx != NULL && in != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
             set_enc_padding(ctx, alg) == 0 && EVP_PKEY_decrypt(ctx, buf, &len, in, in_len) == 1;
    ok = ok && stand_in == NULL;
    EVP_PKEY_CTX_free(ctx);
    free(stand_in);
    ERR_clear_error();
    if (!ok) {
        if (buf != NULL) {
            OPENSSL_cleanse(buf, k);
        }
        free(buf);
        *why = "The ciphertext could not be decrypted with this key and algorithm.";
        return -1;
    }
    *why = NULL;
    *out = buf;
    *out_len = len;
    return 0;
}

/* Prepare a sign/verify context; returns it or NULL with |*why|. */
static EVP_PKEY_CTX *sig_ctx(EVP_PKEY *pkey, enum vmock_alg alg, int sign, size_t digest_len,
                             const char **why)
{
    const EVP_MD *md = alg_md(alg);
    if (vmock_alg_is_encryption(alg) || md == NULL) {
        *why = "The algorithm is not an RSA signature algorithm.";
        return NULL;
    }
    if (digest_len != (size_t)EVP_MD_get_size(md)) {
        *why = "The digest length does not match the signature algorithm.";
        return NULL;
    }
    int pss = alg == VMOCK_ALG_PS256 || alg == VMOCK_ALG_PS384 || alg == VMOCK_ALG_PS512;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && (sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    if (ok && pss) {
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    } else if (ok) {
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    }
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        *why = "The crypto library failed.";
        return NULL;
    }
    return ctx;
}

int vmock_rsa_sign(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *digest, size_t digest_len,
                   uint8_t **out, size_t *out_len, const char **why)
{
    *out = NULL;
    *out_len = 0;
    EVP_PKEY_CTX *ctx = sig_ctx(pkey, alg, 1, digest_len, why);
    if (ctx == NULL) {
        return -1;
    }
    size_t k = (size_t)EVP_PKEY_get_size(pkey);
    uint8_t *buf = malloc(k);
    size_t len = k;
    int ok = buf != NULL && EVP_PKEY_sign(ctx, buf, &len, digest, digest_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        free(buf);
        *why = "The crypto library failed.";
        return -1;
    }
    *why = NULL;
    *out = buf;
    *out_len = len;
    return 0;
}

int vmock_rsa_verify(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *digest, size_t digest_len,
                     const uint8_t *sig, size_t sig_len, const char **why)
{
    EVP_PKEY_CTX *ctx = sig_ctx(pkey, alg, 0, digest_len, why);
    if (ctx == NULL) {
        return -1;
    }
    int rc = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len);
    EVP_PKEY_CTX_free(ctx);
    *why = NULL;
    return rc == 1 ? 1 : 0;
}
