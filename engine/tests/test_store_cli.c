/* test_store_cli.c - the cmk tool: commands, exit codes, one-line errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* A bind mount a test made (unmounted before the folder is removed, on every path). */
static char bind_mount[400];

static void teardown(void)
{
    if (bind_mount[0] != '\0') {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "umount '%s' 2>/dev/null", bind_mount);
        if (system(cmd) != 0) {
            fprintf(stderr, "test_store_cli: could not unmount %s\n", bind_mount);
        }
        bind_mount[0] = '\0';
    }
    tl_rmtree(dir);
}

TestSuite(cmk, .init = setup, .fini = teardown);

/* Runs |pre| (e.g. "cat in |" or "timeout 100", or "") cmk with |args|; returns its exit code. */
static int vcmk(const char *pre, const char *fmt, va_list ap)
{
    char args[1024];
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(args));
    const struct tl_cmk_io io = {.pre = pre};
    int rc = tl_cmk_run_io(CMK_BIN, dir, &io, "--key-file k.key %s", args);
    cr_assert_geq(rc, 0, "cmk did not run or did not exit normally");
    return rc;
}

/* Runs cmk with its standard output opened read-write on |file| (1<>), stderr as cmk() does. */
static int cmk_stdout(const char *file, const char *args)
{
    char out[320];
    snprintf(out, sizeof(out), "1<>%s", file);
    const struct tl_cmk_io io = {.out = out};
    int rc = tl_cmk_run_io(CMK_BIN, dir, &io, "--key-file k.key %s", args);
    cr_assert_geq(rc, 0, "cmk did not run or did not exit normally");
    return rc;
}

/* Runs cmk with |args| (in the test folder, key file k.key); returns its exit code. */
static int cmk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vcmk("", fmt, ap);
    va_end(ap);
    return rc;
}

/* cmk under `timeout 100`: a hang is exit 124 and leaves no process behind. */
static int cmk_deadline(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vcmk("timeout 100", fmt, ap);
    va_end(ap);
    return rc;
}

/* cmk with its stdin a pipe from `cat |file|`. */
static int cmk_piped(const char *file, const char *fmt, ...)
{
    char from[300];
    snprintf(from, sizeof(from), "cat %s |", file);
    va_list ap;
    va_start(ap, fmt);
    int rc = vcmk(from, fmt, ap);
    va_end(ap);
    return rc;
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

/*
 * Attack report B3: the "inside the store" check compared path strings, so
 * a bind mount of the store folder (or a hard link to a store file) let
 * get --output overwrite the key table (exit 0, then the store was lost).
 */
Test(cmk, get_output_into_a_hard_link_to_a_store_file_is_refused)
{
    cr_assert_eq(cmk("create s --mode gcm --size 64K --unit-size 4096"), 0);
    write_text("in", "precious data", 0600);
    cr_assert_eq(cmk("put s in"), 0);
    char kt[400], hl[400];
    tl_path(kt, sizeof(kt), dir, "s/keytable");
    tl_path(hl, sizeof(hl), dir, "kt-hard");
    cr_assert_eq(link(kt, hl), 0);
    cr_assert_eq(cmk("get s --length 16 --output kt-hard --force"), 2);
    expect_err((const char *const[]){
        "cmk: get: --output kt-hard is inside the store s; refused (it would overwrite the "
        "store's own files)",
        NULL});
    cr_assert_eq(unlink(hl), 0);
    expect_store_intact("precious data", 13);
}

Test(cmk, get_output_through_a_bind_mount_of_the_store_is_refused)
{
    cr_assert_eq(cmk("create s --mode gcm --size 64K --unit-size 4096"), 0);
    write_text("in", "precious data", 0600);
    cr_assert_eq(cmk("put s in"), 0);
    char bm[400], s_dir[400], cmd[1200];
    tl_path(bm, sizeof(bm), dir, "bm");
    tl_path(s_dir, sizeof(s_dir), dir, "s");
    cr_assert_eq(mkdir(bm, 0700), 0);
    snprintf(cmd, sizeof(cmd), "mount --bind '%s' '%s' 2>/dev/null", s_dir, bm);
    if (system(cmd) != 0) {
        cr_skip_test("mount --bind refused here (not root?): bind-mount case not run");
    }
    snprintf(bind_mount, sizeof(bind_mount), "%s", bm);
    static const char *const outs[] = {"bm/keytable", "bm/new-file", "bm/data"};
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        cr_assert_eq(cmk("get s --length 16 --output %s --force", outs[i]), 2, "%s", outs[i]);
        char want[300];
        snprintf(want, sizeof(want), "cmk: get: --output %s is inside the store s; refused",
                 outs[i]);
        expect_err((const char *const[]){want, NULL});
    }
    expect_store_intact("precious data", 13);
}

