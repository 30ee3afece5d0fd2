/*
 * eng_keys.h - the envelope: data encryption keys (DEKs) and the key
 * encryption key (KEK) provider interface.
 *
 * A DEK is a fresh random AES-256 key (64 bytes for XTS: two distinct
 * halves) from OpenSSL's private DRBG. It only ever leaves memory wrapped by
 * a KEK. A KEK provider is a struct of function pointers plus opaque state,
 * so that the store never knows which provider it has:
 *
 *   smk    service-managed key: a local key file (mode 0600, owner only)
 *          holding AES-256 KEK versions; wrap = AES-256 key wrap with
 *          padding (RFC 5649, OpenSSL "AES-256-WRAP-PAD"). The default.
 *   vault  customer-managed key: RSA KEK in the key vault over HTTPS (not in
 *          this module; it fills the same struct).
 *
 * Every wrapped DEK is recorded with the eng_kek_ref that wrapped it
 * (provider, key id, version, algorithm), so a store can tell which KEK
 * version each record needs, and an auditor can see it.
 *
 * Error mapping (what a provider must report, so that callers can branch):
 *   ENG_ERR_KEK_NOT_FOUND      key or version does not exist (vault 404, deleted key file)
 *   ENG_ERR_KEK_DISABLED       key or version exists but is disabled (vault 403
 * "disabled"/attributes) ENG_ERR_KEK_EXPIRED        the version is past its expiry (vault
 * attributes.exp, 403 KeyExpired): get and wrap fail, unwrap still works ENG_ERR_KEK_NOT_YET_VALID
 * the version is before its nbf: as expired ENG_ERR_KEK_FORBIDDEN      the caller lacks
 * get/wrapKey/unwrapKey (vault 403), or the key file is not the caller's (ENG_ERR_PERM_* are used
 * for that) ENG_ERR_VAULT_THROTTLED    vault 429 (transient) ENG_ERR_VAULT_UNREACHABLE
 * connect/timeout (transient); ENG_ERR_VAULT_TLS: a TLS handshake failed (transient)
 *   ENG_ERR_VAULT_TLS_UNTRUSTED, ENG_ERR_VAULT_CA_FILE, ENG_ERR_VAULT_INSECURE: configuration
 *   ENG_ERR_VAULT_AUTH, ENG_ERR_VAULT_SERVER, ENG_ERR_VAULT_PROTOCOL  other vault failures
 *   ENG_ERR_UNWRAP             the KEK rejected the wrapped bytes (integrity check failed)
 * eng_kek_error_is_revocation() and eng_kek_error_is_transient() classify them.
 */
#ifndef ENG_KEYS_H
#define ENG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "eng_cipher.h"
#include "eng_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_WRAPPED_MAX      1024U /* RSA-4096 OAEP wrap = 512 bytes; room to spare */
#define ENG_KEK_PROVIDER_MAX 16U   /* "smk", "vault", with the NUL */
#define ENG_KEK_ID_MAX       256U /* key identifier (vault key URL without version), with the NUL */
#define ENG_KEK_VERSION_MAX  64U  /* version string, with the NUL */
#define ENG_KEK_ALG_MAX      32U  /* wrap algorithm name, with the NUL */
#define ENG_DEK_MAX_BYTES    64U  /* XTS */

/* Which KEK (and version, and how) wrapped a DEK; all fields NUL-terminated. */
struct eng_kek_ref {
    char provider[ENG_KEK_PROVIDER_MAX];
    char key_id[ENG_KEK_ID_MAX];
    char version[ENG_KEK_VERSION_MAX];
    char alg[ENG_KEK_ALG_MAX];
};

/*
 * Counters of a KEK provider, for benchmarks and audits (eng_kek_stats).
 * A provider that reaches a key service over a network (vault) counts what
 * its transport did; a local provider (smk) sends no request and reports 0
 * in every field: "not applicable", not "nothing happened yet".
 */
