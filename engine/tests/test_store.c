/* test_store.c - the encrypted store: round trips, tampering, keys, rotation, revocation. */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eng_secure.h"
#include "eng_store.h"
#include "store_helpers.h"

static char dir[256];
static char key_path[320];
static char store_dir[320];

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
    tl_path(store_dir, sizeof(store_dir), dir, "store");
}

static void teardown(void)
{
    tl_rmtree(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static struct eng_store_config small_cfg(enum eng_mode mode)
{
    return tl_store_config(mode, 4096, 300, 128); /* 3 extents of 128 (last one partial) */
}

static struct eng_kek_provider *smk(void)
{
    struct eng_kek_provider *p = eng_smk_open(key_path, 1);
    cr_assert_not_null(p, "%s", eng_strerror(eng_errno()));
    return p;
}

/* A folder store with |cfg| under a fresh SMK provider (*p, freed by the caller). */
static struct eng_store *new_store(const struct eng_store_config *cfg, struct eng_kek_provider **p)
{
    *p = smk();
    struct eng_store *s = eng_store_create(store_dir, *p, cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    return s;
}

static void fname(char *out, size_t n, const char *name)
{
    tl_path(out, n, store_dir, name);
}

/* Writes runs of several lengths across extent and batch boundaries; reads back after reopen. */
static void round_trip(enum eng_mode mode, int in_memory)
{
    struct eng_kek_provider *p = smk();
    struct eng_store_config cfg = small_cfg(mode);
    struct eng_store *s =
        in_memory ? eng_store_create_memory(p, &cfg) : eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    size_t total = cfg.num_units * cfg.unit_size;
    uint8_t *want = tl_random_buf(total);
    uint8_t *got = calloc(1, total);
    uint8_t *zero = calloc(1, total);
    cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
    cr_assert_eq(memcmp(got, zero, total), 0, "a new store reads as zeros");
    static const size_t runs[] = {1, 63, 64, 65, 130, 200};
    uint64_t u = 0;
    for (size_t i = 0; u < cfg.num_units; i = (i + 1) % 6) {
        size_t n = runs[i] < cfg.num_units - u ? runs[i] : (size_t)(cfg.num_units - u);
        cr_assert_eq(eng_store_write(s, u, n, want + u * cfg.unit_size), 0, "%s",
                     eng_error_name(eng_errno()));
        u += n;
    }
    memset(got, 0, total);
    cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
    cr_assert_eq(memcmp(got, want, total), 0);
    if (!in_memory) {
        char data[400];
        fname(data, sizeof(data), "data");
        size_t len;
        uint8_t *raw = tl_read_file(data, &len);
        cr_assert_not_null(raw);
        cr_assert_null(memmem(raw, len, want + 4096 * 5, 64), "no plaintext in the data file");
        free(raw);
        eng_store_close(s);
        s = eng_store_open(store_dir, p, NULL);
        cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
        memset(got, 0, total);
        cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
        cr_assert_eq(memcmp(got, want, total), 0);
    }
    /* Unaligned byte ranges: a shadow copy says what must come back. */
    uint8_t patch[10000];
    RAND_bytes(patch, sizeof(patch));
    cr_assert_eq(eng_store_write_bytes(s, 4096 * 127 + 17, patch, sizeof(patch)), 0);
    memcpy(want + 4096 * 127 + 17, patch, sizeof(patch));
    cr_assert_eq(eng_store_read_bytes(s, 3, got, total - 3), 0);
    cr_assert_eq(memcmp(got, want + 3, total - 3), 0);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.num_extents, 3);
    cr_assert_eq(info.accessible, 1);
    cr_assert_eq(info.mac_verified, 1);
    cr_assert_eq(info.in_memory, in_memory);
    eng_store_close(s);
    eng_kek_provider_free(p);
    free(want);
    free(got);
    free(zero);
}

Test(store, round_trip_xts)
{
    round_trip(ENG_MODE_XTS, 0);
}

Test(store, round_trip_gcm)
{
    round_trip(ENG_MODE_GCM, 0);
}

Test(store, round_trip_memory_xts)
{
    round_trip(ENG_MODE_XTS, 1);
}

Test(store, round_trip_memory_gcm)
{
    round_trip(ENG_MODE_GCM, 1);
}

Test(store, unit_sizes_512_and_64k)
{
    struct eng_kek_provider *p = smk();
    for (int mode = ENG_MODE_XTS; mode <= ENG_MODE_GCM; mode++) {
        uint32_t sizes[] = {512, 65536};
        for (int i = 0; i < 2; i++) {
            struct eng_store_config cfg = small_cfg((enum eng_mode)mode);
            cfg.unit_size = sizes[i];
            cfg.num_units = 70;
            cfg.extent_units = 32;
            struct eng_store *s = eng_store_create_memory(p, &cfg);
            cr_assert_not_null(s);
            size_t total = cfg.num_units * cfg.unit_size;
            uint8_t *want = tl_random_buf(total), *got = malloc(total);
            cr_assert_eq(eng_store_write(s, 0, cfg.num_units, want), 0);
            cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
            cr_assert_eq(memcmp(got, want, total), 0);
            free(want);
            free(got);
            eng_store_close(s);
        }
    }
    eng_kek_provider_free(p);
}

Test(store, bad_arguments_and_ranges)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    struct eng_store *s = new_store(&cfg, &p);
    uint8_t buf[4096 * 2];
    cr_assert_eq(eng_store_read(s, 299, 2, buf), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_RANGE);
    cr_assert_eq(eng_store_write(s, 300, 1, buf), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_RANGE);
    cr_assert_eq(eng_store_read_bytes(s, 300 * 4096 - 1, buf, 2), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_RANGE);
    cr_assert_eq(eng_store_read(s, 0, 1, NULL), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_NULL);
    cr_assert_eq(eng_store_rekey_extent(s, 3), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_RANGE);
    /* one process at a time */
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_STORE_BUSY);
    eng_store_close(s);
    cr_assert_null(eng_store_create(store_dir, p, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_EXISTS);
    char missing[400];
    fname(missing, sizeof(missing), "nope");
    cr_assert_null(eng_store_open(missing, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_NO_STORE);
    cfg.unit_size = 1000;
    cr_assert_null(eng_store_create_memory(p, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_GEOMETRY);
    cfg = small_cfg(ENG_MODE_CBC);
    cr_assert_null(eng_store_create_memory(p, &cfg));
    cr_assert_eq(eng_errno(), ENG_ERR_MODE);
    eng_kek_provider_free(p);
}

/* Issue 17 item 22: geometry out of range is refused by the library too, before any file. */
Test(store, absurd_geometry_is_refused)
{
    struct eng_kek_provider *p = smk();
    static const struct {
        uint32_t unit_size;
        uint64_t num_units;
        uint32_t extent_units;
    } bad[] = {
        {511, 64, 16},
        {131072, 64, 16},
        {4096, 0, 16},
        {4096, 64, 65},
        {4096, 64, 67108864},
        {65536, 1ULL << 34, 1U << 30}, /* 2^50 bytes of data: over the 1 PiB data file limit */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
        cfg.unit_size = bad[i].unit_size;
        cfg.num_units = bad[i].num_units;
        cfg.extent_units = bad[i].extent_units;
        cr_assert_null(eng_store_create(store_dir, p, &cfg), "case %zu", i);
        cr_assert_eq(eng_errno(), ENG_ERR_GEOMETRY, "case %zu: %s", i, eng_error_name(eng_errno()));
        cr_assert_neq(access(store_dir, F_OK), 0, "case %zu: nothing created", i);
    }
    /* The default extent (0) of a small store is the store: data = one extent + the spare. */
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.unit_size = 4096;
    cfg.num_units = 10;
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.extent_units, 10);
    cr_assert_eq(info.num_extents, 1);
    eng_store_close(s);
    char data[400];
    struct stat st;
    fname(data, sizeof(data), "data");
    cr_assert_eq(stat(data, &st), 0);
    cr_assert_eq(st.st_size, 2 * 10 * 4096);
    eng_kek_provider_free(p);
}

/* Offset of unit |u| in the data file and of its nonce|tag record, from the documented layout. */
static void locate(struct eng_store *s, uint64_t u, uint64_t *data_off, uint64_t *tag_off)
{
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    uint32_t e = (uint32_t)(u / info.extent_units);
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        cr_assert_eq(eng_store_dek_info(s, i, &d), 0);
        if (d.active && d.extent == e) {
            uint64_t idx = (uint64_t)d.slot * info.extent_units + (u - d.first_unit);
            *data_off = idx * info.unit_size;
            *tag_off = idx * 28;
            return;
        }
    }
    cr_assert_fail("no active record for extent %u", e);
}

static void expect_auth_failure(const char *file, uint64_t off, uint64_t unit)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    struct eng_store *s = new_store(&cfg, &p);
    size_t us = cfg.unit_size;
    uint8_t *want = tl_random_buf(3 * us), *got = malloc(3 * us);
    cr_assert_eq(eng_store_write(s, unit - 1, 3, want), 0);
    uint64_t data_off, tag_off;
    locate(s, unit, &data_off, &tag_off);
    eng_store_close(s);
    char path[400];
    fname(path, sizeof(path), file);
    cr_assert_eq(tl_flip_bit(path, (strcmp(file, "data") == 0 ? data_off : tag_off) + off, 3), 0);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s);
    memset(got, 0xee, 3 * us);
    cr_assert_eq(eng_store_read(s, unit - 1, 3, got), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_AUTH);
    uint8_t *zero = calloc(1, us);
    cr_assert_eq(memcmp(got + us, zero, us), 0, "no plaintext of the failing unit");
    cr_assert_eq(memcmp(got, want, us), 0, "its neighbours still read");
    cr_assert_eq(memcmp(got + 2 * us, want + 2 * us, us), 0);
    free(zero);
    free(want);
    free(got);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(store, gcm_flipped_data_bit_fails_auth)
{
    expect_auth_failure("data", 100, 130);
}