/*
 * Third adversarial pass: get --output onto the key file in use (with
 * --force) replaced it with plaintext, and every store under it was lost.
 * The key file, a hard link to it, and the freshness-anchor folder are
 * refused, by device and inode.
 */
Test(cmk, get_output_onto_the_key_file_is_refused)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    write_text("in", "fresh bytes", 0600);
    cr_assert_eq(cmk("put s in"), 0);
    char key[400], link_path[400], before[64];
    tl_path(key, sizeof(key), dir, "k.key");
    tl_path(link_path, sizeof(link_path), dir, "k.link");
    size_t klen = 0;
    uint8_t *k0 = tl_read_file(key, &klen);
    cr_assert_not_null(k0);
    cr_assert_eq(link(key, link_path), 0);
    static const char *const outs[] = {"k.key", "./k.key", "k.link"};
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        cr_assert_eq(cmk("get s --length 11 --output %s --force", outs[i]), 2, "%s", outs[i]);
        snprintf(before, sizeof(before), "cmk: get: --output %s is the key file in use; refused",
                 outs[i]);
        expect_err((const char *const[]){before, NULL});
    }
    size_t klen2 = 0;
    uint8_t *k1 = tl_read_file(key, &klen2);
    cr_assert(k1 != NULL && klen2 == klen && memcmp(k0, k1, klen) == 0, "the key file is intact");
    free(k0);
    free(k1);
    const char *anchors = getenv("CMK_ANCHOR_DIR");
    cr_assert(anchors != NULL && anchors[0] != '\0', "the tests keep anchors in their own folder");
    cr_assert_eq(cmk("get s --length 11 --output %s/x --force", anchors), 2);
    expect_err((const char *const[]){"is the freshness-anchor folder in use; refused", NULL});
    /* Standard output opened by the shell on a store file or the key file. */
    cr_assert_eq(cmk_stdout("s/data", "get s --length 11"), 2);
    expect_err(
        (const char *const[]){"cmk: get: standard output is a file of the store; refused", NULL});
    cr_assert_eq(cmk_stdout("k.key", "get s --length 11"), 2);
    expect_err((const char *const[]){"cmk: get: standard output is the key file; refused", NULL});
    cr_assert_eq(cmk("get s --length 11 --output out"), 0, "the store still reads");
    expect_file("out", "fresh bytes", "get after the refusals");
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
                                     "(ENG_ERR_NOT_REGULAR)", NULL});
    tl_path(p, sizeof(p), dir, "t-fifo");
    cr_assert_eq(mkfifo(p, 0600), 0);
    cr_assert_eq(cmk_token("t-fifo"), 3, "a FIFO is refused at once, not waited on");
    expect_err((const char *const[]){"cmk: token file t-fifo is not a regular file, refused",
                                     "(ENG_ERR_NOT_REGULAR)", NULL});
    if (geteuid() != 0) {
        cr_skip_test("chown to another user needs root");
    }
    tl_path(p, sizeof(p), dir, "t.token");
    cr_assert_eq(chown(p, 65534, 65534), 0);
    cr_assert_eq(cmk_token("t.token"), 3);
    expect_err((const char *const[]){"cmk: token file t.token has mode 0600 and owner uid 65534",
                                     "(ENG_ERR_PERM_OWNER)", NULL});
}

