/*
 * comp_kat.c - the vector set: every AES vector of one CAVP file, loaded,
 * checked and compared (see comp_kat.h). The runners are apart:
 * comp_kat_rsp.c runs a set, comp_kat_wp.c a Wycheproof AES-GCM file,
 * comp_kat_check.c holds what both share and comp_kat_summary.c the counts
 * in words.
 */
#include "comp_kat.h"

#include <stdlib.h>
#include <string.h>

#include "comp_internal.h"

/* ---- loading ---------------------------------------------------------------- */

static const uint8_t *put(uint8_t **p, const uint8_t *src, size_t len)
{
    if (len == 0) {
        return NULL;
    }
    uint8_t *at = *p;
    memcpy(at, src, len);
    *p += len;
    return at;
}

static int append(struct comp_kat_set *s, const struct comp_aes_vector *src)
{
    /* two parallel arrays, grown alike; s->cap moves only when both grew */
    size_t cap_v = s->cap, cap_b = s->cap;
    if (base_grow(&s->v, &cap_v, s->n + 1, sizeof(*s->v), SIZE_MAX, NULL) != 0 ||
        base_grow(&s->blobs, &cap_b, s->n + 1, sizeof(*s->blobs), SIZE_MAX, NULL) != 0) {
        return -1;
    }
    s->cap = cap_v < cap_b ? cap_v : cap_b;
    size_t total =
        src->key_len + src->iv_len + src->pt_len + src->ct_len + src->aad_len + src->tag_len;
    uint8_t *blob = malloc(total > 0 ? total : 1);
    if (blob == NULL) {
        return -1;
    }
    struct comp_aes_vector *dst = &s->v[s->n];
    uint8_t *p = blob;
    *dst = *src;
    dst->key = put(&p, src->key, src->key_len);
    dst->iv = put(&p, src->iv, src->iv_len);
    dst->pt = put(&p, src->pt, src->pt_len);
    dst->ct = put(&p, src->ct, src->ct_len);
    dst->aad = put(&p, src->aad, src->aad_len);
    dst->tag = put(&p, src->tag, src->tag_len);
    s->blobs[s->n++] = blob;
    return 0;
}

static struct comp_kat_set *load_from(struct comp_rsp *r, struct base_err *err)
{
    struct comp_kat_set *s = calloc(1, sizeof(*s));
    const char *name = comp_rsp_name(r);
    if (s == NULL || (s->name = comp_memdup0(name, strlen(name))) == NULL) {
        free(s);
        comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
        return NULL;
    }
    if (comp_rsp_info(r, &s->info, err) != 0) {
        comp_kat_free(s);
        return NULL;
    }
    struct comp_rsp_record *rec = NULL;
    int rc;
    while ((rc = comp_rsp_next(r, &rec)) == 1) {
        struct comp_aes_vector v;
        if (comp_aes_vector_get(&s->info, rec, &v, err) != 0) {
            comp_kat_free(s);
            return NULL;
        }
        if (append(s, &v) != 0) {
            comp_kat_free(s);
            comp_fail(err, COMP_ERR_NOMEM, 0, "no memory");
            return NULL;
        }
    }
    if (rc < 0) {
        if (err != NULL) {
            *err = *comp_rsp_error(r);
        }
        comp_kat_free(s);
        return NULL;
    }
    return s;
}

struct comp_kat_set *comp_kat_load(const char *path, struct base_err *err)
{
    struct comp_rsp *r = comp_rsp_open(path, err);
    if (r == NULL) {
        return NULL;
    }
    struct comp_kat_set *s = load_from(r, err);
    comp_rsp_free(r);
    return s;
}

struct comp_kat_set *comp_kat_load_mem(const char *name, const char *text, size_t len,
                                       struct base_err *err)
{
    struct comp_rsp *r = comp_rsp_open_mem(name, text, len, err);
    if (r == NULL) {
        return NULL;
    }
    struct comp_kat_set *s = load_from(r, err);
    comp_rsp_free(r);
    return s;
}

void comp_kat_free(struct comp_kat_set *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->blobs[i]);
    }
    free(s->blobs);
    free(s->v);
    free(s->name);
    free(s);
}

const struct comp_rsp_info *comp_kat_info(const struct comp_kat_set *s)
{
    return s != NULL ? &s->info : NULL;
}

size_t comp_kat_size(const struct comp_kat_set *s)
{
    return s != NULL ? s->n : 0;
}

enum eng_mode comp_kat_mode(const struct comp_kat_set *s)
{
    switch (s != NULL ? s->info.kind : COMP_KIND_UNKNOWN) {
        case COMP_KIND_AES_GCM_ENC:
        case COMP_KIND_AES_GCM_DEC:
            return ENG_MODE_GCM;
        case COMP_KIND_AES_XTS:
            return ENG_MODE_XTS;
        case COMP_KIND_AES_CTR:
            return ENG_MODE_CTR;
        case COMP_KIND_AES_ECB: /* run as CBC, zero IV, one block per unit */
        case COMP_KIND_AES_CBC:
        case COMP_KIND_UNKNOWN:
        case COMP_KIND_COUNT:
        default:
            return ENG_MODE_CBC;
    }
}

static int bytes_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int comp_kat_same_vectors(const struct comp_kat_set *a, const struct comp_kat_set *b)
{
    if (a == NULL || b == NULL || a->info.kind != b->info.kind ||
        a->info.xts_tweak != b->info.xts_tweak || a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct comp_aes_vector *x = &a->v[i];
        const struct comp_aes_vector *y = &b->v[i];
        if (x->dir != y->dir || x->has_seqno != y->has_seqno || x->seqno != y->seqno ||
            x->unit_bits != y->unit_bits || x->expect_fail != y->expect_fail ||
            !bytes_equal(x->key, x->key_len, y->key, y->key_len) ||
            !bytes_equal(x->iv, x->iv_len, y->iv, y->iv_len) ||
            !bytes_equal(x->pt, x->pt_len, y->pt, y->pt_len) ||
            !bytes_equal(x->ct, x->ct_len, y->ct, y->ct_len) ||
            !bytes_equal(x->aad, x->aad_len, y->aad, y->aad_len) ||
            !bytes_equal(x->tag, x->tag_len, y->tag, y->tag_len)) {
            return 0;
        }
    }
    return 1;
}
