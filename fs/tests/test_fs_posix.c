/*
 * test_fs_posix.c - the POSIX semantics PostgreSQL relies on, each against
 * a real cmk-fs mount (SMK key file) of a temporary backing folder, under
 * XTS (fs_test_fs_posix) and GCM (fs_test_fs_posix_gcm, the same source
 * built with -DFSX_GCM: see fslib.h):
 * reads and writes at any offset and length, sparse files, truncate up and
 * down, fsync/fdatasync/fsyncdir by handle, atomic rename, unlink while
 * open, fallocate, O_DIRECT, statfs/chmod/chown/utimens, the caller's
 * owner on new files, concurrent readers and writers on one file; and the
 * command line: passthrough and encrypted backings are not mixed up, the
 * backing holds no plaintext, -f mode unmounts on SIGTERM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fslib.h"
#include "testutil.h"

/* The suite's name: fs_posix, or fs_posix_gcm when built with -DFSX_GCM. */
#define fs_posix FSX_SUITE(fs_posix)

static struct fsx x;

static void setup(void)
{
    fsx_make(&x);
    char init[1200];
    snprintf(init, sizeof(init), FSX_INIT_MODE "%s", x.keyopts);
    fsx_init_mount(&x, init, x.keyopts);
}

static void teardown(void)
{
    fsx_cleanup(&x);
}

TestSuite(fs_posix, .init = setup, .fini = teardown, .timeout = 120);

static int open_in(const char *name, int flags)
{
    int fd = open(fsx_path(&x, name, 0), flags, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", name, strerror(errno));
    return fd;
}

static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    cr_assert_eq(pwrite(fd, buf, len, off), (ssize_t)len, "pwrite %zu at %lld: %s", len,
                 (long long)off, strerror(errno));
}

static void expect_content(int fd, const uint8_t *want, size_t len)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((size_t)st.st_size, len, "size %lld, want %zu", (long long)st.st_size, len);
    uint8_t *got = malloc(len + 1);
    cr_assert_not_null(got);
    ssize_t r = pread(fd, got, len + 1, 0);
    cr_assert_eq(r, (ssize_t)len, "read %zd of %zu", r, len);
    for (size_t i = 0; i < len; i++) {
        cr_assert_eq(got[i], want[i], "byte %zu: %02x, want %02x", i, got[i], want[i]);
    }
    free(got);
}

/* pread of |len| bytes at |off| gives what |model| (a file of |size| bytes) holds there. */
static void expect_read(int fd, uint8_t *buf, size_t len, size_t off, const uint8_t *model,
                        size_t size)
{
    size_t want = off >= size ? 0 : (size - off < len ? size - off : len);
    cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)want, "read %zu at %zu", len, off);
    cr_assert_eq(memcmp(buf, model + off, want), 0, "read %zu at %zu", len, off);
}

/* Closes |fd|; a fresh open of |name| (a new handle, the key derived again) reads |model|. */
static void expect_reopened(int fd, const char *name, const uint8_t *model, size_t size)
{
    close(fd);
    fd = open_in(name, O_RDONLY);
    expect_content(fd, model, size);
    close(fd);
}

/* Writes at offsets and lengths around unit edges (and tails under 16 bytes), against a model. */
Test(fs_posix, read_write_any_offset_and_length)
{
    static const size_t sizes[] = {1, 5, 15, 16, 17, 100, 4095, 4096, 4097, 8191, 12289, 70000};
    static const off_t offs[] = {0, 1, 15, 4090, 4095, 4096, 4097, 8000, 12288, 65535};
    struct tu_rng r;
    tu_rng_seed(&r, 15);
    size_t cap = 65535 + 70000;
    uint8_t *model = calloc(1, cap);
    uint8_t *buf = malloc(70000);
    size_t size = 0;
    int fd = open_in("rw", O_RDWR | O_CREAT);
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
            tu_rng_fill(&r, buf, sizes[j]);
            pwrite_all(fd, buf, sizes[j], offs[i]);
            memcpy(model + offs[i], buf, sizes[j]);
            size = (size_t)offs[i] + sizes[j] > size ? (size_t)offs[i] + sizes[j] : size;
            expect_content(fd, model, size);
        }
    }
    /* reads at any offset and length, and past the end */
    for (size_t i = 0; i < 200; i++) {
        size_t off = tu_rng_range(&r, 0, size + 10);
        expect_read(fd, buf, tu_rng_range(&r, 0, 20000), off, model, size);
    }
    expect_reopened(fd, "rw", model, size);
    free(model);
    free(buf);
}

