/*
 * vmt_client.c - start bin/vault-mock as a child process, read its ready
 * line, talk HTTPS to it with libcurl, stop it. No test framework inside:
 * used by vault-mock's tests, the engine's end-to-end tests, cmk-bench and
 * the compliance suite.
 */
#include "vmt_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base_buf.h"
#include "base_file.h"

#ifndef VMOCK_BIN_PATH
#define VMOCK_BIN_PATH "bin/vault-mock"
#endif

#define READY_TIMEOUT_MS 20000

const char *vmt_bin(void)
{
    const char *env = getenv("VMOCK_BIN");
    return env != NULL && env[0] != '\0' ? env : VMOCK_BIN_PATH;
}

/* Copy the value of " name=VALUE" from the ready line. */
static int field(const char *line, const char *name, char *out, size_t out_len)
{
    char key[32];
    snprintf(key, sizeof(key), " %s=", name);
    const char *p = strstr(line, key);
    if (p == NULL) {
        return -1;
    }
    p += strlen(key);
    size_t n = strcspn(p, " \n");
    if (n >= out_len) {
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int read_ready(struct vmt_server *s)
{
    char line[2048];
    size_t len = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (len + 1 < sizeof(line)) {
        struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
        int rc = poll(&p, 1, 200);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > READY_TIMEOUT_MS * (vmt_under_valgrind() ? 5 : 1)) {
            return -1;
        }
        if (rc <= 0) {
            continue;
        }
        ssize_t n = read(s->out_fd, line + len, 1);
        if (n <= 0) {
            return -1;
        }
        if (line[len] == '\n') {
            line[len] = '\0';
            break;
        }
        len++;
    }
    line[len] = '\0';
    if (strncmp(line, "vault-mock ready ", 17) != 0 || field(line, "url", s->url, sizeof(s->url)) ||
        field(line, "ca", s->ca, sizeof(s->ca)) ||
        field(line, "audit", s->audit, sizeof(s->audit))) {
        return -1;
    }
    return 0;
}

int vmt_start(struct vmt_server *s, const char *const *args)
{
    if (s->state[0] == '\0') {
        snprintf(s->state, sizeof(s->state), "/tmp/vmock-test-XXXXXX");
        if (mkdtemp(s->state) == NULL) {
            return -1;
        }
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        return -1;
    }
    char *argv[64];
    size_t n = 0;
    argv[n++] = (char *)(uintptr_t)vmt_bin();
    argv[n++] = (char *)(uintptr_t) "--state";
    argv[n++] = s->state;
    argv[n++] = (char *)(uintptr_t) "--listen";
    argv[n++] = (char *)(uintptr_t) "127.0.0.1:0";
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 63; i++) {
        argv[n++] = (char *)(uintptr_t)args[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        /* The server dies with the test process, even when the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pipefd[1], STDOUT_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    s->pid = pid;
    s->out_fd = pipefd[0];
    if (read_ready(s) != 0) {
        vmt_kill9(s);
        return -1;
    }
    return 0;
}

int vmt_stop(struct vmt_server *s)
{
    if (s->pid <= 0) {
        return -1;
    }
    kill(s->pid, SIGTERM);
    int status = 0;
    const int tries = vmt_scaled(200, 1200); /* 10 s; 60 s under valgrind */
    for (int i = 0; i < tries; i++) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            close(s->out_fd);
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(50000);
    }
    vmt_kill9(s);
    return -1;
}

void vmt_kill9(struct vmt_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        close(s->out_fd);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void vmt_cleanup(struct vmt_server *s)
{
    vmt_stop(s);
    if (s->state[0] != '\0' && strncmp(s->state, "/tmp/vmock-test-", 16) == 0) {
        nftw(s->state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    s->state[0] = '\0';
}

const char *vmt_token(struct vmt_server *s, const char *name)
{
    static char tokens[8][600];
    static char names[8][64];
    char path[600];
    snprintf(path, sizeof(path), "%s/tokens.json", s->state);
    char *text = vmt_read_file(path, NULL);
    cJSON *doc = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, name));
    const char *out = NULL;
    for (int i = 0; t != NULL && i < 8; i++) {
        if (names[i][0] == '\0' || strcmp(names[i], name) == 0) {
            snprintf(names[i], sizeof(names[i]), "%s", name);
            snprintf(tokens[i], sizeof(tokens[i]), "%s", t);
            out = tokens[i];
            break;
        }
    }
    cJSON_Delete(doc);
    return out;
}

/* An answer larger than this aborts the transfer (no vault answer comes near it). */
#define VMT_BODY_MAX ((size_t)256 << 20)

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct base_buf *b = ud;
    return base_buf_append(b, p, size * n, NULL) == 0 ? size * n : 0;
}

static void copy_header(const char *line, size_t len, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);
    if (len > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
        const char *v = line + nl + 1;
        size_t vl = len - nl - 1;
        while (vl > 0 && (*v == ' ')) {
            v++;
            vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) {
            vl--;
        }
        if (vl >= out_len) {
            vl = out_len - 1;
        }
        memcpy(out, v, vl);
        out[vl] = '\0';
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct vmt_resp *r = ud;
    size_t len = size * n;
    copy_header(p, len, "Retry-After", r->retry_after, sizeof(r->retry_after));
    copy_header(p, len, "WWW-Authenticate", r->www_authenticate, sizeof(r->www_authenticate));
    copy_header(p, len, "x-ms-request-id", r->request_id, sizeof(r->request_id));
    copy_header(p, len, "Content-Type", r->content_type, sizeof(r->content_type));
    return len;
}

long vmt_call_raw(struct vmt_server *s, const char *method, const char *url_or_path,
                  const char *token, const char *body, size_t body_len, const char *header,
                  struct vmt_resp *r)
{
    static CURL *h;
    static char ca_used[512];
    memset(r, 0, sizeof(*r));
    if (h == NULL || strcmp(ca_used, s->ca) != 0) {
        if (h != NULL) {
            curl_easy_cleanup(h);
        }
        h = curl_easy_init();
        snprintf(ca_used, sizeof(ca_used), "%s", s->ca);
    } else {
        curl_easy_reset(h);
    }
    /* Sized to fit: tests send paths of any length (the server must cope, not the client). */
    int absolute =
        strncmp(url_or_path, "https://", 8) == 0 || strncmp(url_or_path, "http://", 7) == 0;
    size_t url_len = (absolute ? 0 : strlen(s->url)) + strlen(url_or_path) + 1;
    char *url = malloc(url_len);
    if (url == NULL) {
        return 0;
    }
    snprintf(url, url_len, "%s%s", absolute ? "" : s->url, url_or_path);
    struct curl_slist *hdrs = NULL;
    char auth[1024];
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    if (header == NULL || strncasecmp(header, "Expect:", 7) != 0) {
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    if (header != NULL) {
        hdrs = curl_slist_append(hdrs, header);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CAINFO, s->ca);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 60000L;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, vmt_under_valgrind() ? timeout_ms * 5 : timeout_ms);
    /* a caller's "Expect: 100-continue" waits for the server's answer, not libcurl's 1 s
     * default after which the body goes out anyway (a refused body then races the reset) */
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, timeout_ms);
    if (s->fresh) {
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    struct base_buf answer;
    base_buf_init(&answer, VMT_BODY_MAX, 0);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(h);
    r->curl_code = (int)rc;
    /* no body bytes: r->body stays NULL */
    r->body = answer.data != NULL ? base_buf_take(&answer, NULL) : NULL;
    base_buf_free(&answer);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->body != NULL) {
            r->json = cJSON_Parse(r->body);
        }
    } else {
        r->status = 0;
    }
    curl_slist_free_all(hdrs);
    free(url);
    return r->status;
}