Test(store, gcm_flipped_nonce_bit_fails_auth)
{
    expect_auth_failure("tags", 5, 130);
}

Test(store, gcm_flipped_tag_bit_fails_auth)
{
    expect_auth_failure("tags", 12 + 7, 130);
}

/* Units cannot be moved: the AAD binds the unit number (and the store id). */
Test(store, gcm_swapped_units_fail_auth)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    struct eng_store *s = new_store(&cfg, &p);
    size_t us = cfg.unit_size;
    uint8_t *want = tl_random_buf(2 * us), *got = malloc(us);
    cr_assert_eq(eng_store_write(s, 10, 2, want), 0);
    uint64_t d10, t10, d11, t11;
    locate(s, 10, &d10, &t10);
    locate(s, 11, &d11, &t11);
    eng_store_close(s);
    char data[400], tags[400];
    fname(data, sizeof(data), "data");
    fname(tags, sizeof(tags), "tags");
    size_t dl, tlen;
    uint8_t *draw = tl_read_file(data, &dl), *traw = tl_read_file(tags, &tlen);
    memcpy(draw + d11, draw + d10, us); /* unit 10's ciphertext, nonce and tag at 11 */
    memcpy(traw + t11, traw + t10, 28);
    cr_assert_eq(tl_write_file(data, draw, dl), 0);
    cr_assert_eq(tl_write_file(tags, traw, tlen), 0);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(eng_store_read(s, 10, 1, got), 0);
    cr_assert_eq(memcmp(got, want, us), 0);
    cr_assert_eq(eng_store_read(s, 11, 1, got), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_AUTH);
    free(draw);
    free(traw);
    free(want);
    free(got);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(store, damaged_key_table_is_refused)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    struct eng_store *s = new_store(&cfg, &p);
    eng_store_close(s);
    char kt[400];
    fname(kt, sizeof(kt), "keytable");
    size_t len;
    uint8_t *orig = tl_read_file(kt, &len);
    cr_assert_not_null(orig);
    cr_assert_eq(tl_flip_bit(kt, len / 2, 0), 0);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_CORRUPT);
    cr_assert_eq(tl_write_file(kt, orig, len - 40), 0);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_TRUNCATED);
    uint8_t garbage[700];
    RAND_bytes(garbage, sizeof(garbage));
    cr_assert_eq(tl_write_file(kt, garbage, sizeof(garbage)), 0);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_CORRUPT);
    cr_assert_eq(tl_write_file(kt, orig, len), 0);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s);
    eng_store_close(s);
    free(orig);
    eng_kek_provider_free(p);
}

