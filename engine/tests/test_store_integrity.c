/*
 * test_store_integrity.c - XTS stores with per-unit MACs (integrity
 * hmac-sha256, issue 17 item 8): flips, swapped and moved units, swapped
 * `macs` files, the option surviving rotate-kek, rekey and backup/restore,
 * and what a plain XTS store does not detect (documented, shown here).
 */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_store.h"
#include "store_helpers.h"

static char dir[256], key_path[320], store_dir[320], other_dir[320];
static struct eng_kek_provider *kek;

#define US     4096U
#define UNITS  300U /* 3 extents of 128 units, the last one partial */
#define EXTENT 128U
#define MAC    32U

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
    tl_path(store_dir, sizeof(store_dir), dir, "store");
    tl_path(other_dir, sizeof(other_dir), dir, "other");
    kek = eng_smk_open(key_path, 1);
    cr_assert_not_null(kek);
}

static void teardown(void)
{
    eng_kek_provider_free(kek);
    tl_rmtree(dir);
}

TestSuite(integrity, .init = setup, .fini = teardown);

static struct eng_store_config cfg_of(enum eng_store_integrity integrity)
{
    struct eng_store_config c = tl_store_config(ENG_MODE_XTS, US, UNITS, EXTENT);
    c.integrity = integrity;
    return c;
}

/* A closed store in |where| holding *want (random, UNITS units; the caller frees it). */
static void make_store(const char *where, enum eng_store_integrity integrity, uint8_t **want)
{
    struct eng_store_config c = cfg_of(integrity);
    struct eng_store *s = eng_store_create(where, kek, &c);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    *want = tl_random_buf((size_t)UNITS * US);
    cr_assert_eq(eng_store_write(s, 0, UNITS, *want), 0);
    eng_store_close(s);
}

static void file_of(char *out, size_t n, const char *store, const char *name)
{
    tl_path(out, n, store, name);
}

/* Slot unit index of logical unit |u| (documented layout: slot * extent_units + index). */
static uint64_t slot_unit(const char *where, uint64_t u)
{
    struct eng_store *s = eng_store_inspect(where);
    cr_assert_not_null(s);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    uint64_t idx = UINT64_MAX;
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        cr_assert_eq(eng_store_dek_info(s, i, &d), 0);
        if (d.active && d.extent == u / EXTENT) {
            idx = (uint64_t)d.slot * EXTENT + (u - d.first_unit);
        }
    }
    eng_store_close(s);
    cr_assert_neq(idx, UINT64_MAX);
    return idx;
}

/*
 * Reads every unit of the store in |where|: the units in |bad| (count
 * |nbad|) must fail (zeroed, ENG_ERR_AUTH), every other unit must read
 * back as |want|.
 */
static void expect_units(const char *where, const uint8_t *want, const uint64_t *bad, size_t nbad)
{
    struct eng_store *s = eng_store_open(where, kek, NULL);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t *got = malloc((size_t)UNITS * US);
    memset(got, 0xee, (size_t)UNITS * US);
    int rc = eng_store_read(s, 0, UNITS, got);
    if (nbad == 0) {
        cr_assert_eq(rc, 0, "%s", eng_error_name(eng_errno()));
    } else {
        cr_assert_eq(rc, -1);
        cr_assert_eq(eng_errno(), ENG_ERR_AUTH, "%s", eng_error_name(eng_errno()));
    }
    uint8_t zero[US] = {0};
    for (uint64_t u = 0; u < UNITS; u++) {
        int is_bad = 0;
        for (size_t i = 0; i < nbad; i++) {
            is_bad |= bad[i] == u;
        }
        cr_assert_eq(memcmp(got + u * US, is_bad ? zero : want + u * US, US), 0, "unit %lu (%s)",
                     (unsigned long)u, is_bad ? "must be zeroed" : "must read");
    }
    free(got);
    eng_store_close(s);
}

/* The data and macs files of the store under test, whole, to edit and write back. */
struct raw {
    char data[400], macs[400];
    uint8_t *d, *m;
    size_t dl, ml;
};

static void raw_read(struct raw *r)
{
    file_of(r->data, sizeof(r->data), store_dir, "data");
    file_of(r->macs, sizeof(r->macs), store_dir, "macs");
    r->d = tl_read_file(r->data, &r->dl);
    r->m = tl_read_file(r->macs, &r->ml);
    cr_assert(r->d != NULL && r->m != NULL);
}

static void raw_write(struct raw *r)
{
    cr_assert_eq(tl_write_file(r->data, r->d, r->dl), 0);
    cr_assert_eq(tl_write_file(r->macs, r->m, r->ml), 0);
    free(r->d);
    free(r->m);
}

