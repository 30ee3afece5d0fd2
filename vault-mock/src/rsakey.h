/*
 * rsakey.h - RSA key operations for the vault through OpenSSL EVP:
 * generation, JWK import, public export, the JWA encryption and signature
 * algorithms, and DER (de)serialisation for sealing at rest.
 *
 * Functions that can fail because of client input return -1 and point
 * |*why| at a static message suitable for a 400 BadParameter answer.
 */
#ifndef VMOCK_RSAKEY_H
#define VMOCK_RSAKEY_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

enum vmock_alg {
    VMOCK_ALG_NONE = -1,
    VMOCK_ALG_RSA_OAEP_256 = 0,
    VMOCK_ALG_RSA_OAEP,
    VMOCK_ALG_RSA1_5,
    VMOCK_ALG_RS256,
    VMOCK_ALG_RS384,
    VMOCK_ALG_RS512,
    VMOCK_ALG_PS256,
    VMOCK_ALG_PS384,
    VMOCK_ALG_PS512,
};

/* vmock_alg_parse maps a JWA name ("RSA-OAEP-256", "PS256", ...) to its enum; VMOCK_ALG_NONE if
 * unknown. */
enum vmock_alg vmock_alg_parse(const char *name);
/* vmock_alg_is_encryption is 1 for the RSA encryption algorithms, 0 for signatures. */
int vmock_alg_is_encryption(enum vmock_alg alg);

/*
 * vmock_rsa_generate makes a fresh RSA key of |bits| with public exponent
 * |e|. Returns the key (the caller frees it with EVP_PKEY_free) or NULL.
 */
EVP_PKEY *vmock_rsa_generate(int bits, unsigned long e);

/*
 * vmock_rsa_from_jwk builds a private RSA key from the JWK members n, e, d,
 * p, q, dp, dq, qi (base64url) and checks it. Returns the key (caller frees)
 * or NULL with |*why| set.
 */
EVP_PKEY *vmock_rsa_from_jwk(const cJSON *jwk, const char **why);

/* vmock_rsa_bits returns the modulus size in bits. */
int vmock_rsa_bits(const EVP_PKEY *pkey);

/*
 * vmock_rsa_public_b64 returns the unpadded base64url of the modulus (|which|
 * 'n') or the public exponent ('e') in a malloc'd string, or NULL.
 */
char *vmock_rsa_public_b64(const EVP_PKEY *pkey, char which);

/*
 * vmock_rsa_to_der serialises the private key (PKCS#8 DER) into a malloc'd
 * buffer. Returns 0 or -1. The caller wipes and frees |*out|.
 */
int vmock_rsa_to_der(EVP_PKEY *pkey, uint8_t **out, size_t *out_len);
/* vmock_rsa_from_der parses what vmock_rsa_to_der wrote. Returns the key or NULL. */
EVP_PKEY *vmock_rsa_from_der(const uint8_t *der, size_t der_len);

/*
 * vmock_rsa_encrypt encrypts |in| with |alg| (RSA-OAEP-256, RSA-OAEP,
 * RSA1_5) into a malloc'd buffer of the modulus size. Returns 0, or -1 with
 * |*why| (too long, wrong algorithm, crypto failure). Caller frees |*out|.
 */
int vmock_rsa_encrypt(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *in, size_t in_len,
                      uint8_t **out, size_t *out_len, const char **why);

/*
 * vmock_rsa_decrypt reverses vmock_rsa_encrypt. Returns 0 with the
 * plaintext in a malloc'd |*out| (caller wipes and frees), or -1 with |*why|.
 * For RSA1_5 every bad ciphertext (wrong length or bad padding) gets the
 * same |*why| after the same private-key operation, so that the answer
 * does not tell them apart (a valid one still differs: see api_crypto.c).
 */
int vmock_rsa_decrypt(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *in, size_t in_len,
                      uint8_t **out, size_t *out_len, const char **why);

/*
 * vmock_rsa_sign signs the digest |in| (whose length must match the hash of
 * |alg|: RS/PS 256, 384, 512). Returns 0 with a malloc'd signature, or -1
 * with |*why|.
 */
int vmock_rsa_sign(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *digest, size_t digest_len,
                   uint8_t **out, size_t *out_len, const char **why);

/*
 * vmock_rsa_verify checks |sig| over |digest|. Returns 1 valid, 0 invalid,
 * -1 on bad input (|*why| set).
 */
int vmock_rsa_verify(EVP_PKEY *pkey, enum vmock_alg alg, const uint8_t *digest, size_t digest_len,
                     const uint8_t *sig, size_t sig_len, const char **why);

#endif /* VMOCK_RSAKEY_H */
