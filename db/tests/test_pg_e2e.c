/*
 * test_pg_e2e.c - PostgreSQL 15 end to end on each filesystem target the
 * machine has (scripts/db/e2e.sh): initdb --data-checksums on the mount,
 * pgbench -i -s 1, pgbench_accounts = 100000 rows, pgbench -t 200 -c 1 with
 * a tps figure and 0 failed transactions, stop, unmount. After every run
 * this program checks on its own that nothing of the run's folder is left
 * in /proc/self/mounts and that no process has its command line or working
 * folder there (a stale mount or postmaster is a defect), also after a run
 * that fails on purpose, one stopped with SIGINT (Ctrl-C) and one whose FUSE
 * daemon was killed under the running server. Targets whose
 * program is missing (bin/cmk-fs not built yet, gocryptfs not installed)
 * are skipped with the reason.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define E2E_SH    "scripts/db/e2e.sh"
#define TARGET_SH "scripts/db/target.sh"
#define OUT_MAX   16384

struct run {
    int status;        /* waitpid status */
    char out[OUT_MAX]; /* stdout */
    char err[OUT_MAX]; /* stderr */
    char root[256];    /* the run's folder, from its "root=" line */
};

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pg-e2e-test.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/out", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/err", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

TestSuite(pg_e2e, .init = setup, .fini = teardown, .timeout = 600);

static void slurp(const char *path, char *buf, size_t max)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    size_t n = fread(buf, 1, max - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* value_of: the text after "key=" on its own line of |out|, or "" (into |v|). */
static const char *value_of(const char *out, const char *key, char *v, size_t max)
{
    size_t kl = strlen(key);
    v[0] = '\0';
    for (const char *p = out; p != NULL && *p != '\0';
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t n = strcspn(p + kl + 1, "\n");
            if (n >= max) {
                n = max - 1;
            }
            memcpy(v, p + kl + 1, n);
            v[n] = '\0';
            break;
        }
    }
    return v;
}

/* start: fork and exec |argv| with stdout/stderr into tmpdir/out, tmpdir/err, and |env| set. */
static pid_t start(const char *const *argv, const char *env_name, const char *env_value)
{
    char o[128], e[128];
    snprintf(o, sizeof(o), "%s/out", tmpdir);
    snprintf(e, sizeof(e), "%s/err", tmpdir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "r", stdin) || !freopen(o, "w", stdout) ||
            !freopen(e, "w", stderr)) {
            _exit(126);
        }
        if (env_name != NULL) {
            setenv(env_name, env_value, 1);
        }
        signal(SIGINT, SIG_DFL);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

static void finish(pid_t pid, struct run *r)
{
    char o[128], e[128];
    cr_assert_eq(waitpid(pid, &r->status, 0), pid);
    snprintf(o, sizeof(o), "%s/out", tmpdir);
    snprintf(e, sizeof(e), "%s/err", tmpdir);
    slurp(o, r->out, sizeof(r->out));
    slurp(e, r->err, sizeof(r->err));
    value_of(r->out, "root", r->root, sizeof(r->root));
}

static void run_e2e(const char *target, const char *env_name, const char *env_value, struct run *r)
{
    const char *argv[] = {E2E_SH, target, NULL};
    finish(start(argv, env_name, env_value), r);
}

