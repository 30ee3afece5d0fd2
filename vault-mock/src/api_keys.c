/*
 * api_keys.c - create, import, get, update and rotate.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonx.h"
#include "rsakey.h"

/* Attribute values a request asked for; state 0 absent, 1 set, 2 null (clear). */
struct attrs_in {
    int enabled_state;
    int enabled;
    int nbf_state;
    int64_t nbf;
    int exp_state;
    int64_t exp;
};

/* Parse "attributes" (may be absent). Answers 400 itself and returns -1 on bad input. */
static int parse_attrs(const cJSON *body, struct attrs_in *a, struct vmock_reply *rep)
{
    memset(a, 0, sizeof(*a));
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, "attributes");
    if (o == NULL || cJSON_IsNull(o)) {
        return 0;
    }
    if (!cJSON_IsObject(o)) {
        vmock_reply_error(rep, 400, "BadParameter", "attributes must be an object.", NULL);
        return -1;
    }
    a->enabled_state = vmock_json_bool(o, "enabled", &a->enabled);
    a->nbf_state = vmock_json_int(o, "nbf", &a->nbf);
    a->exp_state = vmock_json_int(o, "exp", &a->exp);
    int exportable = 0;
    int ex_state = vmock_json_bool(o, "exportable", &exportable);
    if (a->enabled_state < 0 || a->nbf_state < 0 || a->exp_state < 0 || ex_state < 0) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "attributes.enabled and exportable must be booleans; nbf and exp must "
                          "be integers (Unix seconds).",
                          NULL);
        return -1;
    }
    if ((a->nbf_state == 1 && a->nbf < 0) || (a->exp_state == 1 && a->exp < 0)) {
        vmock_reply_error(rep, 400, "BadParameter", "nbf and exp must not be negative.", NULL);
        return -1;
    }
    if (ex_state == 1 && exportable) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "AKV.SKR.1004: Exportable keys must have release policy.", NULL);
        return -1;
    }
    return 0;
}

static void apply_attrs(struct vmock_kver *kv, const struct attrs_in *a)
{
    if (a->enabled_state == 1) {
        kv->attr.enabled = a->enabled;
    }
    if (a->nbf_state != 0) {
        kv->attr.has_nbf = a->nbf_state == 1;
        kv->attr.nbf = a->nbf_state == 1 ? a->nbf : 0;
    }
    if (a->exp_state != 0) {
        kv->attr.has_exp = a->exp_state == 1;
        kv->attr.exp = a->exp_state == 1 ? a->exp : 0;
    }
}

/* Parse optional "key_ops" at |holder|; |*mask| keeps its value when absent. */
static int parse_ops(const cJSON *holder, unsigned *mask, int *present, struct vmock_reply *rep)
{
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(holder, "key_ops");
    *present = ops != NULL && !cJSON_IsNull(ops);
    if (!*present) {
        return 0;
    }
    if (vmock_keyops_parse(ops, mask) != 0) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "key_ops must be an array of: encrypt, decrypt, sign, verify, wrapKey, "
                          "unwrapKey, import, export.",
                          NULL);
        return -1;
    }
    return 0;
}

/* Parse optional "tags"; |*tags| is NULL when absent. */
static int parse_tags(const cJSON *body, const cJSON **tags, struct vmock_reply *rep)
{
    *tags = cJSON_GetObjectItemCaseSensitive(body, "tags");
    if (*tags == NULL || cJSON_IsNull(*tags)) {
        *tags = NULL;
        return 0;
    }
    if (!vmock_json_tags_valid(*tags)) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "tags must be an object of at most 15 string values.", NULL);
        return -1;
    }
    return 0;
}

static int set_tags(struct vmock_kver *kv, const cJSON *tags)
{
    cJSON *copy = tags != NULL ? cJSON_Duplicate(tags, 1) : cJSON_CreateObject();
    if (copy == NULL) {
        return -1;
    }
    cJSON_Delete(kv->tags);
    kv->tags = copy;
    return 0;
}

