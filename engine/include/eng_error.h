/*
 * eng_error.h - the engine's one table of error codes.
 *
 * Public entry points return 0 on success and -1 on failure, and set a
 * thread-local code that eng_errno() returns and eng_strerror() explains.
 * Library code never prints. Each code belongs to a category (the upper
 * byte) so that callers can branch on the kind of failure.
 */
#ifndef ENG_ERROR_H
#define ENG_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_API __attribute__((visibility("default")))

enum eng_err_category {
    ENG_CAT_OK = 0,
    ENG_CAT_USAGE = 1,    /* the caller passed something invalid */
    ENG_CAT_CRYPTO = 2,   /* authentication failed, bad key, crypto library */
    ENG_CAT_RESOURCE = 3, /* memory, locking, CPU support */
    ENG_CAT_IO = 4,       /* files */
    ENG_CAT_KEY = 5,      /* key management: providers, key table */
    ENG_CAT_VAULT = 6,    /* remote key vault */
    ENG_CAT_INTERNAL = 7,
};

/* X(name, category, number within category, message) */
#define ENG_ERRORS(X)                                                                             \
    X(ENG_OK, OK, 0, "success")                                                                   \
    X(ENG_ERR_NULL, USAGE, 1, "a required pointer argument is NULL")                              \
    X(ENG_ERR_ARG, USAGE, 2, "invalid argument")                                                  \
    X(ENG_ERR_KEY_LEN, USAGE, 3, "key has the wrong length for the mode")                         \
    X(ENG_ERR_XTS_KEY_HALVES_EQUAL, USAGE, 4,                                                     \
      "XTS key halves are equal (refused by SP 800-38E / FIPS 140)")                              \
    X(ENG_ERR_XTS_UNIT_SHORT, USAGE, 5, "XTS data unit shorter than 16 bytes")                    \
    X(ENG_ERR_XTS_UNIT_LONG, USAGE, 6, "XTS data unit longer than 2^20 blocks")                   \
    X(ENG_ERR_CBC_LEN, USAGE, 7, "CBC length is not a multiple of 16 bytes")                      \
    X(ENG_ERR_NONCE_LEN, USAGE, 8, "nonce/IV has the wrong length for the mode")                  \
    X(ENG_ERR_TAG_LEN, USAGE, 9, "GCM tag length not allowed (SP 800-38D 5.2.1.2)")               \
    X(ENG_ERR_ZERO_LEN, USAGE, 10, "zero-length data unit")                                       \
    X(ENG_ERR_MODE, USAGE, 11, "unknown cipher mode")                                             \
    X(ENG_ERR_BACKEND, USAGE, 12, "unknown back end name")                                        \
    X(ENG_ERR_ARCH, USAGE, 13, "unknown CPU architecture name")                                   \
    X(ENG_ERR_ENV, USAGE, 14, "invalid value in an ENG_* environment variable")                   \
    X(ENG_ERR_TOO_LONG, USAGE, 15, "length too large for the mode")                               \
    X(ENG_ERR_GEOMETRY, USAGE, 16,                                                                \
      "store geometry out of range (unit size 512..65536, a power of two; extent units "          \
      "1..number of units; data file at most 1 PiB)")                                             \
    X(ENG_ERR_AUTH, CRYPTO, 1, "authentication failed")                                           \
    X(ENG_ERR_CRYPTO_LIB, CRYPTO, 2, "the crypto library reported an error")                      \
    X(ENG_ERR_RANDOM, CRYPTO, 3, "random number generator failed")                                \
    X(ENG_ERR_NOMEM, RESOURCE, 1, "out of memory")                                                \
    X(ENG_ERR_MLOCK, RESOURCE, 2, "could not lock key memory (ENG_MLOCK=require)")                \
    X(ENG_ERR_UNSUPPORTED, RESOURCE, 3, "back end does not support this mode")                    \
    X(ENG_ERR_CPU, RESOURCE, 4, "back end or path not available on this CPU")                     \
    X(ENG_ERR_INTERNAL, INTERNAL, 1, "internal error")                                            \
    /* IO, KEY and VAULT codes: added by the store, key and vault modules below. */               \
    /* Store, key table, SMK provider, backups, temporary files (engine/src/store*.c ...) */      \
    X(ENG_ERR_IO, IO, 1, "file read, write or sync failed")                                       \
    X(ENG_ERR_NO_STORE, IO, 2, "no store at this path")                                           \
    X(ENG_ERR_EXISTS, IO, 3, "the target already exists")                                         \
    X(ENG_ERR_STORE_CORRUPT, IO, 4, "store files are corrupt or inconsistent")                    \
    X(ENG_ERR_STORE_BUSY, IO, 5, "store is open in another process")                              \
    X(ENG_ERR_RANGE, IO, 6, "data unit or byte range outside the store")                          \
    X(ENG_ERR_BACKUP_TRUNCATED, IO, 7, "backup stream is truncated")                              \
    X(ENG_ERR_BACKUP_CORRUPT, IO, 8, "backup stream is corrupt or has been tampered with")        \
    X(ENG_ERR_TMPFILE, IO, 9, "temporary file failed (closed, tampered or I/O error)")            \
    X(ENG_ERR_NONCE_EXHAUSTED, IO, 10, "GCM nonce space of this store is exhausted")              \
    X(ENG_ERR_ANCHOR, IO, 11,                                                                     \
      "freshness anchor unusable (folder not private, file corrupt, or write failed)")            \
    X(ENG_ERR_READ_ONLY, IO, 12, "store was opened read-only")                                    \
    X(ENG_ERR_NOT_REGULAR, IO, 13,                                                                \
      "not a regular file (a FIFO, device, folder or symbolic link stands in its place)")         \
    X(ENG_ERR_NO_SPACE, IO, 18, "no space left on device (disk full or quota reached)")           \
    X(ENG_ERR_INACCESSIBLE, KEY, 1,                                                               \
      "store is inaccessible: the key encryption key is gone, disabled or not permitted")         \
    X(ENG_ERR_KEYTABLE_CORRUPT, KEY, 2, "key table is corrupt (checksum or structure)")           \
    X(ENG_ERR_KEYTABLE_TRUNCATED, KEY, 3, "key table is truncated")                               \
    X(ENG_ERR_KEYTABLE_AUTH, KEY, 4, "key table failed its MAC check (modified without the key)") \
    X(ENG_ERR_KEYFILE_CORRUPT, KEY, 5, "key file is corrupt or truncated")                        \
    X(ENG_ERR_PERM_LOOSE, KEY, 6,                                                                 \
      "secret file permissions are looser than 0600 (group or others have access)")               \
    X(ENG_ERR_PERM_OWNER, KEY, 7, "secret file is not owned by the current user")                 \
    X(ENG_ERR_KEK_NOT_FOUND, KEY, 8, "key encryption key (or its version) not found")             \
    X(ENG_ERR_KEK_DISABLED, KEY, 9, "key encryption key is disabled")                             \
    X(ENG_ERR_KEK_FORBIDDEN, KEY, 10, "not permitted to use the key encryption key")              \
    X(ENG_ERR_UNWRAP, KEY, 11, "could not unwrap a data encryption key (wrong KEK or tampered)")  \
    X(ENG_ERR_WRAPPED_LEN, KEY, 12, "wrapped key is empty or longer than ENG_WRAPPED_MAX")        \
    X(ENG_ERR_KEK_MISMATCH, KEY, 13, "key table was written under another KEK provider or key")   \
    X(ENG_ERR_KEYTABLE_ROLLBACK, KEY, 14,                                                         \
      "key table is older than one this store has used (rolled back)")                            \
    X(ENG_ERR_KEK_EXPIRED, KEY, 17,                                                               \
      "key encryption key is expired (past its exp date): it unwraps, it wraps no new key")       \
    X(ENG_ERR_KEK_NOT_YET_VALID, KEY, 18,                                                         \
      "key encryption key is not yet valid (before its nbf date): it wraps no new key")           \
    X(ENG_ERR_KEK_URL_MISMATCH, KEY, 19,                                                          \
      "key table names the same key name at another vault URL (see cmk set-vault-url)")           \
    X(ENG_ERR_VAULT_THROTTLED, VAULT, 1, "key vault throttled the request (HTTP 429)")            \
    X(ENG_ERR_VAULT_UNREACHABLE, VAULT, 2, "key vault unreachable (network, TLS or timeout)")     \
    X(ENG_ERR_VAULT_AUTH, VAULT, 3, "key vault rejected the credentials (HTTP 401)")              \
    X(ENG_ERR_VAULT_PROTOCOL, VAULT, 4, "key vault sent an unexpected response")                  \
    X(ENG_ERR_VAULT_SERVER, VAULT, 5, "key vault reported a server error (HTTP 5xx)")             \
    X(ENG_ERR_VAULT_INSECURE, VAULT, 6,                                                           \
      "plain http:// vault URL refused: the bearer token would travel in clear text")             \
    X(ENG_ERR_VAULT_TLS_UNTRUSTED, VAULT, 7,                                                      \
      "key vault's TLS certificate is not trusted (not signed by the CA, expired, or for "        \
      "another host name)")                                                                       \
    X(ENG_ERR_VAULT_CA_FILE, VAULT, 8,                                                            \
      "vault CA file is missing, unreadable or holds no PEM certificate")                         \
    X(ENG_ERR_VAULT_TLS, VAULT, 9, "TLS handshake with the key vault failed")                     \
    X(ENG_ERR_VAULT_URL_USERINFO, VAULT, 10,                                                      \
      "vault URL holds a user name or password (user:pw@host): refused, so that it is "           \
      "never stored or printed; give the token with --vault-token-file")

#define ENG_ERR_ENUM_(name, cat, num, msg) name = (ENG_CAT_##cat << 8) | (num),
enum eng_err { ENG_ERRORS(ENG_ERR_ENUM_) };
#undef ENG_ERR_ENUM_

/* eng_errno returns the code of the last failure in this thread (ENG_OK if none since
 * eng_clear_error). */
ENG_API int eng_errno(void);
/* eng_strerror returns a static message for |code|; never NULL. */
ENG_API const char *eng_strerror(int code);
/* eng_strerror_name returns the code's symbolic name ("ENG_ERR_AUTH"); never NULL. */
ENG_API const char *eng_error_name(int code);
/* eng_error_category returns the category of |code|. */
ENG_API enum eng_err_category eng_error_category(int code);
/* eng_error_where returns "file:line" of the last failure in this thread (debugging aid). */
ENG_API const char *eng_error_where(void);
/*
 * eng_error_file returns the path of the file the last failure in this
 * thread concerns (a store file, key file or backup that is missing, not a
 * regular file, or unreadable), or "" when that failure named no file.
 */
ENG_API const char *eng_error_file(void);
/* eng_clear_error resets this thread's code to ENG_OK. */
ENG_API void eng_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif /* ENG_ERROR_H */
