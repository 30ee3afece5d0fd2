/*
 * test_state.c - what vault-mock accepts as its state at start-up: a state
 * folder, state files, an --identities file and an audit log that are not
 * the vault user's own, are open to others, are symbolic links or are not
 * regular files (a FIFO must not hang the start) are refused with the path,
 * what was found and what is required; a vault.json without its master.key
 * is refused without creating anything; SIGTERM stops the start-up.
 *
 * The tests run as root (make test does): chown to uid 65534 stands for
 * "another local user".
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmt.h"

#define S         (&vmt_srv)
#define OTHER_UID 65534
/* Generous: a refused start takes milliseconds; only a hang comes near this. */
#define DEADLINE_MS 20000

TestSuite(state, .fini = vmt_teardown, .timeout = 300);

/* How a run of the program ended. */
struct run {
    int started; /* it printed the ready line (then it was killed) */
    int hung;    /* still running at the deadline (then it was killed) */
    int code;    /* exit code, or -1 */
    char out[8192];
};

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Runs vault-mock with |args| (NULL-terminated, after --listen 127.0.0.1:0)
 * and collects stdout and stderr until it exits, prints its ready line, or
 * DEADLINE_MS passes.
 */
static void run_vault(const char *const *args, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->code = -1;
    char *argv[64];
    size_t n = 0;
    argv[n++] = (char *)(uintptr_t)vmt_bin();
    argv[n++] = (char *)(uintptr_t) "--listen";
    argv[n++] = (char *)(uintptr_t) "127.0.0.1:0";
    for (size_t i = 0; args[i] != NULL && n < 63; i++) {
        argv[n++] = (char *)(uintptr_t)args[i];
    }
    argv[n] = NULL;
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t len = 0;
    for (;;) {
        long left = DEADLINE_MS - ms_since(&t0);
        if (left <= 0) {
            r->hung = 1;
            break;
        }
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        if (poll(&pf, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t got = read(p[0], r->out + len, sizeof(r->out) - 1 - len);
        if (got <= 0) {
            break; /* EOF: the program is gone */
        }
        len += (size_t)got;
        r->out[len] = '\0';
        if (strstr(r->out, "vault-mock ready ") != NULL || len + 1 == sizeof(r->out)) {
            r->started = 1;
            break;
        }
    }
    close(p[0]);
    int status = 0;
    if (r->started || r->hung) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return;
    }
    /* EOF came: the exit follows at once; still bounded by the deadline. */
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (ms_since(&t0) > DEADLINE_MS) {
            r->hung = 1;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return;
        }
        usleep(10000);
    }
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs vault-mock on |state| plus |extra| (NULL-terminated, may be NULL). */
static void run_state(const char *state, const char *const *extra, struct run *r)
{
    const char *args[32] = {"--state", state, "--throttle", "off"};
    size_t n = 4;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    run_vault(args, r);
}

/* Asserts a refused start: exit code 1 within the deadline, and |want| in its output. */
static void expect_refused(const struct run *r, const char *want)
{
    cr_assert(!r->hung, "vault-mock still running after %d ms (output: %s)", DEADLINE_MS, r->out);
    cr_assert(!r->started, "vault-mock started although it should refuse: %s", r->out);
    cr_assert_eq(r->code, 1, "exit code %d, output: %s", r->code, r->out);
    cr_assert(strstr(r->out, want) != NULL, "expected \"%s\" in: %s", want, r->out);
}

/* A state folder that has been used once: keys, master key, identities, TLS, audit. */
static void used_state(void)
{
    const char *args[] = {"--throttle", "off", NULL};
    vmt_setup_args(args);
    cr_assert_eq(vmt_create_key(S, "k1", 2048, NULL, NULL), 200);
    cr_assert_eq(vmt_stop(S), 0);
}

/* chown to another user needs root (make test runs as root). */
static void need_root(void)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root to chown files to another user");
    }
}

static void path_in(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", S->state, name);
}

/* The files of a state folder that vault-mock reads or appends to at start-up. */
static const char *const state_files[] = {"vault.json",  "master.key", "identities.json",
                                          "audit.jsonl", "server.pem", "server.key"};
#define N_STATE_FILES (sizeof(state_files) / sizeof(state_files[0]))

Test(state, folder_owned_by_another_user_is_refused_and_left_alone)
{
    need_root();
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(S->state, sizeof(S->state), "%s", dir); /* removed by the teardown */
    cr_assert_eq(chown(dir, OTHER_UID, OTHER_UID), 0);
    struct run r;
    run_state(dir, NULL, &r);
    char want[2048];
    snprintf(want, sizeof(want), "state folder %s is owned by uid %d, not by uid %u", dir,
             OTHER_UID, (unsigned)geteuid());
    expect_refused(&r, want);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        cr_assert(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0, "%s was created",
                  e->d_name);
    }
    closedir(d);
}

