/*
 * fslib.h - fixtures for cmk-fs tests: a temporary folder with a backing
 * folder, a mount point and an SMK key file; init and mount through the
 * built bin/cmk-fs; unmount on every path (the fixture's teardown, and a
 * Criterion hook after all tests that lazily unmounts anything a crashed
 * test of the same run left under /tmp/cmkfs-test-<runner pid>-*; other runs'
 * mounts are left alone).
 */
#ifndef FSLIB_H
#define FSLIB_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The contents cipher a suite runs under. The suites that must hold in both
 * ciphers are built twice from one source (fs/fs.mk): as is (XTS), and with
 * -DFSX_GCM (GCM), whose suites are named with a _gcm suffix.
 */
#ifdef FSX_GCM
#define FSX_MODE     "gcm"
#define FSX_SUITE(s) s##_gcm
#else
#define FSX_MODE     "xts"
#define FSX_SUITE(s) s
#endif
#define FSX_INIT_MODE "--mode " FSX_MODE " " /* init options that pick FSX_MODE */

struct fsx {
    char root[128];     /* /tmp/cmkfs-test-<runner pid>-XXXXXX */
    char back[256];     /* root/back */
    char mnt[256];      /* root/mnt */
    char key[256];      /* root/smk.key */
    char err[256];      /* root/err: stderr of the last fsx_run */
    char keyopts[1024]; /* the key options init and mount get */
};

/* fsx_make creates the folders (no init, no mount); sets CMK_ANCHOR_DIR under root. */
void fsx_make(struct fsx *x);
/* fsx_run runs a shell command (printf format), stderr to x->err; returns its exit code. */
int fsx_run(struct fsx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fsx_err returns the stderr text of the last fsx_run (static buffer). */
const char *fsx_err(struct fsx *x);
/* fsx_init_mount: init (extra init options) and mount (extra mount options); asserts success. */
void fsx_init_mount(struct fsx *x, const char *init_opts, const char *mount_opts);
/* fsx_mounted returns 1 when |mnt| is a mount point now (/proc/self/mountinfo). */
int fsx_mounted(const char *mnt);
/* fsx_unmount unmounts (fusermount3 -u, then -uz as the last resort), then waits for the
 * daemon to release BACKING/mount.lock, so that a mount right after it is not refused. */
void fsx_unmount(struct fsx *x);
/* fsx_wait_released waits (at most 60 s, then fails the test) until BACKING/mount.lock is free. */
void fsx_wait_released(struct fsx *x);
/* fsx_cleanup unmounts and removes the folder. */
void fsx_cleanup(struct fsx *x);
/* fsx_path writes mnt/name (or back/files/name when |backing|) into a static ring of buffers. */
const char *fsx_path(struct fsx *x, const char *name, int backing);

#endif /* FSLIB_H */
