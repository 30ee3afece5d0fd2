/*
 * test_store_fresh.c - freshness of the store (eng_store.h "GCM nonces",
 * "Freshness", "Locks"): no GCM nonce repeats when a folder is copied or a
 * file restored; DEKs re-keyed before their invocation limit; stores made
 * before random nonces still open; a rolled-back key table is refused, and
 * each claim of the attacker model holds; shared read locks, --wait, and
 * read-only commands that write nothing.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eng_store.h"
#include "keytable_internal.h"
#include "store_helpers.h"
#include "store_internal.h"

#ifndef CMK_BIN
#define CMK_BIN "bin/cmk"
#endif
#define FIXTURE "engine/tests/data/legacy-gcm-v1"
#define UNIT    4096U

static char dir[256];
static char key_path[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "k.key");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(fresh, .init = setup, .fini = teardown);

/* Runs cmk with |args| in the test folder (key file k.key); returns its exit code. */
#define cmk(...) tl_cmk_exit(CMK_BIN, dir, "--key-file k.key " __VA_ARGS__)

/* Runs a shell command in the test folder; asserts it succeeds. */
static void sh(const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "cd %s && %s", dir, args);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static uint8_t *read_rel(const char *name, size_t *len)
{
    char p[400];
    tl_path(p, sizeof(p), dir, name);
    uint8_t *b = tl_read_file(p, len);
    cr_assert_not_null(b, "cannot read %s", p);
    return b;
}

static void write_rel(const char *name, const void *data, size_t len)
{
    char p[400];
    tl_path(p, sizeof(p), dir, name);
    cr_assert_eq(tl_write_file(p, data, len), 0);
}

static void assert_stderr_has(const char *what)
{
    size_t len;
    uint8_t *e = read_rel("stderr", &len);
    cr_assert_not_null(memmem(e, len, what, strlen(what)), "stderr lacks %s: %.*s", what, (int)len,
                       (const char *)e);
    free(e);
}

/* A unit of text, different per |tag|. */
static void text_unit(uint8_t *out, const char *tag)
{
    for (size_t i = 0; i < UNIT; i++) {
        out[i] = (uint8_t)tag[i % strlen(tag)];
    }
}

static void write_unit_file(const char *name, const char *tag)
{
    uint8_t u[UNIT];
    if (tag == NULL) {
        memset(u, 0, sizeof(u));
    } else {
        text_unit(u, tag);
    }
    write_rel(name, u, sizeof(u));
}

/* Byte offset of unit 0 in |store|/data: its extent's slot, read from `cmk status --json`. */
static uint64_t unit0_offset(const char *store)
{
    cr_assert_eq(cmk("status %s --json", store), 0);
    size_t len;
    uint8_t *text = read_rel("stdout", &len);
    cJSON *j = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    cr_assert_not_null(j);
    uint64_t off = UINT64_MAX;
    cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "deks"))
    {
        if (cJSON_GetObjectItem(d, "extent")->valueint == 0 &&
            strcmp(cJSON_GetObjectItem(d, "state")->valuestring, "active") == 0) {
            off = (uint64_t)cJSON_GetObjectItem(d, "slot")->valueint *
                  (uint64_t)cJSON_GetObjectItem(j, "extent_units")->valueint * UNIT;
        }
    }
    cJSON_Delete(j);
    cr_assert_neq(off, UINT64_MAX);
    return off;
}

/* Unit 0's ciphertext and nonce in |store| (GCM; unit 0 is its slot's first unit). */
static void unit0_cipher(const char *store, uint8_t ct[UNIT], uint8_t nonce[12])
{
    uint64_t off = unit0_offset(store);
    char name[64];
    size_t len;
    snprintf(name, sizeof(name), "%s/data", store);
    uint8_t *d = read_rel(name, &len);
    cr_assert_geq(len, off + UNIT);
    memcpy(ct, d + off, UNIT);
    free(d);
    snprintf(name, sizeof(name), "%s/tags", store);
    d = read_rel(name, &len);
    uint64_t rec = off / UNIT * 28;
    cr_assert_geq(len, rec + 28);
    memcpy(nonce, d + rec, 12);
    free(d);
}