static void reply_conflict(struct vmock_reply *rep, const char *name)
{
    vmock_reply_errorf(rep, 409, "Conflict", "ObjectIsDeletedButRecoverable",
                       "Key %s is currently in a deleted but recoverable state, and its name "
                       "cannot be reused; in this state, the key can only be recovered or purged.",
                       name);
}

/*
 * Store |kv| as the new version of |c->name| and answer with its bundle.
 * |must_exist|: the key must already be live (rotate). Consumes |kv|.
 */
static void add_version(struct vmock_call *c, struct vmock_reply *rep, struct vmock_kver *kv,
                        int must_exist)
{
    struct vmock_store *st = c->srv->store;
    vmock_store_wrlock(st);
    vmock_store_expire(st, c->now);
    struct vmock_key *key = vmock_store_find(st, c->name);
    if (key != NULL && key->deleted) {
        if (must_exist) {
            vmock_reply_not_found(rep, c->name, "");
        } else {
            reply_conflict(rep, key->name);
        }
        goto out;
    }
    if (key == NULL && must_exist) {
        vmock_reply_not_found(rep, c->name, "");
        goto out;
    }
    key = vmock_store_add_version(st, c->name, kv);
    if (key == NULL) {
        vmock_reply_error(rep, 500, "InternalError", "The key could not be stored.", NULL);
        goto out;
    }
    snprintf(rep->version, sizeof(rep->version), "%s", kv->version);
    snprintf(rep->key, sizeof(rep->key), "%s", key->name);
    vmock_reply_json(rep, 200, vmock_bundle_key(c, key, kv));
    if (rep->status != 200 || vmock_api_commit(c, rep) != 0) {
        vmock_store_undo_add(st, key); /* frees kv */
    }
    vmock_store_unlock(st);
    return;
out:
    vmock_store_unlock(st);
    vmock_kver_free(kv);
}

/* The parts of create and import after the key material exists. Consumes |pkey|. */
static void finish_new(struct vmock_call *c, struct vmock_reply *rep, EVP_PKEY *pkey, int hsm,
                       unsigned ops, const struct attrs_in *a, const cJSON *tags)
{
    struct vmock_kver *kv = vmock_kver_new(pkey, hsm, ops, c->now);
    if (kv == NULL) {
        EVP_PKEY_free(pkey);
        vmock_reply_error(rep, 500, "InternalError", "Out of memory.", NULL);
        return;
    }
    apply_attrs(kv, a);
    if (set_tags(kv, tags) != 0) {
        vmock_kver_free(kv);
        vmock_reply_error(rep, 500, "InternalError", "Out of memory.", NULL);
        return;
    }
    add_version(c, rep, kv, 0);
}

/* 1 when |kty| is RSA or RSA-HSM (setting |*hsm|), else answers 400 and returns 0. */
static int kty_ok(const char *kty, int *hsm, struct vmock_reply *rep)
{
    if (kty != NULL && (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0)) {
        *hsm = strcmp(kty, "RSA-HSM") == 0;
        return 1;
    }
    if (kty == NULL) {
        vmock_reply_error(rep, 400, "BadParameter", "The kty property is required.", NULL);
    } else {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "Key type (kty) %.32s is not supported by this vault; use RSA or "
                           "RSA-HSM.",
                           kty);
    }
    return 0;
}

static int throttle_create(struct vmock_call *c, struct vmock_reply *rep)
{
    unsigned retry = 0;
    if (vmock_throttle_take_for(&c->srv->throttle, VMOCK_TC_CREATE, vmock_call_identity(c),
                                &retry) != 0) {
        atomic_fetch_add(&c->srv->stats.throttled, 1);
        vmock_reply_throttled(rep, retry);
        return -1;
    }
    return 0;
}

