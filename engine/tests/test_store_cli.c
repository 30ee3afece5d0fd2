/* test_store_cli.c - the cmk tool: commands, exit codes, one-line errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_helpers.h"

#ifndef CMK_BIN
#define CMK_BIN "bin/cmk"
#endif

static char dir[256];
static char out_path[320], err_path[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(out_path, sizeof(out_path), dir, "stdout");
    tl_path(err_path, sizeof(err_path), dir, "stderr");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(cmk, .init = setup, .fini = teardown);

/* Runs cmk with |args| (in the test folder, key file k.key); returns its exit code. */
static int cmk(const char *fmt, ...)
{
    char args[1024], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    char abs_bin[1024];
    cr_assert_eq(tl_cmk_path(CMK_BIN, abs_bin, sizeof(abs_bin)), 0);
    int n = snprintf(cmd, sizeof(cmd), "cd %s && %s --key-file k.key %s >%s 2>%s", dir, abs_bin,
                     args, out_path, err_path);
    cr_assert(n > 0 && (size_t)n < sizeof(cmd));
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "cmk did not exit normally");
    return WEXITSTATUS(st);
}

static char *slurp(const char *path)
{
    size_t len;
    uint8_t *b = tl_read_file(path, &len);
    cr_assert_not_null(b);
    char *s = malloc(len + 1);
    memcpy(s, b, len);
    s[len] = '\0';
    free(b);
    return s;
}

static int err_lines(void)
{
    char *e = slurp(err_path);
    int n = 0;
    for (char *p = e; *p != '\0'; p++) {
        n += *p == '\n';
    }
    free(e);
    return n;
}

static void write_random(const char *name, size_t len)
{
    char p[400];
    tl_path(p, sizeof(p), dir, name);
    uint8_t *b = malloc(len);
    RAND_bytes(b, (int)len);
    cr_assert_eq(tl_write_file(p, b, len), 0);
    free(b);
}

static int same_files(const char *a, const char *b)
{
    char pa[400], pb[400];
    tl_path(pa, sizeof(pa), dir, a);
    tl_path(pb, sizeof(pb), dir, b);
    size_t la, lb;
    uint8_t *x = tl_read_file(pa, &la), *y = tl_read_file(pb, &lb);
    int same = x != NULL && y != NULL && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static cJSON *status_json(const char *store)
{
    cr_assert_eq(cmk("status %s --json", store), 0);
    char *text = slurp(out_path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j);
    return j;
}

Test(cmk, usage_and_help)
{
    cr_assert_eq(cmk("--help"), 0);
    char *o = slurp(out_path);
    cr_assert_not_null(strstr(o, "exit codes"));
    free(o);
    cr_assert_eq(cmk(""), 2);
    cr_assert_eq(cmk("frobnicate"), 2);
    cr_assert_eq(err_lines(), 1);
    cr_assert_eq(cmk("create s"), 2, "no size");
    cr_assert_eq(cmk("create s --size 1M --mode ctr"), 2);
    cr_assert_eq(cmk("create s --size lots"), 2);
    cr_assert_eq(cmk("get s --bogus 1"), 2);
    cr_assert_eq(cmk("rekey s one"), 2);
}

Test(cmk, put_get_backup_restore_rotate)
{
    cr_assert_eq(cmk("create s --mode gcm --size 1M --unit-size 4096 --extent-units 64"), 0);
    struct stat st;
    char key[400];
    tl_path(key, sizeof(key), dir, "k.key");
    cr_assert_eq(stat(key, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "key file made private");
    write_random("in", 300001);
    cr_assert_eq(cmk("put s in --offset 777"), 0);
    cr_assert_eq(cmk("get s --offset 777 --length 300001 --output out"), 0);
    cr_assert(same_files("in", "out"));
    cr_assert_eq(cmk("backup s b.cmkb"), 0);
    cr_assert_eq(cmk("verify-backup b.cmkb"), 0);
    cr_assert_eq(cmk("restore b.cmkb r"), 0);
    cr_assert_eq(cmk("get r --offset 777 --length 300001 --output out2"), 0);
    cr_assert(same_files("in", "out2"));
    cJSON *j = status_json("s");
    cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deks"), 0);
    char v0[64];
    snprintf(v0, sizeof(v0), "%s", cJSON_GetObjectItem(d0, "kek_version")->valuestring);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "deks")), 4);
    cJSON_Delete(j);
    cr_assert_eq(cmk("rotate-kek s"), 0);
    cr_assert_eq(cmk("rekey s 1"), 0);
    j = status_json("s");
    cJSON *deks = cJSON_GetObjectItem(j, "deks");
    cr_assert_eq(cJSON_GetArraySize(deks), 5, "one retired record");
    int retired = 0;
    for (int i = 0; i < 5; i++) {
        cJSON *d = cJSON_GetArrayItem(deks, i);
        cr_assert_str_neq(cJSON_GetObjectItem(d, "kek_version")->valuestring, v0);
        retired += strcmp(cJSON_GetObjectItem(d, "state")->valuestring, "retired") == 0;
    }
    cr_assert_eq(retired, 1);
    cJSON_Delete(j);
    cr_assert_eq(cmk("get s --offset 777 --length 300001 --output out3"), 0);
    cr_assert(same_files("in", "out3"));
    cr_assert_eq(cmk("restore b.cmkb r"), 1, "target exists");
    cr_assert_eq(err_lines(), 1);
}