/* Asserts that two encryptions of unit 0 used different nonces and do not leak |secret|. */
static void assert_no_keystream_reuse(const uint8_t ct_a[UNIT], const uint8_t na[12],
                                      const uint8_t ct_b[UNIT], const uint8_t nb[12],
                                      const uint8_t secret[UNIT])
{
    cr_assert_neq(memcmp(na, nb, 12), 0, "the two unit-0 nonces are equal");
    uint8_t x[UNIT];
    for (size_t i = 0; i < UNIT; i++) {
        x[i] = ct_a[i] ^ ct_b[i];
    }
    cr_assert_neq(memcmp(x, secret, UNIT), 0, "XOR of the two ciphertexts is the secret");
}

/* --- item 3: GCM nonces ------------------------------------------------------ */

/* The reproduction: cp -a gA gB, zeros into gA, a secret into gB. */
Test(fresh, gcm_copied_folder_never_reuses_a_nonce)
{
    cr_assert_eq(cmk("create gA --mode gcm --unit-size 4096 --size 64K --extent-units 4"), 0);
    sh("cp -a gA gB");
    write_unit_file("zeros", NULL);
    write_unit_file("secret", "attack at dawn; the vault code is 4711. ");
    cr_assert_eq(cmk("put gA zeros"), 0);
    cr_assert_eq(cmk("put gB secret"), 0, "a copy at another path is not a rollback");
    uint8_t ca[UNIT], cb[UNIT], na[12], nb[12], secret[UNIT];
    unit0_cipher("gA", ca, na);
    unit0_cipher("gB", cb, nb);
    text_unit(secret, "attack at dawn; the vault code is 4711. ");
    assert_no_keystream_reuse(ca, na, cb, nb, secret);
    cr_assert_eq(cmk("get gB --length 4096 --output back"), 0);
    size_t len;
    uint8_t *back = read_rel("back", &len);
    cr_assert(len == UNIT && memcmp(back, secret, UNIT) == 0);
    free(back);
}

/* Restoring the folder's old `nonce` file (stores that have one) brings no nonce back. */
Test(fresh, gcm_restored_nonce_file_never_reuses_a_nonce)
{
    cr_assert_eq(cmk("create g --mode gcm --unit-size 4096 --size 64K --extent-units 4"), 0);
    char nonce[400];
    tl_path(nonce, sizeof(nonce), dir, "g/nonce");
    int had = access(nonce, F_OK) == 0;
    if (had) {
        sh("cp -a g/nonce nonce.saved");
    }
    write_unit_file("zeros", NULL);
    write_unit_file("secret", "the password is hunter2, ");
    cr_assert_eq(cmk("put g zeros"), 0);
    uint8_t ca[UNIT], cb[UNIT], na[12], nb[12], secret[UNIT];
    unit0_cipher("g", ca, na);
    if (had) {
        sh("cp -a nonce.saved g/nonce");
    }
    cr_assert_eq(cmk("put g secret"), 0);
    unit0_cipher("g", cb, nb);
    text_unit(secret, "the password is hunter2, ");
    assert_no_keystream_reuse(ca, na, cb, nb, secret);
}

static struct eng_kek_provider *smk_at(const char *path)
{
    struct eng_kek_provider *p = eng_smk_open(path, 1);
    cr_assert_not_null(p, "%s", eng_error_name(eng_errno()));
    return p;
}

/* Counts the key table's records and checks every GCM DEK stayed within |limit|. */
static uint32_t records_within(const char *store, uint64_t limit)
{
    char p[400];
    tl_path(p, sizeof(p), store, "keytable");
    struct eng_keytable kt;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cr_assert_eq(eng_kt_load(p, &kt, &raw, &raw_len), 0, "%s", eng_error_name(eng_errno()));
    for (uint32_t i = 0; i < kt.num_records; i++) {
        cr_assert_leq(kt.records[i].invocations, limit, "DEK %u past its limit",
                      kt.records[i].dek_id);
    }
    uint32_t n = kt.num_records;
    free(raw);
    eng_kt_cleanup(&kt);
    return n;
}