/*
 * Unit-aligned reads and writes take a path of their own (straight into and out of the
 * caller's buffer); each is read back through the other path (unaligned), and the other way
 * round, so a wrong tweak or offset on either path shows. The 1 MiB read into a buffer that
 * is not page-aligned is what fio does: the kernel cuts it into 1 MiB - 16 and 16 bytes.
 */
Test(fs_posix, aligned_and_unaligned_paths_agree)
{
    enum { U = 4096, CAP = (1 << 20) + 3 * U };
    struct tu_rng r;
    tu_rng_seed(&r, 16);
    uint8_t *model = calloc(1, CAP);
    uint8_t *raw = malloc(CAP + 64);
    cr_assert(model != NULL && raw != NULL);
    uint8_t *buf = raw + 16; /* not page-aligned, as fio's buffers */
    int fd = open_in("aligned", O_RDWR | O_CREAT);
    /* aligned writes: whole units, then a new end in the middle of a unit */
    tu_rng_fill(&r, model, CAP);
    pwrite_all(fd, model, 1 << 20, 0);
    pwrite_all(fd, model + (1 << 20), 2 * U + 100, 1 << 20);
    size_t size = (1 << 20) + 2 * U + 100;
    expect_content(fd, model, size);
    /* unaligned reads of what the aligned writes wrote */
    static const size_t offs[] = {1, 15, U - 1, U + 17, (1 << 20) - 16, (1 << 20) + U + 50};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        expect_read(fd, buf, 3 * U, offs[i], model, size);
    }
    /* unaligned writes, read back by aligned reads (whole units, and a partial last one) */
    for (size_t i = 0; i < 4; i++) {
        size_t off = tu_rng_range(&r, 1, size - 2 * U) | 1U, len = tu_rng_range(&r, 1, 2 * U);
        tu_rng_fill(&r, model + off, len);
        pwrite_all(fd, model + off, len, (off_t)off);
    }
    static const size_t lens[] = {U, 2 * U, 2 * U + 1, 3 * U - 1, (1 << 20) - 16, 1 << 20};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (size_t at = 0; at < size; at += 64 * U) {
            expect_read(fd, buf, lens[i], at, model, size);
        }
    }
    /* the file's short last unit through the aligned path: from its start, and a read past it */
    expect_read(fd, buf, 2 * U, size / U * U, model, size);
    /* an aligned whole-unit overwrite in the middle keeps both neighbours; an aligned one
       that ends inside a unit keeps that unit's old bytes after it */
    tu_rng_fill(&r, model + 8 * U, U);
    pwrite_all(fd, model + 8 * U, U, 8 * U);
    tu_rng_fill(&r, model + 12 * U, 2 * U + 100);
    pwrite_all(fd, model + 12 * U, 2 * U + 100, 12 * U);
    expect_reopened(fd, "aligned", model, size);
    free(raw);
    free(model);
}

/* Small files: every length 0..40 (tails under 16 bytes are not XTS units). */
Test(fs_posix, small_files_every_length)
{
    uint8_t buf[40];
    for (size_t len = 0; len <= sizeof(buf); len++) {
        char name[32];
        snprintf(name, sizeof(name), "small%zu", len);
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)(len * 7 + i); /* zero bytes included */
        }
        int fd = open_in(name, O_RDWR | O_CREAT);
        if (len > 0) {
            pwrite_all(fd, buf, len, 0);
        }
        close(fd);
        fd = open_in(name, O_RDONLY);
        expect_content(fd, buf, len);
        close(fd);
    }
}

