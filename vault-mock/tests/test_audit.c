/*
 * test_audit.c - the audit log: one line per request, written before the
 * answer, with every field; the request id matches x-ms-request-id; an
 * --audit file and --audit-fsync.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmt.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(audit, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);
/* Tests that start the server with their own flags. */
TestSuite(audit_flags, .fini = vmt_teardown, .timeout = 60);

static const char *const fields[] = {"time",   "request_id", "identity", "operation",
                                     "key",    "version",    "method",   "path",
                                     "remote", "status",     "error",    "latency_us"};

Test(audit, one_line_per_request_with_every_field)
{
    struct {
        const char *method;
        const char *path;
        const char *token;
        const char *body;
        long status;
        const char *op;
    } calls[] = {
        {"POST", "/keys/a/create?" VMT_API, "ko", "{\"kty\":\"RSA\"}", 200, "create"},
        {"GET", "/keys/a?" VMT_API, "ko", NULL, 200, "get"},
        {"POST", "/keys/a/wrapkey?" VMT_API, "db",
         "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}", 200, "wrapkey"},
        {"GET", "/keys/zz?" VMT_API, "ko", NULL, 404, "get"},
        {"GET", "/keys?" VMT_API, NULL, NULL, 401, "list"},
        {"GET", "/keys?" VMT_API, "db", NULL, 403, "list"},
        {"POST", "/keys/a/wrapkey?" VMT_API, "ko", "{bad json", 400, "wrapkey"},
        {"DELETE", "/keys/a?" VMT_API, "ko", NULL, 200, "delete"},
    };
    size_t n = sizeof(calls) / sizeof(calls[0]);
    cr_assert_eq(vmt_count_lines(S->audit), 0);
    for (size_t i = 0; i < n; i++) {
        const char *tok = calls[i].token == NULL              ? NULL
                          : strcmp(calls[i].token, "ko") == 0 ? KO
                                                              : vmt_token(S, "dbservice");
        struct vmt_resp r;
        cr_assert_eq(vmt_call(S, calls[i].method, calls[i].path, tok, calls[i].body, &r),
                     calls[i].status, "%s %s", calls[i].method, calls[i].path);
        /* the line is there when the answer arrives */
        cr_assert_eq(vmt_count_lines(S->audit), (long)i + 1);
        cJSON *line = vmt_audit_find(S, r.request_id);
        cr_assert_not_null(line, "line with request_id %s", r.request_id);
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            cr_assert_not_null(cJSON_GetObjectItem(line, fields[f]), "field %s", fields[f]);
        }
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "operation")), calls[i].op);
        cr_assert_eq(cJSON_GetObjectItem(line, "status")->valueint, (int)calls[i].status);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "method")),
                         calls[i].method);
        cr_assert_geq(cJSON_GetObjectItem(line, "latency_us")->valuedouble, 0);
        const char *time = cJSON_GetStringValue(cJSON_GetObjectItem(line, "time"));
        cr_assert(time != NULL && strlen(time) == 27 && time[10] == 'T' && time[26] == 'Z', "%s",
                  time);
        if (calls[i].status >= 400) {
            cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "error")),
                             vmt_error_code(&r));
        } else {
            cr_assert(cJSON_IsNull(cJSON_GetObjectItem(line, "error")));
        }
        if (strcmp(calls[i].op, "list") != 0) {
            cr_assert_not_null(cJSON_GetStringValue(cJSON_GetObjectItem(line, "key")));
        }
        if (calls[i].status == 200 && strcmp(calls[i].op, "delete") != 0) {
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(line, "version"));
            cr_assert(v != NULL && strlen(v) == 32, "the version used is recorded");
        }
        cJSON_Delete(line);
        vmt_resp_free(&r);
    }
    /* no key material: neither the wrapped value nor the plaintext */
    char *audit = vmt_read_file(S->audit, NULL);
    cr_assert_null(strstr(audit, "AAECAwQFBgcICQoLDA0ODw"));
    cr_assert_null(strstr(audit, KO));
    free(audit);
}

Test(audit_flags, audit_file_flag_and_fsync)
{
    char path[] = "/tmp/vmock-audit-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    const char *args[] = {"--audit", path, "--audit-fsync", NULL};
    vmt_setup_args(args);
    cr_assert_str_eq(S->audit, path);
    vmt_expect(S, "GET", "/keys?" VMT_API, KO, NULL, 200);
    cr_assert_eq(vmt_count_lines(path), 1);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char def[600];
    snprintf(def, sizeof(def), "%s/audit.jsonl", S->state);
    cr_assert_neq(stat(def, &st), 0, "no default log when --audit is given");
    unlink(path);
}