void vmock_api_create(struct vmock_call *c, struct vmock_reply *rep)
{
    cJSON *body = vmock_api_body(c, rep);
    if (body == NULL) {
        return;
    }
    int hsm = 0;
    int64_t bits = 2048;
    int64_t e = 65537;
    unsigned ops = VMOCK_KOP_DEFAULT;
    int ops_present = 0;
    struct attrs_in a;
    const cJSON *tags = NULL;
    if (!kty_ok(vmock_json_string(body, "kty"), &hsm, rep)) {
        goto out;
    }
    int rs = vmock_json_int(body, "key_size", &bits);
    if (rs < 0 || (rs == 1 && bits != 2048 && bits != 3072 && bits != 4096)) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "key_size must be 2048, 3072 or 4096 for an RSA key.", NULL);
        goto out;
    }
    int re = vmock_json_int(body, "public_exponent", &e);
    if (re < 0 || (re == 1 && (e < 3 || e > 0x7fffffff || e % 2 == 0))) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "public_exponent must be an odd integer of at least 3.", NULL);
        goto out;
    }
    if (parse_ops(body, &ops, &ops_present, rep) != 0 || parse_attrs(body, &a, rep) != 0 ||
        parse_tags(body, &tags, rep) != 0 || throttle_create(c, rep) != 0) {
        goto out;
    }
    EVP_PKEY *pkey = vmock_rsa_generate((int)bits, (unsigned long)e);
    if (pkey == NULL) {
        vmock_reply_error(rep, 500, "InternalError", "Key generation failed.", NULL);
        goto out;
    }
    finish_new(c, rep, pkey, hsm, ops, &a, tags);
out:
    cJSON_Delete(body);
}

void vmock_api_import(struct vmock_call *c, struct vmock_reply *rep)
{
    cJSON *body = vmock_api_body(c, rep);
    if (body == NULL) {
        return;
    }
    const cJSON *jwk = cJSON_GetObjectItemCaseSensitive(body, "key");
    int hsm = 0;
    int hsm_flag = 0;
    unsigned ops = VMOCK_KOP_DEFAULT;
    int ops_present = 0;
    struct attrs_in a;
    const cJSON *tags = NULL;
    const char *why = NULL;
    if (!cJSON_IsObject(jwk)) {
        vmock_reply_error(rep, 400, "BadParameter",
                          "The key property (a JSON Web Key) is required.", NULL);
        goto out;
    }
    if (!kty_ok(vmock_json_string(jwk, "kty"), &hsm, rep)) {
        goto out;
    }
    int rh = vmock_json_bool(body, "Hsm", &hsm_flag);
    if (rh < 0) {
        vmock_reply_error(rep, 400, "BadParameter", "Hsm must be a boolean.", NULL);
        goto out;
    }
    if (parse_ops(jwk, &ops, &ops_present, rep) != 0 || parse_attrs(body, &a, rep) != 0 ||
        parse_tags(body, &tags, rep) != 0 || throttle_create(c, rep) != 0) {
        goto out;
    }
    EVP_PKEY *pkey = vmock_rsa_from_jwk(jwk, &why);
    if (pkey == NULL) {
        vmock_reply_error(rep, 400, "BadParameter", why, NULL);
        goto out;
    }
    finish_new(c, rep, pkey, hsm || (rh == 1 && hsm_flag), ops, &a, tags);
out:
    cJSON_Delete(body);
}

void vmock_api_get(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    vmock_store_rdlock(st);
    struct vmock_key *key = vmock_store_find(st, c->name);
    struct vmock_kver *kv =
        key != NULL && !key->deleted ? vmock_key_version(key, c->version) : NULL;
    if (kv == NULL) {
        vmock_reply_not_found(rep, c->name, c->version);
    } else {
        snprintf(rep->version, sizeof(rep->version), "%s", kv->version);
        vmock_reply_json(rep, 200, vmock_bundle_key(c, key, kv));
    }
    vmock_store_unlock(st);
}

