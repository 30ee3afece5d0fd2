/*
 * store.c - in-memory key store: lookup, versions, soft delete, purge.
 * Loading and writing the state file is in state.c.
 */
#include "store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base_buf.h"
#include "base_codec.h"
#include "rsakey.h"
#include "store_internal.h"

static const char *const keyop_names[8] = {"encrypt", "decrypt",   "sign",   "verify",
                                           "wrapKey", "unwrapKey", "import", "export"};

int vmock_keyops_parse(const cJSON *arr, unsigned *mask)
{
    *mask = 0;
    if (!cJSON_IsArray(arr)) {
        return -1;
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || it->valuestring == NULL) {
            return -1;
        }
        unsigned bit = 0;
        for (unsigned i = 0; i < 8; i++) {
            if (strcasecmp(it->valuestring, keyop_names[i]) == 0) {
                bit = 1u << i;
            }
        }
        if (bit == 0) {
            return -1;
        }
        *mask |= bit;
    }
    return 0;
}

cJSON *vmock_keyops_json(unsigned mask)
{
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; arr != NULL && i < 8; i++) {
        if ((mask & (1u << i)) != 0) {
            cJSON *s = cJSON_CreateString(keyop_names[i]);
            if (s == NULL) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, s);
        }
    }
    return arr;
}

void vmock_store_rdlock(struct vmock_store *st)
{
    pthread_rwlock_rdlock(&st->lock);
}

void vmock_store_wrlock(struct vmock_store *st)
{
    pthread_rwlock_wrlock(&st->lock);
}

void vmock_store_unlock(struct vmock_store *st)
{
    pthread_rwlock_unlock(&st->lock);
}

