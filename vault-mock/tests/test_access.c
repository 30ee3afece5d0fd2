/*
 * test_access.c - authentication (the 401 challenge) and the access
 * policies: every permission allowed and denied for each default identity
 * (with its audit line), per-key grants from an identities file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(access, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);
/* Tests that start the server with their own flags. */
TestSuite(access_flags, .fini = vmt_teardown, .timeout = 60);

static void check_challenge(const struct vmt_resp *r)
{
    cr_assert_eq(r->status, 401);
    cr_assert_str_eq(vmt_error_code(r), "Unauthorized");
    cr_assert(strncmp(r->www_authenticate,
                      "Bearer authorization=\"https://login.microsoftonline.com/", 56) == 0,
              "%s", r->www_authenticate);
    cr_assert(strstr(r->www_authenticate, "resource=\"https://vault.azure.net\"") != NULL, "%s",
              r->www_authenticate);
}

Test(access, missing_token_gets_the_challenge)
{
    struct vmt_resp r;
    vmt_call(S, "GET", "/keys?" VMT_API, NULL, NULL, &r);
    check_challenge(&r);
    cr_assert(strstr(vmt_str(&r, "error.message"), "AKV10000") != NULL);
    vmt_resp_free(&r);
    /* the SDK's first request: POST without body and without token */
    vmt_call(S, "POST", "/keys/x/create?" VMT_API, NULL, NULL, &r);
    check_challenge(&r);
    vmt_resp_free(&r);
    vmt_call_raw(S, "GET", "/keys?" VMT_API, NULL, NULL, 0,
                 "Authorization: Basic dXNlcjpwdw==", &r);
    check_challenge(&r);
    vmt_resp_free(&r);
}

Test(access, wrong_token_gets_401)
{
    struct vmt_resp r;
    vmt_call(S, "GET", "/keys?" VMT_API, "not-a-token-of-this-vault", NULL, &r);
    check_challenge(&r);
    cr_assert(strstr(r.www_authenticate, "invalid_token") != NULL);
    vmt_resp_free(&r);
    /* the admin token is not a data-plane identity */
    vmt_call(S, "GET", "/keys?" VMT_API, vmt_token(S, "admin"), NULL, &r);
    check_challenge(&r);
    vmt_resp_free(&r);
    /* audit line for the rejected request, without identity */
    vmt_call(S, "GET", "/keys/k1?" VMT_API, "not-a-token-of-this-vault", NULL, &r);
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_not_null(line);
    cr_assert_eq(cJSON_GetObjectItem(line, "status")->valueint, 401);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(line, "identity")));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "operation")), "get");
    cJSON_Delete(line);
    vmt_resp_free(&r);
}

struct op_case {
    const char *perm;
    const char *op; /* audit operation name */
    const char *method;
    const char *path;
    const char *body;
};

/* Status codes the allowed calls may legitimately get (anything but 401/403). */
static int allowed_status(long st)
{
    return st == 200 || st == 204 || st == 400 || st == 404 || st == 409;
}

