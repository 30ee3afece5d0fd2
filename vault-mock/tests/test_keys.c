/*
 * test_keys.c - key management routes: create, import, get, update, list
 * (with paging), versions, api-version handling, malformed input.
 */
#include <criterion/criterion.h>
#include <openssl/core_names.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(keys, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);

static int matches(const char *s, const char *pattern)
{
    regex_t re;
    if (s == NULL || regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return 0;
    }
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static size_t b64_len(const char *s)
{
    size_t len = 0;
    uint8_t *raw = vmt_unb64(s, &len);
    free(raw);
    return raw != NULL ? len : 0;
}

Test(keys, create_answers_a_key_bundle)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/keys/alpha/create?" VMT_API, KO, "{\"kty\":\"RSA\"}", &r),
                 200, "%s", r.body);
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "^%s/keys/alpha/[0-9a-f]{32}$", S->url);
    cr_assert(matches(vmt_str(&r, "key.kid"), pattern), "kid %s", vmt_str(&r, "key.kid"));
    cr_assert_str_eq(vmt_str(&r, "key.kty"), "RSA");
    cr_assert_eq(b64_len(vmt_str(&r, "key.n")), 256);
    cr_assert_str_eq(vmt_str(&r, "key.e"), "AQAB");
    cr_assert_null(vmt_str(&r, "key.d"), "private material must not be returned");
    cJSON *ops = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(r.json, "key"), "key_ops");
    cr_assert_eq(cJSON_GetArraySize(ops), 6);
    cr_assert(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "attributes"), "enabled")));
    cr_assert_gt(vmt_num(&r, "attributes.created"), 1.6e9);
    cr_assert_eq(vmt_num(&r, "attributes.created"), vmt_num(&r, "attributes.updated"));
    cr_assert_str_eq(vmt_str(&r, "attributes.recoveryLevel"), "Recoverable");
    cr_assert_eq(vmt_num(&r, "attributes.recoverableDays"), 90);
    cr_assert(strstr(r.content_type, "application/json") != NULL);
    cr_assert_eq(strlen(r.request_id), 36);
    vmt_resp_free(&r);
}

Test(keys, create_sizes_and_hsm)
{
    static const int bits[3] = {2048, 3072, 4096};
    for (int i = 0; i < 3; i++) {
        char path[64];
        char body[64];
        snprintf(path, sizeof(path), "/keys/size%d/create?" VMT_API, bits[i]);
        snprintf(body, sizeof(body), "{\"kty\":\"%s\",\"key_size\":%d}", i == 1 ? "RSA-HSM" : "RSA",
                 bits[i]);
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "POST", path, KO, body, &r), 200, "%s", r.body);
        cr_assert_eq(b64_len(vmt_str(&r, "key.n")), (size_t)bits[i] / 8);
        cr_assert_str_eq(vmt_str(&r, "key.kty"), i == 1 ? "RSA-HSM" : "RSA");
        vmt_resp_free(&r);
    }
}

Test(keys, create_rejects_bad_parameters)
{
    static const char *const bodies[] = {
        "{\"kty\":\"EC\",\"crv\":\"P-256\"}",
        "{\"kty\":\"oct-HSM\"}",
        "{\"kty\":\"RSA\",\"key_size\":1024}",
        "{\"kty\":\"RSA\",\"key_size\":\"2048\"}",
        "{\"kty\":\"RSA\",\"key_size\":2048.5}",
        "{\"kty\":\"RSA\",\"public_exponent\":4}",
        "{\"kty\":\"RSA\",\"key_ops\":[\"fly\"]}",
        "{\"kty\":\"RSA\",\"key_ops\":\"wrapKey\"}",
        "{\"kty\":\"RSA\",\"attributes\":{\"enabled\":\"yes\"}}",
        "{\"kty\":\"RSA\",\"attributes\":{\"exp\":\"tomorrow\"}}",
        "{\"kty\":\"RSA\",\"attributes\":{\"exportable\":true}}",
        "{\"kty\":\"RSA\",\"tags\":{\"a\":1}}",
        "{\"kty\":\"RSA\",\"tags\":[\"a\"]}",
        "{\"key_size\":2048}",
        "{\"kty\":\"RSA\"",
        "[{\"kty\":\"RSA\"}]",
        "{\"kty\":\"RSA\"} trailing",
        "",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "POST", "/keys/bad/create?" VMT_API, KO, bodies[i], &r), 400,
                     "body %s -> %s", bodies[i], r.body);
        cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
        cr_assert_not_null(vmt_str(&r, "error.message"));
        vmt_resp_free(&r);
    }
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/keys/bad?" VMT_API, KO, NULL, &r), 404,
                 "no key may result from rejected creates");
    vmt_resp_free(&r);
}

