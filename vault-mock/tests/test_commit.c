/*
 * test_commit.c - every change is all or nothing, and never without its
 * audit line: a failed save (fault rule fail_save, as with a full disk) or
 * an audit line that cannot be written (fault rule fail_audit, or the
 * --audit-max-bytes cap) leaves memory and disk as they were and answers
 * 500 with the exact reason; what a client sends is cut short in the audit
 * log.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmt.h"
#include "vmt_crypto.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")

TestSuite(commit, .fini = vmt_teardown, .timeout = 300);

static const char *const flags[] = {"--throttle", "off", "--purge-protection", "off", NULL};
static const char *wrap_body = "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODw\"}";

static void restart(const char *const *args)
{
    cr_assert_eq(vmt_stop(S), 0, "SIGTERM ends the server with exit code 0");
    cr_assert_eq(vmt_start(S, args), 0, "restart on the same state");
}

/* Installs one fault rule |setting| (e.g. "fail_save") for |op|. */
static void fault(const char *op, const char *setting)
{
    char json[200];
    snprintf(json, sizeof(json), "{\"faults\":[{\"op\":\"%s\",\"%s\":1}]}", op, setting);
    cr_assert_eq(vmt_set_faults(S, json), 200, "the fault rule %s for %s is accepted", setting, op);
}

/* Sends the call and asserts a 500 with error code |code|; returns its request id (static). */
static const char *expect_500(const char *method, const char *path, const char *body,
                              const char *code)
{
    static char rid[64];
    struct vmt_resp r;
    long st = vmt_call(S, method, path, KO, body, &r);
    cr_assert_eq(st, 500, "%s %s: %ld %s", method, path, st, r.body != NULL ? r.body : "");
    cr_assert_str_eq(vmt_error_code(&r), code, "%s %s: %s", method, path, r.body);
    snprintf(rid, sizeof(rid), "%s", r.request_id);
    vmt_resp_free(&r);
    return rid;
}

/* The number of versions of live key |name|, or -1 when it is not found (404). */
static int versions_of(const char *name)
{
    char path[200];
    snprintf(path, sizeof(path), "/keys/%s/versions?" VMT_API, name);
    struct vmt_resp r;
    long st = vmt_call(S, "GET", path, KO, NULL, &r);
    int n = st == 200 ? cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "value")) : -1;
    cr_assert(st == 200 || st == 404, "%s: %ld", path, st);
    vmt_resp_free(&r);
    return n;
}

/* The state of the keys this file uses, as the API shows it. */
struct view {
    int k_versions;
    int k_enabled;
    int k_tagged;
    int k_wraps;
    int k_deleted;
    int fresh_versions;
    int imp_versions;
    int gone_deleted;
    int gone_live;
    int purgeme_deleted;
};

static int status_of(const char *method, const char *path, const char *body)
{
    struct vmt_resp r;
    long st = vmt_call(S, method, path, KO, body, &r);
    vmt_resp_free(&r);
    return (int)st;
}

static void look(struct view *v)
{
    memset(v, 0, sizeof(*v));
    v->k_versions = versions_of("k");
    struct vmt_resp r;
    if (vmt_call(S, "GET", "/keys/k?" VMT_API, KO, NULL, &r) == 200) {
        cJSON *en = cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "attributes"), "enabled");
        v->k_enabled = cJSON_IsTrue(en);
        v->k_tagged = vmt_str(&r, "tags.t") != NULL;
    }
    vmt_resp_free(&r);
    v->k_wraps = status_of("POST", "/keys/k/wrapkey?" VMT_API, wrap_body) == 200;
    v->k_deleted = status_of("GET", "/deletedkeys/k?" VMT_API, NULL) == 200;
    v->fresh_versions = versions_of("fresh");
    v->imp_versions = versions_of("imp");
    v->gone_deleted = status_of("GET", "/deletedkeys/gone?" VMT_API, NULL) == 200;
    v->gone_live = status_of("GET", "/keys/gone?" VMT_API, NULL) == 200;
    v->purgeme_deleted = status_of("GET", "/deletedkeys/purgeme?" VMT_API, NULL) == 200;
}

