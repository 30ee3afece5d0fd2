/*
 * eng_vault.h - the customer-managed KEK provider: an RSA key in an Azure
 * Key Vault compatible service (the real one, or vault-mock), reached over
 * HTTPS with libcurl.
 *
 * Connections are kept alive and reused: one for a caller at a time, and a
 * second when two threads call at once (a store's open unwraps its MAC key
 * and DEKs two at a time: each unwrap is an RSA private operation in the
 * vault, and two run on two cores). TLS is verified against the given
 * CA; requests carry the identity's bearer token; every request has a
 * timeout; transient failures (429, 5xx, connect/TLS/timeouts) are retried a
 * bounded number of times with exponential backoff and jitter that honours
 * Retry-After. Vault answers map to engine errors (see eng_keys.h):
 *   404 -> ENG_ERR_KEK_NOT_FOUND; 403 on a disabled / not-yet-valid /
 *   expired key -> ENG_ERR_KEK_DISABLED; other 403 -> ENG_ERR_KEK_FORBIDDEN;
 *   401 -> ENG_ERR_VAULT_AUTH; 429 -> ENG_ERR_VAULT_THROTTLED;
 *   5xx -> ENG_ERR_VAULT_SERVER; network/TLS/timeout ->
 *   ENG_ERR_VAULT_UNREACHABLE; 400 on unwrapkey -> ENG_ERR_UNWRAP;
 *   anything malformed -> ENG_ERR_VAULT_PROTOCOL.
 * A GET that returns the key with attributes.enabled = false also gives
 * ENG_ERR_KEK_DISABLED.
 */
#ifndef ENG_VAULT_H
#define ENG_VAULT_H

#include "eng_keys.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eng_vault_config {
    const char *vault_url;   /* "https://127.0.0.1:8443" (no trailing path) */
    const char *key_name;    /* [0-9a-zA-Z-]+ */
    const char *token;       /* bearer token of the identity (kept, wiped on free) */
    const char *ca_file;     /* PEM file of the CA to trust; NULL = the system's */
    const char *alg;         /* wrap algorithm; NULL = "RSA-OAEP-256" */
    const char *api_version; /* NULL = "7.4" */
    long timeout_ms;         /* per request, connect included; 0 = 5000 */
    int max_retries;         /* retries after the first try for transient errors; -1 = 3 */
    long backoff_base_ms;    /* first backoff; 0 = 50 (doubles, with jitter) */
    long backoff_max_ms;     /* cap of one wait, Retry-After included; 0 = 2000 */
};

/*
 * eng_vault_open returns a provider for the key |cfg->key_name| in the vault.
 * It does not contact the vault (the first get does). Copies what it needs
 * from |cfg|. NULL on failure: ENG_ERR_NULL, ENG_ERR_ARG (bad URL, key name
 * or algorithm: RSA-OAEP-256 or RSA-OAEP; RSA1_5 is refused for wrapping),
 * ENG_ERR_NOMEM. Free with eng_kek_provider_free.
 */
ENG_API struct eng_kek_provider *eng_vault_open(const struct eng_vault_config *cfg);

/* Counters of one vault provider, for benchmarks and audits. */
struct eng_vault_stats {
    uint64_t requests;    /* HTTP requests sent, retries included */
    uint64_t retries;
    uint64_t gets, wraps, unwraps;
    uint64_t connects;    /* new connections (keep-alive reuse keeps this low) */
    int last_http_status;
    int max_concurrent;   /* most calls in flight at once (each on its own connection) */
};

/* eng_vault_stats fills |out| for a provider from eng_vault_open; -1 (ENG_ERR_ARG) for others. */
ENG_API int eng_vault_stats(const struct eng_kek_provider *p, struct eng_vault_stats *out);

/* The longest bearer token eng_vault_open and eng_vault_read_token take. */
#define ENG_VAULT_TOKEN_MAX 4096

/*
 * eng_vault_read_token reads the bearer token in the file |path| into |out|
 * (NUL-terminated; a buffer of ENG_VAULT_TOKEN_MAX + 1 bytes always fits).
 * The file must be the caller's alone, like an SMK key file: a regular file
 * (ENG_ERR_ARG otherwise), not a symbolic link (ENG_ERR_KEK_FORBIDDEN),
 * owned by the effective user (ENG_ERR_PERM_OWNER), no group or other
 * permission bits (ENG_ERR_PERM_LOOSE, e.g. 0640, 0604 or 0644). Trailing
 * white space (a line end) is dropped; the rest must be one printable word
 * (ENG_ERR_ARG if empty or with spaces or control bytes; ENG_ERR_TOO_LONG
 * past ENG_VAULT_TOKEN_MAX or |max_out_len| - 1). A missing or unreadable
 * file gives ENG_ERR_IO. 0 or -1; every copy the function made is wiped,
 * and |out| is an empty string on failure. Wipe |out| after use.
 */
ENG_API int eng_vault_read_token(const char *path, char *out, size_t max_out_len);

#ifdef __cplusplus
}
#endif
#endif /* ENG_VAULT_H */
