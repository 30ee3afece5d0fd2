/*
 * test_hygiene.c - requests whose meaning is ambiguous are refused, and what
 * a client sends never becomes the vault's identity: duplicate
 * Content-Length headers, Content-Length with Transfer-Encoding, invalid
 * percent-encoding and %00 in the URI, unknown api-versions, NUL in JSON
 * strings (400 BadParameter each); the Host header is not reflected into a
 * kid; a wrong method gets 405 with Allow; --listen with a name exits 2.
 * Raw requests go over plain TCP (--insecure-http) so that the test writes
 * the exact bytes.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmt.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

static void setup_plain(void)
{
    const char *args[] = {"--insecure-http", NULL};
    vmt_setup_args(args);
}

TestSuite(hygiene, .init = setup_plain, .fini = vmt_teardown, .timeout = 120);

/* A raw HTTP answer: status and the body (after the blank line). */
struct raw_resp {
    int status;
    char *text; /* the whole answer, NUL-terminated */
    const char *body;
};

/*
 * Send |len| bytes of |req| on a new connection and read the answer until
 * the server closes the connection (every request here asks for
 * Connection: close) or 60 s pass.
 */
static void raw_send(const char *req, size_t len, struct raw_resp *out)
{
    memset(out, 0, sizeof(*out));
    int fd = vmt_tcp_connect(tl_vault_port(S));
    cr_assert_geq(fd, 0);
    cr_assert_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t cap = 65536;
    size_t n = 0;
    char *buf = calloc(1, cap + 1);
    cr_assert_not_null(buf);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 60 || n == cap) {
            break;
        }
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    out->text = buf;
    if (n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0) {
        char *stop = NULL;
        long status = strtol(buf + 9, &stop, 10);
        out->status = stop == buf + 12 && status >= 100 && status <= 599 ? (int)status : 0;
    }
    const char *sep = strstr(buf, "\r\n\r\n");
    out->body = sep != NULL ? sep + 4 : "";
}

static void raw_free(struct raw_resp *r)
{
    free(r->text);
    r->text = NULL;
}

/* A request line and headers (|extra| lines end in \r\n) with the officer's token and |body|. */
static void raw_request(const char *method, const char *target, const char *extra, const char *body,
                        size_t body_len, struct raw_resp *out)
{
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\n%s\r\n",
                     method, target, KO, extra != NULL ? extra : "");
    cr_assert(n > 0 && (size_t)n < sizeof(head));
    char *req = malloc((size_t)n + body_len);
    cr_assert_not_null(req);
    memcpy(req, head, (size_t)n);
    if (body_len > 0) {
        memcpy(req + n, body, body_len);
    }
    raw_send(req, (size_t)n + body_len, out);
    free(req);
}

/* Assert a 400 BadParameter whose message contains |msg|. */
static void expect_bad(const struct raw_resp *r, const char *msg, const char *what)
{
    cr_assert_eq(r->status, 400, "%s: status %d: %s", what, r->status, r->text);
    cr_assert(strstr(r->body, "\"code\":\"BadParameter\"") != NULL, "%s: %s", what, r->body);
    cr_assert(strstr(r->body, msg) != NULL, "%s: wants \"%s\" in %s", what, msg, r->body);
}

static const char create_body[] = "{\"kty\":\"RSA\",\"key_size\":2048}";

Test(hygiene, duplicate_content_length_is_refused)
{
    struct raw_resp r;
    char extra[128];
    size_t bl = strlen(create_body);
    /* two different lengths: which one frames the body is ambiguous */
    snprintf(extra, sizeof(extra), "Content-Length: %zu\r\nContent-Length: %zu\r\n", bl, bl + 5);
    raw_request("POST", "/keys/dup/create?" VMT_API, extra, create_body, bl, &r);
    expect_bad(&r, "The request has 2 Content-Length headers; send exactly one.", "CL twice");
    raw_free(&r);
    /* even two equal ones */
    snprintf(extra, sizeof(extra), "Content-Length: %zu\r\nContent-Length: %zu\r\n", bl, bl);
    raw_request("POST", "/keys/dup/create?" VMT_API, extra, create_body, bl, &r);
    expect_bad(&r, "The request has 2 Content-Length headers", "CL twice, equal");
    raw_free(&r);
    /* nothing was created */
    raw_request("GET", "/keys/dup?" VMT_API, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 404, "%s", r.text);
    raw_free(&r);
}

