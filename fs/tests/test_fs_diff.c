/*
 * test_fs_diff.c - randomized differential test: the same mixed operations
 * (pwrite, O_APPEND write, truncate, ftruncate, fallocate, rename, unlink
 * while open, read, fsync) on several files in a cmk-fs mount and in a
 * plain reference folder, compared byte for byte: every read, every size,
 * and all contents every 250 operations, after a remount halfway, and at
 * the end; at unit sizes 4096 (6000 operations), 512 and 65536, and in
 * passthrough mode (3000 each). Offsets and sizes cluster at unit edges half of the time.
 * Built twice: XTS (fs_test_fs_diff) and GCM (fs_test_fs_diff_gcm, -DFSX_GCM: fslib.h;
 * no passthrough run there). Fixed seed (printed), so a failure replays exactly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fslib.h"
#include "testutil.h"

#define NFILES 6
#define OPS    6000
#define MAXOFF 100000U
#define MAXLEN 40000U
#define SEED   20261207ULL

/* The suite's name: fs_diff, or fs_diff_gcm when built with -DFSX_GCM (fslib.h). */
#define fs_diff FSX_SUITE(fs_diff)

static struct fsx x;
static char ref[256];

static void setup(void)
{
    fsx_make(&x);
    snprintf(ref, sizeof(ref), "%s/ref", x.root);
    cr_assert_eq(mkdir(ref, 0755), 0);
}

static void teardown(void)
{
    fsx_cleanup(&x);
}

TestSuite(fs_diff, .init = setup, .fini = teardown, .timeout = 300);

struct pair {
    int m; /* fd in the mount, -1 when the file does not exist */
    int r; /* fd in the reference folder */
};

static const char *name(int side, int i)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    char f[16];
    snprintf(f, sizeof(f), "f%d", i);
    if (side == 0) {
        snprintf(p, 512, "%s", fsx_path(&x, f, 0));
    } else {
        snprintf(p, 512, "%s/%s", ref, f);
    }
    return p;
}

static void open_pair(struct pair *p, int i, int flags)
{
    p->m = open(name(0, i), O_RDWR | flags, 0644);
    p->r = open(name(1, i), O_RDWR | flags, 0644);
    cr_assert((p->m >= 0) == (p->r >= 0), "open f%d: mount %d ref %d (%s)", i, p->m, p->r,
              strerror(errno));
}

static void close_pair(struct pair *p)
{
    if (p->m >= 0) {
        close(p->m);
        close(p->r);
    }
    p->m = p->r = -1;
}

static void same_size(const struct pair *p, int i, long op)
{
    struct stat a, b;
    cr_assert_eq(fstat(p->m, &a), 0);
    cr_assert_eq(fstat(p->r, &b), 0);
    cr_assert_eq(a.st_size, b.st_size, "op %ld f%d: size %lld, reference %lld (seed %llu)", op, i,
                 (long long)a.st_size, (long long)b.st_size, SEED);
}

static void compare_range(const struct pair *p, int i, off_t off, size_t len, long op)
{
    static uint8_t a[MAXLEN + 16], b[MAXLEN + 16];
    ssize_t ra = pread(p->m, a, len, off);
    ssize_t rb = pread(p->r, b, len, off);
    cr_assert_eq(ra, rb, "op %ld f%d: read %zu at %lld: %zd, reference %zd (seed %llu)", op, i, len,
                 (long long)off, ra, rb, SEED);
    for (ssize_t k = 0; k < ra; k++) {
        cr_assert_eq(a[k], b[k], "op %ld f%d: byte %lld: %02x, reference %02x (seed %llu)", op, i,
                     (long long)(off + k), a[k], b[k], SEED);
    }
}

static void compare_all(struct pair *ps, long op)
{
    for (int i = 0; i < NFILES; i++) {
        cr_assert_eq(access(name(0, i), F_OK) == 0, access(name(1, i), F_OK) == 0,
                     "op %ld: f%d exists in one tree only", op, i);
        if (ps[i].m < 0) {
            continue;
        }
        same_size(&ps[i], i, op);
        struct stat st;
        fstat(ps[i].r, &st);
        for (off_t off = 0; off < st.st_size; off += MAXLEN) {
            compare_range(&ps[i], i, off, MAXLEN, op);
        }
    }
}

