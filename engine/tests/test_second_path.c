/*
 * test_second_path.c - a second test, on another path, for checks that
 * rested on a single test (issue 16, item 7: a planted bug on that one path
 * would have gone unnoticed). Each test names the first one it doubles:
 * library against CLI, XTS against GCM, store against backup.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_store.h"
#include "keytable_internal.h"
#include "store_helpers.h"

#ifndef CMK_BIN
#define CMK_BIN "bin/cmk"
#endif
#define UNIT 4096U

static char dir[256];
static char key_path[320], anchors[320], err_path[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "k.key");
    tl_path(anchors, sizeof(anchors), dir, "anchors");
    tl_path(err_path, sizeof(err_path), dir, "stderr");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(second_path, .init = setup, .fini = teardown);

/* Runs cmk with |args| in the test folder (key file k.key, anchors in "anchors"); its exit code. */
#define cmk(...) tl_cmk_run(CMK_BIN, dir, "--key-file k.key --anchor-dir anchors " __VA_ARGS__)

static void assert_stderr_has(const char *what, const char *when)
{
    size_t len;
    uint8_t *e = tl_read_file(err_path, &len);
    cr_assert_not_null(e);
    cr_assert_not_null(memmem(e, len, what, strlen(what)), "%s: stderr lacks \"%s\": %.*s", when,
                       what, (int)len, (const char *)e);
    free(e);
}

static void rel(char *out, size_t max, const char *name)
{
    tl_path(out, max, dir, name);
}

static void write_rel(const char *name, const void *data, size_t len)
{
    char p[400];
    rel(p, sizeof(p), name);
    cr_assert_eq(tl_write_file(p, data, len), 0);
}

static int exists_rel(const char *name)
{
    char p[400];
    rel(p, sizeof(p), name);
    return access(p, F_OK) == 0;
}

/* Two units of text, "second path " repeated. */
static void text(uint8_t out[2 * UNIT])
{
    static const char t[] = "second path ";
    for (size_t i = 0; i < 2 * UNIT; i++) {
        out[i] = (uint8_t)t[i % (sizeof(t) - 1)];
    }
}

/* A store |name| of 16 units of 4 KiB (4 per extent) holding text() in units 0..1. */
static void cli_store(const char *name, const char *mode)
{
    cr_assert_eq(
        cmk("create %s --mode %s --unit-size 4096 --size 64K --extent-units 4", name, mode), 0);
    uint8_t t[2 * UNIT];
    text(t);
    write_rel("text", t, sizeof(t));
    cr_assert_eq(cmk("put %s text", name), 0);
}

static void assert_cli_reads_text(const char *name)
{
    cr_assert_eq(cmk("get %s --length 8192 --force --output back", name), 0, "cmk get %s", name);
    char p[400];
    rel(p, sizeof(p), "back");
    size_t len;
    uint8_t *got = tl_read_file(p, &len);
    uint8_t want[2 * UNIT];
    text(want);
    cr_assert(got != NULL && len == sizeof(want) && memcmp(got, want, len) == 0,
              "%s does not read back", name);
    free(got);
}

/*
 * 1. A tampered key table. First: engine_test_store store/damaged_key_table_is_refused
 * (eng_store_open, XTS: a flipped bit, a cut, garbage). Here through the CLI on a GCM store,
 * and an edit whose SHA-256 is right but whose MAC is not (the attacker's own MAC key).
 */
Test(second_path, tampered_gcm_key_table_through_the_cli)
{
    cli_store("s", "gcm");
    char kt[400];
    rel(kt, sizeof(kt), "s/keytable");
    size_t len;
    uint8_t *orig = tl_read_file(kt, &len);
    cr_assert_not_null(orig);

    cr_assert_eq(tl_flip_bit(kt, len / 2, 3), 0);
    cr_assert_eq(cmk("get s --length 1 --force --output x"), 4, "a flipped bit");
    assert_stderr_has("(ENG_ERR_KEYTABLE_CORRUPT)", "a flipped bit");

    cr_assert_eq(tl_write_file(kt, orig, len - 40), 0);
    cr_assert_eq(cmk("get s --length 1 --force --output x"), 4, "a cut table");
    assert_stderr_has("(ENG_ERR_KEYTABLE_TRUNCATED)", "a cut table");

    /* revive nothing, just move extent 0's creation time: hash fine, MAC not */
    struct eng_keytable t;
    cr_assert_eq(eng_kt_parse(orig, len, &t), 0);
    t.records[0].created ^= 1;
    uint8_t other_mac[ENG_KT_MAC_BYTES] = {7};
    uint8_t *edit;
    size_t edit_len;
    cr_assert_eq(eng_kt_serialize(&t, other_mac, &edit, &edit_len), 0);
    eng_kt_cleanup(&t);
    cr_assert_eq(tl_write_file(kt, edit, edit_len), 0);
    free(edit);
    cr_assert_eq(cmk("get s --length 1 --force --output x"), 4, "an edit under another MAC key");
    assert_stderr_has("(ENG_ERR_KEYTABLE_AUTH)", "an edit under another MAC key");

    cr_assert_eq(tl_write_file(kt, orig, len), 0);
    free(orig);
    assert_cli_reads_text("s");
}

