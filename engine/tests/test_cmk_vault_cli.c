/*
 * test_cmk_vault_cli.c - cmk and the vault provider against a real
 * vault-mock over HTTPS, for what a user of a customer-managed key meets
 * at the edges (issue 17): plain http:// refused unless asked for (item 4),
 * a Retry-After longer than the call's deadline (item 12), the vault at a
 * new address and `cmk set-vault-url` (item 17), TLS and CA-file errors
 * named (item 18), an expired key (item 21). Each negative case checks the
 * exact exit code, engine code name and message.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eng_store.h"
#include "eng_vault.h"
#include "store_helpers.h"
#include "tl_vault.h"

#ifndef CMK_BIN
#define CMK_BIN "bin/cmk"
#endif

#define API "?api-version=7.4"

static struct vmt_server vs;
static char dir[256];
static char token_path[320];
static char *err_text; /* stderr of the last cmk run */
static char *out_text; /* stdout of the last cmk run */

static void write_token(void)
{
    tl_vault_token_file(&vs, "dbservice", token_path);
}

static void setup(void)
{
    tl_vault_start(&vs);
    tl_tmpdir(dir, sizeof(dir));
    tl_path(token_path, sizeof(token_path), dir, "token");
    write_token();
}

static void teardown(void)
{
    free(err_text);
    free(out_text);
    err_text = out_text = NULL;
    vmt_cleanup(&vs);
    tl_rmtree(dir);
}

TestSuite(cmk_vault, .init = setup, .fini = teardown, .timeout = 180);

/* Runs cmk in the test folder with |args| (tl_cmk_vrun); returns its exit code; stdout/stderr kept.
 */
static int cmk(const char *fmt, ...)
{
    char p[320];
    va_list ap;
    va_start(ap, fmt);
    int rc = tl_cmk_vrun(CMK_BIN, dir, fmt, ap);
    va_end(ap);
    cr_assert_geq(rc, 0, "cmk did not run or did not exit normally");
    free(err_text);
    free(out_text);
    tl_path(p, sizeof(p), dir, "stderr");
    err_text = tl_read_text(p);
    tl_path(p, sizeof(p), dir, "stdout");
    out_text = tl_read_text(p);
    return rc;
}

/* The vault options for key |key| at |url| with the vault's CA and dbservice's token. */
static const char *vopts(const char *url, const char *key)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "--vault-url %s --vault-key %s --vault-ca %s --vault-token-file token", url, key,
             vs.ca);
    return buf;
}

static void expect_err(int rc, int want_rc, const char *want1, const char *want2)
{
    cr_assert_eq(rc, want_rc, "exit %d, want %d; stderr: %s", rc, want_rc, err_text);
    cr_assert(strstr(err_text, want1) != NULL, "stderr lacks \"%s\": %s", want1, err_text);
    cr_assert(want2 == NULL || strstr(err_text, want2) != NULL, "stderr lacks \"%s\": %s", want2,
              err_text);
}

/* A store S in the test folder under vault key |key|, with 8 KiB of known bytes at offset 0. */
static void make_store(const char *key)
{
    cr_assert_eq(
        cmk("create S --units 16 --unit-size 4096 --extent-units 4 %s", vopts(vs.url, key)), 0,
        "%s", err_text);
    char p[400];
    tl_path(p, sizeof(p), dir, "in.bin");
    uint8_t buf[8192];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 7 + 3);
    }
    cr_assert_eq(tl_write_file(p, buf, sizeof(buf)), 0);
    cr_assert_eq(cmk("put S in.bin %s", vopts(vs.url, key)), 0, "%s", err_text);
}

/* cmk get S returns the bytes make_store put. */
static void expect_data(const char *url, const char *key)
{
    cr_assert_eq(cmk("get S --length 8192 --output out.bin %s", vopts(url, key)), 0, "%s",
                 err_text);
    char p[400];
    tl_path(p, sizeof(p), dir, "out.bin");
    size_t len;
    uint8_t *b = tl_read_file(p, &len);
    cr_assert_not_null(b);
    cr_assert_eq(len, 8192);
    for (size_t i = 0; i < len; i++) {
        cr_assert_eq(b[i], (uint8_t)(i * 7 + 3), "byte %zu differs", i);
    }
    free(b);
    unlink(p);
}

