/*
 * test_golden.c - format stability: stores, key tables and backups made by
 * an earlier build (engine/tests/data/golden, see its README) still open,
 * parse and restore, and read back to known bytes. A change of the key
 * table's field order, the backup header or the backup chunks' AAD layout
 * makes these fail: old stores and backups would no longer be readable.
 *
 * The expected contents are written here (a fixed pattern and the fields
 * `cmk status --json` printed when the files were made), never read from
 * the golden folder. Every test copies the folder to a temporary one first
 * (files 0600: git keeps no modes) with its own anchor folder: opening and
 * writing change a store's files and anchors, and the committed folder
 * must stay as made.
 */
#include <criterion/criterion.h>
#include <dirent.h>
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
#define GOLDEN        "engine/tests/data/golden"
#define UNIT          512U
#define UNITS         16U
#define WRITTEN_UNITS 12U /* units 12..15 were never written: they read as zeros */
#define KEK_KEY_ID    "577e97f33a07b2c5ebc0f7c3f7f788a4"
#define KEK_VERSION   "1dc1558385dc9c8261699c358ba9a421"
#define CREATED       1796637225U /* the records' creation time (2026-12-07) */

/* One golden store: its folder and backup name, what it was made with, what it holds. */
struct golden {
    const char *name;
    enum eng_mode mode;
    enum eng_store_integrity integrity;
    uint8_t seed;         /* byte i of the plaintext is (i % 251) ^ seed */
    const char *store_id; /* hex */
    uint64_t invocations[4];
};

static const struct golden golden_xts = {
    "xts",       ENG_MODE_XTS, ENG_STORE_INTEGRITY_NONE, 0x58, "d2c68f59af2f4f2190d5534b784a99b5",
    {0, 0, 0, 0}};
static const struct golden golden_gcm = {"gcm",
                                         ENG_MODE_GCM,
                                         ENG_STORE_INTEGRITY_NONE,
                                         0x47,
                                         "044368fbc9f29beaa33b36aa2c066b47",
                                         {65544, 65544, 65544, 4}};
static const struct golden golden_hmac = {"xts-hmac",
                                          ENG_MODE_XTS,
                                          ENG_STORE_INTEGRITY_HMAC_SHA256,
                                          0x48,
                                          "3b805f9818c7893fcbf1774953037961",
                                          {0, 0, 0, 0}};

static char dir[256];
static char key_path[320], anchors[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "golden.smk.key");
    tl_path(anchors, sizeof(anchors), dir, "anchors");
    cr_assert_eq(mkdir(anchors, 0700), 0);
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(golden, .init = setup, .fini = teardown);

static void copy_file(const char *from, const char *to)
{
    size_t len;
    uint8_t *b = tl_read_file(from, &len);
    cr_assert_not_null(b, "golden file %s", from);
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0 && (len == 0 || write(fd, b, len) == (ssize_t)len) && close(fd) == 0,
              "copy to %s", to);
    free(b);
}

/* Copies the key file, store folder |g| and its backup into the test folder. */
static void copy_golden(const struct golden *g)
{
    char from[400], to[400], name[64];
    copy_file(GOLDEN "/golden.smk.key", key_path);
    snprintf(name, sizeof(name), "%s.bak", g->name);
    tl_path(from, sizeof(from), GOLDEN, name);
    tl_path(to, sizeof(to), dir, name);
    copy_file(from, to);
    char src[400], dst[400];
    tl_path(src, sizeof(src), GOLDEN, g->name);
    tl_path(dst, sizeof(dst), dir, g->name);
    cr_assert_eq(mkdir(dst, 0700), 0);
    DIR *d = opendir(src);
    cr_assert_not_null(d, "golden folder %s", src);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        tl_path(from, sizeof(from), src, e->d_name);
        tl_path(to, sizeof(to), dst, e->d_name);
        copy_file(from, to);
        files++;
    }
    closedir(d);
    cr_assert_geq(files, 3, "%s: keytable, data, lock (and tags or macs)", src);
}

/* The plaintext the golden store holds: the pattern in units 0..11, zeros after. */
static void expected(const struct golden *g, uint8_t out[UNITS * UNIT])
{
    memset(out, 0, UNITS * UNIT);
    for (size_t i = 0; i < WRITTEN_UNITS * UNIT; i++) {
        out[i] = (uint8_t)((i % 251) ^ g->seed);
    }
}

static struct eng_kek_provider *golden_key(void)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 0);
    cr_assert_not_null(p, "the golden key file: %s", eng_error_name(eng_errno()));
    return p;
}