/* stderr holds |want| (the exact error); one line. */
static void assert_err(const char *want)
{
    char *e = slurp(err_path);
    cr_assert_not_null(strstr(e, want), "stderr: %s\nwant: %s", e, want);
    free(e);
    cr_assert_eq(err_lines(), 1);
}

static void data_unchanged(const char *path, const uint8_t *d0, size_t l0)
{
    size_t l1;
    uint8_t *d1 = tl_read_file(path, &l1);
    cr_assert(d1 != NULL && l1 == l0 && memcmp(d0, d1, l0) == 0, "the data file is unchanged");
    free(d1);
}

/*
 * Issue 17 item 11: a put that does not fit writes nothing, whether from a
 * file or stdin. The store is larger than cmk's 1 MiB I/O chunk, so a put
 * that wrote chunk by chunk would change the store before failing.
 */
Test(cmk, put_larger_than_the_store_writes_nothing)
{
    cr_assert_eq(cmk("create s --size 2M"), 0);
    write_random("big", 3 << 20);
    write_random("small", 1000);
    cr_assert_eq(cmk("get s --output before"), 0);
    char data[400];
    tl_path(data, sizeof(data), dir, "s/data");
    size_t l0;
    uint8_t *d0 = tl_read_file(data, &l0);
    cr_assert_not_null(d0);
    cr_assert_eq(cmk("put s big"), 1);
    data_unchanged(data, d0, l0);
    cr_assert_eq(cmk_piped("big", "put s -"), 1);
    data_unchanged(data, d0, l0);
    cr_assert_eq(cmk("put s big"), 1);
    assert_err(
        "cmk: put: big holds 3145728 bytes, more than the 2097152 bytes the store has from "
        "--offset 0 (capacity 2097152); nothing was written (ENG_ERR_RANGE)");
    cr_assert_eq(cmk("put s - <big"), 1);
    assert_err(
        "cmk: put: stdin holds 3145728 bytes, more than the 2097152 bytes the store has "
        "from --offset 0 (capacity 2097152); nothing was written (ENG_ERR_RANGE)");
    cr_assert_eq(cmk_piped("big", "put s -"), 1);
    assert_err(
        "cmk: put: stdin holds at least 3145728 bytes, more than the 2097152 bytes the "
        "store has from --offset 0 (capacity 2097152); nothing was written (ENG_ERR_RANGE)");
    cr_assert_eq(cmk("put s small --offset 2096200"), 1);
    assert_err("holds 1000 bytes, more than the 952 bytes the store has from --offset 2096200");
    cr_assert_eq(cmk_piped("small", "put s - --offset 2096200"), 1);
    assert_err("stdin holds at least 1000 bytes, more than the 952 bytes");
    cr_assert_eq(cmk("put s small --offset 3000000"), 2);
    assert_err(
        "cmk: put: --offset 3000000 is past the end of the store (2097152 bytes): data "
        "unit or byte range outside the store (ENG_ERR_RANGE)");
    data_unchanged(data, d0, l0);
    free(d0);
    cr_assert_eq(cmk("get s --output after"), 0);
    cr_assert(same_files("before", "after"));
    /* What fits still goes in, from a file and from stdin, up to the last byte. */
    cr_assert_eq(cmk("put s small --offset 2096152"), 0);
    cr_assert_eq(cmk("get s --offset 2096152 --output tail"), 0);
    cr_assert(same_files("small", "tail"));
    cr_assert_eq(cmk_piped("small", "put s - --offset 5"), 0);
    cr_assert_eq(cmk("get s --offset 5 --length 1000 --output mid"), 0);
    cr_assert(same_files("small", "mid"));
}

