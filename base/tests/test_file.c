/*
 * test_file.c - base_file_read / base_fd_read / base_fd_read_buf: whole
 * files, the cap (exact and one over), missing files, FIFOs, folders and
 * symbolic links under the flags, and a pipe whose size fstat cannot tell.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base_file.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/base-file-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

TestSuite(file, .init = setup, .fini = teardown);

/* Reading |path| under |max| and |flags| fails with |code| and the message "<path><tail>". */
static void expect_fail(const char *path, size_t max, unsigned flags, int code, const char *tail)
{
    char *out = (char *)1;
    size_t n = 99;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(path, max, flags, &out, &n, &e), -1, "%s", path);
    cr_assert_null(out);
    cr_assert_eq(n, 0);
    cr_assert_eq(e.code, code, "%s: %s", path, e.msg);
    char want[256];
    snprintf(want, sizeof(want), "%s%s", path, tail);
    cr_assert_str_eq(e.msg, want);
}

/* Writes |len| bytes to |name|, reads them back under |max| and |flags|: same bytes, then a NUL. */
static void expect_round_trip(const char *name, const char *data, size_t len, size_t max,
                              unsigned flags)
{
    char p[128];
    path_of(p, sizeof(p), name);
    write_file(p, data, len);
    char *out = NULL;
    size_t n = 99;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(p, max, flags, &out, &n, &e), 0, "%s: %s", name, e.msg);
    cr_assert_eq(n, len, "%s", name);
    cr_assert_eq(memcmp(out, data, len), 0, "%s", name);
    cr_assert_eq(out[len], '\0', "%s", name);
    free(out);
}

Test(file, reads_whole_file_with_nul)
{
    expect_round_trip("a.txt", "hello\0world", 11, 100, BASE_FILE_REGULAR);
}

Test(file, empty_file_gives_empty_string)
{
    expect_round_trip("empty", "", 0, 0, 0);
}

Test(file, large_file_across_many_reads)
{
    size_t len = 300000;
    char *data = malloc(len);
    cr_assert_not_null(data);
    for (size_t i = 0; i < len; i++) {
        data[i] = (char)('a' + i % 26);
    }
    expect_round_trip("big", data, len, len, BASE_FILE_WIPE);
    free(data);
}

Test(file, cap_exact_passes_and_one_over_fails)
{
    expect_round_trip("ten", "0123456789", 10, 10, 0);
    char p[128];
    path_of(p, sizeof(p), "ten");
    expect_fail(p, 9, 0, BASE_ERR_CAP, ": larger than the cap of 9 bytes");
}

Test(file, missing_file_has_its_own_code)
{
    char p[128];
    path_of(p, sizeof(p), "nope");
    expect_fail(p, 10, 0, BASE_ERR_NOT_FOUND, ": No such file or directory");
    char *out = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(p, 10, 0, &out, NULL, &e), -1);
    cr_assert_eq(e.sys_errno, ENOENT);
}

Test(file, folder_is_refused_under_regular)
{
    expect_fail(dir, 10, BASE_FILE_REGULAR, BASE_ERR_NOT_REGULAR, ": not a regular file");
    /* without the flag, reading a folder fails in read() with EISDIR */
    char *out = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(dir, 10, 0, &out, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_IO);
    cr_assert_eq(e.sys_errno, EISDIR);
}

Test(file, fifo_is_refused_without_blocking)
{
    char p[128];
    path_of(p, sizeof(p), "fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    expect_fail(p, 10, BASE_FILE_REGULAR, BASE_ERR_NOT_REGULAR, ": not a regular file");
}

Test(file, symlink_refused_under_nofollow_only)
{
    char p[128], l[128];
    path_of(p, sizeof(p), "target");
    path_of(l, sizeof(l), "link");
    write_file(p, "x", 1);
    cr_assert_eq(symlink(p, l), 0);
    expect_fail(l, 10, BASE_FILE_NOFOLLOW, BASE_ERR_NOT_REGULAR, ": not a regular file");
    char *out = NULL;
    cr_assert_eq(base_file_read(l, 10, 0, &out, NULL, NULL), 0);
    cr_assert_str_eq(out, "x");
    free(out);
}

Test(file, pipe_reads_to_eof_and_caps)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "abcdef", 6), 6);
    close(fds[1]);
    char *out = NULL;
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_fd_read(fds[0], "the pipe", 5, 0, &out, &n, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(e.msg, "the pipe: larger than the cap of 5 bytes");
    close(fds[0]);

    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "abcdef", 6), 6);
    close(fds[1]);
    cr_assert_eq(base_fd_read(fds[0], "the pipe", 6, 0, &out, &n, &e), 0);
    cr_assert_str_eq(out, "abcdef");
    free(out);
    /* a pipe is not a regular file */
    cr_assert_eq(base_fd_read(fds[0], "the pipe", 6, BASE_FILE_REGULAR, &out, &n, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_NOT_REGULAR);
    cr_assert_str_eq(e.msg, "the pipe: not a regular file");
    close(fds[0]);
}

Test(file, read_buf_appends_and_keeps_contents_on_cap)
{
    char p[128];
    path_of(p, sizeof(p), "part");
    write_file(p, "12345", 5);
    struct base_buf b;
    base_buf_init(&b, 8, BASE_BUF_WIPE);
    cr_assert_eq(base_buf_append_str(&b, "ab", NULL), 0);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(base_fd_read_buf(fd, p, 0, &b, NULL), 0);
    cr_assert_str_eq(base_buf_str(&b), "ab12345");
    close(fd);
    fd = open(p, O_RDONLY);
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_fd_read_buf(fd, "part", 0, &b, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(e.msg, "part: larger than the cap of 8 bytes");
    cr_assert_str_eq(base_buf_str(&b), "ab12345");
    cr_assert_eq(b.len, 7);
    /* the bytes of the failed read are wiped beyond the terminator */
    cr_assert_eq(b.data[7], 0);
    close(fd);
    base_buf_free(&b);
}

Test(file, null_path_is_an_error)
{
    char *out = (char *)1;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(NULL, 10, 0, &out, NULL, &e), -1);
    cr_assert_null(out);
    cr_assert_eq(e.code, BASE_ERR_NULL);
}