int vmock_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > VMOCK_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* Binary search; returns the index of |name| or, negated minus one, where it would go. */
static long search(const struct vmock_store *st, const char *name)
{
    size_t lo = 0;
    size_t hi = st->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcasecmp(st->keys[mid]->name, name);
        if (c == 0) {
            return (long)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -(long)lo - 1;
}

struct vmock_key *vmock_store_find(struct vmock_store *st, const char *name)
{
    long i = search(st, name);
    return i >= 0 ? st->keys[i] : NULL;
}

size_t vmock_store_index_after(const struct vmock_store *st, const char *name)
{
    long i = search(st, name);
    return i >= 0 ? (size_t)i + 1 : (size_t)(-(i + 1));
}

struct vmock_kver *vmock_key_version(const struct vmock_key *key, const char *version)
{
    if (key->n_versions == 0) {
        return NULL;
    }
    if (version == NULL || version[0] == '\0') {
        return key->versions[key->n_versions - 1];
    }
    for (size_t i = 0; i < key->n_versions; i++) {
        if (strcasecmp(key->versions[i]->version, version) == 0) {
            return key->versions[i];
        }
    }
    return NULL;
}

struct vmock_kver *vmock_kver_new(EVP_PKEY *pkey, int hsm, unsigned key_ops, int64_t now)
{
    struct vmock_kver *kv = calloc(1, sizeof(*kv));
    if (kv == NULL) {
        return NULL;
    }
    uint8_t id[VMOCK_VERSION_LEN / 2];
    kv->n_b64 = vmock_rsa_public_b64(pkey, 'n');
    kv->e_b64 = vmock_rsa_public_b64(pkey, 'e');
    kv->tags = cJSON_CreateObject();
    if (kv->n_b64 == NULL || kv->e_b64 == NULL || kv->tags == NULL ||
        RAND_bytes(id, sizeof(id)) != 1) {
        free(kv->n_b64);
        free(kv->e_b64);
        cJSON_Delete(kv->tags);
        free(kv);
        return NULL;
    }
    base_hex(kv->version, id, sizeof(id));
    kv->pkey = pkey;
    kv->bits = vmock_rsa_bits(pkey);
    kv->hsm = hsm;
    kv->attr.key_ops = key_ops;
    kv->attr.enabled = 1;
    kv->created = now;
    kv->updated = now;
    return kv;
}

void vmock_kver_free(struct vmock_kver *kv)
{
    if (kv == NULL) {
        return;
    }
    EVP_PKEY_free(kv->pkey);
    free(kv->n_b64);
    free(kv->e_b64);
    cJSON_Delete(kv->tags);
    free(kv->sealed);
    free(kv);
}

static void key_free(struct vmock_key *key)
{
    if (key == NULL) {
        return;
    }
    for (size_t i = 0; i < key->n_versions; i++) {
        vmock_kver_free(key->versions[i]);
    }
    free(key->versions);
    free(key);
}

/* Seal the private key of |kv| for at-rest storage (AAD = name/version). */
static int seal_version(struct vmock_store *st, const char *name, struct vmock_kver *kv)
{
    char aad[VMOCK_NAME_MAX + VMOCK_VERSION_LEN + 16];
    int aad_len = snprintf(aad, sizeof(aad), "vmock-key:%s/%s", name, kv->version);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (aad_len < 0 || (size_t)aad_len >= sizeof(aad) ||
        vmock_rsa_to_der(kv->pkey, &der, &der_len) != 0) {
        return -1;
    }
    int rc = vmock_seal(st->master, (const uint8_t *)aad, (size_t)aad_len, der, der_len,
                        &kv->sealed, &kv->sealed_len);
    OPENSSL_cleanse(der, der_len);
    free(der);
    return rc;
}

/* Insert |key| (not present yet) at its sorted position. */
static int insert_key(struct vmock_store *st, struct vmock_key *key)
{
    long i = search(st, key->name);
    if (i >= 0) {
        return -1;
    }
    size_t at = (size_t)(-(i + 1));
    if (base_grow(&st->keys, &st->cap_keys, st->n_keys + 1, sizeof(*st->keys), SIZE_MAX, NULL) !=
        0) {
        return -1;
    }
    memmove(st->keys + at + 1, st->keys + at, (st->n_keys - at) * sizeof(*st->keys));
    st->keys[at] = key;
    st->n_keys++;
    return 0;
}

static void remove_key(struct vmock_store *st, struct vmock_key *key)
{
    long i = search(st, key->name);
    if (i < 0 || st->keys[i] != key) {
        return;
    }
    size_t at = (size_t)i;
    memmove(st->keys + at, st->keys + at + 1, (st->n_keys - at - 1) * sizeof(*st->keys));
    st->n_keys--;
}

/* Append |kv| to |key|'s versions. */
static int append_version(struct vmock_key *key, struct vmock_kver *kv)
{
    if (base_grow(&key->versions, &key->cap_versions, key->n_versions + 1, sizeof(*key->versions),
                  SIZE_MAX, NULL) != 0) {
        return -1;
    }
    key->versions[key->n_versions++] = kv;
    return 0;
}

struct vmock_key *vmock_store_key_get_or_add(struct vmock_store *st, const char *name)
{
    struct vmock_key *key = vmock_store_find(st, name);
    if (key != NULL) {
        return key;
    }
    key = calloc(1, sizeof(*key));
    if (key == NULL) {
        return NULL;
    }
    snprintf(key->name, sizeof(key->name), "%s", name);
    if (insert_key(st, key) != 0) {
        free(key);
        return NULL;
    }
    return key;
}

int vmock_store_key_append(struct vmock_key *key, struct vmock_kver *kv)
{
    return append_version(key, kv);
}

struct vmock_key *vmock_store_add_version(struct vmock_store *st, const char *name,
                                          struct vmock_kver *kv)
{
    struct vmock_key *key = vmock_store_key_get_or_add(st, name);
    if (key == NULL) {
        return NULL;
    }
    if (seal_version(st, key->name, kv) != 0 || append_version(key, kv) != 0) {
        free(kv->sealed);
        kv->sealed = NULL;
        kv->sealed_len = 0;
        if (key->n_versions == 0) {
            remove_key(st, key);
            key_free(key);
        }
        return NULL;
    }
    return key;
}

void vmock_store_undo_add(struct vmock_store *st, struct vmock_key *key)
{
    if (key->n_versions == 0) {
        return;
    }
    vmock_kver_free(key->versions[--key->n_versions]);
    if (key->n_versions == 0) {
        remove_key(st, key);
        key_free(key);
    }
}

void vmock_store_delete(struct vmock_store *st, struct vmock_key *key, int64_t now)
{
    key->deleted = 1;
    key->deleted_date = now;
    key->purge_date = now + (int64_t)st->retention_days * 86400;
}

void vmock_store_purge(struct vmock_store *st, struct vmock_key *key)
{
    remove_key(st, key);
    key_free(key);
}

void vmock_store_detach(struct vmock_store *st, struct vmock_key *key)
{
    remove_key(st, key);
}

void vmock_store_reattach(struct vmock_store *st, struct vmock_key *key)
{
    (void)insert_key(st, key);
}

void vmock_store_key_free(struct vmock_key *key)
{
    key_free(key);
}

size_t vmock_store_expire(struct vmock_store *st, int64_t now)
{
    size_t purged = 0;
    size_t i = 0;
    while (i < st->n_keys) {
        struct vmock_key *key = st->keys[i];
        if (key->deleted && key->purge_date <= now) {
            vmock_store_purge(st, key);
            purged++;
        } else {
            i++;
        }
    }
    return purged;
}

int vmock_store_acquire(struct vmock_store *st, const char *name, const char *version,
                        struct vmock_key_ref *ref)
{
    memset(ref, 0, sizeof(*ref));
    vmock_store_rdlock(st);
    struct vmock_key *key = vmock_store_find(st, name);
    struct vmock_kver *kv = key != NULL && !key->deleted ? vmock_key_version(key, version) : NULL;
    if (kv == NULL || EVP_PKEY_up_ref(kv->pkey) != 1) {
        vmock_store_unlock(st);
        return -1;
    }
    ref->pkey = kv->pkey;
    memcpy(ref->version, kv->version, sizeof(ref->version));
    ref->bits = kv->bits;
    ref->hsm = kv->hsm;
    ref->attr = kv->attr;
    vmock_store_unlock(st);
    return 0;
}

void vmock_key_ref_release(struct vmock_key_ref *ref)
{
    EVP_PKEY_free(ref->pkey);
    ref->pkey = NULL;
}

const char *vmock_store_recovery_level(const struct vmock_store *st)
{
    if (st->retention_days == 90) {
        return st->purge_protection ? "Recoverable" : "Recoverable+Purgeable";
    }
    return st->purge_protection ? "CustomizedRecoverable" : "CustomizedRecoverable+Purgeable";
}

void vmock_store_free(struct vmock_store *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < st->n_keys; i++) {
        key_free(st->keys[i]);
    }
    free(st->keys);
    free(st->dir);
    OPENSSL_cleanse(st->master, sizeof(st->master));
    pthread_rwlock_destroy(&st->lock);
    free(st);
}
