/*
 * test_limits.c - limits on what a client controls (body size 413, header
 * size 431, connection count, idle timeout, nesting depth) and the command
 * line (usage errors, --help, port in use, signals, plain HTTP, given TLS
 * files).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(limits, .init = vmt_setup, .fini = vmt_teardown, .timeout = 60);
/* Tests that start the server with their own flags. */
TestSuite(limits_flags, .fini = vmt_teardown, .timeout = 60);

/* A JSON create body of about |size| bytes. */
static char *body_of(size_t size)
{
    char *b = malloc(size + 64);
    size_t n = (size_t)snprintf(b, size + 64, "{\"kty\":\"RSA\",\"tags\":{\"a\":\"");
    memset(b + n, 'x', size);
    snprintf(b + n + size, 64, "\"}}");
    return b;
}

Test(limits, oversized_body_gets_413_and_the_server_carries_on)
{
    /* 100 KiB: read and thrown away, then 413 on the same connection */
    char *b = body_of(100 * 1024);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/keys/big/create?" VMT_API, KO, b, &r), 413);
    cr_assert_str_eq(vmt_error_code(&r), "BadParameter");
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_not_null(line);
    cr_assert_eq(cJSON_GetObjectItem(line, "status")->valueint, 413);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "operation")), "create");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "identity")), "keyofficer");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(line, "key")), "big");
    cJSON_Delete(line);
    vmt_resp_free(&r);
    free(b);
    /* 2 MiB announced with Expect: 100-continue: refused before the body is sent */
    b = body_of(2 * 1024 * 1024);
    S->fresh = 1;
    cr_assert_eq(vmt_call_raw(S, "POST", "/keys/big/create?" VMT_API, KO, b, strlen(b),
                              "Expect: 100-continue", &r),
                 413, "curl %d", r.curl_code);
    vmt_resp_free(&r);
    free(b);
    S->fresh = 0;
    vmt_expect(S, "GET", "/keys?" VMT_API, KO, NULL, 200);
    vmt_expect(S, "GET", "/keys/big?" VMT_API, KO, NULL, 404);
}

Test(limits_flags, max_body_flag)
{
    const char *args[] = {"--max-body", "2048", NULL};
    vmt_setup_args(args);
    struct vmt_resp r;
    char *b = body_of(3000);
    vmt_expect(S, "POST", "/keys/b/create?" VMT_API, KO, b, 413);
    free(b);
    b = body_of(200); /* tag value over 256 characters is refused, but not for its size */
    cr_assert_eq(vmt_call(S, "POST", "/keys/b/create?" VMT_API, KO, b, &r), 200, "%s", r.body);
    vmt_resp_free(&r);
    free(b);
}

Test(limits, oversized_header_gets_431)
{
    size_t n = 100 * 1024;
    char *h = malloc(n + 16);
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'y', n);
    h[7 + n] = '\0';
    struct vmt_resp r;
    S->fresh = 1;
    long before = vmt_count_lines(S->audit);
    long st = vmt_call_raw(S, "GET", "/keys?" VMT_API, KO, NULL, 0, h, &r);
    cr_assert_eq(st, 431, "curl %d", r.curl_code);
    vmt_resp_free(&r);
    /* libmicrohttpd answers this one itself; the audit still gets a line */
    for (int i = 0; i < 100 && vmt_count_lines(S->audit) == before; i++) {
        usleep(20000);
    }
    cr_assert_eq(vmt_count_lines(S->audit), before + 1);
    char *audit = vmt_read_file(S->audit, NULL);
    cr_assert(strstr(audit, "\"status\":0,\"error\":\"RejectedByHttpLayer\"") != NULL, "%s", audit);
    free(audit);
    free(h);
    S->fresh = 0;
    vmt_expect(S, "GET", "/keys?" VMT_API, KO, NULL, 200);
}

Test(limits, deep_or_odd_json_is_a_400_not_a_crash)
{
    size_t depth = 20000;
    char *b = malloc(2 * depth + 1);
    memset(b, '[', depth);
    memset(b + depth, ']', depth);
    b[2 * depth] = '\0';
    static const char *const odd[] = {"{\"kty\":\"RSA\",\"kty\":",
                                      "{\"kty\":\"\\ud800\"}",
                                      "{\"kty\":null}",
                                      "{\"kty\":[\"RSA\"]}",
                                      "\xff\xfe{}",
                                      "{}"};
    struct vmt_resp r;
    vmt_expect(S, "POST", "/keys/j/create?" VMT_API, KO, b, 400);
    free(b);
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        cr_assert_eq(vmt_call(S, "POST", "/keys/j/create?" VMT_API, KO, odd[i], &r), 400, "%s",
                     odd[i]);
        vmt_resp_free(&r);
    }
    const char nul_body[] = "{\"kty\":\"RSA\"}\0junk";
    cr_assert_eq(vmt_call_raw(S, "POST", "/keys/j/create?" VMT_API, KO, nul_body,
                              sizeof(nul_body) - 1, NULL, &r),
                 400);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, KO, NULL, &r), 200, "still serving");
    vmt_resp_free(&r);
}

