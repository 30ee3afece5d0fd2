/*
 * test_faults.c - throttling (429 + Retry-After) by RSA size and for
 * creates, every injected fault (5xx, forced 429, dropped connection,
 * latency), per-operation and "*" rules, the admin endpoints.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmt.h"

#define S     (&vmt_srv)
#define KO    vmt_token(S, "keyofficer")
#define ADMIN vmt_token(S, "admin")

TestSuite(faults, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);
/* Tests that start the server with their own flags. */
TestSuite(faults_flags, .fini = vmt_teardown, .timeout = 60);

static const char *wrap_body = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}";

static long wrap_status(const char *name, struct vmt_resp *keep)
{
    char path[128];
    snprintf(path, sizeof(path), "/keys/%s/wrapkey?" VMT_API, name);
    struct vmt_resp r;
    long st = vmt_call(S, "POST", path, KO, wrap_body, &r);
    if (keep != NULL) {
        *keep = r;
    } else {
        vmt_resp_free(&r);
    }
    return st;
}

/* A 429 Throttled answer whose Retry-After is 1..|max_s| seconds (the throttle window). */
static void expect_429_within(struct vmt_resp *r, long max_s)
{
    cr_assert_eq(r->status, 429, "%s", r->body);
    cr_assert_str_eq(vmt_error_code(r), "Throttled");
    char *end = NULL;
    long ra = strtol(r->retry_after, &end, 10);
    cr_assert(end != r->retry_after && *end == '\0', "Retry-After \"%s\"", r->retry_after);
    cr_assert(ra >= 1 && ra <= max_s, "Retry-After %ld", ra);
}

static void expect_429(struct vmt_resp *r)
{
    expect_429_within(r, 10);
}

Test(faults_flags, rsa_size_limit_gives_429_with_retry_after)
{
    /* identity_pct=100: the vault-wide limit alone (test_idthrottle.c has the shares) */
    const char *args[] = {"--throttle", "rsa2048=3,rsa3072=0,identity_pct=100", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "small", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_create_key(S, "mid", 3072, NULL, NULL), 200);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wrap_status("small", NULL), 200, "call %d within the limit", i);
    }
    struct vmt_resp r;
    wrap_status("small", &r);
    expect_429(&r);
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_eq(cJSON_GetObjectItem(line, "status")->valueint, 429);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "error")), "Throttled");
    cJSON_Delete(line);
    vmt_resp_free(&r);
    /* other classes and non-crypto operations are not limited */
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(wrap_status("mid", NULL), 200);
    }
    vmt_expect(S, "GET", "/keys/small?" VMT_API, KO, NULL, 200);
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", ADMIN, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "throttled"), 1);
    vmt_resp_free(&r);
}

Test(faults_flags, create_limit)
{
    /* a 10-minute window: the first create may take many seconds (valgrind, a loaded machine) */
    const char *args[] = {"--throttle", "create=1,window_ms=600000", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "one", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    vmt_call(S, "POST", "/keys/two/create?" VMT_API, KO, "{\"kty\":\"RSA\"}", &r);
    expect_429_within(&r, 600);
    vmt_resp_free(&r);
}

Test(faults, admin_changes_throttling)
{
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/admin/throttle", ADMIN, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "rsa2048"), 4000, "the service's default");
    cr_assert_eq(vmt_num(&r, "rsa4096"), 500);
    cr_assert_eq(vmt_num(&r, "window_ms"), 10000);
    vmt_resp_free(&r);
    vmt_expect(S, "POST", "/admin/throttle", ADMIN, "{\"spec\":\"rsa2048=1\"}", 200);
    cr_assert_eq(wrap_status("k", NULL), 200);
    wrap_status("k", &r);
    expect_429(&r);
    vmt_resp_free(&r);
    vmt_expect(S, "POST", "/admin/throttle", ADMIN, "{\"spec\":\"rsa9999=1\"}", 400);
    vmt_expect(S, "POST", "/admin/throttle", ADMIN, "{\"spec\":\"off\"}", 200);
    cr_assert_eq(wrap_status("k", NULL), 200);
}

Test(faults_flags, injected_5xx_per_operation)
{
    const char *args[] = {"--fault", "op=unwrapkey,error_rate=1,status=503", "--fault",
                          "op=sign,error_rate=1,status=500", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    cr_assert_eq(wrap_status("k", &r), 200, "wrapkey has no rule");
    char body[1024];
    snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}",
             vmt_str(&r, "value"));
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "POST", "/keys/k/unwrapkey?" VMT_API, KO, body, &r), 503);
    cr_assert_str_eq(vmt_error_code(&r), "ServiceUnavailable");
    cr_assert_str_eq(vmt_inner_code(&r), "InjectedFault");
    vmt_resp_free(&r);
    cr_assert_eq(
        vmt_call(S, "POST", "/keys/k/sign?" VMT_API, KO,
                 "{\"alg\":\"RS256\",\"value\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}",
                 &r),
        500);
    vmt_resp_free(&r);
    /* faults come after the access check: a caller without permission still gets 403 */
    vmt_expect(S, "POST", "/keys/k/sign?" VMT_API, vmt_token(S, "dbservice"), "{}", 403);
}

