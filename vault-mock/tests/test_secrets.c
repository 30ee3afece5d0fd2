/*
 * test_secrets.c - no private key material in any answer, and audit lines
 * that hold only their documented fields and no secret.
 *
 * RSA keys the test generates locally are imported, so their private
 * components (d, p, q, dp, dq, qi) are known; every answer of every
 * operation (import, get, update, list, listversions, create, rotate, wrap,
 * unwrap, encrypt, decrypt, sign, verify, delete, getdeleted, listdeleted,
 * recover, and error answers: a refused import, a malformed import, a
 * forbidden one, unknown keys) is scanned for any 16-byte window of them
 * (raw, hex, base64, base64url: vmt_scan.h) and walked for JWK members
 * that only a private key has. Keys the vault made itself (create, rotate)
 * are checked by that walk. Then every audit line must carry exactly the
 * documented fields and neither key material nor a bearer token.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"
#include "vmt_crypto.h"
#include "vmt_scan.h"

#define S  (&vmt_srv)
#define KO vmt_token(S, "keyofficer")
#define DB vmt_token(S, "dbservice")
#define AU vmt_token(S, "auditor")

static void setup(void)
{
    static const char *const args[] = {"--throttle", "off", "--purge-protection", "off", NULL};
    vmt_setup_args(args);
}

TestSuite(secrets, .init = setup, .fini = vmt_teardown, .timeout = 300);

static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi"};
static const char *const private_params[] = {
    "d", "rsa-factor1", "rsa-factor2", "rsa-exponent1", "rsa-exponent2", "rsa-coefficient1"};

static struct vmt_scan *sc;
static size_t answers;

/* Adds the private components of |pk| to the scan. */
static void add_private(EVP_PKEY *pk, const char *name)
{
    for (size_t i = 0; i < 6; i++) {
        size_t len;
        uint8_t *b = vmt_param_bytes(pk, private_params[i], &len);
        cr_assert_not_null(b);
        char label[64];
        snprintf(label, sizeof(label), "%s %s", name, private_members[i]);
        cr_assert_eq(vmt_scan_add_secret(sc, label, b, len), 0);
        free(b);
    }
}

/* Fails when any object of |j| has a member only a private JWK has. */
static void expect_no_private_member(const cJSON *j, const char *what)
{
    for (const cJSON *c = j != NULL ? j->child : NULL; c != NULL; c = c->next) {
        if (c->string != NULL) {
            for (size_t i = 0; i < 6; i++) {
                cr_assert_str_neq(c->string, private_members[i], "%s: answer has member \"%s\"",
                                  what, c->string);
            }
        }
        expect_no_private_member(c, what);
    }
}

/* Sends the call, checks the status, scans the answer; returns the answer (caller frees). */
static void call(const char *method, const char *path, const char *token, const char *body,
                 long want, struct vmt_resp *r)
{
    long st = vmt_call(S, method, path, token, body, r);
    cr_assert_eq(st, want, "%s %s: %ld %s", method, path, st, r->body != NULL ? r->body : "");
    char what[300];
    snprintf(what, sizeof(what), "%s %s -> %ld", method, path, st);
    struct vmt_scan_hit h;
    size_t len = r->body != NULL ? strlen(r->body) : 0;
    cr_assert_eq(vmt_scan_buf(sc, r->body != NULL ? r->body : "", len, what, &h), 0,
                 "%s: %s (%s) at %zu", what, h.label, h.encoding, h.offset);
    expect_no_private_member(r->json, what);
    answers++;
}

static void call_free(const char *method, const char *path, const char *token, const char *body,
                      long want)
{
    struct vmt_resp r;
    call(method, path, token, body, want, &r);
    vmt_resp_free(&r);
}

static char *import_body(EVP_PKEY *pk, const char *omit)
{
    char *members = vmt_jwk_private(pk, omit);
    cr_assert_not_null(members);
    size_t n = strlen(members) + 64;
    char *body = malloc(n);
    snprintf(body, n, "{\"key\":{%s}}", members);
    free(members);
    return body;
}

static void op_body(char *out, size_t max, const char *alg, const char *value)
{
    snprintf(out, max, "{\"alg\":\"%s\",\"value\":\"%s\"}", alg, value);
}

