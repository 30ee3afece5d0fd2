/*
 * store.h - the vault's keys: names, versions, attributes, soft-deleted
 * keys, kept in memory (private keys parsed as EVP_PKEY) and written to
 * STATE/vault.json crash-safely on every change, private parts sealed under
 * the master key.
 *
 * Locking: readers (crypto operations, get, list) hold the read lock;
 * anything that changes the store holds the write lock and persists before
 * releasing it. Functions below say which lock they expect.
 */
#ifndef VMOCK_STORE_H
#define VMOCK_STORE_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base_err.h"
#include "persist.h"

#define VMOCK_NAME_MAX    127
#define VMOCK_VERSION_LEN 32

/* key_ops bits (JSON names: encrypt decrypt sign verify wrapKey unwrapKey import export). */
enum vmock_keyop {
    VMOCK_KOP_ENCRYPT = 1u << 0,
    VMOCK_KOP_DECRYPT = 1u << 1,
    VMOCK_KOP_SIGN = 1u << 2,
    VMOCK_KOP_VERIFY = 1u << 3,
    VMOCK_KOP_WRAP = 1u << 4,
    VMOCK_KOP_UNWRAP = 1u << 5,
    VMOCK_KOP_IMPORT = 1u << 6,
    VMOCK_KOP_EXPORT = 1u << 7,
};
/* The service's default for a new RSA key: the six crypto operations. */
#define VMOCK_KOP_DEFAULT 0x3fu

/*
 * vmock_keyops_parse turns a JSON array of key_ops names into a bit mask.
 * Returns 0, or -1 when |arr| is not an array of known names.
 */
int vmock_keyops_parse(const cJSON *arr, unsigned *mask);
/* vmock_keyops_json returns a new JSON array for |mask| (caller owns it), or NULL. */
cJSON *vmock_keyops_json(unsigned mask);

/* What decides which operations a version may do. */
struct vmock_key_attrs {
    unsigned key_ops;
    int enabled;
    int has_nbf;
    int has_exp;
    int64_t nbf;
    int64_t exp;
};

/* One version of a key. */
struct vmock_kver {
    char version[VMOCK_VERSION_LEN + 1];
    EVP_PKEY *pkey;
    char *n_b64; /* public modulus, unpadded base64url */
    char *e_b64;
    int bits;
    int hsm; /* kty RSA-HSM */
    struct vmock_key_attrs attr;
    int64_t created;
    int64_t updated;
    cJSON *tags;     /* object of strings, never NULL */
    uint8_t *sealed; /* private key sealed under the master key */
    size_t sealed_len;
};

/* A named key and its versions (oldest first). */
struct vmock_key {
    char name[VMOCK_NAME_MAX + 1];
    struct vmock_kver **versions;
    size_t n_versions;
    size_t cap_versions;
    int deleted;
    int64_t deleted_date;
    int64_t purge_date;
};

struct vmock_store {
    pthread_rwlock_t lock;
    struct vmock_key **keys; /* sorted by name, case-insensitively */
    size_t n_keys;
    size_t cap_keys;
    char *dir;
    uint8_t master[VMOCK_MASTER_KEY_BYTES];
    int retention_days;
    int purge_protection;
};

/* What a crypto operation needs from a version, detached from the lock. */
struct vmock_key_ref {
    EVP_PKEY *pkey; /* one reference; vmock_key_ref_release drops it */
    char version[VMOCK_VERSION_LEN + 1];
    int bits;
    int hsm;
    struct vmock_key_attrs attr;
};

/*
 * vmock_store_open loads (or starts empty) the store in |dir|: master key,
 * then vault.json. Returns the store (caller frees with vmock_store_free)
 * or NULL with |e| filled.
 */
struct vmock_store *vmock_store_open(const char *dir, int retention_days, int purge_protection,
                                     struct base_err *e);
/* vmock_store_free releases everything and wipes the master key; NULL is a no-op. */
void vmock_store_free(struct vmock_store *st);