Test(fs_posix, sparse_files_read_zeros)
{
    int fd = open_in("sparse", O_RDWR | O_CREAT);
    uint8_t data[100];
    memset(data, 0xab, sizeof(data));
    pwrite_all(fd, data, sizeof(data), 10 << 20);
    uint8_t *want = calloc(1, (10 << 20) + sizeof(data));
    memcpy(want + (10 << 20), data, sizeof(data));
    expect_content(fd, want, (10 << 20) + sizeof(data));
    close(fd);
    /* the backing file is sparse: the hole was never written */
    struct stat st;
    cr_assert_eq(stat(fsx_path(&x, "sparse", 1), &st), 0);
    cr_assert_lt(st.st_blocks * 512, 1 << 20, "backing has %lld blocks", (long long)st.st_blocks);
    free(want);
}

Test(fs_posix, truncate_and_ftruncate_up_and_down)
{
    struct tu_rng r;
    tu_rng_seed(&r, 2);
    static const off_t steps[] = {10000, 4096, 4097, 3, 0, 20000, 8192, 8200, 5, 100000, 4111};
    uint8_t *model = calloc(1, 200000);
    uint8_t *buf = malloc(10000);
    tu_rng_fill(&r, buf, 10000);
    int fd = open_in("trunc", O_RDWR | O_CREAT);
    pwrite_all(fd, buf, 10000, 0);
    memcpy(model, buf, 10000);
    size_t size = 10000;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        off_t to = steps[i];
        if (i % 2 == 0) {
            cr_assert_eq(ftruncate(fd, to), 0, "ftruncate %lld: %s", (long long)to,
                         strerror(errno));
        } else {
            cr_assert_eq(truncate(fsx_path(&x, "trunc", 0), to), 0, "truncate %lld", (long long)to);
        }
        if ((size_t)to < size) {
            memset(model + to, 0, size - (size_t)to);
        }
        size = (size_t)to;
        expect_content(fd, model, size);
        /* and a write after each step, at the new end and inside */
        tu_rng_fill(&r, buf, 300);
        pwrite_all(fd, buf, 300, (off_t)size / 2);
        memcpy(model + size / 2, buf, 300);
        size = size / 2 + 300 > size ? size / 2 + 300 : size;
        expect_content(fd, model, size);
    }
    close(fd);
    /* O_TRUNC */
    fd = open_in("trunc", O_RDWR | O_TRUNC);
    expect_content(fd, model, 0);
    close(fd);
    free(model);
    free(buf);
}