static void expect_view(const struct view *v, const struct view *want, const char *when)
{
    cr_assert_eq(v->k_versions, want->k_versions, "%s: versions of k", when);
    cr_assert_eq(v->k_enabled, want->k_enabled, "%s: k enabled", when);
    cr_assert_eq(v->k_tagged, want->k_tagged, "%s: k tagged", when);
    cr_assert_eq(v->k_wraps, want->k_wraps, "%s: k wraps", when);
    cr_assert_eq(v->k_deleted, want->k_deleted, "%s: k deleted", when);
    cr_assert_eq(v->fresh_versions, want->fresh_versions, "%s: fresh", when);
    cr_assert_eq(v->imp_versions, want->imp_versions, "%s: imp", when);
    cr_assert_eq(v->gone_deleted, want->gone_deleted, "%s: gone deleted", when);
    cr_assert_eq(v->gone_live, want->gone_live, "%s: gone live", when);
    cr_assert_eq(v->purgeme_deleted, want->purgeme_deleted, "%s: purgeme deleted", when);
}

/* k live (one version), gone and purgeme soft-deleted. */
static void seed(void)
{
    vmt_setup_args(flags);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_create_key(S, "gone", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_create_key(S, "purgeme", 2048, NULL, NULL), 200);
    vmt_expect(S, "DELETE", "/keys/gone?" VMT_API, KO, NULL, 200);
    vmt_expect(S, "DELETE", "/keys/purgeme?" VMT_API, KO, NULL, 200);
}

static const struct view seeded = {
    .k_versions = 1,
    .k_enabled = 1,
    .k_wraps = 1,
    .fresh_versions = -1,
    .imp_versions = -1,
    .gone_deleted = 1,
    .purgeme_deleted = 1,
};

/* Every change of the API, as one call that would succeed. */
struct change {
    const char *op; /* fault rule op */
    const char *method;
    const char *path;
    const char *body;
};

static void changes(struct change *c, size_t *n, const char *import_body)
{
    const struct change list[] = {
        {"create", "POST", "/keys/fresh/create?" VMT_API, "{\"kty\":\"RSA\"}"},
        {"create", "POST", "/keys/k/create?" VMT_API, "{\"kty\":\"RSA\"}"},
        {"import", "PUT", "/keys/imp?" VMT_API, import_body},
        {"update", "PATCH", "/keys/k?" VMT_API,
         "{\"attributes\":{\"enabled\":false},\"tags\":{\"t\":\"x\"}}"},
        {"rotate", "POST", "/keys/k/rotate?" VMT_API, NULL},
        {"delete", "DELETE", "/keys/k?" VMT_API, NULL},
        {"recover", "POST", "/deletedkeys/gone/recover?" VMT_API, NULL},
        {"purge", "DELETE", "/deletedkeys/purgeme?" VMT_API, NULL},
    };
    *n = sizeof(list) / sizeof(list[0]);
    memcpy(c, list, sizeof(list));
}

static char *import_body(void)
{
    EVP_PKEY *local = vmt_rsa_generate(2048);
    cr_assert_not_null(local);
    char *jwk = vmt_jwk_private(local, NULL);
    EVP_PKEY_free(local);
    size_t cap = strlen(jwk) + 64;
    char *body = malloc(cap);
    cr_assert_not_null(body);
    int w = snprintf(body, cap, "{\"key\":{%s}}", jwk);
    cr_assert(w > 0 && (size_t)w < cap);
    free(jwk);
    return body;
}

/* Seeds the vault and lists every change into |c|; returns the import body (caller frees). */
static char *seed_changes(struct change *c, size_t *n)
{
    seed();
    char *imp = import_body();
    changes(c, n, imp);
    return imp;
}