Test(store, wrong_kek_is_refused)
{
    uint8_t k1[32], k2[32];
    memset(k1, 1, 32);
    memset(k2, 2, 32);
    cr_assert_eq(tl_write_key_file(key_path, k1), 0);
    struct eng_kek_provider *p = eng_smk_open(key_path, 0);
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    eng_store_close(s);
    /* Same key id and version, other key bytes: unwrap fails its integrity check. */
    cr_assert_eq(tl_write_key_file(key_path, k2), 0);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_UNWRAP);
    /* Another key file altogether. */
    char other[400];
    tl_path(other, sizeof(other), dir, "other.key");
    struct eng_kek_provider *q = eng_smk_open(other, 1);
    cr_assert_null(eng_store_open(store_dir, q, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_MISMATCH);
    eng_kek_provider_free(p);
    eng_kek_provider_free(q);
}

Test(store, loose_key_file_permissions_refused)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    struct eng_store *s = new_store(&cfg, &p);
    eng_store_close(s);
    cr_assert_eq(chmod(key_path, 0644), 0);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_PERM_LOOSE);
    eng_kek_provider_free(p);
}

/* Collects the nonce of every unit written in a cycle; none may repeat across cycles. */
static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, 12);
}

Test(store, gcm_nonce_never_repeats_across_reopen_and_crash)
{
    struct eng_kek_provider *p = smk();
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    cfg.num_units = 200;
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    eng_store_close(s);
    const int cycles = 6;
    const size_t per_cycle = 200;
    uint8_t *nonces = malloc((size_t)cycles * per_cycle * 12);
    size_t count = 0;
    uint8_t *buf = tl_random_buf(per_cycle * cfg.unit_size);
    char tags[400];
    fname(tags, sizeof(tags), "tags");
    for (int c = 0; c < cycles; c++) {
        if (c % 2 == 1) {
            /* A crash: a child writes everything and dies without closing. */
            pid_t pid = fork();
            cr_assert_geq(pid, 0);
            if (pid == 0) {
                struct eng_store *cs = eng_store_open(store_dir, p, NULL);
                if (cs == NULL || eng_store_write(cs, 0, per_cycle, buf) != 0) {
                    _exit(1);
                }
                kill(getpid(), SIGKILL);
            }
            int st;
            waitpid(pid, &st, 0);
            cr_assert(WIFSIGNALED(st), "child failed before the kill");
        } else {
            s = eng_store_open(store_dir, p, NULL);
            cr_assert_not_null(s);
            cr_assert_eq(eng_store_write(s, 0, per_cycle, buf), 0);
            eng_store_close(s);
        }
        size_t len;
        uint8_t *raw = tl_read_file(tags, &len);
        cr_assert_not_null(raw);
        for (size_t u = 0; u < per_cycle; u++) {
            memcpy(nonces + 12 * count++, raw + 28 * u, 12); /* slot 0.. holds units 0.. */
        }
        free(raw);
    }
    qsort(nonces, count, 12, cmp_nonce);
    for (size_t i = 1; i < count; i++) {
        cr_assert_neq(memcmp(nonces + 12 * (i - 1), nonces + 12 * i, 12), 0, "nonce repeated");
    }
    /* Every unit written in the last cycle still reads. */
    s = eng_store_open(store_dir, p, NULL);
    uint8_t *got = malloc(per_cycle * cfg.unit_size);
    cr_assert_eq(eng_store_read(s, 0, per_cycle, got), 0);
    cr_assert_eq(memcmp(got, buf, per_cycle * cfg.unit_size), 0);
    eng_store_close(s);
    free(got);
    free(buf);
    free(nonces);
    eng_kek_provider_free(p);
}

