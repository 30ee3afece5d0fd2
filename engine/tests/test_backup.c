/* test_backup.c - backup streams: round trip, truncation, tampering, reordering, splicing. */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eng_store.h"
#include "store_helpers.h"

static char dir[256], key_path[320], store_dir[320], backup[320], restored[320];
static struct eng_kek_provider *kek;
static struct eng_store *st;
static uint8_t *want;
static size_t total;

#define UNITS     600 /* 3 chunks of 256, 256, 88 units of 4 KiB */
#define CHUNK_REC (4 + (1u << 20) + 16)

static void make_store(enum eng_mode mode)
{
    struct eng_store_config cfg;
    eng_store_config_init(&cfg);
    cfg.mode = mode;
    cfg.unit_size = 4096;
    cfg.num_units = UNITS;
    cfg.extent_units = 200;
    st = eng_store_create(store_dir, kek, &cfg);
    cr_assert_not_null(st, "%s", eng_error_name(eng_errno()));
    total = (size_t)UNITS * 4096;
    want = malloc(total);
    RAND_bytes(want, (int)total);
    cr_assert_eq(eng_store_write(st, 0, UNITS, want), 0);
}

static void setup(void)
{
    tl_tmpdir(dir, sizeof(dir));
    tl_path(key_path, sizeof(key_path), dir, "smk.key");
    tl_path(store_dir, sizeof(store_dir), dir, "store");
    tl_path(backup, sizeof(backup), dir, "backup.cmkb");
    tl_path(restored, sizeof(restored), dir, "restored");
    kek = eng_smk_open(key_path, 1);
    cr_assert_not_null(kek);
    make_store(ENG_MODE_GCM);
    cr_assert_eq(eng_store_backup(st, backup), 0, "%s", eng_error_name(eng_errno()));
}

static void teardown(void)
{
    eng_store_close(st);
    eng_kek_provider_free(kek);
    free(want);
    tl_rmtree(dir);
}

TestSuite(backup, .init = setup, .fini = teardown);

static uint32_t header_len(void)
{
    size_t len;
    uint8_t *b = tl_read_file(backup, &len);
    cr_assert(b != NULL && len > 12);
    uint32_t h = ((uint32_t)b[8] << 24) | ((uint32_t)b[9] << 16) | ((uint32_t)b[10] << 8) | b[11];
    free(b);
    return h;
}