/* Issue 17 item 22: bad geometry names the option and its range, exit 2, nothing created. */
Test(cmk, bad_geometry_names_the_option_and_range)
{
    cr_assert_eq(cmk("create s --size 256K --unit-size 511"), 2);
    assert_err("cmk: --unit-size must be a power of two from 512 to 65536: 511");
    cr_assert_eq(cmk("create s --size 256K --unit-size 131072"), 2);
    assert_err("cmk: --unit-size must be a power of two from 512 to 65536: 131072");
    cr_assert_eq(cmk("create s --size 256K --extent-units 0"), 2);
    assert_err("cmk: --extent-units must be from 1 to 32 (the store's units): 0");
    cr_assert_eq(cmk("create s --size 256K --extent-units 67108864"), 2);
    assert_err("cmk: --extent-units must be from 1 to 32 (the store's units): 67108864");
    cr_assert_eq(cmk("create s --units 0"), 2);
    assert_err("cmk: --units must be a number of units, at least 1: 0");
    /* 2^34 units of 64 KiB: a data file over the library's 1 PiB limit. */
    cr_assert_eq(cmk("create s --units 17179869184 --unit-size 65536 --extent-units 1073741824"),
                 2);
    assert_err(
        "cmk: create: store geometry out of range (unit size 512..65536, a power of two; "
        "extent units 1..number of units; data file at most 1 PiB) (ENG_ERR_GEOMETRY)");
    char s_dir[400];
    tl_path(s_dir, sizeof(s_dir), dir, "s");
    cr_assert_neq(access(s_dir, F_OK), 0, "nothing created");
    /* The default extent of a small store is the whole store: no data file far over its size. */
    cr_assert_eq(cmk("create s --size 256K"), 0);
    char data[400];
    struct stat st;
    tl_path(data, sizeof(data), dir, "s/data");
    cr_assert_eq(stat(data, &st), 0);
    cr_assert_eq(st.st_size, 2 * 256 * 1024, "one extent and the spare slot");
}

/*
 * Attack report B5: a crashing cmk left a core dump holding the bearer token
 * and keys. cmk is now non-dumpable: killed with SIGSEGV while it waits on
 * its stdin (core_pattern "core", RLIMIT_CORE unlimited), it leaves no core.
 */
Test(cmk, cmk_leaves_no_core_dump, .timeout = 900)
{
    char pattern[64] = "";
    FILE *cp = fopen("/proc/sys/kernel/core_pattern", "r");
    if (cp == NULL || fgets(pattern, sizeof(pattern), cp) == NULL ||
        strcmp(pattern, "core\n") != 0) {
        if (cp != NULL) {
            fclose(cp);
        }
        cr_skip_test("core_pattern is not \"core\" here: core dump case not run");
    }
    fclose(cp);
    cr_assert_eq(cmk("create s --size 64K"), 0);
    char bin[1024], key[400];
    cr_assert_eq(tl_cmk_path(CMK_BIN, bin, sizeof(bin)), 0);
    tl_path(key, sizeof(key), dir, "k.key");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        if (chdir(dir) != 0 || setrlimit(RLIMIT_CORE, &rl) != 0 || dup2(fds[0], 0) != 0) {
            _exit(120);
        }
        close(fds[1]);
        /* Under ASan its own SIGSEGV handler would exit(1) instead of dying by the signal. */
        char asan[512];
        const char *prev = getenv("ASAN_OPTIONS");
        snprintf(asan, sizeof(asan), "%s%shandle_segv=0", prev != NULL ? prev : "",
                 prev != NULL && prev[0] != '\0' ? ":" : "");
        setenv("ASAN_OPTIONS", asan, 1);
        execl(bin, bin, "--key-file", key, "put", "s", "-", (char *)NULL);
        _exit(121);
    }
    close(fds[0]);
    /* Wait (generously) until cmk itself blocks reading its stdin: syscall 0 (read) on fd 0. */
    char sys_path[64];
    snprintf(sys_path, sizeof(sys_path), "/proc/%d/syscall", (int)pid);
    int reading = 0;
    for (int i = 0; i < 60000 && !reading; i++) {
        char line[128] = "";
        FILE *f = fopen(sys_path, "r");
        if (f != NULL) {
            reading = fgets(line, sizeof(line), f) != NULL && strncmp(line, "0 0x0 ", 6) == 0;
            fclose(f);
        }
        if (!reading) {
            struct timespec ms = {0, 1000000L};
            nanosleep(&ms, NULL);
        }
    }
    kill(pid, SIGSEGV);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    close(fds[1]);
    cr_assert(reading, "cmk never blocked on its stdin");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "cmk ended otherwise: %d", st);
    char core[400];
    tl_path(core, sizeof(core), dir, "core");
    int dumped = access(core, F_OK) == 0;
    unlink(core);
    cr_assert(!WCOREDUMP(st) && !dumped, "cmk left a core dump (it is dumpable)");
}

