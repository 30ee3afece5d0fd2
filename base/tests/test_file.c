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

Test(file, reads_whole_file_with_nul)
{
    char p[128];
    path_of(p, sizeof(p), "a.txt");
    write_file(p, "hello\0world", 11);
    char *out = NULL;
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(p, 100, BASE_FILE_REGULAR, &out, &n, &e), 0);
    cr_assert_eq(n, 11);
    cr_assert_eq(memcmp(out, "hello\0world", 12), 0);
    free(out);
}

Test(file, empty_file_gives_empty_string)
{
    char p[128];
    path_of(p, sizeof(p), "empty");
    write_file(p, "", 0);
    char *out = NULL;
    size_t n = 9;
    cr_assert_eq(base_file_read(p, 0, 0, &out, &n, NULL), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(n, 0);
    free(out);
}

Test(file, large_file_across_many_reads)
{
    char p[128];
    path_of(p, sizeof(p), "big");
    size_t len = 300000;
    char *data = malloc(len);
    for (size_t i = 0; i < len; i++) {
        data[i] = (char)('a' + i % 26);
    }
    write_file(p, data, len);
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(base_file_read(p, len, 0, &out, &n, NULL), 0);
    cr_assert_eq(n, len);
    cr_assert_eq(memcmp(out, data, len), 0);
    free(out);
    free(data);
}

Test(file, cap_exact_passes_and_one_over_fails)
{
    char p[128];
    path_of(p, sizeof(p), "ten");
    write_file(p, "0123456789", 10);
    char *out = NULL;
    size_t n = 0;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(p, 10, 0, &out, &n, &e), 0);
    cr_assert_str_eq(out, "0123456789");
    free(out);
    cr_assert_eq(base_file_read(p, 9, 0, &out, &n, &e), -1);
    cr_assert_null(out);
    cr_assert_eq(n, 0);
    cr_assert_eq(e.code, BASE_ERR_CAP);
    char want[256];
    snprintf(want, sizeof(want), "%s: larger than the cap of 9 bytes", p);
    cr_assert_str_eq(e.msg, want);
}

Test(file, missing_file_has_its_own_code)
{
    char p[128];
    path_of(p, sizeof(p), "nope");
    char *out = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(p, 10, 0, &out, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_NOT_FOUND);
    cr_assert_eq(e.sys_errno, ENOENT);
    char want[256];
    snprintf(want, sizeof(want), "%s: No such file or directory", p);
    cr_assert_str_eq(e.msg, want);
}

Test(file, folder_is_refused_under_regular)
{
    char *out = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(dir, 10, BASE_FILE_REGULAR, &out, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_NOT_REGULAR);
    char want[256];
    snprintf(want, sizeof(want), "%s: not a regular file", dir);
    cr_assert_str_eq(e.msg, want);
    /* without the flag, reading a folder fails in read() with EISDIR */
    cr_assert_eq(base_file_read(dir, 10, 0, &out, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_IO);
    cr_assert_eq(e.sys_errno, EISDIR);
}

Test(file, fifo_is_refused_without_blocking)
{
    char p[128];
    path_of(p, sizeof(p), "fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    char *out = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(p, 10, BASE_FILE_REGULAR, &out, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_NOT_REGULAR);
}

Test(file, symlink_refused_under_nofollow_only)
{
    char p[128], l[128];
    path_of(p, sizeof(p), "target");
    path_of(l, sizeof(l), "link");
    write_file(p, "x", 1);
    cr_assert_eq(symlink(p, l), 0);
    char *out = NULL;
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(base_file_read(l, 10, BASE_FILE_NOFOLLOW, &out, NULL, &e), -1);
    cr_assert_eq(e.code, BASE_ERR_NOT_REGULAR);
    char want[256];
    snprintf(want, sizeof(want), "%s: not a regular file", l);
    cr_assert_str_eq(e.msg, want);
    cr_assert_eq(base_file_read(l, 10, 0, &out, NULL, &e), 0);
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