Test(fresh, gcm_dek_rekeyed_before_its_invocation_limit)
{
    char store[400];
    tl_path(store, sizeof(store), dir, "s");
    struct eng_kek_provider *p = smk_at(key_path);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = ENG_MODE_GCM;
    cfg.unit_size = 512;
    cfg.num_units = 8;
    cfg.extent_units = 4;
    struct eng_store *s = eng_store_create(store, p, &cfg);
    cr_assert_not_null(s);
    cr_assert_eq(st_set_dek_limit(s, 7), -1, "below twice the extent");
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    cr_assert_eq(st_set_dek_limit(s, 8), 0);
    const int writes = 40;
    uint8_t nonces[40][12], unit[512];
    char tags[400];
    tl_path(tags, sizeof(tags), store, "tags");
    for (int i = 0; i < writes; i++) {
        memset(unit, i, sizeof(unit));
        cr_assert_eq(eng_store_write(s, 1, 1, unit), 0, "%s", eng_error_name(eng_errno()));
        uint64_t data_off = 0;
        struct eng_store_dek d;
        struct eng_store_info info;
        eng_store_get_info(s, &info);
        for (uint32_t r = 0; r < info.num_records; r++) {
            cr_assert_eq(eng_store_dek_info(s, r, &d), 0);
            if (d.active && d.extent == 0) {
                data_off = (uint64_t)d.slot * 4 + 1;
            }
        }
        size_t len;
        uint8_t *t = tl_read_file(tags, &len);
        cr_assert_not_null(t);
        memcpy(nonces[i], t + data_off * 28, 12);
        free(t);
        cr_assert_leq(records_within(store, 8), 2U + (uint32_t)writes);
    }
    for (int i = 0; i < writes; i++) {
        for (int j = 0; j < i; j++) {
            cr_assert_neq(memcmp(nonces[i], nonces[j], 12), 0, "nonce %d repeats %d", i, j);
        }
    }
    /* Extent 0 starts with 4 encryptions (the fill): a new DEK about every 4 writes. */
    uint32_t n = records_within(store, 8);
    cr_assert_geq(n, 2U + 8U, "extent 0 re-keyed as its DEKs reached the limit (%u records)", n);
    eng_store_close(s);
    s = eng_store_open(store, p, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(eng_store_read(s, 1, 1, unit), 0);
    for (size_t i = 0; i < sizeof(unit); i++) {
        cr_assert_eq(unit[i], (uint8_t)(writes - 1));
    }
    eng_store_close(s);
    eng_kek_provider_free(p);
}

/* Copies the fixture (made by e6ae533's cmk: key table version 1 and a `nonce` file) to |store|. */
static void copy_legacy_fixture(const char *store)
{
    static const char *const names[] = {"keytable", "data", "tags", "nonce", "lock"};
    cr_assert_eq(mkdir(store, 0700), 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char from[400], to[400];
        size_t len;
        tl_path(from, sizeof(from), FIXTURE, names[i]);
        tl_path(to, sizeof(to), store, names[i]);
        uint8_t *b = tl_read_file(from, &len);
        cr_assert_not_null(b, "fixture %s", from);
        int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
        cr_assert(fd >= 0 && write(fd, b, len) == (ssize_t)len && close(fd) == 0);
        free(b);
    }
    size_t len;
    uint8_t *k = tl_read_file(FIXTURE ".smk.key", &len);
    cr_assert_not_null(k);
    int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0 && write(fd, k, len) == (ssize_t)len && close(fd) == 0);
    free(k);
}

Test(fresh, legacy_gcm_store_reads_and_rekeys_before_its_first_write)
{
    char store[400];
    tl_path(store, sizeof(store), dir, "old");
    copy_legacy_fixture(store);
    size_t plain_len, nonce_len;
    uint8_t *plain = tl_read_file(FIXTURE ".plain", &plain_len);
    uint8_t *nonce_before = read_rel("old/nonce", &nonce_len);
    cr_assert_eq(plain_len, 4096U);
    cr_assert_eq(cmk("get old --output back"), 0, "the CLI reads an old store");
    size_t len;
    uint8_t *back = read_rel("back", &len);
    cr_assert(len == plain_len && memcmp(back, plain, len) == 0);
    free(back);
    struct eng_kek_provider *p = smk_at(key_path);
    struct eng_store *s = eng_store_open(store, p, NULL);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    struct eng_store_dek before, after;
    cr_assert_eq(eng_store_dek_info(s, 0, &before), 0);
    uint8_t unit[512];
    memset(unit, 0xA5, sizeof(unit));
    cr_assert_eq(eng_store_write(s, 1, 1, unit), 0, "%s", eng_error_name(eng_errno()));
    memcpy(plain + 512, unit, 512);
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    cr_assert_eq(info.num_records, 3U, "extent 0 got a new DEK before its first new nonce");
    cr_assert_eq(eng_store_dek_info(s, 0, &after), 0);
    cr_assert_eq(after.active, 0, "the old DEK is retired");
    cr_assert_eq(after.dek_id, before.dek_id);
    eng_store_close(s);
    s = eng_store_open(store, p, NULL);
    cr_assert_not_null(s);
    uint8_t got[4096];
    cr_assert_eq(eng_store_read(s, 0, 8, got), 0);
    cr_assert_eq(memcmp(got, plain, sizeof(got)), 0);
    eng_store_close(s);
    uint8_t *kt = read_rel("old/keytable", &len);
    cr_assert_eq(memcmp(kt, "CMKKT002", 8), 0, "written back as version 2");
    free(kt);
    uint8_t *nonce_after = read_rel("old/nonce", &len);
    cr_assert(len == nonce_len && memcmp(nonce_before, nonce_after, len) == 0,
              "the old nonce file is neither read nor written");
    free(nonce_before);
    free(nonce_after);
    free(plain);
    eng_kek_provider_free(p);
}