Test(keys, names_are_checked)
{
    static const char *const paths[] = {"/keys/under_score/create?" VMT_API,
                                        "/keys/dot.name/create?" VMT_API,
                                        "/keys/%C3%A9t%C3%A9/create?" VMT_API};
    for (size_t i = 0; i < 3; i++) {
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "POST", paths[i], KO, "{\"kty\":\"RSA\"}", &r), 400, "%s",
                     paths[i]);
        cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
        vmt_resp_free(&r);
    }
    char longname[140];
    memset(longname, 'a', 128);
    longname[128] = '\0';
    char path[200];
    snprintf(path, sizeof(path), "/keys/%s/create?" VMT_API, longname);
    vmt_expect(S, "POST", path, KO, "{\"kty\":\"RSA\"}", 400);
}

Test(keys, create_again_adds_a_version)
{
    char v1[33];
    char v2[33];
    cr_assert_eq(vmt_create_key(S, "twice", 2048, NULL, v1), 200);
    cr_assert_eq(vmt_create_key(S, "twice", 2048, NULL, v2), 200);
    cr_assert_neq(strcmp(v1, v2), 0);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/keys/twice?" VMT_API, KO, NULL, &r), 200);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v2) != NULL, "latest is the newest version");
    vmt_resp_free(&r);
}

Test(keys, get_latest_version_and_odd_paths)
{
    char v1[33];
    cr_assert_eq(vmt_create_key(S, "gk", 2048, NULL, v1), 200);
    char paths[6][160];
    snprintf(paths[0], 160, "/keys/gk?" VMT_API);
    snprintf(paths[1], 160, "/keys/gk/?" VMT_API);
    snprintf(paths[2], 160, "//keys//gk//?" VMT_API);
    snprintf(paths[3], 160, "/keys/gk/%s?" VMT_API, v1);
    snprintf(paths[4], 160, "/keys/gk/%s/?" VMT_API, v1);
    snprintf(paths[5], 160, "/keys/GK/%s?" VMT_API, v1);
    for (int i = 0; i < 6; i++) {
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "GET", paths[i], KO, NULL, &r), 200, "%s: %s", paths[i], r.body);
        cr_assert(strstr(vmt_str(&r, "key.kid"), v1) != NULL);
        vmt_resp_free(&r);
    }
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/keys/nokey?" VMT_API, KO, NULL, &r), 404);
    cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound");
    cr_assert(strstr(vmt_str(&r, "error.message"), "nokey") != NULL);
    vmt_resp_free(&r);
    cr_assert_eq(
        vmt_call(S, "GET", "/keys/gk/00000000000000000000000000000000?" VMT_API, KO, NULL, &r),
        404);
    cr_assert_str_eq(vmt_error_code(&r), "KeyNotFound");
    vmt_resp_free(&r);
}

Test(keys, update_changes_attributes_tags_and_ops)
{
    char v1[33];
    char v2[33];
    cr_assert_eq(vmt_create_key(S, "upd", 2048, NULL, v1), 200);
    cr_assert_eq(vmt_create_key(S, "upd", 2048, NULL, v2), 200);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "PATCH", "/keys/upd/?" VMT_API, KO,
                          "{\"attributes\":{\"enabled\":false,\"nbf\":1700000000,\"exp\":"
                          "4102444800},\"tags\":{\"purpose\":\"test\"},\"key_ops\":[\"wrapKey\","
                          "\"unwrapKey\"]}",
                          &r),
                 200, "%s", r.body);
    cr_assert(strstr(vmt_str(&r, "key.kid"), v2) != NULL, "versionless PATCH updates the latest");
    cr_assert(
        cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "attributes"), "enabled")));
    cr_assert_eq(vmt_num(&r, "attributes.nbf"), 1700000000);
    cr_assert_eq(vmt_num(&r, "attributes.exp"), 4102444800.0);
    cr_assert_str_eq(vmt_str(&r, "tags.purpose"), "test");
    cJSON *ops = cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "key"), "key_ops");
    cr_assert_eq(cJSON_GetArraySize(ops), 2);
    vmt_resp_free(&r);

    /* The older version is untouched. */
    char path[160];
    snprintf(path, sizeof(path), "/keys/upd/%s?" VMT_API, v1);
    cr_assert_eq(vmt_call(S, "GET", path, KO, NULL, &r), 200);
    cr_assert(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "attributes"), "enabled")));
    cr_assert_null(vmt_str(&r, "tags.purpose"));
    vmt_resp_free(&r);

    /* null clears exp; a disabled key can still be updated (re-enabled). */
    cr_assert_eq(vmt_call(S, "PATCH", "/keys/upd?" VMT_API, KO,
                          "{\"attributes\":{\"enabled\":true,\"exp\":null}}", &r),
                 200);
    cr_assert_eq(vmt_num(&r, "attributes.exp"), -1);
    cr_assert_eq(vmt_num(&r, "attributes.nbf"), 1700000000);
    vmt_resp_free(&r);

    cr_assert_eq(
        vmt_call(S, "PATCH", "/keys/upd?" VMT_API, KO, "{\"attributes\":{\"enabled\":1}}", &r),
        400);
    cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
    vmt_resp_free(&r);
    vmt_expect(S, "PATCH", "/keys/ghost?" VMT_API, KO, "{\"tags\":{}}", 404);
}

