/*
 * test_lifecycle.c - soft delete (DeletedKeyBundle, get and list deleted),
 * recover, purge refused under purge protection and allowed without it,
 * name reuse conflict, rotation keeping old versions usable.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(lifecycle, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);
/* Tests that start the server with their own flags. */
TestSuite(lifecycle_flags, .fini = vmt_teardown, .timeout = 60);

static const char *wrap_body = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}";

/* Wraps wrap_body's value with key |name| and writes the unwrapkey request body for it. */
static void wrapped_body(const char *name, char *out, size_t max_out_len)
{
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s/wrapkey?" VMT_API, name);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", path, KO, wrap_body, &r), 200, "%s", r.body);
    snprintf(out, max_out_len, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", vmt_str(&r, "value"));
    vmt_resp_free(&r);
}

Test(lifecycle, delete_answers_a_deleted_key_bundle)
{
    char v[33];
    cr_assert_eq(vmt_create_key(S, "gone", 2048, NULL, v), 200);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "DELETE", "/keys/gone?" VMT_API, KO, NULL, &r), 200, "%s", r.body);
    char rid[256];
    snprintf(rid, sizeof(rid), "%s/deletedkeys/gone", S->url);
    cr_assert_str_eq(vmt_str(&r, "recoveryId"), rid);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v) != NULL);
    double deleted = vmt_num(&r, "deletedDate");
    cr_assert_gt(deleted, 1.6e9);
    cr_assert_eq(vmt_num(&r, "scheduledPurgeDate") - deleted, 90.0 * 86400);
    cr_assert_str_eq(vmt_str(&r, "attributes.recoveryLevel"), "Recoverable");
    vmt_resp_free(&r);

    cr_assert_eq(vmt_call(S, "GET", "/keys/gone?" VMT_API, KO, NULL, &r), 404);
    cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound");
    vmt_resp_free(&r);
    vmt_expect(S, "POST", "/keys/gone/wrapkey?" VMT_API, KO, wrap_body, 404);
    cr_assert_eq(vmt_call(S, "DELETE", "/keys/gone?" VMT_API, KO, NULL, &r), 404,
                 "deleting twice finds nothing");
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/deletedkeys/gone?" VMT_API, KO, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "deletedDate"), deleted);
    cr_assert_str_eq(vmt_str(&r, "recoveryId"), rid);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/deletedkeys/never?" VMT_API, KO, NULL, &r), 404);
    cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound");
    cr_assert(strstr(vmt_str(&r, "error.message"), "Deleted Key not found") != NULL);
    vmt_resp_free(&r);
}

/*
 * Unwrap, not only wrap, on a soft-deleted key: 404 KeyNotFound, by name and by version, for
 * a value wrapped while the key lived. (The engine side, an SMK key file deleted under a
 * backup: engine_test_backup backup/needs_the_right_kek.)
 */
Test(lifecycle, unwrap_on_a_deleted_key_is_not_found)
{
    char v[33];
    cr_assert_eq(vmt_create_key(S, "gone", 2048, NULL, v), 200);
    char unwrap[1024];
    wrapped_body("gone", unwrap, sizeof(unwrap));
    struct vmt_resp r;
    vmt_expect(S, "DELETE", "/keys/gone?" VMT_API, KO, NULL, 200);
    char by_version[128];
    snprintf(by_version, sizeof(by_version), "/keys/gone/%s/unwrapkey?" VMT_API, v);
    const char *const paths[] = {"/keys/gone/unwrapkey?" VMT_API, by_version};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(vmt_call(S, "POST", paths[i], KO, unwrap, &r), 404, "%s: %s", paths[i],
                     r.body);
        cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound", "%s", paths[i]);
        cr_assert_null(vmt_str(&r, "value"), "no key bytes in the answer");
        vmt_resp_free(&r);
    }
    /* recovered: the same value unwraps again (nothing was lost) */
    vmt_expect(S, "POST", "/deletedkeys/gone/recover?" VMT_API, KO, NULL, 200);
    cr_assert_eq(vmt_call(S, "POST", "/keys/gone/unwrapkey?" VMT_API, KO, unwrap, &r), 200);
    cr_assert_str_eq(vmt_str(&r, "value"), "AAECAwQFBgcICQoLDA0ODw");
    vmt_resp_free(&r);
}