Test(commit, a_failed_save_changes_nothing_in_memory_or_on_disk)
{
    struct change c[16];
    size_t n = 0;
    char *imp = seed_changes(c, &n);
    struct view v;
    for (size_t i = 0; i < n; i++) {
        fault(c[i].op, "fail_save");
        expect_500(c[i].method, c[i].path, c[i].body, "StateWriteFailed");
        /* A retry sees the same state, so it fails the same way (a DELETE is not a 404). */
        expect_500(c[i].method, c[i].path, c[i].body, "StateWriteFailed");
        cr_assert_eq(vmt_set_faults(S, NULL), 204);
        look(&v);
        expect_view(&v, &seeded, c[i].path);
    }
    restart(flags);
    look(&v);
    expect_view(&v, &seeded, "after the restart");

    /* The same changes, now saved, show and survive a restart. */
    for (size_t i = 0; i < n; i++) {
        struct vmt_resp r;
        long st = vmt_call(S, c[i].method, c[i].path, KO, c[i].body, &r);
        cr_assert(st == 200 || st == 204, "%s %s: %ld %s", c[i].method, c[i].path, st, r.body);
        vmt_resp_free(&r);
    }
    struct view done = {
        .k_versions = -1, /* deleted */
        .k_deleted = 1,
        .fresh_versions = 1,
        .imp_versions = 1,
        .gone_live = 1,
    };
    look(&v);
    expect_view(&v, &done, "after the changes");
    restart(flags);
    look(&v);
    expect_view(&v, &done, "after the changes and a restart");
    free(imp);
}

Test(commit, the_audit_line_of_a_change_comes_first_and_a_failed_save_follows_it)
{
    seed();
    fault("delete", "fail_save");
    const char *rid = expect_500("DELETE", "/keys/k?" VMT_API, NULL, "StateWriteFailed");
    /* Two lines for the request: the change as it was to be (200), then what happened. */
    char *log = vmt_read_file(S->audit, NULL);
    cr_assert_not_null(log);
    int seen = 0;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        if (o != NULL && vmt_jstr(o, "request_id") != NULL &&
            strcmp(vmt_jstr(o, "request_id"), rid) == 0) {
            cr_assert_eq(vmt_jint(o, "status"), seen == 0 ? 200 : 500, "line %d", seen + 1);
            if (seen == 1) {
                cr_assert_str_eq(vmt_jstr(o, "error"), "StateWriteFailed");
            }
            seen++;
        }
        cJSON_Delete(o);
    }
    free(log);
    cr_assert_eq(seen, 2, "lines for request %s", rid);
}

Test(commit, a_failed_save_does_not_show_the_state_path_to_the_client)
{
    seed();
    fault("delete", "fail_save");
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "DELETE", "/keys/k?" VMT_API, KO, NULL, &r), 500);
    cr_assert_str_eq(vmt_error_code(&r), "StateWriteFailed");
    /* The detail (the state file, ENOSPC) is for the vault's operator (stderr) only. */
    cr_assert_str_eq(vmt_str(&r, "error.message"),
                     "The change was not made: the vault could not save its state. Nothing "
                     "changed; retry later.");
    cr_assert_null(strstr(r.body, S->state), "%s", r.body);
    vmt_resp_free(&r);
}

