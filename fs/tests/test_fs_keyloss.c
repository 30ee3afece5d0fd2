/*
 * test_fs_keyloss.c - key loss on a live cmk-fs mount (--revalidate-s 1):
 * the SMK key file deleted; the vault key deleted, and disabled, in a real
 * vault-mock; the vault hung. After a revocation every open, create, read,
 * write and fsync returns EIO (polled with a generous deadline: the bound
 * is the revalidation interval plus the vault call, not asserted tightly);
 * a hung vault never blocks a read, and past interval + grace reads fail.
 * Once the key is back a new mount reads the data again. Built twice: XTS
 * (fs_test_fs_keyloss) and GCM (fs_test_fs_keyloss_gcm, -DFSX_GCM: fslib.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fslib.h"
#include "tl_vault.h"

#define API        "?api-version=7.4"
#define DEADLINE_S 60.0

static struct fsx x;
static struct vmt_server vs;

static void setup(void)
{
    memset(&vs, 0, sizeof(vs));
    fsx_make(&x);
}

static void teardown(void)
{
    fsx_cleanup(&x);
    if (vs.pid > 0) {
        vmt_cleanup(&vs);
    }
}

/* The suite's name: fs_keyloss, or fs_keyloss_gcm when built with -DFSX_GCM (fslib.h). */
#define fs_keyloss FSX_SUITE(fs_keyloss)

TestSuite(fs_keyloss, .init = setup, .fini = teardown, .timeout = 240);