/*
 * An offset or size: half of them at a 4 KiB unit edge, or up to 16 bytes
 * after or before one (where units are rewritten and tails are short).
 */
static size_t pick(struct tu_rng *r, size_t max)
{
    size_t v = tu_rng_range(r, 0, max);
    size_t edge = v / 4096 * 4096;
    switch (tu_rng_range(r, 0, 5)) {
        case 0:
            return edge;
        case 1:
            return edge + tu_rng_range(r, 1, 16);
        case 2:
            return edge >= 16 ? edge - tu_rng_range(r, 1, 16) : edge;
        default:
            return v;
    }
}

/* A new size for a file of |cur| bytes: half of them at or next to the unit edge at or after cur.
 */
static size_t pick_size(struct tu_rng *r, int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    size_t cur = (size_t)st.st_size;
    if (tu_rng_range(r, 0, 1) == 0) {
        return pick(r, 3 * MAXLEN);
    }
    size_t edge = (cur + tu_rng_range(r, 0, 4095)) / 4096 * 4096;
    size_t d = tu_rng_range(r, 0, 16);
    return tu_rng_range(r, 0, 1) == 0 || edge < d ? edge + d : edge - d;
}

/* Runs |ops| operations on a backing made with |init_opts|, mounted with |mount_opts|. */
static void run_diff(const char *what, const char *init_opts, const char *mount_opts, long ops)
{
    fprintf(stderr, "fs_diff %s: seed %llu, %ld operations on %d files\n", what, SEED, ops, NFILES);
    fsx_init_mount(&x, init_opts, mount_opts);
    struct tu_rng r;
    tu_rng_seed(&r, SEED);
    struct pair ps[NFILES];
    for (int i = 0; i < NFILES; i++) {
        ps[i].m = ps[i].r = -1;
    }
    static uint8_t buf[MAXLEN];
    long counts[10] = {0};
    for (long op = 0; op < ops; op++) {
        int i = (int)tu_rng_range(&r, 0, NFILES - 1);
        struct pair *p = &ps[i];
        if (p->m < 0) {
            open_pair(p, i, O_CREAT);
        }
        size_t kind = tu_rng_range(&r, 0, 99);
        size_t off = pick(&r, MAXOFF);
        size_t len = tu_rng_range(&r, 1, tu_rng_range(&r, 0, 3) == 0 ? MAXLEN : 64);
        if (kind < 35) { /* pwrite */
            tu_rng_fill(&r, buf, len);
            cr_assert_eq(pwrite(p->m, buf, len, (off_t)off), (ssize_t)len, "op %ld", op);
            cr_assert_eq(pwrite(p->r, buf, len, (off_t)off), (ssize_t)len);
            counts[0]++;
        } else if (kind < 40) { /* append through an O_APPEND handle */
            struct pair a;
            open_pair(&a, i, O_APPEND);
            tu_rng_fill(&r, buf, len);
            cr_assert_eq(write(a.m, buf, len), (ssize_t)len, "op %ld", op);
            cr_assert_eq(write(a.r, buf, len), (ssize_t)len);
            close_pair(&a);
            counts[1]++;
        } else if (kind < 48) { /* ftruncate */
            size_t to = pick_size(&r, p->r);
            cr_assert_eq(ftruncate(p->m, (off_t)to), 0, "op %ld", op);
            cr_assert_eq(ftruncate(p->r, (off_t)to), 0);
            compare_range(p, i, (off_t)(to > 20 ? to - 20 : 0), 40, op);
            counts[2]++;
        } else if (kind < 52) { /* truncate by path */
            size_t to = pick_size(&r, p->r);
            cr_assert_eq(truncate(name(0, i), (off_t)to), 0, "op %ld", op);
            cr_assert_eq(truncate(name(1, i), (off_t)to), 0);
            counts[3]++;
        } else if (kind < 55) { /* fallocate mode 0 */
            cr_assert_eq(posix_fallocate(p->m, (off_t)off, (off_t)len), 0, "op %ld", op);
            cr_assert_eq(posix_fallocate(p->r, (off_t)off, (off_t)len), 0);
            counts[4]++;
        } else if (kind < 60) { /* rename over another file (its handles stay open) */
            int j = (int)tu_rng_range(&r, 0, NFILES - 1);
            if (j != i) {
                cr_assert_eq(rename(name(0, i), name(0, j)), 0, "op %ld", op);
                cr_assert_eq(rename(name(1, i), name(1, j)), 0);
                close_pair(&ps[j]);
                ps[j] = *p;
                p->m = p->r = -1;
                i = j;
                p = &ps[j];
            }
            counts[5]++;
        } else if (kind < 63) { /* unlink while open: write and read the orphan, then close */
            cr_assert_eq(unlink(name(0, i)), 0, "op %ld", op);
            cr_assert_eq(unlink(name(1, i)), 0);
            tu_rng_fill(&r, buf, len);
            cr_assert_eq(pwrite(p->m, buf, len, (off_t)off), (ssize_t)len, "op %ld", op);
            cr_assert_eq(pwrite(p->r, buf, len, (off_t)off), (ssize_t)len);
            same_size(p, i, op);
            compare_range(p, i, (off_t)off, len, op);
            close_pair(p);
            counts[6]++;
            continue;
        } else if (kind < 65) { /* fsync / fdatasync */
            cr_assert_eq(kind == 63 ? fsync(p->m) : fdatasync(p->m), 0, "op %ld", op);
            counts[7]++;
        } else { /* read */
            compare_range(p, i, (off_t)off, len, op);
            counts[8]++;
        }
        same_size(p, i, op);
        if (op % 250 == 249) {
            compare_all(ps, op);
        }
        if (op == ops / 2) { /* remount: everything persists through the on-disk format */
            for (int k = 0; k < NFILES; k++) {
                close_pair(&ps[k]);
            }
            fsx_unmount(&x);
            cr_assert(!fsx_mounted(x.mnt));
            int rc = fsx_run(&x, "%s mount %s %s %s", CMKFS_BIN, x.back, x.mnt, mount_opts);
            cr_assert_eq(rc, 0, "remount: %s", fsx_err(&x));
            for (int k = 0; k < NFILES; k++) {
                if (access(name(1, k), F_OK) == 0) {
                    open_pair(&ps[k], k, 0);
                }
            }
            compare_all(ps, op);
        }
    }
    compare_all(ps, ops);
    fprintf(stderr,
            "fs_diff %s: pwrite %ld, append %ld, ftruncate %ld, truncate %ld, fallocate %ld, "
            "rename %ld, unlink-open %ld, fsync %ld, read %ld\n",
            what, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
            counts[7], counts[8]);
    for (int k = 0; k < NFILES; k++) {
        close_pair(&ps[k]);
    }
}

Test(fs_diff, mount_matches_a_plain_folder)
{
    char init[1200];
    snprintf(init, sizeof(init), FSX_INIT_MODE "%s", x.keyopts);
    run_diff(FSX_MODE " 4096", init, x.keyopts, OPS);
}

Test(fs_diff, unit_size_512)
{
    char init[1200];
    snprintf(init, sizeof(init), FSX_INIT_MODE "%s --unit-size 512", x.keyopts);
    run_diff(FSX_MODE " 512", init, x.keyopts, OPS / 2);
}

Test(fs_diff, unit_size_65536)
{
    char init[1200];
    snprintf(init, sizeof(init), FSX_INIT_MODE "%s --unit-size 65536", x.keyopts);
    run_diff(FSX_MODE " 65536", init, x.keyopts, OPS / 2);
}

#ifndef FSX_GCM /* no cipher: once is enough */
Test(fs_diff, passthrough)
{
    run_diff("passthrough", "--passthrough", "--passthrough", OPS / 2);
}
#endif
