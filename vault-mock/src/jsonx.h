/*
 * jsonx.h - small strict accessors over cJSON and the service's error body.
 */
#ifndef VMOCK_JSONX_H
#define VMOCK_JSONX_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* vmock_json_string returns the string member |name| of |obj|, or NULL if absent or not a string.
 */
const char *vmock_json_string(const cJSON *obj, const char *name);

/*
 * vmock_json_int reads the integer member |name| of |obj| into |*out|.
 * Returns 1 when present and an integer in int64 range, 0 when absent, 2
 * when JSON null, -1 when of another type or not integral.
 */
int vmock_json_int(const cJSON *obj, const char *name, int64_t *out);

/*
 * vmock_json_bool reads the boolean member |name|. Returns 1 present, 0
 * absent, 2 null, -1 another type.
 */
int vmock_json_bool(const cJSON *obj, const char *name, int *out);

/*
 * vmock_json_parse_object parses |len| bytes of |text| as one JSON object
 * with nothing but white space after it, and no NUL character anywhere
 * (neither a raw 0x00 byte nor a \u0000 escape, which C strings would
 * read cut short). Returns the object (caller frees) or NULL with |*why|
 * set to a message for a 400 answer.
 */
cJSON *vmock_json_parse_object(const char *text, size_t len, const char **why);

/*
 * vmock_json_tags_valid is 1 when |tags| is an object whose members are all
 * strings (at most 15 of them, names up to 512 and values up to 256
 * characters, as the service allows), else 0.
 */
int vmock_json_tags_valid(const cJSON *tags);

/*
 * vmock_error_body returns the service's error document
 * {"error":{"code":..,"message":..[,"innererror":{"code":..}]}} as a
 * malloc'd string (caller frees), or NULL when out of memory. |inner| may
 * be NULL.
 */
char *vmock_error_body(const char *code, const char *message, const char *inner);

#endif /* VMOCK_JSONX_H */
