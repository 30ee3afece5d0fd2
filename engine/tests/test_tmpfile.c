/* test_tmpfile.c - encrypted spill files under an ephemeral key. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eng_secure.h"
#include "eng_store.h"
#include "store_helpers.h"

static char dir[256];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(tmpfile, .init = setup, .fini = teardown);

static const char pattern[] = "SPILL-PLAINTEXT-PATTERN-0123456789";

static void fill_pattern(uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        b[i] = (uint8_t)pattern[i % (sizeof(pattern) - 1)];
    }
}

static uint8_t *read_all_fd(int fd, size_t *out_len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t *b = malloc(end > 0 ? (size_t)end : 1);
    ssize_t n = pread(fd, b, (size_t)end, 0);
    *out_len = n > 0 ? (size_t)n : 0;
    return b;
}

Test(tmpfile, write_and_read_anywhere)
{
    struct eng_tmpfile *t = eng_tmpfile_new(dir);
    cr_assert_not_null(t, "%s", eng_error_name(eng_errno()));
    size_t len = 300000;
    uint8_t *want = malloc(len), *got = malloc(len);
    RAND_bytes(want, (int)len);
    /* uneven appends */
    size_t done = 0, step = 1;
    while (done < len) {
        size_t n = step < len - done ? step : len - done;
        cr_assert_eq(eng_tmpfile_write(t, want + done, n), 0);
        done += n;
        step = step * 3 + 7;
    }
    cr_assert_eq(eng_tmpfile_size(t), len);
    cr_assert_eq(eng_tmpfile_read(t, 0, got, len), 0);
    cr_assert_eq(memcmp(got, want, len), 0);
    cr_assert_eq(eng_tmpfile_read(t, 65530, got, 20), 0, "across a chunk boundary");
    cr_assert_eq(memcmp(got, want + 65530, 20), 0);
    cr_assert_eq(eng_tmpfile_read(t, len - 5, got, 5), 0, "from the in-memory tail");
    cr_assert_eq(memcmp(got, want + len - 5, 5), 0);
    cr_assert_eq(eng_tmpfile_read(t, len - 5, got, 6), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_RANGE);
    /* nothing visible in the folder */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", dir);
    cr_assert_eq(system(cmd), 0, "the spill file has no name");
    eng_tmpfile_free(t);
    free(want);
    free(got);
}

static int wiped_regions;
static int unwiped_regions;

static void check_wiped(const void *p, size_t len)
{
    const uint8_t *b = p;
    size_t nz = 0;
    for (size_t i = 0; i < len; i++) {
        nz |= b[i];
    }
    if (nz == 0) {
        wiped_regions++;
    } else {
        unwiped_regions++;
    }
}

Test(tmpfile, unreadable_after_close)
{
    struct eng_tmpfile *t = eng_tmpfile_new(dir);
    cr_assert_not_null(t);
    size_t len = 200000;
    uint8_t *plain = malloc(len);
    fill_pattern(plain, len);
    cr_assert_eq(eng_tmpfile_write(t, plain, len), 0);
    int keep = dup(eng_tmpfile_fd(t)); /* the bytes outlive the handle */
    cr_assert_geq(keep, 0);
    eng_secure_set_free_hook(check_wiped);
    eng_tmpfile_free(t);
    eng_secure_set_free_hook(NULL);
    cr_assert_geq(wiped_regions, 1, "the ephemeral key's memory was released wiped");
    cr_assert_eq(unwiped_regions, 0);
    size_t raw_len;
    uint8_t *raw = read_all_fd(keep, &raw_len);
    cr_assert_eq(raw_len, 3 * (65536 + 16), "three sealed chunks; the tail was never written");
    cr_assert_null(memmem(raw, raw_len, pattern, sizeof(pattern) - 1), "no plaintext on disk");
    free(raw);
    free(plain);
    close(keep);
}

/* After the owning process is gone, what is left on disk is ciphertext under a lost key. */
Test(tmpfile, unreadable_after_the_process_is_gone)
{
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct eng_tmpfile *t = eng_tmpfile_new(dir);
        uint8_t *plain = malloc(140000);
        fill_pattern(plain, 140000);
        int fd = t != NULL && eng_tmpfile_write(t, plain, 140000) == 0 ? eng_tmpfile_fd(t) : -1;
        if (write(pfd[1], &fd, sizeof(fd)) != (ssize_t)sizeof(fd)) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    int fd = -1;
    cr_assert_eq(read(pfd[0], &fd, sizeof(fd)), (ssize_t)sizeof(fd));
    cr_assert_geq(fd, 0);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/%ld/fd/%d", (long)pid, fd);
    int mine = open(proc, O_RDONLY);
    cr_assert_geq(mine, 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    size_t raw_len;
    uint8_t *raw = read_all_fd(mine, &raw_len);
    cr_assert_eq(raw_len, 2 * (65536 + 16));
    cr_assert_null(memmem(raw, raw_len, pattern, sizeof(pattern) - 1));
    free(raw);
    close(mine);
}

Test(tmpfile, tampering_is_detected)
{
    struct eng_tmpfile *t = eng_tmpfile_new(dir);
    cr_assert_not_null(t);
    uint8_t *b = malloc(70000);
    RAND_bytes(b, 70000);
    cr_assert_eq(eng_tmpfile_write(t, b, 70000), 0);
    int fd = eng_tmpfile_fd(t);
    uint8_t x;
    cr_assert_eq(pread(fd, &x, 1, 1000), 1);
    x ^= 4;
    cr_assert_eq(pwrite(fd, &x, 1, 1000), 1);
    uint8_t out[16];
    cr_assert_eq(eng_tmpfile_read(t, 990, out, 16), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_AUTH);
    cr_assert_eq(eng_tmpfile_read(t, 65536 + 10, out, 16), 0, "the tail is in memory");
    cr_assert_eq(memcmp(out, b + 65536 + 10, 16), 0);
    eng_tmpfile_free(t);
    free(b);
}

Test(tmpfile, two_files_have_different_keys)
{
    struct eng_tmpfile *a = eng_tmpfile_new(dir), *b = eng_tmpfile_new(dir);
    cr_assert(a != NULL && b != NULL);
    uint8_t *p = calloc(1, 65536);
    cr_assert_eq(eng_tmpfile_write(a, p, 65536), 0);
    cr_assert_eq(eng_tmpfile_write(b, p, 65536), 0);
    uint8_t ca[64], cb[64];
    cr_assert_eq(pread(eng_tmpfile_fd(a), ca, 64, 0), 64);
    cr_assert_eq(pread(eng_tmpfile_fd(b), cb, 64, 0), 64);
    cr_assert_neq(memcmp(ca, cb, 64), 0, "same plaintext, same nonce, other key");
    eng_tmpfile_free(a);
    eng_tmpfile_free(b);
    free(p);
}

Test(tmpfile, bad_folder)
{
    cr_assert_null(eng_tmpfile_new("/nonexistent-cmk-dir"));
    cr_assert_eq(eng_errno(), ENG_ERR_TMPFILE);
}
