/* tl_files.c - see tl_files.h. */
#include "tl_files.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmt_client.h"

void tl_tmpdir(char *out, size_t max_out_len)
{
    char tmpl[] = "/tmp/cmk-test-XXXXXX";
    if (mkdtemp(tmpl) == NULL || (size_t)snprintf(out, max_out_len, "%s", tmpl) >= max_out_len) {
        abort();
    }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tl_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char tl_suite_dir[64];

void tl_suite_tmpdir_setup(void)
{
    tl_tmpdir(tl_suite_dir, sizeof(tl_suite_dir));
}

void tl_suite_tmpdir_teardown(void)
{
    tl_rmtree(tl_suite_dir);
}

void tl_path(char *out, size_t max_out_len, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, max_out_len, "%s/%s", dir, name) >= max_out_len) {
        abort();
    }
}

int tl_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

uint8_t *tl_read_file(const char *path, size_t *out_len)
{
    return (uint8_t *)vmt_read_file(path, out_len);
}

char *tl_read_text(const char *path)
{
    char *text = vmt_read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    return text;
}

int tl_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return -1;
    }
    int ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int tl_flip_bit(const char *path, uint64_t off, int bit)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        return -1;
    }
    uint8_t b;
    int ok = pread(fd, &b, 1, (off_t)off) == 1;
    b ^= (uint8_t)(1u << bit);
    ok = ok && pwrite(fd, &b, 1, (off_t)off) == 1;
    close(fd);
    return ok ? 0 : -1;
}