Test(cmk, inaccessible_exit_code)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    char key[400], saved[400];
    tl_path(key, sizeof(key), dir, "k.key");
    tl_path(saved, sizeof(saved), dir, "saved.key");
    cr_assert_eq(rename(key, saved), 0);
    cr_assert_eq(cmk("get s --length 10"), 3);
    char *e = slurp(err_path);
    cr_assert_not_null(strstr(e, "ENG_ERR_KEK_NOT_FOUND"));
    free(e);
    cr_assert_eq(cmk("status s"), 3, "status still shows the key table");
    char *o = slurp(out_path);
    cr_assert_not_null(strstr(o, "inaccessible"));
    cr_assert_not_null(strstr(o, "active"));
    free(o);
    cr_assert_eq(rename(saved, key), 0);
    cr_assert_eq(chmod(key, 0644), 0);
    cr_assert_eq(cmk("get s --length 10"), 3);
    e = slurp(err_path);
    cr_assert_not_null(strstr(e, "ENG_ERR_PERM_LOOSE"));
    free(e);
    cr_assert_eq(chmod(key, 0600), 0);
    cr_assert_eq(cmk("get s --length 10 --output x"), 0);
}

Test(cmk, integrity_exit_code)
{
    cr_assert_eq(cmk("create s --mode gcm --size 64K --unit-size 4096"), 0);
    char data[400];
    tl_path(data, sizeof(data), dir, "s/data");
    cr_assert_eq(tl_flip_bit(data, 5000, 2), 0);
    cr_assert_eq(cmk("get s --output x"), 4);
    char *e = slurp(err_path);
    cr_assert_not_null(strstr(e, "ENG_ERR_AUTH"));
    free(e);
    cr_assert_eq(err_lines(), 1);
    cr_assert_eq(cmk("get s --offset 8192 --length 4096 --output y"), 0, "other units read");
    char kt[400];
    tl_path(kt, sizeof(kt), dir, "s/keytable");
    cr_assert_eq(tl_flip_bit(kt, 40, 0), 0);
    cr_assert_eq(cmk("get s --length 1 --output z"), 4);
}

/* stderr holds exactly one line, and it contains every string of |want| (NULL-terminated). */
static void expect_err(const char *const *want)
{
    char *e = slurp(err_path);
    for (size_t i = 0; want[i] != NULL; i++) {
        cr_assert_not_null(strstr(e, want[i]), "stderr lacks \"%s\": %s", want[i], e);
    }
    cr_assert_eq(err_lines(), 1, "not one line: %s", e);
    free(e);
}