/* Attack report B7: --units near 2^64 wrapped the extent count (ENG_ERR_INTERNAL, exit 1). */
Test(cmk, huge_unit_count_is_a_geometry_error)
{
    static const char *const args[] = {"--units 18446744073709551615",
                                       "--units 18446744073709551615 --mode gcm --unit-size 4096",
                                       "--units 18446744073709551615 --extent-units 4096"};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        cr_assert_eq(cmk("create s %s", args[i]), 2, "%s", args[i]);
        assert_err(
            "cmk: create: store geometry out of range (unit size 512..65536, a power of "
            "two; extent units 1..number of units; data file at most 1 PiB) "
            "(ENG_ERR_GEOMETRY)");
    }
    char s_dir[400];
    tl_path(s_dir, sizeof(s_dir), dir, "s");
    cr_assert_neq(access(s_dir, F_OK), 0, "nothing created");
}

/* Attack report B7/B8: create wrote the data file until the disk was full (ENG_ERR_IO, no name). */
Test(cmk, create_checks_free_space_first)
{
    char fs[400], cmd[1200];
    tl_path(fs, sizeof(fs), dir, "small");
    cr_assert_eq(mkdir(fs, 0700), 0);
    snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=256k tmpfs '%s' 2>/dev/null", fs);
    if (system(cmd) != 0) {
        cr_skip_test("mount -t tmpfs refused here (not root?): free-space case not run");
    }
    snprintf(bind_mount, sizeof(bind_mount), "%s", fs);
    cr_assert_eq(cmk("create small/s --size 1M --unit-size 4096"), 1);
    assert_err("cmk: create: small/s/data: needs 2097152 bytes, ");
    assert_err(" free: no space left on device (disk full or quota reached) (ENG_ERR_NO_SPACE)");
    char s_dir[400];
    tl_path(s_dir, sizeof(s_dir), dir, "small/s");
    cr_assert_neq(access(s_dir, F_OK), 0, "a failed create leaves nothing");
    cr_assert_eq(cmk("create small/s --size 32K --unit-size 4096"), 0, "a store that fits");
}

/* Attack report B1: a FIFO in place of the lock file hung status, get and backup. */
Test(cmk, fifo_in_place_of_the_lock_is_refused, .timeout = 900)
{
    cr_assert_eq(cmk("create s --mode gcm --size 64K --unit-size 4096"), 0);
    char lock[400];
    tl_path(lock, sizeof(lock), dir, "s/lock");
    cr_assert_eq(unlink(lock), 0);
    cr_assert_eq(mkfifo(lock, 0600), 0);
    static const char *const cmds[] = {"status s", "get s --length 16 --wait 0", "backup s b.cmkb",
                                       "put s k.key"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        cr_assert_eq(cmk_deadline("%s", cmds[i]), 1, "%s", cmds[i]);
        expect_err((const char *const[]){
            "s/lock: not a regular file (a FIFO, device, folder or symbolic link stands in its "
            "place) (ENG_ERR_NOT_REGULAR)",
            NULL});
    }
    cr_assert_eq(unlink(lock), 0);
    cr_assert_eq(cmk("status s"), 0, "the lock file is made again when missing");
}

