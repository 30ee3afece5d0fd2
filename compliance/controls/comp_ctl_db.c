/*
 * comp_ctl_db.c - the database controls DB-DEL, DB-COV, DB-BAK and DB-CRASH: a real
 * PostgreSQL 15 on a cmk-fs mount under a customer-managed key. The work is done by
 * scripts/db/prove.sh (on top of the harness's target.sh, pg.sh and lib.sh), which starts its
 * own vault-mock, mounts, runs the server and the clients, measures, and stops and unmounts on
 * every path; this file runs it, turns its lines into the control's evidence and verdict, and
 * bounds its time (SIGTERM to its process group, whose exit trap cleans up, then SIGKILL).
 *
 * prove.sh's lines: "ev: TEXT" (evidence), "measured: TEXT", "fail: TEXT" (each failure),
 * "pass: TEXT", "skip: REASON"; exit 0 pass, 1 fail, 77 skipped. A skip (no PostgreSQL 15,
 * not root, no FUSE) becomes not applicable with "skipped: REASON", never a pass; any other
 * exit, or an exit 0 without a pass line, fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comp_ctl_internal.h"

#define PROVE_DEADLINE_S 900.0 /* DB-CRASH takes about 3 minutes; a hung run ends here */
#define TERM_GRACE_S     90.0  /* after SIGTERM: the script's cleanup stops the server */

/*
 * $CMK_PROVE_SH (the tests' stand-in script), else prove.sh next to this program
 * (BIN/../scripts/db), else relative to the working folder.
 */
static void prove_path(char *out, size_t max)
{
    const char *env = getenv("CMK_PROVE_SH");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, max, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(out, max, "%s/../scripts/db/prove.sh", exe);
            if (access(out, X_OK) == 0) {
                return;
            }
        }
    }
    snprintf(out, max, "%s", "scripts/db/prove.sh");
}

struct prove_out {
    char pass[512], skip[512];
    int fails;
};

/* One line of prove.sh's stdout into |c| (unknown lines, e.g. cmk-fs's own, are ignored). */
static void take_line(struct comp_control *c, struct prove_out *po, char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "ev: ", 4) == 0) {
        cc_ev(c, "%s", line + 4);
    } else if (strncmp(line, "measured: ", 10) == 0) {
        snprintf(c->measured, sizeof(c->measured), "%s", line + 10);
    } else if (strncmp(line, "fail: ", 6) == 0) {
        cc_fail(c, "%s", line + 6);
        po->fails++;
    } else if (strncmp(line, "pass: ", 6) == 0) {
        snprintf(po->pass, sizeof(po->pass), "%s", line + 6);
    } else if (strncmp(line, "skip: ", 6) == 0) {
        snprintf(po->skip, sizeof(po->skip), "%s", line + 6);
    }
}

/* The last non-empty line of |path| (prove.sh's stderr), for a failure's reason. */
static void last_line(const char *path, char *out, size_t max)
{
    size_t len = 0;
    char *s = vmt_read_file(path, &len);
    out[0] = '\0';
    if (s == NULL) {
        return;
    }
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ')) {
        s[--len] = '\0';
    }
    char *nl = strrchr(s, '\n');
    snprintf(out, max, "%s", nl != NULL ? nl + 1 : s);
    free(s);
}

/* Waits for |pid| until |deadline| (CLOCK_MONOTONIC s); 1 when it ended (status in |st|). */
static int wait_until(pid_t pid, int *st, double deadline)
{
    for (;;) {
        pid_t w = waitpid(pid, st, WNOHANG);
        if (w == pid) {
            return 1;
        }
        if ((w < 0 && errno != EINTR) || cc_now_s() >= deadline) {
            return 0;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Runs prove.sh |name| and fills |c| from what it prints and how it exits. */
static void run_prove(struct ctx *x, struct comp_control *c, const char *name)
{
    char script[PATH_MAX + 32], errpath[400], reval[16];
    prove_path(script, sizeof(script));
    snprintf(errpath, sizeof(errpath), "%s/prove-%s.err", x->work, name);
    snprintf(reval, sizeof(reval), "%u", x->reval);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        cc_fail(c, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cc_fail(c, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || err < 0 || dup2(in, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(err, 2) < 0) {
            _exit(126);
        }
        if (getenv("PROVE_REVAL_S") == NULL) {
            setenv("PROVE_REVAL_S", reval, 1);
        }
        execl(script, script, name, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    close(fds[1]);
    struct prove_out po = {{0}, {0}, 0};
    char line[2048];
    size_t used = 0;
    double deadline = cc_now_s() + PROVE_DEADLINE_S;
    int timed_out = 0;
    for (;;) {
        int left_ms = (int)((deadline - cc_now_s()) * 1000.0);
        if (left_ms <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pf, 1, left_ms < 1000 ? left_ms : 1000);
        if (pr < 0 && errno != EINTR) {
            break;
        }
        if (pr <= 0) {
            continue;
        }
        ssize_t n = read(fds[0], line + used, sizeof(line) - 1 - used);
        if (n <= 0) {
            break; /* EOF: the script and everything holding its stdout ended */
        }
        used += (size_t)n;
        line[used] = '\0';
        char *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            take_line(c, &po, line);
            size_t rest = used - (size_t)(nl + 1 - line);
            memmove(line, nl + 1, rest + 1);
            used = rest;
        }
        if (used == sizeof(line) - 1) { /* an over-long line: take it as it is */
            take_line(c, &po, line);
            used = 0;
        }
    }
    close(fds[0]);
    int st = 0, ended = wait_until(pid, &st, timed_out ? cc_now_s() : deadline);
    if (!ended) {
        timed_out = 1;
        kill(-pid, SIGTERM);
        ended = wait_until(pid, &st, cc_now_s() + TERM_GRACE_S);
        if (!ended) {
            kill(-pid, SIGKILL);
            ended = waitpid(pid, &st, 0) == pid;
        }
    }
    int rc = ended && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    char tail[400];
    last_line(errpath, tail, sizeof(tail));
    if (timed_out) {
        cc_fail(c, "prove.sh %s did not finish within %.0f s (stopped; last stderr: %s)", name,
                PROVE_DEADLINE_S, tail);
    } else if (rc == 77 && po.skip[0] != '\0') {
        comp_control_set(c, COMP_VERDICT_NOT_APPLICABLE, "skipped: %s", po.skip);
        cc_ev(c, "skipped: %s", po.skip);
    } else if (rc == 0 && po.fails == 0 && po.pass[0] != '\0') {
        comp_control_set(c, COMP_VERDICT_PASS, "%s", po.pass);
    } else if (po.fails == 0 || rc != 1) {
        cc_fail(c, "%s %s exited %d%s%s", script, name, rc, tail[0] ? ": " : "", tail);
    }
}

void ctl_db_delete(struct ctx *x, struct comp_control *c)
{
    run_prove(x, c, "del");
}

void ctl_db_coverage(struct ctx *x, struct comp_control *c)
{
    run_prove(x, c, "cov");
}

void ctl_db_backup(struct ctx *x, struct comp_control *c)
{
    run_prove(x, c, "bak");
}

void ctl_db_crash(struct ctx *x, struct comp_control *c)
{
    run_prove(x, c, "crash");
}