static void rotate_kek_keeps_data(enum eng_mode mode)
{
    struct eng_kek_provider *p = smk();
    struct eng_store_config cfg = small_cfg(mode);
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    size_t total = cfg.num_units * cfg.unit_size;
    uint8_t *want = tl_random_buf(total), *got = malloc(total);
    cr_assert_eq(eng_store_write(s, 0, cfg.num_units, want), 0);
    char data[400], tags[400];
    fname(data, sizeof(data), "data");
    fname(tags, sizeof(tags), "tags");
    size_t dl0, dl1, tl0 = 0, tl1 = 0;
    uint8_t *d0 = tl_read_file(data, &dl0);
    uint8_t *t0 = mode == ENG_MODE_GCM ? tl_read_file(tags, &tl0) : NULL;
    struct eng_store_dek before;
    cr_assert_eq(eng_store_dek_info(s, 0, &before), 0);
    char ver[ENG_KEK_VERSION_MAX];
    cr_assert_eq(eng_smk_rotate(key_path, ver, sizeof(ver)), 0);
    cr_assert_eq(eng_store_rotate_kek(s), 0, "%s", eng_error_name(eng_errno()));
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        cr_assert_eq(eng_store_dek_info(s, i, &d), 0);
        cr_assert_str_eq(d.kek.version, ver, "record %u rewrapped", i);
    }
    cr_assert_str_neq(before.kek.version, ver);
    uint8_t *d1 = tl_read_file(data, &dl1);
    cr_assert_eq(dl0, dl1);
    cr_assert_eq(memcmp(d0, d1, dl0), 0, "data file untouched by KEK rotation");
    if (mode == ENG_MODE_GCM) {
        uint8_t *t1 = tl_read_file(tags, &tl1);
        cr_assert_eq(memcmp(t0, t1, tl0), 0, "tags untouched by KEK rotation");
        free(t1);
    }
    cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
    cr_assert_eq(memcmp(got, want, total), 0);
    eng_store_close(s);
    /* The old version is no longer needed: disabling it does not matter. */
    cr_assert_eq(eng_smk_set_enabled(key_path, before.kek.version, 0), 0);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s, "%s", eng_error_name(eng_errno()));
    memset(got, 0, total);
    cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
    cr_assert_eq(memcmp(got, want, total), 0);
    eng_store_close(s);
    free(d0);
    free(d1);
    free(t0);
    free(want);
    free(got);
    eng_kek_provider_free(p);
}