struct eng_kek_stats {
    uint64_t requests;             /* requests sent to the key service, retries included */
    uint64_t retries;              /* tries repeated after a transient failure */
    uint64_t gets, wraps, unwraps; /* provider calls that went to the service */
    uint64_t connects;             /* new connections (keep-alive reuse keeps this low) */
    uint64_t latency_us_total;     /* summed over requests: send to answer, in microseconds */
    uint64_t latency_us_max;       /* the slowest request, in microseconds */
    int last_status;               /* the service's status of the last answer (HTTP); 0: none yet */
    int max_concurrent;            /* most calls in flight at once (each on its own connection) */
};

/*
 * A KEK provider. All functions return 0 on success, -1 with the engine
 * error set (see the mapping above). |state| is the provider's own.
 *
 *   get       live check: the key (version |version|, or the current version
 *             when NULL) exists, is enabled and may be used. Fills |out|
 *             with the key's id and that version (the current one when NULL).
 *             A version outside its validity window (vault exp / nbf) fails
 *             with ENG_ERR_KEK_EXPIRED / ENG_ERR_KEK_NOT_YET_VALID: it must
 *             not wrap, but unwrap may still be called with it.
 *   wrap      wraps |dek| under exactly the version in |kek| (from get).
 *             Writes at most |max_out_len| bytes; *out_len gets the length.
 *   unwrap    the inverse; |kek| is the record's ref. ENG_ERR_UNWRAP if the
 *             wrapped bytes do not authenticate under that version.
 *   describe  without any I/O, the ref that would be recorded for |version|
 *             (NULL = the provider's configured key, version left empty):
 *             provider name, key id, version, wrap algorithm.
 *   stats     fills |out| with the provider's counters (struct eng_kek_stats;
 *             |out| is zeroed before the call). May be NULL: then every
 *             counter reads 0.
 *   free      releases |state| (wiping any key material). May be NULL.
 *
 * |concurrency|: how many calls the provider serves at once to different
 * threads (0 or 1: calls are better made one after another). A store's
 * open keeps up to that many unwraps in flight (at most 9).
 */
struct eng_kek_provider {
    const char *name;
    void *state;
    int (*get)(void *state, const char *version, struct eng_kek_ref *out);
    int (*wrap)(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                size_t max_out_len, const uint8_t *dek, size_t dek_len);
    int (*unwrap)(void *state, const struct eng_kek_ref *kek, uint8_t *out, size_t *out_len,
                  size_t max_out_len, const uint8_t *in, size_t in_len);
    int (*describe)(void *state, const char *version, struct eng_kek_ref *out);
    void (*free)(void *state);
    int concurrency;
    int (*stats)(void *state, struct eng_kek_stats *out);
};

/*
 * eng_kek_get, eng_kek_wrap, eng_kek_unwrap, eng_kek_describe call the
 * provider after checking arguments (NULL, DEK length 1..ENG_DEK_MAX_BYTES,
 * wrapped length 1..ENG_WRAPPED_MAX) and check what it returns: a wrap
 * longer than ENG_WRAPPED_MAX gives ENG_ERR_WRAPPED_LEN; a provider that
 * fails without setting an error gives ENG_ERR_INTERNAL. |out| of unwrap
 * should be secure memory; it is wiped on failure.
 */
ENG_API int eng_kek_get(struct eng_kek_provider *p, const char *version, struct eng_kek_ref *out);
ENG_API int eng_kek_wrap(struct eng_kek_provider *p, const struct eng_kek_ref *kek, uint8_t *out,
                         size_t *out_len, size_t max_out_len, const uint8_t *dek, size_t dek_len);
ENG_API int eng_kek_unwrap(struct eng_kek_provider *p, const struct eng_kek_ref *kek, uint8_t *out,
                           size_t *out_len, size_t max_out_len, const uint8_t *in, size_t in_len);
ENG_API int eng_kek_describe(struct eng_kek_provider *p, const char *version,
                             struct eng_kek_ref *out);