/* Issue 17 item 15: a FIFO in place of a store or key file is refused at once, by name. */
Test(cmk, fifo_in_place_of_a_file_is_refused, .timeout = 900)
{
    cr_assert_eq(cmk("create s --size 64K"), 0);
    char kt[400], key[400], saved[400];
    tl_path(kt, sizeof(kt), dir, "s/keytable");
    tl_path(key, sizeof(key), dir, "k.key");
    tl_path(saved, sizeof(saved), dir, "saved");
    cr_assert_eq(rename(kt, saved), 0);
    cr_assert_eq(mkfifo(kt, 0600), 0);
    cr_assert_eq(cmk_deadline("get s --length 10"), 1);
    assert_err(
        "cmk: open: s/keytable: not a regular file (a FIFO, device, folder or symbolic "
        "link stands in its place) (ENG_ERR_NOT_REGULAR)");
    cr_assert_eq(unlink(kt), 0);
    cr_assert_eq(rename(saved, kt), 0);
    char data[400];
    tl_path(data, sizeof(data), dir, "s/data");
    cr_assert_eq(rename(data, saved), 0);
    cr_assert_eq(mkfifo(data, 0600), 0);
    cr_assert_eq(cmk_deadline("get s --length 10"), 1);
    assert_err("cmk: open: s/data: not a regular file");
    cr_assert_eq(unlink(data), 0);
    cr_assert_eq(rename(saved, data), 0);
    cr_assert_eq(cmk("backup s b.cmkb"), 0);
    char bk[400];
    tl_path(bk, sizeof(bk), dir, "b.cmkb");
    cr_assert_eq(unlink(bk), 0);
    cr_assert_eq(mkfifo(bk, 0600), 0);
    cr_assert_eq(cmk_deadline("verify-backup b.cmkb"), 1);
    assert_err("cmk: verify-backup: b.cmkb: not a regular file");
    cr_assert_eq(rename(key, saved), 0);
    cr_assert_eq(mkfifo(key, 0600), 0);
    cr_assert_eq(cmk_deadline("get s --length 10"), 3);
    assert_err(
        "cmk: key file k.key is not a regular file, refused (give a regular file): not a "
        "regular file (a FIFO, device, folder or symbolic link stands in its place) "
        "(ENG_ERR_NOT_REGULAR)");
    cr_assert_eq(cmk_deadline("get s --length 10 --vault-url https://127.0.0.1:1 --vault-key k "
                              "--vault-token-file k.key"),
                 3);
    assert_err(
        "cmk: token file k.key is not a regular file, refused (give a regular file): not "
        "a regular file (a FIFO, device, folder or symbolic link stands in its place) "
        "(ENG_ERR_NOT_REGULAR)");
    cr_assert_eq(unlink(key), 0);
    cr_assert_eq(symlink("saved", key), 0); /* attack report B7: a symlinked key file */
    cr_assert_eq(cmk_deadline("get s --length 10"), 3);
    assert_err(
        "cmk: key file k.key is a symbolic link, refused (give a regular file): not a "
        "regular file (a FIFO, device, folder or symbolic link stands in its place) "
        "(ENG_ERR_NOT_REGULAR)");
    cr_assert_eq(cmk_deadline("status s"), 3);
    assert_err("cmk: key file k.key is a symbolic link, refused (give a regular file)");
    cr_assert_eq(unlink(key), 0);
    cr_assert_eq(rename(saved, key), 0);
    cr_assert_eq(cmk("get s --length 10 --output x"), 0, "the store is intact");
}

