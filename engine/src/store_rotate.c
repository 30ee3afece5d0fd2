/*
 * store_rotate.c - key rotation: rewrapping every DEK under the KEK's
 * current version, and re-encrypting one extent under a fresh DEK into the
 * spare slot (see eng_store.h for the model and layout).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_secure.h"
#include "error_internal.h"
#include "store_internal.h"

/* Replaces the store's key table with |nk| (persisted first for a folder store). */
static int commit_table(struct eng_store *s, struct eng_keytable *nk)
{
    if (s->in_memory) {
        nk->generation++;
    } else {
        ENG_GUARD(st_save_table(s, nk));
    }
    eng_kt_cleanup(&s->kt);
    s->kt = *nk;
    memset(nk, 0, sizeof(*nk));
    st_index_active(s);
    return 0;
}

/* Unwraps |w| with its own KEK version and wraps it again under |cur|. */
static int rewrap(struct eng_store *s, const struct eng_kek_ref *cur, struct eng_kt_wrapped *w)
{
    if (strcmp(w->kek.version, cur->version) == 0 && strcmp(w->kek.alg, cur->alg) == 0) {
        return 0;
    }
    size_t len = 0;
    int rc = st_unwrap_into(s, w, s->scratch_key, &len);
    if (rc == 0) {
        rc = st_wrap_into(s, cur, s->scratch_key, len, w);
    }
    eng_cleanse(s->scratch_key, ENG_DEK_MAX_BYTES);
    return rc;
}

int eng_store_rotate_kek(struct eng_store *s)
{
    ENG_ENSURE_REF(s);
    ENG_GUARD(eng_store_check_access(s));
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    ENG_GUARD(st_ref_matches(s, &cur));
    struct eng_keytable nk;
    ENG_GUARD(eng_kt_copy(&nk, &s->kt));
    int rc = rewrap(s, &cur, &nk.mac_key);
    for (uint32_t i = 0; i < nk.num_records && rc == 0; i++) {
        rc = rewrap(s, &cur, &nk.records[i].w);
    }
    if (rc == 0) {
        rc = commit_table(s, &nk);
    }
    eng_kt_cleanup(&nk);
    return rc;
}

/* The one slot no active record uses (there is always exactly one). */
static long spare_slot(const struct eng_store *s)
{
    uint8_t *used = calloc(s->kt.num_slots, 1);
    if (used == NULL) {
        ENG_SET_ERROR(ENG_ERR_NOMEM);
        return -1;
    }
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        if (s->kt.records[i].state == ENG_KT_ACTIVE) {
            used[s->kt.records[i].slot] = 1;
        }
    }
    long slot = -1;
    for (uint32_t i = 0; i < s->kt.num_slots && slot < 0; i++) {
        if (!used[i]) {
            slot = i;
        }
    }
    free(used);
    if (slot < 0) {
        ENG_SET_ERROR(ENG_ERR_INTERNAL);
    }
    return slot;
}

/* Copies extent |old| (under |from|) into |to_slot| under |to|, batch by batch. */
static int reencrypt_extent(struct eng_store *s, const struct eng_kt_record *old,
                            const struct eng_cipher *from, uint32_t to_slot,
                            const struct eng_cipher *to)
{
    size_t bytes = (size_t)ENG_STORE_BATCH * s->kt.unit_size;
    uint8_t *buf = malloc(bytes);
    ENG_ENSURE(buf != NULL, ENG_ERR_NOMEM);
    int rc = 0;
    uint64_t end = old->first_unit + old->num_units;
    for (uint64_t u = old->first_unit; u < end && rc == 0; u += ENG_STORE_BATCH) {
        size_t n = end - u < ENG_STORE_BATCH ? (size_t)(end - u) : ENG_STORE_BATCH;
        rc = st_read_chunk(s, from, st_ikey(s, old->extent), old->slot, old->first_unit, u, n,
                           buf);
        if (rc == 0) {
            rc = st_write_chunk(s, to, s->ikey_new, to_slot, old->first_unit, u, n, buf);
        }
    }
    eng_cleanse(buf, bytes);
    free(buf);
    ENG_GUARD(rc);
    return eng_store_sync(s);
}

int eng_store_rekey_extent(struct eng_store *s, uint32_t extent)
{
    ENG_ENSURE_REF(s);
    ENG_GUARD(eng_store_check_access(s));
    ENG_ENSURE(extent < s->kt.num_extents, ENG_ERR_RANGE);
    long ri = eng_kt_active(&s->kt, extent);
    long slot = spare_slot(s);
    ENG_ENSURE(ri >= 0, ENG_ERR_INTERNAL);
    ENG_GUARD(slot < 0 ? -1 : 0);
    struct eng_kek_ref cur;
    ENG_GUARD(eng_kek_get(s->kek, NULL, &cur));
    ENG_GUARD(st_ref_matches(s, &cur));
    struct eng_kt_record rec = s->kt.records[ri];
    rec.slot = (uint32_t)slot;
    rec.created = (uint64_t)time(NULL);
    struct eng_cipher *c = NULL;
    ENG_GUARD(st_new_dek(s, &cur, &rec, &c, s->ikey_new));
    /* New data goes to the spare slot only; the table still points at the old one. */
    int rc = reencrypt_extent(s, &s->kt.records[ri], s->ciphers[extent], rec.slot, c);
    struct eng_keytable nk;
    memset(&nk, 0, sizeof(nk));
    if (rc == 0) {
        rc = eng_kt_copy(&nk, &s->kt);
    }
    if (rc == 0) {
        rec.dek_id = nk.next_dek_id++;
        nk.records[ri].state = ENG_KT_RETIRED;
        rc = eng_kt_append(&nk, &rec);
    }
    if (rc == 0) {
        rc = commit_table(s, &nk); /* the switch: one rename */
    }
    eng_kt_cleanup(&nk);
    if (rc == 0 && s->ikeys != NULL) {
        memcpy(s->ikeys + (size_t)extent * ENG_STORE_MAC_BYTES, s->ikey_new, ENG_STORE_MAC_BYTES);
    }
    if (s->ikey_new != NULL) {
        eng_cleanse(s->ikey_new, ENG_STORE_MAC_BYTES);
    }
    if (rc != 0) {
        eng_cipher_free(c);
        return -1;
    }
    eng_cipher_free(s->ciphers[extent]);
    s->ciphers[extent] = c;
    return 0;
}