static int exit_code(const struct run *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

/* skip_unless: skips the test when target.sh says |target| cannot run here. */
static void skip_unless(const char *target)
{
    const char *argv[] = {TARGET_SH, "check", target, NULL};
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    finish(start(argv, NULL, NULL), r);
    int rc = exit_code(r);
    if (rc == 77) {
        r->out[strcspn(r->out, "\n")] = '\0';
        fprintf(stderr, "pg_e2e: skipped: %s\n", r->out);
        char why[300];
        snprintf(why, sizeof(why), "%.299s", r->out);
        free(r);
        teardown(); /* a skipped test does not reach .fini */
        cr_skip_test("%s", why);
    }
    cr_assert_eq(rc, 0, "target.sh check %s: exit %d: %s", target, rc, r->err);
    free(r);
}

/*
 * assert_nothing_left: no line of /proc/self/mounts has a mount point under
 * |root|, and no process has |root| in its command line or working folder.
 */
static void assert_nothing_left(const char *root)
{
    char prefix[300], line[1024], path[300], buf[4096];
    cr_assert_neq(root[0], '\0', "the run printed no root= line");
    snprintf(prefix, sizeof(prefix), "%s/", root);
    FILE *m = fopen("/proc/self/mounts", "r");
    cr_assert_not_null(m);
    while (fgets(line, sizeof(line), m) != NULL) {
        cr_expect_null(strstr(line, prefix), "left mounted: %s", line);
    }
    fclose(m);
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            for (ssize_t i = 0; i < n; i++) {
                buf[i] = buf[i] == '\0' ? ' ' : buf[i];
            }
            buf[n > 0 ? n : 0] = '\0';
            cr_expect_null(strstr(buf, prefix), "process %s left running: %s", de->d_name, buf);
        }
        snprintf(path, sizeof(path), "/proc/%s/cwd", de->d_name);
        ssize_t n = readlink(path, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            cr_expect_null(strstr(buf, prefix), "process %s left running in %s", de->d_name, buf);
        }
    }
    closedir(d);
    struct stat st;
    cr_expect_neq(stat(root, &st), 0, "the run's folder %s was not removed", root);
}

static void e2e_ok(const char *target)
{
    skip_unless(target);
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    char v[64];
    run_e2e(target, NULL, NULL, r);
    cr_expect_eq(exit_code(r), 0, "e2e.sh %s: exit %d\nstdout:\n%s\nstderr:\n%s", target,
                 exit_code(r), r->out, r->err);
    cr_expect_str_eq(value_of(r->out, "accounts", v, sizeof(v)), "100000");
    cr_expect_str_eq(value_of(r->out, "branches", v, sizeof(v)), "1");
    cr_expect_str_eq(value_of(r->out, "failed", v, sizeof(v)), "0");
    cr_expect_str_eq(value_of(r->out, "processed", v, sizeof(v)), "200");
    cr_expect_gt(strtod(value_of(r->out, "tps", v, sizeof(v)), NULL), 0.0, "tps=%s", v);
    cr_expect_str_eq(value_of(r->out, "leftovers", v, sizeof(v)), "0");
    fprintf(stderr, "pg_e2e: %s: tps=%s\n", target, value_of(r->out, "tps", v, sizeof(v)));
    assert_nothing_left(r->root);
    free(r);
}

Test(pg_e2e, plain)
{
    e2e_ok("plain");
}
Test(pg_e2e, gocryptfs)
{
    e2e_ok("gocryptfs");
}
Test(pg_e2e, cmkfs_smk)
{
    e2e_ok("cmkfs-smk");
}

/* The FUSE target to try the failure paths on: cmk-fs when built, else gocryptfs, else plain. */
static const char *fuse_target(void)
{
    if (access("bin/cmk-fs", X_OK) == 0) {
        return "cmkfs-smk";
    }
    return system("command -v gocryptfs >/dev/null 2>&1") == 0 ? "gocryptfs" : "plain";
}

Test(pg_e2e, failure_stops_and_unmounts)
{
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    run_e2e(fuse_target(), "DB_E2E_FAIL_AT", "started", r);
    cr_expect_eq(exit_code(r), 1, "exit %d\nstderr:\n%s", exit_code(r), r->err);
    cr_expect_not_null(strstr(r->out, "stage=started"), "stdout: %s", r->out);
    cr_expect_not_null(strstr(r->err, "failing on purpose (DB_E2E_FAIL_AT=started)"), "%s", r->err);
    assert_nothing_left(r->root);
    free(r);
}

/* start_waiting: e2e.sh on |target| with DB_E2E_WAIT_AT=started, polled (up to 300 s) until it says
 * so. */