/* Follow nextLink from |first|; collect the names into |seen|; return the page count. */
static int walk_pages(const char *first, char seen[][64], int *n_seen, int per_page)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s", first);
    int pages = 0;
    for (;;) {
        struct vmt_resp r;
        cr_assert_eq(vmt_call_url(S, "GET", url, KO, NULL, &r), 200, "%s -> %s", url, r.body);
        cJSON *value = cJSON_GetObjectItem(r.json, "value");
        cr_assert(cJSON_IsArray(value));
        cr_assert_leq(cJSON_GetArraySize(value), per_page);
        cJSON *it = NULL;
        cJSON_ArrayForEach(it, value)
        {
            const char *kid = cJSON_GetStringValue(cJSON_GetObjectItem(it, "kid"));
            cr_assert_not_null(kid);
            cr_assert_not_null(cJSON_GetObjectItem(it, "attributes"));
            snprintf(seen[(*n_seen)++], 64, "%s", strrchr(kid, '/') + 1);
        }
        pages++;
        const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "nextLink"));
        if (next == NULL) {
            vmt_resp_free(&r);
            return pages;
        }
        cr_assert(strstr(next, "api-version=7.4") != NULL, "%s", next);
        cr_assert(strstr(next, "$skiptoken=") != NULL, "%s", next);
        char mr[32];
        snprintf(mr, sizeof(mr), "maxresults=%d", per_page);
        cr_assert(strstr(next, mr) != NULL, "%s", next);
        snprintf(url, sizeof(url), "%s", next);
        vmt_resp_free(&r);
        cr_assert_lt(pages, 20);
    }
}

Test(keys, list_pages_with_maxresults_and_next_link)
{
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "page%d", i);
        cr_assert_eq(vmt_create_key(S, name, 2048, NULL, NULL), 200);
    }
    char seen[16][64];
    int n = 0;
    char first[256];
    snprintf(first, sizeof(first), "%s/keys?" VMT_API "&maxresults=2", S->url);
    cr_assert_eq(walk_pages(first, seen, &n, 2), 2);
    cr_assert_eq(n, 3);
    n = 0;
    snprintf(first, sizeof(first), "%s/keys?" VMT_API "&maxresults=1", S->url);
    cr_assert_eq(walk_pages(first, seen, &n, 1), 3);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "page%d", i);
        int count = 0;
        for (int j = 0; j < n; j++) {
            count += strcmp(seen[j], name) == 0;
        }
        cr_assert_eq(count, 1, "%s listed %d times", name, count);
    }
    n = 0;
    snprintf(first, sizeof(first), "%s/keys?" VMT_API, S->url);
    cr_assert_eq(walk_pages(first, seen, &n, 25), 1, "default page size is 25");
    cr_assert_eq(n, 3);
}

Test(keys, list_versions_pages)
{
    char v[3][33];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vmt_create_key(S, "multi", 2048, NULL, v[i]), 200);
    }
    char seen[16][64];
    int n = 0;
    char first[256];
    snprintf(first, sizeof(first), "%s/keys/multi/versions?" VMT_API "&maxresults=2", S->url);
    cr_assert_eq(walk_pages(first, seen, &n, 2), 2);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(seen[i], v[i], "versions oldest first, versioned kids");
    }
    vmt_expect(S, "GET", "/keys/none/versions?" VMT_API, KO, NULL, 404);
}

Test(keys, maxresults_and_skiptoken_are_checked)
{
    static const char *const q[] = {"&maxresults=0", "&maxresults=26", "&maxresults=abc",
                                    "&maxresults=-1", "&$skiptoken=%%%%"};
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/keys?" VMT_API "%s", q[i]);
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "GET", path, KO, NULL, &r), 400, "%s", path);
        cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
        vmt_resp_free(&r);
    }
}

Test(keys, api_version_is_required_and_checked)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/keys", KO, NULL, &r), 400);
    cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
    cr_assert(strstr(vmt_str(&r, "error.message"), "api-version") != NULL);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/keys?api-version=9.9", KO, NULL, &r), 400);
    cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
    cr_assert(strstr(vmt_str(&r, "error.message"),
                     "The specified version (9.9) is not "
                     "recognized") != NULL);
    vmt_resp_free(&r);
    static const char *const ok[] = {"7.0", "7.2", "7.3",        "7.4",
                                     "7.5", "7.6", "2025-07-01", "7.5-preview.1"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/keys?api-version=%s", ok[i]);
        cr_assert_eq(vmt_call(S, "GET", path, KO, NULL, &r), 200, "%s", ok[i]);
        vmt_resp_free(&r);
    }
}