/* The library's provider for db-kek as dbservice, trusting |ca| (NULL: the system's CAs). */
static struct eng_kek_provider *lib_provider(const char *ca, int retries)
{
    struct eng_vault_config cfg = {.vault_url = vs.url,
                                   .key_name = "db-kek",
                                   .token = vmt_token(&vs, "dbservice"),
                                   .ca_file = ca,
                                   .max_retries = retries,
                                   .backoff_base_ms = 1};
    struct eng_kek_provider *p = eng_vault_open(&cfg);
    cr_assert_not_null(p, "%s", eng_error_name(eng_errno()));
    return p;
}

/* A get through |p| fails with |code| after exactly |requests| requests (retries included). */
static void expect_get_fails(struct eng_kek_provider *p, int code, uint64_t requests)
{
    struct eng_kek_ref ref;
    eng_clear_error();
    cr_assert_eq(eng_kek_get(p, NULL, &ref), -1);
    cr_assert_eq(eng_errno(), code, "got %s, want %s", eng_error_name(eng_errno()),
                 eng_error_name(code));
    struct eng_kek_stats st;
    cr_assert_eq(eng_kek_stats(p, &st), 0);
    cr_assert_eq(st.requests, requests, "%llu requests, want %llu", (unsigned long long)st.requests,
                 (unsigned long long)requests);
}

/* Attack report B6: a password in --vault-url was stored in the key table and printed. */
Test(cmk_vault, url_with_user_info_is_refused)
{
    int rc =
        cmk("create S --units 16 --vault-url https://user:SECRETPW@127.0.0.1:1 "
            "--vault-key k --vault-token-file token");
    expect_err(rc, 2,
               "cmk: --vault-url: vault URL holds a user name or password (user:pw@host): "
               "refused, so that it is never stored or printed; give the token with "
               "--vault-token-file (ENG_ERR_VAULT_URL_USERINFO)",
               NULL);
    cr_assert_null(strstr(err_text, "SECRETPW"), "the password was printed: %s", err_text);
    char p[400];
    tl_path(p, sizeof(p), dir, "S/keytable");
    cr_assert_neq(access(p, F_OK), 0, "a store was made");
}

/* --- item 4: plain HTTP ------------------------------------------------------ */

Test(cmk_vault, plain_http_is_refused_unless_asked_for)
{
    int rc =
        cmk("create S --units 16 --vault-url http://127.0.0.1:1 --vault-key k "
            "--vault-token-file token");
    expect_err(rc, 2,
               "cmk: --vault-url http://127.0.0.1:1: plain http:// vault URL refused: the "
               "bearer token would travel in clear text; use https://, or "
               "--vault-insecure-http to accept it (ENG_ERR_VAULT_INSECURE)",
               NULL);
    char p[400];
    tl_path(p, sizeof(p), dir, "S/keytable");
    cr_assert_neq(access(p, F_OK), 0, "a store was made");
    /* asked for: a warning, then the request goes out (nothing listens on port 1) */
    rc =
        cmk("create S --units 16 --vault-url http://127.0.0.1:1 --vault-key k "
            "--vault-token-file token --vault-insecure-http");
    expect_err(rc, 1,
               "cmk: warning: --vault-insecure-http: the bearer token goes to "
               "http://127.0.0.1:1 in clear text",
               "ENG_ERR_VAULT_UNREACHABLE");
    /* https is not affected by the flag */
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    cr_assert_eq(cmk("create S --units 16 %s --vault-insecure-http", vopts(vs.url, "db-kek")), 0,
                 "%s", err_text);
    cr_assert_eq(strstr(err_text, "warning"), NULL, "%s", err_text);
}

/* --- item 18: TLS and CA-file errors ----------------------------------------------- */

