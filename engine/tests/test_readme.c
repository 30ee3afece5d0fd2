/*
 * test_readme.c - README.md's walk-through under a customer-managed key runs
 * as written (issue 17). The test takes the fenced block between the
 * "walk-through: begin" and "walk-through: end" markers out of README.md and
 * runs it with `bash -euo pipefail` in a fresh private folder, with the
 * built cmk and vault-mock first on PATH: every command must succeed except
 * the get after the key's deletion, which the block itself checks for exit
 * 3; the test also checks the block's output for each step. So the README
 * and the test cannot drift apart.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_helpers.h"
#include "vmt_client.h"

#define BEGIN_MARK "<!-- walk-through: begin"
#define END_MARK   "<!-- walk-through: end"

static char dir[256];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(readme, .init = setup, .fini = teardown, .timeout = 600);

/* The shell block of README.md's walk-through (malloc'd). */
static char *walkthrough_block(void)
{
    const char *readme = getenv("CMK_README") != NULL ? getenv("CMK_README") : "README.md";
    cr_assert_eq(access(readme, R_OK), 0, "cannot read %s (run from the repository's root)",
                 readme);
    char *text = tl_read_text(readme);
    char *begin = strstr(text, BEGIN_MARK);
    cr_assert_not_null(begin, "README.md has no \"%s\" marker", BEGIN_MARK);
    char *end = strstr(begin, END_MARK);
    cr_assert_not_null(end, "README.md has no \"%s\" marker", END_MARK);
    *end = '\0';
    char *open = strstr(begin, "\n```sh\n");
    cr_assert_not_null(open, "no ```sh block between the markers");
    open += strlen("\n```sh\n");
    char *close = strstr(open, "\n```\n");
    cr_assert_not_null(close, "the ```sh block is not closed before the end marker");
    cr_assert_null(strstr(close + 5, "```"), "one block only between the markers");
    close[1] = '\0';
    char *block = strdup(open);
    free(text);
    return block;
}

/* Absolute folder of the program |path| (relative paths from the current folder). */
static void program_dir(const char *path, char *out, size_t max_out_len)
{
    char real[PATH_MAX];
    cr_assert_not_null(realpath(path, real), "%s: %s", path, strerror(errno));
    cr_assert_lt((size_t)snprintf(out, max_out_len, "%s", dirname(real)), max_out_len);
}

/* Ends every process left in the script's process group (the vault if a step failed). */
static void end_group(pid_t pgid)
{
    if (kill(-pgid, SIGTERM) != 0) {
        return;
    }
    for (int i = 0; i < 200 && kill(-pgid, 0) == 0; i++) { /* 10 s */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    (void)kill(-pgid, SIGKILL);
}

Test(readme, cmk_walkthrough_runs_as_written)
{
    char *block = walkthrough_block();
    /* The steps the walk-through promises (issue 17): each must stay in the block. */
    static const char *const steps[] = {
        "vault-mock --state", "\"key_size\": 3072",
        "jq -r .keyofficer",  "jq -r .dbservice",
        "create store",       "put store",
        "get store",          "officer -X POST \"$url/keys/demo-kek/rotate",
        "rotate-kek store",   "officer -X DELETE",
        "test \"$rc\" -eq 3", "/recover",
        "cmp hello.txt"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        cr_assert_not_null(strstr(block, steps[i]), "the walk-through lost \"%s\"", steps[i]);
    }
    char script[400], out[400], err[400];
    tl_path(script, sizeof(script), dir, "walk.sh");
    tl_path(out, sizeof(out), dir, "walk.out");
    tl_path(err, sizeof(err), dir, "walk.err");
    cr_assert_eq(tl_write_file(script, block, strlen(block)), 0);
    free(block);

    /* PATH: the built programs first ($CMK_BIN's folder, then vault-mock's: both $(BIN)). */
    char vm_dir[PATH_MAX], cmk_dir[PATH_MAX], path[3 * PATH_MAX];
    program_dir(vmt_bin(), vm_dir, sizeof(vm_dir));
    if (getenv("CMK_BIN") != NULL) {
        program_dir(getenv("CMK_BIN"), cmk_dir, sizeof(cmk_dir));
    } else {
        snprintf(cmk_dir, sizeof(cmk_dir), "%s", vm_dir);
    }
    char cmk_prog[PATH_MAX + 8];
    snprintf(cmk_prog, sizeof(cmk_prog), "%s/cmk", cmk_dir);
    cr_assert_eq(access(cmk_prog, X_OK), 0, "%s is not built", cmk_prog);
    const char *sys_path = getenv("PATH") != NULL ? getenv("PATH") : "/usr/bin:/bin";
    snprintf(path, sizeof(path), "%s:%s:%s", cmk_dir, vm_dir, sys_path);

    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int n = open("/dev/null", O_RDONLY);
        if (setsid() < 0 || chdir(dir) != 0 || o < 0 || e < 0 || n < 0 || dup2(n, 0) < 0 ||
            dup2(o, 1) < 0 || dup2(e, 2) < 0 || setenv("PATH", path, 1) != 0) {
            _exit(126);
        }
        execlp("bash", "bash", "-euo", "pipefail", "walk.sh", (char *)NULL);
        _exit(127);
    }
    /* Poll with a generous deadline: RSA-3072 key generation and TLS, valgrind included. */
    int st = 0;
    pid_t got = 0;
    for (int i = 0; i < 5000 && got == 0; i++) { /* 500 s */
        got = waitpid(pid, &st, WNOHANG);
        if (got == 0) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    end_group(pid);
    if (got == 0) {
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert_fail("the walk-through did not finish in 500 s");
    }
    char *e_text = tl_read_text(err);
    char *o_text = tl_read_text(out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the walk-through failed (status %d); stdout:\n%s\nstderr:\n%.2000s", st, o_text,
              e_text);
    /* Each officer call printed the key's kid on a line: create, rotate, delete, recover. */
    int kids = 0;
    for (const char *line = o_text; *line != '\0';) {
        size_t n = strcspn(line, "\n");
        kids += n > 8 && strncmp(line, "https://", 8) == 0 &&
                memmem(line, n, "/keys/demo-kek/", strlen("/keys/demo-kek/")) != NULL;
        line += n + (line[n] == '\n');
    }
    cr_assert_eq(kids, 4, "officer calls printed %d kids:\n%s", kids, o_text);
    cr_assert_not_null(strstr(o_text, "access      ok"), "status after create:\n%s", o_text);
    cr_assert_not_null(strstr(o_text, "cmk get after the delete: exit 3\n"), "%s", o_text);
    cr_assert_not_null(strstr(e_text, "ENG_ERR_KEK_NOT_FOUND"), "the delete's error: %s", e_text);
    free(o_text);
    free(e_text);
}