Test(secrets, no_private_component_in_any_answer_or_audit_line)
{
    sc = vmt_scan_new();
    cr_assert_not_null(sc);
    EVP_PKEY *k1 = vmt_rsa_generate(2048), *k2 = vmt_rsa_generate(2048),
             *k3 = vmt_rsa_generate(2048);
    EVP_PKEY *bad = vmt_rsa_generate(2048);
    cr_assert(k1 != NULL && k2 != NULL && k3 != NULL && bad != NULL);
    add_private(k1, "k1");
    add_private(k2, "k2");
    add_private(k3, "k3");
    add_private(bad, "refused");

    /* Positive control: the import request itself holds the components, and is found. */
    char *b1 = import_body(k1, NULL);
    struct vmt_scan_hit h;
    cr_assert_geq(vmt_scan_buf(sc, b1, strlen(b1), "request", &h), 6 * 10);
    cr_assert_str_eq(h.where, "request");

    struct vmt_resp r;
    call("PUT", "/keys/imp?" VMT_API, KO, b1, 200, &r);
    char v1[64];
    snprintf(v1, sizeof(v1), "%s", strrchr(vmt_str(&r, "key.kid"), '/') + 1);
    vmt_resp_free(&r);
    free(b1);
    char *b2 = import_body(k2, NULL);
    call_free("PUT", "/keys/imp?" VMT_API, KO, b2, 200); /* a second version */
    free(b2);
    /* Refused imports must not echo what they were sent. */
    char *b3 = import_body(bad, "qi");
    call_free("PUT", "/keys/refused?" VMT_API, KO, b3, 400);
    free(b3);
    b3 = import_body(bad, NULL);
    call_free("PUT", "/keys/refused?" VMT_API, DB, b3, 403);
    call_free("PUT", "/keys/refused?" VMT_API, NULL, b3, 401);
    char *tampered = strdup(b3);
    char *d = strstr(tampered, "\"d\":\"");
    cr_assert_not_null(d);
    d[5] = d[5] == 'A' ? 'B' : 'A'; /* a private exponent that does not match n */
    call_free("PUT", "/keys/refused?" VMT_API, KO, tampered, 400);
    free(tampered);
    free(b3);
    char *b4 = import_body(k3, NULL);
    call_free("PUT", "/keys/third?" VMT_API, KO, b4, 200);
    free(b4);

    char path[256];
    call_free("GET", "/keys/imp?" VMT_API, DB, NULL, 200);
    snprintf(path, sizeof(path), "/keys/imp/%s?" VMT_API, v1);
    call_free("GET", path, AU, NULL, 200);
    call_free("PATCH", "/keys/imp?" VMT_API, KO, "{\"tags\":{\"owner\":\"db\"}}", 200);
    call_free("GET", "/keys?" VMT_API, AU, NULL, 200);
    call_free("GET", "/keys/imp/versions?" VMT_API, AU, NULL, 200);
    call_free("POST", "/keys/gen/create?" VMT_API, KO, "{\"kty\":\"RSA\",\"key_size\":2048}", 200);
    call_free("POST", "/keys/third/rotate?" VMT_API, KO, NULL, 200);
    call_free("GET", "/keys/third/versions?" VMT_API, AU, NULL, 200);

    /* Crypto on the imported key: answers carry ciphertexts and the DEK, never the key. */
    char body[1400];
    op_body(body, sizeof(body), "RSA-OAEP-256", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    call("POST", "/keys/imp/wrapkey?" VMT_API, DB, body, 200, &r);
    char wrapped[1024];
    snprintf(wrapped, sizeof(wrapped), "%s", vmt_str(&r, "value"));
    vmt_resp_free(&r);
    op_body(body, sizeof(body), "RSA-OAEP-256", wrapped);
    call_free("POST", "/keys/imp/unwrapkey?" VMT_API, DB, body, 200);
    op_body(body, sizeof(body), "RSA-OAEP", "c2VjcmV0IG1lc3NhZ2U");
    call("POST", "/keys/imp/encrypt?" VMT_API, KO, body, 200, &r);
    op_body(body, sizeof(body), "RSA-OAEP", vmt_str(&r, "value"));
    vmt_resp_free(&r);
    call_free("POST", "/keys/imp/decrypt?" VMT_API, KO, body, 200);
    op_body(body, sizeof(body), "RS256", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    call("POST", "/keys/imp/sign?" VMT_API, KO, body, 200, &r);
    char sig[1024];
    snprintf(sig, sizeof(sig), "%s", vmt_str(&r, "value"));
    vmt_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"alg\":\"RS256\",\"digest\":\"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU\","
             "\"value\":\"%s\"}",
             sig);
    call_free("POST", "/keys/imp/verify?" VMT_API, KO, body, 200);
    op_body(body, sizeof(body), "RSA-OAEP-256", "AAAA");
    call_free("POST", "/keys/imp/unwrapkey?" VMT_API, DB, body, 400);
    call_free("POST", "/keys/imp/unwrapkey?" VMT_API, AU, body, 403);
    call_free("GET", "/keys/none?" VMT_API, KO, NULL, 404);

    /* Lifecycle. */
    call_free("DELETE", "/keys/imp?" VMT_API, KO, NULL, 200);
    call_free("GET", "/deletedkeys/imp?" VMT_API, KO, NULL, 200);
    call_free("GET", "/deletedkeys?" VMT_API, KO, NULL, 200);
    call_free("POST", "/deletedkeys/imp/recover?" VMT_API, KO, NULL, 200);
    call_free("GET", "/keys/imp?" VMT_API, KO, NULL, 200);
    call_free("DELETE", "/keys/gen?" VMT_API, KO, NULL, 200);
    call_free("DELETE", "/deletedkeys/gen?" VMT_API, KO, NULL, 204);

    /* The audit log: documented fields only; no key material, no token. */
    static const char *const fields[] = {"time",   "request_id", "identity", "operation",
                                         "key",    "version",    "method",   "path",
                                         "remote", "status",     "error",    "latency_us"};
    const size_t nfields = sizeof(fields) / sizeof(fields[0]);
    cr_assert_eq(vmt_scan_add_text(sc, "keyofficer token", KO), 0);
    cr_assert_eq(vmt_scan_add_text(sc, "dbservice token", DB), 0);
    cr_assert_eq(vmt_scan_add_text(sc, "auditor token", AU), 0);
    cr_assert_eq(vmt_scan_file(sc, S->audit, &h), 0, "audit: %s (%s) at %zu", h.label, h.encoding,
                 h.offset);
    char *log = vmt_read_file(S->audit, NULL);
    cr_assert_not_null(log);
    size_t lines = 0;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j, "audit line is not JSON: %s", line);
        size_t n = 0;
        for (const cJSON *c = j->child; c != NULL; c = c->next, n++) {
            int known = 0;
            for (size_t f = 0; f < nfields; f++) {
                known |= strcmp(c->string, fields[f]) == 0;
            }
            cr_assert(known, "undocumented audit field \"%s\" in %s", c->string, line);
        }
        cr_assert_eq(n, nfields, "audit line with %zu fields: %s", n, line);
        cJSON_Delete(j);
        lines++;
    }
    free(log);
    cr_assert_geq(lines, answers, "%zu audit lines for %zu answers", lines, answers);
    fprintf(stderr, "vault secrets: %zu answers and %zu audit lines, %zu secrets, 0 hits\n",
            answers, lines, vmt_scan_count(sc));
    vmt_scan_free(sc);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
    EVP_PKEY_free(bad);
}