void vmock_api_update(struct vmock_call *c, struct vmock_reply *rep)
{
    cJSON *body = vmock_api_body(c, rep);
    if (body == NULL) {
        return;
    }
    unsigned ops = 0;
    int ops_present = 0;
    struct attrs_in a;
    const cJSON *tags = NULL;
    if (parse_ops(body, &ops, &ops_present, rep) != 0 || parse_attrs(body, &a, rep) != 0 ||
        parse_tags(body, &tags, rep) != 0) {
        cJSON_Delete(body);
        return;
    }
    struct vmock_store *st = c->srv->store;
    vmock_store_wrlock(st);
    struct vmock_key *key = vmock_store_find(st, c->name);
    struct vmock_kver *kv =
        key != NULL && !key->deleted ? vmock_key_version(key, c->version) : NULL;
    cJSON *new_tags = kv != NULL && tags != NULL ? cJSON_Duplicate(tags, 1) : NULL;
    if (kv == NULL) {
        vmock_reply_not_found(rep, c->name, c->version);
    } else if (tags != NULL && new_tags == NULL) {
        vmock_reply_error(rep, 500, "InternalError", "Out of memory.", NULL);
    } else {
        /* Change in place, keep what it was: undone if the audit line or the save fails. */
        struct vmock_key_attrs old_attr = kv->attr;
        int64_t old_updated = kv->updated;
        cJSON *old_tags = kv->tags;
        if (new_tags != NULL) {
            kv->tags = new_tags;
        }
        apply_attrs(kv, &a);
        if (ops_present) {
            kv->attr.key_ops = ops;
        }
        kv->updated = c->now;
        snprintf(rep->version, sizeof(rep->version), "%s", kv->version);
        vmock_reply_json(rep, 200, vmock_bundle_key(c, key, kv));
        if (rep->status != 200 || vmock_api_commit(c, rep) != 0) {
            kv->attr = old_attr;
            kv->updated = old_updated;
            kv->tags = old_tags;
        } else if (new_tags != NULL) {
            new_tags = old_tags; /* the replaced tags go */
        }
        cJSON_Delete(new_tags);
        new_tags = NULL;
    }
    cJSON_Delete(new_tags);
    vmock_store_unlock(st);
    cJSON_Delete(body);
}

void vmock_api_rotate(struct vmock_call *c, struct vmock_reply *rep)
{
    struct vmock_store *st = c->srv->store;
    vmock_store_rdlock(st);
    struct vmock_key *key = vmock_store_find(st, c->name);
    struct vmock_kver *latest = key != NULL && !key->deleted ? vmock_key_version(key, "") : NULL;
    int bits = latest != NULL ? latest->bits : 0;
    int hsm = latest != NULL ? latest->hsm : 0;
    unsigned ops = latest != NULL ? latest->attr.key_ops : 0;
    cJSON *tags = latest != NULL ? cJSON_Duplicate(latest->tags, 1) : NULL;
    vmock_store_unlock(st);
    if (latest == NULL) {
        vmock_reply_not_found(rep, c->name, "");
        return;
    }
    EVP_PKEY *pkey = throttle_create(c, rep) == 0 ? vmock_rsa_generate(bits, 65537) : NULL;
    struct vmock_kver *kv = pkey != NULL ? vmock_kver_new(pkey, hsm, ops, c->now) : NULL;
    if (kv == NULL || tags == NULL || set_tags(kv, tags) != 0) {
        if (rep->status == 0) {
            vmock_reply_error(rep, 500, "InternalError", "Key generation failed.", NULL);
        }
        if (kv == NULL) {
            EVP_PKEY_free(pkey);
        }
        vmock_kver_free(kv);
        cJSON_Delete(tags);
        return;
    }
    cJSON_Delete(tags);
    add_version(c, rep, kv, 1);
}