Test(store, kek_rotation_rewraps_without_touching_data_xts)
{
    rotate_kek_keeps_data(ENG_MODE_XTS);
}

Test(store, kek_rotation_rewraps_without_touching_data_gcm)
{
    rotate_kek_keeps_data(ENG_MODE_GCM);
}

static void rekey_extent_keeps_data(enum eng_mode mode, int in_memory)
{
    struct eng_kek_provider *p = smk();
    struct eng_store_config cfg = small_cfg(mode);
    struct eng_store *s =
        in_memory ? eng_store_create_memory(p, &cfg) : eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    size_t total = cfg.num_units * cfg.unit_size;
    size_t slot_len = (size_t)cfg.extent_units * cfg.unit_size;
    uint8_t *want = tl_random_buf(total), *got = malloc(total);
    cr_assert_eq(eng_store_write(s, 0, cfg.num_units, want), 0);
    char data[400];
    fname(data, sizeof(data), "data");
    size_t l0 = 0, l1 = 0;
    uint8_t *d0 = in_memory ? NULL : tl_read_file(data, &l0);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(eng_store_rekey_extent(s, 1), 0, "%s", eng_error_name(eng_errno()));
        cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
        cr_assert_eq(memcmp(got, want, total), 0, "round %d", round);
    }
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.num_records, 3 + 3, "three retired records");
    uint32_t active_slot = 99;
    int retired = 0;
    for (uint32_t i = 0; i < info.num_records; i++) {
        struct eng_store_dek d;
        eng_store_dek_info(s, i, &d);
        if (d.extent == 1 && d.active) {
            active_slot = d.slot;
        }
        retired += !d.active;
    }
    cr_assert_eq(retired, 3);
    if (!in_memory) {
        uint8_t *d1 = tl_read_file(data, &l1);
        cr_assert_eq(l0, l1);
        /* Extents 0 and 2 never moved and were not re-encrypted. */
        cr_assert_eq(memcmp(d0, d1, slot_len), 0);
        cr_assert_eq(memcmp(d0 + 2 * slot_len, d1 + 2 * slot_len, slot_len), 0);
        /* Extent 1 now lives in slot 3 (odd number of moves), under a new key. */
        cr_assert_eq(active_slot, 3);
        cr_assert_neq(memcmp(d0 + slot_len, d1 + 3 * slot_len, slot_len), 0);
        free(d1);
        eng_store_close(s);
        s = eng_store_open(store_dir, p, NULL);
        cr_assert_not_null(s);
        memset(got, 0, total);
        cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
        cr_assert_eq(memcmp(got, want, total), 0);
    }
    eng_store_close(s);
    free(d0);
    free(want);
    free(got);
    eng_kek_provider_free(p);
}

