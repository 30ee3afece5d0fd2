/*
 * api_crypto.c - encrypt, decrypt, wrapkey, unwrapkey, sign, verify with
 * the service's attribute rules: a disabled key refuses crypto; outside
 * nbf/exp only decrypt, unwrapKey and verify still work; key_ops limits
 * what a key does; RSA operations count against the throttling limits
 * (vault-wide and per identity).
 *
 * RSA1_5 decryption (decrypt, unwrapKey) is refused unless the key is
 * named by --allow-rsa1_5: RSAES-PKCS1-v1_5 decryption answers "valid
 * padding" and "invalid padding" differently (200 or 400), which is a
 * Bleichenbacher oracle, and OpenSSL 3.0 has no implicit rejection. Where
 * it is allowed every bad ciphertext gets one answer, and each use is
 * audited with a warning.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "base_codec.h"
#include "jsonx.h"
#include "rsakey.h"

struct crypto_spec {
    enum vmock_op op;
    const char *name; /* as in key_ops and messages */
    unsigned kop;
    int encryption; /* 1: RSA encryption algorithms, 0: signatures */
    int time_bound; /* refused outside nbf/exp */
};

static const struct crypto_spec specs[] = {
    {VMOCK_OP_ENCRYPT, "encrypt", VMOCK_KOP_ENCRYPT, 1, 1},
    {VMOCK_OP_DECRYPT, "decrypt", VMOCK_KOP_DECRYPT, 1, 0},
    {VMOCK_OP_WRAP, "wrapKey", VMOCK_KOP_WRAP, 1, 1},
    {VMOCK_OP_UNWRAP, "unwrapKey", VMOCK_KOP_UNWRAP, 1, 0},
    {VMOCK_OP_SIGN, "sign", VMOCK_KOP_SIGN, 0, 1},
    {VMOCK_OP_VERIFY, "verify", VMOCK_KOP_VERIFY, 0, 0},
};

/* Decode the base64url member |field|; answers 400 and returns -1 when absent or invalid. */
static int b64_field(const cJSON *body, const char *field, uint8_t **out, size_t *out_len,
                     struct vmock_reply *rep)
{
    const char *s = vmock_json_string(body, field);
    if (s == NULL) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "The %s property is required and must be a base64url string.", field);
        return -1;
    }
    if (base_b64url_decode_alloc(s, strlen(s), out, out_len, NULL) != 0) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "The %s property is not valid base64url.", field);
        return -1;
    }
    return 0;
}

/* The attribute rules; answers 403 and returns -1 when the key may not do |sp|. */
static int key_allows(const struct vmock_key_ref *ref, const struct crypto_spec *sp, int64_t now,
                      struct vmock_reply *rep)
{
    if (!ref->attr.enabled) {
        vmock_reply_errorf(rep, 403, "Forbidden", "KeyDisabled",
                           "Operation %s is not allowed on a disabled key.", sp->name);
        return -1;
    }
    if (sp->time_bound && ref->attr.has_nbf && now < ref->attr.nbf) {
        vmock_reply_errorf(rep, 403, "Forbidden", "KeyNotYetValid",
                           "Operation %s is not allowed on a key that is not yet valid (nbf).",
                           sp->name);
        return -1;
    }
    if (sp->time_bound && ref->attr.has_exp && now > ref->attr.exp) {
        vmock_reply_errorf(rep, 403, "Forbidden", "KeyExpired",
                           "Operation %s is not allowed on an expired key.", sp->name);
        return -1;
    }
    if ((ref->attr.key_ops & sp->kop) == 0) {
        vmock_reply_errorf(rep, 403, "Forbidden", "KeyOperationForbidden",
                           "Operation %s is not permitted on this key.", sp->name);
        return -1;
    }
    return 0;
}

static void reply_value(struct vmock_call *c, struct vmock_reply *rep, const char *version,
                        const uint8_t *out, size_t out_len)
{
    char *b64 = base_b64url_encode_alloc(out, out_len);
    cJSON *doc = cJSON_CreateObject();
    if (b64 == NULL || doc == NULL) {
        free(b64);
        cJSON_Delete(doc);
        vmock_reply_error(rep, 500, "InternalError", "Out of memory.", NULL);
        return;
    }
    char kid[700];
    snprintf(kid, sizeof(kid), "%s/keys/%s/%s", c->base_url, c->name, version);
    cJSON_AddStringToObject(doc, "kid", kid);
    cJSON_AddStringToObject(doc, "value", b64);
    free(b64);
    vmock_reply_json(rep, 200, doc);
}

#define RSA1_5_WARNING                                                                           \
    "RSA1_5 decryption allowed by --allow-rsa1_5: a PKCS#1 v1.5 padding oracle; move the key's " \
    "users to RSA-OAEP-256"