/*
 * 2 and 3. Key files 0640 and 0604. First: engine_test_store_cli
 * cmk/loose_key_file_named_with_its_mode (`cmk get`). Here every other command that uses the
 * key: each refused (exit 3, the file and its mode named), nothing made or changed.
 */
Test(second_path, loose_key_file_refused_by_every_command)
{
    cli_store("s", "xts");
    cr_assert_eq(cmk("backup s s.bak"), 0);
    static const mode_t modes[] = {0640, 0604};
    static const char *const cmds[] = {
        "put s text",          "backup s b2",  "restore s.bak r", "verify-backup s.bak",
        "create t --size 64K", "rotate-kek s", "rekey s 0",
    };
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        cr_assert_eq(chmod(key_path, modes[m]), 0);
        char want[64];
        snprintf(want, sizeof(want), "cmk: key file k.key has mode %04o", (unsigned)modes[m]);
        for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
            char when[96];
            snprintf(when, sizeof(when), "mode %04o: cmk %s", (unsigned)modes[m], cmds[c]);
            cr_assert_eq(cmk("%s", cmds[c]), 3, "%s", when);
            assert_stderr_has(want, when);
            assert_stderr_has("(ENG_ERR_PERM_LOOSE)", when);
        }
        cr_assert(!exists_rel("b2") && !exists_rel("r") && !exists_rel("t"),
                  "mode %04o: a refused command made a file", (unsigned)modes[m]);
    }
    cr_assert_eq(chmod(key_path, 0600), 0);
    assert_cli_reads_text("s");
    cr_assert_eq(cmk("restore s.bak r"), 0);
    assert_cli_reads_text("r");
}

/* A library store of 16 units of 4 KiB, 4 per extent, under k.key; closed. */
static struct eng_kek_provider *lib_store(const char *name, enum eng_mode mode,
                                          const char *anchor_dir)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p, "%s", eng_error_name(eng_errno()));
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = mode;
    cfg.unit_size = UNIT;
    cfg.num_units = 16;
    cfg.extent_units = 4;
    cfg.anchor_dir = anchor_dir;
    char path[400];
    rel(path, sizeof(path), name);
    struct eng_store *s = eng_store_create(path, p, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t t[2 * UNIT];
    text(t);
    cr_assert_eq(eng_store_write(s, 0, 2, t), 0, "%s", eng_error_name(eng_errno()));
    eng_store_close(s);
    return p;
}

static struct eng_store *lib_open(const char *name, struct eng_kek_provider *p,
                                  const char *anchor_dir)
{
    char path[400];
    rel(path, sizeof(path), name);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.anchor_dir = anchor_dir;
    return eng_store_open(path, p, &cfg);
}

static void assert_lib_reads_text(const char *name, struct eng_kek_provider *p,
                                  const char *anchor_dir)
{
    struct eng_store *s = lib_open(name, p, anchor_dir);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t got[2 * UNIT], want[2 * UNIT];
    text(want);
    cr_assert_eq(eng_store_read(s, 0, 2, got), 0);
    cr_assert_eq(memcmp(got, want, sizeof(got)), 0);
    eng_store_close(s);
}

/*
 * 4. An unusable freshness anchor (ENG_ERR_ANCHOR). First: engine_test_store_fresh
 * fresh/anchor_trust_on_first_use_and_its_folder_checks (through the CLI). Here through
 * eng_store_open with cfg.anchor_dir.
 */