/* Without the option an XTS store does not see a flip: garbage, no error (as documented). */
Test(integrity, plain_xts_does_not_detect_a_flip)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_NONE, &want);
    char data[400];
    file_of(data, sizeof(data), store_dir, "data");
    cr_assert_eq(tl_flip_bit(data, slot_unit(store_dir, 7) * US + 100, 0), 0);
    struct eng_store *s = eng_store_open(store_dir, kek, NULL);
    cr_assert_not_null(s);
    uint8_t got[US];
    cr_assert_eq(eng_store_read(s, 7, 1, got), 0);
    cr_assert_neq(memcmp(got, want + 7 * US, US), 0, "garbage, and no error");
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.integrity, ENG_STORE_INTEGRITY_NONE);
    eng_store_close(s);
    free(want);
}

Test(integrity, untouched_store_reads_back_and_reopens)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    char macs[400];
    struct stat st;
    file_of(macs, sizeof(macs), store_dir, "macs");
    cr_assert_eq(stat(macs, &st), 0);
    cr_assert_eq(st.st_size, (off_t)(3 + 1) * EXTENT * MAC, "one tag per slot unit");
    cr_assert_eq(st.st_mode & 0777, 0600);
    expect_units(store_dir, want, NULL, 0);
    struct eng_store *s = eng_store_open(store_dir, kek, NULL);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.integrity, ENG_STORE_INTEGRITY_HMAC_SHA256);
    /* Partial-unit writes keep the tags right. */
    uint8_t patch[5000];
    RAND_bytes(patch, sizeof(patch));
    cr_assert_eq(eng_store_write_bytes(s, 127 * US + 3000, patch, sizeof(patch)), 0);
    memcpy(want + 127 * US + 3000, patch, sizeof(patch));
    eng_store_close(s);
    expect_units(store_dir, want, NULL, 0);
    free(want);
}

/* One byte changed in a unit, unit by unit over the whole store: only that unit fails. */
Test(integrity, every_flipped_data_byte_fails_its_unit_only)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    char data[400];
    file_of(data, sizeof(data), store_dir, "data");
    for (uint64_t u = 0; u < UNITS; u += 23) {
        uint64_t off = slot_unit(store_dir, u) * US + (u * 37) % US;
        cr_assert_eq(tl_flip_bit(data, off, (int)(u % 8)), 0);
        expect_units(store_dir, want, &u, 1);
        cr_assert_eq(tl_flip_bit(data, off, (int)(u % 8)), 0);
    }
    expect_units(store_dir, want, NULL, 0);
    free(want);
}

Test(integrity, flipped_tag_byte_fails_its_unit)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    char macs[400];
    file_of(macs, sizeof(macs), store_dir, "macs");
    uint64_t u = 200;
    cr_assert_eq(tl_flip_bit(macs, slot_unit(store_dir, u) * MAC + 31, 7), 0);
    expect_units(store_dir, want, &u, 1);
    free(want);
}

/* Swapping two units' ciphertext (and their tags with them): both fail, they are bound to u. */
Test(integrity, swapped_units_fail)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    uint64_t a = slot_unit(store_dir, 10), b = slot_unit(store_dir, 11);
    struct raw r;
    raw_read(&r);
    uint8_t *d = r.d, *m = r.m;
    uint8_t tmp[US];
    memcpy(tmp, d + a * US, US);
    memcpy(d + a * US, d + b * US, US);
    memcpy(d + b * US, tmp, US);
    memcpy(tmp, m + a * MAC, MAC);
    memcpy(m + a * MAC, m + b * MAC, MAC);
    memcpy(m + b * MAC, tmp, MAC);
    raw_write(&r);
    uint64_t bad[] = {10, 11};
    expect_units(store_dir, want, bad, 2);
    free(want);
}

/* A unit copied with its tag to another position, same extent or another one, fails there. */
Test(integrity, unit_moved_to_another_position_fails)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    uint64_t from = slot_unit(store_dir, 5);
    uint64_t to[] = {6, 130};
    struct raw r;
    raw_read(&r);
    for (size_t i = 0; i < 2; i++) {
        uint64_t t = slot_unit(store_dir, to[i]);
        memcpy(r.d + t * US, r.d + from * US, US);
        memcpy(r.m + t * MAC, r.m + from * MAC, MAC);
    }
    raw_write(&r);
    expect_units(store_dir, want, to, 2);
    free(want);
}

