/*
 * fslib.c - fixtures for the cmk-fs tests (see fslib.h).
 */
#include "fslib.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mountlock.h"

void fsx_make(struct fsx *x)
{
    memset(x, 0, sizeof(*x));
    /* the runner's pid in the name: its POST_ALL hook cleans up only its own tests' mounts */
    const char *run = getenv("CMKFS_TEST_RUN");
    snprintf(x->root, sizeof(x->root), "/tmp/cmkfs-test-%s-XXXXXX", run != NULL ? run : "0");
    cr_assert_not_null(mkdtemp(x->root));
    snprintf(x->back, sizeof(x->back), "%s/back", x->root);
    snprintf(x->mnt, sizeof(x->mnt), "%s/mnt", x->root);
    snprintf(x->key, sizeof(x->key), "%s/smk.key", x->root);
    snprintf(x->err, sizeof(x->err), "%s/err", x->root);
    snprintf(x->keyopts, sizeof(x->keyopts), "--key-file %s", x->key);
    cr_assert_eq(mkdir(x->mnt, 0755), 0);
    char anchors[256];
    snprintf(anchors, sizeof(anchors), "%s/anchors", x->root);
    setenv("CMK_ANCHOR_DIR", anchors, 1);
}

int fsx_run(struct fsx *x, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd) - 300, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && n < (int)sizeof(cmd) - 300);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, " 2>%s", x->err);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

const char *fsx_err(struct fsx *x)
{
    static char buf[8192];
    buf[0] = '\0';
    FILE *f = fopen(x->err, "r");
    if (f != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

void fsx_init_mount(struct fsx *x, const char *init_opts, const char *mount_opts)
{
    int rc = fsx_run(x, "%s init %s %s >/dev/null", CMKFS_BIN, x->back, init_opts);
    cr_assert_eq(rc, 0, "init: %d %s", rc, fsx_err(x));
    rc = fsx_run(x, "%s mount %s %s %s", CMKFS_BIN, x->back, x->mnt, mount_opts);
    cr_assert_eq(rc, 0, "mount: %d %s", rc, fsx_err(x));
    cr_assert(fsx_mounted(x->mnt), "mount returned 0 but %s is not mounted", x->mnt);
}

int fsx_mounted(const char *mnt)
{
    return cmkfs_is_mounted(mnt);
}

void fsx_unmount(struct fsx *x)
{
    if (x->mnt[0] == '\0' || !fsx_mounted(x->mnt)) {
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "fusermount3 -u %s 2>/dev/null || fusermount3 -uz %s", x->mnt,
             x->mnt);
    int rc = system(cmd);
    (void)rc;
    fsx_wait_released(x);
}

/*
 * The kernel is done with the mount when fusermount3 returns, but the daemon still holds
 * BACKING/mount.lock while it writes back and wipes its keys, and a mount started before it
 * exits is refused ("already mounted"). Wait for the daemon's exit: the lock's release.
 */
void fsx_wait_released(struct fsx *x)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/mount.lock", x->back);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return; /* never mounted */
    }
    const struct timespec tick = {0, 20 * 1000 * 1000};
    int got = 0;
    for (int i = 0; i < 3000 && !got; i++) { /* 60 s: a daemon that takes longer is hung */
        got = flock(fd, LOCK_EX | LOCK_NB) == 0;
        if (!got) {
            nanosleep(&tick, NULL);
        }
    }
    close(fd);
    cr_assert(got, "the cmk-fs daemon of %s still holds %s after 60 s", x->mnt, p);
}

void fsx_cleanup(struct fsx *x)
{
    if (x->root[0] == '\0') {
        return;
    }
    fsx_unmount(x);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", x->root);
    int rc = system(cmd);
    (void)rc;
    x->root[0] = '\0';
}

const char *fsx_path(struct fsx *x, const char *name, int backing)
{
    static char ring[8][512];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, 512, "%s/%s%s", backing ? x->back : x->mnt, backing ? "files/" : "", name);
    return p;
}

/* Before all tests, in the runner: name this run, so that test folders carry its pid. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    char run[32];
    snprintf(run, sizeof(run), "%ld", (long)getpid());
    setenv("CMKFS_TEST_RUN", run, 1);
}

/*
 * After all tests, in the runner: unmount what a crashed test of THIS run left behind (lazily).
 * Mounts of other runs (another make test on the same machine) are not touched.
 */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    char prefix[64];
    int plen = snprintf(prefix, sizeof(prefix), "/tmp/cmkfs-test-%ld-", (long)getpid());
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (f == NULL) {
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line;
        for (int i = 0; i < 4 && p != NULL; i++) {
            p = strchr(p, ' ');
            p = p != NULL ? p + 1 : NULL;
        }
        if (p != NULL && strncmp(p, prefix, (size_t)plen) == 0) {
            char *end = strchr(p, ' ');
            if (end != NULL) {
                *end = '\0';
                char cmd[4200];
                snprintf(cmd, sizeof(cmd), "fusermount3 -uz %s 2>/dev/null", p);
                int rc = system(cmd);
                (void)rc;
            }
        }
    }
    fclose(f);
}
