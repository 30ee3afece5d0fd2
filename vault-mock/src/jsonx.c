/*
 * jsonx.c - strict cJSON accessors and the error document.
 */
#include "jsonx.h"

#include <math.h>
#include <string.h>

const char *vmock_json_string(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

int vmock_json_int(const cJSON *obj, const char *name, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (it == NULL) {
        return 0;
    }
    if (cJSON_IsNull(it)) {
        return 2;
    }
    if (!cJSON_IsNumber(it)) {
        return -1;
    }
    double d = it->valuedouble;
    /* 2^53: beyond it a double no longer holds every integer. */
    if (!isfinite(d) || d != floor(d) || d > 9007199254740992.0 || d < -9007199254740992.0) {
        return -1;
    }
    *out = (int64_t)d;
    return 1;
}

int vmock_json_bool(const cJSON *obj, const char *name, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (it == NULL) {
        return 0;
    }
    if (cJSON_IsNull(it)) {
        return 2;
    }
    if (!cJSON_IsBool(it)) {
        return -1;
    }
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return 1;
}

/*
 * 1 when |text| holds a raw NUL byte or a \u0000 escape: cJSON would keep
 * either inside a string, which C then reads cut short at the NUL. A
 * backslash outside a string is invalid JSON anyway, so every backslash
 * pair is an escape here.
 */
static int has_nul(const char *text, size_t len)
{
    if (memchr(text, '\0', len) != NULL) {
        return 1;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\') {
            continue;
        }
        if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0) {
            return 1;
        }
        i++; /* the escaped character */
    }
    return 0;
}

cJSON *vmock_json_parse_object(const char *text, size_t len, const char **why)
{
    if (text == NULL || len == 0) {
        *why = "The request body is missing; a JSON object is required.";
        return NULL;
    }
    if (has_nul(text, len)) {
        *why =
            "The request body contains a NUL character (a raw 0x00 byte or \\u0000); JSON "
            "strings here may not.";
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root == NULL) {
        *why = "The request body is not valid JSON.";
        return NULL;
    }
    size_t used = end != NULL ? (size_t)(end - text) : len;
    for (size_t i = used; i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            cJSON_Delete(root);
            *why = "The request body has data after the JSON document.";
            return NULL;
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *why = "The request body must be a JSON object.";
        return NULL;
    }
    return root;
}

int vmock_json_tags_valid(const cJSON *tags)
{
    if (!cJSON_IsObject(tags)) {
        return 0;
    }
    int n = 0;
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, tags)
    {
        if (!cJSON_IsString(it) || it->string == NULL || strlen(it->string) > 512 ||
            strlen(it->valuestring) > 256 || ++n > 15) {
            return 0;
        }
    }
    return 1;
}

char *vmock_error_body(const char *code, const char *message, const char *inner)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    if (err == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    if (inner != NULL) {
        cJSON *in = cJSON_AddObjectToObject(err, "innererror");
        if (in != NULL) {
            cJSON_AddStringToObject(in, "code", inner);
        }
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}