Test(limits_flags, connection_limit_and_idle_timeout)
{
    /* the idle timeout must outlast the probe's 1.2 s with room for a stalled
     * test thread; memcheck runs the server ~30x slower: widen the idle
     * timeout and the waits with it, so the probe still meets two busy slots */
    char idle_s[16];
    snprintf(idle_s, sizeof(idle_s), "%d", vmt_scaled(6, 30));
    const char *args[] = {"--max-connections", "2", "--timeout", idle_s, "--insecure-http", NULL};
    vmt_setup_args(args);
    int port = tl_vault_port(S);
    /* kept alive after a first request: silent ones would be evicted for the client */
    int a = vmt_kept_alive(port);
    int b = vmt_kept_alive(port);
    /* with both slots taken a client gets no answer */
    struct vmt_resp r;
    S->fresh = 1;
    S->timeout_ms = vmt_scaled(1200, 6000);
    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, KO, NULL, &r), 0, "no service at the limit");
    vmt_resp_free(&r);
    close(a);
    close(b);
    S->timeout_ms = 0;
    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, KO, NULL, &r), 200,
                 "served once a slot is free");
    vmt_resp_free(&r);
    /* an idle connection is closed by the timeout */
    int d = vmt_tcp_connect(port);
    cr_assert_geq(d, 0);
    cr_assert(vmt_closed_within(d, vmt_scaled(15000, 90000)), "idle connection closed");
    close(d);
}

Test(limits_flags, usage_errors_exit_2_and_help_exits_0)
{
    char state[] = "/tmp/vmock-test-XXXXXX";
    cr_assert(mkdtemp(state) != NULL);
    snprintf(vmt_srv.state, sizeof(vmt_srv.state), "%s", state);
    static const char *const bad[][3] = {
        {"--no-such-flag", NULL, NULL},
        {"--listen", "localhost", NULL},
        {"--listen", "127.0.0.1:70000", NULL},
        {"--retention-days", "3", NULL},
        {"--retention-days", "91", NULL},
        {"--purge-protection", "maybe", NULL},
        {"--threads", "1", NULL},
        {"--max-body", "12", NULL},
        {"--tls-cert", "/nonexistent.pem", NULL},
        {"--vault-url", "ftp://x", NULL},
        {"stray-argument", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[8] = {"--state", state};
        size_t n = 2;
        for (int j = 0; j < 3 && bad[i][j] != NULL; j++) {
            args[n++] = bad[i][j];
        }
        args[n] = NULL;
        cr_assert_eq(vmt_run_exit(args, 10000), 2, "%s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
    }
    const char *help[] = {"--help", NULL};
    cr_assert_eq(vmt_run_exit(help, 10000), 0);
}

Test(limits, port_in_use_exits_1_and_sigint_stops_cleanly)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", tl_vault_port(S));
    char state[] = "/tmp/vmock-test-XXXXXX";
    cr_assert(mkdtemp(state) != NULL);
    const char *args[] = {"--state", state, "--listen", listen, NULL};
    cr_assert_eq(vmt_run_exit(args, 10000), 1);
    struct vmt_server other = {0};
    snprintf(other.state, sizeof(other.state), "%s", state);
    vmt_cleanup(&other);
    /* SIGINT, like SIGTERM, ends the server with 0 */
    kill(S->pid, SIGINT);
    int status = 0;
    cr_assert_eq(waitpid(S->pid, &status, 0), S->pid);
    S->pid = 0;
    close(S->out_fd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(limits_flags, plain_http_only_on_request)
{
    const char *args[] = {"--insecure-http", NULL};
    vmt_setup_args(args);
    cr_assert(strncmp(S->url, "http://", 7) == 0, "%s", S->url);
    vmt_expect(S, "GET", "/keys?" VMT_API, KO, NULL, 200);
}

Test(limits_flags, given_tls_files)
{
    /* a first server makes a CA and a certificate; a second one serves with them */
    struct vmt_server first = {0};
    cr_assert_eq(vmt_start(&first, NULL), 0);
    cr_assert_eq(vmt_stop(&first), 0);
    char cert[600];
    char key[600];
    snprintf(cert, sizeof(cert), "%s/server.pem", first.state);
    snprintf(key, sizeof(key), "%s/server.key", first.state);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    vmt_setup_args(args);
    cr_assert_str_eq(S->ca, cert, "the ready line names the given certificate");
    snprintf(S->ca, sizeof(S->ca), "%s", first.ca);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/keys?" VMT_API, KO, NULL, &r), 200, "curl %d", r.curl_code);
    vmt_resp_free(&r);
    const char *mismatch[] = {"--state", S->state,    "--listen", "127.0.0.1:0", "--tls-cert",
                              cert,      "--tls-key", first.ca,   NULL};
    cr_assert_eq(vmt_run_exit(mismatch, 10000), 1, "certificate and key must match");
    vmt_cleanup(&first);
}

Test(limits_flags, worker_pool_mode_serves)
{
    const char *args[] = {"--threads", "2", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "pool", 2048, NULL, NULL), 200);
    for (int i = 0; i < 10; i++) {
        struct vmt_resp r;
        cr_assert_eq(
            vmt_call(S, "POST", "/keys/pool/wrapkey?" VMT_API, KO,
                     "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}", &r),
            200);
        char body[1024];
        snprintf(body, sizeof(body), "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}",
                 vmt_str(&r, "value"));
        vmt_resp_free(&r);
        cr_assert_eq(vmt_call(S, "POST", "/keys/pool/unwrapkey?" VMT_API, KO, body, &r), 200);
        cr_assert_str_eq(vmt_str(&r, "value"), "AAECAwQFBgcICQoLDA0ODw");
        vmt_resp_free(&r);
    }
    cr_assert_eq(vmt_stop(S), 0);
}