/* Another store's `macs` (or `macs` and `data`): every unit fails (other keys, other store id). */
Test(integrity, swapped_macs_or_data_from_another_store_fail)
{
    uint8_t *want, *want2;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    make_store(other_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want2);
    uint64_t all[UNITS];
    for (uint64_t u = 0; u < UNITS; u++) {
        all[u] = u;
    }
    static const char *const names[] = {"macs", "data"};
    for (size_t i = 0; i < 2; i++) {
        char mine[400], theirs[400];
        file_of(mine, sizeof(mine), store_dir, names[i]);
        file_of(theirs, sizeof(theirs), other_dir, names[i]);
        size_t len;
        uint8_t *b = tl_read_file(theirs, &len);
        cr_assert_eq(tl_write_file(mine, b, len), 0);
        free(b);
    }
    expect_units(store_dir, want, all, UNITS);
    free(want);
    free(want2);
}

/* Deleting `macs` does not turn the option off: the key table (under its MAC) says it is on. */
Test(integrity, missing_macs_is_refused)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    char macs[400];
    file_of(macs, sizeof(macs), store_dir, "macs");
    cr_assert_eq(unlink(macs), 0);
    cr_assert_null(eng_store_open(store_dir, kek, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_STORE_CORRUPT);
    free(want);
}

Test(integrity, only_for_xts)
{
    struct eng_store_config c = cfg_of(ENG_STORE_INTEGRITY_HMAC_SHA256);
    c.mode = ENG_MODE_GCM;
    cr_assert_null(eng_store_create(store_dir, kek, &c));
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    c = cfg_of((enum eng_store_integrity)7);
    cr_assert_null(eng_store_create(store_dir, kek, &c));
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    cr_assert_neq(access(store_dir, F_OK), 0);
}

/* rotate-kek (same DEKs), rekey (new DEK, new tags in the spare slot), backup/restore keep it. */
Test(integrity, survives_rotation_rekey_backup_and_restore)
{
    uint8_t *want;
    make_store(store_dir, ENG_STORE_INTEGRITY_HMAC_SHA256, &want);
    struct eng_store *s = eng_store_open(store_dir, kek, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(eng_smk_rotate(key_path, NULL, 0), 0);
    cr_assert_eq(eng_store_rotate_kek(s), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_rekey_extent(s, 1), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_rekey_extent(s, 1), 0, "%s", eng_error_name(eng_errno()));
    uint8_t *got = malloc((size_t)UNITS * US);
    cr_assert_eq(eng_store_read(s, 0, UNITS, got), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(memcmp(got, want, (size_t)UNITS * US), 0);
    char backup[400], restored[400];
    tl_path(backup, sizeof(backup), dir, "b.cmkb");
    tl_path(restored, sizeof(restored), dir, "restored");
    cr_assert_eq(eng_store_backup(s, backup), 0, "%s", eng_error_name(eng_errno()));
    eng_store_close(s);
    expect_units(store_dir, want, NULL, 0);
    /* After the rekey the extent lives elsewhere: a flip there is caught under the new key. */
    char data[400];
    file_of(data, sizeof(data), store_dir, "data");
    uint64_t u = 140;
    cr_assert_eq(tl_flip_bit(data, slot_unit(store_dir, u) * US + 9, 1), 0);
    expect_units(store_dir, want, &u, 1);
    cr_assert_eq(eng_store_restore(backup, restored, kek, NULL), 0, "%s",
                 eng_error_name(eng_errno()));
    s = eng_store_open(restored, kek, NULL);
    cr_assert_not_null(s);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.integrity, ENG_STORE_INTEGRITY_HMAC_SHA256, "restore keeps the option");
    eng_store_close(s);
    expect_units(restored, want, NULL, 0);
    file_of(data, sizeof(data), restored, "data");
    u = 3;
    cr_assert_eq(tl_flip_bit(data, slot_unit(restored, u) * US + 9, 1), 0);
    expect_units(restored, want, &u, 1);
    free(got);
    free(want);
}

/* The memory store takes the option too (benchmarks measure it there). */
Test(integrity, memory_store_round_trip)
{
    struct eng_store_config c = cfg_of(ENG_STORE_INTEGRITY_HMAC_SHA256);
    struct eng_store *s = eng_store_create_memory(kek, &c);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    uint8_t *want = tl_random_buf((size_t)UNITS * US), *got = malloc((size_t)UNITS * US);
    cr_assert_eq(eng_store_write(s, 0, UNITS, want), 0);
    cr_assert_eq(eng_store_rekey_extent(s, 2), 0);
    cr_assert_eq(eng_store_read(s, 0, UNITS, got), 0);
    cr_assert_eq(memcmp(got, want, (size_t)UNITS * US), 0);
    eng_store_close(s);
    free(want);
    free(got);
}