Test(fs_posix, fsync_fdatasync_fsyncdir_by_handle)
{
    cr_assert_eq(mkdir(fsx_path(&x, "d", 0), 0755), 0);
    int fd = open_in("d/f", O_RDWR | O_CREAT);
    pwrite_all(fd, "x", 1, 0);
    cr_assert_eq(fsync(fd), 0, "fsync: %s", strerror(errno));
    cr_assert_eq(fdatasync(fd), 0, "fdatasync: %s", strerror(errno));
    int dfd = open(fsx_path(&x, "d", 0), O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
    cr_assert_eq(fsync(dfd), 0, "fsync of a directory: %s", strerror(errno));
    cr_assert_eq(fdatasync(dfd), 0, "fdatasync of a directory: %s", strerror(errno));
    /* by handle only: the file and the folder are gone from the tree (path NULL) */
    cr_assert_eq(unlink(fsx_path(&x, "d/f", 0)), 0);
    cr_assert_eq(fsync(fd), 0, "fsync of an unlinked file: %s", strerror(errno));
    cr_assert_eq(rmdir(fsx_path(&x, "d", 0)), 0);
    cr_assert_eq(fsync(dfd), 0, "fsync of a removed directory: %s", strerror(errno));
    close(dfd);
    close(fd);
}

Test(fs_posix, rename_is_atomic_and_moves_the_header)
{
    uint8_t a[9000], b[5000];
    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    int fa = open_in("a", O_RDWR | O_CREAT);
    pwrite_all(fa, a, sizeof(a), 0);
    int fb = open_in("b", O_RDWR | O_CREAT);
    pwrite_all(fb, b, sizeof(b), 0);
    close(fb);
    int old_b = open_in("b", O_RDONLY); /* keeps the replaced file open */
    cr_assert_eq(rename(fsx_path(&x, "a", 0), fsx_path(&x, "b", 0)), 0);
    cr_assert_eq(access(fsx_path(&x, "a", 0), F_OK), -1);
    cr_assert_eq(errno, ENOENT);
    int nb = open_in("b", O_RDONLY);
    expect_content(nb, a, sizeof(a)); /* decrypts: its key came along in its header */
    expect_content(old_b, b, sizeof(b));
    expect_content(fa, a, sizeof(a)); /* the renamed file's open handle still works */
    pwrite_all(fa, "Z", 1, 0);
    a[0] = 'Z';
    expect_content(nb, a, sizeof(a));
    close(nb);
    close(old_b);
    close(fa);
    /* into another directory */
    cr_assert_eq(mkdir(fsx_path(&x, "sub", 0), 0700), 0);
    cr_assert_eq(rename(fsx_path(&x, "b", 0), fsx_path(&x, "sub/c", 0)), 0);
    nb = open_in("sub/c", O_RDONLY);
    expect_content(nb, a, sizeof(a));
    close(nb);
}

Test(fs_posix, unlink_while_open)
{
    uint8_t buf[6000];
    memset(buf, 'u', sizeof(buf));
    int fd = open_in("gone", O_RDWR | O_CREAT);
    pwrite_all(fd, buf, 5000, 0);
    cr_assert_eq(unlink(fsx_path(&x, "gone", 0)), 0);
    cr_assert_eq(access(fsx_path(&x, "gone", 1), F_OK), -1, "backing file still there");
    pwrite_all(fd, buf + 5000, 1000, 5000);
    expect_content(fd, buf, sizeof(buf));
    cr_assert_eq(ftruncate(fd, 100), 0);
    expect_content(fd, buf, 100);
    close(fd);
}

Test(fs_posix, fallocate_mode_0)
{
    int fd = open_in("fa", O_RDWR | O_CREAT);
    pwrite_all(fd, "0123456789", 10, 0);
    cr_assert_eq(posix_fallocate(fd, 0, 1 << 20), 0);
    uint8_t *want = calloc(1, 1 << 20);
    memcpy(want, "0123456789", 10);
    expect_content(fd, want, 1 << 20);
    /* inside the file: size and data unchanged */
    cr_assert_eq(fallocate(fd, 0, 4000, 100), 0, "%s", strerror(errno));
    expect_content(fd, want, 1 << 20);
    /* other modes are refused, not faked */
    cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), -1);
    cr_assert_eq(errno, EOPNOTSUPP);
    close(fd);
    free(want);
}

Test(fs_posix, o_direct_opens_are_accepted)
{
    void *buf = NULL;
    cr_assert_eq(posix_memalign(&buf, 4096, 8192), 0);
    memset(buf, 'd', 8192);
    int fd = open_in("direct", O_RDWR | O_CREAT | O_DIRECT);
    cr_assert_eq(pwrite(fd, buf, 8192, 0), 8192, "%s", strerror(errno));
    memset(buf, 0, 8192);
    cr_assert_eq(pread(fd, buf, 8192, 0), 8192);
    cr_assert_eq(((uint8_t *)buf)[8191], 'd');
    close(fd);
    free(buf);
}