void vmock_store_rdlock(struct vmock_store *st);
void vmock_store_wrlock(struct vmock_store *st);
void vmock_store_unlock(struct vmock_store *st);

/* vmock_name_valid is 1 when |name| matches ^[0-9a-zA-Z-]{1,127}$. */
int vmock_name_valid(const char *name);

/* vmock_store_find returns the key named |name| (deleted or not) or NULL. Any lock. */
struct vmock_key *vmock_store_find(struct vmock_store *st, const char *name);
/* vmock_store_index_after returns the index of the first key whose name sorts after |name|. Any
 * lock. */
size_t vmock_store_index_after(const struct vmock_store *st, const char *name);

/*
 * vmock_key_version returns the version |version| of |key|, or the latest
 * when |version| is NULL or empty; NULL when there is no such version.
 */
struct vmock_kver *vmock_key_version(const struct vmock_key *key, const char *version);

/*
 * vmock_kver_new makes a version around |pkey| (taking ownership of it on
 * success) with a fresh 32-hex version id, created = updated = |now|,
 * enabled, no tags. Returns it or NULL (then |pkey| is still the caller's).
 */
struct vmock_kver *vmock_kver_new(EVP_PKEY *pkey, int hsm, unsigned key_ops, int64_t now);
/* vmock_kver_free frees a version not (or no longer) in the store; NULL is a no-op. */
void vmock_kver_free(struct vmock_kver *kv);

/*
 * vmock_store_add_version seals |kv| and appends it to key |name|, creating
 * the key if needed. Write lock. Returns the key, or NULL (nothing changed;
 * |kv| stays the caller's).
 */
struct vmock_key *vmock_store_add_version(struct vmock_store *st, const char *name,
                                          struct vmock_kver *kv);
/*
 * vmock_store_undo_add removes the last version of |key| (and the key when
 * it was its only version) after a failed persist. Write lock.
 */
void vmock_store_undo_add(struct vmock_store *st, struct vmock_key *key);

/* vmock_store_delete soft-deletes |key| at |now|. Write lock. */
void vmock_store_delete(struct vmock_store *st, struct vmock_key *key, int64_t now);
/* vmock_store_purge removes and frees |key|. Write lock. */
void vmock_store_purge(struct vmock_store *st, struct vmock_key *key);
/*
 * vmock_store_detach takes |key| out of the store without freeing it (a
 * purge not yet saved); vmock_store_reattach puts it back (cannot fail
 * right after a detach: the room is still there); vmock_store_key_free
 * frees a detached key. Write lock.
 */
void vmock_store_detach(struct vmock_store *st, struct vmock_key *key);
void vmock_store_reattach(struct vmock_store *st, struct vmock_key *key);
void vmock_store_key_free(struct vmock_key *key);
/*
 * vmock_store_expire purges deleted keys whose scheduled purge date has
 * passed. Write lock. Returns how many were purged.
 */
size_t vmock_store_expire(struct vmock_store *st, int64_t now);

/*
 * vmock_store_persist writes the whole store to |dir|/vault.json
 * crash-safely. Write lock. Returns 0, or -1 with |e| filled.
 */
int vmock_store_persist(struct vmock_store *st, struct base_err *e);

/*
 * vmock_store_acquire fills |ref| for version |version| (latest if empty) of
 * the live key |name|. Takes and drops the read lock itself. Returns 0, or
 * -1 when there is no such live key or version.
 */
int vmock_store_acquire(struct vmock_store *st, const char *name, const char *version,
                        struct vmock_key_ref *ref);
/* vmock_key_ref_release drops the key reference held by |ref|. */
void vmock_key_ref_release(struct vmock_key_ref *ref);

/* vmock_store_recovery_level returns "Recoverable", "CustomizedRecoverable+Purgeable", ... */
const char *vmock_store_recovery_level(const struct vmock_store *st);

#endif /* VMOCK_STORE_H */