Test(hygiene, content_length_with_transfer_encoding_is_refused)
{
    struct raw_resp r;
    char extra[128];
    char chunked[256];
    size_t bl = strlen(create_body);
    int n = snprintf(chunked, sizeof(chunked), "%zx\r\n%s\r\n0\r\n\r\n", bl, create_body);
    snprintf(extra, sizeof(extra), "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n", n);
    raw_request("POST", "/keys/te/create?" VMT_API, extra, chunked, (size_t)n, &r);
    expect_bad(&r,
               "The request has both Content-Length and Transfer-Encoding headers; send one of "
               "them.",
               "CL + TE");
    cr_assert(strstr(r.text, "\r\nConnection: close\r\n") != NULL, "closed after: %s", r.text);
    raw_free(&r);
    raw_request("GET", "/keys/te?" VMT_API, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 404, "%s", r.text);
    raw_free(&r);
    /* chunked alone is fine */
    snprintf(extra, sizeof(extra), "Transfer-Encoding: chunked\r\n");
    raw_request("POST", "/keys/te/create?" VMT_API, extra, chunked, (size_t)n, &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    raw_free(&r);
}

Test(hygiene, percent_encoding_and_nul_in_the_uri_are_refused)
{
    struct raw_resp r;
    cr_assert_eq(vmt_create_key(S, "ab", 2048, NULL, NULL), 200);
    /* %00 would end the decoded path early: /keys/ab%00x read as /keys/ab */
    raw_request("GET", "/keys/ab%00x?" VMT_API, NULL, NULL, 0, &r);
    expect_bad(&r, "The request URI contains an encoded NUL (%00) at offset 8.", "%00 in path");
    raw_free(&r);
    raw_request("GET", "/keys/ab?api-version=7.4%00junk", NULL, NULL, 0, &r);
    expect_bad(&r, "encoded NUL (%00)", "%00 in query");
    raw_free(&r);
    static const char *const bad[] = {"/keys/ab%zz?" VMT_API, "/keys/ab%4?" VMT_API,
                                      "/keys/ab?" VMT_API "%"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        raw_request("GET", bad[i], NULL, NULL, 0, &r);
        expect_bad(&r, "The request URI has an invalid percent-encoding at offset", bad[i]);
        raw_free(&r);
    }
    /* valid percent-encoding still works */
    raw_request("GET", "/keys/%61b?" VMT_API, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    raw_free(&r);
}

Test(hygiene, unknown_api_versions_are_refused)
{
    static const char *const bad[] = {"7.4-previewXYZ", "7.4-preview",       "7.6-preview.3", "7.9",
                                      "7.4x",           "2025-07-01-preview"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char target[128];
        snprintf(target, sizeof(target), "/keys?api-version=%s", bad[i]);
        struct raw_resp r;
        raw_request("GET", target, NULL, NULL, 0, &r);
        char msg[128];
        snprintf(msg, sizeof(msg), "The specified version (%s) is not recognized.", bad[i]);
        expect_bad(&r, msg, bad[i]);
        raw_free(&r);
    }
    static const char *const good[] = {"7.0",           "7.4",          "7.6",
                                       "2016-10-01",    "2025-07-01",   "7.3-preview",
                                       "7.4-preview.1", "7.6-preview.2"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char target[128];
        snprintf(target, sizeof(target), "/keys?api-version=%s", good[i]);
        struct raw_resp r;
        raw_request("GET", target, NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 200, "%s: %s", good[i], r.text);
        raw_free(&r);
    }
}

Test(hygiene, nul_in_json_strings_is_refused)
{
    /* a raw NUL byte inside a string, and the \u0000 escape */
    static const char raw_nul[] = "{\"kty\":\"RSA\",\"tags\":{\"team\":\"a\0b\"}}";
    static const char esc_nul[] = "{\"kty\":\"RSA\",\"tags\":{\"team\":\"a\\u0000b\"}}";
    const struct {
        const char *body;
        size_t len;
    } cases[] = {{raw_nul, sizeof(raw_nul) - 1}, {esc_nul, sizeof(esc_nul) - 1}};
    for (size_t i = 0; i < 2; i++) {
        char extra[64];
        snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", cases[i].len);
        struct raw_resp r;
        raw_request("POST", "/keys/nul/create?" VMT_API, extra, cases[i].body, cases[i].len, &r);
        expect_bad(&r, "The request body contains a NUL character", i == 0 ? "raw NUL" : "\\u0000");
        raw_free(&r);
    }
    struct raw_resp r;
    raw_request("GET", "/keys/nul?" VMT_API, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 404, "nothing was created: %s", r.text);
    raw_free(&r);
    /* an escaped backslash before u0000 is text, not a NUL */
    static const char text_body[] = "{\"kty\":\"RSA\",\"tags\":{\"team\":\"a\\\\u0000b\"}}";
    char extra[64];
    snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", sizeof(text_body) - 1);
    raw_request("POST", "/keys/nul/create?" VMT_API, extra, text_body, sizeof(text_body) - 1, &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_assert(strstr(r.body, "\"team\":\"a\\\\u0000b\"") != NULL, "%s", r.body);
    raw_free(&r);
}

Test(hygiene, wrong_method_gets_405_with_allow)
{
    struct raw_resp r;
    raw_request("PUT", "/keys/k/create?" VMT_API, "Content-Length: 2\r\n", "{}", 2, &r);
    cr_assert_eq(r.status, 405, "%s", r.text);
    cr_assert(strstr(r.text, "\r\nAllow: POST\r\n") != NULL, "%s", r.text);
    cr_assert(strstr(r.body, "\"code\":\"MethodNotAllowed\"") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "The method PUT is not allowed on this resource; use POST.") != NULL,
              "%s", r.body);
    raw_free(&r);
    raw_request("POST", "/keys/k?" VMT_API, "Content-Length: 2\r\n", "{}", 2, &r);
    cr_assert_eq(r.status, 405, "%s", r.text);
    cr_assert(strstr(r.text, "\r\nAllow: GET, PUT, PATCH, DELETE\r\n") != NULL, "%s", r.text);
    raw_free(&r);
}

Test(hygiene, the_host_header_is_not_reflected_into_kid)
{
    struct vmt_resp r;
    cr_assert_eq(vmt_call_raw(S, "POST", "/keys/h/create?" VMT_API, KO, create_body,
                              strlen(create_body), "Host: evil.example", &r),
                 200, "%s", r.body);
    const char *kid = vmt_str(&r, "key.kid");
    cr_assert_not_null(kid);
    char want[256];
    snprintf(want, sizeof(want), "%s/keys/h/", S->url);
    cr_assert(strncmp(kid, want, strlen(want)) == 0, "kid %s does not start with %s", kid, want);
    vmt_resp_free(&r);
    static const char wrap[] = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}";
    cr_assert_eq(vmt_call_raw(S, "POST", "/keys/h/wrapkey?" VMT_API, KO, wrap, strlen(wrap),
                              "Host: evil.example", &r),
                 200, "%s", r.body);
    cr_assert(strncmp(vmt_str(&r, "kid"), want, strlen(want)) == 0, "%s", vmt_str(&r, "kid"));
    vmt_resp_free(&r);
}

Test(hygiene, vault_url_names_the_kid)
{
    const char *args[] = {"--vault-url", "https://myvault.vault.example:9443/", NULL};
    vmt_setup_args(args);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "POST", "/keys/u/create?" VMT_API, KO, create_body, &r), 200);
    cr_assert(
        strncmp(vmt_str(&r, "key.kid"), "https://myvault.vault.example:9443/keys/u/", 42) == 0,
        "%s", vmt_str(&r, "key.kid"));
    vmt_resp_free(&r);
}

