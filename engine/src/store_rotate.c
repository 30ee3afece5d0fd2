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

int st_commit_table(struct eng_store *s, struct eng_keytable *nk)
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
    s->write_session = 1;
    return st_anchor_raise(s);
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
    ENG_ENSURE(!s->read_only, ENG_ERR_READ_ONLY);
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
        rc = st_commit_table(s, &nk);
    }
    eng_kt_cleanup(&nk);
    if (rc == 0) {
        s->kek_expired = ENG_OK; /* every key is wrapped under |cur| now, which get found valid */
    }
    return rc;
}

static int move_ref(struct eng_kek_ref *r, const struct eng_kek_ref *mine)
{
    if (strcmp(r->key_id, mine->key_id) == 0) {
        return 0;
    }
    memcpy(r->key_id, mine->key_id, sizeof(r->key_id));
    return 1;
}

/*
 * The store was opened with s->moving: its refs name the provider's key at
 * another URL, and the open has checked every version it needs with the
 * provider, unwrapped the MAC key and every active DEK through it, and
 * verified the table's MAC. Rewrites every ref (retired ones too) to the
 * provider's key id and switches the table as rotation does (one rename).
 */
int st_move_refs(struct eng_store *s)
{
    struct eng_kek_ref mine;
    ENG_GUARD(eng_kek_describe(s->kek, NULL, &mine));
    for (uint32_t i = 0; i < s->kt.num_records; i++) {
        ENG_GUARD(st_ref_matches(s, &s->kt.records[i].w.kek)); /* the same key name throughout */
    }
    struct eng_keytable nk;
    ENG_GUARD(eng_kt_copy(&nk, &s->kt));
    int changed = move_ref(&nk.mac_key.kek, &mine);
    for (uint32_t i = 0; i < nk.num_records; i++) {
        changed |= move_ref(&nk.records[i].w.kek, &mine);
    }
    int rc = changed ? st_commit_table(s, &nk) : 0;
    eng_kt_cleanup(&nk);
    ENG_GUARD(rc);
    return changed;
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
        rc = st_read_chunk(s, from, st_ikey(s, old->extent), old->slot, old->first_unit, u, n, buf);
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
    ENG_ENSURE(!s->read_only, ENG_ERR_READ_ONLY);
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
    /* The re-encryption below is the new DEK's whole use so far (GCM). */
    rec.invocations = s->kt.mode == ENG_MODE_GCM ? rec.num_units : 0;
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
    int committed = 0;
    if (rc == 0) {
        uint64_t gen = s->kt.generation;
        rc = st_commit_table(s, &nk); /* the switch: one rename */
        committed = s->kt.generation != gen;
    }
    eng_kt_cleanup(&nk);
    if (committed && s->ikeys != NULL) {
        memcpy(s->ikeys + (size_t)extent * ENG_STORE_MAC_BYTES, s->ikey_new, ENG_STORE_MAC_BYTES);
    }
    if (s->ikey_new != NULL) {
        eng_cleanse(s->ikey_new, ENG_STORE_MAC_BYTES);
    }
    if (!committed) {
        eng_cipher_free(c);
        return -1;
    }
    /* Installed (even if the anchor then failed): the new DEK is the extent's key now. */
    eng_cipher_free(s->ciphers[extent]);
    s->ciphers[extent] = c;
    s->inv_used[extent] = rec.invocations;
    return rc;
}

int st_set_dek_limit(struct eng_store *s, uint64_t limit)
{
    ENG_ENSURE_REF(s);
    ENG_ENSURE(limit >= 2ULL * s->kt.extent_units && limit <= ENG_STORE_GCM_DEK_LIMIT, ENG_ERR_ARG);
    s->inv_limit = limit;
    return 0;
}

/* Units of [first, end) that fall in extent |e|. */
static uint64_t units_in_extent(const struct eng_store *s, uint32_t e, uint64_t first, uint64_t end)
{
    uint64_t lo = (uint64_t)e * s->kt.extent_units;
    uint64_t hi = lo + s->kt.extent_units;
    lo = lo > first ? lo : first;
    hi = hi < end ? hi : end;
    return hi - lo;
}

/*
 *= https://csrc.nist.gov/pubs/sp/800/38/d/final#section-8.3
 *# The total number of invocations of the authenticated encryption function
 *# shall not exceed 2^32, including all IV lengths and all instances of the
 *# authenticated encryption function with the given key.
 * Each DEK is retired (its extent re-keyed) before it would pass
 * s->inv_limit (2^28), so 16 copies of a store could go on writing
 * independently and still stay within 2^32; see eng_store.h.
 */
int st_prepare_write(struct eng_store *s, uint64_t first_unit, uint64_t num_units)
{
    ENG_ENSURE(!s->read_only, ENG_ERR_READ_ONLY);
    ENG_ENSURE(first_unit <= s->kt.num_units && num_units <= s->kt.num_units - first_unit,
               ENG_ERR_RANGE);
    if (num_units == 0) {
        return 0;
    }
    uint64_t end = first_unit + num_units;
    uint32_t e_first = (uint32_t)(first_unit / s->kt.extent_units);
    uint32_t e_last = (uint32_t)((end - 1) / s->kt.extent_units);
    int gcm = s->kt.mode == ENG_MODE_GCM;
    int save = !s->write_session; /* the first write of an open bumps the generation */
    for (uint32_t e = e_first; gcm && e <= e_last; e++) {
        uint64_t need = units_in_extent(s, e, first_unit, end);
        if (s->inv_used[e] > s->inv_limit - need) {
            ENG_GUARD(eng_store_rekey_extent(s, e));
            ENG_ENSURE(s->inv_used[e] <= s->inv_limit - need, ENG_ERR_INTERNAL);
        }
        save |= s->inv_used[e] + need > s->kt.records[s->active[e]].invocations;
    }
    if (save) {
        struct eng_keytable nk;
        ENG_GUARD(eng_kt_copy(&nk, &s->kt));
        for (uint32_t e = e_first; gcm && e <= e_last; e++) {
            struct eng_kt_record *r = &nk.records[s->active[e]];
            uint64_t want = s->inv_used[e] + units_in_extent(s, e, first_unit, end);
            if (want > r->invocations) {
                uint64_t room = s->inv_limit - want;
                r->invocations =
                    want + (room < ENG_STORE_GCM_RESERVE ? room : ENG_STORE_GCM_RESERVE);
            }
        }
        int rc = st_commit_table(s, &nk);
        eng_kt_cleanup(&nk);
        ENG_GUARD(rc);
    }
    for (uint32_t e = e_first; gcm && e <= e_last; e++) {
        s->inv_used[e] += units_in_extent(s, e, first_unit, end);
    }
    return 0;
}
