/*
 * vmt_crypto.h - local (independent) RSA with OpenSSL for the tests: keys
 * from a KeyBundle's n and e, private JWKs for import, encrypt, decrypt,
 * sign, verify with the JWA algorithms' exact parameters.
 */
#ifndef VMT_CRYPTO_H
#define VMT_CRYPTO_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "vmt.h"

/* vmt_pubkey builds the public key from "key.n" and "key.e" of a KeyBundle answer; NULL on failure.
 */
EVP_PKEY *vmt_pubkey(const struct vmt_resp *r);
/* vmt_rsa_generate makes a local RSA key. */
EVP_PKEY *vmt_rsa_generate(int bits);
/*
 * vmt_jwk_private returns malloc'd JSON members (no braces) of the private
 * JWK of |pkey|: "kty":"RSA","n":..,"e":..,"d":..,"p":..,"q":..,"dp":..,"dq":..,"qi":..
 * With |omit| not NULL that member is left out.
 */
char *vmt_jwk_private(EVP_PKEY *pkey, const char *omit);
/* vmt_get_public gets key |name| as keyofficer (asserts 200) and returns its public key. */
EVP_PKEY *vmt_get_public(struct vmt_server *s, const char *name);
/*
 * vmt_import_local makes an RSA key of |bits| locally and imports it as
 * |name| (keyofficer; asserts 200). Returns the local key (caller frees).
 */
EVP_PKEY *vmt_import_local(struct vmt_server *s, const char *name, int bits);
/* vmt_bn_b64 returns the base64url (malloc'd) of one RSA parameter ("n", "d", "rsa-factor1", ...).
 */
char *vmt_param_b64(EVP_PKEY *pkey, const char *ossl_param);
/* vmt_param_bytes returns the big-endian bytes of one RSA parameter (malloc'd) and its length. */
uint8_t *vmt_param_bytes(EVP_PKEY *pkey, const char *ossl_param, size_t *len);

/*
 * vmt_rsa_encrypt / vmt_rsa_decrypt with a JWA name (RSA-OAEP-256, RSA-OAEP,
 * RSA1_5). Return a malloc'd buffer and its length, or NULL.
 */
uint8_t *vmt_rsa_encrypt(EVP_PKEY *pkey, const char *alg, const uint8_t *in, size_t in_len,
                         size_t *out_len);
uint8_t *vmt_rsa_decrypt(EVP_PKEY *pkey, const char *alg, const uint8_t *in, size_t in_len,
                         size_t *out_len);
/* vmt_rsa_sign signs a digest with RS256..PS512; vmt_rsa_verify returns 1 valid, 0 not. */
uint8_t *vmt_rsa_sign(EVP_PKEY *pkey, const char *alg, const uint8_t *digest, size_t digest_len,
                      size_t *out_len);
int vmt_rsa_verify(EVP_PKEY *pkey, const char *alg, const uint8_t *digest, size_t digest_len,
                   const uint8_t *sig, size_t sig_len);
/* vmt_digest_len is the digest size of RS/PS 256, 384, 512. */
size_t vmt_digest_len(const char *alg);

/* vmt_b64 returns unpadded base64url of |in| (malloc'd). */
char *vmt_b64(const uint8_t *in, size_t len);
/* vmt_unb64 decodes base64url (malloc'd, length in |len|) or NULL. */
uint8_t *vmt_unb64(const char *in, size_t *len);

#endif /* VMT_CRYPTO_H */
