/* test_keytable.c - key table format: round trip, truncation, corruption, MAC, invariants. */
#include <criterion/criterion.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keytable_internal.h"
#include "store_helpers.h"

static const uint8_t mac_key[ENG_KT_MAC_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void fill_wrapped(struct eng_kt_wrapped *w, uint8_t seed)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->kek.provider, sizeof(w->kek.provider), "smk");
    snprintf(w->kek.key_id, sizeof(w->kek.key_id), "%032x", seed);
    snprintf(w->kek.version, sizeof(w->kek.version), "v%u", seed);
    snprintf(w->kek.alg, sizeof(w->kek.alg), "AES-256-KWP");
    w->len = 40;
    memset(w->bytes, seed, w->len);
}

/* A valid table of |extents| extents (last one partial) plus one retired record. */
static void make_table(struct eng_keytable *kt, uint32_t extents)
{
    memset(kt, 0, sizeof(*kt));
    kt->generation = 7;
    memset(kt->store_id, 0xab, sizeof(kt->store_id));
    kt->mode = ENG_MODE_GCM;
    kt->unit_size = 8192;
    kt->extent_units = 16;
    kt->num_units = (uint64_t)extents * 16 - 5;
    kt->num_extents = extents;
    kt->num_slots = extents + 1;
    fill_wrapped(&kt->mac_key, 0xee);
    for (uint32_t e = 0; e < extents; e++) {
        struct eng_kt_record r;
        memset(&r, 0, sizeof(r));
        r.dek_id = kt->next_dek_id++;
        r.extent = e;
        r.first_unit = (uint64_t)e * 16;
        r.num_units = e + 1 == extents ? 11 : 16;
        r.slot = e;
        r.state = ENG_KT_ACTIVE;
        r.mode = ENG_MODE_GCM;
        r.created = 1700000000 + e;
        fill_wrapped(&r.w, (uint8_t)e);
        cr_assert_eq(eng_kt_append(kt, &r), 0);
    }
    struct eng_kt_record old = kt->records[0];
    old.dek_id = kt->next_dek_id++;
    old.state = ENG_KT_RETIRED;
    old.slot = extents;
    cr_assert_eq(eng_kt_append(kt, &old), 0);
}

static void rehash(uint8_t *buf, size_t len)
{
    SHA256(buf, len - 32, buf + len - 32);
}

Test(keytable, round_trip)
{
    struct eng_keytable kt, back;
    make_table(&kt, 5);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), 0);
    cr_assert_eq(eng_kt_parse(buf, len, &back), 0, "%s", eng_error_name(eng_errno()));
    cr_assert_eq(eng_kt_check_mac(buf, len, mac_key), 0);
    cr_assert_eq(back.generation, kt.generation);
    cr_assert_eq(memcmp(back.store_id, kt.store_id, 16), 0);
    cr_assert_eq(back.num_records, 6);
    cr_assert_eq(back.num_extents, 5);
    cr_assert_eq(back.num_slots, 6);
    cr_assert_eq(back.num_units, kt.num_units);
    for (uint32_t i = 0; i < kt.num_records; i++) {
        const struct eng_kt_record *a = &kt.records[i], *b = &back.records[i];
        cr_assert_eq(a->dek_id, b->dek_id);
        cr_assert_eq(a->slot, b->slot);
        cr_assert_eq(a->state, b->state);
        cr_assert_eq(a->created, b->created);
        cr_assert_str_eq(a->w.kek.version, b->w.kek.version);
        cr_assert_str_eq(a->w.kek.key_id, b->w.kek.key_id);
        cr_assert_eq(a->w.len, b->w.len);
        cr_assert_eq(memcmp(a->w.bytes, b->w.bytes, a->w.len), 0);
    }
    cr_assert_eq(eng_kt_active(&back, 0), 0);
    free(buf);
    eng_kt_cleanup(&kt);
    eng_kt_cleanup(&back);
}

Test(keytable, every_truncation_is_reported_as_truncated)
{
    struct eng_keytable kt, back;
    make_table(&kt, 3);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut + 1); /* exact-size copy: ASan sees any over-read */
        memcpy(copy, buf, cut);
        cr_assert_eq(eng_kt_parse(copy, cut, &back), -1);
        cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_TRUNCATED, "cut %zu", cut);
        free(copy);
    }
    free(buf);
    eng_kt_cleanup(&kt);
}

Test(keytable, every_bit_flip_is_detected)
{
    struct eng_keytable kt, back;
    make_table(&kt, 3);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), 0);
    for (size_t off = 0; off < len; off++) {
        int bit = (int)(off % 8);
        buf[off] ^= (uint8_t)(1 << bit);
        cr_assert_eq(eng_kt_parse(buf, len, &back), -1, "flip at %zu", off);
        int want = ENG_ERR_KEYTABLE_CORRUPT;
        if (off >= 8 && off < 12) {
            /* The declared length changed: longer than the bytes reads as truncated. */
            size_t total =
                ((size_t)buf[8] << 24) | ((size_t)buf[9] << 16) | ((size_t)buf[10] << 8) | buf[11];
            if (total > len && total <= ENG_KT_MAX_FILE) {
                want = ENG_ERR_KEYTABLE_TRUNCATED;
            }
        }
        cr_assert_eq(eng_errno(), want, "flip at %zu: %s", off, eng_error_name(eng_errno()));
        buf[off] ^= (uint8_t)(1 << bit);
    }
    cr_assert_eq(eng_kt_parse(buf, len, &back), 0);
    eng_kt_cleanup(&back);
    free(buf);
    eng_kt_cleanup(&kt);
}