Test(fs_posix, statfs_chmod_chown_utimens)
{
    struct statvfs sv;
    cr_assert_eq(statvfs(x.mnt, &sv), 0);
    struct statvfs bv;
    cr_assert_eq(statvfs(x.back, &bv), 0);
    cr_assert_eq(sv.f_blocks * sv.f_frsize, bv.f_blocks * bv.f_frsize, "statfs is the backing's");
    int fd = open_in("meta", O_RDWR | O_CREAT);
    const char *m = fsx_path(&x, "meta", 0);
    const char *b = fsx_path(&x, "meta", 1);
    cr_assert_eq(chmod(m, 0640), 0);
    cr_assert_eq(fchmod(fd, 0604), 0);
    cr_assert_eq(chown(m, 12345, 23456), 0);
    struct stat st, bs;
    cr_assert_eq(stat(m, &st), 0);
    cr_assert_eq(stat(b, &bs), 0);
    cr_assert_eq(st.st_mode & 07777, 0604);
    cr_assert_eq(st.st_uid, 12345);
    cr_assert_eq(st.st_gid, 23456);
    cr_assert_eq(bs.st_uid, 12345, "the backing file mirrors the owner");
    cr_assert_eq(fchown(fd, 0, 0), 0);
    struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 5}, {.tv_sec = 1200000000}};
    cr_assert_eq(utimensat(AT_FDCWD, m, ts, 0), 0);
    cr_assert_eq(stat(m, &st), 0);
    cr_assert_eq(st.st_mtime, 1200000000);
    cr_assert_eq(st.st_atime, 1000000000);
    ts[1].tv_sec = 1300000000;
    cr_assert_eq(futimens(fd, ts), 0);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_mtime, 1300000000);
    close(fd);
}

/* Files and folders a non-root caller makes get the caller's owner, in the mount and the backing.
 */
Test(fs_posix, new_files_get_the_callers_owner)
{
    cr_assert_eq(chmod(x.root, 0755), 0); /* mkdtemp made it 0700 */
    cr_assert_eq(chmod(x.mnt, 0777), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (setgid(4321) != 0 || setuid(1234) != 0) {
            _exit(10);
        }
        int fd = open(fsx_path(&x, "mine", 0), O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, "pg", 2) != 2 || close(fd) != 0) {
            _exit(11);
        }
        if (mkdir(fsx_path(&x, "mydir", 0), 0700) != 0 ||
            symlink("mine", fsx_path(&x, "mylink", 0)) != 0) {
            _exit(12);
        }
        _exit(0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: %d", WEXITSTATUS(st));
    static const char *const names[] = {"mine", "mydir", "mylink"};
    for (size_t i = 0; i < 3; i++) {
        struct stat ms, bs;
        cr_assert_eq(lstat(fsx_path(&x, names[i], 0), &ms), 0);
        cr_assert_eq(lstat(fsx_path(&x, names[i], 1), &bs), 0);
        cr_assert_eq(ms.st_uid, 1234, "%s uid %u", names[i], ms.st_uid);
        cr_assert_eq(ms.st_gid, 4321, "%s gid %u", names[i], ms.st_gid);
        cr_assert_eq(bs.st_uid, 1234, "backing %s uid %u", names[i], bs.st_uid);
        cr_assert_eq(bs.st_gid, 4321);
    }
    /* default_permissions: another user cannot read the 0600 file */
    pid = fork();
    if (pid == 0) {
        if (setuid(5555) != 0) {
            _exit(10);
        }
        int fd = open(fsx_path(&x, "mine", 0), O_RDONLY);
        _exit(fd < 0 && errno == EACCES ? 0 : 13);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "other user: %d", WEXITSTATUS(st));
}

/* Concurrent writers of unaligned records sharing units, and readers, on one file. */
#define REC     1000U
#define NREC    400U
#define WRITERS 4U

struct worker {
    int fd;
    unsigned id;
    int bad;
};

static void record(unsigned i, uint8_t *out)
{
    for (unsigned k = 0; k < REC; k++) {
        out[k] = (uint8_t)(i * 31U + k * 7U + 1U) | 1U; /* never 0 */
    }
}

static void *writer(void *arg)
{
    struct worker *w = arg;
    uint8_t buf[REC];
    for (unsigned i = w->id; i < NREC; i += WRITERS) {
        record(i, buf);
        if (pwrite(w->fd, buf, REC, (off_t)i * REC) != (ssize_t)REC) {
            w->bad = 1;
        }
    }
    return NULL;
}

/* A reader sees each record whole or not yet written (zeros), never torn. */
static void *reader(void *arg)
{
    struct worker *w = arg;
    uint8_t got[REC], want[REC], zero[REC] = {0};
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < NREC; i++) {
            ssize_t r = pread(w->fd, got, REC, (off_t)i * REC);
            if (r <= 0) {
                continue; /* not written yet, past the end */
            }
            record(i, want);
            if (memcmp(got, want, (size_t)r) != 0 && memcmp(got, zero, (size_t)r) != 0) {
                w->bad = 2;
            }
        }
    }
    return NULL;
}

