/*
 * policy.c - identities, tokens and permission checks.
 */
#include "policy.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base_codec.h"
#include "jsonx.h"
#include "persist.h"

static const char *const perm_names[20] = {"get",
                                           "list",
                                           "create",
                                           "update",
                                           "import",
                                           "delete",
                                           "recover",
                                           "purge",
                                           "rotate",
                                           "wrapKey",
                                           "unwrapKey",
                                           "encrypt",
                                           "decrypt",
                                           "sign",
                                           "verify",
                                           "backup",
                                           "restore",
                                           "release",
                                           "getrotationpolicy",
                                           "setrotationpolicy"};

const char *vmock_perm_name(unsigned perm)
{
    for (unsigned i = 0; i < 20; i++) {
        if (perm == 1u << i) {
            return perm_names[i];
        }
    }
    return "?";
}

/* Parse an array of permission names (case-insensitive, "all" allowed). */
static int parse_perms(const cJSON *arr, unsigned *out, struct base_err *e)
{
    *out = 0;
    if (!cJSON_IsArray(arr)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "permissions must be an array of names");
        return -1;
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it)) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "permissions must be strings");
            return -1;
        }
        if (strcasecmp(it->valuestring, "all") == 0) {
            *out |= VMOCK_PERM_ALL;
            continue;
        }
        unsigned bit = 0;
        for (unsigned i = 0; i < 20; i++) {
            if (strcasecmp(it->valuestring, perm_names[i]) == 0) {
                bit = 1u << i;
            }
        }
        if (bit == 0) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "unknown key permission \"%.64s\"", it->valuestring);
            return -1;
        }
        *out |= bit;
    }
    return 0;
}

static cJSON *perms_json(unsigned perms)
{
    cJSON *arr = cJSON_CreateArray();
    if (perms == VMOCK_PERM_ALL) {
        cJSON_AddItemToArray(arr, cJSON_CreateString("all"));
        return arr;
    }
    for (unsigned i = 0; i < 20; i++) {
        if ((perms & (1u << i)) != 0) {
            cJSON_AddItemToArray(arr, cJSON_CreateString(perm_names[i]));
        }
    }
    return arr;
}

static int ident_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || strcmp(s, "admin") == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

/* RFC 6750 b64token characters, 16..512 of them. */
static int token_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 512) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._~+/=", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

static char *random_token(void)
{
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return NULL;
    }
    char *t = base_b64url_encode_alloc(raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    return t;
}

static void free_str(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void vmock_policy_free(struct vmock_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n_ids; i++) {
        struct vmock_identity *id = &p->ids[i];
        free(id->name);
        free_str(id->token);
        for (size_t j = 0; j < id->n_grants; j++) {
            free(id->grants[j].key);
        }
        free(id->grants);
    }
    free(p->ids);
    free_str(p->admin_token);
    free(p);
}

