/*
 * mountlock.c - BACKING/mount.lock (see mountlock.h).
 */
#include "mountlock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo: undo it in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r != '\0'; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

int cmkfs_is_mounted(const char *path)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL) {
        return 0;
    }
    char line[2 * PATH_MAX + 512];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        /* id parent major:minor root MOUNTPOINT options ... */
        char *save = NULL, *tok = strtok_r(line, " ", &save);
        for (int i = 0; i < 4 && tok != NULL; i++) {
            tok = strtok_r(NULL, " ", &save);
        }
        if (tok != NULL) {
            unescape(tok);
            found = strcmp(tok, path) == 0;
        }
    }
    fclose(f);
    return found;
}

/* The mount point recorded in the lock file (empty if none or unreadable). */
static void recorded(int fd, char *out, size_t max)
{
    ssize_t n = pread(fd, out, max - 1, 0);
    out[n > 0 ? n : 0] = '\0';
}

static unsigned wait_limit_s(void)
{
    const char *v = getenv("CMKFS_LOCK_WAIT_S");
    char *end = NULL;
    unsigned long s = v != NULL ? strtoul(v, &end, 10) : CMKFS_LOCK_WAIT_DEFAULT_S;
    if (v != NULL && (end == v || *end != '\0' || s > 600)) {
        fprintf(stderr, "cmk-fs: ignoring bad CMKFS_LOCK_WAIT_S '%s' (0..600); waiting %d s\n", v,
                CMKFS_LOCK_WAIT_DEFAULT_S);
        s = CMKFS_LOCK_WAIT_DEFAULT_S;
    }
    return (unsigned)s;
}

int cmkfs_mount_lock(const char *dir)
{
    char p[PATH_MAX], held[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s/mount.lock", dir) >= (int)sizeof(p)) {
        fprintf(stderr, "cmk-fs: %s: path too long\n", dir);
        return -1;
    }
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "cmk-fs: %s: %s\n", p, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        recorded(fd, held, sizeof(held));
        /* empty: a daemon still starting (it records its mount point once mounted) */
        if (held[0] == '\0' || cmkfs_is_mounted(held)) {
            fprintf(stderr, "cmk-fs: %s is already mounted%s%s (%s is locked)\n", dir,
                    held[0] != '\0' ? " at " : "", held, p);
            close(fd);
            return -1;
        }
        unsigned limit = wait_limit_s();
        fprintf(stderr,
                "cmk-fs: the cmk-fs of %s (unmounted from %s) is still exiting; waiting up to %u s "
                "for %s\n",
                dir, held, limit, p);
        const struct timespec tick = {0, 50 * 1000 * 1000};
        int got = 0;
        for (unsigned i = 0; i < limit * 20 && !got; i++) {
            nanosleep(&tick, NULL);
            got = flock(fd, LOCK_EX | LOCK_NB) == 0;
        }
        if (!got) {
            fprintf(stderr,
                    "cmk-fs: %s is still locked by the cmk-fs unmounted from %s after %u s; is it "
                    "hung? (%s)\n",
                    dir, held, limit, p);
            close(fd);
            return -1;
        }
    }
    if (ftruncate(fd, 0) != 0) { /* nothing recorded until the mount is up */
        fprintf(stderr, "cmk-fs: %s: %s\n", p, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void cmkfs_mount_record(int fd, const char *mnt)
{
    char real[PATH_MAX];
    const char *rec = realpath(mnt, real) != NULL ? real : mnt;
    size_t len = strlen(rec);
    if (pwrite(fd, rec, len, 0) != (ssize_t)len) {
        /* only costs a later mount its wait: it sees "already mounted" until this daemon exits */
        fprintf(stderr, "cmk-fs: cannot record the mount point in mount.lock: %s\n",
                strerror(errno));
    }
}

void cmkfs_mount_unlock(int fd)
{
    if (fd >= 0) {
        int rc = ftruncate(fd, 0);
        (void)rc; /* the lock's release is what matters; a stale path only costs a wait */
        close(fd);
    }
}