/* --- item 7: key-table rollback and the attacker model ----------------------- */

static void assert_file_is(const char *name, const char *other)
{
    size_t la, lb;
    uint8_t *a = read_rel(name, &la), *b = read_rel(other, &lb);
    cr_assert(la == lb && memcmp(a, b, la) == 0, "%s differs from %s", name, other);
    free(a);
    free(b);
}

/* Store "s" (16 units of 4 KiB, 4 per extent) holding unit file "old"; "new" made too. */
static void store_with_old_and_new(const char *mode, const char *old_text, const char *new_text)
{
    cr_assert_eq(cmk("create s --mode %s --unit-size 4096 --size 64K --extent-units 4", mode), 0);
    write_unit_file("old", old_text);
    write_unit_file("new", new_text);
    cr_assert_eq(cmk("put s old"), 0);
}

static void rollback_refused(const char *mode)
{
    store_with_old_and_new(mode, "old data, before the re-key. ", "new data, after the re-key.. ");
    sh("cp -a s/keytable keytable.old");
    cr_assert_eq(cmk("rekey s 0"), 0);
    cr_assert_eq(cmk("rekey s 1"), 0, "extent 1 takes the slot extent 0 left");
    cr_assert_eq(cmk("put s new"), 0);
    sh("cp -a s/keytable keytable.new");
    sh("cp keytable.old s/keytable");
    cr_assert_eq(cmk("get s --length 4096 --force --output x"), 4);
    assert_stderr_has("ENG_ERR_KEYTABLE_ROLLBACK");
    cr_assert_eq(cmk("status s"), 4);
    cr_assert_eq(cmk("put s old"), 4, "nothing is written under a rolled-back table");
    sh("cp keytable.new s/keytable");
    cr_assert_eq(cmk("get s --length 4096 --force --output x"), 0, "the newest table still opens");
    assert_file_is("x", "new");
}

Test(fresh, rolled_back_key_table_is_refused_xts)
{
    rollback_refused("xts");
}

Test(fresh, rolled_back_key_table_is_refused_gcm)
{
    rollback_refused("gcm");
}

/* The whole folder put back as it was before the latest write: the write session counts. */
static void folder_rollback_refused(const char *mode)
{
    store_with_old_and_new(mode, "balance: 1,000,000. ", "balance: 0......... ");
    sh("cp -a s s.copy");
    cr_assert_eq(cmk("put s new"), 0);
    sh("rm -rf s && cp -a s.copy s");
    cr_assert_eq(cmk("get s --length 4096 --force --output x"), 4);
    assert_stderr_has("ENG_ERR_KEYTABLE_ROLLBACK");
}

Test(fresh, rolled_back_folder_is_refused_xts)
{
    folder_rollback_refused("xts");
}

Test(fresh, rolled_back_folder_is_refused_gcm)
{
    folder_rollback_refused("gcm");
}

