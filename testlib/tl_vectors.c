/* tl_vectors.c - see tl_vectors.h. */
#include "tl_vectors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base_codec.h"
#include "kat_testlib.h"
#include "tl_files.h"

/* The hex value that ends the line at |s|, into |out|: its length, 0 if it is not hex or too long.
 */
static size_t unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    return base_hex_decode(s, strcspn(s, "\r\n"), out, max, &n, NULL, NULL) == 0 ? n : 0;
}

int tl_kw_vectors(const char *path, struct tl_kw_vector *out, int max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[2048];
    int n = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "COUNT = ", 8) == 0) {
            if (n + 1 >= max) {
                break;
            }
            n++;
            memset(&out[n], 0, sizeof(out[n]));
        } else if (n < 0) {
            continue;
        } else if (strncmp(line, "K = ", 4) == 0) {
            unhex(line + 4, out[n].k, sizeof(out[n].k));
        } else if (strncmp(line, "P = ", 4) == 0) {
            out[n].p_len = unhex(line + 4, out[n].p, sizeof(out[n].p));
        } else if (strncmp(line, "C = ", 4) == 0) {
            out[n].c_len = unhex(line + 4, out[n].c, sizeof(out[n].c));
        } else if (strncmp(line, "FAIL", 4) == 0) {
            out[n].fail = 1;
        }
    }
    fclose(f);
    return n + 1;
}

static void vector_free(struct tl_aead_vector *v)
{
    free(v->key);
    free(v->iv);
    free(v->aad);
    free(v->pt);
    free(v->ct);
    free(v->tag);
    memset(v, 0, sizeof(*v));
}

void tl_aead_set_free(struct tl_aead_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        vector_free(&s->v[i]);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Appends a zeroed vector to |s|; NULL when out of memory. */
static struct tl_aead_vector *set_add(struct tl_aead_set *s)
{
    struct tl_aead_vector *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
    if (nv == NULL) {
        return NULL;
    }
    s->v = nv;
    memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
    return &s->v[s->n++];
}

/* Empties |out| and reads |path| (NUL-terminated); NULL with |why| set when it cannot. */
static char *read_text(const char *path, struct tl_aead_set *out, size_t *size, char *why,
                       size_t max_why_len)
{
    memset(out, 0, sizeof(*out));
    char *text = (char *)tl_read_file(path, size);
    if (text == NULL) {
        snprintf(why, max_why_len, "%s: cannot read", path);
    }
    return text;
}

/* The field of |v| a CAVP GCM line names, or NULL for an unknown name. */
static uint8_t **gcm_field(struct tl_aead_vector *v, const char *name, size_t **len)
{
    static const char *const names[] = {"Key", "IV", "PT", "AAD", "CT", "Tag"};
    uint8_t **bufs[] = {&v->key, &v->iv, &v->pt, &v->aad, &v->ct, &v->tag};
    size_t *lens[] = {&v->key_len, &v->iv_len, &v->pt_len, &v->aad_len, &v->ct_len, &v->tag_len};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *len = lens[i];
            return bufs[i];
        }
    }
    return NULL;
}

int tl_gcm_rsp_read(const char *path, struct tl_aead_set *out, char *why, size_t max_why_len)
{
    size_t size;
    char *text = read_text(path, out, &size, why, max_why_len);
    if (text == NULL) {
        return -1;
    }
    struct tl_aead_vector *cur = NULL;
    unsigned long line_no = 0;
    int rc = 0;
    for (char *line = text, *next; line != NULL && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        line_no++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ')) {
            line[--n] = '\0';
        }
        if (n == 0 || line[0] == '#' || line[0] == '[') {
            continue;
        }
        if (strcmp(line, "FAIL") == 0 && cur != NULL) {
            cur->fail = 1;
            continue;
        }
        char *eq = strstr(line, " = ");
        char *value = eq != NULL ? eq + 3 : NULL;
        if (eq == NULL && n > 2 && strcmp(line + n - 2, " =") == 0) {
            eq = line + n - 2; /* "PT =": an empty value */
            value = line + n;
        }
        if (eq == NULL) {
            rc = -1;
            break;
        }
        *eq = '\0';
        if (strcmp(line, "Count") == 0) {
            cur = set_add(out);
            if (cur == NULL) {
                rc = -1;
                break;
            }
            cur->id = line_no;
            continue;
        }
        size_t *len = NULL;
        uint8_t **buf = cur != NULL ? gcm_field(cur, line, &len) : NULL;
        if (buf == NULL || *buf != NULL ||
            base_hex_decode_alloc(value, strlen(value), buf, len, NULL, NULL) != 0) {
            rc = -1;
            break;
        }
        if (strcmp(line, "PT") == 0) {
            cur->has_pt = 1;
        }
    }
    free(text);
    if (rc != 0) {
        snprintf(why, max_why_len, "%s: line %lu: not a GCM record line", path, line_no);
        tl_aead_set_free(out);
    }
    return rc;
}

/* Decodes the hex string member |name| of |t| into a malloc'd buffer; 0 or -1. */
static int json_hex(const cJSON *t, const char *name, uint8_t **out, size_t *out_len)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(t, name);
    if (!cJSON_IsString(m)) {
        return -1;
    }
    return base_hex_decode_alloc(m->valuestring, strlen(m->valuestring), out, out_len, NULL, NULL);
}

static int wp_test(const cJSON *t, struct tl_aead_vector *v)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "tcId");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(t, "result");
    if (!cJSON_IsNumber(id) || !cJSON_IsString(result)) {
        return -1;
    }
    v->id = (unsigned long)id->valuedouble;
    v->has_pt = 1;
    v->fail = strcmp(result->valuestring, "invalid") == 0;
    v->acceptable = strcmp(result->valuestring, "acceptable") == 0;
    if (!v->fail && !v->acceptable && strcmp(result->valuestring, "valid") != 0) {
        return -1;
    }
    return json_hex(t, "key", &v->key, &v->key_len) == 0 &&
                   json_hex(t, "iv", &v->iv, &v->iv_len) == 0 &&
                   json_hex(t, "aad", &v->aad, &v->aad_len) == 0 &&
                   json_hex(t, "msg", &v->pt, &v->pt_len) == 0 &&
                   json_hex(t, "ct", &v->ct, &v->ct_len) == 0 &&
                   json_hex(t, "tag", &v->tag, &v->tag_len) == 0
               ? 0
               : -1;
}

int tl_wycheproof_aead_read(const char *path, struct tl_aead_set *out, char *why,
                            size_t max_why_len)
{
    size_t size;
    char *text = read_text(path, out, &size, why, max_why_len);
    if (text == NULL) {
        return -1;
    }
    cJSON *doc = cJSON_ParseWithLength(text, size);
    free(text);
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(doc, "testGroups");
    if (!cJSON_IsArray(groups)) {
        snprintf(why, max_why_len, "%s: not JSON with a testGroups array", path);
        cJSON_Delete(doc);
        return -1;
    }
    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
        const cJSON *t;
        if (!cJSON_IsArray(tests)) {
            snprintf(why, max_why_len, "%s: a test group without tests", path);
            goto fail;
        }
        cJSON_ArrayForEach(t, tests)
        {
            struct tl_aead_vector *v = set_add(out);
            if (v == NULL || wp_test(t, v) != 0) {
                snprintf(why, max_why_len, "%s: test %zu: a member is missing or malformed", path,
                         out->n);
                goto fail;
            }
        }
    }
    cJSON_Delete(doc);
    return 0;
fail:
    cJSON_Delete(doc);
    tl_aead_set_free(out);
    return -1;
}