Test(state, folder_that_is_a_symbolic_link_is_refused)
{
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(S->state, sizeof(S->state), "%s", dir);
    char link[600];
    snprintf(link, sizeof(link), "%s/link", dir);
    char real[600];
    snprintf(real, sizeof(real), "%s/real", dir);
    cr_assert_eq(mkdir(real, 0700), 0);
    cr_assert_eq(symlink(real, link), 0);
    struct run r;
    run_state(link, NULL, &r);
    char want[2048];
    snprintf(want, sizeof(want), "state folder %s is a symbolic link, not a folder", link);
    expect_refused(&r, want);
    /* The same with a trailing slash, which would make open() follow the link. */
    char slash[700];
    snprintf(slash, sizeof(slash), "%s/", link);
    run_state(slash, NULL, &r);
    expect_refused(&r, "is a symbolic link, not a folder");
}

Test(state, state_files_owned_by_another_user_are_refused)
{
    need_root();
    used_state();
    for (size_t i = 0; i < N_STATE_FILES; i++) {
        char path[600];
        path_in(path, sizeof(path), state_files[i]);
        cr_assert_eq(chown(path, OTHER_UID, OTHER_UID), 0, "%s", path);
        struct run r;
        run_state(S->state, NULL, &r);
        char want[2048];
        snprintf(want, sizeof(want), "%s is owned by uid %d, not by uid %u that vault-mock runs as",
                 path, OTHER_UID, (unsigned)geteuid());
        expect_refused(&r, want);
        cr_assert_eq(chown(path, geteuid(), getegid()), 0);
    }
    cr_assert_eq(vmt_start(S, NULL), 0, "the repaired folder starts again");
}

Test(state, state_files_open_to_others_are_refused)
{
    used_state();
    const mode_t modes[] = {0644, 0640, 0602};
    for (size_t i = 0; i < N_STATE_FILES; i++) {
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            char path[600];
            path_in(path, sizeof(path), state_files[i]);
            cr_assert_eq(chmod(path, modes[m]), 0, "%s", path);
            struct run r;
            run_state(S->state, NULL, &r);
            char want[2048];
            snprintf(want, sizeof(want),
                     "%s permissions are looser than 0600 (mode %04o: group or others have "
                     "access); refusing it (chmod 600 %s)",
                     path, (unsigned)modes[m], path);
            expect_refused(&r, want);
            cr_assert_eq(chmod(path, 0600), 0);
        }
    }
    cr_assert_eq(vmt_start(S, NULL), 0, "the repaired folder starts again");
}

/*
 * Puts a symbolic link (|fifo| 0) or a FIFO (1) in place of each state file in turn and
 * expects the start refused; the real file is put back after each.
 */
static void refuse_each_replaced(int fifo)
{
    used_state();
    for (size_t i = 0; i < N_STATE_FILES; i++) {
        char path[600];
        char moved[640];
        path_in(path, sizeof(path), state_files[i]);
        snprintf(moved, sizeof(moved), "%s.real", path);
        cr_assert_eq(rename(path, moved), 0);
        cr_assert_eq(fifo ? mkfifo(path, 0600) : symlink(moved, path), 0);
        struct stat before;
        cr_assert_eq(stat(moved, &before), 0);
        struct run r;
        run_state(S->state, NULL, &r);
        char want[2048];
        snprintf(want, sizeof(want),
                 fifo ? "%s is a FIFO, not a regular file; refusing it"
                      : "%s is a symbolic link; refusing to follow it",
                 path);
        expect_refused(&r, want);
        struct stat after;
        cr_assert_eq(stat(moved, &after), 0);
        cr_assert_eq(after.st_size, before.st_size, "the real file was not written");
        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(rename(moved, path), 0);
    }
    cr_assert_eq(vmt_start(S, NULL), 0, "the repaired folder starts again");
}

Test(state, state_files_that_are_symbolic_links_are_refused)
{
    refuse_each_replaced(0);
}

Test(state, a_fifo_in_place_of_a_state_file_is_refused_without_hanging)
{
    refuse_each_replaced(1);
}