Test(fs_posix, concurrent_readers_and_writers_on_one_file)
{
    int fd = open_in("shared", O_RDWR | O_CREAT);
    pthread_t t[WRITERS + 2];
    struct worker w[WRITERS + 2];
    for (unsigned i = 0; i < WRITERS + 2; i++) {
        w[i] = (struct worker){.fd = fd, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, i < WRITERS ? writer : reader, &w[i]), 0);
    }
    for (unsigned i = 0; i < WRITERS + 2; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].bad, 0, "thread %u: %s", i, w[i].bad == 1 ? "write failed" : "torn read");
    }
    uint8_t *want = malloc(REC * NREC);
    for (unsigned i = 0; i < NREC; i++) {
        record(i, want + i * REC);
    }
    expect_content(fd, want, REC * NREC); /* no record lost to another's read-modify-write */
    close(fd);
    free(want);
}

/* The backing holds ciphertext only; file names stay plaintext (documented). */
Test(fs_posix, backing_holds_no_plaintext)
{
    static const char canary[] = "CANARY-cmkfs-7f3a9c-CANARY";
    int fd = open_in("canaryfile", O_RDWR | O_CREAT);
    for (int i = 0; i < 100; i++) {
        pwrite_all(fd, canary, sizeof(canary) - 1, (off_t)i * 1000);
    }
    close(fd);
    int rc = fsx_run(&x, "grep -rqa CANARY-cmkfs %s", x.back);
    cr_assert_eq(rc, 1, "grep found the canary in the backing (rc %d)", rc);
    rc = fsx_run(&x, "grep -qa CANARY-cmkfs %s", fsx_path(&x, "canaryfile", 0));
    cr_assert_eq(rc, 0, "positive control: the mount shows the canary");
    cr_assert_eq(access(fsx_path(&x, "canaryfile", 1), F_OK), 0, "names are plaintext");
}

/* -- command line ------------------------------------------------------------------- */

Test(fs_posix, passthrough_and_encrypted_are_not_mixed_up)
{
    struct fsx p;
    fsx_make(&p);
    int rc = fsx_run(&p, "%s init %s --passthrough >/dev/null", CMKFS_BIN, p.back);
    cr_assert_eq(rc, 0, "%s", fsx_err(&p));
    rc = fsx_run(&p, "%s mount %s %s %s", CMKFS_BIN, p.back, p.mnt, p.keyopts);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(fsx_err(&p), "plaintext (passthrough) backing") != NULL, "%s", fsx_err(&p));
    cr_assert(!fsx_mounted(p.mnt));
    rc = fsx_run(&p, "%s mount %s %s --passthrough", CMKFS_BIN, x.back, p.mnt);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(fsx_err(&p), "was initialised encrypted") != NULL, "%s", fsx_err(&p));
    /* the passthrough mount works, and its backing is plaintext (as documented) */
    rc = fsx_run(&p, "%s mount %s %s --passthrough", CMKFS_BIN, p.back, p.mnt);
    cr_assert_eq(rc, 0, "%s", fsx_err(&p));
    int fd = open(fsx_path(&p, "plain", 0), O_RDWR | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    pwrite_all(fd, "PLAINTEXT-VISIBLE", 17, 5000);
    close(fd);
    rc = fsx_run(&p, "grep -qa PLAINTEXT-VISIBLE %s", fsx_path(&p, "plain", 1));
    fsx_cleanup(&p);
    cr_assert_eq(rc, 0);
}