static int parse_identity(struct vmock_identity *id, const cJSON *o, struct base_err *e)
{
    const char *name = vmock_json_string(o, "name");
    const char *token = vmock_json_string(o, "token");
    if (name == NULL || !ident_name_ok(name)) {
        BASE_FAIL(e, BASE_ERR_FORMAT,
                  "identity name missing or invalid ([A-Za-z0-9._-]{1,64}, not admin)");
        return -1;
    }
    if (token == NULL || !token_ok(token)) {
        BASE_FAIL(e, BASE_ERR_FORMAT,
                  "identity %s: token must be 16..512 characters of [A-Za-z0-9-._~+/=]", name);
        return -1;
    }
    id->name = strdup(name);
    id->token = strdup(token);
    if (id->name == NULL || id->token == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    const cJSON *perms = cJSON_GetObjectItemCaseSensitive(o, "permissions");
    if (perms != NULL && parse_perms(perms, &id->perms, e) != 0) {
        return -1;
    }
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(o, "keys");
    if (keys == NULL) {
        return 0;
    }
    if (!cJSON_IsObject(keys)) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "identity %s: keys must map key names to permission arrays",
                  name);
        return -1;
    }
    int n = cJSON_GetArraySize(keys);
    id->grants = calloc(n > 0 ? (size_t)n : 1, sizeof(*id->grants));
    if (id->grants == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    const cJSON *k = NULL;
    cJSON_ArrayForEach(k, keys)
    {
        struct vmock_key_grant *g = &id->grants[id->n_grants++];
        g->key = strdup(k->string);
        if (g->key == NULL || parse_perms(k, &g->perms, e) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Parse an identities document (file format). */
static struct vmock_policy *parse_policy(const char *text, size_t len, const char *what,
                                         struct base_err *e)
{
    const char *why = NULL;
    cJSON *root = vmock_json_parse_object(text, len, &why);
    if (root == NULL) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: %s", what, why);
        return NULL;
    }
    struct vmock_policy *p = calloc(1, sizeof(*p));
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "identities");
    int n = cJSON_GetArraySize(ids);
    if (p == NULL || !cJSON_IsArray(ids) || n == 0) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "%s: \"identities\" must be a non-empty array", what);
        goto fail;
    }
    p->ids = calloc((size_t)n, sizeof(*p->ids));
    if (p->ids == NULL) {
        goto fail;
    }
    const cJSON *o = NULL;
    cJSON_ArrayForEach(o, ids)
    {
        struct base_err sub = BASE_ERR_INIT;
        struct vmock_identity *id = &p->ids[p->n_ids++];
        if (parse_identity(id, o, &sub) != 0) {
            BASE_FAIL(e, sub.code, "%s: %.199s", what, sub.msg);
            goto fail;
        }
        for (size_t j = 0; j + 1 < p->n_ids; j++) {
            if (strcmp(p->ids[j].name, id->name) == 0 || strcmp(p->ids[j].token, id->token) == 0) {
                BASE_FAIL(e, BASE_ERR_FORMAT, "%s: identity %s repeats a name or a token", what,
                          id->name);
                goto fail;
            }
        }
    }
    const char *admin = vmock_json_string(root, "admin_token");
    if (admin != NULL) {
        if (!token_ok(admin)) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "%s: admin_token is not a valid token", what);
            goto fail;
        }
        p->admin_token = strdup(admin);
    }
    cJSON_Delete(root);
    return p;
fail:
    cJSON_Delete(root);
    vmock_policy_free(p);
    return NULL;
}

static struct vmock_policy *make_defaults(void)
{
    static const struct {
        const char *name;
        unsigned perms;
    } defs[3] = {
        {"keyofficer", VMOCK_PERM_ALL},
        {"dbservice", VMOCK_PERM_GET | VMOCK_PERM_WRAP | VMOCK_PERM_UNWRAP},
        {"auditor", VMOCK_PERM_GET | VMOCK_PERM_LIST},
    };
    struct vmock_policy *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->ids = calloc(3, sizeof(*p->ids))) == NULL) {
        vmock_policy_free(p);
        return NULL;
    }
    for (size_t i = 0; i < 3; i++) {
        struct vmock_identity *id = &p->ids[p->n_ids++];
        id->name = strdup(defs[i].name);
        id->token = random_token();
        id->perms = defs[i].perms;
        if (id->name == NULL || id->token == NULL) {
            vmock_policy_free(p);
            return NULL;
        }
    }
    return p;
}