long vmt_call(struct vmt_server *s, const char *method, const char *path, const char *token,
              const char *body, struct vmt_resp *r)
{
    return vmt_call_raw(s, method, path, token, body, body != NULL ? strlen(body) : 0, NULL, r);
}

long vmt_set_faults(struct vmt_server *s, const char *json)
{
    const char *admin = vmt_token(s, "admin");
    struct vmt_resp r;
    long st = vmt_call(s, json != NULL ? "POST" : "DELETE", "/admin/faults",
                       admin != NULL ? admin : "", json, &r);
    vmt_resp_free(&r);
    return st;
}

long vmt_call_url(struct vmt_server *s, const char *method, const char *url, const char *token,
                  const char *body, struct vmt_resp *r)
{
    return vmt_call(s, method, url, token, body, r);
}

void vmt_resp_free(struct vmt_resp *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof(*r));
}

static const cJSON *at_path(const cJSON *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = root;
    char *save = NULL;
    for (char *p = strtok_r(buf, ".", &save); p != NULL && cur != NULL;
         p = strtok_r(NULL, ".", &save)) {
        cur = cJSON_GetObjectItemCaseSensitive(cur, p);
    }
    return cur;
}

const char *vmt_error_code(const struct vmt_resp *r)
{
    const char *s = vmt_str(r, "error.code");
    return s != NULL ? s : "";
}

