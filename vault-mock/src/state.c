/*
 * state.c - the store on disk: STATE/vault.json, one JSON document with
 * every key, version, attribute and soft-delete record; private keys only
 * as AES-256-GCM blobs sealed under the master key.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base_codec.h"
#include "jsonx.h"
#include "rsakey.h"
#include "store_internal.h"

#define STATE_FILE      "vault.json"
#define STATE_FORMAT    "vault-mock-state-1"
#define STATE_MAX_BYTES (256u << 20)

static cJSON *version_json(const struct vmock_kver *kv)
{
    cJSON *o = cJSON_CreateObject();
    char *sealed = base_b64url_encode_alloc(kv->sealed, kv->sealed_len);
    cJSON *ops = vmock_keyops_json(kv->attr.key_ops);
    cJSON *tags = cJSON_Duplicate(kv->tags, 1);
    if (o == NULL || sealed == NULL || ops == NULL || tags == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(ops);
        cJSON_Delete(tags);
        free(sealed);
        return NULL;
    }
    cJSON_AddStringToObject(o, "version", kv->version);
    cJSON_AddStringToObject(o, "kty", kv->hsm ? "RSA-HSM" : "RSA");
    cJSON_AddItemToObject(o, "key_ops", ops);
    cJSON_AddBoolToObject(o, "enabled", kv->attr.enabled);
    if (kv->attr.has_nbf) {
        cJSON_AddNumberToObject(o, "nbf", (double)kv->attr.nbf);
    }
    if (kv->attr.has_exp) {
        cJSON_AddNumberToObject(o, "exp", (double)kv->attr.exp);
    }
    cJSON_AddNumberToObject(o, "created", (double)kv->created);
    cJSON_AddNumberToObject(o, "updated", (double)kv->updated);
    cJSON_AddItemToObject(o, "tags", tags);
    cJSON_AddStringToObject(o, "sealed", sealed);
    free(sealed);
    return o;
}

int vmock_store_persist(struct vmock_store *st, struct base_err *e)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *keys = cJSON_AddArrayToObject(root, "keys");
    if (root == NULL || keys == NULL) {
        cJSON_Delete(root);
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    cJSON_AddStringToObject(root, "format", STATE_FORMAT);
    for (size_t i = 0; i < st->n_keys; i++) {
        const struct vmock_key *key = st->keys[i];
        cJSON *k = cJSON_CreateObject();
        cJSON *vers = cJSON_AddArrayToObject(k, "versions");
        if (k == NULL || vers == NULL) {
            cJSON_Delete(k);
            goto oom;
        }
        cJSON_AddItemToArray(keys, k);
        cJSON_AddStringToObject(k, "name", key->name);
        if (key->deleted) {
            cJSON *d = cJSON_AddObjectToObject(k, "deleted");
            if (d == NULL) {
                goto oom;
            }
            cJSON_AddNumberToObject(d, "deletedDate", (double)key->deleted_date);
            cJSON_AddNumberToObject(d, "scheduledPurgeDate", (double)key->purge_date);
        }
        for (size_t j = 0; j < key->n_versions; j++) {
            cJSON *v = version_json(key->versions[j]);
            if (v == NULL) {
                goto oom;
            }
            cJSON_AddItemToArray(vers, v);
        }
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    int rc = vmock_file_write_atomic(st->dir, STATE_FILE, text, strlen(text), e);
    free(text);
    return rc;
oom:
    cJSON_Delete(root);
    BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
    return -1;
}

/* Rebuild one version from its JSON record; unseals the private key. */
static struct vmock_kver *load_version(struct vmock_store *st, const char *name, const cJSON *v,
                                       struct base_err *e)
{
    const char *version = vmock_json_string(v, "version");
    const char *kty = vmock_json_string(v, "kty");
    const char *sealed_b64 = vmock_json_string(v, "sealed");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(v, "tags");
    unsigned ops = 0;
    int64_t created = 0;
    int64_t updated = 0;
    if (version == NULL || strlen(version) != VMOCK_VERSION_LEN || kty == NULL ||
        sealed_b64 == NULL || !cJSON_IsObject(tags) ||
        vmock_keyops_parse(cJSON_GetObjectItemCaseSensitive(v, "key_ops"), &ops) != 0 ||
        vmock_json_int(v, "created", &created) != 1 ||
        vmock_json_int(v, "updated", &updated) != 1) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "key %s: malformed version record", name);
        return NULL;
    }
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    if (base_b64url_decode_alloc(sealed_b64, strlen(sealed_b64), &sealed, &sealed_len, NULL) != 0) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "key %s/%s: malformed sealed key", name, version);
        return NULL;
    }
    char aad[VMOCK_NAME_MAX + VMOCK_VERSION_LEN + 16];
    int aad_len = snprintf(aad, sizeof(aad), "vmock-key:%s/%s", name, version);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (aad_len < 0 || (size_t)aad_len >= sizeof(aad) ||
        vmock_unseal(st->master, (const uint8_t *)aad, (size_t)aad_len, sealed, sealed_len, &der,
                     &der_len) != 0) {
        BASE_FAIL(e, BASE_ERR_FORMAT,
                  "key %s/%s: sealed key fails authentication (wrong master.key or tampered state)",
                  name, version);
        free(sealed);
        return NULL;
    }
    EVP_PKEY *pkey = vmock_rsa_from_der(der, der_len);
    OPENSSL_cleanse(der, der_len);
    free(der);
    struct vmock_kver *kv =
        pkey != NULL ? vmock_kver_new(pkey, strcmp(kty, "RSA-HSM") == 0, ops, created) : NULL;
    if (kv == NULL) {
        EVP_PKEY_free(pkey);
        free(sealed);
        BASE_FAIL(e, BASE_ERR_IO, "key %s/%s: cannot rebuild the key", name, version);
        return NULL;
    }
    snprintf(kv->version, sizeof(kv->version), "%s", version);
    kv->sealed = sealed;
    kv->sealed_len = sealed_len;
    kv->updated = updated;
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(v, "enabled");
    kv->attr.enabled = cJSON_IsBool(en) ? cJSON_IsTrue(en) : 1;
    kv->attr.has_nbf = vmock_json_int(v, "nbf", &kv->attr.nbf) == 1;
    kv->attr.has_exp = vmock_json_int(v, "exp", &kv->attr.exp) == 1;
    cJSON *t = cJSON_Duplicate(tags, 1);
    if (t != NULL) {
        cJSON_Delete(kv->tags);
        kv->tags = t;
    }
    return kv;
}