/* Writes an identities file with one officer to |path| with |mode|. */
static void write_identities(const char *path, mode_t mode)
{
    const char *doc =
        "{\"identities\":[{\"name\":\"officer\",\"token\":"
        "\"officer-token-0123456789\",\"permissions\":[\"all\"]}]}";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

Test(state, identities_file_must_be_private_and_ours)
{
    need_root();
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(S->state, sizeof(S->state), "%s", dir);
    char state[600];
    char ids[600];
    snprintf(state, sizeof(state), "%s/state", dir);
    snprintf(ids, sizeof(ids), "%s/ids.json", dir);
    const char *extra[] = {"--identities", ids, NULL};
    struct run r;
    char want[2048];

    write_identities(ids, 0644);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want),
             "%s permissions are looser than 0600 (mode 0644: group or others have access); "
             "refusing it (chmod 600 %s)",
             ids, ids);
    expect_refused(&r, want);

    write_identities(ids, 0600);
    cr_assert_eq(chown(ids, OTHER_UID, OTHER_UID), 0);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want), "%s is owned by uid %d, not by uid %u that vault-mock runs as",
             ids, OTHER_UID, (unsigned)geteuid());
    expect_refused(&r, want);

    char real[640];
    snprintf(real, sizeof(real), "%s/ids-real.json", dir);
    write_identities(real, 0600);
    cr_assert_eq(unlink(ids), 0);
    cr_assert_eq(symlink(real, ids), 0);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want), "%s is a symbolic link; refusing to follow it", ids);
    expect_refused(&r, want);

    cr_assert_eq(unlink(ids), 0);
    cr_assert_eq(mkfifo(ids, 0600), 0);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want), "%s is a FIFO, not a regular file; refusing it", ids);
    expect_refused(&r, want);

    /* The same file, private and ours: accepted. */
    cr_assert_eq(unlink(ids), 0);
    write_identities(ids, 0600);
    run_state(state, extra, &r);
    cr_assert(r.started, "a private identities file is accepted: %s", r.out);
}

Test(state, audit_file_must_be_private_ours_and_not_a_link)
{
    need_root();
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(S->state, sizeof(S->state), "%s", dir);
    char state[600];
    char audit[600];
    char target[600];
    snprintf(state, sizeof(state), "%s/state", dir);
    snprintf(audit, sizeof(audit), "%s/audit.jsonl", dir);
    snprintf(target, sizeof(target), "%s/elsewhere.log", dir);
    const char *extra[] = {"--audit", audit, NULL};
    struct run r;
    char want[2048];

    /* A link to a file the attacker wants written: not followed, not written. */
    int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(symlink(target, audit), 0);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want), "audit log: %s is a symbolic link; refusing to follow it", audit);
    expect_refused(&r, want);
    struct stat st;
    cr_assert_eq(stat(target, &st), 0);
    cr_assert_eq(st.st_size, 0, "nothing was written through the link");
    cr_assert_eq(unlink(audit), 0);

    /* A dangling link, which O_CREAT alone would create the target of. */
    char nowhere[640];
    snprintf(nowhere, sizeof(nowhere), "%s/nowhere.log", dir);
    cr_assert_eq(symlink(nowhere, audit), 0);
    run_state(state, extra, &r);
    expect_refused(&r, want);
    cr_assert_neq(stat(nowhere, &st), 0, "the link's target was not created");
    cr_assert_eq(unlink(audit), 0);

    fd = open(audit, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(chmod(audit, 0644), 0);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want),
             "audit log: %s permissions are looser than 0600 (mode 0644: group or others have "
             "access)",
             audit);
    expect_refused(&r, want);
    cr_assert_eq(stat(audit, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644, "the mode was not changed behind the user's back");

    cr_assert_eq(chmod(audit, 0600), 0);
    cr_assert_eq(chown(audit, OTHER_UID, OTHER_UID), 0);
    run_state(state, extra, &r);
    snprintf(want, sizeof(want), "audit log: %s is owned by uid %d, not by uid %u", audit,
             OTHER_UID, (unsigned)geteuid());
    expect_refused(&r, want);
}

Test(state, missing_master_key_beside_a_vault_json_is_refused_creating_nothing)
{
    used_state();
    char key[600];
    char vault[600];
    path_in(key, sizeof(key), "master.key");
    path_in(vault, sizeof(vault), "vault.json");
    cr_assert_eq(unlink(key), 0);
    size_t before_len = 0;
    char *before = vmt_read_file(vault, &before_len);
    cr_assert_not_null(before);
    struct run r;
    run_state(S->state, NULL, &r);
    char want[2048];
    snprintf(want, sizeof(want),
             "state exists but master.key is missing: %s holds keys sealed under %s, which does "
             "not exist",
             vault, key);
    expect_refused(&r, want);
    struct stat st;
    cr_assert_neq(lstat(key, &st), 0, "no new master.key was left behind");
    size_t after_len = 0;
    char *after = vmt_read_file(vault, &after_len);
    cr_assert(after != NULL && after_len == before_len && memcmp(before, after, after_len) == 0,
              "vault.json untouched");
    free(before);
    free(after);
}