Test(fs_posix, second_mount_and_bad_options_refused)
{
    struct fsx p;
    fsx_make(&p);
    int rc = fsx_run(&p, "%s mount %s %s %s", CMKFS_BIN, x.back, p.mnt, x.keyopts);
    /* refused at once, naming where it is mounted (the recorded real path) */
    char want[PATH_MAX + 64], real[PATH_MAX];
    cr_assert_not_null(realpath(x.mnt, real));
    snprintf(want, sizeof(want), "is already mounted at %s (", real);
    int err_ok = strstr(fsx_err(&p), want) != NULL;
    int mounted = fsx_mounted(p.mnt);
    rc = rc * 100 + fsx_run(&p, "%s init %s --mode ctr %s", CMKFS_BIN, p.back, p.keyopts);
    int mode_ok = strstr(fsx_err(&p), "unknown --mode (xts or gcm): ctr") != NULL;
    int rc2 = fsx_run(&p, "%s init %s --unit-size 1000 %s", CMKFS_BIN, p.back, p.keyopts);
    int unit_ok = strstr(fsx_err(&p), "bad --unit-size (a power of two, 512..65536): 1000") != NULL;
    int rc3 = fsx_run(&p, "%s mount %s %s --key-file %s/none", CMKFS_BIN, x.back, p.mnt, p.root);
    fsx_cleanup(&p);
    cr_assert_eq(rc, 102);
    cr_assert(err_ok && !mounted && mode_ok && unit_ok);
    cr_assert_eq(rc2, 2);
    cr_assert_eq(rc3, 1, "mount while mounted: busy");
}

/*
 * A daemon that was unmounted but is still exiting holds BACKING/mount.lock with its (no longer
 * mounted) mount point recorded in it. Played here by the test itself: it holds the lock and
 * records a mount point that does not exist.
 */
struct held_lock {
    struct fsx *p;
    int fd;
    atomic_int done; /* the mount returned: stop looking */
};

static int hold_lock(struct fsx *p, const char *recorded)
{
    char lock[300];
    snprintf(lock, sizeof(lock), "%s/mount.lock", p->back);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", lock, strerror(errno));
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    cr_assert_eq(pwrite(fd, recorded, strlen(recorded), 0), (ssize_t)strlen(recorded));
    return fd;
}

/* Releases the lock once the mount has said that it waits (no timing: it reads the message). */
static void *release_when_waiting(void *arg)
{
    struct held_lock *h = arg;
    const struct timespec tick = {0, 10 * 1000 * 1000};
    while (!atomic_load(&h->done) &&
           strstr(fsx_err(h->p), "is still exiting; waiting up to 600 s") == NULL) {
        nanosleep(&tick, NULL);
    }
    close(h->fd);
    return NULL;
}

Test(fs_posix, mount_waits_for_an_unmounted_daemon_to_exit)
{
    struct fsx p;
    fsx_make(&p);
    cr_assert_eq(fsx_run(&p, "%s init %s %s >/dev/null", CMKFS_BIN, p.back, p.keyopts), 0, "%s",
                 fsx_err(&p));
    struct held_lock h = {&p, hold_lock(&p, "/nonexistent-cmkfs-mnt"), 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_when_waiting, &h), 0);
    int rc =
        fsx_run(&p, "CMKFS_LOCK_WAIT_S=600 %s mount %s %s %s", CMKFS_BIN, p.back, p.mnt, p.keyopts);
    atomic_store(&h.done, 1);
    pthread_join(t, NULL);
    char err[600];
    snprintf(err, sizeof(err), "%s", fsx_err(&p));
    int mounted = fsx_mounted(p.mnt);
    fsx_cleanup(&p);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(mounted);
    cr_assert_not_null(strstr(err,
                              "(unmounted from /nonexistent-cmkfs-mnt) is still exiting; "
                              "waiting up to 600 s for "),
                       "%s", err);
}