const char *vmt_inner_code(const struct vmt_resp *r)
{
    const char *s = vmt_str(r, "error.innererror.code");
    return s != NULL ? s : "";
}

const char *vmt_str(const struct vmt_resp *r, const char *path)
{
    return cJSON_GetStringValue(at_path(r->json, path));
}

double vmt_num(const struct vmt_resp *r, const char *path)
{
    const cJSON *n = at_path(r->json, path);
    return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

long vmt_create_key(struct vmt_server *s, const char *name, int bits, const char *extra,
                    char *version)
{
    char path[256];
    char body[1024];
    snprintf(path, sizeof(path), "/keys/%s/create?" VMT_API, name);
    snprintf(body, sizeof(body), "{\"kty\":\"RSA\",\"key_size\":%d%s%s}", bits,
             extra != NULL ? "," : "", extra != NULL ? extra : "");
    struct vmt_resp r;
    long st = vmt_call(s, "POST", path, vmt_token(s, "keyofficer"), body, &r);
    if (version != NULL) {
        version[0] = '\0';
        const char *kid = vmt_str(&r, "key.kid");
        const char *slash = kid != NULL ? strrchr(kid, '/') : NULL;
        if (slash != NULL) {
            snprintf(version, 33, "%s", slash + 1);
        }
    }
    vmt_resp_free(&r);
    return st;
}

char *vmt_read_file(const char *path, size_t *len)
{
    char *text = NULL;
    return base_file_read(path, VMT_READ_MAX, 0, &text, len, NULL) == 0 ? text : NULL;
}

long vmt_count_lines(const char *path)
{
    char *text = vmt_read_file(path, NULL);
    if (text == NULL) {
        return -1;
    }
    long n = 0;
    for (char *p = text; *p != '\0'; p++) {
        n += *p == '\n';
    }
    free(text);
    return n;
}

cJSON *vmt_audit_find(struct vmt_server *s, const char *request_id)
{
    char *text = vmt_read_file(s->audit, NULL);
    cJSON *found = NULL;
    char *save = NULL;
    for (char *line = text != NULL ? strtok_r(text, "\n", &save) : NULL;
         line != NULL && found == NULL; line = strtok_r(NULL, "\n", &save)) {
        cJSON *doc = cJSON_Parse(line);
        const char *rid = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "request_id"));
        if (rid != NULL && strcmp(rid, request_id) == 0) {
            found = doc;
        } else {
            cJSON_Delete(doc);
        }
    }
    free(text);
    return found;
}

int vmt_run_exit(const char *const *args, int timeout_ms)
{
    char *argv[64];
    size_t n = 0;
    argv[n++] = (char *)(uintptr_t)vmt_bin();
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 63; i++) {
        argv[n++] = (char *)(uintptr_t)args[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int vmt_under_valgrind(void)
{
    const char *v = getenv("CMK_UNDER_VALGRIND");
    return v != NULL && strcmp(v, "1") == 0;
}

int vmt_scaled(int n, int under_valgrind)
{
    return vmt_under_valgrind() ? under_valgrind : n;
}