Test(store, dek_rotation_reencrypts_one_extent_xts)
{
    rekey_extent_keeps_data(ENG_MODE_XTS, 0);
}

Test(store, dek_rotation_reencrypts_one_extent_gcm)
{
    rekey_extent_keeps_data(ENG_MODE_GCM, 0);
}

Test(store, dek_rotation_memory_store)
{
    rekey_extent_keeps_data(ENG_MODE_GCM, 1);
}

/* A provider whose get() starts failing makes the store inaccessible within the interval. */
Test(store, failing_get_makes_store_inaccessible)
{
    struct tl_switch sw;
    struct eng_kek_provider *p = tl_switch_provider(&sw, smk());
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    cfg.revalidate_s = 1;
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    uint8_t *want = tl_random_buf(4096), *got = malloc(4096);
    cr_assert_eq(eng_store_write(s, 5, 1, want), 0);
    struct eng_secure_stats st0, st1;
    eng_secure_stats(&st0);
    sw.fail_code = ENG_ERR_KEK_DISABLED;
    usleep(1500 * 1000); /* interval + margin */
    cr_assert_eq(eng_store_read(s, 5, 1, got), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    cr_assert_eq(eng_store_write(s, 5, 1, want), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_secure_stats(&st1);
    cr_assert_eq(st0.allocs - st1.allocs, 4,
                 "the three DEK ciphers and the table MAC key were wiped and freed");
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.accessible, 0);
    cr_assert_eq(info.cause, ENG_ERR_KEK_DISABLED);
    /* The key coming back does not revive this handle; a reopen works. */
    sw.fail_code = 0;
    cr_assert_eq(eng_store_read(s, 5, 1, got), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    cr_assert_eq(eng_store_rotate_kek(s), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_store_close(s);
    s = eng_store_open(store_dir, p, &cfg);
    cr_assert_not_null(s);
    cr_assert_eq(eng_store_read(s, 5, 1, got), 0);
    cr_assert_eq(memcmp(got, want, 4096), 0);
    eng_store_close(s);
    free(want);
    free(got);
    eng_kek_provider_free(p);
}

Test(store, explicit_revalidate_after_key_file_deleted)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    struct eng_store *s = new_store(&cfg, &p);
    char saved[400];
    tl_path(saved, sizeof(saved), dir, "saved.key");
    cr_assert_eq(rename(key_path, saved), 0);
    cr_assert_eq(eng_store_revalidate(s), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    uint8_t buf[4096];
    cr_assert_eq(eng_store_read(s, 0, 1, buf), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    cr_assert_eq(info.cause, ENG_ERR_KEK_NOT_FOUND);
    eng_store_close(s);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
    cr_assert_eq(rename(saved, key_path), 0);
    s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(eng_store_read(s, 0, 1, buf), 0);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(store, disabled_kek_version_makes_store_inaccessible)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    struct eng_store *s = new_store(&cfg, &p);
    cr_assert_eq(eng_smk_set_enabled(key_path, NULL, 0), 0);
    cr_assert_eq(eng_store_revalidate(s), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_store_close(s);
    cr_assert_null(eng_store_open(store_dir, p, NULL));
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_DISABLED);
    eng_kek_provider_free(p);
}

Test(store, transient_errors_get_grace_revocations_do_not)
{
    struct tl_switch sw;
    struct eng_kek_provider *p = tl_switch_provider(&sw, smk());
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    cfg.grace_s = 3600;
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    sw.fail_code = ENG_ERR_VAULT_UNREACHABLE;
    cr_assert_eq(eng_store_revalidate(s), 0, "within grace");
    struct eng_store_info info;
    eng_store_get_info(s, &info);
    cr_assert_eq(info.accessible, 1);
    cr_assert_eq(info.last_check_error, ENG_ERR_VAULT_UNREACHABLE);
    sw.fail_code = ENG_ERR_KEK_FORBIDDEN;
    cr_assert_eq(eng_store_revalidate(s), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_store_close(s);
    /* Without grace a transient error is tolerated only until the interval since the
     * last good check is over. */
    sw.fail_code = 0;
    cfg.grace_s = 0;
    cfg.revalidate_s = 1;
    s = eng_store_open(store_dir, p, &cfg);
    cr_assert_not_null(s);
    sw.fail_code = ENG_ERR_VAULT_THROTTLED;
    usleep(1500 * 1000); /* interval + margin */
    cr_assert_eq(eng_store_revalidate(s), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_store_get_info(s, &info);
    cr_assert_eq(info.cause, ENG_ERR_VAULT_THROTTLED);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(store, inspect_needs_no_key_and_reads_nothing)
{
    struct eng_kek_provider *p;
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    struct eng_store *s = new_store(&cfg, &p);
    eng_store_close(s);
    cr_assert_eq(unlink(key_path), 0);
    s = eng_store_inspect(store_dir);
    cr_assert_not_null(s);
    struct eng_store_info info;
    cr_assert_eq(eng_store_get_info(s, &info), 0);
    cr_assert_eq(info.num_extents, 3);
    cr_assert_eq(info.mac_verified, 0);
    cr_assert_eq(info.accessible, 0);
    struct eng_store_dek d;
    cr_assert_eq(eng_store_dek_info(s, 2, &d), 0);
    cr_assert_eq(d.extent, 2);
    cr_assert_eq(d.num_units, 300 - 256);
    cr_assert_str_eq(d.kek.provider, "smk");
    cr_assert_eq(eng_store_dek_info(s, 3, &d), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_RANGE);
    uint8_t buf[4096];
    cr_assert_eq(eng_store_read(s, 0, 1, buf), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    eng_store_close(s);
    eng_kek_provider_free(p);
}

/* The KEK is asked at most once per interval, not on every call. */
Test(store, kek_checked_lazily_once_per_interval)
{
    struct tl_switch sw;
    struct eng_kek_provider *p = tl_switch_provider(&sw, smk());
    struct eng_store_config cfg = small_cfg(ENG_MODE_GCM);
    cfg.revalidate_s = 3600;
    cfg.flags = ENG_STORE_SYNC;
    struct eng_store *s = eng_store_create(store_dir, p, &cfg);
    cr_assert_not_null(s);
    unsigned before = sw.gets;
    uint8_t buf[4096];
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(eng_store_read(s, (uint64_t)i % 300, 1, buf), 0);
        cr_assert_eq(eng_store_write(s, (uint64_t)i % 300, 1, buf), 0);
    }
    cr_assert_eq(sw.gets, before, "no provider call inside the interval");
    cr_assert_eq(eng_store_revalidate(s), 0);
    cr_assert_gt(sw.gets, before, "an explicit revalidation asks the provider");
    eng_store_close(s);
    eng_kek_provider_free(p);
}

Test(store, memory_store_backup_restores_to_a_folder)
{
    struct eng_kek_provider *p = smk();
    struct eng_store_config cfg = small_cfg(ENG_MODE_XTS);
    struct eng_store *m = eng_store_create_memory(p, &cfg);
    cr_assert_not_null(m);
    size_t total = cfg.num_units * cfg.unit_size;
    uint8_t *want = tl_random_buf(total), *got = malloc(total);
    cr_assert_eq(eng_store_write(m, 0, cfg.num_units, want), 0);
    char bk[400];
    tl_path(bk, sizeof(bk), dir, "mem.cmkb");
    cr_assert_eq(eng_store_backup(m, bk), 0);
    eng_store_close(m);
    cr_assert_eq(eng_store_restore(bk, store_dir, p, NULL), 0);
    struct eng_store *s = eng_store_open(store_dir, p, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(eng_store_read(s, 0, cfg.num_units, got), 0);
    cr_assert_eq(memcmp(got, want, total), 0);
    eng_store_close(s);
    free(want);
    free(got);
    eng_kek_provider_free(p);
}