Test(commit, no_change_without_its_audit_line)
{
    struct change c[16];
    size_t n = 0;
    char *imp = seed_changes(c, &n);
    struct view v;
    for (size_t i = 0; i < n; i++) {
        fault(c[i].op, "fail_audit");
        long before = vmt_audit_end(S);
        const char *rid = expect_500(c[i].method, c[i].path, c[i].body, "AuditLogUnavailable");
        cr_assert_eq(vmt_set_faults(S, NULL), 204);
        look(&v);
        expect_view(&v, &seeded, c[i].path);
        /* The one line of the refused request says so; none claims the change. */
        cJSON *lines[64];
        long off = before;
        size_t got = vmt_audit_tail(S, &off, lines, 64);
        int mine = 0;
        for (size_t j = 0; j < got && j < 64; j++) {
            const char *id = vmt_jstr(lines[j], "request_id");
            if (id != NULL && strcmp(id, rid) == 0) {
                mine++;
                cr_assert_eq(vmt_jint(lines[j], "status"), 500);
                cr_assert_str_eq(vmt_jstr(lines[j], "error"), "AuditLogUnavailable");
            }
            cJSON_Delete(lines[j]);
        }
        cr_assert_eq(mine, 1, "%s %s: lines of the refused request", c[i].method, c[i].path);
    }
    restart(flags);
    look(&v);
    expect_view(&v, &seeded, "after the restart");
    /* A retried create makes exactly one version. */
    vmt_expect(S, "POST", "/keys/fresh/create?" VMT_API, KO, "{\"kty\":\"RSA\"}", 200);
    cr_assert_eq(versions_of("fresh"), 1);
    free(imp);
}

Test(commit, a_long_path_gives_a_short_audit_line)
{
    vmt_setup_args(flags);
    size_t n = 60000;
    char *path = malloc(n + 64);
    path[0] = '/';
    memset(path + 1, 'a', n - 1);
    cr_assert_not_null(path);
    snprintf(path + n, 64, "%s", "?" VMT_API);
    long off = vmt_audit_end(S);
    struct vmt_resp r;
    long st = vmt_call(S, "GET", path, NULL, NULL, &r);
    cr_assert(st >= 400, "answered %ld", st);
    vmt_resp_free(&r);
    cr_assert_eq(vmt_count_lines(S->audit), 1);
    char *log = vmt_read_file(S->audit, NULL);
    size_t line_len = strlen(log + off);
    cr_assert_lt(line_len, 1024, "the audit line has %zu bytes", line_len);
    cJSON *lines[2];
    cr_assert_eq(vmt_audit_tail(S, &off, lines, 2), 1);
    const char *logged = vmt_jstr(lines[0], "path");
    cr_assert_not_null(logged);
    char want[400];
    memcpy(want, path, 256);
    snprintf(want + 256, sizeof(want) - 256, "...[cut, %zu bytes]", n);
    cr_assert_str_eq(logged, want);
    cJSON_Delete(lines[0]);
    free(log);
    free(path);
}

Test(commit, a_long_path_the_http_layer_refuses_is_cut_visibly)
{
    vmt_setup_args(flags);
    size_t n = 1000;
    char *path = malloc(n + 64);
    path[0] = '/';
    memset(path + 1, 'b', n - 1);
    snprintf(path + n, 64, "%s", "?" VMT_API);
    size_t hn = 100 * 1024; /* headers too large: libmicrohttpd answers 431 itself */
    char *h = malloc(hn + 16);
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'y', hn);
    h[7 + hn] = '\0';
    S->fresh = 1;
    struct vmt_resp r;
    cr_assert_eq(vmt_call_raw(S, "GET", path, NULL, NULL, 0, h, &r), 431, "curl %d", r.curl_code);
    vmt_resp_free(&r);
    /* That line is written after libmicrohttpd's answer: wait for it (generously). */
    for (int i = 0; i < 1000 && vmt_count_lines(S->audit) < 1; i++) {
        usleep(20000);
    }
    long off = 0;
    cJSON *lines[2];
    cr_assert_eq(vmt_audit_tail(S, &off, lines, 2), 1);
    cr_assert_str_eq(vmt_jstr(lines[0], "error"), "RejectedByHttpLayer");
    const char *logged = vmt_jstr(lines[0], "path");
    cr_assert_not_null(logged);
    const char *mark = strstr(logged, "...[cut, 1000 bytes]");
    cr_assert_not_null(mark, "marked: %s", logged);
    cr_assert_eq(strlen(mark), strlen("...[cut, 1000 bytes]"), "the marker ends it");
    cr_assert_eq(strncmp(logged, path, (size_t)(mark - logged)), 0, "the start is kept");
    cr_assert_leq(strlen(logged), 255);
    cJSON_Delete(lines[0]);
    free(h);
    free(path);
}

