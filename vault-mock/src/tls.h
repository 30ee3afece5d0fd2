/*
 * tls.h - the vault's TLS identity: a private CA and a server certificate
 * for localhost / 127.0.0.1 made with OpenSSL on first start, or files
 * given on the command line.
 */
#ifndef VMOCK_TLS_H
#define VMOCK_TLS_H

#include <stddef.h>

#include "base_err.h"

struct vmock_tls {
    char *cert_pem;     /* server certificate chain, PEM */
    char *key_pem;      /* server private key, PEM (wiped on free) */
    char ca_path[4096]; /* what clients should trust */
};

/*
 * vmock_tls_prepare fills |tls|. With |cert_file| and |key_file| it reads
 * them (and |ca_path| is the certificate file). Otherwise it uses
 * STATE/ca.pem + STATE/server.pem / server.key, generating the CA (EC
 * P-256, 10 years) and a server certificate (subjectAltName DNS:localhost,
 * IP:127.0.0.1, IP:::1 plus |extra_dns|, comma-separated, may be NULL)
 * when missing. Returns 0, or -1 with |e| filled. Free with
 * vmock_tls_free.
 */
int vmock_tls_prepare(struct vmock_tls *tls, const char *state_dir, const char *cert_file,
                      const char *key_file, const char *extra_dns, struct base_err *e);
/* vmock_tls_free wipes the key and frees the PEM strings. */
void vmock_tls_free(struct vmock_tls *tls);

#endif /* VMOCK_TLS_H */