Test(lifecycle, list_deleted_and_live_keys_apart)
{
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%d", i);
        cr_assert_eq(vmt_create_key(S, name, 2048, NULL, NULL), 200);
    }
    struct vmt_resp r;
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/keys/d%d?" VMT_API, i);
        vmt_expect(S, "DELETE", path, KO, NULL, 200);
    }
    cr_assert_eq(vmt_call(S, "GET", "/deletedkeys?" VMT_API "&maxresults=2", KO, NULL, &r), 200);
    cJSON *value = cJSON_GetObjectItem(r.json, "value");
    cr_assert_eq(cJSON_GetArraySize(value), 2);
    cJSON *first = cJSON_GetArrayItem(value, 0);
    cr_assert_not_null(cJSON_GetObjectItem(first, "recoveryId"));
    cr_assert_not_null(cJSON_GetObjectItem(first, "scheduledPurgeDate"));
    const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "nextLink"));
    cr_assert_not_null(next);
    char url[1024];
    snprintf(url, sizeof(url), "%s", next);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call_url(S, "GET", url, KO, NULL, &r), 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "value")), 1);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r.json, "nextLink")));
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, KO, NULL, &r), 200);
    cJSON *live = cJSON_GetObjectItem(r.json, "value");
    cr_assert_eq(cJSON_GetArraySize(live), 1);
    cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(live, 0), "kid")),
                     "/keys/d3") != NULL);
    vmt_resp_free(&r);
}

Test(lifecycle, deleted_name_cannot_be_reused_until_recovered)
{
    char v[33];
    cr_assert_eq(vmt_create_key(S, "reuse", 2048, NULL, v), 200);
    char unwrap[1024];
    wrapped_body("reuse", unwrap, sizeof(unwrap));
    struct vmt_resp r;
    vmt_expect(S, "DELETE", "/keys/reuse?" VMT_API, KO, NULL, 200);
    cr_assert_eq(vmt_create_key(S, "reuse", 2048, NULL, NULL), 409);
    cr_assert_eq(vmt_call(S, "POST", "/keys/reuse/create?" VMT_API, KO, "{\"kty\":\"RSA\"}", &r),
                 409);
    cr_assert_str_eq(vmt_error_code(&r), "Conflict");
    cr_assert_str_eq(vmt_inner_code(&r), "ObjectIsDeletedButRecoverable");
    vmt_resp_free(&r);
    vmt_expect(S, "POST", "/keys/reuse/rotate?" VMT_API, KO, NULL, 404);
    cr_assert_eq(vmt_call(S, "POST", "/deletedkeys/reuse/recover?" VMT_API, KO, NULL, &r), 200,
                 "%s", r.body);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v) != NULL);
    cr_assert_null(vmt_str(&r, "recoveryId"));
    vmt_resp_free(&r);
    /* back and usable: the value wrapped before the delete unwraps */
    cr_assert_eq(vmt_call(S, "POST", "/keys/reuse/unwrapkey?" VMT_API, KO, unwrap, &r), 200);
    cr_assert_str_eq(vmt_str(&r, "value"), "AAECAwQFBgcICQoLDA0ODw");
    vmt_resp_free(&r);
    vmt_expect(S, "GET", "/deletedkeys/reuse?" VMT_API, KO, NULL, 404);
    vmt_expect(S, "POST", "/deletedkeys/reuse/recover?" VMT_API, KO, NULL, 404);
}