/* Writes unit 0's saved ciphertext (and, GCM, its nonce|tag record) back at |off| in "s". */
static void put_back_unit0(uint64_t off, const uint8_t ct[UNIT], const uint8_t rec[28], int gcm)
{
    char p[400];
    tl_path(p, sizeof(p), dir, "s/data");
    int fd = open(p, O_WRONLY);
    cr_assert(fd >= 0 && pwrite(fd, ct, UNIT, (off_t)off) == (ssize_t)UNIT);
    close(fd);
    if (gcm) {
        tl_path(p, sizeof(p), dir, "s/tags");
        fd = open(p, O_WRONLY);
        cr_assert(fd >= 0 && pwrite(fd, rec, 28, (off_t)(off / UNIT * 28)) == 28);
        close(fd);
    }
}

/* What the attacker model says an attacker CAN do: replay one unit under its still-active DEK. */
static void unit_replay_goes_unnoticed(const char *mode, int gcm)
{
    store_with_old_and_new(mode, "pay 10 to bob. ", "pay 0 to bob.. ");
    uint64_t off = unit0_offset("s");
    size_t len;
    uint8_t *data = read_rel("s/data", &len);
    uint8_t *tags = gcm ? read_rel("s/tags", &len) : NULL;
    uint8_t old_ct[UNIT], old_rec[28] = {0};
    memcpy(old_ct, data + off, UNIT);
    if (gcm) {
        memcpy(old_rec, tags + off / UNIT * 28, 28);
    }
    free(data);
    free(tags);
    cr_assert_eq(cmk("put s new"), 0);
    put_back_unit0(off, old_ct, old_rec, gcm);
    cr_assert_eq(cmk("get s --length 4096 --force --output x"), 0,
                 "documented: a unit replay is not seen");
    assert_file_is("x", "old");
    /* After a re-key the old unit no longer decrypts: GCM says so, XTS reads garbage. */
    cr_assert_eq(cmk("put s new"), 0);
    cr_assert_eq(cmk("rekey s 0"), 0);
    put_back_unit0(unit0_offset("s"), old_ct, old_rec, gcm);
    if (gcm) {
        cr_assert_eq(cmk("get s --length 4096 --force --output x"), 4);
        assert_stderr_has("ENG_ERR_AUTH");
    } else {
        cr_assert_eq(cmk("get s --length 4096 --force --output x"), 0,
                     "documented: XTS has no integrity");
        size_t xl;
        uint8_t *x = read_rel("x", &xl);
        uint8_t want[UNIT];
        text_unit(want, "pay 10 to bob. ");
        cr_assert_neq(memcmp(x, want, UNIT), 0, "not the old data under the new DEK");
        free(x);
    }
}

Test(fresh, attacker_can_replay_a_unit_under_its_active_dek_xts)
{
    unit_replay_goes_unnoticed("xts", 0);
}

Test(fresh, attacker_can_replay_a_unit_under_its_active_dek_gcm)
{
    unit_replay_goes_unnoticed("gcm", 1);
}

Test(fresh, attacker_can_delete_the_store)
{
    cr_assert_eq(cmk("create s --size 64K --unit-size 4096"), 0);
    sh("rm s/keytable");
    cr_assert_eq(cmk("get s --length 1 --force --output x"), 1);
    assert_stderr_has("ENG_ERR_NO_STORE");
}

/* Without its anchor a store is trusted on first use; a private anchor folder is required. */
Test(fresh, anchor_trust_on_first_use_and_its_folder_checks)
{
    cr_assert_eq(cmk("--anchor-dir anchors create s --size 64K --unit-size 4096 --extent-units 4"),
                 0);
    write_unit_file("old", "first. ");
    write_unit_file("new", "second ");
    cr_assert_eq(cmk("--anchor-dir anchors put s old"), 0);
    sh("cp -a s/keytable keytable.old");
    cr_assert_eq(cmk("--anchor-dir anchors rekey s 0"), 0);
    cr_assert_eq(cmk("--anchor-dir anchors put s new"), 0);
    sh("cp keytable.old s/keytable");
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 4096 --force --output x"), 4);
    /* The anchor gone (or another anchor folder): the old table is trusted, as documented. */
    cr_assert_eq(cmk("--anchor-dir other get s --length 4096 --force --output x"), 0);
    assert_file_is("x", "old");
    sh("rm -rf anchors");
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 4096 --force --output x"), 0);
    struct stat st;
    char a[400];
    tl_path(a, sizeof(a), dir, "anchors");
    cr_assert_eq(stat(a, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "anchor folder made private");
    /* Folder others can write, or a damaged anchor: refused, named. */
    cr_assert_eq(chmod(a, 0777), 0);
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 1);
    assert_stderr_has("ENG_ERR_ANCHOR");
    cr_assert_eq(chmod(a, 0700), 0);
    sh("for f in anchors/*; do printf garbage > \"$f\"; done");
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 1);
    assert_stderr_has("ENG_ERR_ANCHOR");
}