Test(state, missing_vault_json_beside_master_key_or_audit_log_is_refused)
{
    used_state();
    char key[600];
    char vault[600];
    char audit[600];
    path_in(key, sizeof(key), "master.key");
    path_in(vault, sizeof(vault), "vault.json");
    path_in(audit, sizeof(audit), "audit.jsonl");
    cr_assert_eq(unlink(vault), 0);
    struct run r;
    char want[2048];
    /* master.key (and the audit log) remain: the state looks lost */
    run_state(S->state, NULL, &r);
    snprintf(want, sizeof(want),
             "state looks lost: %s/vault.json is missing but %s/master.key exists (this vault "
             "ran before); restore vault.json from a backup, or start with --start-empty",
             S->state, S->state);
    expect_refused(&r, want);
    struct stat st;
    cr_assert_neq(lstat(vault, &st), 0, "no empty vault.json was written");
    /* only the audit log remains */
    cr_assert_eq(unlink(key), 0);
    cr_assert_eq(stat(audit, &st), 0);
    run_state(S->state, NULL, &r);
    snprintf(want, sizeof(want),
             "state looks lost: %s/vault.json is missing but the audit log %s holds %lld bytes",
             S->state, audit, (long long)st.st_size);
    expect_refused(&r, want);
    cr_assert_neq(lstat(key, &st), 0, "no new master.key was left behind");
    /* --start-empty starts with no keys, as asked */
    const char *empty[] = {"--start-empty", NULL};
    run_state(S->state, empty, &r);
    cr_assert(r.started, "--start-empty starts: %s", r.out);
    cr_assert_eq(lstat(vault, &st), 0, "the empty vault.json is written");
}

Test(state, a_vault_restarted_before_any_change_starts_again)
{
    /* the first start writes the empty vault.json, so a restart is not taken for a loss */
    const char *args[] = {"--throttle", "off", NULL};
    vmt_setup_args(args);
    char vault[600];
    path_in(vault, sizeof(vault), "vault.json");
    struct stat st;
    cr_assert_eq(lstat(vault, &st), 0, "the first start wrote %s", vault);
    cr_assert_eq(vmt_stop(S), 0);
    struct run r;
    run_state(S->state, NULL, &r);
    cr_assert(r.started, "the restart is refused: %s", r.out);
}

/* 1 when the main thread of |pid| is blocked in write(2) on its stdout. */
static int blocked_writing_stdout(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
    char *text = vmt_read_file(path, NULL);
    long nr = -1;
    unsigned long fd = 99;
    int ok = text != NULL && sscanf(text, "%ld %lx", &nr, &fd) == 2 && nr == SYS_write && fd == 1;
    free(text);
    return ok;
}

Test(state, sigterm_stops_a_start_up_that_cannot_finish)
{
    /*
     * The ready line goes to a pipe nobody reads that is already full, so the start-up cannot
     * finish: vault-mock sits in write(2). SIGTERM must still end it.
     */
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    char fill[4096];
    memset(fill, 'x', sizeof(fill));
    while (write(p[1], fill, sizeof(fill)) > 0) {
    }
    while (write(p[1], fill, 1) > 0) { /* not a byte of room left */
    }
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(fcntl(p[1], F_SETFL, 0), 0);
    char dir[] = "/tmp/vmock-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(S->state, sizeof(S->state), "%s", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], STDOUT_FILENO);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        execl(vmt_bin(), vmt_bin(), "--state", dir, "--listen", "127.0.0.1:0", "--throttle", "off",
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    int blocked = 0;
    while (!(blocked = blocked_writing_stdout(pid)) && ms_since(&t0) < DEADLINE_MS) {
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "vault-mock ended on its own");
        usleep(10000);
    }
    if (!blocked) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[0]);
        cr_assert_fail("vault-mock never reached its ready line within %d ms", DEADLINE_MS);
    }
    cr_assert_eq(kill(pid, SIGTERM), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t got = 0;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && ms_since(&t0) < DEADLINE_MS) {
        usleep(10000);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(p[0]);
    cr_assert_eq(got, pid, "vault-mock still running %d ms after SIGTERM", DEADLINE_MS);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a clean shutdown (exit 0), status 0x%x", (unsigned)status);
}