/* Issue 17 item 8: an XTS store made with --integrity hmac-sha256 gives exit 4 for changed data. */
Test(cmk, xts_integrity_option_gives_exit_4)
{
    cr_assert_eq(cmk("create s --size 64K --unit-size 4096 --extent-units 4 --integrity "
                     "hmac-sha256"),
                 0);
    write_random("in", 65536);
    cr_assert_eq(cmk("put s in"), 0);
    cr_assert_eq(cmk("get s --output out"), 0);
    cr_assert(same_files("in", "out"), "an untouched store reads back");
    char out_file[400];
    tl_path(out_file, sizeof(out_file), dir, "out");
    cr_assert_eq(unlink(out_file), 0, "the later get writes a new out");
    cJSON *j = status_json("s");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "integrity")->valuestring, "hmac-sha256");
    cJSON_Delete(j);
    char data[400];
    tl_path(data, sizeof(data), dir, "s/data");
    cr_assert_eq(tl_flip_bit(data, 5000, 2), 0);
    cr_assert_eq(cmk("get s --output x"), 4);
    assert_err("cmk: get: authentication failed (ENG_ERR_AUTH)");
    cr_assert_eq(cmk("get s --offset 8192 --length 4096 --output x"), 0, "other units read");
    cr_assert_eq(tl_flip_bit(data, 5000, 2), 0);
    cr_assert_eq(cmk("get s --output out"), 0);
    cr_assert(same_files("in", "out"));
    cr_assert_eq(cmk("create g --size 64K --mode gcm --integrity hmac-sha256"), 2);
    assert_err(
        "cmk: --integrity hmac-sha256 is for --mode xts (gcm authenticates every unit "
        "already): hmac-sha256");
    cr_assert_eq(cmk("create g --size 64K --integrity crc32"), 2);
    assert_err("cmk: --integrity must be none or hmac-sha256: crc32");
    cr_assert_eq(cmk("help"), 0);
    char *o = slurp(out_path);
    cr_assert_not_null(strstr(o, "NOT detect changed, swapped or moved units"));
    cr_assert_not_null(strstr(o, "--integrity none|hmac-sha256"));
    free(o);
}

/* Issue 17 item 20: any byte of a backup's header damaged gives the integrity error, exit 4. */
Test(cmk, every_backup_header_byte_flip_is_an_integrity_error, .timeout = 600)
{
    cr_assert_eq(cmk("create s --size 64K --unit-size 4096"), 0);
    write_random("in", 65536);
    cr_assert_eq(cmk("put s in"), 0);
    cr_assert_eq(cmk("backup s b.cmkb"), 0);
    char bk[400];
    tl_path(bk, sizeof(bk), dir, "b.cmkb");
    size_t len;
    uint8_t *orig = tl_read_file(bk, &len);
    cr_assert_not_null(orig);
    uint32_t hlen = ((uint32_t)orig[8] << 24) | ((uint32_t)orig[9] << 16) |
                    ((uint32_t)orig[10] << 8) | orig[11];
    cr_assert(hlen > 100 && hlen < 4096 && len > 4096 + hlen, "a header, then more than 4 KiB");
    uint8_t *b = malloc(len);
    for (uint32_t i = 0; i < hlen; i++) {
        memcpy(b, orig, len);
        b[i] ^= (uint8_t)(1u << (i % 8)); /* one byte changed, a different bit each time */
        cr_assert_eq(tl_write_file(bk, b, len), 0);
        cr_assert_eq(cmk("verify-backup b.cmkb"), 4, "header byte %u", i);
        char *e = slurp(err_path);
        cr_assert_not_null(strstr(e, "(ENG_ERR_BACKUP_CORRUPT)"), "header byte %u: %s", i, e);
        cr_assert_null(strstr(e, "KEK"), "header byte %u: %s", i, e);
        free(e);
    }
    cr_assert_eq(tl_write_file(bk, orig, len), 0);
    cr_assert_eq(cmk("verify-backup b.cmkb"), 0, "the untouched backup verifies");
    free(b);
    free(orig);
}