/* Restore must fail with |code| and leave nothing behind. */
static void expect_rejected(int code)
{
    cr_assert_eq(eng_backup_verify(backup, kek), -1);
    cr_assert_eq(eng_errno(), code, "verify: %s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_store_restore(backup, restored, kek, NULL), -1);
    cr_assert_eq(eng_errno(), code, "restore: %s", eng_error_name(eng_errno()));
    cr_assert_eq(access(restored, F_OK), -1, "nothing written");
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s.restore-%ld", restored, (long)getpid());
    cr_assert_eq(access(tmp, F_OK), -1, "no temporary store left");
}

static void check_restored(void)
{
    struct eng_store *r = eng_store_open(restored, kek, NULL);
    cr_assert_not_null(r, "%s", eng_error_name(eng_errno()));
    uint8_t *got = malloc(total);
    cr_assert_eq(eng_store_read(r, 0, UNITS, got), 0);
    cr_assert_eq(memcmp(got, want, total), 0);
    struct eng_store_info a, b;
    eng_store_get_info(st, &a);
    eng_store_get_info(r, &b);
    cr_assert_eq(a.mode, b.mode);
    cr_assert_eq(a.unit_size, b.unit_size);
    cr_assert_eq(a.extent_units, b.extent_units);
    cr_assert_neq(memcmp(a.store_id, b.store_id, 16), 0, "a restore is a new store");
    free(got);
    eng_store_close(r);
}

Test(backup, round_trip_gcm)
{
    struct stat sb;
    cr_assert_eq(stat(backup, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);
    cr_assert_eq(eng_backup_verify(backup, kek), 0);
    cr_assert_eq(eng_store_restore(backup, restored, kek, NULL), 0, "%s",
                 eng_error_name(eng_errno()));
    check_restored();
}

Test(backup, round_trip_xts)
{
    eng_store_close(st);
    free(want);
    tl_rmtree(store_dir);
    unlink(backup);
    make_store(ENG_MODE_XTS);
    cr_assert_eq(eng_store_backup(st, backup), 0);
    cr_assert_eq(eng_store_restore(backup, restored, kek, NULL), 0);
    check_restored();
}

Test(backup, stream_holds_no_plaintext)
{
    size_t len;
    uint8_t *b = tl_read_file(backup, &len);
    cr_assert_gt(len, total);
    cr_assert_null(memmem(b, len, want + 4096 * 300, 64));
    free(b);
}

Test(backup, refuses_existing_targets)
{
    cr_assert_eq(eng_store_backup(st, backup), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_EXISTS);
    cr_assert_eq(eng_store_restore(backup, store_dir, kek, NULL), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_EXISTS);
}

Test(backup, truncation_anywhere_is_detected)
{
    size_t len;
    uint8_t *orig = tl_read_file(backup, &len);
    uint32_t h = header_len();
    size_t cuts[] = {
        0, 5, 12, h - 1, h, h + 3, h + 4 + 1000, h + CHUNK_REC, h + 2 * CHUNK_REC + 17, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        cr_assert_eq(tl_write_file(backup, orig, cuts[i]), 0);
        expect_rejected(ENG_ERR_BACKUP_TRUNCATED);
    }
    free(orig);
}

Test(backup, flipped_bits_are_detected)
{
    uint32_t h = header_len();
    /* offsets: a chunk's ciphertext, its tag, the backup id in the header */
    uint64_t offs[] = {h + CHUNK_REC + 4 + 5000, h + CHUNK_REC - 3, 8 + 4 + 1 + 4 + 8 + 4 + 16 + 2};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        cr_assert_eq(tl_flip_bit(backup, offs[i], 1), 0);
        expect_rejected(ENG_ERR_BACKUP_CORRUPT);
        cr_assert_eq(tl_flip_bit(backup, offs[i], 1), 0);
    }
    cr_assert_eq(eng_backup_verify(backup, kek), 0);
}

Test(backup, reordered_chunks_are_detected)
{
    size_t len;
    uint8_t *b = tl_read_file(backup, &len);
    uint32_t h = header_len();
    uint8_t *tmp = malloc(CHUNK_REC);
    memcpy(tmp, b + h, CHUNK_REC);
    memcpy(b + h, b + h + CHUNK_REC, CHUNK_REC);
    memcpy(b + h + CHUNK_REC, tmp, CHUNK_REC);
    cr_assert_eq(tl_write_file(backup, b, len), 0);
    expect_rejected(ENG_ERR_BACKUP_CORRUPT);
    free(tmp);
    free(b);
}

Test(backup, spliced_chunk_from_another_backup_is_detected)
{
    char other[400];
    tl_path(other, sizeof(other), dir, "other.cmkb");
    cr_assert_eq(eng_store_backup(st, other), 0);
    size_t len, olen;
    uint8_t *b = tl_read_file(backup, &len), *o = tl_read_file(other, &olen);
    uint32_t h = header_len();
    cr_assert_eq(len, olen);
    memcpy(b + h + CHUNK_REC, o + h + CHUNK_REC, CHUNK_REC); /* same store, same content */
    cr_assert_eq(tl_write_file(backup, b, len), 0);
    expect_rejected(ENG_ERR_BACKUP_CORRUPT);
    free(b);
    free(o);
}

Test(backup, dropped_final_chunk_and_trailing_bytes)
{
    size_t len;
    uint8_t *b = tl_read_file(backup, &len);
    uint32_t h = header_len();
    cr_assert_eq(tl_write_file(backup, b, h + 2 * CHUNK_REC), 0); /* a clean chunk boundary */
    expect_rejected(ENG_ERR_BACKUP_TRUNCATED);
    uint8_t *longer = malloc(len + 10);
    memcpy(longer, b, len);
    memset(longer + len, 0, 10);
    cr_assert_eq(tl_write_file(backup, longer, len + 10), 0);
    expect_rejected(ENG_ERR_BACKUP_CORRUPT);
    free(longer);
    free(b);
}

Test(backup, garbage_stream)
{
    uint8_t g[5000];
    RAND_bytes(g, sizeof(g));
    cr_assert_eq(tl_write_file(backup, g, sizeof(g)), 0);
    expect_rejected(ENG_ERR_BACKUP_CORRUPT);
    memcpy(g, "CMKBK001", 8); /* right magic, random header */
    g[8] = 0;
    g[9] = 0;
    g[10] = 1;
    g[11] = 0;
    cr_assert_eq(tl_write_file(backup, g, sizeof(g)), 0);
    expect_rejected(ENG_ERR_BACKUP_CORRUPT);
}

Test(backup, needs_the_right_kek)
{
    char other[400];
    tl_path(other, sizeof(other), dir, "other.key");
    struct eng_kek_provider *q = eng_smk_open(other, 1);
    cr_assert_eq(eng_backup_verify(backup, q), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_MISMATCH);
    eng_kek_provider_free(q);
    cr_assert_eq(unlink(key_path), 0);
    cr_assert_eq(eng_backup_verify(backup, kek), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEK_NOT_FOUND);
}

Test(backup, inaccessible_store_cannot_be_backed_up)
{
    char b2[400];
    tl_path(b2, sizeof(b2), dir, "b2.cmkb");
    cr_assert_eq(unlink(key_path), 0);
    cr_assert_eq(eng_store_revalidate(st), -1);
    cr_assert_eq(eng_store_backup(st, b2), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_INACCESSIBLE);
    cr_assert_eq(access(b2, F_OK), -1);
}