static void config(struct eng_store_config *cfg, unsigned flags)
{
    eng_store_config_init(cfg);
    cfg->flags = flags;
    cfg->anchor_dir = anchors;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

/* Opens store folder |sub| of the test folder, checks its geometry and reads it to known bytes. */
static void assert_store_reads(const struct golden *g, const char *sub, struct eng_kek_provider *p,
                               int same_id)
{
    char path[400];
    tl_path(path, sizeof(path), dir, sub);
    struct eng_store_config cfg;
    config(&cfg, ENG_STORE_READ_ONLY);
    struct eng_store *s = eng_store_open(path, p, &cfg);
    cr_assert_not_null(s, "%s: %s", path, eng_error_name(eng_errno()));
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.mode, g->mode);
    cr_assert_eq(info.integrity, g->integrity);
    cr_assert_eq(info.unit_size, UNIT);
    cr_assert_eq(info.num_units, UNITS);
    cr_assert_eq(info.extent_units, 4U);
    cr_assert_eq(info.num_extents, 4U);
    cr_assert_eq(info.mac_verified, 1);
    char id[2 * ENG_STORE_ID_BYTES + 1];
    hex(info.store_id, ENG_STORE_ID_BYTES, id);
    if (same_id) {
        cr_assert_str_eq(id, g->store_id);
    } else {
        cr_assert_str_neq(id, g->store_id, "a restore makes a new store id");
    }
    static uint8_t got[UNITS * UNIT], want[UNITS * UNIT];
    cr_assert_eq(eng_store_read(s, 0, UNITS, got), 0, "%s: %s", path, eng_error_name(eng_errno()));
    expected(g, want);
    for (size_t u = 0; u < UNITS; u++) {
        cr_assert_eq(memcmp(got + u * UNIT, want + u * UNIT, UNIT), 0,
                     "%s: unit %zu differs from the known bytes", path, u);
    }
    eng_store_close(s);
}

