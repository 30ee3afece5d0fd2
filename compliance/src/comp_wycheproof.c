/*
 * comp_wycheproof.c - Project Wycheproof JSON test files, read with cJSON.
 *
 * The file is parsed once; comp_wp_next walks testGroups[].tests[] and
 * checks each test against its schema as it goes, decoding the hex members
 * into buffers that live until the next call.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "comp_internal.h"

enum { B_KEY, B_IV, B_AAD, B_MSG, B_CT, B_TAG, B_LABEL, B_PKCS8, B_COUNT };

struct comp_wp {
    cJSON *root;
    char *name;
    enum comp_wp_schema schema;
    const char *algorithm;
    unsigned long declared;
    const cJSON *groups;
    const cJSON *group_it; /* current group, NULL after the last */
    const cJSON *test_it;  /* next test of the current group */
    int in_group;          /* test_it is set for group_it */
    int g, t;              /* their indices, for messages */
    uint8_t *bufs[B_COUNT];
};

static const char *const schema_names[] = {"unknown", "aead", "ind-cpa", "keywrap", "rsa-oaep"};

const char *comp_wp_schema_name(enum comp_wp_schema s)
{
    return (s >= COMP_WP_UNKNOWN && s <= COMP_WP_RSA_OAEP) ? schema_names[s] : "unknown";
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum comp_wp_schema schema_of(const char *schema, const char *algorithm)
{
    static const struct {
        const char *prefix;
        enum comp_wp_schema s;
    } by_schema[] = {
        {"aead_test_schema", COMP_WP_AEAD},
        {"ind_cpa_test_schema", COMP_WP_IND_CPA},
        {"keywrap_test_schema", COMP_WP_KEYWRAP},
        {"rsaes_oaep_decrypt_schema", COMP_WP_RSA_OAEP},
    };
    static const struct {
        const char *alg;
        enum comp_wp_schema s;
    } by_alg[] = {
        {"AES-GCM", COMP_WP_AEAD},        {"AES-CCM", COMP_WP_AEAD},
        {"AES-EAX", COMP_WP_AEAD},        {"CHACHA20-POLY1305", COMP_WP_AEAD},
        {"AES-XTS", COMP_WP_IND_CPA},     {"AES-CBC-PKCS5", COMP_WP_IND_CPA},
        {"AES-WRAP", COMP_WP_KEYWRAP},    {"AES-KWP", COMP_WP_KEYWRAP},
        {"RSAES-OAEP", COMP_WP_RSA_OAEP},
    };
    if (schema != NULL) {
        for (size_t i = 0; i < sizeof(by_schema) / sizeof(by_schema[0]); i++) {
            if (starts_with(schema, by_schema[i].prefix)) {
                return by_schema[i].s;
            }
        }
        return COMP_WP_UNKNOWN; /* a schema we do not know, whatever the algorithm */
    }
    for (size_t i = 0; algorithm != NULL && i < sizeof(by_alg) / sizeof(by_alg[0]); i++) {
        if (strcmp(algorithm, by_alg[i].alg) == 0) {
            return by_alg[i].s;
        }
    }
    return COMP_WP_UNKNOWN;
}

static unsigned long line_of(const char *text, size_t len, const char *at)
{
    unsigned long line = 1;
    if (at == NULL || at < text || at > text + len) {
        return 0;
    }
    for (const char *p = text; p < at; p++) {
        line += *p == '\n';
    }
    return line;
}

static const char *get_string(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

struct comp_wp *comp_wp_open_mem(const char *name, const char *text, size_t len,
                                 struct base_err *err)
{
    const char *label = name != NULL ? name : "(memory)";
    if (text == NULL) {
        comp_fail(err, COMP_ERR_NULL, 0, "NULL text");
        return NULL;
    }
    if (len > COMP_MAX_FILE_BYTES) {
        comp_fail(err, COMP_ERR_TOO_BIG, 0, "%s: %zu bytes, limit %lu", label, len,
                  COMP_MAX_FILE_BYTES);
        return NULL;
    }
    struct comp_wp *w = calloc(1, sizeof(*w));
    if (w == NULL || (w->name = comp_memdup0(label, strlen(label))) == NULL) {
        free(w);
        comp_fail(err, COMP_ERR_NOMEM, 0, "no memory for the reader");
        return NULL;
    }
    const char *end = NULL;
    w->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (w->root == NULL) {
        unsigned long line = line_of(text, len, end);
        comp_fail(err, COMP_ERR_JSON, line, "%s line %lu: JSON syntax error", label, line);
        comp_wp_free(w);
        return NULL;
    }
    /* Only whitespace may follow the document. */
    for (const char *p = end; p != NULL && p < text + len; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            unsigned long line = line_of(text, len, p);
            comp_fail(err, COMP_ERR_JSON, line, "%s line %lu: text after the JSON document", label,
                      line);
            comp_wp_free(w);
            return NULL;
        }
    }
    if (!cJSON_IsObject(w->root)) {
        comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: the top level is not an object", label);
        comp_wp_free(w);
        return NULL;
    }
    const char *schema = get_string(w->root, "schema");
    w->algorithm = get_string(w->root, "algorithm");
    w->schema = schema_of(schema, w->algorithm);
    if (w->schema == COMP_WP_UNKNOWN) {
        comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: unknown schema \"%s\" (algorithm \"%s\")", label,
                  schema != NULL ? schema : "", w->algorithm != NULL ? w->algorithm : "");
        comp_wp_free(w);
        return NULL;
    }
    w->groups = cJSON_GetObjectItemCaseSensitive(w->root, "testGroups");
    if (!cJSON_IsArray(w->groups)) {
        comp_fail(err, COMP_ERR_SCHEMA, 0, "%s: no testGroups array", label);
        comp_wp_free(w);
        return NULL;
    }
    w->group_it = w->groups->child;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(w->root, "numberOfTests");
    if (cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 4294967296.0) {
        w->declared = (unsigned long)n->valuedouble;
    }
    return w;
}

