/*
 * fuzz/keytable.c - the store's key table parser.
 *
 * Target functions: eng_kt_parse, eng_kt_check_mac, eng_kt_serialize.
 *
 * Each input is parsed twice: as it is (the SHA-256 trailer then rejects
 * nearly every mutation, which exercises the length and hash checks), and
 * with its declared length and SHA-256 trailer recomputed, so that the
 * mutations reach the structural checks behind the hash. Whenever a table
 * parses, it must round-trip: serialize (under a fixed MAC key) must accept
 * it, and the bytes must equal the input up to the MAC and the hash (the
 * format has one encoding per table), and parse again to the same fields.
 * Deterministic: no clock, no randomness.
 */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error_internal.h"
#include "keytable_internal.h"

#define TRAILER (ENG_KT_MAC_BYTES + SHA256_DIGEST_LENGTH)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t mac_key[ENG_KT_MAC_BYTES] = {
    0x6b, 0x74, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6d, 0x61, 0x63, 0x2d, 0x6b, 0x65, 0x79, 0x00,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

static int same_wrapped(const struct eng_kt_wrapped *a, const struct eng_kt_wrapped *b)
{
    return strcmp(a->kek.provider, b->kek.provider) == 0 &&
           strcmp(a->kek.key_id, b->kek.key_id) == 0 &&
           strcmp(a->kek.version, b->kek.version) == 0 && strcmp(a->kek.alg, b->kek.alg) == 0 &&
           a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* Field by field (struct padding is not compared). */
static int same_table(const struct eng_keytable *a, const struct eng_keytable *b)
{
    if (a->generation != b->generation || memcmp(a->store_id, b->store_id, ENG_KT_ID_BYTES) != 0 ||
        a->mode != b->mode || a->integrity != b->integrity || a->unit_size != b->unit_size ||
        a->num_units != b->num_units || a->extent_units != b->extent_units ||
        a->num_extents != b->num_extents || a->num_slots != b->num_slots ||
        a->next_dek_id != b->next_dek_id || !same_wrapped(&a->mac_key, &b->mac_key) ||
        a->num_records != b->num_records) {
        return 0;
    }
    for (uint32_t i = 0; i < a->num_records; i++) {
        const struct eng_kt_record *x = &a->records[i];
        const struct eng_kt_record *y = &b->records[i];
        if (x->dek_id != y->dek_id || x->extent != y->extent || x->first_unit != y->first_unit ||
            x->num_units != y->num_units || x->slot != y->slot || x->state != y->state ||
            x->mode != y->mode || x->created != y->created || !same_wrapped(&x->w, &y->w)) {
            return 0;
        }
    }
    return 1;
}

static void check(const uint8_t *buf, size_t len)
{
    struct eng_keytable kt;
    if (eng_kt_parse(buf, len, &kt) != 0) {
        int e = eng_errno();
        if (e != ENG_ERR_KEYTABLE_CORRUPT && e != ENG_ERR_KEYTABLE_TRUNCATED &&
            e != ENG_ERR_NOMEM) {
            abort(); /* the documented codes only */
        }
        return;
    }
    (void)eng_kt_check_mac(buf, len, mac_key);
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (eng_kt_serialize(&kt, mac_key, &out, &out_len) != 0) {
        abort(); /* parse accepted a table that serialize calls invalid */
    }
    /* A version 2 table has one encoding; a version 1 table is written back as version 2. */
    int v2 = memcmp(buf, ENG_KT_MAGIC, 8) == 0;
    if (v2 && (out_len != len || memcmp(out, buf, len - TRAILER) != 0)) {
        abort(); /* not the one encoding of the table */
    }
    if (eng_kt_check_mac(out, out_len, mac_key) != 0) {
        abort();
    }
    struct eng_keytable again;
    if (eng_kt_parse(out, out_len, &again) != 0 || !same_table(&kt, &again)) {
        abort();
    }
    eng_kt_cleanup(&again);
    free(out);
    eng_kt_cleanup(&kt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size < 12 + TRAILER || size > ENG_KT_MAX_FILE) {
        return 0;
    }
    /* Fix up the declared length and the hash so the structure is reached. */
    uint8_t *fixed = malloc(size);
    if (fixed == NULL) {
        return 0;
    }
    memcpy(fixed, data, size);
    fixed[8] = (uint8_t)(size >> 24);
    fixed[9] = (uint8_t)(size >> 16);
    fixed[10] = (uint8_t)(size >> 8);
    fixed[11] = (uint8_t)size;
    SHA256(fixed, size - SHA256_DIGEST_LENGTH, fixed + size - SHA256_DIGEST_LENGTH);
    check(fixed, size);
    free(fixed);
    return 0;
}