Test(commit, the_audit_size_cap_refuses_requests_and_changes)
{
    const char *capped[] = {"--throttle", "off", "--audit-max-bytes", "8192", NULL};
    vmt_setup_args(capped);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    int refused = 0;
    for (int i = 0; i < 100 && !refused; i++) {
        struct vmt_resp r;
        long st = vmt_call(S, "GET", "/keys/k?" VMT_API, KO, NULL, &r);
        if (st == 500) {
            cr_assert_str_eq(vmt_error_code(&r), "AuditLogFull", "%s", r.body);
            cr_assert(strstr(r.body, "size limit of 8192 bytes (--audit-max-bytes)") != NULL, "%s",
                      r.body);
            refused = 1;
        } else {
            cr_assert_eq(st, 200, "%s", r.body);
        }
        vmt_resp_free(&r);
    }
    cr_assert(refused, "8192 bytes of audit lines were reached within 100 requests");
    struct stat st;
    cr_assert_eq(stat(S->audit, &st), 0);
    cr_assert_leq(st.st_size, 8192);
    long size = (long)st.st_size;
    expect_500("POST", "/keys/k/create?" VMT_API, "{\"kty\":\"RSA\"}", "AuditLogFull");
    expect_500("DELETE", "/keys/k?" VMT_API, NULL, "AuditLogFull");
    cr_assert_eq(stat(S->audit, &st), 0);
    cr_assert_eq((long)st.st_size, size, "nothing more was written");
    /* Refused means not done: after a restart with room, k still has its one version. */
    const char *roomy[] = {"--throttle", "off", "--audit-max-bytes", "1048576", NULL};
    restart(roomy);
    cr_assert_eq(versions_of("k"), 1);
}

#define UNAUTH_FLOOD 400

Test(commit, unauthenticated_requests_cannot_use_up_the_audit_cap)
{
    const char *capped[] = {"--throttle", "off", "--audit-max-bytes", "65536", NULL};
    vmt_setup_args(capped);
    /* About 300 bytes a line: 400 lines would pass the whole cap, not only its half. */
    for (int i = 0; i < UNAUTH_FLOOD; i++) {
        struct vmt_resp r;
        long st = vmt_call(S, "GET", "/keys/x?" VMT_API, NULL, NULL, &r);
        cr_assert_eq(st, 401, "unauthenticated request %d: %ld %s", i + 1, st,
                     r.body != NULL ? r.body : "");
        vmt_resp_free(&r);
    }
    struct stat st;
    cr_assert_eq(stat(S->audit, &st), 0);
    cr_assert_leq(st.st_size, 65536 / 2, "unauthenticated lines stay within half of the cap");
    char *log = vmt_read_file(S->audit, NULL);
    cr_assert_not_null(log);
    long logged = 0;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o);
        cr_assert_eq(vmt_jint(o, "status"), 401, "%s", line);
        logged++;
        cJSON_Delete(o);
    }
    free(log);
    cr_assert_gt(logged, 0);
    cr_assert_lt(logged, UNAUTH_FLOOD);
    /* Every one is accounted for: in the log or in the counter. */
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/admin/stats", vmt_token(S, "admin"), NULL, &r), 200);
    cr_assert_eq((long)vmt_num(&r, "audit.unauthenticated_not_logged"), UNAUTH_FLOOD - logged, "%s",
                 r.body);
    vmt_resp_free(&r);
    /* The key officer's changes are still carried out and audited. */
    cr_assert_eq(vmt_call(S, "POST", "/keys/k/create?" VMT_API, KO, "{\"kty\":\"RSA\"}", &r), 200,
                 "%s", r.body);
    cJSON *line = vmt_audit_find(S, r.request_id);
    cr_assert_not_null(line, "the create's audit line (request id %s)", r.request_id);
    cr_assert_str_eq(vmt_jstr(line, "operation"), "create");
    cr_assert_eq(vmt_jint(line, "status"), 200);
    cJSON_Delete(line);
    vmt_resp_free(&r);
}