Test(lifecycle, purge_refused_under_purge_protection)
{
    cr_assert_eq(vmt_create_key(S, "kept", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    vmt_expect(S, "DELETE", "/keys/kept?" VMT_API, KO, NULL, 200);
    cr_assert_eq(vmt_call(S, "DELETE", "/deletedkeys/kept?" VMT_API, KO, NULL, &r), 403);
    cr_assert_str_eq(vmt_error_code(&r), "Forbidden");
    cr_assert(strstr(vmt_str(&r, "error.message"), "purge protection is enabled") != NULL);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/deletedkeys/kept?" VMT_API, KO, NULL, &r), 200,
                 "still recoverable");
    vmt_resp_free(&r);
    vmt_expect(S, "DELETE", "/deletedkeys/live?" VMT_API, KO, NULL, 404);
}

Test(lifecycle_flags, purge_without_protection_frees_the_name)
{
    const char *args[] = {"--purge-protection", "off", "--retention-days", "7", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "tmp", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "DELETE", "/keys/tmp?" VMT_API, KO, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "scheduledPurgeDate") - vmt_num(&r, "deletedDate"), 7.0 * 86400);
    cr_assert_str_eq(vmt_str(&r, "attributes.recoveryLevel"), "CustomizedRecoverable+Purgeable");
    cr_assert_eq(vmt_num(&r, "attributes.recoverableDays"), 7);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "DELETE", "/deletedkeys/tmp?" VMT_API, KO, NULL, &r), 204);
    cr_assert_null(r.body);
    vmt_resp_free(&r);
    vmt_expect(S, "GET", "/deletedkeys/tmp?" VMT_API, KO, NULL, 404);
    vmt_expect(S, "DELETE", "/deletedkeys/tmp?" VMT_API, KO, NULL, 404);
    cr_assert_eq(vmt_create_key(S, "tmp", 2048, NULL, NULL), 200, "name free after purge");
}

Test(lifecycle, rotate_makes_a_new_version_and_keeps_the_old)
{
    char v1[33];
    cr_assert_eq(
        vmt_create_key(S, "rot", 3072,
                       "\"key_ops\":[\"wrapKey\",\"unwrapKey\"],\"tags\":{\"o\":\"x\"}", v1),
        200);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/keys/rot/wrapkey?" VMT_API, KO, wrap_body, &r), 200);
    char old_wrapped[1024];
    snprintf(old_wrapped, sizeof(old_wrapped), "%s", vmt_str(&r, "value"));
    vmt_resp_free(&r);

    cr_assert_eq(vmt_call(S, "POST", "/keys/rot/rotate?" VMT_API, KO, NULL, &r), 200, "%s", r.body);
    const char *kid = vmt_str(&r, "key.kid");
    char v2[33];
    snprintf(v2, sizeof(v2), "%s", strrchr(kid, '/') + 1);
    cr_assert_neq(strcmp(v1, v2), 0);
    size_t nlen = 0;
    uint8_t *n = vmt_unb64(vmt_str(&r, "key.n"), &nlen);
    cr_assert_eq(nlen, 384, "rotation keeps the size");
    free(n);
    cr_assert_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "key"), "key_ops")), 2,
        "rotation keeps key_ops");
    cr_assert_str_eq(vmt_str(&r, "tags.o"), "x");
    vmt_resp_free(&r);

    cr_assert_eq(vmt_call(S, "GET", "/keys/rot?" VMT_API, KO, NULL, &r), 200);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v2) != NULL, "latest is the rotated version");
    vmt_resp_free(&r);

    /* the old version still unwraps, by version and by kid */
    char body[2048];
    char path[128];
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", old_wrapped);
    snprintf(path, sizeof(path), "/keys/rot/%s/unwrapkey?" VMT_API, v1);
    cr_assert_eq(vmt_call(S, "POST", path, KO, body, &r), 200);
    cr_assert_str_eq(vmt_str(&r, "value"), "AAECAwQFBgcICQoLDA0ODw");
    vmt_resp_free(&r);
    /* the latest cannot unwrap what the old one wrapped */
    vmt_expect(S, "POST", "/keys/rot/unwrapkey?" VMT_API, KO, body, 400);
    cr_assert_eq(vmt_call(S, "GET", "/keys/rot/versions?" VMT_API, KO, NULL, &r), 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "value")), 2);
    vmt_resp_free(&r);
    vmt_expect(S, "POST", "/keys/none/rotate?" VMT_API, KO, NULL, 404);
}