Test(fs_posix, mount_gives_up_on_a_daemon_that_does_not_exit)
{
    struct fsx p;
    fsx_make(&p);
    cr_assert_eq(fsx_run(&p, "%s init %s %s >/dev/null", CMKFS_BIN, p.back, p.keyopts), 0, "%s",
                 fsx_err(&p));
    int fd = hold_lock(&p, "/nonexistent-cmkfs-mnt");
    int rc =
        fsx_run(&p, "CMKFS_LOCK_WAIT_S=1 %s mount %s %s %s", CMKFS_BIN, p.back, p.mnt, p.keyopts);
    char want[700];
    snprintf(want, sizeof(want),
             "cmk-fs: %s is still locked by the cmk-fs unmounted from /nonexistent-cmkfs-mnt "
             "after 1 s; is it hung? (%s/mount.lock)\n",
             p.back, p.back);
    int err_ok = strstr(fsx_err(&p), want) != NULL;
    char err[600];
    snprintf(err, sizeof(err), "%s", fsx_err(&p));
    int mounted = fsx_mounted(p.mnt);
    close(fd);
    fsx_cleanup(&p);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(!mounted);
    cr_assert(err_ok, "want \"%s\" in: %s", want, err);
}

Test(fs_posix, foreground_mount_unmounts_on_sigterm)
{
    struct fsx p;
    fsx_make(&p);
    int rc = fsx_run(&p, "%s init %s %s >/dev/null", CMKFS_BIN, p.back, p.keyopts);
    cr_assert_eq(rc, 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl(CMKFS_BIN, CMKFS_BIN, "mount", p.back, p.mnt, "--key-file", p.key, "-f",
              (char *)NULL);
        _exit(127);
    }
    int live = 0;
    for (int i = 0; i < 3000 && !live; i++) { /* up to 30 s */
        live = fsx_mounted(p.mnt);
        if (!live) {
            usleep(10000);
        }
    }
    int st = -1;
    if (live) {
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    int still = fsx_mounted(p.mnt);
    fsx_cleanup(&p);
    cr_assert(live, "the -f mount never went live");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    cr_assert(!still, "still mounted after SIGTERM");
}

/* status works while mounted; rotate-kek is refused then, and afterwards rewraps only the table. */
Test(fs_posix, status_and_rotate_kek)
{
    int fd = open_in("keep", O_RDWR | O_CREAT);
    pwrite_all(fd, "kept across rotation", 20, 100);
    close(fd);
    char out[300];
    snprintf(out, sizeof(out), "%s/status.out", x.root);
    int rc = fsx_run(&x, "%s status %s %s >%s", CMKFS_BIN, x.back, x.keyopts, out);
    cr_assert_eq(rc, 0, "status while mounted: %s", fsx_err(&x));
    cr_assert_eq(fsx_run(&x, "grep -q '^mode: " FSX_MODE "$' %s", out), 0);
    cr_assert_eq(fsx_run(&x, "grep -q '^key table generation: 1$' %s", out), 0);
    rc = fsx_run(&x, "%s rotate-kek %s %s", CMKFS_BIN, x.back, x.keyopts);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(fsx_err(&x), "ENG_ERR_STORE_BUSY") != NULL, "%s", fsx_err(&x));
    cr_assert(strstr(fsx_err(&x), "is mounted; unmount it first") != NULL, "%s", fsx_err(&x));
    fsx_unmount(&x);
    struct stat before;
    cr_assert_eq(stat(fsx_path(&x, "keep", 1), &before), 0);
    rc = fsx_run(&x, "%s rotate-kek %s %s >/dev/null", CMKFS_BIN, x.back, x.keyopts);
    cr_assert_eq(rc, 0, "rotate-kek: %s", fsx_err(&x));
    rc = fsx_run(&x, "%s status %s %s >%s", CMKFS_BIN, x.back, x.keyopts, out);
    cr_assert_eq(rc, 0);
    cr_assert_eq(fsx_run(&x, "grep -q '^key table generation: 2$' %s", out), 0);
    struct stat after;
    cr_assert_eq(stat(fsx_path(&x, "keep", 1), &after), 0);
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec, "data untouched by rotation");
    cr_assert_eq(after.st_mtime, before.st_mtime);
    rc = fsx_run(&x, "%s mount %s %s %s", CMKFS_BIN, x.back, x.mnt, x.keyopts);
    cr_assert_eq(rc, 0, "%s", fsx_err(&x));
    fd = open_in("keep", O_RDONLY);
    char buf[20];
    cr_assert_eq(pread(fd, buf, 20, 100), 20);
    cr_assert_eq(memcmp(buf, "kept across rotation", 20), 0);
    close(fd);
}