/* The store s still opens (status exit 0) and its first bytes still read as |want|. */
static void expect_store_intact(const char *want, size_t len)
{
    cr_assert_eq(cmk("status s"), 0, "store damaged");
    cr_assert_eq(cmk("get s --length %zu", len), 0);
    char *o = slurp(out_path);
    cr_assert_eq(memcmp(o, want, len), 0, "store data changed");
    free(o);
}

/* Number of names in the test folder starting with |prefix| (temp files left behind). */
static int count_names(const char *prefix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

static void write_text(const char *name, const char *text, mode_t mode)
{
    char p[400];
    tl_path(p, sizeof(p), dir, name);
    cr_assert_eq(tl_write_file(p, text, strlen(text)), 0);
    cr_assert_eq(chmod(p, mode), 0);
}

/* The file |name| of the test folder holds exactly |text|. */
static void expect_file(const char *name, const char *text, const char *why)
{
    char p[400];
    tl_path(p, sizeof(p), dir, name);
    size_t len;
    uint8_t *b = tl_read_file(p, &len);
    cr_assert_not_null(b, "%s: %s missing", why, name);
    cr_assert(len == strlen(text) && memcmp(b, text, len) == 0, "%s: %s changed", why, name);
    free(b);
}

/* Issue 17 item 9: get --output inside the store destroyed it (exit 0, then exit 4). */
Test(cmk, get_output_inside_the_store_is_refused)
{
    cr_assert_eq(cmk("create s --mode gcm --size 64K --unit-size 4096"), 0);
    write_text("in", "precious data", 0600);
    cr_assert_eq(cmk("put s in"), 0);
    char lnk[400], lnk2[400];
    tl_path(lnk, sizeof(lnk), dir, "link-to-s");
    cr_assert_eq(symlink("s", lnk), 0);
    tl_path(lnk2, sizeof(lnk2), dir, "kt-link");
    cr_assert_eq(symlink("s/keytable", lnk2), 0);
    static const char *const outs[] = {"s/keytable",
                                       "s/data",
                                       "s/tags",
                                       "s/new-file",
                                       "./s/../s/keytable",
                                       "link-to-s/keytable",
                                       "link-to-s/new-file",
                                       "kt-link"};
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        for (int force = 0; force <= 1; force++) {
            cr_assert_eq(cmk("get s --output %s%s", outs[i], force ? " --force" : ""), 2, "%s",
                         outs[i]);
            char want[300];
            snprintf(want, sizeof(want), "cmk: get: --output %s is inside the store s; refused",
                     outs[i]);
            expect_err((const char *const[]){want, NULL});
        }
        expect_store_intact("precious data", 13);
    }
    cr_assert_eq(count_names(".keytable"), 0);
}

Test(cmk, get_output_existing_file_needs_force)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    write_text("in", "fresh bytes", 0600);
    cr_assert_eq(cmk("put s in"), 0);
    write_text("out", "keep me", 0644);
    cr_assert_eq(cmk("get s --length 11 --output out"), 2);
    expect_err(
        (const char *const[]){"cmk: get: --output out exists; give --force to replace it", NULL});
    expect_file("out", "keep me", "a refused get");
    cr_assert_eq(cmk("get s --length 11 --output out --force"), 0);
    expect_file("out", "fresh bytes", "get --force");
    char p[400];
    tl_path(p, sizeof(p), dir, "out");
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "the replaced file is private");
    /* A new file, a device (nothing to lose) and a folder. */
    cr_assert_eq(cmk("get s --length 11 --output new"), 0);
    cr_assert(same_files("in", "new"));
    cr_assert_eq(cmk("get s --length 11 --output /dev/null"), 0);
    cr_assert_eq(cmk("get s --length 11 --output ."), 2);
    expect_err((const char *const[]){"cmk: get: --output . is a folder, not a file", NULL});
    cr_assert_eq(cmk("get s --length 11 --output no-such-dir/x"), 2);
    expect_err((const char *const[]){"the folder no-such-dir does not exist", NULL});
    cr_assert_eq(count_names("out.cmk-get-"), 0);
    cr_assert_eq(count_names("new.cmk-get-"), 0);
}