Test(keytable, garbage_never_parses)
{
    struct eng_keytable back;
    uint8_t buf[4096];
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)(i * 37) % sizeof(buf);
        RAND_bytes(buf, (int)sizeof(buf));
        if (i % 2 == 0 && len >= 12 + 64) {
            /* Well-framed garbage: magic, exact length, valid hash; the structure is random. */
            memcpy(buf, ENG_KT_MAGIC, 8);
            buf[8] = (uint8_t)(len >> 24);
            buf[9] = (uint8_t)(len >> 16);
            buf[10] = (uint8_t)(len >> 8);
            buf[11] = (uint8_t)len;
            rehash(buf, len);
        }
        cr_assert_eq(eng_kt_parse(buf, len, &back), -1);
        int e = eng_errno();
        cr_assert(e == ENG_ERR_KEYTABLE_CORRUPT || e == ENG_ERR_KEYTABLE_TRUNCATED, "%s",
                  eng_error_name(e));
    }
}

/* Edits that keep the hash valid (anyone can recompute it) but break the structure. */
Test(keytable, structural_edits_with_valid_hash_are_corrupt)
{
    struct eng_keytable kt, back;
    make_table(&kt, 2);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), 0);
    /* Offsets from the format: 12 gen(8) id(16) | mode at 36 | unit_size 37..40 */
    size_t mode_off = 12 + 8 + 16;
    uint8_t save = buf[mode_off];
    buf[mode_off] = ENG_MODE_CTR;
    rehash(buf, len);
    cr_assert_eq(eng_kt_parse(buf, len, &back), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_CORRUPT);
    buf[mode_off] = save;
    buf[mode_off + 1 + 3] = 0x01; /* unit size 8193: not a power of two */
    rehash(buf, len);
    cr_assert_eq(eng_kt_parse(buf, len, &back), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_CORRUPT);
    free(buf);
    eng_kt_cleanup(&kt);
}

Test(keytable, edit_without_the_key_fails_the_mac)
{
    struct eng_keytable kt, back;
    make_table(&kt, 3);
    /* Attacker re-serializes a changed table (retired DEK revived in place of extent 0)
     * with a MAC key of their own, and the hash is valid. */
    kt.records[0].state = ENG_KT_RETIRED;
    kt.records[3].state = ENG_KT_ACTIVE;
    uint8_t *buf;
    size_t len;
    uint8_t other[ENG_KT_MAC_BYTES] = {9};
    cr_assert_eq(eng_kt_serialize(&kt, other, &buf, &len), 0);
    cr_assert_eq(eng_kt_parse(buf, len, &back), 0);
    cr_assert_eq(eng_kt_check_mac(buf, len, mac_key), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_KEYTABLE_AUTH);
    eng_kt_cleanup(&back);
    free(buf);
    eng_kt_cleanup(&kt);
}

Test(keytable, serializer_refuses_broken_invariants)
{
    struct eng_keytable kt;
    uint8_t *buf;
    size_t len;
    make_table(&kt, 3);
    kt.records[3].state = ENG_KT_ACTIVE; /* two active DEKs for extent 0 */
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    kt.records[3].state = ENG_KT_RETIRED;
    kt.records[1].slot = 0; /* two active extents in one slot */
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), -1);
    kt.records[1].slot = 1;
    kt.records[2].dek_id = kt.records[1].dek_id;
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), -1);
    kt.records[2].dek_id = 2;
    kt.records[2].state = ENG_KT_RETIRED; /* extent 2 without an active DEK */
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), -1);
    kt.records[2].state = ENG_KT_ACTIVE;
    cr_assert_eq(eng_kt_serialize(&kt, mac_key, &buf, &len), 0);
    free(buf);
    eng_kt_cleanup(&kt);
}

Test(keytable, save_and_load_crash_safely)
{
    char dir[256], path[320], tmp[330];
    tl_tmpdir(dir, sizeof(dir));
    tl_path(path, sizeof(path), dir, "keytable");
    struct eng_keytable kt, back;
    make_table(&kt, 4);
    cr_assert_eq(eng_kt_save(path, &kt, mac_key), 0);
    cr_assert_eq(kt.generation, 8);
    cr_assert_eq(eng_kt_save(path, &kt, mac_key), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert_eq(access(tmp, F_OK), -1, "no temporary left behind");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    uint8_t *raw;
    size_t raw_len;
    cr_assert_eq(eng_kt_load(path, &back, &raw, &raw_len), 0);
    cr_assert_eq(back.generation, 9);
    cr_assert_eq(eng_kt_check_mac(raw, raw_len, mac_key), 0);
    free(raw);
    eng_kt_cleanup(&back);
    eng_kt_cleanup(&kt);
    tl_rmtree(dir);
}

Test(keytable, geometry_limits)
{
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_XTS, 8192, 100, 10), 0);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_GCM, 512, 1, 1), 0);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_GCM, 65536, 1, 1), 0);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_XTS, 256, 100, 10), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_ARG);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_XTS, 131072, 100, 10), -1);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_XTS, 3000, 100, 10), -1);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_XTS, 8192, 0, 10), -1);
    cr_assert_eq(eng_kt_check_geometry(ENG_MODE_CTR, 8192, 10, 10), -1);
    cr_assert_eq(eng_errno(), ENG_ERR_MODE);
}