Test(access, each_permission_for_each_default_identity)
{
    cr_assert_eq(vmt_create_key(S, "pk", 2048, NULL, NULL), 200);
    /* a real wrapped value and a signature, so that allowed calls succeed */
    char body[2048];
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/keys/pk/wrapkey?" VMT_API, KO,
                          "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}", &r),
                 200);
    char unwrap_body[1024];
    snprintf(unwrap_body, sizeof(unwrap_body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}",
             vmt_str(&r, "value"));
    vmt_resp_free(&r);
    const char *md = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    snprintf(body, sizeof(body), "{\"alg\":\"RS256\",\"value\":\"%s\"}", md);
    cr_assert_eq(vmt_call(S, "POST", "/keys/pk/sign?" VMT_API, KO, body, &r), 200);
    char verify_body[1024];
    snprintf(verify_body, sizeof(verify_body),
             "{\"alg\":\"RS256\",\"digest\":\"%s\",\"value\":\"%s\"}", md, vmt_str(&r, "value"));
    vmt_resp_free(&r);

    const struct op_case cases[] = {
        {"get", "get", "GET", "/keys/pk?" VMT_API, NULL},
        {"list", "list", "GET", "/keys?" VMT_API, NULL},
        {"list", "listversions", "GET", "/keys/pk/versions?" VMT_API, NULL},
        {"list", "listdeleted", "GET", "/deletedkeys?" VMT_API, NULL},
        {"get", "getdeleted", "GET", "/deletedkeys/pk?" VMT_API, NULL},
        {"create", "create", "POST", "/keys/made/create?" VMT_API, "{\"kty\":\"RSA\"}"},
        {"import", "import", "PUT", "/keys/imported?" VMT_API, "{\"key\":{\"kty\":\"RSA\"}}"},
        {"update", "update", "PATCH", "/keys/pk?" VMT_API, "{\"tags\":{\"t\":\"v\"}}"},
        {"rotate", "rotate", "POST", "/keys/pk/rotate?" VMT_API, NULL},
        {"wrapKey", "wrapkey", "POST", "/keys/pk/wrapkey?" VMT_API,
         "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}"},
        {"unwrapKey", "unwrapkey", "POST", "/keys/pk/unwrapkey?" VMT_API, unwrap_body},
        {"encrypt", "encrypt", "POST", "/keys/pk/encrypt?" VMT_API,
         "{\"alg\":\"RSA-OAEP\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}"},
        {"decrypt", "decrypt", "POST", "/keys/pk/decrypt?" VMT_API, unwrap_body},
        {"sign", "sign", "POST", "/keys/pk/sign?" VMT_API, body},
        {"verify", "verify", "POST", "/keys/pk/verify?" VMT_API, verify_body},
        {"recover", "recover", "POST", "/deletedkeys/pk/recover?" VMT_API, NULL},
        {"purge", "purge", "DELETE", "/deletedkeys/pk?" VMT_API, NULL},
        {"delete", "delete", "DELETE", "/keys/pk?" VMT_API, NULL},
    };
    const struct {
        const char *name;
        const char *perms; /* space-separated; "all" */
    } ids[3] = {
        {"dbservice", " get wrapKey unwrapKey "},
        {"auditor", " get list "},
        {"keyofficer", "all"},
    };
    size_t n_cases = sizeof(cases) / sizeof(cases[0]);
    int denied = 0;
    int allowed = 0;
    for (int i = 0; i < 3; i++) {
        const char *tok = vmt_token(S, ids[i].name);
        cr_assert_not_null(tok);
        for (size_t c = 0; c < n_cases; c++) {
            char needle[32];
            snprintf(needle, sizeof(needle), " %s ", cases[c].perm);
            int may = strcmp(ids[i].perms, "all") == 0 || strstr(ids[i].perms, needle) != NULL;
            vmt_call(S, cases[c].method, cases[c].path, tok, cases[c].body, &r);
            cJSON *line = vmt_audit_find(S, r.request_id);
            cr_assert_not_null(line, "audit line for %s %s", ids[i].name, cases[c].op);
            cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "identity")),
                             ids[i].name);
            cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "operation")),
                             cases[c].op);
            cr_assert_eq(cJSON_GetObjectItem(line, "status")->valueint, (int)r.status);
            if (may) {
                cr_assert(allowed_status(r.status), "%s %s: %ld %s", ids[i].name, cases[c].op,
                          r.status, r.body);
                allowed++;
            } else {
                cr_assert_eq(r.status, 403, "%s %s: %ld %s", ids[i].name, cases[c].op, r.status,
                             r.body);
                cr_assert_str_eq(vmt_error_code(&r), "Forbidden");
                cr_assert_str_eq(vmt_inner_code(&r), "ForbiddenByPolicy");
                cr_assert(strstr(vmt_str(&r, "error.message"), ids[i].name) != NULL);
                char what[64];
                snprintf(what, sizeof(what), "keys %s permission", cases[c].perm);
                cr_assert(strstr(vmt_str(&r, "error.message"), what) != NULL, "%s",
                          vmt_str(&r, "error.message"));
                cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "error")),
                                 "Forbidden");
                denied++;
            }
            cJSON_Delete(line);
            vmt_resp_free(&r);
        }
    }
    /* dbservice may do 4 cases (get, getdeleted, wrapkey, unwrapkey), auditor 5 (get,
     * getdeleted and the three lists), keyofficer all of them. */
    cr_assert_eq(allowed + denied, 3 * (int)n_cases);
    cr_assert_eq(denied, ((int)n_cases - 4) + ((int)n_cases - 5));
}