/* Run vault-mock with --state (a new folder) and |argv| (NULL-terminated); its exit code, stderr in
 * |err|. */
static int run_capture(const char *const *argv, char *err, size_t err_len)
{
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char state[64];
    char errpath[64];
    snprintf(state, sizeof(state), "%s/s", dir);
    snprintf(errpath, sizeof(errpath), "%s/err", dir);
    const char *args[16] = {vmt_bin(), "--state", state};
    size_t n = 3;
    for (size_t i = 0; argv[i] != NULL && n < 15; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (freopen(errpath, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL) {
            _exit(99);
        }
        execv(vmt_bin(), (char *const *)(uintptr_t)args);
        _exit(98);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char *text = vmt_read_file(errpath, NULL);
    snprintf(err, err_len, "%s", text != NULL ? text : "");
    free(text);
    unlink(errpath);
    rmdir(state);
    rmdir(dir);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(hygiene, listen_with_a_name_is_a_usage_error)
{
    char err[1024];
    static const char *const bad[] = {"localhost:0", "myhost:8443", "[127.0.0.1]:0", "127.0.0.1:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = {"--listen", bad[i], NULL};
        cr_assert_eq(run_capture(args, err, sizeof(err)), 2, "%s: %s", bad[i], err);
        cr_assert(strstr(err, "--listen wants ADDRESS:PORT with a numeric IPv4 address") != NULL,
                  "%s: %s", bad[i], err);
    }
}