/* init's options: the suite's cipher and the key options. */
static const char *init_opts(void)
{
    static char init[1200];
    snprintf(init, sizeof(init), FSX_INIT_MODE "%s", x.keyopts);
    return init;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char data[] = "the database's page, before the key went away";

/* Writes f (kept open: *fd), returns when the content reads back. */
static int write_file(void)
{
    int fd = open(fsx_path(&x, "f", 0), O_RDWR | O_CREAT, 0600);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    cr_assert_eq(pwrite(fd, data, sizeof(data), 5000), (ssize_t)sizeof(data));
    cr_assert_eq(fsync(fd), 0);
    return fd;
}

/*
 * Polls reads on the open |fd| until one fails; asserts it fails with EIO
 * within DEADLINE_S and that no read took longer than |max_read_s|. Then
 * every other operation fails with EIO at once.
 */
static double wait_for_eio(int fd, double max_read_s)
{
    double t0 = now_s();
    char buf[sizeof(data)];
    for (;;) {
        double a = now_s();
        ssize_t r = pread(fd, buf, sizeof(buf), 5000);
        int err = errno;
        double took = now_s() - a;
        cr_assert_lt(took, max_read_s, "a read blocked for %.1f s", took);
        if (r < 0) {
            cr_assert_eq(err, EIO, "read failed with %s, want EIO", strerror(err));
            break;
        }
        cr_assert_eq(r, (ssize_t)sizeof(data));
        cr_assert_eq(memcmp(buf, data, sizeof(data)), 0);
        cr_assert_lt(now_s() - t0, DEADLINE_S, "reads still work %.0f s after the key loss",
                     DEADLINE_S);
        usleep(50000);
    }
    double elapsed = now_s() - t0;
    errno = 0;
    cr_assert_eq(pwrite(fd, "x", 1, 0), -1);
    cr_assert_eq(errno, EIO, "write: %s", strerror(errno));
    cr_assert_eq(fsync(fd), -1);
    cr_assert_eq(errno, EIO, "fsync: %s", strerror(errno));
    cr_assert_eq(open(fsx_path(&x, "f", 0), O_RDONLY), -1);
    cr_assert_eq(errno, EIO, "open: %s", strerror(errno));
    cr_assert_eq(open(fsx_path(&x, "new", 0), O_RDWR | O_CREAT, 0600), -1);
    cr_assert_eq(errno, EIO, "create: %s", strerror(errno));
    return elapsed;
}

static void read_back_after_remount(void)
{
    fsx_unmount(&x);
    int rc = fsx_run(&x, "%s mount %s %s %s", CMKFS_BIN, x.back, x.mnt, x.keyopts);
    cr_assert_eq(rc, 0, "remount: %s", fsx_err(&x));
    int fd = open(fsx_path(&x, "f", 0), O_RDONLY);
    cr_assert_geq(fd, 0);
    char buf[sizeof(data)];
    cr_assert_eq(pread(fd, buf, sizeof(buf), 5000), (ssize_t)sizeof(buf));
    cr_assert_eq(memcmp(buf, data, sizeof(data)), 0);
    close(fd);
}

Test(fs_keyloss, smk_key_file_deleted)
{
    char opts[1200];
    snprintf(opts, sizeof(opts), "%s --revalidate-s 1 --grace-s 30", x.keyopts);
    fsx_init_mount(&x, init_opts(), opts);
    int fd = write_file();
    cr_assert_eq(fsx_run(&x, "cp -p %s %s.saved", x.key, x.key), 0);
    cr_assert_eq(unlink(x.key), 0);
    double t = wait_for_eio(fd, 10.0);
    fprintf(stderr, "fs_keyloss: SMK key file deleted: EIO after %.2f s\n", t);
    close(fd);
    fsx_unmount(&x);
    int rc = fsx_run(&x, "%s mount %s %s %s", CMKFS_BIN, x.back, x.mnt, x.keyopts);
    cr_assert_eq(rc, 3, "mount without the key file: %d %s", rc, fsx_err(&x));
    cr_assert_eq(fsx_run(&x, "mv %s.saved %s", x.key, x.key), 0);
    read_back_after_remount();
}

static void start_vault(void)
{
    tl_vault_start(&vs);
    char ver[128];
    cr_assert_eq(vmt_create_key(&vs, "db-kek", 2048, NULL, ver), 200);
    char token[256];
    snprintf(token, sizeof(token), "%s/token", x.root);
    tl_vault_token_file(&vs, "dbservice", token);
    snprintf(x.keyopts, sizeof(x.keyopts),
             "--vault-url %s --vault-key db-kek --vault-ca %s --vault-token-file %s", vs.url, vs.ca,
             token);
}

static void mount_fast(void)
{
    char opts[1200];
    snprintf(opts, sizeof(opts), "%s --revalidate-s 1 --grace-s 30 --log-file %s/fs.log", x.keyopts,
             x.root);
    fsx_init_mount(&x, init_opts(), opts);
}

Test(fs_keyloss, vault_key_deleted)
{
    start_vault();
    mount_fast();
    int fd = write_file();
    tl_vault_officer(&vs, "DELETE", "/keys/db-kek" API, NULL, 200);
    double t = wait_for_eio(fd, 10.0);
    fprintf(stderr,
            "fs_keyloss: vault key deleted: reads failed with EIO after %.2f s "
            "(--revalidate-s 1)\n",
            t);
    close(fd);
    /* the --log-file names the cause (written just after the state flips: poll) */
    int logged = 1;
    for (int i = 0; i < 600 && logged != 0; i++) {
        logged = fsx_run(&x,
                         "grep -q 'revoked: KEK check failed with ENG_ERR_KEK_NOT_FOUND' "
                         "%s/fs.log",
                         x.root);
        if (logged != 0) {
            usleep(50000);
        }
    }
    cr_assert_eq(logged, 0, "no revocation line in the log");
    cr_assert_eq(
        fsx_run(&x, "grep -q 'mounted .* (" FSX_MODE ", revalidate 1 s)' %s/fs.log", x.root), 0);
    /* no remount while the key is gone: exit 3 */
    fsx_unmount(&x);
    int rc = fsx_run(&x, "%s mount %s %s %s", CMKFS_BIN, x.back, x.mnt, x.keyopts);
    cr_assert_eq(rc, 3, "mount without the key: %d %s", rc, fsx_err(&x));
    cr_assert(strstr(fsx_err(&x), "KEK_NOT_FOUND") != NULL, "%s", fsx_err(&x));
    tl_vault_officer(&vs, "POST", "/deletedkeys/db-kek/recover" API, NULL, 200);
    read_back_after_remount();
}

Test(fs_keyloss, vault_key_disabled)
{
    start_vault();
    mount_fast();
    int fd = write_file();
    tl_vault_officer(&vs, "PATCH", "/keys/db-kek/" API, "{\"attributes\":{\"enabled\":false}}",
                     200);
    double t = wait_for_eio(fd, 10.0);
    fprintf(stderr, "fs_keyloss: vault key disabled: EIO after %.2f s\n", t);
    close(fd);
    tl_vault_officer(&vs, "PATCH", "/keys/db-kek/" API, "{\"attributes\":{\"enabled\":true}}", 200);
    read_back_after_remount();
}

/* A vault that answers nothing for 60 s: reads go on without waiting, then fail past the grace. */
Test(fs_keyloss, hung_vault_never_blocks_io)
{
    start_vault();
    char opts[1200];
    snprintf(opts, sizeof(opts), "%s --revalidate-s 1 --grace-s 2", x.keyopts);
    fsx_init_mount(&x, init_opts(), opts);
    int fd = write_file();
    long st = vmt_set_faults(&vs, "{\"faults\":[{\"op\":\"*\",\"latency_ms\":60000}]}");
    cr_assert(st == 200 || st == 204, "admin/faults: %ld", st);
    double t = wait_for_eio(fd, 10.0);
    fprintf(stderr,
            "fs_keyloss: hung vault: reads worked, then EIO after %.2f s "
            "(--revalidate-s 1 --grace-s 2)\n",
            t);
    close(fd);
    vmt_set_faults(&vs, NULL);
}
