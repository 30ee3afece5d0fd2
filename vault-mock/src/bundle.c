/*
 * bundle.c - KeyBundle, DeletedKeyBundle, KeyItem and nextLink rendering
 * with the service's field names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

cJSON *vmock_bundle_attributes(const struct vmock_store *st, const struct vmock_kver *kv)
{
    cJSON *a = cJSON_CreateObject();
    if (a == NULL) {
        return NULL;
    }
    cJSON_AddBoolToObject(a, "enabled", kv->attr.enabled);
    if (kv->attr.has_nbf) {
        cJSON_AddNumberToObject(a, "nbf", (double)kv->attr.nbf);
    }
    if (kv->attr.has_exp) {
        cJSON_AddNumberToObject(a, "exp", (double)kv->attr.exp);
    }
    cJSON_AddNumberToObject(a, "created", (double)kv->created);
    cJSON_AddNumberToObject(a, "updated", (double)kv->updated);
    cJSON_AddStringToObject(a, "recoveryLevel", vmock_store_recovery_level(st));
    cJSON_AddNumberToObject(a, "recoverableDays", st->retention_days);
    cJSON_AddBoolToObject(a, "exportable", 0);
    return a;
}

static void add_tags(cJSON *o, const struct vmock_kver *kv)
{
    if (cJSON_GetArraySize(kv->tags) > 0) {
        cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(kv->tags, 1));
    }
}

static void add_deleted(const struct vmock_call *c, cJSON *o, const struct vmock_key *key)
{
    char id[600];
    snprintf(id, sizeof(id), "%s/deletedkeys/%s", c->base_url, key->name);
    cJSON_AddStringToObject(o, "recoveryId", id);
    cJSON_AddNumberToObject(o, "deletedDate", (double)key->deleted_date);
    cJSON_AddNumberToObject(o, "scheduledPurgeDate", (double)key->purge_date);
}

cJSON *vmock_bundle_key(const struct vmock_call *c, const struct vmock_key *key,
                        const struct vmock_kver *kv)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *jwk = cJSON_AddObjectToObject(o, "key");
    cJSON *ops = vmock_keyops_json(kv->attr.key_ops);
    cJSON *attrs = vmock_bundle_attributes(c->srv->store, kv);
    if (jwk == NULL || ops == NULL || attrs == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(ops);
        cJSON_Delete(attrs);
        return NULL;
    }
    char kid[700];
    snprintf(kid, sizeof(kid), "%s/keys/%s/%s", c->base_url, key->name, kv->version);
    cJSON_AddStringToObject(jwk, "kid", kid);
    cJSON_AddStringToObject(jwk, "kty", kv->hsm ? "RSA-HSM" : "RSA");
    cJSON_AddItemToObject(jwk, "key_ops", ops);
    cJSON_AddStringToObject(jwk, "n", kv->n_b64);
    cJSON_AddStringToObject(jwk, "e", kv->e_b64);
    cJSON_AddItemToObject(o, "attributes", attrs);
    add_tags(o, kv);
    return o;
}

cJSON *vmock_bundle_deleted(const struct vmock_call *c, const struct vmock_key *key)
{
    const struct vmock_kver *kv = vmock_key_version(key, "");
    cJSON *o = kv != NULL ? vmock_bundle_key(c, key, kv) : NULL;
    if (o != NULL) {
        add_deleted(c, o, key);
    }
    return o;
}

cJSON *vmock_bundle_item(const struct vmock_call *c, const struct vmock_key *key,
                         const struct vmock_kver *kv, int versioned)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *attrs = vmock_bundle_attributes(c->srv->store, kv);
    if (o == NULL || attrs == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(attrs);
        return NULL;
    }
    char kid[700];
    if (versioned) {
        snprintf(kid, sizeof(kid), "%s/keys/%s/%s", c->base_url, key->name, kv->version);
    } else {
        snprintf(kid, sizeof(kid), "%s/keys/%s", c->base_url, key->name);
    }
    cJSON_AddStringToObject(o, "kid", kid);
    cJSON_AddItemToObject(o, "attributes", attrs);
    add_tags(o, kv);
    if (key->deleted) {
        add_deleted(c, o, key);
    }
    return o;
}

char *vmock_bundle_next_link(const struct vmock_call *c, const char *path, const char *skiptoken,
                             long maxresults)
{
    const char *apiv = c->req->query(c->req->ctx, "api-version");
    size_t cap = strlen(c->base_url) + strlen(path) + strlen(apiv) + strlen(skiptoken) + 96;
    char *out = malloc(cap);
    if (out != NULL) {
        snprintf(out, cap, "%s%s?api-version=%s&$skiptoken=%s&maxresults=%ld", c->base_url, path,
                 apiv, skiptoken, maxresults);
    }
    return out;
}