/* A get that fails halfway leaves an existing --output file as it was, and no temp file. */
Test(cmk, failed_get_keeps_the_existing_output)
{
    cr_assert_eq(cmk("create s --mode gcm --size 2M --unit-size 4096"), 0);
    write_text("out", "keep me", 0600);
    char data[400];
    tl_path(data, sizeof(data), dir, "s/data");
    /* Past the first 1 MiB that get reads and writes in one go: the get fails halfway. */
    cr_assert_eq(tl_flip_bit(data, 1600000, 2), 0);
    cr_assert_eq(cmk("get s --output out --force"), 4);
    expect_err((const char *const[]){"ENG_ERR_AUTH", NULL});
    expect_file("out", "keep me", "a failed get");
    cr_assert_eq(count_names("out.cmk-get-"), 0, "temp file left behind");
}

/* Issue 17 item 25: get --offset past the end exited 0 with no output. */
Test(cmk, get_range_past_the_end_is_refused)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    cr_assert_eq(cmk("get s --offset 65537"), 2);
    expect_err(
        (const char *const[]){"cmk: get: --offset 65537 is past the end of the store (65536 bytes)",
                              "ENG_ERR_RANGE", NULL});
    cr_assert_eq(cmk("get s --offset 1G"), 2);
    expect_err((const char *const[]){
        "cmk: get: --offset 1073741824 is past the end of the store (65536 bytes)", NULL});
    cr_assert_eq(cmk("get s --offset 65530 --length 7"), 2);
    expect_err(
        (const char *const[]){"cmk: get: --offset 65530 --length 7 ends past the end of "
                              "the store (65536 bytes)",
                              "ENG_ERR_RANGE", NULL});
    cr_assert_eq(cmk("get s --length 18446744073709551615"), 2);
    expect_err((const char *const[]){"ends past the end of the store (65536 bytes)", NULL});
    char *o = slurp(out_path);
    cr_assert_str_eq(o, "", "a refused get wrote nothing");
    free(o);
    /* Exactly at the end: zero bytes, exit 0 (as `tail -c +N` past the last byte). */
    cr_assert_eq(cmk("get s --offset 65536"), 0);
    o = slurp(out_path);
    cr_assert_str_eq(o, "");
    free(o);
    cr_assert_eq(cmk("get s --offset 65530"), 0);
    size_t len;
    uint8_t *b = tl_read_file(out_path, &len);
    cr_assert_eq(len, 6, "the last 6 bytes");
    free(b);
    /* put: an empty input at an offset past the end exited 0 too. */
    cr_assert_eq(cmk("put s /dev/null --offset 65537"), 2);
    expect_err(
        (const char *const[]){"cmk: put: --offset 65537 is past the end of the store (65536 bytes)",
                              "ENG_ERR_RANGE", NULL});
    cr_assert_eq(cmk("put s /dev/null --offset 65536"), 0, "at the end: 0 bytes");
    /* Negative, signed, hex, overflowing, empty or trailing garbage: usage errors. */
    static const char *const bad[] = {"-1",
                                      "+5",
                                      "0x10",
                                      " 5",
                                      "",
                                      "5 ",
                                      "1x",
                                      "1KB",
                                      "1K1",
                                      "99999999999999999999999",
                                      "18014398509481984K"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cmk("get s --offset '%s'", bad[i]), 2, "--offset '%s'", bad[i]);
        expect_err((const char *const[]){"cmk: bad --offset", NULL});
        cr_assert_eq(cmk("get s --length '%s'", bad[i]), 2, "--length '%s'", bad[i]);
        expect_err((const char *const[]){"cmk: bad --length", NULL});
        cr_assert_eq(cmk("put s /dev/null --offset '%s'", bad[i]), 2, "put --offset '%s'", bad[i]);
        expect_err((const char *const[]){"cmk: bad --offset", NULL});
    }
}