Test(access_flags, per_key_grants_from_an_identities_file)
{
    char path[] = "/tmp/vmock-ids-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *doc =
        "{\"identities\":["
        "{\"name\":\"officer\",\"token\":\"officer-token-0123456789\",\"permissions\":[\"all\"]},"
        "{\"name\":\"app\",\"token\":\"app-token-0123456789abcdef\",\"permissions\":[\"list\"],"
        "\"keys\":{\"k1\":[\"get\",\"wrapKey\",\"unwrapKey\"]}}],"
        "\"admin_token\":\"admin-token-0123456789abcdef\"}";
    cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    const char *args[] = {"--identities", path, NULL};
    vmt_setup_args(args);
    unlink(path);
    const char *officer = "officer-token-0123456789";
    const char *app = "app-token-0123456789abcdef";
    cr_assert_str_eq(vmt_token(S, "app"), app, "tokens.json lists the file's identities");
    cr_assert_str_eq(vmt_token(S, "admin"), "admin-token-0123456789abcdef");
    struct vmt_resp r;
    const char *create = "{\"kty\":\"RSA\"}";
    vmt_expect(S, "POST", "/keys/k1/create?" VMT_API, officer, create, 200);
    vmt_expect(S, "POST", "/keys/k2/create?" VMT_API, officer, create, 200);
    vmt_expect(S, "GET", "/keys/k1?" VMT_API, app, NULL, 200);
    cr_assert_eq(vmt_call(S, "GET", "/keys/K1?" VMT_API, app, NULL, &r), 200,
                 "key names are case-insensitive, grants too");
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/keys/k2?" VMT_API, app, NULL, &r), 403);
    cr_assert_str_eq(vmt_inner_code(&r), "ForbiddenByPolicy");
    vmt_resp_free(&r);
    const char *wrap = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}";
    vmt_expect(S, "POST", "/keys/k1/wrapkey?" VMT_API, app, wrap, 200);
    vmt_expect(S, "POST", "/keys/k2/wrapkey?" VMT_API, app, wrap, 403);
    vmt_expect(S, "POST", "/keys/k1/sign?" VMT_API, app, wrap, 403);
    vmt_expect(S, "GET", "/keys?" VMT_API, app, NULL, 200);
    vmt_expect(S, "DELETE", "/keys/k1?" VMT_API, app, NULL, 403);
}

Test(access_flags, bad_identities_files_stop_the_start)
{
    const char *docs[] = {
        "not json",
        "{\"identities\":[]}",
        "{\"identities\":[{\"name\":\"a\",\"token\":\"short\",\"permissions\":[\"get\"]}]}",
        "{\"identities\":[{\"name\":\"a\",\"token\":\"0123456789abcdef0\",\"permissions\":"
        "[\"fly\"]}]}",
        "{\"identities\":[{\"name\":\"a\",\"token\":\"0123456789abcdef0\"},{\"name\":\"b\","
        "\"token\":\"0123456789abcdef0\"}]}",
        "{\"identities\":[{\"name\":\"admin\",\"token\":\"0123456789abcdef0\"}]}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char path[] = "/tmp/vmock-ids-XXXXXX";
        char state[] = "/tmp/vmock-test-XXXXXX";
        int fd = mkstemp(path);
        cr_assert(mkdtemp(state) != NULL);
        cr_assert_eq(write(fd, docs[i], strlen(docs[i])), (ssize_t)strlen(docs[i]));
        close(fd);
        const char *args[] = {"--state",      state, "--listen", "127.0.0.1:0",
                              "--identities", path,  NULL};
        cr_assert_eq(vmt_run_exit(args, 10000), 1, "document %zu", i);
        unlink(path);
        struct vmt_server tmp = {0};
        snprintf(tmp.state, sizeof(tmp.state), "%s", state);
        vmt_cleanup(&tmp);
    }
}