struct comp_wp *comp_wp_open(const char *path, struct base_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (comp_read_file(path, &buf, &len, err) != 0) {
        return NULL;
    }
    struct comp_wp *w = comp_wp_open_mem(path, buf, len, err);
    free(buf);
    return w;
}

static void free_bufs(struct comp_wp *w)
{
    for (int i = 0; i < B_COUNT; i++) {
        free(w->bufs[i]);
        w->bufs[i] = NULL;
    }
}

void comp_wp_free(struct comp_wp *w)
{
    if (w == NULL) {
        return;
    }
    free_bufs(w);
    cJSON_Delete(w->root);
    free(w->name);
    free(w);
}

enum comp_wp_schema comp_wp_schema(const struct comp_wp *w)
{
    return w != NULL ? w->schema : COMP_WP_UNKNOWN;
}

const char *comp_wp_algorithm(const struct comp_wp *w)
{
    return (w != NULL && w->algorithm != NULL) ? w->algorithm : "";
}

unsigned long comp_wp_declared_tests(const struct comp_wp *w)
{
    return w != NULL ? w->declared : 0;
}

const char *comp_wp_name(const struct comp_wp *w)
{
    return (w != NULL && w->name != NULL) ? w->name : "";
}

void comp_wp_rewind(struct comp_wp *w)
{
    if (w != NULL) {
        free_bufs(w);
        w->group_it = w->groups->child;
        w->test_it = NULL;
        w->in_group = 0;
        w->g = 0;
        w->t = 0;
    }
}

/* Where a schema error is, for its message. */
struct where {
    const struct comp_wp *w;
    int g, t;
    unsigned long tc_id;
};

static int schema_fail(const struct where *at, struct base_err *err, int code, const char *what,
                       const char *member)
{
    if (at->t < 0) {
        return comp_fail(err, code, 0, "%s: testGroups[%d]: member \"%s\" %s", at->w->name, at->g,
                         member, what);
    }
    return comp_fail(err, code, 0, "%s: testGroups[%d].tests[%d] (tcId %lu): member \"%s\" %s",
                     at->w->name, at->g, at->t, at->tc_id, member, what);
}