Test(commit, a_start_with_a_full_audit_log_is_refused)
{
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(S->state, sizeof(S->state), "%s", dir); /* removed by the teardown */
    char audit[600];
    snprintf(audit, sizeof(audit), "%s/audit.jsonl", dir);
    FILE *f = fopen(audit, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 4096; i++) {
        fputc(i % 64 == 63 ? '\n' : 'x', f);
    }
    fclose(f);
    chmod(audit, 0600);
    const char *args[] = {"--state",           dir,    "--listen", "127.0.0.1:0",
                          "--audit-max-bytes", "4096", NULL};
    cr_assert_eq(vmt_run_exit(args, 20000), 1);
    const char *bad[] = {"--state",           dir,   "--listen", "127.0.0.1:0",
                         "--audit-max-bytes", "100", NULL};
    cr_assert_eq(vmt_run_exit(bad, 20000), 2, "below 4096 is a usage error");
}

/* A real full disk: the state folder is a small tmpfs (needs root to mount). */
static char disk_mnt[64];
static char disk_audit_dir[64];

static void disk_fini(void)
{
    vmt_stop(S);
    if (disk_mnt[0] != '\0') {
        umount2(disk_mnt, MNT_DETACH);
    }
    if (disk_audit_dir[0] != '\0') {
        char audit[128];
        snprintf(audit, sizeof(audit), "%s/audit.jsonl", disk_audit_dir);
        unlink(audit);
        rmdir(disk_audit_dir);
    }
    vmt_cleanup(S); /* removes the state folder (and a now empty mount point) */
    if (disk_mnt[0] != '\0') {
        rmdir(disk_mnt);
    }
    disk_mnt[0] = '\0';
    disk_audit_dir[0] = '\0';
}

TestSuite(commit_disk, .fini = disk_fini, .timeout = 300);

/* Fills the file system of |dir| with |dir|/filler until it has no byte left. */
static void fill_up(const char *dir)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    char block[4096];
    memset(block, 0xA5, sizeof(block));
    while (write(fd, block, sizeof(block)) > 0) {
    }
    while (write(fd, block, 1) > 0) {
    }
    cr_assert_eq(errno, ENOSPC);
    close(fd);
}

Test(commit_disk, a_full_state_disk_changes_nothing)
{
    snprintf(disk_mnt, sizeof(disk_mnt), "/tmp/vmock-test-XXXXXX");
    cr_assert_not_null(mkdtemp(disk_mnt));
    snprintf(S->state, sizeof(S->state), "%s", disk_mnt);
    if (mount("tmpfs", disk_mnt, "tmpfs", 0, "size=256k,mode=0700") != 0) {
        int e = errno;
        disk_mnt[0] = '\0';
        cr_skip_test("cannot mount a tmpfs (%s); needs root", strerror(e));
    }
    snprintf(disk_audit_dir, sizeof(disk_audit_dir), "/tmp/vmock-test-XXXXXX");
    cr_assert_not_null(mkdtemp(disk_audit_dir));
    char audit[128];
    snprintf(audit, sizeof(audit), "%s/audit.jsonl", disk_audit_dir);
    const char *args[] = {"--throttle", "off", "--audit", audit, NULL};
    cr_assert_eq(vmt_start(S, args), 0);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);

    fill_up(disk_mnt);
    const char *rid = expect_500("DELETE", "/keys/k?" VMT_API, NULL, "StateWriteFailed");
    cr_assert_not_null(rid);
    /* A retried DELETE must not answer 404 as if the first had worked. */
    expect_500("DELETE", "/keys/k?" VMT_API, NULL, "StateWriteFailed");
    expect_500("PATCH", "/keys/k?" VMT_API, "{\"attributes\":{\"enabled\":false}}",
               "StateWriteFailed");
    expect_500("POST", "/keys/k/rotate?" VMT_API, NULL, "StateWriteFailed");
    cr_assert_eq(versions_of("k"), 1);
    struct vmt_resp r;
    cr_assert_eq(vmt_call(S, "GET", "/keys/k?" VMT_API, KO, NULL, &r), 200);
    cr_assert(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "attributes"), "enabled")));
    vmt_resp_free(&r);
    vmt_expect(S, "POST", "/keys/k/wrapkey?" VMT_API, KO, wrap_body, 200);

    /* Room again: memory and disk agree across a restart, and the delete now works. */
    char filler[128];
    snprintf(filler, sizeof(filler), "%s/filler", disk_mnt);
    cr_assert_eq(unlink(filler), 0);
    restart(args);
    cr_assert_eq(versions_of("k"), 1);
    vmt_expect(S, "POST", "/keys/k/wrapkey?" VMT_API, KO, wrap_body, 200);
    vmt_expect(S, "DELETE", "/keys/k?" VMT_API, KO, NULL, 200);
    restart(args);
    cr_assert_eq(versions_of("k"), -1);
    vmt_expect(S, "GET", "/deletedkeys/k?" VMT_API, KO, NULL, 200);
}

