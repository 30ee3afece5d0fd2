/*
 * test_secret_file.c - one rule for every secret file the engine reads
 * (issue 17 item 5): the vault token file (eng_vault_read_token) is refused
 * exactly as an SMK key file is (eng_smk_open) when it is open to group or
 * others, owned by another user, a symbolic link or not a regular file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_keys.h"
#include "eng_vault.h"
#include "store_helpers.h"

static char dir[256];
static char tok_path[320];
static char key_path[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(tok_path, sizeof(tok_path), dir, "token");
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(secret_file, .init = setup, .fini = teardown, .timeout = 30);

static void write_token(const char *text, mode_t mode)
{
    cr_assert_eq(tl_write_file(tok_path, text, strlen(text)), 0);
    cr_assert_eq(chmod(tok_path, mode), 0);
}

/* Reads the token file; on failure expects |code| and an empty |out|. */
static void expect_token_error(int code, const char *why)
{
    char out[ENG_VAULT_TOKEN_MAX + 1];
    memset(out, 'x', sizeof(out));
    cr_assert_eq(eng_vault_read_token(tok_path, out, sizeof(out)), -1, "%s", why);
    cr_assert_eq(eng_errno(), code, "%s: got %s, want %s", why, eng_error_name(eng_errno()),
                 eng_error_name(code));
    cr_assert_str_eq(out, "", "%s: nothing is handed out", why);
}

Test(secret_file, token_read_and_trailing_line_end_dropped)
{
    char out[ENG_VAULT_TOKEN_MAX + 1];
    static const char *const texts[] = {"tok-0123456789", "tok-0123456789\n", "tok-0123456789\r\n",
                                        "tok-0123456789 \t\n\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        write_token(texts[i], 0600);
        cr_assert_eq(eng_vault_read_token(tok_path, out, sizeof(out)), 0, "%s",
                     eng_strerror(eng_errno()));
        cr_assert_str_eq(out, "tok-0123456789");
    }
    cr_assert_eq(chmod(tok_path, 0400), 0);
    cr_assert_eq(eng_vault_read_token(tok_path, out, sizeof(out)), 0, "0400 is private too");
}

Test(secret_file, token_open_to_group_or_others_refused)
{
    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_token("tok-0123456789\n", modes[i]);
        char why[32];
        snprintf(why, sizeof(why), "mode %04o", (unsigned)modes[i]);
        expect_token_error(ENG_ERR_PERM_LOOSE, why);
    }
}

Test(secret_file, token_of_another_user_refused)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root to chown");
    }
    write_token("tok-0123456789\n", 0600);
    cr_assert_eq(chown(tok_path, 65534, 65534), 0);
    expect_token_error(ENG_ERR_PERM_OWNER, "owner 65534");
}

Test(secret_file, token_link_fifo_folder_missing_refused)
{
    char target[400];
    tl_path(target, sizeof(target), dir, "real-token");
    cr_assert_eq(tl_write_file(target, "tok-0123456789", 14), 0);
    cr_assert_eq(chmod(target, 0600), 0);
    cr_assert_eq(symlink(target, tok_path), 0);
    expect_token_error(ENG_ERR_NOT_REGULAR, "symbolic link");
    cr_assert_eq(unlink(tok_path), 0);
    cr_assert_eq(mkfifo(tok_path, 0600), 0);
    expect_token_error(ENG_ERR_NOT_REGULAR, "FIFO (must not wait for a writer)");
    cr_assert_eq(unlink(tok_path), 0);
    cr_assert_eq(mkdir(tok_path, 0700), 0);
    expect_token_error(ENG_ERR_NOT_REGULAR, "folder");
    cr_assert_eq(rmdir(tok_path), 0);
    expect_token_error(ENG_ERR_IO, "missing");
}

Test(secret_file, token_content_checked)
{
    write_token("", 0600);
    expect_token_error(ENG_ERR_ARG, "empty");
    write_token("\n", 0600);
    expect_token_error(ENG_ERR_ARG, "only a line end");
    write_token("tok en\n", 0600);
    expect_token_error(ENG_ERR_ARG, "a space inside");
    write_token("tok\nX-Injected: 1\n", 0600);
    expect_token_error(ENG_ERR_ARG, "a second line (header injection)");
    static char big[ENG_VAULT_TOKEN_MAX + 2];
    memset(big, 'a', ENG_VAULT_TOKEN_MAX);
    write_token(big, 0600);
    char out[ENG_VAULT_TOKEN_MAX + 1];
    cr_assert_eq(eng_vault_read_token(tok_path, out, sizeof(out)), 0, "exactly the maximum");
    cr_assert_eq(strlen(out), ENG_VAULT_TOKEN_MAX);
    char small[8];
    cr_assert_eq(eng_vault_read_token(tok_path, small, sizeof(small)), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_TOO_LONG);
    cr_assert_str_eq(small, "");
    big[ENG_VAULT_TOKEN_MAX] = 'a';
    write_token(big, 0600);
    expect_token_error(ENG_ERR_TOO_LONG, "one past the maximum");
    cr_assert_eq(eng_vault_read_token(NULL, out, sizeof(out)), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
}

/* The same rule, through the SMK provider: same codes for the same files. */
Test(secret_file, smk_key_file_same_rule)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    eng_kek_provider_free(p);
    static const mode_t modes[] = {0644, 0640, 0604};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        cr_assert_eq(chmod(key_path, modes[i]), 0);
        cr_assert_null(eng_smk_open(key_path, 0));
        cr_assert_eq(eng_errno(), ENG_ERR_PERM_LOOSE, "mode %04o", (unsigned)modes[i]);
    }
    cr_assert_eq(chmod(key_path, 0600), 0);
    if (geteuid() == 0) {
        cr_assert_eq(chown(key_path, 65534, 65534), 0);
        cr_assert_null(eng_smk_open(key_path, 0));
        cr_assert_eq(eng_errno(), ENG_ERR_PERM_OWNER);
    }
}

/* A FIFO in place of the key file is refused at once instead of waiting for a writer. */
Test(secret_file, smk_key_file_fifo_does_not_hang, .timeout = 10)
{
    cr_assert_eq(mkfifo(key_path, 0600), 0);
    cr_assert_null(eng_smk_open(key_path, 0));
    cr_assert_eq(eng_errno(), ENG_ERR_NOT_REGULAR, "got %s", eng_error_name(eng_errno()));
}