Test(cmk_vault, tls_and_ca_file_errors_are_named)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    /* untrusted server certificate: the system's CAs do not know vault-mock's */
    int rc = cmk("create S --units 16 --vault-url %s --vault-key db-kek --vault-token-file token",
                 vs.url);
    expect_err(rc, 1, "key vault's TLS certificate is not trusted",
               "(ENG_ERR_VAULT_TLS_UNTRUSTED)");
    /* a CA file that does not exist */
    rc =
        cmk("create S --units 16 --vault-url %s --vault-key db-kek --vault-ca nope.pem "
            "--vault-token-file token",
            vs.url);
    expect_err(rc, 1,
               "cmk: --vault-ca nope.pem: No such file or directory: vault CA file is missing, "
               "unreadable or holds no PEM certificate (ENG_ERR_VAULT_CA_FILE)",
               NULL);
    /* a CA file that holds no certificate */
    char p[400];
    tl_path(p, sizeof(p), dir, "garbage.pem");
    cr_assert_eq(tl_write_file(p, "this is not a certificate\n", 26), 0);
    rc =
        cmk("create S --units 16 --vault-url %s --vault-key db-kek --vault-ca garbage.pem "
            "--vault-token-file token",
            vs.url);
    expect_err(rc, 1,
               "cmk: --vault-ca garbage.pem: no PEM certificate in it: vault CA file is missing, "
               "unreadable or holds no PEM certificate (ENG_ERR_VAULT_CA_FILE)",
               NULL);
    tl_path(p, sizeof(p), dir, "S/keytable");
    cr_assert_neq(access(p, F_OK), 0, "a store was made");

    /* the library: the same three, and a CA file removed after the open (curl's error) */
    struct eng_kek_provider *kp = lib_provider(NULL, 2);
    expect_get_fails(kp, ENG_ERR_VAULT_TLS_UNTRUSTED, 1); /* not retried */
    eng_kek_provider_free(kp);
    char copy[400];
    tl_path(copy, sizeof(copy), dir, "ca-copy.pem");
    size_t len;
    uint8_t *ca = tl_read_file(vs.ca, &len);
    cr_assert_not_null(ca);
    cr_assert_eq(tl_write_file(copy, ca, len), 0);
    free(ca);
    kp = lib_provider(copy, 2);
    cr_assert_eq(unlink(copy), 0);
    expect_get_fails(kp, ENG_ERR_VAULT_CA_FILE, 1);
    eng_kek_provider_free(kp);
}

/* --- item 17: the vault at a new address ----------------------------------------- */

static char *keytable_bytes(size_t *len)
{
    char p[400];
    tl_path(p, sizeof(p), dir, "S/keytable");
    char *b = (char *)tl_read_file(p, len);
    cr_assert_not_null(b);
    return b;
}

Test(cmk_vault, vault_on_a_new_port_is_named_and_set_vault_url_moves_the_store)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    make_store("db-kek");
    char old_url[128];
    snprintf(old_url, sizeof(old_url), "%s", vs.url);
    /* the vault restarts on another port (--listen 127.0.0.1:0), same state */
    cr_assert_eq(vmt_stop(&vs), 0);
    int old_port = tl_vault_port(&vs);
    static const char *const args[] = {"--throttle", "off", NULL};
    for (int i = 0; i < 5 && tl_vault_port(&vs) == old_port; i++) {
        if (i > 0) {
            cr_assert_eq(vmt_stop(&vs), 0);
        }
        cr_assert_eq(vmt_start(&vs, args), 0);
    }
    cr_assert_neq(tl_vault_port(&vs), old_port, "the vault came back on the same port 5 times");
    char want[600];
    int rc = cmk("get S --length 16 %s", vopts(vs.url, "db-kek"));
    snprintf(want, sizeof(want),
             "cmk: open: key table names the same key name at another vault URL (see cmk "
             "set-vault-url) (ENG_ERR_KEK_URL_MISMATCH): the store's key table names vault key "
             "%s/keys/db-kek version %s; given: vault key %s/keys/db-kek; if the vault moved: "
             "cmk set-vault-url S",
             old_url, ver, vs.url);
    expect_err(rc, 1, want, NULL);
    rc = cmk("status S %s", vopts(vs.url, "db-kek"));
    snprintf(want, sizeof(want),
             "cmk: status: key table names the same key name at another vault URL (see cmk "
             "set-vault-url) "
             "(ENG_ERR_KEK_URL_MISMATCH): the store's key table names vault key %s/keys/db-kek "
             "version %s",
             old_url, ver);
    expect_err(rc, 1, want, NULL);
    /* moved: the table is rewritten, data readable at the new address */
    rc = cmk("set-vault-url S %s", vopts(vs.url, "db-kek"));
    cr_assert_eq(rc, 0, "%s", err_text);
    snprintf(want, sizeof(want), "S: %s/keys/db-kek -> %s/keys/db-kek", old_url, vs.url);
    cr_assert(strstr(out_text, want) != NULL, "stdout: %s", out_text);
    expect_data(vs.url, "db-kek");
    cr_assert_eq(cmk("status S --json %s", vopts(vs.url, "db-kek")), 0, "%s", err_text);
    cr_assert(strstr(out_text, old_url) == NULL, "the old URL is still recorded: %s", out_text);
    /* again: nothing to do */
    cr_assert_eq(cmk("set-vault-url S %s", vopts(vs.url, "db-kek")), 0, "%s", err_text);
    cr_assert(strstr(out_text, "already recorded") != NULL, "%s", out_text);
    /* "localhost" for "127.0.0.1" is another URL too (the certificate names both) */
    char local[128];
    snprintf(local, sizeof(local), "https://localhost:%d", tl_vault_port(&vs));
    rc = cmk("get S --length 16 %s", vopts(local, "db-kek"));
    expect_err(rc, 1, "(ENG_ERR_KEK_URL_MISMATCH)", "cmk set-vault-url S");
    cr_assert_eq(cmk("set-vault-url S %s", vopts(local, "db-kek")), 0, "%s", err_text);
    expect_data(local, "db-kek");
    /* the old address is now the mismatch */
    rc = cmk("get S --length 16 %s", vopts(vs.url, "db-kek"));
    expect_err(rc, 1, "(ENG_ERR_KEK_URL_MISMATCH)", local);
}