static pid_t start_waiting(const char *target, struct run *r)
{
    char o[128];
    const char *argv[] = {E2E_SH, target, NULL};
    pid_t pid = start(argv, "DB_E2E_WAIT_AT", "started");
    snprintf(o, sizeof(o), "%s/out", tmpdir);
    int ready = 0;
    for (int i = 0; i < 3000 && !ready; i++) {
        slurp(o, r->out, sizeof(r->out));
        ready = strstr(r->out, "stage=started") != NULL;
        if (!ready) {
            if (waitpid(pid, &r->status, WNOHANG) == pid) {
                cr_assert_fail("e2e.sh ended before the server ran: %s", r->out);
            }
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert(ready, "e2e.sh did not reach stage=started in 300 s");
    value_of(r->out, "root", r->root, sizeof(r->root));
    return pid;
}

/*
 * fuse_daemon_of: the pid of the process serving the run's mount: its
 * command line names the run's folder and it is neither PostgreSQL nor a
 * shell of the harness. 0 when there is none.
 */
static pid_t fuse_daemon_of(const char *root)
{
    char prefix[300], path[300], buf[4096];
    snprintf(prefix, sizeof(prefix), "%s/", root);
    pid_t found = 0;
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && found == 0) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0) {
            continue;
        }
        buf[n] = '\0';
        const char *argv0 = strrchr(buf, '/') != NULL ? strrchr(buf, '/') + 1 : buf;
        for (ssize_t i = 0; i < n; i++) {
            buf[i] = buf[i] == '\0' ? ' ' : buf[i];
        }
        if (strstr(buf, prefix) != NULL && strstr(buf, "postgres") == NULL &&
            strncmp(argv0, "bash", 4) != 0 && strncmp(argv0, "vault-mock", 10) != 0) {
            char *end = NULL;
            long v = strtol(de->d_name, &end, 10);
            if (end != de->d_name && *end == '\0' && v > 0 && v <= INT_MAX) {
                found = (pid_t)v;
            }
        }
    }
    closedir(d);
    return found;
}

/*
 * The FUSE daemon dies under a running PostgreSQL (SIGKILL), as in issue
 * 15's first try: the data folder answers ENOTCONN, pg_ctl cannot read the
 * postmaster.pid. SIGTERM to the harness must still stop the postmaster and
 * remove the dead mount.
 */