Test(second_path, unusable_anchor_through_eng_store_open)
{
    struct eng_kek_provider *p = lib_store("s", ENG_MODE_XTS, anchors);
    struct stat st;
    cr_assert_eq(stat(anchors, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "the anchor folder is made private");
    cr_assert_eq(chmod(anchors, 0777), 0);
    cr_assert_null(lib_open("s", p, anchors), "an anchor folder others can write");
    cr_assert_eq(eng_errno(), ENG_ERR_ANCHOR, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(chmod(anchors, 0700), 0);
    /* a damaged anchor file */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "for f in %s/*; do printf garbage > \"$f\"; done", anchors);
    cr_assert_eq(system(cmd), 0);
    cr_assert_null(lib_open("s", p, anchors), "a damaged anchor file");
    cr_assert_eq(eng_errno(), ENG_ERR_ANCHOR, "got %s", eng_error_name(eng_errno()));
    /* an anchor "folder" that is a file */
    char file[400];
    rel(file, sizeof(file), "not-a-folder");
    cr_assert_eq(tl_write_file(file, "x", 1), 0);
    cr_assert_null(lib_open("s", p, file), "an anchor path that is a file");
    cr_assert_eq(eng_errno(), ENG_ERR_ANCHOR, "got %s", eng_error_name(eng_errno()));
    /* another (new) anchor folder: trust on first use, the store reads */
    char fresh[400];
    rel(fresh, sizeof(fresh), "anchors2");
    assert_lib_reads_text("s", p, fresh);
    eng_kek_provider_free(p);
}

/*
 * 5. ENG_ERR_READ_ONLY. First: engine_test_store_fresh
 * fresh/readers_share_the_store_writers_are_refused (write, rekey and rotate on a read-only
 * handle). Here the other two paths: create asked read-only, and the byte-granular write.
 */
Test(second_path, read_only_create_and_byte_write_refused)
{
    struct eng_kek_provider *p = lib_store("s", ENG_MODE_GCM, anchors);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.unit_size = UNIT;
    cfg.num_units = 16;
    cfg.anchor_dir = anchors;
    cfg.flags = ENG_STORE_READ_ONLY;
    char path[400];
    rel(path, sizeof(path), "new");
    cr_assert_null(eng_store_create(path, p, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_READ_ONLY, "got %s", eng_error_name(eng_errno()));
    cr_assert(!exists_rel("new"), "a refused create made the folder");
    rel(path, sizeof(path), "s");
    struct eng_store *s = eng_store_open(path, p, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t b[100];
    memset(b, 0x5A, sizeof(b));
    cr_assert_eq(eng_store_write_bytes(s, 10, b, sizeof(b)), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_READ_ONLY, "got %s", eng_error_name(eng_errno()));
    eng_store_close(s);
    assert_lib_reads_text("s", p, anchors);
    eng_kek_provider_free(p);
}

/*
 * 6. ENG_ERR_NOT_REGULAR. First: engine_test_store_cli cmk/fifo_in_place_of_a_file_is_refused
 * (through the CLI). Here through the library: a FIFO for the key table and for the data file
 * (eng_store_open), and for a backup (eng_backup_verify, eng_store_restore), refused at once.
 */
Test(second_path, fifo_in_place_of_a_file_through_the_library, .timeout = 60)
{
    struct eng_kek_provider *p = lib_store("s", ENG_MODE_XTS, anchors);
    static const char *const files[] = {"s/keytable", "s/data"};
    for (size_t i = 0; i < 2; i++) {
        char f[400], saved[400];
        rel(f, sizeof(f), files[i]);
        rel(saved, sizeof(saved), "saved");
        cr_assert_eq(rename(f, saved), 0);
        cr_assert_eq(mkfifo(f, 0600), 0);
        cr_assert_null(lib_open("s", p, anchors), "%s a FIFO", files[i]);
        cr_assert_eq(eng_errno(), ENG_ERR_NOT_REGULAR, "%s: got %s", files[i],
                     eng_error_name(eng_errno()));
        cr_assert_eq(unlink(f), 0);
        cr_assert_eq(rename(saved, f), 0);
    }
    char bk[400], out[400];
    rel(bk, sizeof(bk), "b.cmkb");
    rel(out, sizeof(out), "r");
    cr_assert_eq(mkfifo(bk, 0600), 0);
    cr_assert_eq(eng_backup_verify(bk, p), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NOT_REGULAR, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_restore(bk, out, p, NULL), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NOT_REGULAR, "got %s", eng_error_name(eng_errno()));
    cr_assert(!exists_rel("r"));
    assert_lib_reads_text("s", p, anchors);
    eng_kek_provider_free(p);
}

/*
 * 7. ENG_ERR_STORE_CORRUPT. First: engine_test_store_integrity integrity/missing_macs_is_refused
 * (an XTS store's `macs` file removed). Here a GCM store's cut `tags` file (library), and an
 * XTS store's cut `data` file (CLI: exit 4).
 */
Test(second_path, cut_tags_and_data_files_are_corrupt)
{
    struct eng_kek_provider *p = lib_store("g", ENG_MODE_GCM, anchors);
    char tags[400];
    rel(tags, sizeof(tags), "g/tags");
    size_t len;
    uint8_t *orig = tl_read_file(tags, &len);
    cr_assert_not_null(orig);
    cr_assert_eq(truncate(tags, (off_t)len - 1), 0);
    cr_assert_null(lib_open("g", p, anchors), "a tags file one byte short");
    cr_assert_eq(eng_errno(), ENG_ERR_STORE_CORRUPT, "got %s", eng_error_name(eng_errno()));
    cr_assert_eq(tl_write_file(tags, orig, len), 0);
    free(orig);
    assert_lib_reads_text("g", p, anchors);
    eng_kek_provider_free(p);

    cli_store("x", "xts");
    char data[400];
    rel(data, sizeof(data), "x/data");
    struct stat st;
    cr_assert_eq(stat(data, &st), 0);
    cr_assert_eq(truncate(data, st.st_size - UNIT), 0);
    cr_assert_eq(cmk("get x --length 1 --force --output y"), 4, "a data file one unit short");
    assert_stderr_has("(ENG_ERR_STORE_CORRUPT)", "a data file one unit short");
}