/* 1 when key |name| may decrypt and unwrapKey with RSA1_5 (--allow-rsa1_5). */
static int rsa1_5_allowed(const struct vmock_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->api.n_rsa1_5_keys; i++) {
        if (strcmp(srv->api.rsa1_5_keys[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The RSA1_5 rule for |sp|: answers 400 and returns -1 when refused; notes
 * the audit warning when allowed.
 */
static int rsa1_5_check(struct vmock_call *c, const struct crypto_spec *sp, enum vmock_alg alg,
                        struct vmock_reply *rep)
{
    if (alg != VMOCK_ALG_RSA1_5 || (sp->op != VMOCK_OP_DECRYPT && sp->op != VMOCK_OP_UNWRAP)) {
        return 0;
    }
    if (!rsa1_5_allowed(c->srv, c->name)) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "Algorithm RSA1_5 is not allowed for operation %s on key %s: "
                           "RSAES-PKCS1-v1_5 decryption is a padding oracle. Use RSA-OAEP-256, or "
                           "start the vault with --allow-rsa1_5 %s.",
                           sp->name, c->name, c->name);
        return -1;
    }
    rep->warning = RSA1_5_WARNING;
    return 0;
}

/* Run the RSA operation of |sp| with the decoded inputs; answers in every case. */
static void run(struct vmock_call *c, struct vmock_reply *rep, const struct crypto_spec *sp,
                struct vmock_key_ref *ref, enum vmock_alg alg, const uint8_t *value,
                size_t value_len, const uint8_t *digest, size_t digest_len)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    const char *why = NULL;
    int rc = 0;
    switch (sp->op) {
        case VMOCK_OP_ENCRYPT:
        case VMOCK_OP_WRAP:
            rc = vmock_rsa_encrypt(ref->pkey, alg, value, value_len, &out, &out_len, &why);
            break;
        case VMOCK_OP_DECRYPT:
        case VMOCK_OP_UNWRAP:
            rc = vmock_rsa_decrypt(ref->pkey, alg, value, value_len, &out, &out_len, &why);
            break;
        case VMOCK_OP_SIGN:
            rc = vmock_rsa_sign(ref->pkey, alg, value, value_len, &out, &out_len, &why);
            break;
        case VMOCK_OP_VERIFY: {
            int ok = vmock_rsa_verify(ref->pkey, alg, digest, digest_len, value, value_len, &why);
            if (ok >= 0) {
                cJSON *doc = cJSON_CreateObject();
                cJSON_AddBoolToObject(doc, "value", ok);
                vmock_reply_json(rep, 200, doc);
                return;
            }
            rc = -1;
            break;
        }
        default:
            why = "Unknown operation.";
            rc = -1;
            break;
    }
    if (rc != 0) {
        vmock_reply_error(rep, 400, "BadParameter", why, NULL);
        return;
    }
    reply_value(c, rep, ref->version, out, out_len);
    OPENSSL_cleanse(out, out_len);
    free(out);
}

void vmock_api_crypto(struct vmock_call *c, struct vmock_reply *rep)
{
    const struct crypto_spec *sp = NULL;
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (specs[i].op == c->op) {
            sp = &specs[i];
        }
    }
    cJSON *body = sp != NULL ? vmock_api_body(c, rep) : NULL;
    if (body == NULL) {
        if (sp == NULL) {
            vmock_reply_error(rep, 500, "InternalError", "Unknown operation.", NULL);
        }
        return;
    }
    uint8_t *value = NULL;
    uint8_t *digest = NULL;
    size_t value_len = 0;
    size_t digest_len = 0;
    struct vmock_key_ref ref = {0};
    const char *alg_s = vmock_json_string(body, "alg");
    enum vmock_alg alg = vmock_alg_parse(alg_s);
    if (alg_s == NULL) {
        vmock_reply_error(rep, 400, "BadParameter", "The alg property is required.", NULL);
        goto out;
    }
    if (alg == VMOCK_ALG_NONE || vmock_alg_is_encryption(alg) != sp->encryption) {
        vmock_reply_errorf(rep, 400, "BadParameter", NULL,
                           "Algorithm %.40s is not supported for operation %s on an RSA key.",
                           alg_s, sp->name);
        goto out;
    }
    if (b64_field(body, "value", &value, &value_len, rep) != 0 ||
        (sp->op == VMOCK_OP_VERIFY && b64_field(body, "digest", &digest, &digest_len, rep) != 0)) {
        goto out;
    }
    if (vmock_store_acquire(c->srv->store, c->name, c->version, &ref) != 0) {
        vmock_reply_not_found(rep, c->name, c->version);
        goto out;
    }
    snprintf(rep->version, sizeof(rep->version), "%s", ref.version);
    if (key_allows(&ref, sp, c->now, rep) != 0 || rsa1_5_check(c, sp, alg, rep) != 0) {
        goto out;
    }
    unsigned retry = 0;
    if (vmock_throttle_take_for(&c->srv->throttle, vmock_throttle_class(ref.bits, ref.hsm),
                                vmock_call_identity(c), &retry) != 0) {
        atomic_fetch_add(&c->srv->stats.throttled, 1);
        vmock_reply_throttled(rep, retry);
        goto out;
    }
    run(c, rep, sp, &ref, alg, value, value_len, digest, digest_len);
out:
    if (ref.pkey != NULL) {
        vmock_key_ref_release(&ref);
    }
    if (value != NULL) {
        OPENSSL_cleanse(value, value_len);
    }
    free(value);
    free(digest);
    cJSON_Delete(body);
}