Test(cmk_vault, set_vault_url_refuses_another_key)
{
    char ver[40], ver2[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    cr_assert_eq(vmt_create_key(&vs, "other-kek", 2048, NULL, ver2), 200);
    make_store("db-kek");
    size_t len0, len1;
    char *before = keytable_bytes(&len0);
    /* another key name: refused, and the message names both */
    char local[128];
    snprintf(local, sizeof(local), "https://localhost:%d", tl_vault_port(&vs));
    int rc = cmk("set-vault-url S %s", vopts(local, "other-kek"));
    char want[600];
    snprintf(want, sizeof(want),
             "cmk: set-vault-url: key table was written under another KEK provider or key "
             "(ENG_ERR_KEK_MISMATCH): the store's key table names vault key %s/keys/db-kek "
             "version %s; given: vault key %s/keys/other-kek",
             vs.url, ver, local);
    expect_err(rc, 1, want, NULL);
    /* the same key name in another vault (another key, so none of the store's versions) */
    struct vmt_server other;
    tl_vault_start(&other);
    char over[40];
    cr_assert_eq(vmt_create_key(&other, "db-kek", 2048, NULL, over), 200);
    char opts[1024];
    snprintf(opts, sizeof(opts),
             "--vault-url %s --vault-key db-kek --vault-ca %s --vault-token-file token2", other.url,
             other.ca);
    char tp[400];
    tl_path(tp, sizeof(tp), dir, "token2");
    tl_vault_token_file(&other, "dbservice", tp);
    rc = cmk("set-vault-url S %s", opts);
    expect_err(rc, 3,
               "cmk: set-vault-url: key encryption key (or its version) not found "
               "(ENG_ERR_KEK_NOT_FOUND)",
               NULL);
    vmt_cleanup(&other);
    char *after = keytable_bytes(&len1);
    cr_assert_eq(len0, len1);
    cr_assert(memcmp(before, after, len0) == 0, "a refused set-vault-url changed the key table");
    free(before);
    free(after);
    expect_data(vs.url, "db-kek");
}

/* --- item 21: an expired key ----------------------------------------------------- */

/* The key officer sets attribute |name| ("exp", "nbf") of db-kek version |ver| to now + |delta| s.
 */
static void set_time_attr(const char *ver, const char *name, long delta)
{
    char path[160], body[160];
    snprintf(path, sizeof(path), "/keys/db-kek/%s" API, ver);
    snprintf(body, sizeof(body), "{\"attributes\":{\"%s\":%ld}}", name, (long)time(NULL) + delta);
    tl_vault_officer(&vs, "PATCH", path, body, 200);
}

Test(cmk_vault, expired_kek_reads_but_refuses_writes_and_wraps)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    make_store("db-kek");
    set_time_attr(ver, "exp", -3600);
    const char *o = vopts(vs.url, "db-kek");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s", o);
    /* reads: allowed (the service still unwraps an expired key) */
    expect_data(vs.url, "db-kek");
    cr_assert_eq(cmk("status S %s", opts), 0, "%s", err_text);
    cr_assert(strstr(out_text, "writes      refused: key encryption key is expired") != NULL, "%s",
              out_text);
    /* attack report B7: the access line itself must not read "ok" */
    cr_assert(strstr(out_text, "access      reads only (key table MAC verified") != NULL, "%s",
              out_text);
    cr_assert_null(strstr(out_text, "access      ok"), "%s", out_text);
    /* writes and wraps: refused, exit 3, "expired" (not "disabled") */
    static const char *const cmds[] = {"put S in.bin", "rekey S 0", "backup S b.bak",
                                       "create T --units 16"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        int rc = cmk("%s %s", cmds[i], opts);
        expect_err(rc, 3, "key encryption key is expired (past its exp date)",
                   "(ENG_ERR_KEK_EXPIRED)");
        cr_assert_eq(strstr(err_text, "disabled"), NULL, "%s: %s", cmds[i], err_text);
    }
    expect_data(vs.url, "db-kek"); /* the refused put changed nothing */
    /* the way out: a new version in the vault, rotate-kek rewraps, writes work again */
    tl_vault_officer(&vs, "POST", "/keys/db-kek/rotate" API, NULL, 200);
    cr_assert_eq(cmk("rotate-kek S %s", opts), 0, "%s", err_text);
    cr_assert_eq(cmk("put S in.bin --offset 4096 %s", opts), 0, "%s", err_text);
    cr_assert_eq(cmk("status S %s", opts), 0, "%s", err_text);
    cr_assert_eq(strstr(out_text, "writes      refused"), NULL, "%s", out_text);
}

