/*
 * eng_vault.h - the customer-managed KEK provider: an RSA key in an Azure
 * Key Vault compatible service (the real one, or vault-mock), reached over
 * HTTPS with libcurl.
 *
 * Connections are kept alive and reused: one for a caller at a time, and a
 * second when two threads call at once (a store's open unwraps its MAC key
 * and DEKs two at a time: each unwrap is an RSA private operation in the
 * vault, and two run on two cores). TLS is verified against the given
 * CA; requests carry the identity's bearer token, so plain http:// URLs are
 * refused unless the caller sets insecure_http; every request has a
 * timeout; transient failures (429, 5xx, connect/timeouts, a failed TLS
 * handshake) are retried a bounded number of times with exponential backoff
 * and jitter that honours Retry-After, all within one deadline per call.
 * Vault answers map to engine errors (see eng_keys.h):
 *   404 -> ENG_ERR_KEK_NOT_FOUND; 403 on a disabled key ->
 *   ENG_ERR_KEK_DISABLED; 403 on an expired key (innererror KeyExpired) ->
 *   ENG_ERR_KEK_EXPIRED; 403 before nbf (KeyNotYetValid) ->
 *   ENG_ERR_KEK_NOT_YET_VALID; other 403 -> ENG_ERR_KEK_FORBIDDEN;
 *   401 -> ENG_ERR_VAULT_AUTH; 429 -> ENG_ERR_VAULT_THROTTLED;
 *   5xx -> ENG_ERR_VAULT_SERVER; a server certificate the CA does not
 *   vouch for (or for another host name) -> ENG_ERR_VAULT_TLS_UNTRUSTED;
 *   a CA file curl cannot use -> ENG_ERR_VAULT_CA_FILE; another TLS
 *   handshake failure -> ENG_ERR_VAULT_TLS; network/timeout ->
 *   ENG_ERR_VAULT_UNREACHABLE; 400 on unwrapkey -> ENG_ERR_UNWRAP;
 *   anything malformed -> ENG_ERR_VAULT_PROTOCOL.
 *
 * Key attributes (as the service): a GET that returns the key with
 * attributes.enabled = false gives ENG_ERR_KEK_DISABLED; with the current
 * time before attributes.nbf, ENG_ERR_KEK_NOT_YET_VALID; on or after
 * attributes.exp, ENG_ERR_KEK_EXPIRED. Such a version wraps no new key (the
 * service refuses wrapKey outside nbf..exp) but still unwraps (the service
 * allows unwrapKey): a store keeps reading its data, and refuses writes
 * and every operation that wraps (see eng_store.h).
 *
 * Retry-After: delta-seconds or an HTTP-date, parsed with range checks and
 * clamped to one day; when it asks for more than the time left before the
 * call's deadline the call gives up at once with ENG_ERR_VAULT_THROTTLED.
 * Each wait is also capped at backoff_max_ms.
 *
 * Counters (requests, retries, calls, connections, latency, calls in
 * flight): eng_kek_stats (eng_keys.h), as for any provider.
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
    long deadline_ms;        /* one call, retries and waits included; 0 = 30000 */
    int insecure_http;       /* 1: accept an http:// URL (the token travels in clear text) */
};

/*
 * eng_vault_open returns a provider for the key |cfg->key_name| in the vault
 * (the name in the kids the vault returns is compared ignoring case, as Key
 * Vault's key names are).
 * It does not contact the vault (the first get does); it reads |ca_file|,
 * which must be a readable regular file with at least one PEM certificate.
 * Copies what it needs from |cfg|. NULL on failure: ENG_ERR_NULL,
 * ENG_ERR_ARG (bad URL, key name or algorithm: RSA-OAEP-256 or RSA-OAEP;
 * RSA1_5 is refused for wrapping), ENG_ERR_VAULT_INSECURE (an http:// URL
 * without insecure_http), ENG_ERR_VAULT_URL_USERINFO (a user name or
 * password in the URL: "https://user:pw@host"), ENG_ERR_VAULT_CA_FILE (|ca_file| missing,
 * unreadable, not a regular file, or without a PEM certificate),
 * ENG_ERR_NOMEM. Free with eng_kek_provider_free.
 */
ENG_API struct eng_kek_provider *eng_vault_open(const struct eng_vault_config *cfg);

/* The longest bearer token eng_vault_open and eng_vault_read_token take. */
#define ENG_VAULT_TOKEN_MAX 4096

/*
 * eng_vault_read_token reads the bearer token in the file |path| into |out|
 * (NUL-terminated; a buffer of ENG_VAULT_TOKEN_MAX + 1 bytes always fits).
 * The file must be the caller's alone, like an SMK key file: a regular file
 * (ENG_ERR_NOT_REGULAR otherwise, a FIFO included, without waiting), not a
 * symbolic link (ENG_ERR_NOT_REGULAR),
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