Test(faults_flags, forced_429_dropped_connection_and_latency)
{
    const char *args[] = {"--fault", "op=get,throttle_rate=1,retry_after=7",
                          "--fault", "op=wrapkey,drop_rate=1",
                          "--fault", "op=list,latency_ms=300",
                          NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    vmt_call(S, "GET", "/keys/k?" VMT_API, KO, NULL, &r);
    cr_assert_eq(r.status, 429);
    cr_assert_str_eq(r.retry_after, "7");
    cr_assert_str_eq(vmt_error_code(&r), "Throttled");
    vmt_resp_free(&r);

    long lines_before = vmt_count_lines(S->audit);
    S->fresh = 1;
    cr_assert_eq(wrap_status("k", &r), 0, "connection closed without an answer");
    S->fresh = 0;
    cr_assert_neq(r.curl_code, 0);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_count_lines(S->audit), lines_before + 1, "the dropped request is audited");
    char *audit = vmt_read_file(S->audit, NULL);
    cr_assert(strstr(audit, "\"operation\":\"wrapkey\"") != NULL);
    cr_assert(strstr(audit, "\"status\":0,\"error\":\"InjectedDrop\"") != NULL);
    free(audit);

    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, KO, NULL, &r), 200);
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_not_null(line);
    cr_assert_geq(cJSON_GetObjectItem(line, "latency_us")->valuedouble, 300000.0,
                  "the added latency is part of the request");
    cJSON_Delete(line);
    vmt_resp_free(&r);

    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", ADMIN, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "faults.throttles"), 1);
    cr_assert_eq(vmt_num(&r, "faults.drops"), 1);
    cr_assert_eq(vmt_num(&r, "faults.delayed"), 1);
    vmt_resp_free(&r);
}

Test(faults, admin_sets_lists_and_clears_rules)
{
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/admin/faults", ADMIN,
                          "{\"faults\":[{\"op\":\"*\",\"error_rate\":1,\"status\":503},"
                          "{\"op\":\"get\",\"latency_ms\":1,\"jitter_ms\":2}]}",
                          &r),
                 200, "%s", r.body);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/admin/faults", ADMIN, NULL, &r), 200);
    cJSON *rules = cJSON_GetObjectItem(r.json, "faults");
    cr_assert_eq(cJSON_GetArraySize(rules), 2);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rules, 1), "jitter_ms")->valueint, 2);
    vmt_resp_free(&r);
    /* "*" hits list; the op's own rule (no errors) wins for get */
    vmt_expect(S, "GET", "/keys?" VMT_API, KO, NULL, 503);
    vmt_expect(S, "GET", "/keys/k?" VMT_API, KO, NULL, 200);
    vmt_expect(S, "DELETE", "/admin/faults", ADMIN, NULL, 204);
    vmt_expect(S, "GET", "/keys?" VMT_API, KO, NULL, 200);

    static const char *const bad[] = {
        "{\"faults\":[{\"op\":\"fly\"}]}",
        "{\"faults\":[{\"op\":\"get\",\"error_rate\":1.5}]}",
        "{\"faults\":[{\"op\":\"get\",\"status\":200,\"error_rate\":1}]}",
        "{\"faults\":[{\"op\":\"get\",\"error_rate\":0.6,\"drop_rate\":0.6}]}",
        "{\"faults\":[{\"op\":\"get\",\"colour\":\"red\"}]}",
        "{\"faults\":{}}",
        "{\"faults\":[{\"op\":\"get\",\"latency_ms\":true}]}",
        "nope",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(vmt_call(S, "POST", "/admin/faults", ADMIN, bad[i], &r), 400, "%s", bad[i]);
        vmt_resp_free(&r);
    }
}

