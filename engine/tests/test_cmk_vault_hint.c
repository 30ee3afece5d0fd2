/*
 * test_cmk_vault_hint.c - cmk on a store (or backup) under a vault key, run
 * without the vault options (issue 17 item 19): it used to look for the
 * default SMK key file and say "key encryption key not found" (exit 3,
 * status "inaccessible"). Now every command names the vault key the store
 * records (URL, name, version) and the options to pass, in one line, exit 2.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_helpers.h"
#include "tl_vault.h"

static struct vmt_server vs;
static char dir[256];
static char cmk_bin[PATH_MAX];
static char out_path[320], err_path[320];
static char version[40];

static void setup(void)
{
    tl_vault_start(&vs);
    tl_tmpdir(dir, sizeof(dir));
    tl_path(out_path, sizeof(out_path), dir, "stdout");
    tl_path(err_path, sizeof(err_path), dir, "stderr");
    /* cmk: $CMK_BIN (tl_cmk_path), else beside the vault-mock under test (both are $(BIN)). */
    char vm[PATH_MAX];
    cr_assert_not_null(realpath(vmt_bin(), vm));
    snprintf(cmk_bin, sizeof(cmk_bin), "%s/cmk", dirname(vm));
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, version), 200);
    char tok[400];
    tl_path(tok, sizeof(tok), dir, "service.token");
    tl_vault_token_file(&vs, "dbservice", tok);
    /* No SMK key file anywhere cmk looks: HOME is the test folder (cmk inherits it). */
    cr_assert_eq(setenv("HOME", dir, 1), 0);
    cr_assert_eq(unsetenv("CMK_KEY_FILE"), 0);
}

static void teardown(void)
{
    vmt_cleanup(&vs);
    tl_rmtree(dir);
}

TestSuite(cmk_vault_hint, .init = setup, .fini = teardown, .timeout = 120);

/* Runs cmk |args| in the test folder (tl_cmk_vrun); |vault|: add the vault options. */
static int cmk(int vault, const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof(args));
    if (!vault) {
        return tl_cmk_exit(cmk_bin, dir, "%s", args);
    }
    return tl_cmk_exit(cmk_bin, dir,
                       "--vault-url %s --vault-key db-kek --vault-ca %s --vault-token-file "
                       "service.token %s",
                       vs.url, vs.ca, args);
}

/* stderr is exactly the hint for |cmd| on |what| ("store s", "backup b.cmkb"). */
static void expect_hint(const char *cmd, const char *what)
{
    char want[2048];
    snprintf(want, sizeof(want),
             "cmk: %s: %s is under the customer-managed key %s/keys/db-kek (version %s) in a key "
             "vault; give --vault-url %s --vault-key db-kek --vault-ca CA_FILE --vault-token-file "
             "TOKEN_FILE (an identity allowed get, wrapKey and unwrapKey on that key)\n",
             cmd, what, vs.url, version, vs.url);
    char *e = tl_read_text(err_path);
    cr_assert_str_eq(e, want);
    free(e);
    char *o = tl_read_text(out_path);
    cr_assert_str_eq(o, "", "nothing on stdout");
    free(o);
}

Test(cmk_vault_hint, commands_without_vault_options_name_the_key)
{
    cr_assert_eq(cmk(1, "create s --size 64K"), 0);
    cr_assert_eq(cmk(1, "backup s b.cmkb"), 0);
    static const struct {
        const char *args, *cmd, *what;
    } runs[] = {
        {"status s", "status", "store s"},
        {"status s --json", "status", "store s"},
        {"get s --length 1", "get", "store s"},
        {"put s service.token", "put", "store s"},
        {"rotate-kek s", "rotate-kek", "store s"},
        {"rekey s 0", "rekey", "store s"},
        {"backup s b2.cmkb", "backup", "store s"},
        {"verify-backup b.cmkb", "verify-backup", "backup b.cmkb"},
        {"restore b.cmkb r", "restore", "backup b.cmkb"},
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        cr_assert_eq(cmk(0, "%s", runs[i].args), 2, "%s", runs[i].args);
        expect_hint(runs[i].cmd, runs[i].what);
    }
    struct stat st;
    char r[400];
    tl_path(r, sizeof(r), dir, "r");
    cr_assert_neq(stat(r, &st), 0, "a refused restore made nothing");
    /* With the options every one of them works. */
    cr_assert_eq(cmk(1, "status s"), 0);
    cr_assert_eq(cmk(1, "verify-backup b.cmkb"), 0);
    cr_assert_eq(cmk(1, "restore b.cmkb r"), 0);
}

/* An SMK store without its key file is still "key file not found", exit 3. */
Test(cmk_vault_hint, smk_store_keeps_the_key_file_error)
{
    cr_assert_eq(cmk(0, "--key-file k.key create s --size 64K"), 0);
    char key[400];
    tl_path(key, sizeof(key), dir, "k.key");
    cr_assert_eq(unlink(key), 0);
    cr_assert_eq(cmk(0, "--key-file k.key get s --length 1"), 3);
    char *e = tl_read_text(err_path);
    cr_assert_not_null(strstr(e, "cmk: key file k.key: "), "%s", e);
    cr_assert_not_null(strstr(e, "(ENG_ERR_KEK_NOT_FOUND)"), "%s", e);
    free(e);
}