/* Issue 17 item 5: 0640 and 0604 key files are refused through the CLI, naming file and mode. */
Test(cmk, loose_key_file_named_with_its_mode)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    char key[400];
    tl_path(key, sizeof(key), dir, "k.key");
    static const mode_t modes[] = {0640, 0604, 0644, 0660, 0601};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        cr_assert_eq(chmod(key, modes[i]), 0);
        cr_assert_eq(cmk("get s --length 1"), 3, "mode %04o", (unsigned)modes[i]);
        char want[64];
        snprintf(want, sizeof(want), "cmk: key file k.key has mode %04o", (unsigned)modes[i]);
        expect_err((const char *const[]){want, "(ENG_ERR_PERM_LOOSE)", NULL});
    }
    cr_assert_eq(chmod(key, 0400), 0);
    cr_assert_eq(cmk("get s --length 1"), 0, "0400 is private");
}

/*
 * Issue 17 item 5: the vault token file follows the key file's rule. The
 * token is read before any vault call, so no vault is needed: a refused
 * file exits 3 with the engine's code; an accepted one gets as far as the
 * (absent) vault at 127.0.0.1:9.
 */
static int cmk_token(const char *token_file)
{
    return cmk(
        "get s --length 1 --vault-url https://127.0.0.1:9 --vault-key k "
        "--vault-token-file %s",
        token_file);
}

Test(cmk, loose_token_file_is_refused)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    static const mode_t modes[] = {0644, 0640, 0604};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_text("t.token", "token-0123456789abcdef\n", modes[i]);
        cr_assert_eq(cmk_token("t.token"), 3, "mode %04o", (unsigned)modes[i]);
        char want[64];
        snprintf(want, sizeof(want), "cmk: token file t.token has mode %04o", (unsigned)modes[i]);
        expect_err((const char *const[]){want, "(ENG_ERR_PERM_LOOSE)", NULL});
    }
    write_text("t.token", "token-0123456789abcdef\n", 0600);
    /* Used: the run fails later, at the store (written under the SMK, not this vault key). */
    cr_assert_neq(cmk_token("t.token"), 3, "a private token file is used");
    char *e = slurp(err_path);
    cr_assert_null(strstr(e, "token file"), "%s", e);
    cr_assert_null(strstr(e, "ENG_ERR_PERM"), "%s", e);
    free(e);
    char p[400];
    tl_path(p, sizeof(p), dir, "t-link");
    cr_assert_eq(symlink("t.token", p), 0);
    cr_assert_eq(cmk_token("t-link"), 3);
    expect_err((const char *const[]){"cmk: token file t-link is a symbolic link, refused",
                                     "(ENG_ERR_KEK_FORBIDDEN)", NULL});
    tl_path(p, sizeof(p), dir, "t-fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    cr_assert_eq(cmk_token("t-fifo"), 1, "a FIFO is refused at once, not waited on");
    expect_err((const char *const[]){"cmk: token file t-fifo is not a regular file, refused",
                                     "(ENG_ERR_ARG)", NULL});
    if (geteuid() != 0) {
        cr_skip_test("chown to another user needs root");
    }
    tl_path(p, sizeof(p), dir, "t.token");
    cr_assert_eq(chown(p, 65534, 65534), 0);
    cr_assert_eq(cmk_token("t.token"), 3);
    expect_err((const char *const[]){"cmk: token file t.token has mode 0600 and owner uid 65534",
                                     "(ENG_ERR_PERM_OWNER)", NULL});
}