Test(cmk_vault, not_yet_valid_kek_reads_but_refuses_writes)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    make_store("db-kek");
    set_time_attr(ver, "nbf", 86400);
    expect_data(vs.url, "db-kek");
    int rc = cmk("put S in.bin %s", vopts(vs.url, "db-kek"));
    expect_err(rc, 3, "key encryption key is not yet valid (before its nbf date)",
               "(ENG_ERR_KEK_NOT_YET_VALID)");
}

/* The library: an open store notices the expiry at its next check and turns read-only. */
Test(cmk_vault, open_store_turns_read_only_at_expiry)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    struct eng_kek_provider *p = lib_provider(vs.ca, 1);
    struct eng_store_config sc;
    eng_store_config_init(&sc);
    sc.unit_size = 4096;
    sc.num_units = 8;
    sc.extent_units = 4;
    char sd[400];
    tl_path(sd, sizeof(sd), dir, "L");
    struct eng_store *s = eng_store_create(sd, p, &sc);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t buf[4096];
    memset(buf, 0x5c, sizeof(buf));
    cr_assert_eq(eng_store_write(s, 1, 1, buf), 0);
    set_time_attr(ver, "exp", -1);
    cr_assert_eq(eng_store_revalidate(s), 0, "%s", eng_error_name(eng_errno()));
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.kek_expired, ENG_ERR_KEK_EXPIRED);
    cr_assert_eq(info.accessible, 1);
    uint8_t back[4096];
    cr_assert_eq(eng_store_read(s, 1, 1, back), 0, "%s", eng_error_name(eng_errno()));
    cr_assert(memcmp(back, buf, sizeof(buf)) == 0);
    cr_assert_eq(eng_store_write(s, 1, 1, buf), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_EXPIRED, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_write_bytes(s, 10, buf, 5), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_EXPIRED, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_rekey_extent(s, 0), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_EXPIRED, "got %s", eng_error_name(eng_errno()));
    /* a later exp: writable again at the next check */
    set_time_attr(ver, "exp", 86400);
    cr_assert_eq(eng_store_revalidate(s), 0);
    cr_assert_eq(eng_store_write(s, 1, 1, buf), 0, "%s", eng_error_name(eng_errno()));
    eng_store_close(s);
    eng_kek_provider_free(p);
}

/* --- item 12: a Retry-After past the call's deadline --------------------------------- */

Test(cmk_vault, retry_after_past_the_deadline_gives_up_throttled)
{
    char ver[40];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    make_store("db-kek");
    long st = vmt_set_faults(&vs,
                             "{\"faults\":[{\"op\":\"get\",\"throttle_rate\":1,"
                             "\"retry_after\":3600}]}");
    cr_assert(st == 200 || st == 204, "admin/faults: %ld", st);
    /* the library: one request, no retry, THROTTLED */
    struct eng_kek_provider *p = lib_provider(vs.ca, 3);
    expect_get_fails(p, ENG_ERR_VAULT_THROTTLED, 1); /* 3600 s > the 30 s deadline: no retry */
    struct eng_kek_stats vst;
    cr_assert_eq(eng_kek_stats(p, &vst), 0);
    cr_assert_eq(vst.retries, 0);
    cr_assert_eq(vst.last_status, 429);
    eng_kek_provider_free(p);
    /* the CLI: exit 1, the engine's name, well within a generous bound */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = cmk("get S --length 16 %s", vopts(vs.url, "db-kek"));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    expect_err(rc, 1, "key vault throttled the request (HTTP 429)", "(ENG_ERR_VAULT_THROTTLED)");
    cr_log_info("cmk get with Retry-After 3600: exit %d after %.2f s", rc, s);
    cr_assert_lt(s, 60.0, "cmk took %.1f s to give up", s);
    cr_assert_eq(vmt_set_faults(&vs, NULL), 204);
    expect_data(vs.url, "db-kek");
}