/*
 * Attack report B7/B8: ENG_ERR_ANCHOR named neither the file nor the reason,
 * and an anchor file of mode 0644 or owned by another user was accepted.
 */
Test(fresh, anchor_errors_name_the_file_and_the_reason)
{
    cr_assert_eq(cmk("--anchor-dir anchors create s --size 64K --unit-size 4096"), 0);
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 0);
    sh("chmod 0644 anchors/*");
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 1);
    assert_stderr_has("anchors/");
    assert_stderr_has(
        ": readable or writable by group or others (want mode 0600): freshness "
        "anchor unusable");
    sh("chmod 0600 anchors/*");
    if (geteuid() == 0) {
        sh("chown 65534 anchors/*");
        cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 1);
        assert_stderr_has(": owned by another user: freshness anchor unusable");
        sh("chown 0 anchors/*");
    }
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 0);
    sh("chmod 0777 anchors");
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 1);
    assert_stderr_has(
        ": anchors: folder owned by another user or writable by group or others: "
        "freshness anchor unusable");
    sh("chmod 0700 anchors");
    sh("for f in anchors/*; do printf garbage > \"$f\"; done");
    cr_assert_eq(cmk("--anchor-dir anchors get s --length 1 --force --output x"), 1);
    assert_stderr_has(": wrong size (corrupt): freshness anchor unusable");
    assert_stderr_has("(ENG_ERR_ANCHOR)");
}

/* --- item 23: shared read locks, --wait, read-only commands write nothing ----- */

/* Keeps "." (its time changes when a file is added or removed) but not "..". */
static int not_parent(const struct dirent *d)
{
    return strcmp(d->d_name, "..") != 0;
}