Test(keys, unknown_routes_and_methods)
{
    struct vmt_resp r;
    vmt_expect(S, "GET", "/secrets/x?" VMT_API, KO, NULL, 404);
    cr_assert_eq(vmt_call(S, "PUT", "/keys/x/create?" VMT_API, KO, "{}", &r), 405);
    cr_assert_str_eq(vmt_error_code(&r), "MethodNotAllowed");
    vmt_resp_free(&r);
    vmt_expect(S, "GET", "/keys/x/wrapkey?" VMT_API, KO, NULL, 405);
    vmt_expect(S, "POST", "/keys?" VMT_API, KO, "{}", 405);
    vmt_expect(S, "GET", "/keys/a/b/c/d/e/f/g/h/i?" VMT_API, KO, NULL, 400);
}

Test(keys, import_keeps_the_given_key)
{
    EVP_PKEY *local = vmt_rsa_generate(2048);
    cr_assert_not_null(local);
    char *jwk = vmt_jwk_private(local, NULL);
    char body[8192];
    snprintf(body, sizeof(body),
             "{\"key\":{%s,\"key_ops\":[\"wrapKey\",\"unwrapKey\"]},\"Hsm\":true,"
             "\"tags\":{\"src\":\"byok\"}}",
             jwk);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "PUT", "/keys/imp?" VMT_API, KO, body, &r), 200, "%s", r.body);
    char *n = vmt_param_b64(local, OSSL_PKEY_PARAM_RSA_N);
    cr_assert_str_eq(vmt_str(&r, "key.n"), n);
    cr_assert_str_eq(vmt_str(&r, "key.kty"), "RSA-HSM");
    cr_assert_null(vmt_str(&r, "key.d"));
    cr_assert_str_eq(vmt_str(&r, "tags.src"), "byok");
    vmt_resp_free(&r);

    /* The vault wraps with the imported key: the local private key unwraps (independent check). */
    const uint8_t dek[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    char *dek_b64 = vmt_b64(dek, sizeof(dek));
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}", dek_b64);
    cr_assert_eq(vmt_call(S, "POST", "/keys/imp/wrapkey?" VMT_API, KO, body, &r), 200);
    size_t ct_len = 0;
    uint8_t *ct = vmt_unb64(vmt_str(&r, "value"), &ct_len);
    size_t pt_len = 0;
    uint8_t *pt = vmt_rsa_decrypt(local, "RSA-OAEP-256", ct, ct_len, &pt_len);
    cr_assert_not_null(pt);
    cr_assert_eq(pt_len, 32);
    cr_assert(memcmp(pt, dek, 32) == 0);
    vmt_resp_free(&r);
    free(pt);
    free(ct);
    free(dek_b64);
    free(n);
    free(jwk);
    EVP_PKEY_free(local);
}

Test(keys, import_rejects_incomplete_or_inconsistent_keys)
{
    EVP_PKEY *a = vmt_rsa_generate(2048);
    EVP_PKEY *b = vmt_rsa_generate(2048);
    EVP_PKEY *small = vmt_rsa_generate(1024);
    char *no_d = vmt_jwk_private(a, "d");
    char *small_jwk = vmt_jwk_private(small, NULL);
    char *a_jwk = vmt_jwk_private(a, NULL);
    char *b_n = vmt_param_b64(b, OSSL_PKEY_PARAM_RSA_N);
    /* a's private parts with b's modulus */
    char mixed[8192];
    const char *n_at = strstr(a_jwk, "\"n\":\"");
    const char *n_end = strchr(n_at + 5, '"');
    snprintf(mixed, sizeof(mixed), "%.*s\"n\":\"%s%s", (int)(n_at - a_jwk), a_jwk, b_n, n_end);
    const char *jwks[4] = {no_d, small_jwk, mixed, "\"kty\":\"EC\",\"crv\":\"P-256\""};
    for (int i = 0; i < 4; i++) {
        char body[8192];
        snprintf(body, sizeof(body), "{\"key\":{%s}}", jwks[i]);
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, "PUT", "/keys/badimp?" VMT_API, KO, body, &r), 400, "case %d: %s",
                     i, r.body);
        cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
        vmt_resp_free(&r);
    }
    vmt_expect(S, "PUT", "/keys/badimp?" VMT_API, KO, "{\"Hsm\":true}", 400);
    free(no_d);
    free(small_jwk);
    free(a_jwk);
    free(b_n);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(small);
}