/* A non-negative integer below 2^32. 0, or -1 with |err| set. */
static int get_uint(const cJSON *obj, const char *name, unsigned long *out, const struct where *at,
                    struct base_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 4294967296.0 ||
        v->valuedouble != (double)(unsigned long)v->valuedouble) {
        return schema_fail(at, err, COMP_ERR_SCHEMA, "is missing or not a non-negative integer",
                           name);
    }
    *out = (unsigned long)v->valuedouble;
    return 0;
}

static int get_str(const cJSON *obj, const char *name, const char **out, const struct where *at,
                   struct base_err *err)
{
    *out = get_string(obj, name);
    if (*out == NULL) {
        return schema_fail(at, err, COMP_ERR_SCHEMA, "is missing or not a string", name);
    }
    return 0;
}

static int get_hex(struct comp_wp *w, const cJSON *obj, const char *name, int slot,
                   struct comp_bytes *out, const struct where *at, struct base_err *err)
{
    const char *s = NULL;
    if (get_str(obj, name, &s, at, err) != 0) {
        return -1;
    }
    uint8_t *data = NULL;
    size_t bad_at = 0;
    struct base_err e = BASE_ERR_INIT;
    size_t n = 0;
    int rc = base_hex_decode_alloc(s, strlen(s), &data, &n, &bad_at, &e);
    if (rc != 0 && e.code == BASE_ERR_NOMEM) {
        return comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
    }
    if (rc != 0) {
        return schema_fail(at, err, COMP_ERR_HEX, "is not an even-length hex string", name);
    }
    w->bufs[slot] = data;
    out->data = data;
    out->len = strlen(s) / 2;
    out->present = 1;
    return 0;
}

static int read_group(struct comp_wp *w, const cJSON *group, struct comp_wp_test *out,
                      const struct where *at, struct base_err *err)
{
    unsigned long v = 0;
    if (!cJSON_IsObject(group)) {
        return schema_fail(at, err, COMP_ERR_SCHEMA, "is not an object", "testGroups[]");
    }
    if (get_uint(group, "keySize", &v, at, err) != 0) {
        return -1;
    }
    out->key_size = (unsigned)v;
    if (w->schema == COMP_WP_AEAD) {
        if (get_uint(group, "tagSize", &v, at, err) != 0) {
            return -1;
        }
        out->tag_size = (unsigned)v;
    }
    switch (w->schema) {
        case COMP_WP_AEAD:
        case COMP_WP_IND_CPA:
            if (get_uint(group, "ivSize", &v, at, err) != 0) {
                return -1;
            }
            out->iv_size = (unsigned)v;
            return 0;
        case COMP_WP_KEYWRAP:
            return 0;
        case COMP_WP_RSA_OAEP:
            if (get_str(group, "sha", &out->sha, at, err) ||
                get_str(group, "mgf", &out->mgf, at, err) ||
                get_str(group, "mgfSha", &out->mgf_sha, at, err) ||
                get_hex(w, group, "privateKeyPkcs8", B_PKCS8, &out->private_key_pkcs8, at, err)) {
                return -1;
            }
            out->private_key_pem = get_string(group, "privateKeyPem");
            return 0;
        case COMP_WP_UNKNOWN:
        default:
            return schema_fail(at, err, COMP_ERR_SCHEMA, "has an unknown schema", "schema");
    }
}

/* The hex members of a test, by buffer slot (B_PKCS8 is a group member). */
static const char *const member_names[B_PKCS8] = {"key", "iv", "aad", "msg", "ct", "tag", "label"};

#define BIT(slot) (1u << (slot))

/* Which members a test of schema |s| must have; 0 for an unknown schema. */
static unsigned members_of(enum comp_wp_schema s)
{
    switch (s) {
        case COMP_WP_AEAD:
            return BIT(B_KEY) | BIT(B_IV) | BIT(B_AAD) | BIT(B_MSG) | BIT(B_CT) | BIT(B_TAG);
        case COMP_WP_IND_CPA:
            return BIT(B_KEY) | BIT(B_IV) | BIT(B_MSG) | BIT(B_CT);
        case COMP_WP_KEYWRAP:
            return BIT(B_KEY) | BIT(B_MSG) | BIT(B_CT);
        case COMP_WP_RSA_OAEP:
            return BIT(B_MSG) | BIT(B_CT) | BIT(B_LABEL);
        case COMP_WP_UNKNOWN:
        default:
            return 0;
    }
}