/*
 * eng_kek_stats fills |out| with the counters of any provider (a snapshot:
 * subtract two to count what happened in between). A provider without the
 * stats operation, and the SMK provider, report 0 in every field. 0, or -1
 * with ENG_ERR_NULL when |p| or |out| is NULL; a provider that fails without
 * setting an error gives ENG_ERR_INTERNAL (|out| is zeroed on failure).
 */
ENG_API int eng_kek_stats(const struct eng_kek_provider *p, struct eng_kek_stats *out);

/* eng_kek_provider_free calls p->free(p->state) and frees |p|. NULL is a no-op. */
ENG_API void eng_kek_provider_free(struct eng_kek_provider *p);

/*
 * eng_kek_error_is_revocation returns 1 for codes meaning the customer took
 * the key away (NOT_FOUND, DISABLED, FORBIDDEN, PERM_*, KEYFILE_CORRUPT,
 * VAULT_AUTH): a store must become inaccessible at once. 0 otherwise.
 */
ENG_API int eng_kek_error_is_revocation(int code);
/*
 * eng_kek_error_is_transient returns 1 for THROTTLED, UNREACHABLE, VAULT_SERVER,
 * VAULT_TLS; else 0. (KEK_EXPIRED and KEK_NOT_YET_VALID are neither: the key
 * still unwraps, so a store stays readable and refuses what wraps or writes.)
 */
ENG_API int eng_kek_error_is_transient(int code);

/* eng_dek_len returns the DEK size |mode| needs: 64 for XTS, else 32. */
ENG_API size_t eng_dek_len(enum eng_mode mode);

/*
 * eng_dek_generate fills |out| (eng_dek_len(mode) bytes, caller's secure
 * memory) with a fresh key from OpenSSL's private DRBG (RAND_priv_bytes);
 * for XTS it draws again until the halves differ. 0, or -1 with
 * ENG_ERR_RANDOM / ENG_ERR_KEY_LEN (max_out_len too small). Wipes |out| on failure.
 */
ENG_API int eng_dek_generate(enum eng_mode mode, uint8_t *out, size_t max_out_len);

/*
 * Service-managed key (SMK) provider.
 *
 * eng_smk_open returns a provider for the key file at |path|. With
 * |create| != 0 a missing file is created (mode 0600, O_EXCL, fsynced, the
 * folder fsynced) with one fresh version. Every operation re-reads the file
 * and refuses it, by the rule of every secret file the engine reads (the
 * vault token file's too, see eng_vault_read_token), when its mode grants
 * anything to group or others (ENG_ERR_PERM_LOOSE), its owner is not the
 * effective user (ENG_ERR_PERM_OWNER), it is a symbolic link
 * or not a regular file (ENG_ERR_NOT_REGULAR,
 * a FIFO included, without waiting); a deleted file gives ENG_ERR_KEK_NOT_FOUND. The key
 * id is 32 hex digits drawn at creation, each version another 32 hex digits.
 * NULL on failure with the error set. Free with eng_kek_provider_free.
 */
ENG_API struct eng_kek_provider *eng_smk_open(const char *path, int create);

/*
 * eng_smk_rotate adds a new KEK version to the key file at |path| and makes
 * it current (old versions still unwrap). The file is replaced atomically
 * (write, fsync, rename, fsync folder). Writes the new version into
 * |out_version| (>= ENG_KEK_VERSION_MAX bytes) when it is not NULL.
 */
ENG_API int eng_smk_rotate(const char *path, char *out_version, size_t max_out_len);

/*
 * eng_smk_set_enabled enables (|enabled| = 1) or disables version |version|
 * (NULL = current) of the key file at |path|, atomically. A store whose
 * records need a disabled version becomes inaccessible at its next check.
 */
ENG_API int eng_smk_set_enabled(const char *path, const char *version, int enabled);

#define ENG_SMK_ALG           "AES-256-KWP" /* RFC 5649 key wrap with padding */
#define ENG_SMK_PROVIDER_NAME "smk"

#ifdef __cplusplus
}
#endif
#endif /* ENG_KEYS_H */