/* Serialise |p| in the identities-file format (with admin_token). */
static char *policy_text(const struct vmock_policy *p)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(root, "identities");
    for (size_t i = 0; ids != NULL && i < p->n_ids; i++) {
        const struct vmock_identity *id = &p->ids[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(ids, o);
        cJSON_AddStringToObject(o, "name", id->name);
        cJSON_AddStringToObject(o, "token", id->token);
        cJSON_AddItemToObject(o, "permissions", perms_json(id->perms));
        if (id->n_grants > 0) {
            cJSON *keys = cJSON_AddObjectToObject(o, "keys");
            for (size_t j = 0; keys != NULL && j < id->n_grants; j++) {
                cJSON_AddItemToObject(keys, id->grants[j].key, perms_json(id->grants[j].perms));
            }
        }
    }
    cJSON_AddStringToObject(root, "admin_token", p->admin_token);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

static int write_tokens(const char *dir, const struct vmock_policy *p, struct base_err *e)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "admin", p->admin_token);
    for (size_t i = 0; i < p->n_ids; i++) {
        cJSON_AddStringToObject(root, p->ids[i].name, p->ids[i].token);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
        BASE_FAIL(e, BASE_ERR_NOMEM, "out of memory");
        return -1;
    }
    int rc = vmock_file_write_atomic(dir, "tokens.json", text, strlen(text), e);
    free_str(text);
    return rc;
}

struct vmock_policy *vmock_policy_load(const char *state_dir, const char *identities_file,
                                       struct base_err *e)
{
    struct vmock_policy *p = NULL;
    char saved[4096];
    snprintf(saved, sizeof(saved), "%s/identities.json", state_dir);
    const char *path = identities_file != NULL ? identities_file : saved;
    char *text = NULL;
    size_t len = 0;
    int rc = vmock_file_read(path, 1u << 20, &text, &len, e);
    if (rc < 0 || (rc == 1 && identities_file != NULL)) {
        if (rc == 1) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "identities file %s does not exist", path);
        }
        return NULL;
    }
    int fresh = rc == 1;
    p = fresh ? make_defaults() : parse_policy(text, len, path, e);
    free_str(text);
    if (p == NULL) {
        if (fresh) {
            BASE_FAIL(e, BASE_ERR_IO, "cannot create default identities");
        }
        return NULL;
    }
    if (p->admin_token == NULL && (p->admin_token = random_token()) == NULL) {
        BASE_FAIL(e, BASE_ERR_FORMAT, "random generator failed");
        vmock_policy_free(p);
        return NULL;
    }
    for (size_t i = 0; i < p->n_ids; i++) {
        if (strcmp(p->ids[i].token, p->admin_token) == 0) {
            BASE_FAIL(e, BASE_ERR_FORMAT, "identity %s uses the admin token", p->ids[i].name);
            vmock_policy_free(p);
            return NULL;
        }
    }
    if (fresh) {
        char *doc = policy_text(p);
        int wrc = doc != NULL
                      ? vmock_file_write_atomic(state_dir, "identities.json", doc, strlen(doc), e)
                      : -1;
        free_str(doc);
        if (wrc != 0) {
            vmock_policy_free(p);
            return NULL;
        }
    }
    if (write_tokens(state_dir, p, e) != 0) {
        vmock_policy_free(p);
        return NULL;
    }
    return p;
}

/* Constant-time string equality (length leaks, content does not). */
static int token_eq(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la != lb) {
        return 0;
    }
    return CRYPTO_memcmp(a, b, la) == 0;
}

const struct vmock_identity *vmock_policy_auth(const struct vmock_policy *p, const char *token)
{
    const struct vmock_identity *found = NULL;
    for (size_t i = 0; i < p->n_ids; i++) {
        if (token_eq(p->ids[i].token, token) && found == NULL) {
            found = &p->ids[i];
        }
    }
    return found;
}

int vmock_policy_is_admin(const struct vmock_policy *p, const char *token)
{
    return token_eq(p->admin_token, token);
}

int vmock_policy_allows(const struct vmock_identity *id, unsigned perm, const char *key)
{
    if ((id->perms & perm) == perm) {
        return 1;
    }
    if (key == NULL) {
        return 0;
    }
    for (size_t i = 0; i < id->n_grants; i++) {
        if (strcasecmp(id->grants[i].key, key) == 0 && (id->grants[i].perms & perm) == perm) {
            return 1;
        }
    }
    return 0;
}