/* The golden store opens, reads to known bytes, and takes a first write (the old table saved). */
static void store_reads(const struct golden *g)
{
    copy_golden(g);
    struct eng_kek_provider *p = golden_key();
    assert_store_reads(g, g->name, p, 1);
    char path[400];
    tl_path(path, sizeof(path), dir, g->name);
    struct eng_store_config cfg;
    config(&cfg, 0);
    struct eng_store *s = eng_store_open(path, p, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t unit[UNIT];
    memset(unit, 0xC3, sizeof(unit));
    cr_assert_eq(eng_store_write(s, 13, 1, unit), 0, "%s", eng_error_name(eng_errno()));
    eng_store_close(s);
    s = eng_store_open(path, p, &cfg);
    cr_assert_not_null(s, "reopened after the first write: %s", eng_error_name(eng_errno()));
    static uint8_t got[UNITS * UNIT], want[UNITS * UNIT];
    expected(g, want);
    memcpy(want + 13 * UNIT, unit, UNIT);
    cr_assert_eq(eng_store_read(s, 0, UNITS, got), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(memcmp(got, want, sizeof(got)), 0);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(golden, xts_store_reads_known_bytes)
{
    store_reads(&golden_xts);
}

Test(golden, gcm_store_reads_known_bytes)
{
    store_reads(&golden_gcm);
}

Test(golden, xts_hmac_store_reads_known_bytes)
{
    store_reads(&golden_hmac);
}

/* The key table parses field by field to what `cmk status --json` said when it was made. */
static void keytable_fields(const struct golden *g)
{
    copy_golden(g);
    char path[400], sub[64];
    snprintf(sub, sizeof(sub), "%s/keytable", g->name);
    tl_path(path, sizeof(path), dir, sub);
    struct eng_keytable kt;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cr_assert_eq(eng_kt_load(path, &kt, &raw, &raw_len), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(memcmp(raw, "CMKKT002", 8), 0, "key table version 2");
    cr_assert_eq(raw_len, g->mode == ENG_MODE_GCM ? 934U : 1062U);
    cr_assert_eq(kt.generation, 2U);
    char id[2 * ENG_KT_ID_BYTES + 1];
    hex(kt.store_id, ENG_KT_ID_BYTES, id);
    cr_assert_str_eq(id, g->store_id);
    cr_assert_eq(kt.mode, (uint8_t)g->mode);
    cr_assert_eq(kt.integrity, (uint8_t)g->integrity);
    cr_assert_eq(kt.unit_size, UNIT);
    cr_assert_eq(kt.num_units, UNITS);
    cr_assert_eq(kt.extent_units, 4U);
    cr_assert_eq(kt.num_slots, 5U);
    cr_assert_eq(kt.next_dek_id, 4U);
    cr_assert_str_eq(kt.mac_key.kek.provider, "smk");
    cr_assert_str_eq(kt.mac_key.kek.key_id, KEK_KEY_ID);
    cr_assert_eq(kt.mac_key.len, 40U);
    cr_assert_eq(kt.num_records, 4U);
    for (uint32_t i = 0; i < 4; i++) {
        const struct eng_kt_record *r = &kt.records[i];
        cr_assert_eq(r->dek_id, i);
        cr_assert_eq(r->extent, i);
        cr_assert_eq(r->first_unit, 4U * i);
        cr_assert_eq(r->num_units, 4U);
        cr_assert_eq(r->slot, i);
        cr_assert_eq(r->state, ENG_KT_ACTIVE);
        cr_assert_eq(r->mode, (uint8_t)g->mode);
        cr_assert_eq(r->created, CREATED);
        cr_assert_eq(r->invocations, g->invocations[i], "record %u: %llu invocations", i,
                     (unsigned long long)r->invocations);
        cr_assert_str_eq(r->w.kek.provider, "smk");
        cr_assert_str_eq(r->w.kek.key_id, KEK_KEY_ID);
        cr_assert_str_eq(r->w.kek.version, KEK_VERSION);
        cr_assert_str_eq(r->w.kek.alg, "AES-256-KWP");
        cr_assert_eq(r->w.len, g->mode == ENG_MODE_GCM ? 40U : 72U, "a wrapped 32 or 64-byte DEK");
    }
    free(raw);
    eng_kt_cleanup(&kt);
}

Test(golden, xts_keytable_fields)
{
    keytable_fields(&golden_xts);
}

Test(golden, gcm_keytable_fields)
{
    keytable_fields(&golden_gcm);
}

Test(golden, xts_hmac_keytable_fields)
{
    keytable_fields(&golden_hmac);
}

/* The golden backup verifies and restores, through the library, to a store of the known bytes. */
static void backup_restores(const struct golden *g)
{
    copy_golden(g);
    char bak[400], name[64];
    snprintf(name, sizeof(name), "%s.bak", g->name);
    tl_path(bak, sizeof(bak), dir, name);
    size_t len;
    uint8_t *b = tl_read_file(bak, &len);
    cr_assert_not_null(b);
    cr_assert_eq(memcmp(b, "CMKBK002", 8), 0, "backup header version 2");
    cr_assert_eq(len, 8442U);
    free(b);
    struct eng_kek_provider *p = golden_key();
    cr_assert_eq(eng_backup_verify(bak, p), 0, "%s: %s", bak, eng_error_name(eng_errno()));
    char out[400];
    tl_path(out, sizeof(out), dir, "restored");
    struct eng_store_config cfg;
    config(&cfg, 0);
    cr_assert_eq(eng_store_restore(bak, out, p, &cfg), 0, "%s: %s", bak,
                 eng_error_name(eng_errno()));
    assert_store_reads(g, "restored", p, 0);
    eng_kek_provider_free(p);
}

Test(golden, xts_backup_restores_known_bytes)
{
    backup_restores(&golden_xts);
}

Test(golden, gcm_backup_restores_known_bytes)
{
    backup_restores(&golden_gcm);
}

Test(golden, xts_hmac_backup_restores_known_bytes)
{
    backup_restores(&golden_hmac);
}

/* Runs cmk with |args| in the test folder (the golden key, the test's anchors); its exit code. */
#define cmk(...) \
    tl_cmk_run(CMK_BIN, dir, "--key-file golden.smk.key --anchor-dir anchors " __VA_ARGS__)

static void assert_file_holds(const struct golden *g, const char *name)
{
    char p[400];
    tl_path(p, sizeof(p), dir, name);
    size_t len;
    uint8_t *got = tl_read_file(p, &len);
    cr_assert_not_null(got, "%s", p);
    static uint8_t want[UNITS * UNIT];
    expected(g, want);
    cr_assert(len == sizeof(want) && memcmp(got, want, len) == 0,
              "%s: %zu bytes, not the known %zu", name, len, sizeof(want));
    free(got);
}

/* Through the CLI: get from every golden store, and restore every golden backup. */
Test(golden, cli_gets_and_restores_every_golden_file)
{
    const struct golden *const all[] = {&golden_xts, &golden_gcm, &golden_hmac};
    for (size_t i = 0; i < 3; i++) {
        const struct golden *g = all[i];
        copy_golden(g);
        cr_assert_eq(cmk("get %s --output %s.out", g->name, g->name), 0, "cmk get %s", g->name);
        char name[64];
        snprintf(name, sizeof(name), "%s.out", g->name);
        assert_file_holds(g, name);
        cr_assert_eq(cmk("verify-backup %s.bak", g->name), 0, "cmk verify-backup %s", g->name);
        cr_assert_eq(cmk("restore %s.bak r-%s", g->name, g->name), 0, "cmk restore %s", g->name);
        cr_assert_eq(cmk("get r-%s --output r-%s.out", g->name, g->name), 0);
        snprintf(name, sizeof(name), "r-%s.out", g->name);
        assert_file_holds(g, name);
        /* the key file copy is made again for the next store */
        cr_assert_eq(unlink(key_path), 0);
    }
}