static int load_key(struct vmock_store *st, const cJSON *k, struct base_err *e)
{
    const char *name = vmock_json_string(k, "name");
    const cJSON *vers = cJSON_GetObjectItemCaseSensitive(k, "versions");
    if (name == NULL || !vmock_name_valid(name) || !cJSON_IsArray(vers) ||
        cJSON_GetArraySize(vers) == 0) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "malformed key record");
        return -1;
    }
    struct vmock_key *key = vmock_store_key_get_or_add(st, name);
    if (key == NULL || key->n_versions != 0) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "key %s: duplicate or out of memory", name);
        return -1;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(k, "deleted");
    if (d != NULL) {
        key->deleted = 1;
        if (vmock_json_int(d, "deletedDate", &key->deleted_date) != 1 ||
            vmock_json_int(d, "scheduledPurgeDate", &key->purge_date) != 1) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "key %s: malformed deleted record", name);
            return -1;
        }
    }
    const cJSON *v = NULL;
    cJSON_ArrayForEach(v, vers)
    {
        struct vmock_kver *kv = load_version(st, key->name, v, e);
        if (kv == NULL) {
            return -1;
        }
        if (vmock_store_key_append(key, kv) != 0) {
            vmock_kver_free(kv);
            BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
            return -1;
        }
    }
    return 0;
}

struct vmock_store *vmock_store_open(const char *dir, int retention_days, int purge_protection,
                                     struct base_err *e)
{
    struct vmock_store *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (pthread_rwlock_init(&st->lock, NULL) != 0) {
        free(st);
        BASE_FAIL(e, BASE_ERR_IO, "cannot create the store lock");
        return NULL;
    }
    st->dir = strdup(dir);
    st->retention_days = retention_days;
    st->purge_protection = purge_protection;
    if (st->dir == NULL || vmock_master_key_load(dir, st->master, e) != 0) {
        if (st->dir == NULL) {
            BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        }
        vmock_store_free(st);
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
    char *text = NULL;
    size_t len = 0;
    int rc = vmock_file_read(path, STATE_MAX_BYTES, &text, &len, e);
    if (rc == 1) {
        /*
         * First start: write the empty state now, so that a later start that finds
         * master.key without vault.json knows the state was lost (main.c refuses it).
         */
        if (vmock_store_persist(st, e) != 0) {
            vmock_store_free(st);
            return NULL;
        }
        return st;
    }
    if (rc < 0) {
        vmock_store_free(st);
        return NULL;
    }
    const char *why = NULL;
    cJSON *root = vmock_json_parse_object(text, len, &why);
    free(text);
    const char *format = vmock_json_string(root, "format");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
    if (format == NULL || strcmp(format, STATE_FORMAT) != 0 || !cJSON_IsArray(keys)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s is not a vault-mock state file", path);
        cJSON_Delete(root);
        vmock_store_free(st);
        return NULL;
    }
    const cJSON *k = NULL;
    cJSON_ArrayForEach(k, keys)
    {
        if (load_key(st, k, e) != 0) {
            cJSON_Delete(root);
            vmock_store_free(st);
            return NULL;
        }
    }
    cJSON_Delete(root);
    /* As every look at deleted keys does: memory then matches what the last run showed. */
    vmock_store_expire(st, (int64_t)time(NULL));
    return st;
}