Test(pg_e2e, dead_fuse_daemon_cleaned_up)
{
    const char *t = fuse_target();
    if (strcmp(t, "plain") == 0) {
        teardown();
        cr_skip_test("no FUSE target installed (gocryptfs or bin/cmk-fs)");
    }
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    pid_t pid = start_waiting(t, r);
    pid_t daemon = fuse_daemon_of(r->root);
    cr_assert_gt(daemon, 0, "no FUSE daemon found for %s", r->root);
    cr_assert_eq(kill(daemon, SIGKILL), 0);
    char data[400];
    struct stat st;
    snprintf(data, sizeof(data), "%s/%s.mnt/pgdata", r->root, t);
    int dead = 0;
    for (int i = 0; i < 3000 && !dead;
         i++) { /* the mount answers ENOTCONN once the daemon is gone */
        dead = stat(data, &st) != 0 && errno == ENOTCONN;
        if (!dead) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert(dead, "%s still answers after SIGKILL of its daemon %d", data, (int)daemon);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    finish(pid, r);
    cr_expect_eq(exit_code(r), 143, "exit %d\nstderr:\n%s", exit_code(r), r->err);
    cr_expect_not_null(strstr(r->err, "db: terminated"), "%s", r->err);
    assert_nothing_left(r->root);
    free(r);
}

Test(pg_e2e, sigint_stops_and_unmounts)
{
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    pid_t pid = start_waiting(fuse_target(), r);
    cr_assert_eq(kill(pid, SIGINT), 0);
    finish(pid, r);
    cr_expect_eq(exit_code(r), 130, "exit %d\nstderr:\n%s", exit_code(r), r->err);
    cr_expect_not_null(strstr(r->err, "db: interrupted"), "%s", r->err);
    assert_nothing_left(r->root);
    free(r);
}

Test(pg_e2e, unknown_target_refused)
{
    const char *argv[] = {TARGET_SH,        "up", "nosuchfs", "/nonexistent-b", "/nonexistent-m",
                          "/nonexistent-s", NULL};
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    finish(start(argv, NULL, NULL), r);
    cr_expect_eq(exit_code(r), 2);
    cr_expect_not_null(strstr(r->err, "target.sh: unknown target 'nosuchfs' (one of: plain"), "%s",
                       r->err);
    free(r);
}

#define BENCH_SH "scripts/db/bench.sh"

Test(pg_e2e, bench_order_and_cpus_refused)
{
    static const struct {
        const char *opt, *val, *want;
    } bad[] = {
        {"--order", "x", "bench.sh: --order 'x': abba or fixed"},
        {"--cpus", "4096", "bench.sh: --cpus '4096': not a CPU list this machine can run on"},
        {"--cpus", "two", "bench.sh: --cpus 'two': not a CPU list this machine can run on"},
        {"--seconds", "0.5", "bench.sh: --seconds '0.5': give whole seconds >= 1"},
        {"--layout", "x", "bench.sh: --layout 'x': fresh or kept"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[] = {BENCH_SH, bad[i].opt, bad[i].val, "--rounds", "1", NULL};
        struct run *r = calloc(1, sizeof(*r));
        cr_assert_not_null(r);
        finish(start(argv, NULL, NULL), r);
        cr_expect_eq(exit_code(r), 2, "%s %s: exit %d", bad[i].opt, bad[i].val, exit_code(r));
        cr_expect_not_null(strstr(r->err, bad[i].want), "%s %s: %s", bad[i].opt, bad[i].val,
                           r->err);
        free(r);
    }
}

/* position of the first |needle| in |hay|, or -1 */
static long pos_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    return p != NULL ? (long)(p - hay) : -1;
}

/*
 * A fio-only bench of two targets in two rounds, pinned to CPU 0: round 2 runs them in reverse
 * (ABBA), each turn of round 2 starts with a fresh layout (a new fio file), and the run says,
 * and records, where it ran.
 */
Test(pg_e2e, bench_rounds_alternate_and_pin)
{
    skip_unless("cmkfs-pass");
    char out[128];
    snprintf(out, sizeof(out), "%s/bench.json", tmpdir);
    const char *argv[] = {
        BENCH_SH,    "--cpus",           "0",           "--rounds",     "2",
        "--targets", "plain cmkfs-pass", "--workloads", "fio-randread", "--seconds",
        "1",         "--fio-size",       "4M",          "--out",        out,
        NULL};
    struct run *r = calloc(1, sizeof(*r));
    cr_assert_not_null(r);
    finish(start(argv, NULL, NULL), r);
    cr_assert_eq(exit_code(r), 0, "bench.sh: exit %d\nstdout:\n%s\nstderr:\n%s", exit_code(r),
                 r->out, r->err);
    cr_expect_not_null(strstr(r->out, "db-bench: CPUs: 0 (pinned with taskset;"), "%s", r->out);
    long a1 = pos_of(r->out, "round 1/2 plain:"), b1 = pos_of(r->out, "round 1/2 cmkfs-pass:");
    long a2 = pos_of(r->out, "round 2/2 plain:"), b2 = pos_of(r->out, "round 2/2 cmkfs-pass:");
    cr_expect(a1 >= 0 && b1 > a1, "round 1 not in the given order:\n%s", r->out);
    cr_expect(b2 > b1 && a2 > b2, "round 2 not reversed:\n%s", r->out);
    cr_expect_not_null(strstr(r->out, "round 2/2 plain: (fresh layout "), "%s", r->out);
    cr_expect_not_null(strstr(r->out, "round 2/2 cmkfs-pass: (fresh layout "), "%s", r->out);
    cr_expect_null(strstr(r->out, "round 1/2 plain: (fresh"), "round 1 uses the setup's files");
    char *doc = calloc(1, 1 << 20);
    cr_assert_not_null(doc);
    slurp(out, doc, 1 << 20);
    cJSON *j = cJSON_Parse(doc);
    cr_assert_not_null(j, "not JSON: %s", out);
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    cJSON *cpus = cJSON_GetObjectItemCaseSensitive(cfg, "cpus");
    cJSON *order = cJSON_GetObjectItemCaseSensitive(cfg, "order");
    cr_expect(cJSON_IsString(cpus) && strcmp(cpus->valuestring, "0") == 0, "config.cpus");
    cr_expect(cJSON_IsString(order) && strncmp(order->valuestring, "abba:", 5) == 0,
              "config.order");
    cJSON *layout = cJSON_GetObjectItemCaseSensitive(cfg, "layout");
    cr_expect(cJSON_IsString(layout) &&
                  strcmp(layout->valuestring,
                         "fresh: from round 2 every turn starts with a new fio file") == 0,
              "config.layout (fio only: no cluster to copy)");
    cJSON_Delete(j);
    free(doc);
    unlink(out);
    free(r);
}