Test(commit_disk, a_full_audit_disk_refuses_changes)
{
    /* The state on the ordinary disk, the audit log alone on a small tmpfs. */
    snprintf(disk_mnt, sizeof(disk_mnt), "/tmp/vmock-test-XXXXXX");
    cr_assert_not_null(mkdtemp(disk_mnt));
    if (mount("tmpfs", disk_mnt, "tmpfs", 0, "size=64k,mode=0700") != 0) {
        int e = errno;
        rmdir(disk_mnt);
        disk_mnt[0] = '\0';
        cr_skip_test("cannot mount a tmpfs (%s); needs root", strerror(e));
    }
    char audit[128];
    snprintf(audit, sizeof(audit), "%s/audit.jsonl", disk_mnt);
    const char *args[] = {"--throttle", "off", "--audit", audit, NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "k", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_stop(S), 0);
    /* Pad the log to whole pages with one valid line, so the next line needs a new page. */
    long page = sysconf(_SC_PAGESIZE);
    struct stat st;
    cr_assert_eq(stat(audit, &st), 0);
    long pad = page - (long)(st.st_size % page);
    if (pad < 16) {
        pad += page;
    }
    char *line = malloc((size_t)pad + 1);
    memset(line, 'x', (size_t)pad);
    memcpy(line, "{\"pad\":\"", 8);
    memcpy(line + pad - 3, "\"}\n", 3);
    FILE *f = fopen(audit, "a");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(line, 1, (size_t)pad, f), (size_t)pad);
    cr_assert_eq(fclose(f), 0);
    free(line);
    cr_assert_eq(vmt_start(S, args), 0);
    fill_up(disk_mnt);

    expect_500("POST", "/keys/fresh/create?" VMT_API, "{\"kty\":\"RSA\"}", "AuditLogUnavailable");
    expect_500("DELETE", "/keys/k?" VMT_API, NULL, "AuditLogUnavailable");
    expect_500("POST", "/keys/k/create?" VMT_API, "{\"kty\":\"RSA\"}", "AuditLogUnavailable");

    char filler[128];
    snprintf(filler, sizeof(filler), "%s/filler", disk_mnt);
    cr_assert_eq(unlink(filler), 0);
    cr_assert_eq(versions_of("fresh"), -1, "the refused create made no key");
    cr_assert_eq(versions_of("k"), 1, "nor a version, and k is not deleted");
    restart(args);
    cr_assert_eq(versions_of("fresh"), -1);
    cr_assert_eq(versions_of("k"), 1);
    /* Every line in the log is whole: a failed write leaves no torn line behind. */
    char *log = vmt_read_file(audit, NULL);
    cr_assert_not_null(log);
    for (char *l = strtok(log, "\n"); l != NULL; l = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(l);
        cr_assert_not_null(o, "a whole JSON line: %.80s", l);
        cJSON_Delete(o);
    }
    free(log);
}