#define NOBODY 65534

/*
 * Starts |argv| as user and group NOBODY with stdout on a pipe and waits
 * (60 s at most) for a line starting with |ready|. Returns the pid.
 */
static pid_t spawn_as_nobody(const char *const *argv, const char *ready)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
            _exit(126);
        }
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(p[1]);
    char buf[4096];
    size_t len = 0;
    for (;;) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        cr_assert_eq(poll(&pf, 1, 60000), 1, "%s: no ready line in 60 s", argv[0]);
        ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
        cr_assert_gt(n, 0, "%s ended before its ready line", argv[0]);
        len += (size_t)n;
        buf[len] = '\0';
        if (strncmp(buf, ready, strlen(ready)) == 0 && strchr(buf, '\n') != NULL) {
            break;
        }
    }
    close(p[0]);
    return pid;
}

/* The owner of /proc/|pid|/status: the process's user if dumpable, else root. */
static uid_t proc_owner(pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
    return st.st_uid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
}

Test(dump, the_vault_is_not_dumpable)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root to start processes as another user");
    }
    /*
     * The kernel makes /proc/PID/ of a non-dumpable process owned by root
     * (so that its user cannot ptrace it, read its memory or get its core).
     * The check can tell: an ordinary process of user NOBODY owns its files.
     */
    const char *sh[] = {"/bin/sh", "-c", "echo ready; read x", NULL};
    pid_t plain = spawn_as_nobody(sh, "ready");
    uid_t plain_owner = proc_owner(plain);
    stop(plain);
    cr_assert_eq(plain_owner, NOBODY, "an ordinary process's /proc files are its user's");

    char dir[] = "/tmp/vmock-dump-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
    const char *vault[] = {vmt_bin(), "--state", dir, "--listen", "127.0.0.1:0", NULL};
    pid_t v = spawn_as_nobody(vault, "vault-mock ready");
    uid_t owner = proc_owner(v);
    stop(v);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    /* It holds master.key, the tokens and the TLS key: no core dump, no ptrace by its user. */
    cr_assert_eq(owner, 0, "the vault is dumpable: /proc/%d is owned by %u", (int)v,
                 (unsigned)owner);
}