Test(faults, admin_needs_the_admin_token)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", NULL, NULL, &r), 401);
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_not_null(line);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(line, "identity")));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "operation")), "admin");
    cJSON_Delete(line);
    cr_assert(strncmp(r.www_authenticate, "Bearer authorization=", 21) == 0, "%s",
              r.www_authenticate);
    vmt_resp_free(&r);
    /* a key identity's token, like an unknown one, is not valid here: 401, as on the key routes */
    const char *not_admin[] = {KO, "not-a-token-of-this-vault"};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(vmt_call(S, "GET", "/admin/stats", not_admin[i], NULL, &r), 401);
        cr_assert_str_eq(vmt_error_code(&r), "Unauthorized");
        cr_assert(strstr(r.www_authenticate, "error=\"invalid_token\"") != NULL, "%s",
                  r.www_authenticate);
        vmt_resp_free(&r);
    }
    vmt_expect(S, "POST", "/admin/faults", KO, "{\"faults\":[]}", 401);
    vmt_expect(S, "GET", "/admin/nothing", ADMIN, NULL, 404);
    /* spaces after "Bearer" are skipped, as on the key routes */
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: bearer    %s", ADMIN);
    cr_assert_eq(vmt_call_raw(S, "GET", "/admin/stats", NULL, NULL, 0, auth, &r), 200);
    vmt_resp_free(&r);
}

Test(faults, stats_count_requests)
{
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    struct vmt_resp r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(wrap_status("k", NULL), 200);
    }
    vmt_expect(S, "GET", "/keys/zz?" VMT_API, KO, NULL, 404);
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", ADMIN, NULL, &r), 200);
    cr_assert_eq(vmt_num(&r, "operations.wrapkey.requests"), 3);
    cr_assert_eq(vmt_num(&r, "operations.wrapkey.errors"), 0);
    cr_assert_eq(vmt_num(&r, "operations.create.requests"), 1);
    cr_assert_eq(vmt_num(&r, "operations.get.errors"), 1);
    cr_assert_eq(vmt_num(&r, "status.4xx"), 1);
    cr_assert_eq(vmt_num(&r, "status.2xx"), 4);
    vmt_resp_free(&r);
}

Test(faults_flags, bad_fault_and_throttle_flags_are_usage_errors)
{
    static const char *const flags[][2] = {
        {"--fault", "op=get,error_rate=2"}, {"--fault", "op=nothing"},
        {"--fault", "latency_ms=-1"},       {"--fault", "op=get,status=404,error_rate=1"},
        {"--throttle", "rsa2048=lots"},     {"--throttle", "speed=1"},
    };
    char state[] = "/tmp/vmock-test-XXXXXX";
    cr_assert(mkdtemp(state) != NULL);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const char *args[] = {"--state",   state,       "--listen", "127.0.0.1:0",
                              flags[i][0], flags[i][1], NULL};
        cr_assert_eq(vmt_run_exit(args, 10000), 2, "%s %s", flags[i][0], flags[i][1]);
    }
    snprintf(vmt_srv.state, sizeof(vmt_srv.state), "%s", state);
}
