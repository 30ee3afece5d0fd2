/*
 * tls.c - CA and server certificate generation with OpenSSL X509.
 */
#include "tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"

#define PEM_MAX (1u << 20)

static EVP_PKEY *ec_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return -1;
    }
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

/* A certificate for |key| named |cn|, issued by |issuer| (NULL = self-signed with |key|). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long days,
                       const char *san)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    int ok = x != NULL && serial != NULL && X509_set_version(x, 2) == 1 &&
             BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
             BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
             X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) != NULL &&
             X509_set_pubkey(x, key) == 1;
    X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
    ok = ok && name != NULL &&
         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"vault-mock",
                                    -1, -1, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) == 1;
    X509 *signer = issuer != NULL ? issuer : x;
    ok = ok && X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1;
    if (ok && issuer == NULL) {
        ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
             add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             add_ext(x, x, NID_subject_key_identifier, "hash") == 0;
    } else if (ok) {
        ok = add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(x, signer, NID_key_usage, "critical,digitalSignature,keyEncipherment") == 0 &&
             add_ext(x, signer, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(x, signer, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(x, signer, NID_authority_key_identifier, "keyid:always") == 0 &&
             add_ext(x, signer, NID_subject_alt_name, san) == 0;
    }
    ok = ok && X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0;
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* PEM text of a certificate (|cert|) or a private key (|key|), malloc'd. */
static char *to_pem(X509 *cert, EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NULL;
    }
    int ok = cert != NULL ? PEM_write_bio_X509(bio, cert)
                          : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *out = NULL;
    if (ok == 1 && len > 0 && (out = malloc((size_t)len + 1)) != NULL) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free_all(bio); /* BIO_s_mem frees (and does not wipe): test keys only, regenerated freely */
    return out;
}

static X509 *read_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return x;
}

static EVP_PKEY *read_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return k;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static int write_pem(const char *dir, const char *name, const char *pem, struct base_err *e)
{
    if (pem == NULL) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot encode %s", name);
        return -1;
    }
    return vmock_file_write_atomic(dir, name, pem, strlen(pem), e);
}

/* Load the CA from STATE or create it. */
static int ca_load_or_make(const char *dir, X509 **ca, EVP_PKEY **ca_key, struct base_err *e)
{
    char path[4096];
    char *cert_pem = NULL;
    char *key_pem = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    int rc1 = vmock_file_read(path, PEM_MAX, &cert_pem, &len, e);
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    int rc2 = rc1 == 0 ? vmock_file_read(path, PEM_MAX, &key_pem, &len, e) : 1;
    if (rc1 < 0 || rc2 < 0) {
        free(cert_pem);
        return -1;
    }
    if (rc1 == 0 && rc2 == 0) {
        *ca = read_cert(cert_pem);
        *ca_key = read_key(key_pem);
        free(cert_pem);
        free_secret(key_pem);
        if (*ca == NULL || *ca_key == NULL) {
            BASE_FAIL(e, BASE_ERR_IO, "%s/ca.pem or ca.key is not valid PEM", dir);
            return -1;
        }
        return 0;
    }
    free(cert_pem);
    *ca_key = ec_key();
    *ca =
        *ca_key != NULL ? make_cert(*ca_key, "vault-mock local CA", NULL, NULL, 3650, NULL) : NULL;
    if (*ca == NULL) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot generate the CA certificate");
        return -1;
    }
    char *kp = to_pem(NULL, *ca_key);
    char *cp = to_pem(*ca, NULL);
    int rc = write_pem(dir, "ca.key", kp, e) == 0 && write_pem(dir, "ca.pem", cp, e) == 0 ? 0 : -1;
    free_secret(kp);
    free(cp);
    return rc;
}

static int read_given(struct vmock_tls *tls, const char *cert_file, const char *key_file,
                      struct base_err *e)
{
    size_t len = 0;
    if (vmock_file_read_public(cert_file, PEM_MAX, &tls->cert_pem, &len, e) != 0 ||
        vmock_file_read(key_file, PEM_MAX, &tls->key_pem, &len, e) != 0) {
        if (e->msg[0] == '\0') { /* a missing file (1) says nothing itself */
            BASE_FAIL(e, BASE_ERR_IO, "cannot read %s or %s", cert_file, key_file);
        }
        return -1;
    }
    X509 *x = read_cert(tls->cert_pem);
    EVP_PKEY *k = read_key(tls->key_pem);
    int ok = x != NULL && k != NULL && X509_check_private_key(x, k) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    if (!ok) {
        BASE_FAIL(e, BASE_ERR_IO, "%s and %s are not a matching PEM certificate and key", cert_file,
                  key_file);
        return -1;
    }
    snprintf(tls->ca_path, sizeof(tls->ca_path), "%s", cert_file);
    return 0;
}

int vmock_tls_prepare(struct vmock_tls *tls, const char *state_dir, const char *cert_file,
                      const char *key_file, const char *extra_dns, struct base_err *e)
{
    memset(tls, 0, sizeof(*tls));
    base_err_clear(e);
    if (cert_file != NULL) {
        return read_given(tls, cert_file, key_file, e);
    }
    snprintf(tls->ca_path, sizeof(tls->ca_path), "%s/ca.pem", state_dir);
    char path[4096];
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/server.pem", state_dir);
    int rc1 = vmock_file_read(path, PEM_MAX, &tls->cert_pem, &len, e);
    snprintf(path, sizeof(path), "%s/server.key", state_dir);
    int rc2 = rc1 == 0 ? vmock_file_read(path, PEM_MAX, &tls->key_pem, &len, e) : 1;
    if (rc1 < 0 || rc2 < 0) {
        return -1;
    }
    if (rc1 == 0 && rc2 == 0) {
        return 0;
    }
    free(tls->cert_pem);
    tls->cert_pem = NULL;

    X509 *ca = NULL;
    EVP_PKEY *ca_key = NULL;
    if (ca_load_or_make(state_dir, &ca, &ca_key, e) != 0) {
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        return -1;
    }
    char san[1024];
    int n = snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (extra_dns != NULL && extra_dns[0] != '\0') {
        char *copy = strdup(extra_dns);
        char *save = NULL;
        for (char *d = copy != NULL ? strtok_r(copy, ",", &save) : NULL; d != NULL;
             d = strtok_r(NULL, ",", &save)) {
            n += snprintf(san + n, sizeof(san) - (size_t)n, ",DNS:%s", d);
            if ((size_t)n >= sizeof(san)) {
                break;
            }
        }
        free(copy);
    }
    EVP_PKEY *key = ec_key();
    X509 *cert = key != NULL && (size_t)n < sizeof(san)
                     ? make_cert(key, "localhost", ca, ca_key, 1825, san)
                     : NULL;
    int rc = -1;
    if (cert == NULL) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot generate the server certificate (SANs: %s)", san);
    } else {
        tls->cert_pem = to_pem(cert, NULL);
        tls->key_pem = to_pem(NULL, key);
        if (write_pem(state_dir, "server.key", tls->key_pem, e) == 0 &&
            write_pem(state_dir, "server.pem", tls->cert_pem, e) == 0) {
            rc = 0;
        }
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

void vmock_tls_free(struct vmock_tls *tls)
{
    free(tls->cert_pem);
    free_secret(tls->key_pem);
    tls->cert_pem = NULL;
    tls->key_pem = NULL;
}