/* Every file of |store|: name, size, bytes and modification time, as one comparable blob. */
static char *snapshot(const char *store)
{
    char p[400];
    tl_path(p, sizeof(p), dir, store);
    struct dirent **names = NULL;
    int n = scandir(p, &names, not_parent, alphasort);
    cr_assert_geq(n, 0);
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    for (int i = 0; i < n; i++) {
        char f[700];
        snprintf(f, sizeof(f), "%s/%s", p, names[i]->d_name);
        struct stat st;
        cr_assert_eq(lstat(f, &st), 0);
        len += (size_t)snprintf(out + len, cap - len, "%s %lld %lld.%09ld\n", names[i]->d_name,
                                (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                                st.st_mtim.tv_nsec);
        if (S_ISREG(st.st_mode)) {
            size_t fl;
            uint8_t *b = tl_read_file(f, &fl);
            cr_assert(b != NULL && len + 2 * fl + 2 < cap);
            for (size_t k = 0; k < fl; k++) {
                len += (size_t)snprintf(out + len, cap - len, "%02x", b[k]);
            }
            out[len++] = '\n';
            out[len] = '\0';
            free(b);
        }
        free(names[i]);
    }
    free(names);
    return out;
}

static void read_only_commands_write_nothing(const char *mode)
{
    cr_assert_eq(cmk("create s --mode %s --unit-size 4096 --size 64K --extent-units 4", mode), 0);
    write_unit_file("in", "some data ");
    cr_assert_eq(cmk("put s in"), 0);
    cr_assert_eq(cmk("get s --force --output x"), 0, "first open after the put: anchors settled");
    char *before = snapshot("s");
    cr_assert_eq(cmk("get s --force --output x"), 0);
    cr_assert_eq(cmk("get s --offset 4000 --length 200 --output y"), 0);
    cr_assert_eq(cmk("status s"), 0);
    cr_assert_eq(cmk("status s --json"), 0);
    cr_assert_eq(cmk("backup s b.cmkb"), 0);
    char *after = snapshot("s");
    cr_assert_str_eq(after, before, "a read-only command changed the store folder");
    free(before);
    free(after);
}

Test(fresh, read_only_commands_write_nothing_xts)
{
    read_only_commands_write_nothing("xts");
}

Test(fresh, read_only_commands_write_nothing_gcm)
{
    read_only_commands_write_nothing("gcm");
}

/* Opens the test's store "s" read-only in this process (a reader holding the shared lock). */
static struct eng_store *hold_reader(struct eng_kek_provider **p)
{
    char store[400];
    tl_path(store, sizeof(store), dir, "s");
    *p = smk_at(key_path);
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.flags = ENG_STORE_READ_ONLY;
    struct eng_store *s = eng_store_open(store, *p, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    return s;
}

Test(fresh, readers_share_the_store_writers_are_refused)
{
    cr_assert_eq(cmk("create s --mode gcm --unit-size 4096 --size 64K --extent-units 4"), 0);
    write_unit_file("in", "shared ");
    write_unit_file("in2", "other. ");
    cr_assert_eq(cmk("put s in"), 0);
    struct eng_kek_provider *p;
    struct eng_store *reader = hold_reader(&p);
    struct eng_kek_provider *p2;
    struct eng_store *reader2 = hold_reader(&p2);
    cr_assert_eq(cmk("get s --length 4096 --force --output x"), 0,
                 "a third reader at the same time");
    assert_file_is("x", "in");
    cr_assert_eq(cmk("status s"), 0);
    cr_assert_eq(cmk("put s in2"), 1, "a writer while readers hold the store");
    assert_stderr_has("ENG_ERR_STORE_BUSY");
    cr_assert_eq(cmk("rekey s 0"), 1);
    assert_stderr_has("ENG_ERR_STORE_BUSY");
    uint8_t unit[UNIT] = {0};
    cr_assert_eq(eng_store_write(reader, 0, 1, unit), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_READ_ONLY);
    cr_assert_eq(eng_store_rekey_extent(reader, 0), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_READ_ONLY);
    cr_assert_eq(eng_store_rotate_kek(reader), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_READ_ONLY);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(reader, &info), 0);
    cr_assert_eq(info.read_only, 1);
    eng_store_close(reader2);
    eng_store_close(reader);
    eng_kek_provider_free(p2);
    eng_kek_provider_free(p);
    cr_assert_eq(cmk("put s in2"), 0, "the store is free again");
}

/* Reads |fd| until |want| appears; asserts it does within a generous deadline. */
static void wait_for_text(int fd, const char *want)
{
    char buf[4096];
    size_t len = 0;
    time_t deadline = time(NULL) + 120;
    while (time(NULL) < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, 1000);
        if (r <= 0) {
            continue;
        }
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        cr_assert_gt(n, 0, "the writer ended before it said it waits: %.*s", (int)len, buf);
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, want) != NULL) {
            return;
        }
    }
    cr_assert_fail("no \"%s\" within 120 s: %s", want, buf);
}

Test(fresh, writer_waits_for_the_reader_with_wait)
{
    cr_assert_eq(cmk("create s --mode gcm --unit-size 4096 --size 64K --extent-units 4"), 0);
    write_unit_file("in", "before ");
    write_unit_file("in2", "after. ");
    cr_assert_eq(cmk("put s in"), 0);
    struct eng_kek_provider *p;
    struct eng_store *reader = hold_reader(&p);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    char bin[1024];
    cr_assert_eq(tl_cmk_path(CMK_BIN, bin, sizeof(bin)), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        if (chdir(dir) != 0) {
            _exit(99);
        }
        execl(bin, bin, "--key-file", "k.key", "put", "s", "in2", "--wait", "600", (char *)NULL);
        _exit(98);
    }
    close(fds[1]);
    /* The writer has found the store busy: only now is the reader let go. */
    wait_for_text(fds[0], "is busy (open in another process); waiting up to 600 s");
    eng_store_close(reader);
    eng_kek_provider_free(p);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    close(fds[0]);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiting writer failed");
    cr_assert_eq(cmk("get s --length 4096 --force --output x"), 0);
    assert_file_is("x", "in2");
    cr_assert_eq(cmk("put s in --wait 1x"), 2, "a bad --wait is a usage error");
    assert_stderr_has("--wait");
    cr_assert_eq(cmk("help"), 0);
    size_t len;
    uint8_t *h = read_rel("stdout", &len);
    static const char *const documented[] = {"--wait SECONDS", "--anchor-dir DIR",
                                             "key table rolled back"};
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
        cr_assert_not_null(memmem(h, len, documented[i], strlen(documented[i])), "help lacks %s",
                           documented[i]);
    }
    free(h);
}