static int read_test(struct comp_wp *w, const cJSON *test, struct comp_wp_test *out,
                     struct where *at, struct base_err *err)
{
    unsigned long v = 0;
    if (!cJSON_IsObject(test)) {
        return schema_fail(at, err, COMP_ERR_SCHEMA, "is not an object", "tests[]");
    }
    if (get_uint(test, "tcId", &v, at, err) != 0) {
        return -1;
    }
    out->tc_id = v;
    at->tc_id = v;
    const char *result = NULL;
    if (get_str(test, "result", &result, at, err) != 0) {
        return -1;
    }
    if (strcmp(result, "valid") == 0) {
        out->result = COMP_WP_VALID;
    } else if (strcmp(result, "invalid") == 0) {
        out->result = COMP_WP_INVALID;
    } else if (strcmp(result, "acceptable") == 0) {
        out->result = COMP_WP_ACCEPTABLE;
    } else {
        return schema_fail(at, err, COMP_ERR_SCHEMA, "is not valid, invalid or acceptable",
                           "result");
    }
    const char *comment = get_string(test, "comment");
    out->comment = comment != NULL ? comment : "";
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(test, "flags");
    if (flags != NULL) {
        if (!cJSON_IsArray(flags)) {
            return schema_fail(at, err, COMP_ERR_SCHEMA, "is not an array", "flags");
        }
        const cJSON *f = NULL;
        cJSON_ArrayForEach(f, flags)
        {
            if (!cJSON_IsString(f)) {
                return schema_fail(at, err, COMP_ERR_SCHEMA, "has a non-string entry", "flags");
            }
            if (out->num_flags == COMP_WP_MAX_FLAGS) {
                return schema_fail(at, err, COMP_ERR_SCHEMA, "has too many entries", "flags");
            }
            out->flags[out->num_flags++] = f->valuestring;
        }
    }
    unsigned want = members_of(w->schema);
    if (want == 0) {
        return schema_fail(at, err, COMP_ERR_SCHEMA, "has an unknown schema", "schema");
    }
    struct comp_bytes *dst[B_PKCS8] = {&out->key, &out->iv,  &out->aad,  &out->msg,
                                       &out->ct,  &out->tag, &out->label};
    for (int i = 0; i < B_PKCS8; i++) {
        if ((want & (1u << i)) && get_hex(w, test, member_names[i], i, dst[i], at, err) != 0) {
            return -1;
        }
    }
    return 0;
}

int comp_wp_next(struct comp_wp *w, struct comp_wp_test *out, struct base_err *err)
{
    if (w == NULL || out == NULL) {
        return comp_fail(err, COMP_ERR_NULL, 0, "NULL argument");
    }
    free_bufs(w);
    memset(out, 0, sizeof(*out));
    out->comment = "";
    for (;;) {
        const cJSON *group = w->group_it;
        if (group == NULL) {
            return 0;
        }
        struct where at = {w, w->g, -1, 0};
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");
        if (!cJSON_IsObject(group) || !cJSON_IsArray(tests)) {
            return schema_fail(&at, err, COMP_ERR_SCHEMA, "is missing or not an array", "tests");
        }
        if (!w->in_group) {
            w->test_it = tests->child;
            w->in_group = 1;
        }
        const cJSON *test = w->test_it;
        if (test == NULL) {
            w->group_it = group->next;
            w->in_group = 0;
            w->g++;
            w->t = 0;
            continue;
        }
        out->group = (size_t)w->g;
        if (read_group(w, group, out, &at, err) != 0) {
            return -1;
        }
        at.t = w->t;
        if (read_test(w, test, out, &at, err) != 0) {
            return -1;
        }
        w->test_it = test->next;
        w->t++;
        return 1;
    }
}
