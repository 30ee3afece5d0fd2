/*
 * test_bench.c - bin/vault-mock-bench takes its token from a file
 * (--token-file, the vault's secret-file rule), not only from the command
 * line, where every user sees it; --token still works, with a warning.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmt.h"

#define S (&vmt_srv)

TestSuite(bench, .init = vmt_setup, .fini = vmt_teardown, .timeout = 120);

/* bin/vault-mock-bench, beside the vault-mock under test. */
static const char *bench_bin(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s-bench", vmt_bin());
    return path;
}

/* Writes |text| to STATE/|name| with |mode|; returns the path (static per name slot). */
static const char *token_file(const char *name, const char *text, mode_t mode)
{
    static char path[2][700];
    static int slot;
    char *p = path[slot++ % 2];
    snprintf(p, sizeof(path[0]), "%s/%s", S->state, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
    return p;
}

/* Runs the bench against the vault with |auth| ("--token-file F" or "--token T"); exit code. */
static int run_bench(const char *flag, const char *value, char *out, size_t out_len)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "'%s' --url '%s' --ca '%s' %s '%s' --key benchkey --create --threads 1 "
             "--seconds 0.2 2>&1",
             bench_bin(), S->url, S->ca, flag, value);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, out_len - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    cr_assert(WIFEXITED(st), "%s: status %#x", cmd, st);
    return WEXITSTATUS(st);
}

Test(bench, token_file_is_read_and_checked_like_a_secret_file)
{
    char out[8192];
    char line[512];
    snprintf(line, sizeof(line), "%s\n", vmt_token(S, "keyofficer"));
    const char *good = token_file("officer.token", line, 0600);
    cr_assert_eq(run_bench("--token-file", good, out, sizeof(out)), 0, "%s", out);
    cr_assert_null(strstr(out, "warning"), "%s", out);

    const char *loose = token_file("loose.token", line, 0644);
    cr_assert_eq(run_bench("--token-file", loose, out, sizeof(out)), 2, "%s", out);
    char want[1024];
    snprintf(want, sizeof(want), "vault-mock-bench: --token-file: %s", loose);
    cr_assert_not_null(strstr(out, want), "%s", out);
    cr_assert_not_null(strstr(out, "permissions are looser than 0600"), "%s", out);

    const char *two = token_file("two.token", "a b\n", 0600);
    cr_assert_eq(run_bench("--token-file", two, out, sizeof(out)), 2, "%s", out);
    snprintf(want, sizeof(want), "vault-mock-bench: --token-file %s does not hold one token", two);
    cr_assert_not_null(strstr(out, want), "%s", out);
}

Test(bench, token_on_the_command_line_warns)
{
    char out[8192];
    cr_assert_eq(run_bench("--token", vmt_token(S, "keyofficer"), out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out,
                              "vault-mock-bench: warning: --token puts the token on the "
                              "command line"),
                       "%s", out);
}
